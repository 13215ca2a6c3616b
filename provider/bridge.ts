import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';

export interface BridgeArgs extends ConnectionArgs {
  /** Bridge name on the host (ovs-vsctl add-br); defaults to the resource name. Replaces. */
  name?: pulumi.Input<string>;
  /** Seconds a learned MAC lives without traffic; default 300. In place. */
  macAgingSeconds?: pulumi.Input<number>;
}

/** An L2 learning switch on the host's vhost-user datapath. */
export class Bridge extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly macAgingSeconds: pulumi.Output<number | undefined>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: BridgeArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const props = { ...connectionInputs(args), name: args.name ?? name, macAgingSeconds: args.macAgingSeconds, version: undefined };
    super(makeProvider('bridge'), name, props, withSecrets(opts), MODULE, RESOURCE_TYPES.bridge);
    checkInPreview(this, 'bridge', props);
  }
}
