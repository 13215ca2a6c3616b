// The provider under the real Pulumi engine (Automation API), against the real agent and
// datapath, with testpmd guests on the ports it creates.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VhostUserPortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { E2E_PROGRAM, engineStack, setConfig, type EngineStack } from '../helpers/pulumi-stack';
import { TestpmdGuest } from '../helpers/testpmd';

const MAC0 = '02:00:00:00:0e:00';
const MAC1 = '02:00:00:00:0e:01';

describe('30 provider: pulumi preview / up / refresh / import / destroy with the real engine', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: EngineStack;
  let guest: TestpmdGuest | undefined;
  const sock = (n: string) => path.join(agent.dir, `${n}.sock`);
  const state = () => agent.client.get('/state').then((x) => JSON.stringify(x));
  const ports = (extra: object[] = []) => [
    { name: 'dpdkvhostclient0', bridge: 'br0', path: sock('dpdkvhostclient0') },
    { name: 'dpdkvhostclient1', bridge: 'br0', path: sock('dpdkvhostclient1') },
    ...extra,
  ];
  const configure = (cfg: Record<string, unknown>) =>
    setConfig(s.stack, { 'vhostnet:endpoint': `unix:${agent.socket}`, bridges: [{ name: 'br0' }], ports: ports(), ...cfg });

  before(async () => {
    agent = await AgentProcess.start({ name: 'engine' });
    s = await engineStack('engine', E2E_PROGRAM, {});
    await configure({});
  });
  after(async () => {
    await guest?.stop();
    await agent?.stop();
    await s?.remove();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('preview of a new stack lists the creates and leaves the agent byte-for-byte as it was', async () => {
    const before = await state();
    const r = await s.stack.preview();
    assert.equal(r.changeSummary.create, 4, JSON.stringify(r.changeSummary)); // stack, bridge, 2 ports
    assert.match(r.stdout, /\+\s+.*vhostnet:Bridge\s+br0\s+create/);
    assert.equal(await state(), before);
  });

  it('up creates the bridge and ports, guests pass traffic through them, and a second up changes nothing', async () => {
    const up = await s.stack.up();
    assert.equal(up.summary.resourceChanges?.create, 4);
    assert.equal(up.outputs.sockets.value.dpdkvhostclient0, sock('dpdkvhostclient0'));
    const starting = TestpmdGuest.start({
      name: `g-engine-${process.pid}`,
      logDir: agent.dir,
      ports: [
        { path: sock('dpdkvhostclient0'), server: true, mac: MAC0 },
        { path: sock('dpdkvhostclient1'), server: true, mac: MAC1 },
      ],
    });
    guest = await starting;
    await waitFor('links up', async () => (await agent.client.get<VhostUserPortState[]>('/ports')).every((p) => p.status!.link === 'up'));
    await guest.send(0, MAC1, 100);
    await guest.settle();
    assert.equal((await guest.counters())[1].rxPackets, 100);
    const again = await s.stack.up();
    assert.deepEqual(Object.keys(again.summary.resourceChanges ?? {}), ['same']);
    const pv = await s.stack.preview({ expectNoChanges: true });
    assert.deepEqual(Object.keys(pv.changeSummary), ['same']);
  });

  it('an in-place change updates without dropping the guest link; a replace field replaces, old one first', async () => {
    const before = (await agent.client.get<VhostUserPortState>('/ports/dpdkvhostclient0')).status!.stats.rxPackets;
    await configure({ ports: [{ ...ports()[0], queues: 1, mac: '02:00:00:00:0e:10' }, ports()[1]] });
    const up = await s.stack.up();
    assert.equal(up.summary.resourceChanges?.update, 1, JSON.stringify(up.summary.resourceChanges));
    const p0 = await agent.client.get<VhostUserPortState>('/ports/dpdkvhostclient0');
    assert.equal(p0.mac, '02:00:00:00:0e:10');
    assert.equal(p0.status!.link, 'up');
    assert.equal(p0.status!.stats.rxPackets, before, 'the datapath port was not re-created (its counters carried on)');

    const events: string[] = [];
    await configure({ ports: [{ ...ports()[0], mac: '02:00:00:00:0e:10', path: sock('moved0') }, ports()[1]] });
    const rep = await s.stack.up({
      onEvent: (e) => {
        const m = e.resOutputsEvent?.metadata ?? e.resourcePreEvent?.metadata;
        if (m && m.urn.endsWith('dpdkvhostclient0') && e.resOutputsEvent) events.push(m.op);
      },
    });
    assert.equal(rep.summary.resourceChanges?.replace, 1, JSON.stringify(rep.summary.resourceChanges));
    assert.ok(events.includes('delete-replaced') && events.indexOf('delete-replaced') < events.indexOf('create-replacement'), events.join(','));
    assert.equal((await agent.client.get<VhostUserPortState>('/ports/dpdkvhostclient0')).vhostServerPath, sock('moved0'));
  });

  it('a port deleted with vhostctl is seen by refresh, and the next up restores it', async () => {
    const r = await agent.vhostctl('del-port', 'dpdkvhostclient1');
    assert.equal(r.code, 0, r.stderr);
    const refresh = await s.stack.refresh();
    assert.equal(refresh.summary.resourceChanges?.delete, 1, JSON.stringify(refresh.summary.resourceChanges));
    const up = await s.stack.up();
    assert.equal(up.summary.resourceChanges?.create, 1);
    await waitFor('dpdkvhostclient1 up again', async () => (await agent.client.get<VhostUserPortState>('/ports/dpdkvhostclient1')).status!.link === 'up');
  });

  it('import adopts a port that exists, and destroy leaves the agent as it was before the stack', async () => {
    await guest?.stop();
    guest = undefined;
    const before = await state();
    const r = await agent.vhostctl('add-port', 'br0', 'adopted', '--vhost-server-path', sock('adopted'));
    assert.equal(r.code, 0, r.stderr);
    // Without import, create refuses to take it over.
    await configure({ ports: [...ports(), { name: 'adopted', bridge: 'br0', path: sock('adopted') }] });
    await assert.rejects(s.stack.up(), /already exists.*adopt/s);
    // Declared differently from what exists: refused, naming the field.
    await configure({ ports: [...ports(), { name: 'adopted', bridge: 'br0', path: sock('adopted'), queues: 2, adopt: true }] });
    await assert.rejects(s.stack.up(), /differs from the program in queues/);
    await configure({ ports: [...ports(), { name: 'adopted', bridge: 'br0', path: sock('adopted'), adopt: true }] });
    const up = await s.stack.up();
    assert.equal(up.summary.resourceChanges?.create, 1, JSON.stringify(up.summary.resourceChanges));
    assert.equal((await agent.client.get<VhostUserPortState>('/ports/adopted')).owner, 'vhostnet-e2e/engine');
    await s.stack.destroy();
    const after = JSON.parse(await state());
    assert.deepEqual(after.bridges, []);
    assert.deepEqual(after.ports, []);
    assert.deepEqual(after.settings, JSON.parse(before).settings);
  });

  it('bad input fails in preview with the property named, and nothing on the host changes', async () => {
    const before = await state();
    for (const [port, property] of [
      [{ name: 'a/b', bridge: 'br0', path: sock('x') }, 'name'],
      [{ name: 'mc', bridge: 'br0', path: sock('mc'), mac: '01:00:5e:00:00:01' }, 'mac'],
      [{ name: 'q0', bridge: 'br0', path: sock('q0'), queues: 0 }, 'queues'],
    ] as const) {
      await configure({ ports: [port] });
      await assert.rejects(s.stack.preview(), (e: Error) => {
        // The engine's words for a check failure, naming exactly this property (not a word of the message that happens to contain it).
        assert.match(e.message, new RegExp(`: property ${property} value .* has a problem: `), e.message);
        return true;
      });
      assert.equal(await state(), before);
    }
  });
});

describe('31 provider: the agent token is a secret', function () {
  this.timeout(300000);
  it('is never in the stack state file in plain text', async () => {
    const dir = fs.mkdtempSync('/tmp/vhostnet-token-');
    const token = `tok-${Math.random().toString(36).slice(2)}-${Date.now()}`;
    fs.writeFileSync(path.join(dir, 'token'), token, { mode: 0o600 });
    const port = 17000 + (process.pid % 1000);
    const agent = await AgentProcess.start({ name: 'token', dir, args: ['--listen', `tcp://127.0.0.1:${port}`, '--token-file', path.join(dir, 'token')] });
    const s = await engineStack('token', E2E_PROGRAM, {
      'vhostnet:endpoint': `http://127.0.0.1:${port}`,
      'vhostnet:token': token,
      bridges: [{ name: 'brtok' }],
    });
    try {
      await s.stack.up();
      const text = s.stateFile();
      assert.ok(text.includes('brtok') && text.includes('ciphertext'), 'the state has the bridge and an encrypted secret');
      assert.ok(!text.includes(token), 'token in plain text in the state');
      assert.ok(!fs.readFileSync(path.join(dir, 'agent.log'), 'utf8').includes(token), 'token in the agent log');
      await s.stack.destroy();
    } finally {
      await agent.stop();
      await s.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
