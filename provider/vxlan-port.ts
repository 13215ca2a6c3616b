import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';

export interface VxlanUnderlayArgs {
  /** Kernel interface carrying the tunnel, in the agent's network namespace. */
  iface: pulumi.Input<string>;
  localIp: pulumi.Input<string>;
  remoteIp: pulumi.Input<string>;
  /** Next hop MAC towards remoteIp; the agent takes it from the kernel neighbour table when absent. */
  remoteMac?: pulumi.Input<string>;
  /** Outer source MAC; the interface's MAC when absent. */
  localMac?: pulumi.Input<string>;
  /** 'af_packet' (default) or 'af_xdp' (AF_XDP sockets; af_packet where the interface refuses them). */
  driver?: pulumi.Input<'af_xdp' | 'af_packet'>;
}

export interface VxlanPortArgs extends ConnectionArgs {
  /** Port name; defaults to the resource name. Replaces. */
  name?: pulumi.Input<string>;
  /** The bridge's name. Replaces. */
  bridge: pulumi.Input<string>;
  /** The underlay: interface and both tunnel endpoints. Replaces. */
  underlay: pulumi.Input<VxlanUnderlayArgs>;
  /** VXLAN network identifier, 1..16777215 (both ends must agree). Replaces. */
  vni: pulumi.Input<number>;
  /** UDP destination port, default 4789. Replaces. */
  udpPort?: pulumi.Input<number>;
  /** This port's own limit of learned MACs, 0..4096 (0: no limit); the bridge's macLimitPerPort when absent. In place. */
  macLimit?: pulumi.Input<number>;
  /**
   * Split horizon (default true): frames flooded in from this tunnel are not flooded out of the
   * bridge's other split-horizon tunnels (a full mesh; false for a hub relaying between its
   * tunnels). In place.
   */
  splitHorizon?: pulumi.Input<boolean>;
}

/** A vxlan port (OVS interface type vxlan): the bridge reaches another host's bridge through it. */
export class VxlanPort extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly bridge: pulumi.Output<string>;
  declare readonly vni: pulumi.Output<number>;
  /** "up" or "down" when last applied or refreshed, and why it was down. */
  declare readonly link: pulumi.Output<string>;
  declare readonly linkReason: pulumi.Output<string>;
  /** The MACs the datapath resolved for the outer frames. */
  declare readonly localMac: pulumi.Output<string>;
  declare readonly remoteMac: pulumi.Output<string>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: VxlanPortArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...connectionInputs(args),
      name: args.name ?? name,
      bridge: args.bridge,
      underlay: args.underlay,
      vni: args.vni,
      udpPort: args.udpPort,
      macLimit: args.macLimit,
      splitHorizon: args.splitHorizon,
      link: undefined,
      linkReason: undefined,
      localMac: undefined,
      remoteMac: undefined,
      version: undefined,
    };
    super(makeProvider('vxlanPort'), name, props, withSecrets(opts), MODULE, RESOURCE_TYPES.vxlanPort);
    checkInPreview(this, 'vxlanPort', props);
  }
}
