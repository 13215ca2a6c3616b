// Bridge br0, one vhost-user client port per guest and two QEMU guests pinging each other,
// declared as one VhostNetwork. Config: kernel, initrd (the guest image), socketDir, hugepages.
import * as pulumi from '@pulumi/pulumi';
import { VhostNetwork } from 'vhostnet/components';

const cfg = new pulumi.Config();
const guest = (ip: number, peer: number) => ({
  memoryMb: 256,
  boot: {
    kind: 'kernel' as const,
    kernel: cfg.require('kernel'),
    initrd: cfg.require('initrd'),
    append: `console=ttyS0 quiet vhostnet.ip=169.254.100.${ip}/24 vhostnet.ping=169.254.100.${peer}`,
  },
  nics: 1,
  restartPolicy: 'on-failure' as const,
});

const net = new VhostNetwork('net', {
  bridge: 'br0',
  socketDir: cfg.get('socketDir') ?? '/run/vhostnet-qemu',
  hugepages: { pages: cfg.getNumber('hugepages') ?? 1536, mountPath: '/dev/hugepages' },
  guests: { vm1: guest(1, 2), vm2: guest(2, 1) },
});

export const bridge = net.bridgeName;
/** Per guest: ports, sockets, MACs, qemuCommand, libvirtXml. */
export const guests = net.guests;
