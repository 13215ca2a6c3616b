// A port's status in words: a port that is not forwarding says why, in the order a person
// would check (socket, permission, guest, vrings, features).
import * as fs from 'node:fs';
import type { PortInfo } from '../../../native/addon';
import { zeroCounters, type PortMode, type PortStatus } from '../../../api';

const FEATURE_BITS: Record<number, string> = {
  0: 'csum',
  1: 'guest_csum',
  3: 'mtu',
  5: 'mac',
  7: 'guest_tso4',
  8: 'guest_tso6',
  10: 'guest_ufo',
  11: 'host_tso4',
  12: 'host_tso6',
  14: 'host_ufo',
  15: 'mrg_rxbuf',
  16: 'status',
  17: 'ctrl_vq',
  18: 'ctrl_rx',
  19: 'ctrl_vlan',
  21: 'guest_announce',
  22: 'mq',
  23: 'ctrl_mac_addr',
  27: 'any_layout',
  28: 'indirect_desc',
  29: 'event_idx',
  30: 'protocol_features',
  32: 'version_1',
  33: 'iommu_platform',
  34: 'ring_packed',
  35: 'in_order',
  36: 'order_platform',
  37: 'sr_iov',
  38: 'notification_data',
};
const BIT = { mtu: 3, mrg: 15, mq: 22, iommu: 33 };

export function featureNames(hex: string): string[] {
  const v = BigInt(hex || '0x0');
  return Object.entries(FEATURE_BITS)
    .filter(([bit]) => (v >> BigInt(bit)) & 1n)
    .map(([, n]) => n);
}

function has(hex: string, bit: number): boolean {
  return ((BigInt(hex || '0x0') >> BigInt(bit)) & 1n) === 1n;
}

/** Why a socket the datapath should connect to cannot be used, or undefined if it can. */
function socketProblem(socketPath: string, mode: PortMode): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return `permission denied on the socket ${socketPath}`;
    return mode === 'client'
      ? `socket missing: ${socketPath} does not exist yet (QEMU creates it with server=on when the guest starts); the port connects when it appears`
      : `socket missing: the datapath has not created ${socketPath}`;
  }
  if (!st.isSocket()) return `${socketPath} exists but is not a socket`;
  try {
    fs.accessSync(socketPath, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return `permission denied on the socket ${socketPath}`;
  }
  return undefined;
}

export function portStatus(args: {
  mode: PortMode;
  socketPath: string;
  info: PortInfo | undefined;
  expectedQueues: number;
  iommu: boolean;
  applyError?: string;
  /** Why a client port is held out of the datapath (its socket is missing or refused). */
  waiting?: string;
  /** The port's MTU and why (its own, the bridge's, a tunnel's underlay, or the default). */
  mtu: { mtu: number; source: string };
}): PortStatus {
  const { mode, socketPath, info, expectedQueues, iommu } = args;
  const offered = info?.offeredFeatures ?? '0x0';
  const negotiated = info?.negotiatedFeatures ?? '0x0';
  const status: PortStatus = {
    link: 'down',
    mode,
    socketPath,
    connected: info?.connected ?? false,
    vringsEnabled: info?.vringsEnabled ?? 0,
    vringsTotal: info?.vringsTotal ?? 0,
    queuePairs: info?.queuePairs ?? 0,
    features: {
      offered,
      negotiated,
      requested: { multiqueue: expectedQueues > 1, mergeableBuffers: has(offered, BIT.mrg), iommu },
      negotiatedNames: featureNames(negotiated),
    },
    warnings: [],
    mtu: args.mtu.mtu,
    mtuSource: args.mtu.source,
    ...(info?.guestMtu ? { guestMtu: info.guestMtu } : {}),
    stats: info?.stats ?? zeroCounters(),
    queues: info?.queues ?? [],
  };
  if (args.applyError) status.reason = `not in the datapath: ${args.applyError}`;
  else if (args.waiting) status.reason = args.waiting;
  else if (!info) status.reason = 'not in the datapath';
  else if (!info.connected) {
    status.reason =
      socketProblem(socketPath, mode) ??
      (mode === 'client'
        ? `guest not connected: ${socketPath} exists but the datapath has not attached yet (it retries every second)`
        : `guest not connected: no QEMU has connected to ${socketPath}`);
  } else if (negotiated === '0x0') status.reason = 'features not negotiated: the guest has not finished the vhost-user handshake';
  else if (info.vringsEnabled === 0)
    status.reason = 'vrings not enabled: the guest driver has not started its queues (is virtio-net loaded and the interface up?)';
  else status.link = 'up';

  if (info?.connected && negotiated !== '0x0') {
    if (expectedQueues > 1 && !has(negotiated, BIT.mq))
      status.warnings.push(`multiqueue requested (queues=${expectedQueues}) but the guest did not negotiate mq`);
    if (info.queuePairs && info.queuePairs !== expectedQueues)
      status.warnings.push(`the guest set up ${info.queuePairs} queue pair(s), the port expects ${expectedQueues}`);
    if (iommu && !has(negotiated, BIT.iommu))
      status.warnings.push('vhost IOMMU support is on but the guest did not negotiate iommu_platform (QEMU iommu_platform=on and a vIOMMU)');
    if (info.guestMtu && info.guestMtu > args.mtu.mtu)
      status.warnings.push(
        `the guest took MTU ${info.guestMtu}, more than the port's ${args.mtu.mtu} (${args.mtu.source}): its longer frames are dropped (restart it with the port's qemuArgs, host_mtu=${args.mtu.mtu})`,
      );
    // A guest started before the port's MTU fell below 1500 (a tunnel added later) never heard of it.
    else if (!has(negotiated, BIT.mtu) && args.mtu.mtu < 1500)
      status.warnings.push(
        `the guest did not negotiate an MTU (virtio-net mtu, QEMU host_mtu), so it sends up to 1500, more than the port's ${args.mtu.mtu} (${args.mtu.source}): its longer frames are dropped (restart it with the port's qemuArgs, host_mtu=${args.mtu.mtu})`,
      );
    if (has(offered, BIT.mrg) && !has(negotiated, BIT.mrg))
      status.warnings.push('mergeable rx buffers offered but not negotiated (guests running DPDK need mrg_rxbuf=on)');
  }
  return status;
}
