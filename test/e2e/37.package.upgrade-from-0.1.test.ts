// A stack deployed with vhostnet 0.1.0, whose serialized providers name the absolute path of
// dist/provider/impl.js on the machine that ran it, upgraded to this release as the README says:
// refresh still works in place, and after one `pulumi up` the state is portable, so the project
// can move and refresh, a port's removal and destroy work from the new directory.
import { execFileSync } from 'node:child_process';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BridgeState, PortState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';
import { backendStateText, projectStack, setConfig } from '../helpers/pulumi-stack';
import { install, lockedVersion, npm, outsideRepo, packVhostnet, writeProject } from '../helpers/user-project';

const ROOT = path.resolve(__dirname, '../../..');
/** The last commit of release 0.1.0 (main before the package and portable state). */
const RELEASE_0_1_0 = 'ff3657e36529df901d7a3330777e3d8789d0ba9d';

/** vhostnet 0.1.0's provider, built from its commit and packed as that release was (no exports, dist/ by deep import). */
async function packRelease010(dir: string): Promise<string> {
  const src = path.join(dir, 'vhostnet-0.1.0');
  fs.mkdirSync(src, { recursive: true });
  const archive = execFileSync('git', ['-C', ROOT, 'archive', RELEASE_0_1_0, 'package.json', 'provider', 'datapath/api'], { maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', src], { input: archive });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(src, 'node_modules'));
  const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
  execFileSync(
    tsc,
    [
      '--outDir',
      'dist',
      '--rootDir',
      '.',
      '--module',
      'commonjs',
      '--target',
      'ES2022',
      '--moduleResolution',
      'node',
      '--esModuleInterop',
      '--skipLibCheck',
      '--strict',
      '--types',
      'node',
      'provider/index.ts',
    ],
    { cwd: src, stdio: 'pipe' },
  );
  fs.unlinkSync(path.join(src, 'node_modules'));
  const r = await npm(src, ['pack', '--json', '--pack-destination', dir]);
  return path.join(dir, (JSON.parse(r.stdout) as { filename: string }[])[0].filename);
}

const program = (entry: string) => `'use strict';
const pulumi = require('@pulumi/pulumi');
const { Bridge, VhostUserClientPort } = require('${entry}');
const cfg = new pulumi.Config();
const socketDir = cfg.require('socketDir');
const br = new Bridge('br-old');
const ports = cfg.requireObject('ports').map((name) => new VhostUserClientPort(name, { bridge: br.name, vhostServerPath: socketDir + '/' + name }));
exports.sockets = ports.map((p) => p.socketPath);
`;

describe('37 package: a stack from vhostnet 0.1.0 (absolute paths in its state) after the upgrade', function () {
  this.timeout(1200000);
  let agent: AgentProcess;
  let work: string;

  before(async () => {
    agent = await AgentProcess.start({ name: 'upgrade' });
    work = outsideRepo('vhostnet-upgrade-');
  });
  after(async () => {
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('refreshes in place; one up makes the state portable; then, moved, refresh, up removing a port and destroy succeed', async () => {
    const [oldTarball, pack] = await Promise.all([packRelease010(work), packVhostnet(work)]);
    const a = path.join(work, 'runner-a', 'stack');
    const b = path.join(work, 'runner-b', 'stack');
    const stateDir = path.join(work, 'state');
    writeProject(a, 'platform-net-old', false, { 'index.js': program('vhostnet/dist/provider') });
    await install(a, [oldTarball, `@pulumi/pulumi@${lockedVersion('@pulumi/pulumi')}`]);

    let { stack } = await projectStack(a, 'dev', stateDir);
    await setConfig(stack, { 'vhostnet:endpoint': `unix:${agent.socket}`, socketDir: agent.dir, ports: ['oldport0', 'oldport1'] });
    const up = await stack.up();
    assert.equal(up.summary.resourceChanges?.create, 4, JSON.stringify(up.summary.resourceChanges));
    assert.ok(
      backendStateText(stateDir).includes(path.join(a, 'node_modules', 'vhostnet', 'dist', 'provider', 'impl.js')),
      '0.1.0 wrote the absolute path of its implementation',
    );

    // The upgrade, as the README says: install this release, import it by its name.
    await install(a, [pack.tarball]);
    fs.writeFileSync(path.join(a, 'index.js'), program('vhostnet'));
    const inPlace = await stack.refresh();
    assert.deepEqual(Object.keys(inPlace.summary.resourceChanges ?? {}), ['same'], JSON.stringify(inPlace.summary.resourceChanges));

    const versions = async () => (await agent.client.get<PortState[]>('/ports')).map((p) => `${p.name}@${p.version}`);
    const before = await versions();
    const migrate = await stack.up();
    assert.equal(migrate.summary.resourceChanges?.update, 3, `every resource's state is rewritten: ${JSON.stringify(migrate.summary.resourceChanges)}`);
    assert.deepEqual(await versions(), before, 'nothing changed on the host');
    assert.ok(!backendStateText(stateDir).includes(a), 'no path of the project is left in the state');
    const again = await stack.preview();
    assert.deepEqual(Object.keys(again.changeSummary), ['same'], JSON.stringify(again.changeSummary));

    fs.mkdirSync(path.dirname(b), { recursive: true });
    fs.renameSync(a, b);
    fs.rmSync(path.dirname(a), { recursive: true, force: true });
    ({ stack } = await projectStack(b, 'dev', stateDir));
    const refresh = await stack.refresh();
    assert.deepEqual(Object.keys(refresh.summary.resourceChanges ?? {}), ['same'], JSON.stringify(refresh.summary.resourceChanges));
    await setConfig(stack, { ports: ['oldport0'] });
    const shrink = await stack.up();
    assert.equal(shrink.summary.resourceChanges?.delete, 1, JSON.stringify(shrink.summary.resourceChanges));
    assert.deepEqual(
      (await agent.client.get<PortState[]>('/ports')).map((p) => p.name),
      ['oldport0'],
    );
    await stack.destroy();
    assert.deepEqual(await agent.client.get<PortState[]>('/ports'), []);
    assert.deepEqual(await agent.client.get<BridgeState[]>('/bridges'), []);
  });
});
