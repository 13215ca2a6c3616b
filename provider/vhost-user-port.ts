import * as pulumi from '@pulumi/pulumi';
import { SERVER_PORT_DEPRECATION } from '../datapath/api/vhost-user';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { PORT_OUTPUTS, type PortOutputs } from './port-outputs';

export interface VhostUserPortArgs extends ConnectionArgs {
  /** Port name; the socket is <run dir>/<vhostSockDir>/<name>. Replaces. */
  name?: pulumi.Input<string>;
  /** The bridge's name. Replaces. */
  bridge: pulumi.Input<string>;
  queues?: pulumi.Input<number>;
  mac?: pulumi.Input<string>;
}

/**
 * A dpdkvhostuser port (server mode): the agent creates the socket and QEMU connects to it.
 * @deprecated As in Open vSwitch: use VhostUserClientPort.
 */
export class VhostUserPort extends pulumi.dynamic.Resource implements PortOutputs {
  declare readonly name: pulumi.Output<string>;
  declare readonly bridge: pulumi.Output<string>;
  declare readonly queues: pulumi.Output<number | undefined>;
  declare readonly socketPath: pulumi.Output<string>;
  declare readonly macAddress: pulumi.Output<string>;
  declare readonly qemuArgs: pulumi.Output<string[]>;
  declare readonly link: pulumi.Output<string>;
  declare readonly linkReason: pulumi.Output<string>;
  declare readonly version: pulumi.Output<number>;
  /** What the program declared: known during preview (GuestVM pairs with it). */
  readonly declared: Pick<VhostUserPortArgs, 'queues'>;

  constructor(name: string, args: VhostUserPortArgs, opts?: pulumi.CustomResourceOptions) {
    const props = { ...connectionInputs(args), name: args.name ?? name, bridge: args.bridge, queues: args.queues, mac: args.mac, ...PORT_OUTPUTS };
    super(makeProvider('serverPort'), name, props, withSecrets(opts), 'vhostnet', 'VhostUserPort');
    checkInPreview(this, 'serverPort', props);
    this.declared = { queues: args.queues };
    pulumi.log.warn(`VhostUserPort is deprecated: ${SERVER_PORT_DEPRECATION}`, this);
  }
}
