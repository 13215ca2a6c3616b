// The contract of the native addon (datapath/native/src): what the agent may call.
// The addon embeds DPDK's EAL and librte_vhost and runs the PMD threads; every call here
// runs on Node's main thread, is control path only, and never waits on a PMD for longer
// than one quiescent period (the RCU-style handshake in the addon).
//
// Ids (bridges, ports) are small integers the addon allocates; the agent maps names to them.
// Errors are thrown as Error with a message that says what failed and why (errno text).
import type { DeviceCounters, DropCounters } from '../api/counters';

export interface EalOptions {
  /** DPDK --file-prefix: one per agent, so several agents (and testpmd) can share a host. */
  filePrefix: string;
  /** CPUs the main lcore (Node's main thread) may float over: rte_eal_init pins the calling thread. */
  mainCpus: number[];
  /** One PMD thread per CPU listed, each pinned to its CPU. At least one. */
  pmdCpus: number[];
  /** false: --no-huge (hosts without hugepages); the datapath then runs from ordinary memory. */
  hugepages: boolean;
  /** Memory for the datapath's mbuf pools, MiB (-m). */
  memoryMb: number;
  /** Registers every vhost socket with RTE_VHOST_USER_IOMMU_SUPPORT. Fixed until the next init. */
  iommuSupport: boolean;
  /** Idle back-off ceiling of a PMD thread, microseconds (like OVS pmd-maxsleep). 0: never sleeps. */
  pmdMaxSleepUs: number;
  /** Extra EAL arguments (tests use --log-level). */
  extraArgs?: string[];
}

export interface QueueStats {
  /** From the guest's point of view reversed, as OVS counts: rx = received from the guest (dequeued). */
  rxPackets: number;
  rxBytes: number;
  /** tx = delivered to the guest (enqueued). */
  txPackets: number;
  txBytes: number;
  /** Packets the guest had no room for (enqueue returned fewer than offered), or no vring ready. */
  txDrops: number;
  /** Every drop under its reason (egress ones also in txDrops; malformed and macLimit are on ingress). */
  drops: DropCounters;
}

export interface PortInfo {
  /** A vhost device is attached (new_device called, destroy_device not yet). */
  connected: boolean;
  /** client mode: the vhost library is (re)trying to connect; server mode: socket listening. */
  socketReady: boolean;
  /** Number of vrings the guest enabled, and the number it set up. */
  vringsEnabled: number;
  vringsTotal: number;
  /** Queue pairs the guest negotiated (vringsTotal / 2). */
  queuePairs: number;
  /** Virtio feature bits the port offers, and those negotiated with the guest, as hex strings ("0x..."). */
  offeredFeatures: string;
  negotiatedFeatures: string;
  /** The port's MTU (setPortMtu, default 1500; a tunnel's: its underlay's MTU - 50). */
  mtu: number;
  /** The MTU the guest's virtio-net took (VIRTIO_NET_F_MTU, from QEMU's host_mtu); absent if none. */
  guestMtu?: number;
  /** Tunnel ports: the underlay interface's MTU when the port was made. */
  underlayMtu?: number;
  /** Tunnel ports: how the underlay is driven, and why not af_xdp when it was asked for and refused. */
  underlayDriver?: 'af_xdp' | 'af_packet';
  underlayFallback?: string;
  /** Ethdev-backed ports (tunnel underlay, uplink): what the device counted before any PMD saw a frame. */
  device?: DeviceCounters;
  /** Totals and per queue pair (index = queue pair). */
  stats: QueueStats;
  queues: QueueStats[];
}

export interface FdbEntry {
  mac: string; // "02:00:00:00:00:10"
  port: number; // port id
  ageSeconds: number; // seconds since last seen
}

/** A bridge's MAC table counters since the bridge was created (as `ovs-appctl fdb/stats-show`). */
export interface FdbStats {
  entries: number; // live entries now (aged-out ones the next sweep removes included)
  capacity: number; // most entries the table holds (setFdbTableSize); a new MAC then evicts the oldest entry
  learned: number; // MACs added
  expired: number; // removed after the aging time without a sighting (swept every second)
  evicted: number; // removed, oldest first, to make room in a full table
  moved: number; // known MACs seen on another port
  limited: number; // source MACs not learned: their port held the per-port limit already
}

export interface PmdStats {
  cpu: number;
  lcore: number;
  busyCycles: number; // TSC cycles spent in iterations that moved packets
  idleCycles: number; // TSC cycles in iterations that moved none (including sleeps)
  packets: number; // packets received from guests by this PMD
  rxQueues: { port: number; queue: number }[]; // what it polls
}

export interface NativeDatapath {
  /** Initialises the EAL once per process; throws if it fails (message has the EAL's reason). */
  init(opts: EalOptions): { lcores: string; pmds: number; tscHz: number; dpdkVersion: string };
  createBridge(): number;
  /** The bridge must have no ports. */
  destroyBridge(bridge: number): void;
  setFdbAging(bridge: number, seconds: number): void;
  /**
   * Most MACs one port may have learned on the bridge (0..capacity, 0: no limit; default half the
   * table): beyond it that port's new source MACs are not learned (counted in fdbStats().limited
   * and in the port's drops.macLimit; their frames are still switched). With port: that port's
   * own limit (null: the bridge's again), forgotten when the port is destroyed.
   * Optional only so unit-test fakes may leave it out.
   */
  setFdbPortLimit?(bridge: number, max: number | null, port?: number): void;
  /** Most entries the bridge's table keeps (1..4096, default 4096); lowering it evicts the oldest at once. */
  setFdbTableSize?(bridge: number, entries: number): void;
  /**
   * Registers the socket with librte_vhost and starts it.
   * client: RTE_VHOST_USER_CLIENT | RTE_VHOST_USER_RECONNECT (waits for a missing socket, reconnects).
   * server: creates the socket at path.
   */
  createPort(spec: { bridge: number; mode: 'client' | 'server'; path: string }): number;
  /**
   * A VXLAN tunnel port on the bridge: opens iface (in the agent's network namespace) with DPDK's
   * af_packet PMD, one queue pair per PMD; frames to localIp:udpPort from remoteIp with this vni
   * are decapsulated and switched, frames the bridge sends to it are encapsulated towards
   * remoteMac/remoteIp. Throws naming the field (iface missing, already an underlay, bad value).
   * destroyPort removes it like any port. Optional only so unit-test fakes may leave it out.
   */
  createTunnel?(spec: {
    bridge: number;
    iface: string;
    localIp: string;
    remoteIp: string;
    localMac: string;
    remoteMac: string;
    vni: number;
    udpPort: number;
    /** 'af_xdp': try AF_XDP on the underlay first (af_packet if the interface refuses it); af_packet otherwise. */
    driver?: 'af_xdp' | 'af_packet';
    /** Floods from this tunnel skip the bridge's other split-horizon tunnels (default true). */
    splitHorizon?: boolean;
  }): number;
  /**
   * An uplink port on the bridge: the DPDK ethdev devargs names (a PCI address, probed if the EAL
   * has not; or a vdev such as net_af_xdp0,iface=eth1 / net_af_packet0,iface=eth1), one queue pair
   * per PMD, promiscuous, mtu set when given. Its frames are switched as they are. portInfo's
   * connected is the ethdev's link state. Throws naming spec.devargs. Optional for unit-test fakes.
   */
  createEthdevPort?(spec: { bridge: number; devargs: string; mtu?: number }): number;
  /** Unregisters the socket; returns once no PMD touches the port any more. Its FDB entries go too. */
  destroyPort(port: number): void;
  portInfo(port: number): PortInfo;
  /** Frames longer than mtu + 18 bytes are not sent to the port (counted as mtuExceeded). 68..9710. Optional for fakes. */
  setPortMtu?(port: number, mtu: number): void;
  /** The live entries; a read changes nothing (aging is swept by the datapath every second). */
  fdb(bridge: number): FdbEntry[];
  /** Optional only so unit-test fakes may leave it out. */
  fdbStats?(bridge: number): FdbStats;
  pmdStats(): PmdStats[];
  setPmdMaxSleep(us: number): void;
  /** Stops the PMDs and unregisters every socket. Safe to call twice. */
  shutdown(): void;
}

/** Loads the built addon. Only the agent calls this: the provider must never load native code. */
export function loadNative(): NativeDatapath {
  return require('../../../datapath/native/build/Release/vhostnet_datapath.node') as NativeDatapath;
}
