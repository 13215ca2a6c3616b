import { z } from 'zod';
import { Mac, Name, QueuePairs, SocketPath } from './fields';

/** The OVS interface types we implement; dpdkvhostuser (server mode) is deprecated there and here. */
export const PortType = z.enum(['dpdkvhostuserclient', 'dpdkvhostuser'], {
  error: "must be 'dpdkvhostuserclient' (preferred) or 'dpdkvhostuser' (deprecated server mode)",
});
export type PortType = z.infer<typeof PortType>;

export const SERVER_PORT_DEPRECATION =
  "dpdkvhostuser (server mode) ports are deprecated, as in Open vSwitch: the switch owns the socket, so a restart of the switch " +
  "breaks the guest's connection and QEMU cannot reconnect by itself. Use dpdkvhostuserclient ports: QEMU creates the socket " +
  '(server=on) and the datapath reconnects to it.';

export const N_RXQ_REFUSAL =
  'cannot be set on a vhost-user port: its queues are negotiated with the guest, so set queues on the QEMU side ' +
  '(-netdev vhost-user,queues=N and -device virtio-net-pci,mq=on) as the OVS-DPDK guide says; n_rxq is ignored for vhost-user';

export const PortSpec = z
  .strictObject({
    name: Name,
    bridge: Name,
    type: PortType,
    /** Client ports: the socket QEMU created (OVS options:vhost-server-path). Replaces on change. */
    vhostServerPath: SocketPath.optional(),
    /** Queue pairs the guest is expected to negotiate; a mismatch shows as a warning. In place. */
    queues: QueuePairs.default(1),
    /** The guest NIC's MAC, for the QEMU fragment; derived from the name when absent. In place. */
    mac: Mac.optional(),
    nRxq: z.unknown().optional(),
    owner: z.string().max(512, { error: 'must be at most 512 characters' }).optional(),
    expectedVersion: z.int().min(1).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.nRxq !== undefined) ctx.addIssue({ code: 'custom', path: ['nRxq'], message: N_RXQ_REFUSAL });
    if (p.type === 'dpdkvhostuserclient' && p.vhostServerPath === undefined)
      ctx.addIssue({ code: 'custom', path: ['vhostServerPath'], message: 'is required for a dpdkvhostuserclient port' });
    if (p.type === 'dpdkvhostuser' && p.vhostServerPath !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['vhostServerPath'],
        message: 'must not be set on a dpdkvhostuser port: the agent creates its socket at <run dir>/<vhostSockDir>/<name>',
      });
  })
  .transform(({ nRxq: _ignored, ...rest }) => rest);
export type PortSpec = z.output<typeof PortSpec>;
export type PortInput = z.input<typeof PortSpec>;

/** Fields whose change re-creates the port's socket (the guest's link drops); the rest change in place. */
export const PORT_REPLACE_FIELDS = ['name', 'bridge', 'type', 'vhostServerPath'] as const;

export interface QueueCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  txDrops: number;
}

export interface PortStatus {
  link: 'up' | 'down';
  /** Why the port is not forwarding, in words; absent when it is. */
  reason?: string;
  mode: 'client' | 'server';
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
  stats: QueueCounters;
  queues: QueueCounters[];
}

export interface PortState extends Omit<PortSpec, 'expectedVersion'> {
  mac: string;
  version: number;
  deprecated?: string;
  /** The socket the datapath uses: vhostServerPath, or the one the agent created. */
  socketPath: string;
  /** QEMU arguments for the guest's end of this socket. */
  qemuArgs: string[];
  status?: PortStatus;
}
