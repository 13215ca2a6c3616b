import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';

export interface DpdkPortArgs extends ConnectionArgs {
  /** Port name; defaults to the resource name. Replaces. */
  name?: pulumi.Input<string>;
  /** The bridge's name. Replaces. */
  bridge: pulumi.Input<string>;
  /**
   * The device, as OVS's options:dpdk-devargs: a PCI address bound to vfio-pci ("0000:01:00.0"),
   * or a kernel interface through DPDK's af_xdp or af_packet PMD ("net_af_xdp0,iface=eth1").
   * Replaces.
   */
  devargs: pulumi.Input<string>;
  /** The device's MTU (OVS mtu_request); the device's own when absent. Replaces. */
  mtu?: pulumi.Input<number>;
  /** This port's own limit of learned MACs, 0..4096 (0: no limit); the bridge's macLimitPerPort when absent. In place. */
  macLimit?: pulumi.Input<number>;
}

/** An uplink port (OVS interface type dpdk): the bridge's guests reach the physical network through it. */
export class DpdkPort extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  declare readonly bridge: pulumi.Output<string>;
  declare readonly devargs: pulumi.Output<string>;
  /** "up" or "down" when last applied or refreshed, and why it was down. */
  declare readonly link: pulumi.Output<string>;
  declare readonly linkReason: pulumi.Output<string>;
  /** How the device is driven: "pci", "af_xdp" or "af_packet". */
  declare readonly driver: pulumi.Output<string>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: DpdkPortArgs, opts?: pulumi.CustomResourceOptions) {
    const props = {
      ...connectionInputs(args),
      name: args.name ?? name,
      bridge: args.bridge,
      devargs: args.devargs,
      mtu: args.mtu,
      macLimit: args.macLimit,
      link: undefined,
      linkReason: undefined,
      driver: undefined,
      version: undefined,
    };
    super(makeProvider('dpdkPort'), name, props, withSecrets(opts), MODULE, RESOURCE_TYPES.dpdkPort);
    checkInPreview(this, 'dpdkPort', props);
  }
}
