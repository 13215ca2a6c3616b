// Reconnect: a testpmd guest's two ports on client ports of the real agent. The agent is
// SIGKILLed and restarted under it (traffic must resume each time, the guest untouched); then
// the guest is restarted and the client ports must reconnect each time.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { TestpmdGuest } from '../helpers/testpmd';
import { killRestartAndProbe, summary } from '../helpers/traffic-resume';

const A = '02:00:00:00:52:00';
const B = '02:00:00:00:52:01';
const AGENT_RESTARTS = 3;
const GUEST_RESTARTS = 5;

describe('52 reliability: reconnect after agent and guest restarts', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  let guest: TestpmdGuest | undefined;
  const sock = (i: number) => path.join(agent.dir, `r${i}.sock`);
  const startGuest = () =>
    TestpmdGuest.start({
      name: `g-reconn-${process.pid}`,
      logDir: agent.dir,
      ports: [
        { path: sock(0), server: true, mac: A },
        { path: sock(1), server: true, mac: B },
      ],
    });
  const waitUp = () => waitFor('r0, r1 up', async () => (await agent.client.get<PortState[]>('/ports')).every((p) => p.status!.link === 'up'), 30000);

  before(async () => {
    agent = await AgentProcess.start({ name: 'reconn' });
    await agent.client.put('/bridges/br0', {});
    const starting = startGuest();
    for (const i of [0, 1]) await agent.client.put(`/ports/r${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock(i) });
    guest = await starting;
    await waitUp();
  });
  let keep = false;
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    keep = true;
    const ports = await agent.client.get<PortState[]>('/ports').catch((e: Error) => e.message);
    console.log(`      kept ${agent.dir}; ports: ${JSON.stringify(ports, ['name', 'status', 'link', 'reason', 'connected'])}`);
  });
  after(async () => {
    await guest?.stop();
    await agent?.stop();
    if (agent && !keep) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it(`kill -9 and restart of the agent ${AGENT_RESTARTS} times: traffic resumes each time, the guest is never restarted`, async () => {
    const g = guest!;
    const pid = g.pid;
    const figures = [];
    for (let i = 0; i < AGENT_RESTARTS; i++) {
      const f = await killRestartAndProbe(agent, g, i % 2, 1 - (i % 2), i % 2 ? A : B);
      figures.push(f);
      await waitUp();
    }
    // After the last restart both directions carry traffic, exactly.
    await g.clearCounters();
    await g.send(0, B, 500);
    await g.send(1, A, 500);
    await g.settle();
    assert.deepEqual(
      (await g.counters()).map((c) => c.rxPackets),
      [500, 500],
    );
    assert.equal(g.pid, pid);
    assert.ok(fs.existsSync(`/proc/${pid}`));
    const t = summary(figures.map((f) => f.resumeMs));
    console.log(
      `      reconnect figure: ${AGENT_RESTARTS} agent kills, traffic resumed ${figures.length}/${AGENT_RESTARTS}; resume median ${t.median} ms, max ${t.max} ms; frames lost per restart ${figures.map((f) => f.lost).join(', ')}; resume ms ${figures.map((f) => `${f.resumeMs} (${f.probes} probes)`).join(', ')}`,
    );
  });

  it(`restart of the guest ${GUEST_RESTARTS} times: the client ports reconnect each time and forward`, async () => {
    const times: number[] = [];
    for (let i = 0; i < GUEST_RESTARTS; i++) {
      await guest!.stop();
      guest = undefined;
      await waitFor('ports down', async () => (await agent.client.get<PortState[]>('/ports')).every((p) => p.status!.link === 'down'), 15000);
      const t0 = Date.now();
      guest = await startGuest(); // resolves only once the agent has connected to both sockets
      await waitUp();
      times.push(Date.now() - t0);
      await guest.send(0, B, 200);
      await guest.send(1, A, 200);
      await guest.settle();
      assert.deepEqual(
        (await guest.counters()).map((c) => c.rxPackets),
        [200, 200],
        `guest restart ${i + 1}`,
      );
    }
    const t = summary(times);
    console.log(
      `      reconnect figure: ${GUEST_RESTARTS} guest restarts, reconnected ${times.length}/${GUEST_RESTARTS}; guest start to both links up median ${t.median} ms, max ${t.max} ms`,
    );
  });
});
