/** A port's (or one queue pair's) counters, as OVS counts them: rx = received from the port. */
export interface QueueCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  txDrops: number;
}

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
