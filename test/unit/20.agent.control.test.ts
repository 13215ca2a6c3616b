import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../datapath/api';
import { Control } from '../../datapath/agent/control';
import { Datapath } from '../../datapath/agent/datapath';
import { Store } from '../../datapath/agent/store';
import { FakeNative } from '../helpers/fake-native';

describe('20 agent control plane (own logic, fake addon)', () => {
  let dir: string;
  let store: Store;
  let native: FakeNative;
  let control: Control;
  const running = { pmdCpus: [1], hugepages: true, memoryMb: 256, vhostIommuSupport: false };
  const port = (name: string, extra: object = {}) => ({ bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(dir, 'q', `${name}.sock`), ...extra });
  const snapshot = () => JSON.stringify(control.state());

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-unit-'));
    store = new Store(path.join(dir, 'state'));
    native = new FakeNative();
    control = new Control(store, new Datapath(native), { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} }, running);
    control.putBridge('br0', {});
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is idempotent: the same spec twice changes nothing', () => {
    const a = control.putPort('p0', port('p0'));
    assert.equal(a.changes[0].op, 'create');
    const b = control.putPort('p0', port('p0'));
    assert.equal(b.changes[0].op, 'none');
    assert.equal(b.object!.version, a.object!.version);
    assert.equal(native.calls.filter((c) => c.startsWith('createPort')).length, 1);
  });

  it('a dry run answers what would change and whether it disrupts traffic, and changes nothing', () => {
    control.putPort('p0', port('p0'));
    const before = snapshot();
    const calls = native.calls.length;
    const r = control.putPort('p0', port('p0', { vhostServerPath: path.join(dir, 'q', 'other.sock') }), { dryRun: true });
    assert.equal(r.changes[0].op, 'replace');
    assert.equal(r.changes[0].disruptive, true);
    assert.equal(control.putPort('p0', port('p0', { queues: 2 }), { dryRun: true }).changes[0].disruptive, false);
    assert.equal(snapshot(), before);
    assert.equal(native.calls.length, calls);
  });

  it('a change the datapath refuses leaves the previous state whole', () => {
    control.putPort('p0', port('p0'));
    const before = snapshot();
    native.failCreatePort = /x\.sock|p1\.sock/;
    assert.throws(() => control.putPort('p0', port('p0', { vhostServerPath: path.join(dir, 'q', 'x.sock') })), (e: ApiError) => e.code === 'datapath');
    assert.throws(() => control.putPort('p1', port('p1')), (e: ApiError) => e.code === 'datapath');
    assert.equal(snapshot(), before);
    native.failCreatePort = undefined;
    // the old port was put back in the datapath
    assert.deepEqual([...native.ports.values()].map((p) => p.path), [path.join(dir, 'q', 'p0.sock')]);
  });

  it('refuses a server-port name with "/" and changes nothing', () => {
    const before = snapshot();
    assert.throws(() => control.putPort('a/b', { bridge: 'br0', type: 'dpdkvhostuser' }), (e: ApiError) => e.code === 'invalid' && e.issues![0].field === 'name');
    assert.equal(snapshot(), before);
  });

  it('puts server sockets at <run dir>/<vhostSockDir>/<name> and warns they are deprecated', () => {
    const r = control.putPort('s0', { bridge: 'br0', type: 'dpdkvhostuser' });
    assert.ok(r.object!.type === 'dpdkvhostuser');
    assert.equal(r.object!.socketPath, path.join(dir, 'run', 's0'));
    assert.match(r.warnings[0], /deprecated/);
    control.putSettings({ vhostSockDir: 'socks' });
    const moved = control.port('s0', false);
    assert.ok(moved.type === 'dpdkvhostuser');
    assert.equal(moved.socketPath, path.join(dir, 'run', 'socks', 's0'));
    assert.ok(native.calls.includes(`createPort server ${path.join(dir, 'run', 'socks', 's0')}`));
  });

  it('refuses socket paths outside the allowed directories or through a symlink', () => {
    assert.throws(() => control.putPort('p0', port('p0', { vhostServerPath: '/etc/p0.sock' })), /allowed socket directories/);
    fs.symlinkSync('/etc', path.join(dir, 'link'));
    assert.throws(() => control.putPort('p0', port('p0', { vhostServerPath: path.join(dir, 'link', 'p0.sock') })), /symlink/);
  });

  it('refuses two ports on one socket', () => {
    control.putPort('p0', port('p0'));
    assert.throws(() => control.putPort('p1', port('p0')), (e: ApiError) => e.code === 'conflict');
  });

  it('refuses a port on a bridge that does not exist, and deleting a bridge that has ports', () => {
    assert.throws(() => control.putPort('p0', port('p0', { bridge: 'nope' })), (e: ApiError) => e.issues![0].field === 'bridge');
    control.putPort('p0', port('p0'));
    assert.throws(() => control.deleteBridge('br0'), (e: ApiError) => e.code === 'conflict');
  });

  it('detects concurrent changes by version, and ownership by another stack', () => {
    const v = control.putPort('p0', port('p0', { owner: 'stackA' })).object!.version;
    control.putPort('p0', port('p0', { owner: 'stackA', queues: 2, expectedVersion: v }));
    assert.throws(() => control.putPort('p0', port('p0', { owner: 'stackA', queues: 3, expectedVersion: v })), (e: ApiError) => e.code === 'conflict');
    assert.throws(() => control.putPort('p0', port('p0', { owner: 'stackB' })), (e: ApiError) => e.code === 'conflict');
    assert.equal(control.putPort('p0', port('p0', { owner: 'stackB' }), { adopt: true }).object!.owner, 'stackB');
  });

  it('says which settings need a restart', () => {
    const r = control.putSettings({ vhostIommuSupport: true, pmdMaxSleepUs: 50 });
    assert.deepEqual(r.changes[0].restartRequired, ['vhostIommuSupport']);
    assert.deepEqual(control.settings().restartRequired, ['vhostIommuSupport']);
  });

  it('rebuilds the datapath from the store after a restart', () => {
    control.putPort('p0', port('p0'));
    control.putPort('s0', { bridge: 'br0', type: 'dpdkvhostuser' });
    const native2 = new FakeNative();
    const again = new Control(store, new Datapath(native2), { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} }, running);
    again.reconcile();
    assert.deepEqual([...native2.ports.values()].map((p) => p.mode).sort(), ['client', 'server']);
  });
});
