import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../datapath/api';
import { Control } from '../../datapath/agent/control/plane';
import { Datapath } from '../../datapath/agent/datapath';
import { Hugepages } from '../../datapath/agent/control/hugepages';
import { Store } from '../../datapath/agent/store';
import { runningSettings } from '../../datapath/agent/agent';
import { FakeNative } from '../helpers/fake-native';

describe('20 agent control plane (own logic, fake addon)', () => {
  let dir: string;
  let store: Store;
  let native: FakeNative;
  let control: Control;
  const running = { pmdCpus: [1], hugepages: true, memoryMb: 256, vhostIommuSupport: false };
  const port = (name: string, extra: object = {}) => ({
    bridge: 'br0',
    type: 'dpdkvhostuserclient',
    vhostServerPath: path.join(dir, 'q', `${name}.sock`),
    ...extra,
  });
  const snapshot = () => JSON.stringify(control.state());

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-unit-'));
    store = new Store(path.join(dir, 'state'));
    native = new FakeNative();
    control = new Control(
      store,
      new Datapath(native),
      { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], ownFiles: [path.join(dir, 'run', 'agent.sock')], log: () => {} },
      running,
    );
    control.bridges.put('br0', {});
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is idempotent: the same spec twice changes nothing', () => {
    const a = control.ports.put('p0', port('p0'));
    assert.equal(a.changes[0].op, 'create');
    const b = control.ports.put('p0', port('p0'));
    assert.equal(b.changes[0].op, 'none');
    assert.equal(b.object!.version, a.object!.version);
    assert.equal(native.calls.filter((c) => c.startsWith('createPort')).length, 1);
  });

  it('a dry run answers what would change and whether it disrupts traffic, and changes nothing', () => {
    control.ports.put('p0', port('p0'));
    const before = snapshot();
    const calls = native.calls.length;
    const r = control.ports.put('p0', port('p0', { vhostServerPath: path.join(dir, 'q', 'other.sock') }), { dryRun: true });
    assert.equal(r.changes[0].op, 'replace');
    assert.equal(r.changes[0].disruptive, true);
    assert.equal(control.ports.put('p0', port('p0', { queues: 2 }), { dryRun: true }).changes[0].disruptive, false);
    assert.equal(snapshot(), before);
    assert.equal(native.calls.length, calls);
  });

  it('a change the datapath refuses leaves the previous state whole', () => {
    control.ports.put('p0', port('p0'));
    const before = snapshot();
    native.failCreatePort = /x\.sock|p1\.sock/;
    assert.throws(
      () => control.ports.put('p0', port('p0', { vhostServerPath: path.join(dir, 'q', 'x.sock') })),
      (e: ApiError) => e.code === 'datapath',
    );
    assert.throws(
      () => control.ports.put('p1', port('p1')),
      (e: ApiError) => e.code === 'datapath',
    );
    assert.equal(snapshot(), before);
    native.failCreatePort = undefined;
    // the old port was put back in the datapath
    assert.deepEqual(
      [...native.ports.values()].map((p) => p.path),
      [path.join(dir, 'q', 'p0.sock')],
    );
  });

  it('refuses a server-port name with "/" and changes nothing', () => {
    const before = snapshot();
    assert.throws(
      () => control.ports.put('a/b', { bridge: 'br0', type: 'dpdkvhostuser' }),
      (e: ApiError) => e.code === 'invalid' && e.issues![0].field === 'name',
    );
    assert.equal(snapshot(), before);
  });

  it('puts server sockets at <run dir>/<vhostSockDir>/<name> and warns they are deprecated', () => {
    const r = control.ports.put('s0', { bridge: 'br0', type: 'dpdkvhostuser' });
    assert.ok(r.object!.type === 'dpdkvhostuser');
    assert.equal(r.object!.socketPath, path.join(dir, 'run', 's0'));
    assert.match(r.warnings[0], /deprecated/);
    control.settings.put({ vhostSockDir: 'socks' });
    const moved = control.ports.get('s0', false);
    assert.ok(moved.type === 'dpdkvhostuser');
    assert.equal(moved.socketPath, path.join(dir, 'run', 'socks', 's0'));
    assert.ok(native.calls.includes(`createPort server ${path.join(dir, 'run', 'socks', 's0')}`));
  });

  it('refuses socket paths outside the allowed directories or through a symlink', () => {
    assert.throws(() => control.ports.put('p0', port('p0', { vhostServerPath: '/etc/p0.sock' })), /allowed socket directories/);
    fs.symlinkSync('/etc', path.join(dir, 'link'));
    assert.throws(() => control.ports.put('p0', port('p0', { vhostServerPath: path.join(dir, 'link', 'p0.sock') })), /symlink/);
  });

  it('refuses two ports on one socket', () => {
    control.ports.put('p0', port('p0'));
    assert.throws(
      () => control.ports.put('p1', port('p0')),
      (e: ApiError) => e.code === 'conflict',
    );
  });

  it('refuses a port on a bridge that does not exist, and deleting a bridge that has ports', () => {
    assert.throws(
      () => control.ports.put('p0', port('p0', { bridge: 'nope' })),
      (e: ApiError) => e.issues![0].field === 'bridge',
    );
    control.ports.put('p0', port('p0'));
    assert.throws(
      () => control.bridges.delete('br0'),
      (e: ApiError) => e.code === 'conflict',
    );
  });

  it('detects concurrent changes by version, and ownership by another stack', () => {
    const v = control.ports.put('p0', port('p0', { owner: 'stackA' })).object!.version;
    control.ports.put('p0', port('p0', { owner: 'stackA', queues: 2, expectedVersion: v }));
    assert.throws(
      () => control.ports.put('p0', port('p0', { owner: 'stackA', queues: 3, expectedVersion: v })),
      (e: ApiError) => e.code === 'conflict',
    );
    assert.throws(
      () => control.ports.put('p0', port('p0', { owner: 'stackB' })),
      (e: ApiError) => e.code === 'conflict',
    );
    assert.equal(control.ports.put('p0', port('p0', { owner: 'stackB' }), { adopt: true }).object!.owner, 'stackB');
  });

  it('says which settings need a restart', () => {
    const r = control.settings.put({ vhostIommuSupport: true, pmdMaxSleepUs: 50 });
    assert.deepEqual(r.changes[0].restartRequired, ['vhostIommuSupport']);
    assert.deepEqual(control.settings.get().restartRequired, ['vhostIommuSupport']);
  });

  it('rebuilds the datapath from the store after a restart', () => {
    control.ports.put('p0', port('p0'));
    control.ports.put('s0', { bridge: 'br0', type: 'dpdkvhostuser' });
    const native2 = new FakeNative();
    const again = new Control(store, new Datapath(native2), { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} }, running);
    again.reconcile();
    assert.deepEqual([...native2.ports.values()].map((p) => p.mode).sort(), ['client', 'server']);
  });

  it('a port keeps its class: a client port cannot become a vxlan port, and nothing changes', () => {
    control.ports.put('p0', port('p0'));
    const before = snapshot();
    const vx = {
      bridge: 'br0',
      type: 'vxlan',
      vni: 9,
      underlay: { iface: 'lo', localIp: '169.254.9.1', remoteIp: '169.254.9.2', remoteMac: '02:00:00:00:09:02' },
    };
    assert.throws(
      () => control.ports.put('p0', vx),
      (e: ApiError) => e.code === 'conflict' && e.issues![0].field === 'type',
    );
    assert.equal(snapshot(), before);
  });

  it('a tunnel the datapath cannot make is refused naming the underlay, and nothing is stored', () => {
    const before = snapshot();
    // The fake addon has no tunnels: the datapath refuses, as a real one refuses an unusable underlay.
    const vx = {
      bridge: 'br0',
      type: 'vxlan',
      vni: 9,
      underlay: { iface: 'lo', localIp: '169.254.9.1', remoteIp: '169.254.9.2', remoteMac: '02:00:00:00:09:02' },
    };
    assert.throws(
      () => control.ports.put('vx0', vx),
      (e: ApiError) => e.code === 'datapath' && e.issues![0].field === 'underlay',
    );
    assert.equal(snapshot(), before);
  });

  it("a guest port's MTU: its own, else the bridge's, else a tunnel's underlay - 50, else 1500; qemuArgs, the status and the datapath agree", () => {
    // A fake with tunnels whose underlay has MTU 1500, as the real addon reports it.
    class TunnelNative extends FakeNative {
      tunnels = new Set<number>();
      createTunnel() {
        const id = this.createBridge(); // any fresh id
        this.tunnels.add(id);
        return id;
      }
      portInfo(p?: number) {
        const i = super.portInfo(p);
        return p !== undefined && this.tunnels.has(p) ? { ...i, mtu: 1450, underlayMtu: 1500 } : i;
      }
    }
    const tn = new TunnelNative();
    const c = new Control(store, new Datapath(tn), { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} }, running);
    c.bridges.restore();
    const hostMtu = (name: string) => {
      const p = c.ports.get(name);
      assert.ok(p.type === 'dpdkvhostuserclient');
      return { arg: p.qemuArgs.find((a) => a.startsWith('virtio-net-pci'))!.match(/host_mtu=(\d+)/)?.[1], mtu: p.status!.mtu, source: p.status!.mtuSource };
    };
    c.ports.put('g', port('g'));
    // At 1500 (virtio-net's default) the QEMU arguments say nothing: they stay as they were.
    assert.deepEqual(hostMtu('g'), { arg: undefined, mtu: 1500, source: 'default (1500)' });
    const vx = {
      bridge: 'br0',
      type: 'vxlan',
      vni: 9,
      underlay: { iface: 'lo', localIp: '169.254.9.1', remoteIp: '169.254.9.2', remoteMac: '02:00:00:00:09:02' },
    };
    c.ports.put('vx', vx);
    assert.deepEqual(hostMtu('g'), { arg: '1450', mtu: 1450, source: 'tunnel port vx: underlay MTU 1500 - 50 bytes of VXLAN' });
    assert.deepEqual(c.bridges.get('br0').status, { mtu: 1450, mtuSource: 'tunnel port vx: underlay MTU 1500 - 50 bytes of VXLAN', warnings: [] });
    const gId = [...tn.ports].find(([, p]) => p.path.endsWith('g.sock'))![0];
    assert.equal(tn.mtus.get(gId), 1450, 'the datapath enforces the tunnel MTU on the guest port');
    // The bridge's own mtu wins, and a larger one than the tunnel carries is a warning on the bridge.
    c.bridges.put('br0', { mtu: 9000 });
    assert.deepEqual(hostMtu('g'), { arg: '9000', mtu: 9000, source: 'bridge br0 mtu' });
    assert.match(c.bridges.get('br0').status!.warnings.join(), /mtu 9000 is more than a tunnel carries \(tunnel port vx/);
    // The port's own wins over both, in place: the socket is not re-created.
    const creates = tn.calls.filter((x) => x.startsWith('createPort')).length;
    const r = c.ports.put('g', port('g', { mtu: 1400 }));
    assert.equal(r.changes[0].op, 'update');
    assert.equal(r.changes[0].disruptive, false);
    assert.deepEqual(hostMtu('g'), { arg: '1400', mtu: 1400, source: 'port mtu' });
    assert.equal(tn.mtus.get(gId), 1400);
    assert.equal(tn.calls.filter((x) => x.startsWith('createPort')).length, creates);
    // Back to the bridge's when the port's is removed; the tunnel's when the bridge's is.
    c.ports.put('g', port('g'));
    c.bridges.put('br0', {});
    assert.equal(tn.mtus.get(gId), 1450);
    c.ports.delete('vx');
    assert.equal(tn.mtus.get(gId), 1500);
    assert.equal(hostMtu('g').source, 'default (1500)');
  });

  it("a guest that took a larger MTU than its port's is a warning in the port's status", () => {
    control.ports.put('g', port('g', { mtu: 1400 }));
    const info = native.portInfo();
    native.portInfo = () => ({
      ...info,
      connected: true,
      negotiatedFeatures: '0x8',
      offeredFeatures: '0x8',
      vringsEnabled: 2,
      vringsTotal: 2,
      queuePairs: 1,
      guestMtu: 1500,
    });
    const p = control.ports.get('g');
    assert.ok(p.type === 'dpdkvhostuserclient');
    assert.equal(p.status!.guestMtu, 1500);
    assert.deepEqual(
      p.status!.warnings.filter((w) => /MTU/.test(w)),
      ["the guest took MTU 1500, more than the port's 1400 (port mtu): its longer frames are dropped (restart it with the port's qemuArgs, host_mtu=1400)"],
    );
    assert.deepEqual(Object.keys(p.status!.stats.drops), ['ringFull', 'mtuExceeded', 'offloadUnsupported', 'underlaySendFailure', 'macLimit', 'malformed']);
    // Started without host_mtu (no mtu feature): it assumes 1500, and is told the same way.
    native.portInfo = () => ({
      ...info,
      connected: true,
      negotiatedFeatures: '0x0100000000',
      offeredFeatures: '0x0100000008',
      vringsEnabled: 2,
      vringsTotal: 2,
      queuePairs: 1,
    });
    assert.deepEqual(
      control.ports.get('g').status!.warnings.filter((w) => /MTU/.test(w)),
      [
        "the guest did not negotiate an MTU (virtio-net mtu, QEMU host_mtu), so it sends up to 1500, more than the port's 1400 (port mtu): its longer frames are dropped (restart it with the port's qemuArgs, host_mtu=1400)",
      ],
    );
    // At 1500 nothing is said: that is what a guest without the feature assumes.
    control.ports.put('g', port('g'));
    assert.deepEqual(
      control.ports.get('g').status!.warnings.filter((w) => /MTU/.test(w)),
      [],
    );
  });

  it('a hugepage reservation is its own kind of change, with the version check of every kind', () => {
    const sysfs = path.join(dir, 'sys');
    const pool = path.join(sysfs, 'kernel/mm/hugepages/hugepages-2048kB');
    fs.mkdirSync(pool, { recursive: true });
    fs.writeFileSync(path.join(pool, 'nr_hugepages'), '4');
    fs.writeFileSync(path.join(pool, 'free_hugepages'), '4');
    const hp = new Hugepages(store, sysfs, () => {});
    const dry = hp.put('h0', { pages: 8 }, { dryRun: true });
    assert.deepEqual(
      dry.changes.map((c) => [c.op, c.kind, c.name]),
      [['create', 'hugepages', 'h0']],
    );
    assert.equal(fs.readFileSync(path.join(pool, 'nr_hugepages'), 'utf8'), '4', 'a dry run reserves nothing');
    const made = hp.put('h0', { pages: 8 });
    assert.equal(made.object!.found, 4);
    assert.equal(fs.readFileSync(path.join(pool, 'nr_hugepages'), 'utf8'), '8');
    assert.throws(
      () => hp.put('h0', { pages: 6, expectedVersion: 7 }),
      (e: ApiError) => e.code === 'conflict' && e.issues![0].field === 'expectedVersion',
    );
    assert.equal(hp.delete('h0').changes[0].kind, 'hugepages');
    assert.equal(fs.readFileSync(path.join(pool, 'nr_hugepages'), 'utf8'), '4', 'delete gives back what was found');
  });

  it("refuses a server port named after the agent's API socket, and a vhostSockDir that would move one onto it", () => {
    const before = snapshot();
    assert.throws(
      () => control.ports.put('agent.sock', { bridge: 'br0', type: 'dpdkvhostuser' }),
      (e: ApiError) => e.code === 'invalid' && e.issues![0].field === 'name' && /agent's own socket/.test(e.issues![0].rule),
    );
    assert.equal(snapshot(), before);
    control.settings.put({ vhostSockDir: 'socks' });
    control.ports.put('agent.sock', { bridge: 'br0', type: 'dpdkvhostuser' }); // socks/agent.sock: no collision
    const moved = snapshot();
    assert.throws(
      () => control.settings.put({ vhostSockDir: '.' }),
      (e: ApiError) => e.code === 'invalid' && e.issues![0].field === 'vhostSockDir',
    );
    assert.equal(snapshot(), moved);
  });

  it('canonicalizes socket paths before any check: a//b is a/b, and <dir>//run is the run dir', () => {
    control.ports.put('p0', port('p0'));
    const before = snapshot();
    assert.throws(
      () => control.ports.put('p1', port('p1', { vhostServerPath: path.join(dir, 'q') + '//p0.sock' })),
      (e: ApiError) => e.code === 'conflict' && e.issues![0].field === 'vhostServerPath',
    );
    assert.throws(
      () => control.ports.put('p2', port('p2', { vhostServerPath: `${dir}//run/agent.sock` })),
      (e: ApiError) => e.code === 'invalid' && /run directory/.test(e.issues![0].rule),
    );
    assert.equal(snapshot(), before);
    const p3 = control.ports.put('p3', port('p3', { vhostServerPath: path.join(dir, 'q') + '//p3.sock' })).object!;
    assert.ok(p3.type === 'dpdkvhostuserclient');
    assert.equal(p3.vhostServerPath, path.join(dir, 'q', 'p3.sock'));
  });

  it('refuses PMD CPUs the host does not have when they are set, and changes nothing', () => {
    const before = snapshot();
    assert.throws(
      () => control.settings.put({ pmdCpus: [1023] }),
      (e: ApiError) => e.code === 'invalid' && e.issues![0].field === 'pmdCpus.0' && /online/.test(e.issues![0].rule),
    );
    assert.equal(snapshot(), before);
  });

  it('starts with the default PMD CPU when the stored ones do not exist here, and says so in the settings', () => {
    const r = runningSettings({ ...defaultSettings(), pmdCpus: [99] }, [0, 1]);
    assert.deepEqual(
      r.refused?.map((x) => x.field),
      ['pmdCpus.0'],
    );
    assert.equal(r.pmdCpus.length, 1);
    assert.notEqual(r.pmdCpus[0], 99);
    const c = new Control(store, new Datapath(new FakeNative()), { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} }, r);
    assert.deepEqual(c.settings.get().running.refused, r.refused);
    assert.ok(!c.settings.get().restartRequired.includes('pmdCpus'), 'a restart would not take it either');
  });
});

function defaultSettings() {
  return { vhostSockDir: '.', vhostIommuSupport: false, pmdCpus: [] as number[], memoryMb: 256, hugepages: 'auto' as const, pmdMaxSleepUs: 200 };
}
