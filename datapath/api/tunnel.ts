// VXLAN tunnel ports (OVS interface type vxlan): a bridge spanning hosts. The underlay is a
// kernel interface of the agent's network namespace that the datapath opens with DPDK's
// af_packet PMD; frames are carried in IPv4/UDP/VXLAN between localIp and remoteIp.
import { z } from 'zod';
import { Mac, Name, PortMacLimit, owned, type Stored } from './fields';
import type { DeviceCounters, QueueCounters } from './counters';

export const IPV4_RULE = 'must be an IPv4 address like 192.0.2.1';

export const Ipv4 = z
  .string({ error: 'must be a string' })
  .refine((s) => /^(\d{1,3})(\.\d{1,3}){3}$/.test(s) && s.split('.').every((o) => Number(o) <= 255 && String(Number(o)) === o), { error: IPV4_RULE })
  .refine((s) => !/^(0\.|127\.|22[4-9]\.|2[3-5]\d\.)/.test(s) && s !== '255.255.255.255', {
    error: 'must be a unicast address (not 0.x, loopback, multicast or broadcast)',
  });

/** A Linux interface name: 1..15 bytes, no '/', ':' or whitespace, not '.' or '..'. */
export const IfName = z
  .string({ error: 'must be a string' })
  .min(1, { error: 'must not be empty' })
  .max(15, { error: 'must be at most 15 characters (IFNAMSIZ)' })
  .refine((s) => !/[/:\s\0]/.test(s) && s !== '.' && s !== '..', { error: "must be an interface name (no '/', ':' or whitespace)" });

export const VXLAN_DEFAULT_UDP_PORT = 4789;

export const VxlanUnderlay = z.strictObject({
  /** The kernel interface carrying the tunnel, in the agent's network namespace. */
  iface: IfName,
  localIp: Ipv4,
  remoteIp: Ipv4,
  /** Next hop MAC towards remoteIp; when absent the agent takes it from the kernel neighbour table. */
  remoteMac: Mac.optional(),
  /** Source MAC of the outer frames; the interface's own MAC when absent. */
  localMac: Mac.optional(),
  /**
   * How the datapath drives the interface: 'af_packet' (a packet socket, a system call per burst;
   * the kernel still sees every frame) or 'af_xdp' (an AF_XDP socket per PMD: no system call per
   * packet, but the interface's frames go to the datapath instead of the kernel; af_packet, with
   * a warning saying why, where the interface refuses it). Replaces on change.
   */
  driver: z.enum(['af_xdp', 'af_packet'], { error: "must be 'af_xdp' or 'af_packet'" }).default('af_packet'),
});

export const VxlanPortSpec = z
  .strictObject({
    name: Name,
    bridge: Name,
    type: z.literal('vxlan'),
    underlay: VxlanUnderlay,
    vni: z.int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).max(16777215, { error: 'must be at most 16777215 (24 bits)' }),
    udpPort: z
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be at least 1' })
      .max(65535, { error: 'must be at most 65535' })
      .default(VXLAN_DEFAULT_UDP_PORT),
    macLimit: PortMacLimit,
    /**
     * Split horizon, default true: a frame flooded in from this tunnel (broadcast, multicast,
     * unknown unicast) is not flooded out of the bridge's other split-horizon tunnels, as in a
     * full mesh where every host floods to every other itself; without it three hosts loop a
     * broadcast forever. false for a hub that must relay between its tunnels (a star). Unicast to a
     * learned MAC is not limited. In place (the tunnel is re-opened).
     */
    splitHorizon: z.boolean({ error: 'must be true or false' }).optional(),
    ...owned,
  })
  .superRefine((p, ctx) => {
    if (p.underlay.localIp === p.underlay.remoteIp)
      ctx.addIssue({ code: 'custom', path: ['underlay', 'remoteIp'], message: 'must differ from underlay.localIp' });
  });
export type VxlanPortSpec = z.output<typeof VxlanPortSpec>;
export type VxlanPortInput = z.input<typeof VxlanPortSpec>;

export interface VxlanPortStatus {
  link: 'up' | 'down';
  /** Why the tunnel is not forwarding: not in the datapath, underlay interface missing or not up. */
  reason?: string;
  /** What the datapath uses: the MACs resolved at apply time. */
  underlay: {
    iface: string;
    operstate?: string;
    localMac?: string;
    remoteMac?: string;
    /** How the datapath drives it (af_packet when af_xdp was asked for and refused: see warnings). */
    driver?: 'af_xdp' | 'af_packet';
    /** af_xdp: how its XDP program is attached, 'native' (in the driver) or 'generic' (on an skb). */
    xdpMode?: 'native' | 'generic' | 'offload';
    /** The interface's MTU when the tunnel was made. */
    mtu?: number;
    /** What the underlay device counted itself (rx ring full, no mbuf, errors), shared by its tunnels. */
    counters?: DeviceCounters;
  };
  /** The longest inner IP packet the tunnel carries: the underlay's MTU - 50 (VXLAN over IPv4). */
  mtu?: number;
  /** Why the underlay is not what was asked for (af_xdp refused), and what af_xdp costs the kernel. */
  warnings: string[];
  stats: QueueCounters;
  queues: QueueCounters[];
}

export type VxlanPortState = Stored<VxlanPortSpec> & {
  version: number;
  status?: VxlanPortStatus;
};
