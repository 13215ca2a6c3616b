// `pulumi preview` asks each host: every resource's change goes to its agent as a dry run, and
// what the agent says shows as warnings on that resource. An agent that cannot be reached is a
// warning naming the endpoint, or an error with vhostnet:previewRequiresAgent. Real engine, real agent.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess } from '../helpers/agent-process';
import { E2E_PROGRAM, engineStack, setConfig, type EngineStack } from '../helpers/pulumi-stack';

describe('38 provider: a preview that asks each host', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: EngineStack;
  const sock = (n: string) => path.join(agent.dir, `${n}.sock`);
  const state = () => agent.client.get('/state').then((x) => JSON.stringify(x));

  before(async () => {
    agent = await AgentProcess.start({ name: 'askhost' });
    s = await engineStack('askhost', E2E_PROGRAM, {});
  });
  after(async () => {
    await agent?.stop();
    await s?.remove();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it("a new stack previews without a word: the ports' bridge is made by the same update", async () => {
    await setConfig(s.stack, {
      'vhostnet:endpoint': `unix:${agent.socket}`,
      bridges: [{ name: 'br0' }],
      ports: [{ name: 'ask0', bridge: 'br0', path: sock('ask0') }],
    });
    const pv = await s.stack.preview();
    assert.equal(pv.changeSummary.create, 3, JSON.stringify(pv.changeSummary));
    assert.doesNotMatch(pv.stdout, /the agent|could not be asked/);
    await s.stack.up();
    const again = await s.stack.preview();
    assert.doesNotMatch(again.stdout, /the agent|could not be asked/, 'an unchanged stack previews silently');
  });

  it("what the agent says shows on the resource: a replace drops the guest's link, a socket another port uses is refused", async () => {
    const r = await agent.vhostctl('add-port', 'br0', 'byhand', '--vhost-server-path', sock('byhand'));
    assert.equal(r.code, 0, r.stderr);
    const before = await state();
    await setConfig(s.stack, {
      ports: [
        { name: 'ask0', bridge: 'br0', path: sock('ask0-moved') },
        { name: 'ask1', bridge: 'br0', path: sock('byhand') },
      ],
    });
    const pv = await s.stack.preview();
    assert.match(
      pv.stdout,
      /vhostnet:VhostUserClientPort \(ask0\):\s+warning: the agent says: changing vhostServerPath re-creates the socket: the guest's link drops until it reconnects/,
    );
    assert.match(
      pv.stdout,
      /vhostnet:VhostUserClientPort \(ask1\):\s+warning: the agent at unix:\S+ would refuse the port ask1 change: vhostServerPath must be a socket no other port uses/,
    );
    assert.equal(await state(), before, 'the preview changed nothing on the host');
  });

  it('an agent that cannot be reached is a warning naming the endpoint and what was not checked', async () => {
    const gone = path.join(agent.dir, 'no-such-agent.sock');
    await setConfig(s.stack, { 'vhostnet:endpoint': `unix:${gone}`, ports: [{ name: 'ask0', bridge: 'br0', path: sock('ask0') }] });
    const pv = await s.stack.preview();
    assert.match(
      pv.stdout,
      new RegExp(
        `warning: vhostnet: the agent at unix:${gone} could not be asked \\(.*\\): the bridge br0 change was not checked against the host \\(collisions with what exists on the host, disruption to connected guests, restart-required settings and the host's resources\\)`,
      ),
    );
    assert.match(pv.stdout, /vhostnet:VhostUserClientPort \(ask0\):\s+warning: vhostnet: the agent at unix:\S+ could not be asked/);
  });

  it('with vhostnet:previewRequiresAgent: true the same preview fails, naming the endpoint', async () => {
    await setConfig(s.stack, { 'vhostnet:previewRequiresAgent': 'true' });
    await assert.rejects(s.stack.preview(), (e: Error) => {
      assert.match(
        e.message,
        /error: vhostnet: the agent at unix:\S+no-such-agent\.sock could not be asked .* vhostnet:previewRequiresAgent is true, so this preview fails/,
      );
      return true;
    });
    // Back to the reachable agent, the stack is checked and cleaned up.
    await setConfig(s.stack, { 'vhostnet:endpoint': `unix:${agent.socket}` });
    const pv = await s.stack.preview();
    assert.doesNotMatch(pv.stdout, /could not be asked/);
    const r = await agent.vhostctl('del-port', 'byhand');
    assert.equal(r.code, 0, r.stderr);
    await s.stack.destroy();
    assert.deepEqual(JSON.parse(await state()).bridges, []);
  });
});
