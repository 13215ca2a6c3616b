// vhost IOMMU support (other_config:vhost-iommu-support=true): the datapath registers its
// sockets with RTE_VHOST_USER_IOMMU_SUPPORT. It takes effect at the agent's next start, and
// the preview says so. Guests need QEMU >= 2.9.1 with iommu_platform=on and a vIOMMU.
import { DatapathSettings } from 'vhostnet';

const settings = new DatapathSettings('datapath', { vhostIommuSupport: true });

export const restartRequired = settings.restartRequired;
