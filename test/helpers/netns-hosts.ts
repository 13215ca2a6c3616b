// Two "hosts" for tunnel tests and benchmarks: network namespaces vhn-a / vhn-b joined by a veth
// pair (addresses only inside them), each with its own agent (real addon, af_packet underlay) and
// a testpmd guest on a bridge with one client port and one vxlan port.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess } from './agent-process';
import { TestpmdGuest } from './testpmd';

export const NS = ['vhn-a', 'vhn-b'];
export const VETH = ['vhn-va', 'vhn-vb'];
export const IP = ['169.254.200.1', '169.254.200.2'];

export const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const quiet = (...args: string[]) => {
  try {
    sh(...args);
  } catch {
    /* already gone */
  }
};

/** Two namespaces joined by a veth pair, by default MTU 1600 so a 1514-byte frame plus 50 bytes of VXLAN fits. */
export function makeHosts(mtu = 1600): void {
  for (const ns of NS) quiet('ip', 'netns', 'del', ns);
  for (const ns of NS) sh('ip', 'netns', 'add', ns);
  sh('ip', 'link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1]);
  for (let i = 0; i < 2; i++) {
    sh('ip', 'link', 'set', VETH[i], 'netns', NS[i]);
    sh('ip', '-n', NS[i], 'link', 'set', VETH[i], 'mtu', String(mtu));
    sh('ip', '-n', NS[i], 'addr', 'add', `${IP[i]}/24`, 'dev', VETH[i]);
    sh('ip', '-n', NS[i], 'link', 'set', VETH[i], 'up');
    sh('ip', '-n', NS[i], 'link', 'set', 'lo', 'up');
  }
  // fills both kernels' neighbour tables: the agents take the remote MAC from there
  sh('ip', 'netns', 'exec', NS[0], 'busybox', 'ping', '-c', '1', '-W', '2', IP[1]);
}

/** The MAC of namespace i's veth end. */
export const vethMac = (i: number) => sh('ip', '-n', NS[i], '-o', 'link', 'show', VETH[i]).match(/link\/ether ([0-9a-f:]{17})/)![1];

/** A counter of the namespace kernel's /proc/net/snmp, e.g. snmp(1, 'Udp', 'NoPorts'). */
export function snmp(i: number, proto: string, field: string): number {
  const lines = sh('ip', 'netns', 'exec', NS[i], 'cat', '/proc/net/snmp')
    .split('\n')
    .filter((l) => l.startsWith(`${proto}:`));
  const names = lines[0].split(/\s+/);
  return Number(lines[1].split(/\s+/)[names.indexOf(field)]);
}

export function removeHosts(): void {
  for (const ns of NS) quiet('ip', 'netns', 'del', ns); // the veth pair goes with its namespaces
}

export interface Host {
  agent: AgentProcess;
  guest: TestpmdGuest;
}

/** Agent in namespace i, bridge br0 with client port g (testpmd guest, root namespace) and vxlan port vx. */
export async function startHost(i: number, tag: string, opts: { guestMacs: string[]; vni: number }): Promise<Host> {
  const agent = await AgentProcess.start({ name: `${tag}-${'ab'[i]}`, netns: NS[i] });
  try {
    const sock = path.join(agent.dir, 'g.sock');
    const starting = TestpmdGuest.start({
      name: `g-${tag}-${'ab'[i]}-${process.pid}`,
      logDir: agent.dir,
      ports: [{ path: sock, server: true, mac: opts.guestMacs[i] }],
    });
    await agent.client.put('/bridges/br0', {});
    await agent.client.put('/ports/g', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock });
    const guest = await starting;
    await agent.client.put('/ports/vx', { bridge: 'br0', type: 'vxlan', vni: opts.vni, underlay: { iface: VETH[i], localIp: IP[i], remoteIp: IP[1 - i] } });
    return { agent, guest };
  } catch (e) {
    await agent.stop();
    throw e;
  }
}

export async function stopHost(h: Partial<Host> | undefined): Promise<void> {
  await h?.guest?.stop().catch(() => undefined);
  await h?.agent?.stop().catch(() => undefined);
  if (h?.agent) fs.rmSync(h.agent.dir, { recursive: true, force: true });
}
