// vhostnet as a platform team uses it: `npm pack` of this repository installed into a project of
// their own outside it, a strict TypeScript program and a plain JavaScript one, run by the real
// engine. The project moves between updates (as between CI runners): the state names the
// package, never the first machine's path, so refresh, a port's removal and destroy still work.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BridgeState, PortState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';
import { backendStateText, projectStack, setConfig } from '../helpers/pulumi-stack';
import { PULUMI_TEMPLATE_TSCONFIG, install, lockedVersion, npm, outsideRepo, packVhostnet, writeProject } from '../helpers/user-project';

const TS_PROGRAM = `import * as pulumi from '@pulumi/pulumi';
import { Bridge, VhostUserClientPort, type VhostUserClientPortArgs } from 'vhostnet';
import type { VhostNetworkArgs } from 'vhostnet/components';

const cfg = new pulumi.Config();
const socketDir: string = cfg.require('socketDir');
const names: string[] = cfg.requireObject<string[]>('ports');
const br = new Bridge('br-pkg');
const ports = names.map((name) => {
  const args: VhostUserClientPortArgs = { bridge: br.name, vhostServerPath: \`\${socketDir}/\${name}\` };
  return new VhostUserClientPort(name, args);
});
// The components' types come with the package too.
const unused: Pick<VhostNetworkArgs, 'connection'> = {};
void unused;
export const sockets: pulumi.Output<string>[] = ports.map((p) => p.socketPath);
`;

const JS_PROGRAM = `'use strict';
const pulumi = require('@pulumi/pulumi');
const { Bridge, VhostUserClientPort } = require('vhostnet');
const { VhostNetwork } = require('vhostnet/components');
const { Name } = require('vhostnet/api');
if (typeof VhostNetwork !== 'function') throw new Error('vhostnet/components has no VhostNetwork');

const cfg = new pulumi.Config();
const socketDir = cfg.require('socketDir');
const br = new Bridge(Name.parse('br-pkg'));
const ports = cfg.requireObject('ports').map((name) => new VhostUserClientPort(name, { bridge: br.name, vhostServerPath: socketDir + '/' + name }));
exports.sockets = ports.map((p) => p.socketPath);
`;

describe('36 package: vhostnet from its npm tarball in a project of its own, state portable across directories', function () {
  this.timeout(1200000);
  let agent: AgentProcess;
  let work: string;
  let pack: { tarball: string; files: string[]; version: string };

  before(async () => {
    agent = await AgentProcess.start({ name: 'pkg' });
    work = outsideRepo('vhostnet-pkg-');
    pack = await packVhostnet(work);
  });
  after(async () => {
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('the tarball has compiled JS, type declarations and source maps for each export, and no native code or agent', () => {
    for (const entry of ['dist/provider/index', 'dist/components/index', 'dist/datapath/api/index', 'dist/provider/operations'])
      for (const ext of ['.js', '.d.ts', '.js.map']) assert.ok(pack.files.includes(`${entry}${ext}`), `${entry}${ext} is in the tarball`);
    const native = pack.files.filter((f) => /binding\.gyp$|\.node$|\.cpp$|\.hpp$|^datapath\/native|^dist\/datapath\/agent\/|^dist\/test\//.test(f));
    assert.deepEqual(native, [], 'nothing native, no agent, no tests');
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8'));
    assert.ok(pkg.peerDependencies['@pulumi/pulumi'], '@pulumi/pulumi is a peer dependency');
    assert.equal(pkg.dependencies['@pulumi/pulumi'], undefined);
    assert.equal(pkg.dependencies['node-addon-api'], undefined, "node-addon-api is the agent's");
  });

  const lifecycle = async (kind: 'ts' | 'js') => {
    const a = path.join(work, `${kind}-runner-a`, 'stack');
    const b = path.join(work, `${kind}-runner-b`, 'stack');
    const stateDir = path.join(work, `${kind}-state`);
    writeProject(
      a,
      `platform-net-${kind}`,
      kind === 'ts',
      kind === 'ts' ? { 'index.ts': TS_PROGRAM, 'tsconfig.json': PULUMI_TEMPLATE_TSCONFIG } : { 'index.js': JS_PROGRAM },
    );
    const deps = [pack.tarball, `@pulumi/pulumi@${lockedVersion('@pulumi/pulumi')}`];
    if (kind === 'ts')
      deps.push(`typescript@${lockedVersion('typescript')}`, `ts-node@${lockedVersion('ts-node')}`, `@types/node@${lockedVersion('@types/node')}`);
    const inst = await install(a, deps);
    assert.doesNotMatch(inst.stdout + inst.stderr, /gyp|node-addon-api/, 'installing vhostnet built nothing native');
    assert.ok(!fs.existsSync(path.join(a, 'node_modules', 'node-addon-api')), 'node-addon-api was not installed');
    assert.equal(JSON.parse(fs.readFileSync(path.join(a, 'node_modules', 'vhostnet', 'package.json'), 'utf8')).version, pack.version);
    if (kind === 'ts') await npm(a, ['exec', '--', 'tsc', '--noEmit', '-p', '.']); // the strict program type-checks, as in the team's CI

    let { stack } = await projectStack(a, 'dev', stateDir);
    await setConfig(stack, { 'vhostnet:endpoint': `unix:${agent.socket}`, socketDir: agent.dir, ports: ['pkgport0', 'pkgport1'] });
    const up = await stack.up();
    assert.equal(up.summary.resourceChanges?.create, 4, JSON.stringify(up.summary.resourceChanges));
    assert.deepEqual(
      (await agent.client.get<PortState[]>('/ports')).map((p) => p.name),
      ['pkgport0', 'pkgport1'],
    );
    const state = backendStateText(stateDir);
    assert.ok(!state.includes(a), `the state names no path of the project (${a})`);
    assert.match(state, /vhostnet\/operations/, 'the serialized providers load vhostnet by package name');
    assert.ok(state.includes(pack.version), `the serialized providers carry the version ${pack.version}`);

    // Another runner: the project elsewhere, the first directory gone.
    fs.mkdirSync(path.dirname(b), { recursive: true });
    fs.renameSync(a, b);
    fs.rmSync(path.dirname(a), { recursive: true, force: true });
    assert.ok(!fs.existsSync(a));
    ({ stack } = await projectStack(b, 'dev', stateDir));
    const refresh = await stack.refresh();
    assert.deepEqual(Object.keys(refresh.summary.resourceChanges ?? {}), ['same'], JSON.stringify(refresh.summary.resourceChanges));
    await setConfig(stack, { ports: ['pkgport0'] });
    const shrink = await stack.up();
    assert.equal(shrink.summary.resourceChanges?.delete, 1, JSON.stringify(shrink.summary.resourceChanges));
    assert.deepEqual(
      (await agent.client.get<PortState[]>('/ports')).map((p) => p.name),
      ['pkgport0'],
    );
    await stack.destroy();
    assert.deepEqual(await agent.client.get<PortState[]>('/ports'), []);
    assert.deepEqual(await agent.client.get<BridgeState[]>('/bridges'), []);
  };

  it('a strict TypeScript program importing { Bridge } from "vhostnet": up in A, move to B, refresh, up removing a port, destroy', () => lifecycle('ts'));
  it('a plain JavaScript program requiring "vhostnet": up in A, move to B, refresh, up removing a port, destroy', () => lifecycle('js'));
});
