import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';

export interface HugepageConfigArgs extends ConnectionArgs {
  name?: pulumi.Input<string>;
  /** "2M" (default) or "1G". Replaces. */
  pageSize?: pulumi.Input<'2M' | '1G'>;
  /** Pages reserved of that size (the whole reservation). In place. */
  pages: pulumi.Input<number>;
  /** A NUMA node; absent: system-wide. Replaces. */
  node?: pulumi.Input<number>;
  /** Mount hugetlbfs here if it is not mounted. In place. */
  mountPath?: pulumi.Input<string>;
}

/** Hugepages reserved on the host through sysfs; destroy restores the reservation it found. */
export class HugepageConfig extends pulumi.dynamic.Resource {
  declare readonly found: pulumi.Output<number>;
  declare readonly total: pulumi.Output<number>;
  declare readonly free: pulumi.Output<number>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: HugepageConfigArgs, opts?: pulumi.CustomResourceOptions) {
    const { connection: _c, adopt: _a, name: n, ...rest } = args;
    const props = { ...connectionInputs(args), ...rest, name: n ?? name, found: undefined, total: undefined, free: undefined, version: undefined };
    super(makeProvider('hugepages'), name, props, withSecrets(opts), MODULE, RESOURCE_TYPES.hugepages);
    checkInPreview(this, 'hugepages', props);
  }
}
