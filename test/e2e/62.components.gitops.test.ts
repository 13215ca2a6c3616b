// examples/gitops with the real Pulumi CLI and a real agent: the review report tells a port's
// socket move (replacement, the guest's link drops) from in-place queue and MAC changes, and the
// drift check catches a port deleted by hand with vhostctl.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess } from '../helpers/agent-process';
import { E2E_PROGRAM, EXAMPLES, engineStack, setConfig, type EngineStack } from '../helpers/pulumi-stack';

describe('62 components: GitOps review report and drift check (examples/gitops)', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: EngineStack;
  const sock = (n: string) => path.join(agent.dir, n);
  const ports = (p0: object = {}, p1: object = {}) => [
    { name: 'p0', bridge: 'br0', path: sock('p0'), ...p0 },
    { name: 'p1', bridge: 'br0', path: sock('p1'), ...p1 },
  ];
  const run = (script: string, ...args: string[]) => {
    const r = spawnSync('bash', [path.join(EXAMPLES, 'gitops', script), 'gitops', ...args], {
      cwd: s.dir,
      env: { ...process.env, ...s.env },
      encoding: 'utf8',
      timeout: 300000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(async () => {
    agent = await AgentProcess.start({ name: 'egitops' });
    s = await engineStack('gitops', E2E_PROGRAM, { 'vhostnet:endpoint': `unix:${agent.socket}`, bridges: [{ name: 'br0' }], ports: ports() });
    await s.stack.up();
  });
  after(async () => {
    await setConfig(s.stack, { ports: ports() }).catch(() => undefined);
    await s?.stack.destroy().catch(() => undefined);
    await agent?.stop();
    await s?.remove();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('queues and mac changes are harmless: exit 0, listed as in-place updates', async () => {
    await setConfig(s.stack, { ports: ports({ mac: '02:00:00:00:62:00' }, { queues: 2 }) });
    const r = run('review.sh');
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /DISRUPTIVE \(0\)\n {2}none/);
    assert.match(r.out, /HARMLESS \(2\)/);
    assert.match(r.out, /update VhostUserClientPort p0 \(mac\): in place; the guest keeps its link/);
    assert.match(r.out, /update VhostUserClientPort p1 \(queues\): in place/);
    // --fail-on any gates on every change.
    assert.equal(run('review.sh', '--fail-on', 'any').code, 1);
  });

  it("a port's vhostServerPath change is disruptive: exit 1, unless --fail-on never", async () => {
    await setConfig(s.stack, { ports: ports({ path: sock('moved0') }, { queues: 2 }) });
    const r = run('review.sh', '--format', 'markdown');
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /### Disruptive \(1\)\n- replace VhostUserClientPort p0 \(vhostServerPath\): the port is re-created: its guest's link drops/);
    assert.match(r.out, /### Harmless \(1\)\n- update VhostUserClientPort p1 \(queues\)/);
    assert.equal(run('review.sh', '--fail-on', 'never').code, 0);
    const bad = run('review.sh', '--fail-on', 'sometimes');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--fail-on: must be disruptive, any or never/);
  });

  it('the drift check passes on a true stack and fails on a port deleted by hand', async () => {
    await setConfig(s.stack, { ports: ports() });
    const clean = run('drift-check.sh');
    assert.equal(clean.code, 0, clean.out + clean.err);
    const del = await agent.vhostctl('del-port', 'p1');
    assert.equal(del.code, 0, del.stderr);
    const drift = run('drift-check.sh');
    assert.notEqual(drift.code, 0, drift.out);
    // The preview says what up would do to fix it: re-create p1 (and nothing else).
    assert.match(drift.out, /\+ pulumi-nodejs:dynamic\/vhostnet:VhostUserClientPort: \(create\)\n\s+\[urn=\S+::p1\]/);
    assert.match(drift.out, /\+ 1 to create\n/);
    assert.match(drift.out + drift.err, /no changes were expected for preview but changes were proposed/);
  });
});
