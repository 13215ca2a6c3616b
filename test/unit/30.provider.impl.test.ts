// The provider's own logic, with the agent's HTTP client stubbed by sinon: what it asks the
// agent and what it refuses. The real engine and agent are in test/e2e.
import { strict as assert } from 'node:assert';
import * as sinon from 'sinon';
import { AgentClient, AgentError } from '../../datapath/api';
import * as impl from '../../provider/impl';

const port = { name: 'p0', bridge: 'br0', vhostServerPath: '/tmp/p0.sock', agentEndpoint: 'unix:/tmp/agent.sock', owner: 'proj/stack' };
const live = { ...port, type: 'dpdkvhostuserclient', queues: 1, mac: '02:00:00:00:00:01', socketPath: '/tmp/p0.sock', qemuArgs: [], version: 3 };
const notFound = () => Promise.reject(new AgentError(404, 'not_found', 'port p0 does not exist'));

describe('30 provider logic (agent client stubbed)', () => {
  afterEach(() => sinon.restore());

  it('check refuses bad input naming the property, without calling the agent', async () => {
    const put = sinon.stub(AgentClient.prototype, 'put');
    const r = await impl.check('clientPort', { ...port, name: 'a/b', queues: 0 });
    assert.deepEqual([...new Set(r.failures!.map((f) => f.property))].sort(), ['name', 'queues']);
    assert.ok(r.failures!.some((f) => f.property === 'name' && /'\/'/.test(f.reason)));
    assert.equal(put.callCount, 0);
  });

  it('create refuses to take over an object that exists, unless adopt is set', async () => {
    sinon.stub(AgentClient.prototype, 'get').resolves(live);
    const put = sinon.stub(AgentClient.prototype, 'put').resolves({ object: live });
    await assert.rejects(impl.create('clientPort', port), /already exists: set adopt: true/);
    assert.equal(put.callCount, 0);
    await impl.create('clientPort', { ...port, adopt: true });
    assert.equal(put.firstCall.args[2], '?adopt=true');
  });

  it('adopting names every field where the live object differs from the program', async () => {
    sinon.stub(AgentClient.prototype, 'get').resolves({ ...live, queues: 2, bridge: 'br9' });
    const put = sinon.stub(AgentClient.prototype, 'put');
    await assert.rejects(
      impl.create('clientPort', { ...port, adopt: true }),
      /differs from the program in bridge \(live "br9", declared "br0"\), queues \(live 2, declared 1\)/,
    );
    assert.equal(put.callCount, 0);
  });

  it('update sends the version it last read, so a change made meanwhile is a conflict, not overwritten', async () => {
    const put = sinon.stub(AgentClient.prototype, 'put').resolves({ object: { ...live, version: 4 } });
    const r = await impl.update('clientPort', { ...port, version: 3 }, { ...port, queues: 2 });
    const body = put.firstCall.args[1] as { expectedVersion: number; queues: number };
    assert.equal(body.expectedVersion, 3);
    assert.equal(body.queues, 2);
    assert.equal(r.outs!.version, 4);
  });

  it('diff: an in-place field updates, a replace field replaces old-first, a default left out is no change', async () => {
    const same = await impl.diff('clientPort', { ...port, queues: 1 }, port);
    assert.deepEqual(
      { ...same, stables: [...same.stables!].sort() },
      { changes: false, replaces: [], deleteBeforeReplace: false, stables: ['bridge', 'name', 'queues', 'type', 'vhostServerPath'] },
    );
    assert.equal((await impl.diff('clientPort', port, { ...port, queues: 2 })).replaces!.length, 0);
    const moved = await impl.diff('clientPort', port, { ...port, vhostServerPath: '/tmp/other.sock' });
    assert.deepEqual(moved.replaces, ['vhostServerPath']);
    assert.equal(moved.deleteBeforeReplace, true, 'same name: the old port must go first');
  });

  it('read of an object deleted by hand returns no id (refresh drops it); delete tolerates it', async () => {
    sinon.stub(AgentClient.prototype, 'get').callsFake(notFound);
    sinon.stub(AgentClient.prototype, 'delete').callsFake(notFound);
    assert.deepEqual(await impl.read('clientPort', 'p0', port), {});
    await impl.remove('clientPort', port);
  });

  it('settings: destroy gives back what create found', async () => {
    const found = { vhostSockDir: '.', vhostIommuSupport: false, pmdCpus: [], memoryMb: 256, hugepages: 'auto', pmdMaxSleepUs: 200 };
    sinon.stub(AgentClient.prototype, 'get').resolves({ ...found, version: 0 });
    const put = sinon.stub(AgentClient.prototype, 'put').resolves({ object: { version: 1, restartRequired: ['vhostIommuSupport'] } });
    const c = await impl.create('settings', { vhostIommuSupport: true });
    assert.deepEqual(c.outs!.foundSettings, found);
    await impl.remove('settings', c.outs!);
    assert.deepEqual(put.lastCall.args[1], found);
  });
});
