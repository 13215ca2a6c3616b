// Uplink ports (OVS interface type dpdk): a DPDK ethdev on the bridge, so its guests reach the
// physical network. Named, as in OVS, by its devargs: a PCI NIC bound to vfio-pci, or a kernel
// interface through DPDK's af_xdp PMD (preferred) or af_packet PMD.
import { z } from 'zod';
import type { DeviceCounters, QueueCounters } from './counters';
import { Name, PortMacLimit, owned, type Stored } from './fields';
import { IfName } from './tunnel';

export const DEVARGS_RULE =
  "must be a PCI address (0000:01:00.0, bound to vfio-pci) or 'net_af_xdp<N>,iface=<interface>' / 'net_af_packet<N>,iface=<interface>'";

const PCI = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
const VDEV = /^net_(af_xdp|af_packet)[0-9]{0,3}$/;

export type UplinkDriver = 'pci' | 'af_xdp' | 'af_packet';

/** What a devargs string names: the driver, the DPDK device name and, for a vdev, the kernel interface. */
export function parseDevargs(devargs: string): { driver: UplinkDriver; device: string; iface?: string; args: Record<string, string> } | undefined {
  const [device, ...rest] = devargs.split(',');
  const args: Record<string, string> = {};
  for (const kv of rest) {
    const eq = kv.indexOf('=');
    if (eq <= 0) return undefined;
    args[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (PCI.test(device)) return { driver: 'pci', device: device.toLowerCase(), args };
  const m = VDEV.exec(device);
  if (!m || args.iface === undefined || !IfName.safeParse(args.iface).success) return undefined;
  return { driver: m[1] as UplinkDriver, device, iface: args.iface, args };
}

export const DpdkPortSpec = z.strictObject({
  name: Name,
  bridge: Name,
  type: z.literal('dpdk'),
  /** OVS options:dpdk-devargs. Replaces on change (the device is re-opened). */
  devargs: z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(512, { error: 'must be at most 512 characters' })
    .refine((s) => parseDevargs(s) !== undefined, { error: DEVARGS_RULE }),
  /** The device's MTU (OVS mtu_request); the device's own when absent. Replaces on change. */
  mtu: z.int({ error: 'must be a whole number' }).min(68, { error: 'must be at least 68' }).max(9702, { error: 'must be at most 9702' }).optional(),
  macLimit: PortMacLimit,
  ...owned,
});
export type DpdkPortSpec = z.output<typeof DpdkPortSpec>;
export type DpdkPortInput = z.input<typeof DpdkPortSpec>;

export interface DpdkPortStatus {
  link: 'up' | 'down';
  /** Why the port is not forwarding: not in the datapath, its interface missing or down, the device's link down. */
  reason?: string;
  /**
   * How the device is driven, and the kernel interface under a vdev; for af_xdp, how its XDP
   * program is attached: 'native' (in the driver) or 'generic' (after the kernel built an skb:
   * slower, but any interface has it), absent while none is.
   */
  device: {
    driver: UplinkDriver;
    name: string;
    iface?: string;
    operstate?: string;
    xdpMode?: 'native' | 'generic' | 'offload';
    queuePairs: number;
    /** What the device counted itself: frames dropped before any PMD saw them (rx ring full, no mbuf), errors. */
    counters?: DeviceCounters;
  };
  warnings: string[];
  stats: QueueCounters;
  queues: QueueCounters[];
}

export type DpdkPortState = Stored<DpdkPortSpec> & {
  version: number;
  status?: DpdkPortStatus;
};
