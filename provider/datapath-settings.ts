import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';

export interface DatapathSettingsArgs extends ConnectionArgs {
  /** Server ports' socket directory below the run dir (vhost-sock-dir); default ".". In place; re-creates server sockets. */
  vhostSockDir?: pulumi.Input<string>;
  /** vhost IOMMU support (vhost-iommu-support); default false. Agent restart. */
  vhostIommuSupport?: pulumi.Input<boolean>;
  /** PMD thread CPUs (pmd-cpu-mask); default the last CPU. Agent restart. */
  pmdCpus?: pulumi.Input<pulumi.Input<number>[]>;
  /** Datapath buffer memory, MiB (dpdk-socket-mem); default 256. Agent restart. */
  memoryMb?: pulumi.Input<number>;
  /** "auto" (default), "on" or "off" (no hugepages). Agent restart. */
  hugepages?: pulumi.Input<'auto' | 'on' | 'off'>;
  /** Idle PMD back-off ceiling, µs (pmd-maxsleep); default 200. In place. */
  pmdMaxSleepUs?: pulumi.Input<number>;
}

/** The datapath's global settings (Open_vSwitch other_config). One per agent; destroy restores what it found. */
export class DatapathSettings extends pulumi.dynamic.Resource {
  declare readonly restartRequired: pulumi.Output<string[]>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: DatapathSettingsArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const { connection: _c, adopt: _a, ...settings } = args;
    const inputs = { ...connectionInputs(args), ...settings };
    super(
      makeProvider('settings'),
      name,
      { ...inputs, restartRequired: undefined, version: undefined, foundSettings: undefined },
      withSecrets(opts),
      MODULE,
      RESOURCE_TYPES.settings,
    );
    // The preview says when a change waits for an agent restart: the agent's dry run tells.
    checkInPreview(this, 'settings', inputs);
  }
}
