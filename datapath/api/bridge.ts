import { z } from 'zod';
import { Name, owned, type Stored } from './fields';

export const BridgeSpec = z.strictObject({
  name: Name,
  /** Seconds a learned MAC stays without traffic (OVS other_config:mac-aging-time). In place. */
  macAgingSeconds: z
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(86400, { error: 'must be at most 86400' })
    .default(300),
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

export interface BridgeState extends Stored<BridgeSpec> {
  version: number;
  ports: string[];
}
