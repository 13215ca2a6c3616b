import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { PORT_OUTPUTS, type PortOutputs } from './port-outputs';

export interface VhostUserClientPortArgs extends ConnectionArgs {
  /** Port name (ovs-vsctl add-port); defaults to the resource name. Replaces. */
  name?: pulumi.Input<string>;
  /** The bridge's name. Replaces. */
  bridge: pulumi.Input<string>;
  /** The socket QEMU creates as the server (options:vhost-server-path). Replaces. */
  vhostServerPath: pulumi.Input<string>;
  /** Queue pairs the guest is expected to negotiate (QEMU queues=N); default 1. In place. */
  queues?: pulumi.Input<number>;
  /** The guest NIC's MAC for the QEMU fragment; derived from the name when absent. In place. */
  mac?: pulumi.Input<string>;
}

/** A dpdkvhostuserclient port: the datapath connects to QEMU's socket and reconnects by itself. */
export class VhostUserClientPort extends pulumi.dynamic.Resource implements PortOutputs {
  declare readonly name: pulumi.Output<string>;
  declare readonly bridge: pulumi.Output<string>;
  declare readonly vhostServerPath: pulumi.Output<string>;
  declare readonly queues: pulumi.Output<number | undefined>;
  declare readonly socketPath: pulumi.Output<string>;
  declare readonly macAddress: pulumi.Output<string>;
  declare readonly qemuArgs: pulumi.Output<string[]>;
  declare readonly link: pulumi.Output<string>;
  declare readonly linkReason: pulumi.Output<string>;
  declare readonly version: pulumi.Output<number>;
  /** What the program declared: known during preview, when outputs may not be (GuestVM pairs with it). */
  readonly declared: Pick<VhostUserClientPortArgs, 'vhostServerPath' | 'queues'>;

  constructor(name: string, args: VhostUserClientPortArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...connectionInputs(args),
      name: args.name ?? name,
      bridge: args.bridge,
      vhostServerPath: args.vhostServerPath,
      queues: args.queues,
      mac: args.mac,
      ...PORT_OUTPUTS,
    };
    super(makeProvider('clientPort'), name, props, withSecrets(opts), 'vhostnet', 'VhostUserClientPort');
    checkInPreview(this, 'clientPort', props);
    this.declared = { vhostServerPath: args.vhostServerPath, queues: args.queues };
  }
}
