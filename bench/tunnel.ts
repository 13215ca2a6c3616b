// VXLAN tunnel throughput: two "hosts" (network namespaces vhn-a / vhn-b joined by a veth pair,
// MTU 1600), one agent in each with a testpmd guest on a client port and a vxlan port over the
// veth. Guest A floods guest B's MAC with txonly for --seconds; prints what guest B received per
// second, for 64 B and 1518 B frames (on the wire: 1514 B, testpmd's txpkts excludes the FCS),
// first over the af_packet underlay, then with both tunnels re-made on AF_XDP (underlay.driver),
// each line saying which underlay (and XDP mode) it got. No assertions.
//   bash scripts/with-node.sh node dist/bench/tunnel.js [--seconds 10]
import { parseArgs } from 'node:util';
import type { VxlanPortState } from '../datapath/api';
import { waitFor } from '../test/helpers/agent-process';
import { IP, VETH, makeHosts, removeHosts, startHost, stopHost, type Host } from '../test/helpers/netns-hosts';

const GMAC = ['02:00:00:00:7b:0a', '02:00:00:00:7b:0b'];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
  const secs = Number(values.seconds ?? 10);
  if (!Number.isInteger(secs) || secs < 1 || secs > 600) throw new Error(`--seconds must be a whole number from 1 to 600, got ${values.seconds}`);
  const hosts: Host[] = [];
  try {
    makeHosts();
    for (let i = 0; i < 2; i++) hosts.push(await startHost(i, 'bench-tun', { guestMacs: GMAC, vni: 42 }));
    const agents = hosts.map((h) => h.agent);
    const guests = hosts.map((h) => h.guest);
    for (const a of agents) await waitFor('ports up', async () => (await a.client.ports.list()).every((p) => p.status?.link === 'up'), 30000);
    const [ga, gb] = guests;
    const underlay = async () => {
      const u = (await agents[0].client.get<VxlanPortState>('/ports/vx')).status!.underlay;
      return u.driver === 'af_xdp' ? `af_xdp(${u.xdpMode ?? '?'})` : (u.driver ?? 'af_packet');
    };
    const measure = async () => {
      await gb.send(0, GMAC[0], 1); // A's bridge learns B's MAC behind its tunnel
      await gb.settle();
      const mode = await underlay();
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
        console.log(
          `tunnel agent ${size === 1514 ? 1518 : size} Mpps=${mpps.toFixed(3)} Gbit/s=${((rx * (size + 4) * 8) / dt / 1e9).toFixed(2)} underlay=${mode} (guest A sent ${tx}, guest B received ${rx} in ${dt.toFixed(1)} s)`,
        );
        await ga.clearCounters();
      }
      const vx = await agents[0].client.ports.get('vx');
      console.log(`tunnel A counters (${mode}): ${JSON.stringify(vx.status?.stats)}`);
    };
    await measure();
    // Both ends on AF_XDP: their kernels see no ARP while it holds the veth, so the MACs are given.
    for (let i = 0; i < 2; i++) {
      const u = (await agents[i].client.get<VxlanPortState>('/ports/vx')).status!.underlay;
      await agents[i].client.put('/ports/vx', {
        bridge: 'br0',
        type: 'vxlan',
        vni: 42,
        underlay: { iface: VETH[i], localIp: IP[i], remoteIp: IP[1 - i], remoteMac: u.remoteMac, driver: 'af_xdp' },
      });
    }
    for (const a of agents) await waitFor('tunnels up on af_xdp', async () => (await a.client.get<VxlanPortState>('/ports/vx')).status?.link === 'up', 30000);
    await measure();
  } finally {
    for (const h of hosts) await stopHost(h);
    removeHosts();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
