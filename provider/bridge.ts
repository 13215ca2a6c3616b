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
  /** Most MACs the bridge learns (OVS mac-table-size), 1..4096; default 4096. A new MAC then evicts the oldest. In place. */
  macTableSize?: pulumi.Input<number>;
  /** Most MACs one port may have learned, 0..4096 (0: no limit); default 2048. Beyond it the port's new source MACs are not learned. In place. */
  macLimitPerPort?: pulumi.Input<number>;
  /**
   * MTU of the bridge's guest ports (OVS mtu_request), given to guests as host_mtu; default: with a
   * tunnel port, its underlay's MTU - 50, else 1500. In place (running guests keep theirs).
   */
  mtu?: pulumi.Input<number>;
}

/** An L2 learning switch on the host's vhost-user datapath. */
export class Bridge extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly macAgingSeconds: pulumi.Output<number | undefined>;
  declare readonly macTableSize: pulumi.Output<number | undefined>;
  declare readonly macLimitPerPort: pulumi.Output<number | undefined>;
  declare readonly mtu: pulumi.Output<number | undefined>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: BridgeArgs = {}, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...connectionInputs(args),
      name: args.name ?? name,
      macAgingSeconds: args.macAgingSeconds,
      macTableSize: args.macTableSize,
      macLimitPerPort: args.macLimitPerPort,
      mtu: args.mtu,
      version: undefined,
    };
    super(makeProvider('bridge'), name, props, withSecrets(opts), MODULE, RESOURCE_TYPES.bridge);
    checkInPreview(this, 'bridge', props);
  }
}
