import type * as pulumi from '@pulumi/pulumi';

/** Outputs both port types share: what a user needs next to plug a guest in. */
export interface PortOutputs {
  /** The socket the datapath uses. */
  readonly socketPath: pulumi.Output<string>;
  /** The guest NIC's MAC: the one given, or one derived from the port name. */
  readonly macAddress: pulumi.Output<string>;
  /** QEMU arguments for the guest's end: -chardev, -netdev vhost-user, -device virtio-net-pci. */
  readonly qemuArgs: pulumi.Output<string[]>;
  /** "up" or "down" when last applied or refreshed, and why it was down. */
  readonly link: pulumi.Output<string>;
  readonly linkReason: pulumi.Output<string>;
  readonly version: pulumi.Output<number>;
}

export const PORT_OUTPUTS = { socketPath: undefined, macAddress: undefined, qemuArgs: undefined, link: undefined, linkReason: undefined, version: undefined };
