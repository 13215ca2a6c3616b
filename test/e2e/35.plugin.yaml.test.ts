// The provider plugin pulumi-resource-vhostnet under the real engine, driven by the guide's quick
// example as a Pulumi YAML program (pulumi-language-yaml), against the real agent and datapath.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import type { EngineEvent } from '@pulumi/pulumi/automation';
import type { BridgeState, VhostUserPortState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';
import { YAML_EXAMPLE, yamlStack, type PluginStack } from '../helpers/plugin-stack';

describe('35 plugin: the quick example in Pulumi YAML: up, preview, refresh, replace, destroy', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: PluginStack;

  before(async () => {
    agent = await AgentProcess.start({ name: 'yaml' });
    s = await yamlStack('yaml', YAML_EXAMPLE, { 'vhostnet:endpoint': `unix:${agent.socket}`, socketDir: agent.dir });
  });
  after(async () => {
    await agent?.stop();
    await s?.remove();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('up creates br0 and both client ports on the agent, and a preview then has no changes', async () => {
    const up = await s.stack.up();
    assert.equal(up.outputs.bridge.value, 'br0');
    assert.deepEqual(up.outputs.sockets.value, [`${agent.dir}/dpdkvhostclient0`, `${agent.dir}/dpdkvhostclient1`]);
    const ports = await agent.client.get<VhostUserPortState[]>('/ports');
    assert.deepEqual(ports.map((p) => [p.name, p.bridge, p.type, p.type === 'dpdkvhostuserclient' ? p.vhostServerPath : undefined]).sort(), [
      ['dpdkvhostclient0', 'br0', 'dpdkvhostuserclient', `${agent.dir}/dpdkvhostclient0`],
      ['dpdkvhostclient1', 'br0', 'dpdkvhostuserclient', `${agent.dir}/dpdkvhostclient1`],
    ]);
    assert.equal((await agent.client.get<BridgeState>('/bridges/br0')).owner, 'vhostnet-quickstart-yaml/yaml');
    const pv = await s.stack.preview({ expectNoChanges: true });
    assert.deepEqual(Object.keys(pv.changeSummary), ['same'], JSON.stringify(pv.changeSummary));
  });

  it('refresh shows a change made with vhostctl, and the next preview would put it back', async () => {
    const r = await agent.vhostctl('add-br', 'br0', '--mac-aging', '60');
    assert.equal(r.code, 0, r.stderr);
    const refresh = await s.stack.refresh();
    assert.equal(refresh.summary.resourceChanges?.update, 1, JSON.stringify(refresh.summary.resourceChanges));
    assert.match(refresh.stdout, /vhostnet:index:Bridge br0 updated .*\[diff: [+~]macAgingSeconds\]/);
    const state = await s.stack.exportStack();
    const br0 = (state.deployment.resources as { urn: string; outputs: Record<string, unknown>; inputs: Record<string, unknown> }[]).find((r) =>
      r.urn.endsWith('::br0'),
    )!;
    assert.equal(br0.outputs.macAgingSeconds, 60);
    const pv = await s.stack.preview();
    assert.equal(pv.changeSummary.update, 1, JSON.stringify(pv.changeSummary));
    await s.stack.up();
    assert.equal((await agent.client.get<BridgeState>('/bridges/br0')).macAgingSeconds, 300);
  });

  it("the preview of a replace names the field that forces it, in the provider's detailed diff", async () => {
    const moved = `${agent.dir}/moved`;
    fs.mkdirSync(moved);
    await s.stack.setConfig('socketDir', { value: moved });
    const before = JSON.stringify(await agent.client.get('/state'));
    const steps: { urn: string; op: string; detailedDiff?: Record<string, { diffKind: string; inputDiff: boolean }> }[] = [];
    const pv = await s.stack.preview({ diff: true, onEvent: (e: EngineEvent) => e.resourcePreEvent && steps.push(e.resourcePreEvent.metadata as never) });
    assert.equal(pv.changeSummary.replace, 2, JSON.stringify(pv.changeSummary));
    const port0Ops = steps.filter((m) => m.urn.endsWith('::dpdkvhostclient0'));
    // Old one first (deleteBeforeReplace): the new one takes the same name on the agent.
    const ops = port0Ops.map((m) => m.op);
    assert.ok(
      ops.includes('replace') && ops.indexOf('delete-replaced') >= 0 && ops.indexOf('delete-replaced') < ops.indexOf('create-replacement'),
      ops.join(','),
    );
    const port0 = port0Ops.find((m) => m.op === 'replace')!;
    // Sent by the provider (the engine's own input diff has no replace kinds).
    assert.deepEqual(port0.detailedDiff, { vhostServerPath: { diffKind: 'update-replace', inputDiff: true } });
    assert.match(
      pv.stdout,
      /\+-vhostnet:index:VhostUserClientPort: \(replace\)[^]*?::dpdkvhostclient0\]\s*~ vhostServerPath: "[^"]*\/dpdkvhostclient0" => "[^"]*\/moved\/dpdkvhostclient0"/,
    );
    assert.equal(JSON.stringify(await agent.client.get('/state')), before, 'the preview changed nothing on the agent');
    await s.stack.setConfig('socketDir', { value: agent.dir });
  });

  it('destroy removes everything the program made', async () => {
    await s.stack.destroy();
    const st = await agent.client.get<{ bridges: unknown[]; ports: unknown[] }>('/state');
    assert.deepEqual(st.bridges, []);
    assert.deepEqual(st.ports, []);
  });
});

describe('35 plugin: pulumi import adopts a bridge and ports made with vhostctl', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: PluginStack;
  const sock = (n: string) => `${agent.dir}/${n}`;

  before(async () => {
    agent = await AgentProcess.start({ name: 'yamlimp' });
    s = await yamlStack('yamlimp', YAML_EXAMPLE, { 'vhostnet:endpoint': `unix:${agent.socket}`, socketDir: agent.dir });
  });
  after(async () => {
    await agent?.stop();
    await s?.remove();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('imports each object from its ID alone, changes nothing on the agent, and the program then previews no changes', async () => {
    for (const args of [
      ['add-br', 'br0'],
      ...[0, 1].map((i) => ['add-port', 'br0', `dpdkvhostclient${i}`, '--vhost-server-path', sock(`dpdkvhostclient${i}`)]),
    ]) {
      const r = await agent.vhostctl(...args);
      assert.equal(r.code, 0, r.stderr);
    }
    const before = JSON.stringify(await agent.client.get('/state'));
    for (const [type, name] of [
      ['Bridge', 'br0'],
      ['VhostUserClientPort', 'dpdkvhostclient0'],
      ['VhostUserClientPort', 'dpdkvhostclient1'],
    ]) {
      const r = await s.cli('import', `vhostnet:index:${type}`, name, name, '--yes', '--protect=false', '--generate-code=false');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`=\\s+vhostnet:index:${type}\\s+${name}\\s+imported`), r.stdout);
    }
    assert.equal(JSON.stringify(await agent.client.get('/state')), before, 'import changed the agent');
    const pv = await s.stack.preview({ expectNoChanges: true });
    assert.deepEqual(Object.keys(pv.changeSummary), ['same'], JSON.stringify(pv.changeSummary));
    // An import records no dependencies (port on bridge): the first up, which changes nothing,
    // takes them from the program. The stack then manages them: destroy removes them, ports first.
    const up = await s.stack.up();
    assert.deepEqual(Object.keys(up.summary.resourceChanges ?? {}), ['same'], JSON.stringify(up.summary.resourceChanges));
    assert.equal(JSON.stringify(await agent.client.get('/state')), before, 'an up with no changes changed the agent');
    await s.stack.destroy();
    const st = await agent.client.get<{ bridges: unknown[]; ports: unknown[] }>('/state');
    assert.deepEqual([st.bridges, st.ports], [[], []]);
  });
});
