// A port of a bridge: one union on `type`, as OVS has one Interface table with a type column.
// Each member is its type's own schema; what every type shares (name, bridge, owner) is defined
// once in fields.ts. The next port type is one more member here and one more row in each table.
import { z } from 'zod';
import { DpdkPortSpec, type DpdkPortState } from './dpdk-port';
import { VxlanPortSpec, type VxlanPortState } from './tunnel';
import { VhostUserClientPortSpec, VhostUserServerPortSpec, type VhostUserPortState } from './vhost-user';

export const PORT_TYPES = ['dpdkvhostuserclient', 'dpdkvhostuser', 'vxlan', 'dpdk'] as const;
export const PORT_TYPE_RULE = "must be 'dpdkvhostuserclient' (preferred), 'dpdkvhostuser' (deprecated server mode), 'vxlan' or 'dpdk'";

export const PortType = z.enum(PORT_TYPES, { error: PORT_TYPE_RULE });
export type PortType = z.infer<typeof PortType>;

export const PortSpec = z.discriminatedUnion('type', [VhostUserClientPortSpec, VhostUserServerPortSpec, VxlanPortSpec, DpdkPortSpec], {
  // Only the discriminator's own refusal: every other issue keeps its member's message.
  error: (iss) =>
    iss.code !== 'invalid_union' ? undefined : (iss.input as { type?: unknown } | undefined)?.type === undefined ? 'is required' : PORT_TYPE_RULE,
});
export type PortSpec = z.output<typeof PortSpec>;
export type PortInput = z.input<typeof PortSpec>;
/** The spec of one port type. */
export type PortSpecOf<T extends PortType> = Extract<PortSpec, { type: T }>;

/**
 * Fields whose change re-creates the port in the datapath (a vhost-user socket is re-opened and
 * the guest's link drops; a tunnel re-opens its underlay); the rest change in place. The agent
 * plans with it, the provider's diff replaces on it.
 */
export const PORT_REPLACE_FIELDS: { readonly [T in PortType]: readonly (keyof PortSpecOf<T> & string)[] } = {
  dpdkvhostuserclient: ['name', 'bridge', 'type', 'vhostServerPath'],
  dpdkvhostuser: ['name', 'bridge', 'type'],
  vxlan: ['name', 'bridge', 'type', 'underlay', 'vni', 'udpPort'],
  dpdk: ['name', 'bridge', 'type', 'devargs', 'mtu'],
};

export type PortState = VhostUserPortState | VxlanPortState | DpdkPortState;
