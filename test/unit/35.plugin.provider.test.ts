// The provider plugin's own logic, with the agent's HTTP client stubbed by sinon: the schema it
// answers GetSchema with, the detailed diff it sends, Read from an ID alone, and the provider
// configuration reaching the agent client. The real engine and agent are in test/e2e/35.*.
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';
import * as sinon from 'sinon';
import { AgentClient } from '../../datapath/api';
import { RESOURCES } from '../../plugin/operations';
import { buildSchema } from '../../plugin/schema';
import { VhostnetProvider } from '../../plugin/server';
import * as pb from '@pulumi/pulumi/proto/provider_pb';

const { Struct } = createRequire(require.resolve('@pulumi/pulumi'))('google-protobuf/google/protobuf/struct_pb');
const URN = (type: string, name: string) => `urn:pulumi:dev::proj::vhostnet:index:${type}::${name}`;
const call = <T>(request: T) => ({ request });
/** Calls a provider method and resolves with its answer (or rejects with its gRPC error). */
function invoke<R>(fn: (c: { request: unknown }, cb: (e: unknown, v?: unknown) => void) => unknown, request: unknown): Promise<R> {
  return new Promise((resolve, reject) => fn(call(request), (e, v) => (e ? reject(e) : resolve(v as R))));
}

describe('35 plugin logic (agent client stubbed)', () => {
  afterEach(() => sinon.restore());

  it('the schema has every resource, and each input a description, its default and whether a change replaces', async () => {
    const s = (await buildSchema()) as {
      resources: Record<string, { inputProperties: Record<string, { description?: string; default?: unknown }> }>;
      config: { variables: Record<string, { secret?: boolean }> };
    };
    assert.deepEqual(
      Object.keys(s.resources).sort(),
      Object.keys(RESOURCES)
        .map((n) => `vhostnet:index:${n}`)
        .sort(),
    );
    for (const [token, r] of Object.entries(s.resources))
      for (const [field, p] of Object.entries(r.inputProperties))
        if (field !== 'adopt') assert.match(p.description ?? '', /(Changing it replaces the resource|Changes in place)\.$/, `${token}.${field}`);
    const bridge = s.resources['vhostnet:index:Bridge'].inputProperties;
    assert.match(bridge.name.description!, /Changing it replaces the resource/);
    assert.equal(bridge.macAgingSeconds.default, 300);
    assert.match(bridge.macAgingSeconds.description!, /^Seconds a learned MAC lives without traffic.*From 1 to 86400\. Default: 300\. Changes in place\.$/);
    assert.match(s.resources['vhostnet:index:VhostUserClientPort'].inputProperties.vhostServerPath.description!, /Changing it replaces the resource/);
    assert.equal(s.config.variables.token.secret, true);
  });

  it('diff sends a detailed diff naming the field that forces the replace, and the in-place ones', async () => {
    const p = new VhostnetProvider();
    const req = new pb.DiffRequest();
    req.setUrn(URN('VhostUserClientPort', 'p0'));
    req.setType('vhostnet:index:VhostUserClientPort');
    req.setOlds(Struct.fromJavaScript({ name: 'p0', bridge: 'br0', vhostServerPath: '/tmp/a', queues: 1, version: 3 }));
    req.setNews(Struct.fromJavaScript({ name: 'p0', bridge: 'br0', vhostServerPath: '/tmp/b', queues: 2 }));
    const resp = await invoke<pb.DiffResponse>(p.diff.bind(p) as never, req);
    assert.equal(resp.getChanges(), pb.DiffResponse.DiffChanges.DIFF_SOME);
    assert.deepEqual(resp.getReplacesList(), ['vhostServerPath']);
    assert.equal(resp.getHasdetaileddiff(), true);
    const d: Record<string, number> = {};
    resp.getDetaileddiffMap().forEach((v, k) => (d[k] = v.getKind()));
    assert.deepEqual(d, { vhostServerPath: pb.PropertyDiff.Kind.UPDATE_REPLACE, queues: pb.PropertyDiff.Kind.UPDATE });
    assert.equal(resp.getDeletebeforereplace(), true, 'the replacement keeps the name: the old one goes first');
  });

  it('read adopts from an ID alone, at the configured agent, and keeps the connection out of the state', async () => {
    const p = new VhostnetProvider();
    const conf = new pb.ConfigureRequest();
    conf.getVariablesMap().set('vhostnet:config:endpoint', 'http://127.0.0.1:1');
    conf.getVariablesMap().set('vhostnet:config:token', 'sekrit');
    await invoke(p.configure.bind(p) as never, conf);
    let used: unknown;
    sinon.stub(AgentClient.prototype, 'get').callsFake(function (this: AgentClient) {
      used = this.conn;
      return Promise.resolve({ name: 'br0', macAgingSeconds: 60, owner: 'someone', version: 2, ports: [] });
    });
    const req = new pb.ReadRequest();
    req.setId('br0');
    req.setUrn(URN('Bridge', 'br0'));
    req.setType('vhostnet:index:Bridge');
    const resp = await invoke<pb.ReadResponse>(p.read.bind(p) as never, req);
    assert.deepEqual(used, { endpoint: 'http://127.0.0.1:1', token: 'sekrit', caCert: undefined });
    assert.equal(resp.getId(), 'br0');
    assert.deepEqual(resp.getInputs()!.toJavaScript(), { name: 'br0', macAgingSeconds: 60 });
    assert.deepEqual(resp.getProperties()!.toJavaScript(), { name: 'br0', macAgingSeconds: 60, version: 2 });
  });

  it('read refuses to import a port of another type, naming the resource type to import it as', async () => {
    const p = new VhostnetProvider();
    sinon
      .stub(AgentClient.prototype, 'get')
      .resolves({ name: 'p1', bridge: 'br0', type: 'dpdkvhostuser', queues: 1, mac: '02:00:00:00:00:02', socketPath: '/run/p1', qemuArgs: [], version: 1 });
    const req = new pb.ReadRequest();
    req.setId('p1');
    req.setUrn(URN('VhostUserClientPort', 'p1'));
    req.setType('vhostnet:index:VhostUserClientPort');
    await assert.rejects(invoke(p.read.bind(p) as never, req), (e: { details: string }) => {
      assert.equal(e.details, 'p1 is a dpdkvhostuser port, not dpdkvhostuserclient: import it as vhostnet:index:VhostUserPort');
      return true;
    });
  });

  it('check refuses bad input naming the property, and names an object after its resource', async () => {
    const p = new VhostnetProvider();
    const req = new pb.CheckRequest();
    req.setUrn(URN('Bridge', 'br7'));
    req.setType('vhostnet:index:Bridge');
    req.setName('br7');
    req.setNews(Struct.fromJavaScript({ macAgingSeconds: 0 }));
    const bad = await invoke<pb.CheckResponse>(p.check.bind(p) as never, req);
    assert.deepEqual(
      bad.getFailuresList().map((f) => [f.getProperty(), f.getReason()]),
      [['macAgingSeconds', 'must be at least 1']],
    );
    req.setNews(Struct.fromJavaScript({}));
    const ok = await invoke<pb.CheckResponse>(p.check.bind(p) as never, req);
    assert.equal(ok.getFailuresList().length, 0);
    assert.deepEqual(ok.getInputs()!.toJavaScript(), { name: 'br7' });
  });
});
