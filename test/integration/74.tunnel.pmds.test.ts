// A tunnel's underlay with two PMDs: the datapath opens one underlay queue pair per PMD and each
// PMD polls its own, so receiving is spread over them. Host B's agent runs two PMDs; its af_packet
// underlay's sockets form one fanout group that the kernel splits by the outer flow hash, and the
// outer UDP source port follows the inner flow (RFC 7348), so several inner flows use both queues.
import { strict as assert } from 'node:assert';
import type { PmdState, VxlanPortState } from '../../datapath/api';
import { RETRY_MS } from '../../datapath/agent/control/ports';
import { waitFor } from '../helpers/agent-process';
import { IP, NS, makeHosts, removeHosts, sh, startHost, stopHost, type Host } from '../helpers/netns-hosts';

const GMAC = ['02:00:00:00:74:0a', '02:00:00:00:74:0b'];
const VNI = 7400;

describe('74 tunnel: the underlay of an agent with two PMDs', function () {
  this.timeout(180000);
  const hosts: Partial<Host>[] = [];
  const allUp = async (h: Partial<Host>) => (await h.agent!.client.get<{ status?: { link: string } }[]>('/ports')).every((p) => p.status?.link === 'up');

  before(async () => {
    makeHosts();
    for (let i = 0; i < 2; i++) hosts.push(await startHost(i, 'pmds', { guestMacs: GMAC, vni: VNI }));
    for (const h of hosts) await waitFor('tunnel and guest ports up', async () => allUp(h), 30000);
  });

  after(async () => {
    for (const h of hosts) await stopHost(h);
    removeHosts();
  });

  it('restarted with two PMDs while its next hop is unresolved, the tunnel is down saying so, and comes up once the host resolves it', async () => {
    const cb = hosts[1].agent!.client;
    // pmdCpus takes effect at the next start; B's kernel forgets A's MAC meanwhile
    await cb.put('/settings', { pmdCpus: [0, 1] });
    sh('ip', '-n', NS[1], 'neigh', 'flush', 'all');
    await hosts[1].agent!.restart();
    const down = (await cb.get<VxlanPortState>('/ports/vx')).status!;
    assert.equal(down.link, 'down');
    assert.match(down.reason ?? '', /no neighbour entry for 169\.254\.200\.1 on vhn-vb/);
    sh('ip', 'netns', 'exec', NS[1], 'busybox', 'ping', '-c', '1', '-W', '2', IP[0]);
    const t0 = Date.now();
    await waitFor('the tunnel retried and up', async () => allUp(hosts[1]), RETRY_MS * 3);
    console.log(`      tunnel B up ${Date.now() - t0} ms after its next hop resolved (retried every ${RETRY_MS} ms)`);
  });

  it('each PMD polls its own underlay queue, and frames of eight flows arrive on both, all counted', async () => {
    const cb = hosts[1].agent!.client;
    const pmds = await cb.get<PmdState[]>('/pmd');
    assert.equal(pmds.length, 2, JSON.stringify(pmds));
    assert.deepEqual(
      pmds.map((p) => p.rxQueueNames.filter((q) => q.startsWith('vx:')).join(',')).sort(),
      ['vx:0', 'vx:1'],
      JSON.stringify(pmds.map((p) => p.rxQueueNames)),
    );
    const [a, b] = [hosts[0].guest!, hosts[1].guest!];
    const before = (await cb.get<VxlanPortState>('/ports/vx')).status!;
    await b.clearCounters();
    // eight destinations nobody has: A floods each into the tunnel, each with its own outer port
    const N = 100;
    for (let i = 0; i < 8; i++) await a.send(0, `02:00:00:00:74:${(0x10 + i).toString(16)}`, N);
    await a.settle();
    await waitFor(`guest B to count ${8 * N}`, async () => (await b.counters())[0].rxPackets >= 8 * N, 10000);
    await b.settle();
    assert.equal((await b.counters())[0].rxPackets, 8 * N);
    const after = (await cb.get<VxlanPortState>('/ports/vx')).status!;
    const perQueue = after.queues.map((q, i) => q.rxPackets - (before.queues[i]?.rxPackets ?? 0));
    assert.equal(perQueue.length, 2, JSON.stringify(after.queues));
    assert.equal(
      perQueue.reduce((x, y) => x + y, 0),
      8 * N,
      `per queue ${JSON.stringify(perQueue)}`,
    );
    assert.ok(
      perQueue.every((n) => n > 0),
      `both underlay queues received: ${JSON.stringify(perQueue)}`,
    );
    console.log(`      tunnel B's underlay queues received ${perQueue.join(' + ')} frames`);
  });
});
