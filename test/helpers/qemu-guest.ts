// Helpers for tests that run real QEMU guests: hugepages, console markers, test guest specs.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { GuestSpecInput } from '../../datapath/api/guest';
import { stripTerminal } from '../../datapath/agent/guest/console';
import type { AgentClient } from '../../datapath/api';
import { waitFor } from './agent-process';
import { guestImage } from './guest-image';

/** Reserves 2 MiB hugepages and mounts /dev/hugepages (root only), as the shared context says. */
export function ensureHugepages(pages = 1024): void {
  const cur = Number(fs.readFileSync('/proc/sys/vm/nr_hugepages', 'utf8'));
  if (cur < pages) fs.writeFileSync('/proc/sys/vm/nr_hugepages', String(pages));
  fs.mkdirSync('/dev/hugepages', { recursive: true });
  try {
    execFileSync('mountpoint', ['-q', '/dev/hugepages']);
  } catch {
    execFileSync('mount', ['-t', 'hugetlbfs', 'hugetlbfs', '/dev/hugepages']);
  }
}

/** Free 2 MiB hugepages right now. */
export function freeHugepages(): number {
  const m = /HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) : 0;
}

export function readConsole(file: string): string {
  try {
    return stripTerminal(fs.readFileSync(file, 'utf8'));
  } catch {
    return '';
  }
}

/** Polls a console log until `re` matches; returns the match or throws with the log's tail. */
export async function waitForConsole(file: string, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const t0 = Date.now();
  for (;;) {
    const m = readConsole(file).match(re);
    if (m) return m;
    if (Date.now() - t0 > timeoutMs) {
      const tail = readConsole(file).split('\n').slice(-15).join('\n');
      throw new Error(`console ${file}: no ${re} within ${timeoutMs} ms; tail:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface TestGuestOptions {
  name: string;
  /** eth0 address with prefix, e.g. 169.254.100.1/24 (link-local: stays between the guests). */
  ip: string;
  /** Peer to ping continuously. */
  ping?: string;
  nics: { name: string; socketPath: string; portMode: 'client' | 'server'; mac: string }[];
  memoryMb?: number;
}

/** A TCG test guest booting the busybox initramfs. */
export function testGuestSpec(o: TestGuestOptions): GuestSpecInput {
  const img = guestImage();
  const append = [`quiet`, `vhostnet.ip=${o.ip}`, o.ping ? `vhostnet.ping=${o.ping}` : ''].filter(Boolean).join(' ');
  return {
    name: o.name,
    vcpus: 1,
    memoryMb: o.memoryMb ?? 256,
    accel: 'tcg',
    boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append: `console=ttyS0 ${append}` },
    nics: o.nics,
  };
}

/** Counts busybox ping replies from `peer` in a console log. */
export function pingReplies(file: string, peer: string): number {
  const re = new RegExp(`bytes from ${peer.replace(/\./g, '\\.')}: seq=\\d+`, 'g');
  return (readConsole(file).match(re) ?? []).length;
}

/** A GuestVM body for the agent's API: a test guest at `${net}.${ip}` pinging `${net}.${peer}`, one NIC per port. */
export function pingingGuest(net: string, ip: number, peer: number, ports: string[], extra: object = {}): Record<string, unknown> {
  const img = guestImage();
  return {
    vcpus: 1,
    memoryMb: 256,
    accel: 'tcg',
    boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append: `console=ttyS0 quiet vhostnet.ip=${net}.${ip}/24 vhostnet.ping=${net}.${peer}` },
    nics: ports.map((port) => ({ port })),
    ...extra,
  };
}

/** Reading GuestVMs' consoles through the agent's API; `client` is called late, once the agent runs. */
export function guestPings(client: () => AgentClient, net: string, defaultMs = 90000) {
  const consoleOf = async (name: string) => (await client().get<{ status: { consoleLog: string } }>(`/guests/${name}`)).status.consoleLog;
  const replies = async (name: string, peer: number) => pingReplies(await consoleOf(name), `${net}.${peer}`);
  const waitReplies = (name: string, peer: number, atLeast: number, ms = defaultMs) =>
    waitFor(`${name} to see ${atLeast} ping replies from .${peer}`, async () => (await replies(name, peer)) >= atLeast, ms, 500);
  return { consoleOf, replies, waitReplies };
}
