import { z } from 'zod';
import { Name } from './fields';

export const BridgeSpec = z.strictObject({
  name: Name,
  /** Seconds a learned MAC stays without traffic (OVS other_config:mac-aging-time). In place. */
  macAgingSeconds: z
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(86400, { error: 'must be at most 86400' })
    .default(300),
  /** Who manages it (a Pulumi stack's URN prefix); another owner must import it on purpose. */
  owner: z.string().max(512, { error: 'must be at most 512 characters' }).optional(),
  expectedVersion: z.int().min(1).optional(),
});
export type BridgeSpec = z.output<typeof BridgeSpec>;
export type BridgeInput = z.input<typeof BridgeSpec>;

export interface FdbRow {
  mac: string;
  port: string;
  ageSeconds: number;
}

export interface BridgeState extends Omit<BridgeSpec, 'expectedVersion'> {
  version: number;
  ports: string[];
}
