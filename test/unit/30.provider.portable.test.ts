// The serialized providers' run-time side (vhostnet/operations) and the preview's reading of the
// agent's dry run: the provider's own logic, no engine, no agent.
import { strict as assert } from 'node:assert';
import * as sinon from 'sinon';
import { AgentClient, SERVER_PORT_DEPRECATION, type ChangeResult } from '../../datapath/api';
import { makeProvider, packageVersion } from '../../provider/load';
import { checkStateVersion, compareVersions, providerOperations } from '../../provider/operations';
import { agentFindings } from '../../provider/preview-check';

const port = { name: 'p0', bridge: 'br0', vhostServerPath: '/tmp/p0.sock', agentEndpoint: 'unix:/tmp/agent.sock', owner: 'proj/stack' };

describe("30 provider: portable state and the preview's findings", () => {
  afterEach(() => sinon.restore());

  it('state from this or an older release loads; from a newer one is refused naming both versions', () => {
    const installed = packageVersion();
    assert.match(installed, /^\d+\.\d+\.\d+/);
    checkStateVersion('0.1.0', installed);
    checkStateVersion(installed, installed);
    assert.throws(
      () => checkStateVersion('99.0.0', installed),
      new RegExp(`written by vhostnet 99\\.0\\.0, newer than the vhostnet ${installed.replace(/\./g, '\\.')} installed.*npm install vhostnet@\\^99\\.0\\.0`),
    );
    assert.throws(() => checkStateVersion('latest', installed), /"latest", which is not a version/);
    assert.ok(compareVersions('0.10.0', '0.9.9') > 0 && compareVersions('1.2.3', '1.2.3') === 0 && compareVersions('0.2.0-rc.1', '0.2.0') === 0);
  });

  it('an unknown kind in the state is a clear error, not a crash', () => {
    assert.throws(() => providerOperations('tunnel', '0.1.0'), /unknown resource kind "tunnel".*written by vhostnet 0\.1\.0/);
  });

  it('a resource whose state names a 0.1.0 provider by path shows as changed, so the next up rewrites it', async () => {
    const ops = providerOperations('clientPort', '0.1.0');
    const legacy = {
      ...port,
      __provider: 'exports.handler = ... require("/runner-a/stack/node_modules/vhostnet/dist/provider/impl.js").diff(kind, olds, news)',
    };
    const r = await ops.diff!('p0', legacy, { ...port });
    assert.equal(r.changes, true);
    assert.deepEqual(r.replaces, [], 'no replacement: only the state changes');
    const portable = await ops.diff!('p0', { ...port, __provider: 'createRequire(...)("vhostnet/operations")' }, { ...port });
    assert.equal(portable.changes, false);
  });

  it('the serialized provider names the package and version, and no path of this machine', async () => {
    const pulumi = await import('@pulumi/pulumi');
    const text = (await pulumi.runtime.serializeFunction(() => makeProvider('bridge'), { isFactoryFunction: true })).text;
    assert.match(text, /vhostnet\/operations/);
    assert.ok(text.includes(JSON.stringify(packageVersion())), 'carries the version');
    assert.ok(!text.includes(__dirname.split('/dist/')[0]), 'no absolute path of the checkout');
  });

  it('the preview shows what the agent says: disruption, restart, its warnings; nothing for an unchanged object', () => {
    const change = (over: object): ChangeResult<unknown> => ({
      dryRun: true,
      changes: [{ op: 'update', kind: 'port', name: 'p0', diff: [], disruptive: false, ...over }],
      warnings: [],
    });
    assert.deepEqual(agentFindings(change({ op: 'replace', disruptive: true, why: "the guest's link drops" })), ["the agent says: the guest's link drops"]);
    assert.deepEqual(agentFindings(change({ kind: 'settings', restartRequired: ['memoryMb'] })), [
      "this change takes effect at the agent's next start (restart required: memoryMb)",
    ]);
    assert.deepEqual(agentFindings({ ...change({}), warnings: ['multiqueue with a single PMD thread', SERVER_PORT_DEPRECATION] }), [
      'the agent says: multiqueue with a single PMD thread',
    ]);
    assert.deepEqual(agentFindings({ ...change({ op: 'none' }), warnings: ['multiqueue with a single PMD thread'] }), []);
  });

  it('the dry run sends what create would (owner included) with dryRun, and changes nothing', async () => {
    const { dryRun } = await import('../../provider/impl');
    const req = sinon.stub(AgentClient.prototype, 'request').resolves({ dryRun: true, changes: [], warnings: [] });
    await dryRun('clientPort', port);
    const [method, path, body] = req.firstCall.args;
    assert.equal(method, 'PUT');
    assert.equal(path, '/ports/p0?dryRun=true');
    assert.deepEqual(body, { name: 'p0', bridge: 'br0', vhostServerPath: '/tmp/p0.sock', type: 'dpdkvhostuserclient', owner: 'proj/stack' });
  });
});
