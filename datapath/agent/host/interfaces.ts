// Kernel network interfaces of the agent's network namespace, from sysfs.
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
