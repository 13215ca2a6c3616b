// The agent's edges, own logic (fake addon, real files): who may have bound a client port's
// socket, where a guest's files and hugetlbfs mounts may be, which directories QEMU's user can
// write, and which stored settings a host cannot start with.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError, GuestVmSpec, type SettingsSpec } from '../../datapath/api';
import { runningSettings } from '../../datapath/agent/agent';
import { Control } from '../../datapath/agent/control/plane';
import { Guests } from '../../datapath/agent/control/guests';
import { Hugepages } from '../../datapath/agent/control/hugepages';
import { settingsHostProblems } from '../../datapath/agent/control/settings';
import { Datapath } from '../../datapath/agent/datapath';
import { filePathIssue } from '../../datapath/agent/file-policy';
import { GuestBackends, GuestSupervisor } from '../../datapath/agent/guest';
import { cannotCreateIn, permits } from '../../datapath/agent/host';
import { socketDirProblem, socketFileCheck, socketPolicy } from '../../datapath/agent/socket-policy';
import { Store } from '../../datapath/agent/store';
import { FakeNative } from '../helpers/fake-native';

const NOBODY = 65534;

/** A unix socket file at p, bound and left (nothing listens: only the file's type, owner and mode matter here). */
function socketFile(p: string): void {
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', p]);
}

const defaults = (): SettingsSpec => ({ vhostSockDir: '.', vhostIommuSupport: false, pmdCpus: [], memoryMb: 256, hugepages: 'auto', pmdMaxSleepUs: 200 });

describe('27 agent edges (own logic, fake addon)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-edges-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('socket policy', () => {
    const policy = socketPolicy({ insecureDirs: [] });

    it('refuses a socket directory other users may write, and allows one under sticky /tmp that only root writes', () => {
      assert.equal(socketDirProblem(policy, dir, path.join(dir, 'q', 'p.sock')), undefined);
      fs.chmodSync(dir, 0o777);
      assert.match(socketDirProblem(policy, dir, path.join(dir, 'p.sock'))!, /is writable by every user \(mode 777\)/);
      fs.chmodSync(dir, 0o700);
      fs.mkdirSync(path.join(dir, 'q'), { mode: 0o700 });
      fs.chownSync(path.join(dir, 'q'), NOBODY, NOBODY);
      assert.match(socketDirProblem(policy, dir, path.join(dir, 'q', 'p.sock'))!, /owned by uid 65534/);
      // /tmp itself as the allowed directory: everyone can create a name in it.
      assert.match(socketDirProblem(policy, '/tmp', '/tmp/p.sock')!, /\/tmp is writable by every user/);
      assert.equal(socketDirProblem(socketPolicy({ insecureDirs: ['/tmp'] }), '/tmp', '/tmp/p.sock'), undefined);
    });

    it('a socket file must be a socket, owned by root, the agent or QEMU, and not writable by every user', () => {
      const p = path.join(dir, 's');
      assert.deepEqual(socketFileCheck(policy, p), { ok: false, missing: true, why: `${p} does not exist yet` });
      fs.writeFileSync(p, '');
      assert.match((socketFileCheck(policy, p) as { why: string }).why, /is not a socket/);
      fs.rmSync(p);
      socketFile(p);
      fs.chmodSync(p, 0o755);
      assert.deepEqual(socketFileCheck(policy, p), { ok: true });
      fs.chmodSync(p, 0o777);
      assert.match((socketFileCheck(policy, p) as { why: string }).why, /writable by every user/);
      fs.chmodSync(p, 0o755);
      fs.chownSync(p, NOBODY, NOBODY);
      assert.match((socketFileCheck(policy, p) as { why: string }).why, /owned by uid 65534/);
      assert.deepEqual(socketFileCheck(socketPolicy({ qemu: { uid: NOBODY, gids: [] } }), p), { ok: true }, "QEMU's user may own it");
    });
  });

  describe('client ports and the socket policy', () => {
    let store: Store;
    let native: FakeNative;
    let control: Control;
    const running = { pmdCpus: [1], hugepages: true, memoryMb: 256, vhostIommuSupport: false };
    const make = (insecure: string[]) => {
      control = new Control(
        store,
        new Datapath(native),
        { runDir: path.join(dir, 'run'), allowedSocketDirs: [path.join(dir, 'q')], socketPolicy: socketPolicy({ insecureDirs: insecure }), log: () => {} },
        running,
      );
      control.bridges.put('br0', {});
    };
    beforeEach(() => {
      store = new Store(path.join(dir, 'state'), { log: () => {} });
      native = new FakeNative();
      fs.mkdirSync(path.join(dir, 'q'));
    });
    afterEach(() => store.close());

    it('a client port in a directory every user may write is refused naming vhostServerPath and the rule, and nothing changes', () => {
      fs.chmodSync(path.join(dir, 'q'), 0o1777);
      make([]);
      const before = JSON.stringify(control.state());
      assert.throws(
        () => control.ports.put('p0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(dir, 'q', 'p0.sock') }),
        (e: ApiError) =>
          e.code === 'invalid' &&
          e.issues![0].field === 'vhostServerPath' &&
          /only root, the agent or QEMU's user can write: .* is writable by every user .*--insecure-socket-dir/.test(e.issues![0].rule),
      );
      assert.equal(JSON.stringify(control.state()), before);
      assert.equal(native.ports.size, 0);
    });

    it('a socket that another user bound is refused at the PUT, naming the field and the rule', () => {
      make([]);
      const p = path.join(dir, 'q', 'p0.sock');
      socketFile(p);
      fs.chownSync(p, NOBODY, NOBODY);
      assert.throws(
        () => control.ports.put('p0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: p }),
        (e: ApiError) =>
          e.issues![0].field === 'vhostServerPath' && /must be a socket owned by root, the agent or QEMU's user.*owned by uid 65534/.test(e.issues![0].rule),
      );
      assert.equal(control.ports.list(false).length, 0);
    });

    it('in an --insecure-socket-dir the port waits out of the datapath until a trusted socket is there, and lets go of one replaced by an untrusted one', () => {
      fs.chmodSync(path.join(dir, 'q'), 0o1777);
      make([path.join(dir, 'q')]);
      const p = path.join(dir, 'q', 'p0.sock');
      control.ports.put('p0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: p });
      assert.equal(native.ports.size, 0, 'not in the datapath while the socket is missing');
      assert.match(control.ports.get('p0').status!.reason!, /^socket missing: /);
      // Another user binds it first: still held out, and the status says why.
      socketFile(p);
      fs.chownSync(p, NOBODY, NOBODY);
      control.ports.admitWaiting(() => {});
      assert.equal(native.ports.size, 0);
      assert.match(
        control.ports.get('p0').status!.reason!,
        /^socket refused: .* owned by uid 65534: the socket must be owned by root, the agent or QEMU's user/,
      );
      // QEMU's (root's) socket: admitted.
      fs.rmSync(p);
      socketFile(p);
      control.ports.admitWaiting(() => {});
      assert.deepEqual(
        [...native.ports.values()].map((x) => x.path),
        [p],
      );
      // Disconnected, and the socket replaced by another user's: let go of.
      fs.rmSync(p);
      socketFile(p);
      fs.chownSync(p, NOBODY, NOBODY);
      control.ports.admitWaiting(() => {});
      assert.equal(native.ports.size, 0);
      assert.match(control.ports.get('p0').status!.reason!, /^socket refused: /);
    });
  });

  describe("QEMU's user", () => {
    const nobody = { user: 'nobody', uid: NOBODY, gids: [NOBODY] };
    it('permissions are computed for that user, not as root', () => {
      assert.equal(permits({ uid: 0, gid: 0, mode: 0o700 }, nobody, 0o3), false);
      assert.equal(permits({ uid: 0, gid: NOBODY, mode: 0o770 }, nobody, 0o3), true);
      assert.equal(permits({ uid: 0, gid: 0, mode: 0o700 }, { user: 'root', uid: 0, gids: [0] }, 0o3), true);
    });

    it('a directory QEMU cannot write is named, with its owner and mode; one the agent will create is judged as it creates it', () => {
      fs.chmodSync(dir, 0o755);
      assert.match(cannotCreateIn(dir, nobody, { gid: 0, mode: 0o700 })!, /is not writable by nobody \(uid 65534\), who runs QEMU \(owner 0:0, mode 755\)/);
      assert.match(cannotCreateIn(path.join(dir, 'new'), nobody, { gid: 0, mode: 0o700 })!, /new is not writable by nobody/);
      assert.equal(cannotCreateIn(path.join(dir, 'new'), nobody, { gid: NOBODY, mode: 0o770 }), undefined);
      fs.chmodSync(dir, 0o700);
      assert.match(cannotCreateIn(path.join(dir, 'new'), nobody, { gid: NOBODY, mode: 0o770 })!, /is not searchable by nobody/);
    });
  });

  describe('guest files and hugetlbfs mounts', () => {
    it('a path outside the configured directories, or through a symlink out of them, or a block device, is refused naming the field', () => {
      const images = path.join(dir, 'images');
      fs.mkdirSync(images);
      fs.writeFileSync(path.join(images, 'vm.qcow2'), '');
      assert.equal(filePathIssue('boot.image', path.join(images, 'vm.qcow2'), [images], 'file', '--image-dir'), undefined);
      assert.match(
        filePathIssue('boot.image', '/dev/sda', [images], 'file', '--image-dir')!.rule,
        /must be inside .*images \(--image-dir; \/dev\/sda is not\)/,
      );
      fs.symlinkSync('/etc/passwd', path.join(images, 'link'));
      assert.match(filePathIssue('boot.kernel', path.join(images, 'link'), [images], 'file', '--image-dir')!.rule, /link is \/etc\/passwd/);
      execFileSync('mknod', [path.join(images, 'blk'), 'b', '7', '200']);
      assert.match(
        filePathIssue('boot.image', path.join(images, 'blk'), [images], 'file', '--image-dir')!.rule,
        /must not be a block device .* --allow-block-devices/,
      );
      assert.equal(filePathIssue('boot.image', path.join(images, 'blk'), [images], 'file', '--image-dir', true), undefined);
      assert.match(filePathIssue('hugepagesPath', path.join(images, 'vm.qcow2'), [images], 'dir', '--hugepages-dir')!.rule, /must be a directory/);
    });

    it('a GuestVM with a disk image or hugepagesPath outside them is refused, dry run or not, and nothing is stored', async () => {
      const store = new Store(path.join(dir, 'state'), { log: () => {} });
      try {
        const control = new Control(
          store,
          new Datapath(new FakeNative()),
          { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} },
          {
            pmdCpus: [1],
            hugepages: true,
            memoryMb: 256,
            vhostIommuSupport: false,
          },
        );
        const supervisor = new GuestSupervisor({ stateDir: path.join(dir, 'guests'), qemuBinary: '/bin/false' });
        const never = { name: 'qemu' } as never;
        const guests = new Guests(store, control, supervisor, {
          log: () => {},
          backends: new GuestBackends({ qemu: never, libvirt: never }),
          files: { imageDirs: [path.join(dir, 'images')], hugepageDirs: ['/dev/hugepages'], allowBlockDevices: false },
        });
        const spec = GuestVmSpec.parse({ name: 'vm0', boot: { kind: 'disk', image: '/dev/sda' }, hugepagesPath: '/etc' });
        for (const dryRun of [true, false])
          await assert.rejects(
            guests.put('vm0', spec, { dryRun }),
            (e: ApiError) =>
              e.code === 'invalid' &&
              JSON.stringify(e.issues!.map((i) => i.field)) === '["boot.image","hugepagesPath"]' &&
              /--image-dir/.test(e.issues![0].rule) &&
              /--hugepages-dir/.test(e.issues![1].rule),
          );
        assert.equal(store.list('guest').length, 0);
        // A HugepageConfig mounting hugetlbfs over /etc: refused before anything is reserved or mounted.
        const hp = new Hugepages(store, dir, () => {}, { imageDirs: [], hugepageDirs: ['/dev/hugepages'], allowBlockDevices: false });
        assert.throws(
          () => hp.put('h', { name: 'h', pages: 1, mountPath: '/etc' }, { dryRun: true }),
          (e: ApiError) => e.issues![0].field === 'mountPath' && /must be inside \/dev\/hugepages \(--hugepages-dir/.test(e.issues![0].rule),
        );
        assert.equal(store.list('hugepages').length, 0);
      } finally {
        store.close();
      }
    });
  });

  describe('restart-required settings against the host', () => {
    const host = { online: [0, 1], hugeFreeMb: 512, memAvailableMb: 4096 };
    it('PMD CPUs online, free hugepages for hugepages on, available memory without them', () => {
      assert.deepEqual(settingsHostProblems({ ...defaults(), pmdCpus: [1] }, host), []);
      assert.deepEqual(
        settingsHostProblems({ ...defaults(), pmdCpus: [99] }, host).map((p) => p.field),
        ['pmdCpus.0'],
      );
      assert.match(
        settingsHostProblems({ ...defaults(), hugepages: 'on', memoryMb: 1024 }, host)[0].rule,
        /must fit the free hugepages .*1024 MiB asked, 512 MiB free/,
      );
      assert.match(
        settingsHostProblems({ ...defaults(), hugepages: 'off', memoryMb: 8192 }, host)[0].rule,
        /available memory without hugepages .*8192 MiB asked, 4096 MiB available/,
      );
      assert.deepEqual(settingsHostProblems({ ...defaults(), hugepages: 'auto', memoryMb: 1024 }, host), [], 'auto falls back to ordinary memory');
    });

    it('at start, refused stored settings give way to the last good ones, and the refusal names them', () => {
      const lastGood = { pmdCpus: [0], memoryMb: 128, hugepages: 'on' as const, vhostIommuSupport: false };
      const r = runningSettings({ ...defaults(), pmdCpus: [99], hugepages: 'on', memoryMb: 8192 }, [0, 1], lastGood, host);
      assert.deepEqual(r.pmdCpus, [0]);
      assert.equal(r.memoryMb, 128);
      assert.equal(r.hugepages, true);
      assert.deepEqual(
        r.refused!.map((x) => x.field),
        ['pmdCpus.0', 'memoryMb'],
      );
      assert.ok(r.refused!.every((x) => /the last settings the datapath started with are used$/.test(x.rule)));
      // Last good settings this host cannot run either: the defaults.
      const d = runningSettings({ ...defaults(), pmdCpus: [99] }, [0, 1], { ...lastGood, pmdCpus: [7] }, host);
      assert.equal(d.pmdCpus.length, 1);
      assert.notEqual(d.pmdCpus[0], 99);
      assert.match(d.refused![0].rule, /the defaults are used$/);
    });

    it('a PUT the host cannot start with is refused naming the field, and nothing is stored', () => {
      const store = new Store(path.join(dir, 'state'), { log: () => {} });
      try {
        const control = new Control(
          store,
          new Datapath(new FakeNative()),
          { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} },
          {
            pmdCpus: [1],
            hugepages: false,
            memoryMb: 256,
            vhostIommuSupport: false,
          },
        );
        const before = JSON.stringify(control.state());
        assert.throws(
          () => control.settings.put({ hugepages: 'on', memoryMb: 65536 }),
          (e: ApiError) => e.code === 'invalid' && e.issues![0].field === 'memoryMb' && /free hugepages/.test(e.issues![0].rule),
        );
        assert.throws(
          () => control.settings.put({ hugepages: 'off', memoryMb: 65536 }, { dryRun: true }),
          (e: ApiError) => e.issues![0].field === 'memoryMb' && /available memory/.test(e.issues![0].rule),
        );
        assert.equal(JSON.stringify(control.state()), before);
      } finally {
        store.close();
      }
    });
  });
});
