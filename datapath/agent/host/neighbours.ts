// The kernel's neighbour (ARP) table of the agent's network namespace.
import * as fs from 'node:fs';

/** ATF_COM: the entry is complete (resolved), not a pending or failed lookup. */
const COMPLETE = 0x2;

/** The MAC of ip on iface from /proc/net/arp, undefined when the kernel has not resolved it. */
export function neighbourMac(iface: string, ip: string): string | undefined {
  for (const line of fs.readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1)) {
    const [addr, , flags, mac, , dev] = line.trim().split(/\s+/);
    if (addr === ip && dev === iface && (Number(flags) & COMPLETE) !== 0 && mac !== '00:00:00:00:00:00') return mac.toLowerCase();
  }
  return undefined;
}
