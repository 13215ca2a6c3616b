// Concurrent writers on the real agent: with the same expectedVersion exactly one wins and the
// other gets 409; an object another owner manages is refused unless adopted on purpose.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentClient, AgentError, type ChangeResult, type VhostUserPortState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';

describe('55 reliability: concurrent writers and owners', function () {
  this.timeout(120000);
  let agent: AgentProcess;
  before(async () => {
    agent = await AgentProcess.start({ name: 'concur' });
    await agent.client.put('/bridges/br0', {});
  });
  after(async () => {
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('two clients changing one port with the same expectedVersion: exactly one wins, the other gets 409 (50 rounds)', async () => {
    const one = new AgentClient({ endpoint: `unix:${agent.socket}` });
    const two = new AgentClient({ endpoint: `unix:${agent.socket}` });
    const spec = (queues: number) => ({ bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, 'c0.sock'), queues });
    await one.put('/ports/c0', spec(1));
    let conflicts = 0;
    for (let round = 0; round < 50; round++) {
      const v = (await one.get<VhostUserPortState>('/ports/c0')).version;
      // Different changes, so neither is a no-op; the body and the query forms alternate.
      const q = round % 2 ? `?expectedVersion=${v}` : '';
      const body = (n: number) => (round % 2 ? spec(n) : { ...spec(n), expectedVersion: v });
      const results = await Promise.allSettled([
        one.put<ChangeResult<VhostUserPortState>>('/ports/c0', body(2 + (round % 7)), q),
        two.put<ChangeResult<VhostUserPortState>>('/ports/c0', body(10 + (round % 5)), q),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `round ${round}: ${results.map((r) => r.status).join(', ')}`);
      assert.equal((lost[0].reason as AgentError).status, 409);
      assert.equal((lost[0].reason as AgentError).issues[0].field, 'expectedVersion');
      const now = await one.get<VhostUserPortState>('/ports/c0');
      assert.equal(now.version, v + 1);
      assert.equal(now.queues, (won[0] as PromiseFulfilledResult<ChangeResult<VhostUserPortState>>).value.object!.queues);
      conflicts++;
    }
    console.log(`      concurrency figure: ${conflicts} races, ${conflicts} exactly-one-winner, ${conflicts} 409s`);
  });

  it('an object owned by A is refused to B without ?adopt=true, taken over with it', async () => {
    await agent.client.put('/bridges/owned', { owner: 'urn:stack-a' });
    const before = JSON.stringify(await agent.client.get('/state'));
    await assert.rejects(agent.client.put('/bridges/owned', { owner: 'urn:stack-b', macAgingSeconds: 30 }), (e: AgentError) => {
      assert.equal(e.status, 409);
      assert.equal(e.issues[0].field, 'owner');
      return true;
    });
    await assert.rejects(agent.client.put('/bridges/owned', { owner: 'urn:stack-b' }, '?adopt=false'), (e: AgentError) => e.status === 409);
    assert.equal(JSON.stringify(await agent.client.get('/state')), before);
    const r = await agent.client.put<ChangeResult<{ owner: string; macAgingSeconds: number }>>(
      '/bridges/owned',
      { owner: 'urn:stack-b', macAgingSeconds: 30 },
      '?adopt=true',
    );
    assert.equal(r.object!.owner, 'urn:stack-b');
    await assert.rejects(agent.client.put('/bridges/owned', { owner: 'urn:stack-a' }), (e: AgentError) => e.status === 409, 'A lost it');
    // Ports too.
    await agent.client.put('/ports/op0', { bridge: 'br0', type: 'dpdkvhostuser', owner: 'urn:stack-a' });
    await assert.rejects(
      agent.client.put('/ports/op0', { bridge: 'br0', type: 'dpdkvhostuser', owner: 'urn:stack-b' }),
      (e: AgentError) => e.status === 409 && e.issues[0].field === 'owner',
    );
    await agent.client.put('/ports/op0', { bridge: 'br0', type: 'dpdkvhostuser', owner: 'urn:stack-b' }, '?adopt=true');
  });
});
