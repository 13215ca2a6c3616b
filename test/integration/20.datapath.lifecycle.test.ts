// Port life cycle on the real datapath: sockets that appear late, an agent killed with
// SIGKILL mid-traffic, multiqueue guests, and bad input that must change nothing.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentError, type VhostUserPortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { TestpmdGuest } from '../helpers/testpmd';

const A = '02:00:00:00:0c:00';
const B = '02:00:00:00:0c:01';

describe('20 datapath: port life cycle', function () {
  this.timeout(240000);
  let agent: AgentProcess;
  const guests: TestpmdGuest[] = [];
  const linkOf = async (name: string) => (await agent.client.get<VhostUserPortState>(`/ports/${name}`)).status!;
  const waitUp = (...names: string[]) =>
    waitFor(`${names.join(', ')} up`, async () => (await Promise.all(names.map(linkOf))).every((s) => s.link === 'up'), 30000);
  const clientPort = (bridge: string, file: string, extra: object = {}) => ({
    bridge,
    type: 'dpdkvhostuserclient',
    vhostServerPath: path.join(agent.dir, file),
    ...extra,
  });

  before(async () => {
    agent = await AgentProcess.start({ name: 'lifecycle' });
    await agent.client.put('/bridges/br0', {});
  });
  after(async () => {
    for (const g of guests) await g.stop();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('a client port declared before its socket exists says why it is down, then comes up when the socket appears', async () => {
    await agent.client.put('/ports/late0', clientPort('br0', 'late0.sock'));
    await agent.client.put('/ports/late1', clientPort('br0', 'late1.sock'));
    const s = await linkOf('late0');
    assert.equal(s.link, 'down');
    assert.match(s.reason!, /socket missing/);
    await new Promise((r) => setTimeout(r, 1500)); // the socket really is late
    const g = await Promise.all([
      TestpmdGuest.start({
        name: `g-late-${process.pid}`,
        logDir: agent.dir,
        ports: [
          { path: path.join(agent.dir, 'late0.sock'), server: true, mac: A },
          { path: path.join(agent.dir, 'late1.sock'), server: true, mac: B },
        ],
      }),
    ]).then(([x]) => x);
    guests.push(g);
    await waitUp('late0', 'late1');
    await g.send(0, B, 100);
    await g.settle();
    assert.equal((await g.counters())[1].rxPackets, 100);
  });

  it('SIGKILL of the agent during traffic, then a restart: every port is restored and traffic resumes without touching the guest', async () => {
    const g = guests[0];
    const stateBefore = JSON.stringify(await agent.client.get('/state'));
    await g.startForwarding('txonly'); // both ports transmit while the agent dies
    await new Promise((r) => setTimeout(r, 500));
    await agent.kill('SIGKILL');
    await g.stopForwarding();
    await g.startForwarding('rxonly');
    await agent.launch();
    assert.equal(JSON.stringify(await agent.client.get('/state')), stateBefore, 'configuration after restart');
    await waitUp('late0', 'late1');
    await g.settle();
    await g.clearCounters();
    await g.send(1, A, 200);
    await g.settle();
    assert.deepEqual(
      (await g.counters()).map((c) => c.rxPackets),
      [200, 0],
    );
    assert.ok(fs.existsSync(`/proc/${g.pid}`), 'the guest was never restarted');
  });

  it('a multiqueue guest (queues=2) passes traffic on both queue pairs', async () => {
    await agent.client.put('/bridges/brmq', {});
    const starting = TestpmdGuest.start({
      name: `g-mq-${process.pid}`,
      logDir: agent.dir,
      ports: [
        { path: path.join(agent.dir, 'mq0.sock'), server: true, mac: A, queues: 2 },
        { path: path.join(agent.dir, 'mq1.sock'), server: true, mac: B, queues: 2 },
      ],
    });
    const r = await agent.client.put<{ warnings: string[] }>('/ports/mq0', clientPort('brmq', 'mq0.sock', { queues: 2 }));
    assert.ok(
      r.warnings.some((w) => /single PMD/.test(w)),
      'multiqueue with one PMD warns',
    );
    await agent.client.put('/ports/mq1', clientPort('brmq', 'mq1.sock', { queues: 2 }));
    const g = await starting;
    guests.push(g);
    await waitUp('mq0', 'mq1');
    const s = await linkOf('mq0');
    assert.equal(s.queuePairs, 2);
    assert.ok(s.features.negotiatedNames.includes('mq'));
    await g.send(1, A, 100); // learn B behind mq1
    await g.settle();
    await g.send(0, B, 1000);
    await g.settle();
    const q = (await linkOf('mq0')).queues;
    assert.deepEqual(
      q.map((x) => x.rxPackets),
      [500, 500],
      "the agent received on both of the guest's queues",
    );
    const gc = await g.counters();
    assert.equal(gc[1].rxPackets, 1000);
  });

  it('refuses a server-port name containing "/" and changes nothing', async () => {
    const before = JSON.stringify(await agent.client.get('/state'));
    await assert.rejects(agent.client.put(`/ports/${encodeURIComponent('../escape')}`, { bridge: 'br0', type: 'dpdkvhostuser' }), (e: AgentError) => {
      assert.equal(e.status, 400);
      assert.equal(e.issues[0].field, 'name');
      return true;
    });
    const r = await agent.vhostctl('add-port', 'br0', 'a/b', '--type', 'dpdkvhostuser');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /name must not contain '\/'/);
    assert.equal(JSON.stringify(await agent.client.get('/state')), before);
    assert.deepEqual(fs.readdirSync(agent.runDir).sort(), ['agent.sock']);
  });

  it('a deprecated server port creates its socket in the run dir, mode 0600, and a guest connects to it', async () => {
    const r = await agent.client.put<{ warnings: string[]; object: VhostUserPortState }>('/ports/srv0', { bridge: 'br0', type: 'dpdkvhostuser' });
    assert.match(r.warnings[0], /deprecated/);
    assert.equal(r.object.socketPath, path.join(agent.runDir, 'srv0'));
    assert.equal(fs.statSync(r.object.socketPath).mode & 0o777, 0o600);
    const g = await TestpmdGuest.start({
      name: `g-srv-${process.pid}`,
      logDir: agent.dir,
      ports: [{ path: r.object.socketPath, server: false, mac: '02:00:00:00:0c:09' }],
    });
    guests.push(g);
    await waitUp('srv0');
  });
});
