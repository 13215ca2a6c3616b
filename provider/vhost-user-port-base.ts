// What the two vhost-user port resources share: their outputs and how they register (the
// operations of both are in ./vhost-user-port.ops.ts, one table per port type).
import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';

export interface VhostUserPortBaseArgs extends ConnectionArgs {
  /** Port name; defaults to the resource name. Replaces. */
  name?: pulumi.Input<string>;
  /** The bridge's name. Replaces. */
  bridge: pulumi.Input<string>;
  /** Queue pairs the guest is expected to negotiate (QEMU queues=N); default 1. In place. */
  queues?: pulumi.Input<number>;
  /** The guest NIC's MAC for the QEMU fragment; derived from the name when absent. In place. */
  mac?: pulumi.Input<string>;
  /** This port's own limit of learned MACs, 0..4096 (0: no limit); the bridge's macLimitPerPort when absent. In place. */
  macLimit?: pulumi.Input<number>;
  /** The port's MTU (OVS mtu_request), in its qemuArgs as host_mtu; the bridge's when absent. In place. */
  mtu?: pulumi.Input<number>;
}

/** A vhost-user port of either role: what a user needs next to plug a guest in. */
export abstract class VhostUserPortBase extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly bridge: pulumi.Output<string>;
  declare readonly queues: pulumi.Output<number | undefined>;
  declare readonly mtu: pulumi.Output<number | undefined>;
  /** The socket the datapath uses. */
  declare readonly socketPath: pulumi.Output<string>;
  /** The guest NIC's MAC: the one given, or one derived from the port name. */
  declare readonly macAddress: pulumi.Output<string>;
  /** QEMU arguments for the guest's end: -chardev, -netdev vhost-user, -device virtio-net-pci. */
  declare readonly qemuArgs: pulumi.Output<string[]>;
  /** "up" or "down" when last applied or refreshed, and why it was down. */
  declare readonly link: pulumi.Output<string>;
  declare readonly linkReason: pulumi.Output<string>;
  declare readonly version: pulumi.Output<number>;

  protected constructor(
    kind: 'clientPort' | 'serverPort',
    name: string,
    args: VhostUserPortBaseArgs,
    own: Record<string, pulumi.Input<unknown>>,
    opts?: pulumi.CustomResourceOptions,
  ) {
    const props = {
      ...connectionInputs(args),
      name: args.name ?? name,
      bridge: args.bridge,
      ...own,
      queues: args.queues,
      mac: args.mac,
      macLimit: args.macLimit,
      mtu: args.mtu,
      socketPath: undefined,
      macAddress: undefined,
      qemuArgs: undefined,
      link: undefined,
      linkReason: undefined,
      version: undefined,
    };
    super(makeProvider(kind), name, props, withSecrets(opts), MODULE, RESOURCE_TYPES[kind]);
    checkInPreview(this, kind, props);
  }
}
