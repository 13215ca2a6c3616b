// The agent with the real addon (DPDK librte_vhost, PMD threads) switching between
// dpdk-testpmd guests (net_virtio_user: a real vhost-user frontend).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { TestpmdGuest } from '../helpers/testpmd';

const MAC = ['02:00:00:00:0a:00', '02:00:00:00:0a:01', '02:00:00:00:0a:02', '02:00:00:00:0b:03', '02:00:00:00:0b:04'];
const BRIDGE_OF = ['br0', 'br0', 'br0', 'br1', 'br1'];
const BROADCAST = 'ff:ff:ff:ff:ff:ff';

describe('10 datapath: L2 learning switch between testpmd guests', function () {
  this.timeout(180000);
  let agent: AgentProcess;
  let guest: TestpmdGuest;
  const sock = (i: number) => path.join(agent.dir, `guest-${i}.sock`);
  const portStats = async () => (await agent.client.get<PortState[]>('/ports')).map((p) => p.status!.stats);
  const rxOf = async () => (await guest.counters()).map((c) => c.rxPackets);

  before(async () => {
    agent = await AgentProcess.start({ name: 'switching' });
    // testpmd creates the sockets (the guest's QEMU role): the agent's ports are client ports.
    const starting = TestpmdGuest.start({
      name: `g-switching-${process.pid}`,
      logDir: agent.dir,
      ports: MAC.map((mac, i) => ({ path: path.join(agent.dir, `guest-${i}.sock`), server: true, mac })),
    });
    await agent.client.put('/bridges/br0', {});
    await agent.client.put('/bridges/br1', {});
    for (let i = 0; i < MAC.length; i++)
      await agent.client.put(`/ports/p${i}`, { bridge: BRIDGE_OF[i], type: 'dpdkvhostuserclient', vhostServerPath: sock(i) });
    guest = await starting;
    await waitFor('all five ports up', async () => (await agent.client.get<PortState[]>('/ports')).every((p) => p.status!.link === 'up'), 30000);
  });

  after(async () => {
    await guest?.stop();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('floods a frame to an unknown MAC to every other port of its bridge only', async () => {
    await guest.clearCounters();
    await guest.send(0, MAC[1], 200);
    await guest.settle();
    assert.deepEqual(await rxOf(), [0, 200, 200, 0, 0]);
  });

  it('once MACs are learned, delivers only to the destination port', async () => {
    await guest.send(1, MAC[0], 100); // p0's MAC was learned from the flood above; p1's now
    await guest.settle();
    await guest.clearCounters();
    await guest.send(0, MAC[1], 300);
    await guest.send(2, MAC[0], 50);
    await guest.settle();
    assert.deepEqual(await rxOf(), [50, 300, 0, 0, 0]);
    const fdb = await agent.client.get<{ mac: string; port: string }[]>('/bridges/br0/fdb');
    assert.deepEqual(fdb.map((r) => `${r.mac}@${r.port}`).sort(), [`${MAC[0]}@p0`, `${MAC[1]}@p1`, `${MAC[2]}@p2`]);
  });

  it('keeps two bridges isolated, broadcast included', async () => {
    await guest.clearCounters();
    await guest.send(0, BROADCAST, 100);
    await guest.send(3, BROADCAST, 70);
    await guest.settle();
    assert.deepEqual(await rxOf(), [0, 100, 100, 0, 70]);
    assert.deepEqual((await agent.client.get<{ mac: string }[]>('/bridges/br1/fdb')).map((r) => r.mac).sort(), [MAC[3]]);
  });

  it('counts exactly what testpmd sent and received, per port', async () => {
    const before = await portStats();
    const g0 = await guest.counters();
    await guest.send(4, MAC[3], 400);
    await guest.send(1, MAC[0], 250);
    await guest.settle();
    const after = await portStats();
    const g1 = await guest.counters();
    for (let i = 0; i < MAC.length; i++) {
      assert.equal(after[i].rxPackets - before[i].rxPackets, g1[i].txPackets - g0[i].txPackets, `p${i} rx = guest tx`);
      assert.equal(after[i].txPackets - before[i].txPackets, g1[i].rxPackets - g0[i].rxPackets, `p${i} tx = guest rx`);
      assert.equal(after[i].rxBytes - before[i].rxBytes, g1[i].txBytes - g0[i].txBytes, `p${i} rx bytes = guest tx bytes`);
    }
    assert.equal(after[3].txPackets - before[3].txPackets, 400);
  });

  it('vhostctl show lists the bridges, ports, link state and counters', async () => {
    const r = await agent.vhostctl('show');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Bridge br0\n\s+Port p0\n\s+type: dpdkvhostuserclient/);
    assert.match(r.stdout, /link: up/);
    assert.match(r.stdout, /rx: [\d,]+ pkts/);
    const j = JSON.parse((await agent.vhostctl('--json', 'port', 'stats', 'p3')).stdout);
    assert.equal(j[0].name, 'p3');
    assert.ok(j[0].stats.txPackets >= 400);
    const pmd = JSON.parse((await agent.vhostctl('--json', 'pmd', 'stats')).stdout);
    assert.ok(pmd[0].packets > 0 && pmd[0].rxQueueNames.includes('p0:0'), JSON.stringify(pmd));
  });
});
