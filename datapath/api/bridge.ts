import { z } from 'zod';
import { MAC_TABLE_MAX, MacLimit, Mtu, Name, owned, type Stored } from './fields';

export const DEFAULT_MAC_LIMIT_PER_PORT = 2048;

export const BridgeSpec = z.strictObject({
  name: Name,
  /** Seconds a learned MAC stays without traffic (OVS other_config:mac-aging-time). In place. */
  macAgingSeconds: z
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(86400, { error: 'must be at most 86400' })
    .default(300),
  /** Most MACs the bridge learns (OVS other_config:mac-table-size); a new one then evicts the oldest. In place. */
  macTableSize: z
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(MAC_TABLE_MAX, { error: `must be at most ${MAC_TABLE_MAX} (the entries the datapath's table holds)` })
    .default(MAC_TABLE_MAX),
  /** Most MACs one port may have learned, beyond which its new source MACs are not learned (counted); 0: no limit. In place. */
  macLimitPerPort: MacLimit.default(DEFAULT_MAC_LIMIT_PER_PORT),
  /**
   * The MTU of the bridge's guest ports (OVS mtu_request), told to guests as host_mtu. Absent:
   * with tunnel ports, the smallest underlay MTU - 50 (VXLAN over IPv4); else 1500. In place.
   */
  mtu: Mtu.optional(),
  ...owned,
});
export type BridgeSpec = z.output<typeof BridgeSpec>;
export type BridgeInput = z.input<typeof BridgeSpec>;

/** A bridge's MAC table counters, as ovs-appctl fdb/stats-show gives them. */
export interface FdbStatsRow {
  /** Entries now, and the most the table holds (a new MAC then evicts the oldest). */
  entries: number;
  capacity: number;
  learned: number;
  expired: number;
  evicted: number;
  /** Known MACs seen on another port. */
  moved: number;
  /** Source MACs not learned: their port already held its per-port limit. */
  limited: number;
}

export interface FdbRow {
  mac: string;
  port: string;
  ageSeconds: number;
}

/** The MAC table as the datapath runs it (live reads only). */
export interface BridgeFdbStatus extends FdbStatsRow {
  macAgingSeconds: number;
  macLimitPerPort: number;
  /** Ports with their own limit (the port's macLimit), by name. */
  portLimits: Record<string, number>;
}

/** What the bridge's guest ports take now, and why. */
export interface BridgeStatus {
  /** The MTU of the guest ports that set none of their own, and where it comes from. */
  mtu: number;
  mtuSource: string;
  /** E.g. an mtu larger than a tunnel port carries (its longer frames are dropped there, counted). */
  warnings: string[];
  /** The MAC table as the datapath runs it. */
  fdb?: BridgeFdbStatus;
}

export interface BridgeState extends Stored<BridgeSpec> {
  version: number;
  ports: string[];
  status?: BridgeStatus;
}
