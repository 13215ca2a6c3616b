// The VxlanPort resource's operations table (./vxlan-port.ts is the resource).
import { PORT_REPLACE_FIELDS, VxlanPortSpec } from '../datapath/api';
import { objectsOf, pick, type KindOps } from './kind-ops';

export const vxlanPortOps: KindOps = {
  schema: VxlanPortSpec,
  objects: (c) => objectsOf(c.ports),
  spec: (p) => ({ ...pick(p, ['name', 'bridge', 'underlay', 'vni', 'udpPort', 'macLimit', 'splitHorizon']), type: 'vxlan' }),
  replaceOn: PORT_REPLACE_FIELDS.vxlan.filter((f) => f !== 'type'),
  outputs: (o) => {
    const st = o.status as { link?: string; reason?: string; underlay?: { localMac?: string; remoteMac?: string } } | undefined;
    return {
      version: o.version,
      link: st?.link ?? 'down',
      linkReason: st?.reason ?? '',
      localMac: st?.underlay?.localMac ?? '',
      remoteMac: st?.underlay?.remoteMac ?? '',
    };
  },
};
