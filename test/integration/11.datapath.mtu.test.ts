// A port's MTU, enforced by the real datapath between dpdk-testpmd guests (net_virtio_user): a
// frame longer than the egress port's MTU (+ the Ethernet header) is not delivered, and is
// counted under its reason (mtuExceeded) on that port; the MTU changes in place, and the port's
// qemuArgs and status follow it.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VhostUserPortState as PortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { TestpmdGuest } from '../helpers/testpmd';

const MAC = ['02:00:00:00:11:00', '02:00:00:00:11:01'];

describe('11 datapath: a port MTU drops longer frames, counted as mtuExceeded', function () {
  this.timeout(180000);
  let agent: AgentProcess;
  let guest: TestpmdGuest;
  const sock = (i: number) => path.join(agent.dir, `guest-${i}.sock`);
  const port = async (i: number) => await agent.client.get<PortState>(`/ports/p${i}`);

  before(async () => {
    agent = await AgentProcess.start({ name: 'mtu' });
    const starting = TestpmdGuest.start({
      name: `g-mtu-${process.pid}`,
      logDir: agent.dir,
      ports: MAC.map((mac, i) => ({ path: path.join(agent.dir, `guest-${i}.sock`), server: true, mac })),
    });
    await agent.client.put('/bridges/br0', {});
    for (let i = 0; i < MAC.length; i++) await agent.client.put(`/ports/p${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock(i) });
    guest = await starting;
    await waitFor('both ports up', async () => (await agent.client.get<PortState[]>('/ports')).every((p) => p.status!.link === 'up'), 30000);
    // Each side's MAC learned, so the frames below are unicast to the other port.
    await guest.send(0, MAC[1], 10);
    await guest.send(1, MAC[0], 10);
    await guest.settle();
  });

  after(async () => {
    await guest?.stop();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('at the default MTU 1500 a full-size frame (1514 B) is delivered', async () => {
    const p1 = (await port(1)).status!;
    assert.equal(p1.mtu, 1500);
    assert.equal(p1.mtuSource, 'default (1500)');
    await guest.clearCounters();
    await guest.send(0, MAC[1], 100, 1514);
    await guest.settle();
    assert.equal((await guest.counters())[1].rxPackets, 100);
  });

  it('with the port MTU lowered to 1400 in place, 1514 B frames to it are dropped and counted; 1414 B frames pass', async () => {
    const before = await port(1);
    const r = await agent.client.put<{ changes: { op: string; disruptive: boolean }[] }>('/ports/p1', {
      bridge: 'br0',
      type: 'dpdkvhostuserclient',
      vhostServerPath: sock(1),
      mtu: 1400,
    });
    assert.deepEqual(
      r.changes.map((c) => [c.op, c.disruptive]),
      [['update', false]],
    );
    const p1 = await port(1);
    assert.equal(p1.status!.link, 'up', 'the guest stayed connected');
    assert.equal(p1.status!.mtu, 1400);
    assert.equal(p1.status!.mtuSource, 'port mtu');
    assert.ok(
      p1.qemuArgs.some((a) => /^virtio-net-pci,.*,host_mtu=1400$/.test(a)),
      p1.qemuArgs.join(' '),
    );
    const dropped0 = before.status!.stats.drops.mtuExceeded;
    await guest.clearCounters();
    await guest.send(0, MAC[1], 100, 1514);
    await guest.settle();
    assert.equal((await guest.counters())[1].rxPackets, 0, 'no frame longer than the MTU reached the guest');
    const after = (await port(1)).status!.stats;
    assert.equal(after.drops.mtuExceeded - dropped0, 100, 'each one counted under mtuExceeded');
    await guest.send(0, MAC[1], 100, 1414);
    await guest.settle();
    assert.equal((await guest.counters())[1].rxPackets, 100, 'frames of the MTU pass');
    assert.equal((await port(1)).status!.stats.drops.mtuExceeded - dropped0, 100);
    const stats = await agent.vhostctl('port', 'stats', 'p1');
    assert.match(stats.stdout, /mtuExceeded 100/);
  });
});
