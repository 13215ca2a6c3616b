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

export interface FdbRow {
  mac: string;
  port: string;
  ageSeconds: number;
}

export interface BridgeState extends Stored<BridgeSpec> {
  version: number;
  ports: string[];
}
