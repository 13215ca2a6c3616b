// The one file through which the plugin reaches the implementation: the per-kind operations of
// the dynamic resources (vhostnet/operations), their type tokens (provider/tokens) and the
// contract's schemas (datapath/api). A rename there touches this file only. The plugin never
// re-implements an operation.
import type { z } from 'zod';
import {
  BridgeSpec,
  DpdkPortSpec,
  GuestVmSpec,
  HugepageSpec,
  SettingsSpec,
  VhostUserClientPortSpec,
  VhostUserServerPortSpec,
  VxlanPortSpec,
} from '../datapath/api';
import * as impl from '../provider/operations';
import { MODULE, RESOURCE_TYPES } from '../provider/tokens';

export type Kind = impl.Kind;
/** The package name, the first part of every type token. */
export const PACKAGE = MODULE;
export type Props = Record<string, unknown>;

/** The operations, as the dynamic providers call them. */
export const ops = {
  check: (kind: Kind, news: Props) => impl.check(kind, news),
  diff: (kind: Kind, olds: Props, news: Props) => impl.diff(kind, olds, news),
  create: (kind: Kind, news: Props) => impl.create(kind, news),
  read: (kind: Kind, id: string, props: Props) => impl.read(kind, id, props),
  update: (kind: Kind, olds: Props, news: Props) => impl.update(kind, olds, news),
  remove: (kind: Kind, props: Props) => impl.remove(kind, props),
};

/** The inputs by which the operations reach an agent; the plugin takes them from its provider config. */
export const CONNECTION_INPUTS = { endpoint: 'agentEndpoint', token: 'agentToken', caCert: 'agentCaCert' } as const;
/** Who manages an object on the agent ("project/stack"), as the dynamic resources send it. */
export const OWNER_INPUT = 'owner';

/** An output the agent answers with: its schema type and what it says. */
export interface OutputSpec {
  type: 'string' | 'integer' | 'boolean' | 'string[]';
  description: string;
}

export interface ResourceKind {
  kind: Kind;
  /** The contract's schema of what the agent takes. */
  contract: z.ZodType;
  /** Contract fields that are not inputs of the resource: set by the kind, or the agent's bookkeeping. */
  hidden: string[];
  /** Name of the TypeScript face's args interface (its JSDoc is the fields' documentation). */
  argsInterface: string;
  description: string;
  outputs: Record<string, OutputSpec>;
}

const BOOKKEEPING = ['owner', 'expectedVersion'];
const version: OutputSpec = { type: 'integer', description: "The object's version on the agent (optimistic concurrency)." };
const portOutputs: Record<string, OutputSpec> = {
  socketPath: { type: 'string', description: 'The vhost-user socket the datapath uses.' },
  macAddress: { type: 'string', description: "The guest NIC's MAC: the one given, or the one derived from the name." },
  qemuArgs: { type: 'string[]', description: "QEMU arguments for the guest's end of this socket." },
  link: { type: 'string', description: '"up" or "down" when last applied or refreshed.' },
  linkReason: { type: 'string', description: 'Why the link was down, in words; empty when up.' },
  version,
};

/** Resource type tokens (vhostnet:index:<name>, names from provider/tokens) and the kinds behind them. */
export const RESOURCES: Record<string, ResourceKind> = {
  [RESOURCE_TYPES.bridge]: {
    kind: 'bridge',
    contract: BridgeSpec,
    hidden: BOOKKEEPING,
    argsInterface: 'BridgeArgs',
    description: "An L2 learning switch on the host's vhost-user datapath (ovs-vsctl add-br br0 -- set bridge br0 datapath_type=netdev).",
    outputs: { version },
  },
  [RESOURCE_TYPES.clientPort]: {
    kind: 'clientPort',
    contract: VhostUserClientPortSpec,
    hidden: [...BOOKKEEPING, 'type', 'nRxq'],
    argsInterface: 'VhostUserClientPortArgs',
    description: 'A dpdkvhostuserclient port: QEMU creates the socket (server=on), the datapath connects to it and reconnects by itself.',
    outputs: portOutputs,
  },
  [RESOURCE_TYPES.serverPort]: {
    kind: 'serverPort',
    contract: VhostUserServerPortSpec,
    hidden: [...BOOKKEEPING, 'type', 'nRxq', 'vhostServerPath'],
    argsInterface: 'VhostUserPortArgs',
    description:
      'A dpdkvhostuser (server mode) port: the datapath creates the socket and QEMU connects. Deprecated, as in Open vSwitch: prefer VhostUserClientPort.',
    outputs: portOutputs,
  },
  [RESOURCE_TYPES.vxlanPort]: {
    kind: 'vxlanPort',
    contract: VxlanPortSpec,
    hidden: [...BOOKKEEPING, 'type'],
    argsInterface: 'VxlanPortArgs',
    description: "A vxlan port (OVS interface type vxlan): the bridge reaches another host's bridge through it.",
    outputs: {
      link: portOutputs.link,
      linkReason: portOutputs.linkReason,
      localMac: { type: 'string', description: 'Source MAC of the outer frames, as the datapath resolved it.' },
      remoteMac: { type: 'string', description: 'Next hop MAC of the outer frames, as the datapath resolved it.' },
      version,
    },
  },
  [RESOURCE_TYPES.dpdkPort]: {
    kind: 'dpdkPort',
    contract: DpdkPortSpec,
    hidden: [...BOOKKEEPING, 'type'],
    argsInterface: 'DpdkPortArgs',
    description: "An uplink port (OVS interface type dpdk): a DPDK ethdev named by its devargs, so the bridge's guests reach the physical network.",
    outputs: {
      link: portOutputs.link,
      linkReason: portOutputs.linkReason,
      driver: { type: 'string', description: 'How the device is driven: "pci", "af_xdp" or "af_packet".' },
      version,
    },
  },
  [RESOURCE_TYPES.settings]: {
    kind: 'settings',
    contract: SettingsSpec,
    hidden: BOOKKEEPING,
    argsInterface: 'DatapathSettingsArgs',
    description: "The datapath's global settings (Open_vSwitch other_config). One per agent (import ID: settings); destroy restores what it found.",
    outputs: {
      restartRequired: { type: 'string[]', description: "Fields whose stored value waits for the agent's next start." },
      version,
    },
  },
  [RESOURCE_TYPES.guest]: {
    kind: 'guest',
    contract: GuestVmSpec,
    hidden: BOOKKEEPING,
    argsInterface: 'GuestVMArgs',
    description: "A QEMU guest run by the host's agent, its NICs plugged into vhost-user ports (each NIC names its port).",
    outputs: {
      qemuCommand: { type: 'string[]', description: 'The QEMU command line the agent runs.' },
      libvirtXml: { type: 'string', description: 'The equivalent libvirt domain XML.' },
      notes: { type: 'string[]', description: 'What the agent chose for you (accelerator, vectors=0 under TCG, ...).' },
      state: { type: 'string', description: "The guest's state when last applied or refreshed." },
      pid: { type: 'integer', description: "QEMU's process id, 0 when not running." },
      version,
    },
  },
  [RESOURCE_TYPES.hugepages]: {
    kind: 'hugepages',
    contract: HugepageSpec,
    hidden: BOOKKEEPING,
    argsInterface: 'HugepageConfigArgs',
    description: 'Hugepages reserved on the host through sysfs (and hugetlbfs mounted); destroy restores the reservation it found.',
    outputs: {
      found: { type: 'integer', description: 'Pages reserved before this config, restored on delete.' },
      total: { type: 'integer', description: 'Pages of that size reserved now.' },
      free: { type: 'integer', description: 'Pages of that size free now.' },
      version,
    },
  },
};

/** Nested object types: their TypeScript face's interface, for documentation. */
export const NESTED_INTERFACES: Record<string, string> = { 'VxlanPort.underlay': 'VxlanUnderlayArgs', 'GuestVM.nics': 'GuestNicArgs' };
