import * as pulumi from '@pulumi/pulumi';
import { VhostUserPortBase, type VhostUserPortBaseArgs } from './vhost-user-port-base';

export interface VhostUserClientPortArgs extends VhostUserPortBaseArgs {
  /** The socket QEMU creates as the server (options:vhost-server-path). Replaces. */
  vhostServerPath: pulumi.Input<string>;
}

/** A dpdkvhostuserclient port: the datapath connects to QEMU's socket and reconnects by itself. */
export class VhostUserClientPort extends VhostUserPortBase {
  declare readonly vhostServerPath: pulumi.Output<string>;
  /** What the program declared: known during preview, when outputs may not be (GuestVM pairs with it). */
  readonly declared: Pick<VhostUserClientPortArgs, 'vhostServerPath' | 'queues'>;

  constructor(name: string, args: VhostUserClientPortArgs, opts?: pulumi.CustomResourceOptions) {
    super('clientPort', name, args, { vhostServerPath: args.vhostServerPath }, opts);
    this.declared = { vhostServerPath: args.vhostServerPath, queues: args.queues };
  }
}
