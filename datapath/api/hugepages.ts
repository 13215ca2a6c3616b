// HugepageConfig: a reservation of hugepages on the host, through sysfs, as the guide has a
// person type `echo N > /sys/.../nr_hugepages` and `mount -t hugetlbfs`.
import { z } from 'zod';
import { Name, SocketPath, owned, type Stored } from './fields';

export const HugepageSpec = z.strictObject({
  name: Name,
  pageSize: z.enum(['2M', '1G'], { error: "must be '2M' or '1G'" }).default('2M'),
  /** Pages to reserve (the whole reservation of that size, on that node). */
  pages: z
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be at least 0' })
    .max(1 << 20, { error: 'must be at most 1048576' }),
  /** A NUMA node; absent: the system-wide reservation. */
  node: z.int({ error: 'must be a whole number' }).min(0, { error: 'must be at least 0' }).max(1023, { error: 'must be at most 1023' }).optional(),
  /** Mount hugetlbfs of this page size here, if it is not mounted. */
  mountPath: SocketPath.optional(),
  ...owned,
});
export type HugepageSpec = z.output<typeof HugepageSpec>;
export type HugepageInput = z.input<typeof HugepageSpec>;

export interface HugepageState extends Stored<HugepageSpec> {
  version: number;
  /** What was reserved before this config, restored on delete. */
  found: number;
  /** Whether the agent mounted mountPath (and so unmounts it on delete). */
  mounted: boolean;
  status: { total: number; free: number; pageSizeKb: number };
}
