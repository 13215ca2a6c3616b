import * as pulumi from '@pulumi/pulumi';
import { SERVER_PORT_DEPRECATION } from '../datapath/api/vhost-user';
import { VhostUserPortBase, type VhostUserPortBaseArgs } from './vhost-user-port-base';

/** The socket is <run dir>/<vhostSockDir>/<name>. */
export type VhostUserPortArgs = VhostUserPortBaseArgs;

/**
 * A dpdkvhostuser port (server mode): the agent creates the socket and QEMU connects to it.
 * @deprecated As in Open vSwitch: use VhostUserClientPort.
 */
export class VhostUserPort extends VhostUserPortBase {
  /** What the program declared: known during preview (GuestVM pairs with it). */
  readonly declared: Pick<VhostUserPortArgs, 'queues'>;

  constructor(name: string, args: VhostUserPortArgs, opts?: pulumi.CustomResourceOptions) {
    super('serverPort', name, args, {}, opts);
    this.declared = { queues: args.queues };
    pulumi.log.warn(`VhostUserPort is deprecated: ${SERVER_PORT_DEPRECATION}`, this);
  }
}
