// Kernel network interfaces of the agent's network namespace, from sysfs (and iproute2 for XDP).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/** The kernel's operstate of an interface ("up", "down", "unknown"...), undefined if it does not exist. */
export function operstate(iface: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The interface's own MAC address. */
export function interfaceMac(iface: string): string {
  return fs.readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
}

export type XdpMode = 'native' | 'generic' | 'offload';
// IFLA_XDP_ATTACHED: 1 driver (native), 2 skb (generic), 3 hardware, 4 several (then per program).
const XDP_MODES: Record<number, XdpMode> = { 1: 'native', 2: 'generic', 3: 'offload' };

/** How an XDP program is attached to the interface (an AF_XDP socket's mode), undefined if none is. */
export function xdpMode(iface: string): XdpMode | undefined {
  try {
    const [link] = JSON.parse(execFileSync('ip', ['-d', '-j', 'link', 'show', 'dev', iface], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
      xdp?: { mode: number; attached?: { mode: number }[] };
    }[];
    const x = link?.xdp;
    return x ? XDP_MODES[x.mode === 4 ? (x.attached?.[0]?.mode ?? 0) : x.mode] : undefined;
  } catch {
    return undefined;
  }
}
