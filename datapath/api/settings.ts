import { z } from 'zod';
import type { FieldIssue } from './errors';
import { RelativeDir, versioned, type Stored } from './fields';

const Cpu = z.int({ error: 'must be a whole number' }).min(0, { error: 'must be at least 0' }).max(1023, { error: 'must be at most 1023' });

// The datapath's global settings, as OVS keeps them in Open_vSwitch other_config.
export const SettingsSpec = z.strictObject({
  /** Directory below the run dir for server ports' sockets (other_config:vhost-sock-dir). */
  vhostSockDir: RelativeDir.default('.'),
  /** RTE_VHOST_USER_IOMMU_SUPPORT on every socket (other_config:vhost-iommu-support). Restart. */
  vhostIommuSupport: z.boolean({ error: 'must be true or false' }).default(false),
  /** CPUs of the PMD threads (other_config:pmd-cpu-mask); empty: the last CPU. Restart. */
  pmdCpus: z
    .array(Cpu, { error: 'must be a list of CPU numbers' })
    .max(64, { error: 'must list at most 64 CPUs' })
    .refine((a) => new Set(a).size === a.length, { error: 'must not list a CPU twice' })
    .default([]),
  /** Hugepage memory for the datapath's buffers, MiB (dpdk-socket-mem). Restart. */
  memoryMb: z.int({ error: 'must be a whole number' }).min(64, { error: 'must be at least 64' }).max(65536, { error: 'must be at most 65536' }).default(256),
  /** auto: hugepages when the host has free ones, else ordinary memory (--no-huge). Restart. */
  hugepages: z.enum(['auto', 'on', 'off'], { error: "must be 'auto', 'on' or 'off'" }).default('auto'),
  /** Ceiling of an idle PMD's sleep, µs (other_config:pmd-maxsleep): an idle datapath burns no core. In place. */
  pmdMaxSleepUs: z
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be at least 0' })
    .max(10000, { error: 'must be at most 10000 (as OVS pmd-maxsleep)' })
    .default(200),
  ...versioned,
});
export type SettingsSpec = z.output<typeof SettingsSpec>;
export type SettingsInput = z.input<typeof SettingsSpec>;

/** What the running datapath took at start; changes to these wait for a restart. */
export interface RunningSettings {
  pmdCpus: number[];
  hugepages: boolean;
  memoryMb: number;
  vhostIommuSupport: boolean;
  /** Stored settings this host could not start with, and why: the agent took the default instead. */
  refused?: FieldIssue[];
}

/** Settings the running datapath took at start: a change to these waits for the agent's next start. */
export const RESTART_SETTINGS = ['vhostIommuSupport', 'pmdCpus', 'memoryMb', 'hugepages'] as const;

export interface SettingsState extends Stored<SettingsSpec> {
  version: number;
  /** Fields whose stored value differs from what the running datapath uses: "restart required". */
  restartRequired: string[];
  running: RunningSettings;
}
