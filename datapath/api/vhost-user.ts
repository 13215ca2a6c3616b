// vhost-user ports (OVS interface types dpdkvhostuserclient and dpdkvhostuser): a guest's
// virtio-net NIC on a unix socket. The two types differ only in who creates the socket.
import { z } from 'zod';
import { Mac, Mtu, Name, PortMacLimit, QueuePairs, SocketPath, owned, type Stored } from './fields';
import type { QueueCounters } from './counters';

export const SERVER_PORT_DEPRECATION =
  'dpdkvhostuser (server mode) ports are deprecated, as in Open vSwitch: the switch owns the socket, so a restart of the switch ' +
  "breaks the guest's connection and QEMU cannot reconnect by itself. Use dpdkvhostuserclient ports: QEMU creates the socket " +
  '(server=on) and the datapath reconnects to it.';

export const N_RXQ_REFUSAL =
  'cannot be set on a vhost-user port: its queues are negotiated with the guest, so set queues on the QEMU side ' +
  '(-netdev vhost-user,queues=N and -device virtio-net-pci,mq=on) as the OVS-DPDK guide says; n_rxq is ignored for vhost-user';

export const SERVER_SOCKET_RULE = 'must not be set on a dpdkvhostuser port: the agent creates its socket at <run dir>/<vhostSockDir>/<name>';

/** A field this type refuses, with the reason (an unknown key would only say "not a known field"). */
const absent = (rule: string) => z.custom<undefined>((v) => v === undefined, { error: rule }).optional();

// The fields both vhost-user types share, around the type and the socket, in the order the
// store keeps them.
const placed = { name: Name, bridge: Name };
const nic = {
  /** Queue pairs the guest is expected to negotiate; a mismatch shows as a warning. In place. */
  queues: QueuePairs.default(1),
  /** The guest NIC's MAC, for the QEMU fragment; derived from the name when absent. In place. */
  mac: Mac.optional(),
  /**
   * The port's MTU (OVS mtu_request), told to its guest as host_mtu; the bridge's when absent.
   * In place: the datapath enforces it at once, a running guest keeps the MTU it started with.
   */
  mtu: Mtu.optional(),
  /** OVS options:n_rxq: refused with the reason (queues are the guest's to negotiate). */
  nRxq: absent(N_RXQ_REFUSAL),
  macLimit: PortMacLimit,
  ...owned,
};

/** dpdkvhostuserclient (preferred): QEMU creates the socket (server=on), the datapath connects. */
export const VhostUserClientPortSpec = z.strictObject({
  ...placed,
  type: z.literal('dpdkvhostuserclient'),
  /** The socket QEMU creates (OVS options:vhost-server-path). Replaces on change. */
  vhostServerPath: SocketPath,
  ...nic,
});

/** dpdkvhostuser (deprecated): the datapath creates the socket under its run dir, QEMU connects. */
export const VhostUserServerPortSpec = z.strictObject({
  ...placed,
  type: z.literal('dpdkvhostuser'),
  vhostServerPath: absent(SERVER_SOCKET_RULE),
  ...nic,
});

export type VhostUserClientPortSpec = z.output<typeof VhostUserClientPortSpec>;
export type VhostUserServerPortSpec = z.output<typeof VhostUserServerPortSpec>;
export type VhostUserPortSpec = VhostUserClientPortSpec | VhostUserServerPortSpec;
export type VhostUserPortType = VhostUserPortSpec['type'];

export type PortMode = 'client' | 'server';
const MODE: Record<VhostUserPortType, PortMode> = { dpdkvhostuserclient: 'client', dpdkvhostuser: 'server' };

/** The datapath's role on the socket: a client port connects to QEMU's socket, a server port listens. */
export function portMode(type: VhostUserPortType): PortMode {
  return MODE[type];
}

export interface PortStatus {
  link: 'up' | 'down';
  /** Why the port is not forwarding, in words; absent when it is. */
  reason?: string;
  mode: PortMode;
  socketPath: string;
  connected: boolean;
  vringsEnabled: number;
  vringsTotal: number;
  queuePairs: number;
  features: {
    offered: string;
    negotiated: string;
    requested: { multiqueue: boolean; mergeableBuffers: boolean; iommu: boolean };
    negotiatedNames: string[];
  };
  warnings: string[];
  /** The MTU the datapath enforces on this port and tells its guest (host_mtu), and where it comes from. */
  mtu: number;
  mtuSource: string;
  /** What the guest's virtio-net took (VIRTIO_NET_F_MTU); absent when it did not negotiate it. */
  guestMtu?: number;
  stats: QueueCounters;
  queues: QueueCounters[];
}

interface VhostUserStateFields {
  mac: string;
  version: number;
  deprecated?: string;
  /** The socket the datapath uses: vhostServerPath, or the one the agent created. */
  socketPath: string;
  /** QEMU arguments for the guest's end of this socket. */
  qemuArgs: string[];
  status?: PortStatus;
}
export type VhostUserClientPortState = Stored<VhostUserClientPortSpec> & VhostUserStateFields;
export type VhostUserServerPortState = Stored<VhostUserServerPortSpec> & VhostUserStateFields;
export type VhostUserPortState = VhostUserClientPortState | VhostUserServerPortState;
