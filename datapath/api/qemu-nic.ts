// The guest's end of a vhost-user socket, as the OVS-DPDK guide spells it on QEMU's command
// line. Shared by the agent (port outputs, GuestVM) and the provider (preview), so both agree.
import { createHash } from 'node:crypto';

export interface NicArgsInput {
  /** Used for QEMU ids: chardev "char-<id>", netdev "net-<id>". */
  id: string;
  socketPath: string;
  /** Who creates the socket: for a client port QEMU is the server (server=on). */
  qemuIsServer: boolean;
  mac: string;
  queues: number;
  /** Mergeable rx buffers: forced on for guests that run DPDK (the guide's vectorized-Rx bug). */
  mrgRxbuf?: boolean;
  /** MSI-X vectors; 0 under TCG, where QEMU 7.2 crashes in vhost_net_start otherwise. */
  vectors?: number;
  /** false: the guest takes no GSO frames (guest_tso4=off,guest_tso6=off,guest_ufo=off); the datapath segments for it. */
  guestTso?: boolean;
  /** The port's MTU: host_mtu makes the guest's virtio-net take it (VIRTIO_NET_F_MTU). */
  mtu?: number;
}

export function qemuNicArgs(n: NicArgsInput): string[] {
  const chardev = `socket,id=char-${n.id},path=${n.socketPath}${n.qemuIsServer ? ',server=on' : ''}`;
  const netdev = `type=vhost-user,id=net-${n.id},chardev=char-${n.id},vhostforce=on${n.queues > 1 ? `,queues=${n.queues}` : ''}`;
  let device = `virtio-net-pci,mac=${n.mac},netdev=net-${n.id}`;
  if (n.queues > 1) device += ',mq=on';
  const vectors = n.vectors ?? (n.queues > 1 ? 2 * n.queues + 2 : undefined);
  if (vectors !== undefined) device += `,vectors=${vectors}`;
  if (n.mrgRxbuf !== undefined) device += `,mrg_rxbuf=${n.mrgRxbuf ? 'on' : 'off'}`;
  if (n.guestTso === false) device += ',guest_tso4=off,guest_tso6=off,guest_ufo=off';
  if (n.mtu !== undefined) device += `,host_mtu=${n.mtu}`;
  return ['-chardev', chardev, '-netdev', netdev, '-device', device];
}

/** A stable, locally administered unicast MAC for a port that names none. */
export function derivedMac(name: string): string {
  const h = createHash('sha256').update(name).digest();
  const bytes = [0x02, h[0], h[1], h[2], h[3], h[4]];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
