// VXLAN tunnel throughput: two "hosts" (network namespaces vhn-a / vhn-b joined by a veth pair,
// MTU 1600), one agent in each with a testpmd guest on a client port and a vxlan port over the
// veth. Guest A floods guest B's MAC with txonly for --seconds; prints what guest B received per
// second, for 64 B and 1518 B frames (on the wire: 1514 B, testpmd's txpkts excludes the FCS).
// No assertions.
//   bash scripts/with-node.sh node dist/bench/tunnel.js [--seconds 10]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { AgentProcess, waitFor } from '../test/helpers/agent-process';
import { TestpmdGuest } from '../test/helpers/testpmd';

const NS = ['vhn-a', 'vhn-b'];
const VETH = ['vhn-va', 'vhn-vb'];
const IP = ['169.254.200.1', '169.254.200.2'];
const GMAC = ['02:00:00:00:7b:0a', '02:00:00:00:7b:0b'];

const sh = (...a: string[]) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const quiet = (...a: string[]) => {
  try {
    sh(...a);
  } catch {
    /* absent */
  }
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
  const secs = Number(values.seconds ?? 10);
  if (!Number.isInteger(secs) || secs < 1 || secs > 600) throw new Error(`--seconds must be a whole number from 1 to 600, got ${values.seconds}`);
  for (const ns of NS) quiet('ip', 'netns', 'del', ns);
  const agents: AgentProcess[] = [];
  const guests: TestpmdGuest[] = [];
  try {
    for (const ns of NS) sh('ip', 'netns', 'add', ns);
    sh('ip', 'link', 'add', VETH[0], 'type', 'veth', 'peer', 'name', VETH[1]);
    for (let i = 0; i < 2; i++) {
      sh('ip', 'link', 'set', VETH[i], 'netns', NS[i]);
      sh('ip', '-n', NS[i], 'link', 'set', VETH[i], 'mtu', '1600');
      sh('ip', '-n', NS[i], 'addr', 'add', `${IP[i]}/24`, 'dev', VETH[i]);
      sh('ip', '-n', NS[i], 'link', 'set', VETH[i], 'up');
    }
    const mac = (i: number) => sh('ip', '-n', NS[i], '-o', 'link', 'show', VETH[i]).match(/link\/ether ([0-9a-f:]{17})/)![1];
    for (let i = 0; i < 2; i++) {
      const agent = await AgentProcess.start({ name: `bench-tun-${'ab'[i]}`, netns: NS[i] });
      agents.push(agent);
      const sock = path.join(agent.dir, 'g.sock');
      const starting = TestpmdGuest.start({ name: `g-bench-tun-${'ab'[i]}-${process.pid}`, logDir: agent.dir, ports: [{ path: sock, server: true, mac: GMAC[i] }] });
      await agent.client.put('/bridges/br0', {});
      await agent.client.put('/ports/g', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock });
      guests.push(await starting);
      await agent.client.put('/ports/vx', { bridge: 'br0', type: 'vxlan', vni: 42, underlay: { iface: VETH[i], localIp: IP[i], remoteIp: IP[1 - i], remoteMac: mac(1 - i) } });
    }
    for (const a of agents)
      await waitFor('ports up', async () => (await a.client.get<{ status?: { link: string } }[]>('/ports')).every((p) => p.status?.link === 'up'), 30000);
    const [ga, gb] = guests;
    await gb.send(0, GMAC[0], 1); // A's bridge learns B's MAC behind its tunnel
    await gb.settle();
    for (const size of [64, 1514]) {
      await gb.clearCounters();
      await ga.cmd(`set eth-peer 0 ${GMAC[1]}`);
      await ga.cmd(`set txpkts ${size}`);
      await ga.startForwarding('txonly');
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, secs * 1000));
      const rx = (await gb.counters())[0].rxPackets;
      const dt = (Date.now() - t0) / 1000;
      await ga.stopForwarding();
      const tx = (await ga.counters())[0].txPackets;
      const mpps = rx / dt / 1e6;
      console.log(`tunnel vxlan ${size === 1514 ? 1518 : size} Mpps=${mpps.toFixed(3)} Gbit/s=${((rx * (size + 4) * 8) / dt / 1e9).toFixed(2)} (guest A sent ${tx}, guest B received ${rx} in ${dt.toFixed(1)} s)`);
      await ga.clearCounters();
    }
    const vx = await agents[0].client.get<{ status: { stats: object } }>('/ports/vx');
    console.log(`tunnel A counters: ${JSON.stringify(vx.status.stats)}`);
  } finally {
    for (const g of guests) await g.stop().catch(() => undefined);
    for (const a of agents) {
      await a.stop().catch(() => undefined);
      fs.rmSync(a.dir, { recursive: true, force: true });
    }
    for (const ns of NS) quiet('ip', 'netns', 'del', ns);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
