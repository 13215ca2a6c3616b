/** A port's (or one queue pair's) counters, as OVS counts them: rx = received from the port. */
export interface QueueCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  txDrops: number;
  /** Every drop under its reason (egress ones are also in txDrops; malformed and macLimit are on ingress). */
  drops: DropCounters;
}

/** Why frames were dropped, as the datapath counts them per port and queue pair. */
export type DropCounters = {
  /** The guest had no free descriptors (or no RX vring ready); an uplink's tx ring was full. */
  ringFull: number;
  /** Longer than the egress port's MTU (+ Ethernet header and one VLAN tag) or than its underlay carries. */
  mtuExceeded: number;
  /** An offload the port cannot take that the datapath cannot do in software (IPv6 GSO, SCTP checksums). */
  offloadUnsupported: number;
  /** The tunnel's underlay refused it (tx ring full, no buffer for the copy). */
  underlaySendFailure: number;
  /** Not learned: the ingress port reached its MAC limit. */
  macLimit: number;
  /** Received shorter than an Ethernet header, or with a multicast source MAC. */
  malformed: number;
};

/**
 * What an ethdev (a tunnel's underlay, an uplink) counted itself (rte_eth_stats): frames it
 * dropped before any PMD saw them, which the per-queue counters above cannot know of. A tunnel
 * shows its underlay's, shared with the other tunnels on the same interface.
 */
export interface DeviceCounters {
  /** Dropped because its rx ring was full (the PMD did not poll in time: a busy or shared CPU). */
  rxMissed: number;
  /** Bad frames received. */
  rxErrors: number;
  /** Dropped for want of an mbuf. */
  rxNoMbuf: number;
  txErrors: number;
  /**
   * Over a kernel interface (af_xdp, af_packet): frames the kernel dropped on it itself. Under
   * AF_XDP these are frames XDP could not put on the socket's full ring (the PMD fell behind),
   * which DPDK 22.11 does not count as rxMissed. Absent for a PCI NIC.
   */
  kernelRxDropped?: number;
  /** Over a kernel interface: frames the kernel could not send on it (a veth's peer was full). */
  kernelTxDropped?: number;
}

/** A port's counters before the datapath has any (not applied yet). */
export function zeroCounters(): QueueCounters {
  return {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    txDrops: 0,
    drops: { ringFull: 0, mtuExceeded: 0, offloadUnsupported: 0, underlaySendFailure: 0, macLimit: 0, malformed: 0 },
  };
}

/** The drop reasons in the order vhostctl prints them. */
export const DROP_REASONS = [
  'ringFull',
  'mtuExceeded',
  'offloadUnsupported',
  'underlaySendFailure',
  'macLimit',
  'malformed',
] as const satisfies readonly (keyof DropCounters)[];

/** One PMD thread (GET /pmd), as ovs-appctl dpif-netdev/pmd-stats-show reports it. */
export interface PmdState {
  cpu: number;
  lcore: number;
  /** TSC cycles spent in iterations that moved packets, and in those that moved none. */
  busyCycles: number;
  idleCycles: number;
  packets: number;
  rxQueues: { port: number; queue: number }[];
  /** The same queues as "port:queue" by port name. */
  rxQueueNames: string[];
}
