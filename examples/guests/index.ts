// The whole guide in one program: hugepages, a bridge, two vhost-user client ports and the two
// guests on them. `pulumi preview` checks both ends of every socket and that the guests fit
// the hugepages before anything on the host changes.
import * as pulumi from '@pulumi/pulumi';
import { Bridge, GuestVM, HugepageConfig, VhostUserClientPort } from 'vhostnet';

const cfg = new pulumi.Config();
const kernel = cfg.require('kernel');
const initrd = cfg.require('initrd');
const socketDir = cfg.get('socketDir') ?? '/run/vhostnet-qemu';

const hugepages = new HugepageConfig('hugepages', { pageSize: '2M', pages: cfg.getNumber('hugepages') ?? 1536, mountPath: '/dev/hugepages' });
const br0 = new Bridge('br0');

const guests = [1, 2].map((i) => {
  const port = new VhostUserClientPort(`dpdkvhostclient${i - 1}`, { bridge: br0.name, vhostServerPath: `${socketDir}/dpdkvhostclient${i - 1}` });
  const peer = 3 - i;
  return new GuestVM(
    `vm${i}`,
    {
      memoryMb: 256,
      boot: { kind: 'kernel', kernel, initrd, append: `console=ttyS0 quiet vhostnet.ip=169.254.100.${i}/24 vhostnet.ping=169.254.100.${peer}` },
      nics: [{ port }],
      restartPolicy: 'on-failure',
    },
    { dependsOn: [hugepages] },
  );
});

export const qemuCommands = guests.map((g) => g.qemuCommand);
export const libvirtXml = guests.map((g) => g.libvirtXml);
export const notes = guests.map((g) => g.notes);
