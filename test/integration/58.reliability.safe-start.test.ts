// Stored settings the host checks pass but DPDK's EAL refuses at start (issue 13): the EAL cannot
// start twice in one process, so the agent re-executes itself (same pid) and starts with the last
// settings that worked, serving the API and saying why in the settings, the events and vhostctl show.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Store } from '../../datapath/agent/store';
import { hugepageMemory } from '../../datapath/agent/host';
import { AgentProcess } from '../helpers/agent-process';

describe('58 reliability: a start the EAL refuses falls back on the last good settings (real agent, real DPDK)', function () {
  this.timeout(180000);
  let agent: AgentProcess;
  // A hugepage file of the agent's prefix, as a killed agent leaves: the check counts its size as
  // coming back to the EAL, but it is sparse (ftruncate allocates no page), so nothing comes back.
  const planted = '/dev/hugepages/vhn-safe58map_0';

  before(async () => {
    agent = await AgentProcess.start({ name: 'safe58', dir: fs.mkdtempSync('/tmp/vhostnet-safe58-') });
  });
  after(async () => {
    fs.rmSync(planted, { force: true });
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('memoryMb the check let through but the EAL cannot get: same pid, last good settings, refused with the EAL error', async () => {
    await agent.client.settings.put({ memoryMb: 128 });
    await agent.stop();
    await agent.launch();
    const good = (await agent.client.settings.get()).running;
    assert.equal(good.memoryMb, 128);
    assert.equal(good.refused, undefined);
    await agent.stop();

    const freeMb = hugepageMemory().freeMb;
    const fd = fs.openSync(planted, 'w');
    fs.ftruncateSync(fd, 2048 * 1024 * 1024);
    fs.closeSync(fd);
    const asked = freeMb + 1024;
    const store = new Store(path.join(agent.dir, 'state'), { log: () => {} });
    const cur = store.get<Record<string, unknown>>('settings', 'global')!.spec;
    store.put('settings', 'global', { ...cur, hugepages: 'on', memoryMb: asked });
    store.close();

    await agent.launch();
    const pid = agent.proc!.pid;
    const s = await agent.client.settings.get();
    assert.equal(s.memoryMb, asked, 'the refused settings stay stored');
    assert.equal(s.running.memoryMb, 128);
    assert.equal(s.running.hugepages, good.hugepages);
    assert.deepEqual(s.running.pmdCpus, good.pmdCpus);
    assert.deepEqual(
      s.running.refused!.map((r) => r.field),
      ['memoryMb', 'hugepages'].filter((f) => f !== 'hugepages' || cur.hugepages !== 'on'),
    );
    for (const r of s.running.refused!)
      assert.match(
        r.rule,
        /^the datapath could not start with the stored settings \(init: rte_eal_init failed: .*\); the last settings the datapath started with are used$/,
      );
    assert.equal((await agent.client.health()).pid, pid, 'the agent re-executed itself in place: the pid file stays right');
    const events = (await agent.client.events(0)).events.filter((e) => e.type === 'settings').map((e) => (e as { reason: string }).reason);
    assert.ok(
      events.some((r) =>
        /^stored memoryMb refused at start: memoryMb the datapath could not start with the stored settings \(init: rte_eal_init failed/.test(r),
      ),
      `events: ${JSON.stringify(events)}`,
    );
    const shown = await agent.vhostctl('show');
    assert.match(shown.stdout, /refused at start: memoryMb the datapath could not start with the stored settings \(init: rte_eal_init failed/);
    assert.match(fs.readFileSync(path.join(agent.dir, 'agent.log'), 'utf8'), /starting again with the last settings that worked/);

    // The API that can undo them is there; the next start takes what is stored, with nothing refused.
    await agent.client.settings.put({ hugepages: cur.hugepages as 'auto', memoryMb: 128 });
    fs.rmSync(planted, { force: true }); // the EAL that started clears unused hugepage files itself
    await agent.stop();
    await agent.launch();
    assert.equal((await agent.client.settings.get()).running.refused, undefined);
  });
});
