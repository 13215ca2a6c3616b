// Events an operator follows: a guest's link going down when its frontend goes away, a GuestVM
// crashing and being restarted, settings waiting for a restart; each with its reason, as a JSON
// log line, from GET /v1/events and from `vhostctl events --follow`.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentError, EventPage, GuestVmState, PortState, VhostnetEvent } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { pingingGuest } from '../helpers/qemu-guest';
import { TestpmdGuest } from '../helpers/testpmd';

const VHOSTCTL = path.resolve(__dirname, '../../datapath/vhostctl/main.js');

describe('81 operations: events with their reasons', function () {
  this.timeout(180000);
  let agent: AgentProcess;
  let guest: TestpmdGuest | undefined;
  const events = async (since = 0) => (await agent.client.get<EventPage>(`/events?since=${since}`)).events;
  const waitEvent = (what: string, pred: (e: VhostnetEvent) => boolean, since = 0) => waitFor(what, async () => (await events(since)).find(pred), 30000, 250);

  before(async () => {
    agent = await AgentProcess.start({ name: 'events' });
    await agent.client.put('/bridges/br0', {});
  });

  after(async () => {
    await guest?.stop();
    await agent.client.delete('/guests/crashy').catch(() => undefined);
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('a port coming up and going down when its guest goes away, with the reason the status gives', async () => {
    const sock = path.join(agent.dir, 'g0.sock');
    const starting = TestpmdGuest.start({
      name: `g-events-${process.pid}`,
      logDir: agent.dir,
      ports: [{ path: sock, server: true, mac: '02:00:00:00:81:00' }],
    });
    await agent.client.put('/ports/p0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock });
    guest = await starting;
    const up = await waitEvent('p0 up', (e) => e.type === 'link' && e.port === 'p0' && e.link === 'up');
    assert.equal(up.type === 'link' && up.bridge, 'br0');
    await guest.stop();
    guest = undefined;
    const down = await waitEvent('p0 down', (e) => e.type === 'link' && e.port === 'p0' && e.link === 'down' && e.id > up.id);
    const status = (await agent.client.get<PortState>('/ports/p0')).status!;
    assert.equal(status.link, 'down');
    assert.equal(down.reason, status.reason, "the event says why, in the status's words");
    assert.ok(down.type === 'link' && down.from === 'up');
    // The same event as a structured log line.
    const lines = fs
      .readFileSync(path.join(agent.dir, 'agent.log'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{"event":'));
    assert.ok(
      lines.map((l) => JSON.parse(l).event).some((e: VhostnetEvent) => e.id === down.id && e.reason === down.reason),
      'logged as JSON',
    );
  });

  it('a GuestVM killed under restartPolicy on-failure: a crash and restart event', async () => {
    const spec = { ...pingingGuest('169.254.81', 1, 2, []), restartPolicy: 'on-failure' };
    await agent.client.put('/guests/crashy', spec);
    const first = await waitFor('crashy running', async () => {
      const g = await agent.client.get<GuestVmState>('/guests/crashy');
      return g.status?.state === 'running' && g.status.pid;
    });
    const mark = (await agent.client.get<EventPage>('/events')).next;
    process.kill(first, 'SIGKILL');
    const restarted = await waitEvent('crashy restarted', (e) => e.type === 'guest' && e.guest === 'crashy' && e.restarts >= 1, mark);
    assert.match(restarted.reason, /restart|crash|killed|signal|exit/i, restarted.reason);
  });

  it('vhostctl events --follow prints a settings change that waits for a restart as it happens', async () => {
    const mark = (await agent.client.get<EventPage>('/events')).next;
    const follow = spawn(process.execPath, [VHOSTCTL, '--endpoint', `unix:${agent.socket}`, 'events', '--follow', '--json', '--since', String(mark)]);
    let out = '';
    follow.stdout.on('data', (d) => (out += d));
    try {
      await new Promise((r) => setTimeout(r, 1000)); // the follower is waiting on its long poll
      const memoryMb = (await agent.client.get<{ memoryMb: number }>('/settings')).memoryMb;
      await agent.client.put('/settings', { memoryMb: memoryMb + 2 });
      const line = await waitFor('the follower printed the event', async () => out.split('\n').find((l) => l.includes('"settings"')), 15000, 200);
      const e = JSON.parse(line) as VhostnetEvent;
      assert.ok(e.type === 'settings' && e.restartRequired.includes('memoryMb'), line);
      assert.match(e.reason, /memoryMb.*next start/);
    } finally {
      follow.kill();
      await agent.client.put('/settings', { memoryMb: (await agent.client.get<{ running: { memoryMb: number } }>('/settings')).running.memoryMb });
    }
  });

  it('a bad ?since or ?wait is refused naming the field', async () => {
    for (const [q, field] of [
      ['since=abc', 'since'],
      ['since=-1', 'since'],
      ['wait=61', 'wait'],
    ] as const)
      await assert.rejects(agent.client.get(`/events?${q}`), (e: AgentError) => e.status === 400 && e.issues.some((i) => i.field === field));
  });
});
