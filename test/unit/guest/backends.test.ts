// Guests' dispatch to GuestBackends (own logic; recording backends stand in for QEMU and libvirtd):
// each guest goes to the backend its spec names, and reconcile keeps, stops and starts where it must.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GuestVmSpec, parse, type GuestSpec } from '../../../datapath/api';
import { Control } from '../../../datapath/agent/control/plane';
import { Datapath } from '../../../datapath/agent/datapath';
import {
  GuestBackends,
  GuestSupervisor,
  parseQemuVersion,
  type BackendGuestStatus,
  type GuestBackend,
  type GuestBackendName,
} from '../../../datapath/agent/guest';
import { Guests } from '../../../datapath/agent/control/guests';
import { Store } from '../../../datapath/agent/store';
import { FakeNative } from '../../helpers/fake-native';

class RecordingBackend implements GuestBackend {
  readonly calls: string[] = [];
  constructor(
    readonly name: GuestBackendName,
    /** Guests a previous agent left: adopt() keeps them. */
    private readonly running: string[] = [],
  ) {}
  async unavailable() {
    return undefined;
  }
  async start(spec: GuestSpec) {
    this.calls.push(`start ${spec.name}`);
    this.running.push(spec.name);
  }
  async stop(name: string) {
    if (!this.running.includes(name)) return;
    this.calls.push(`stop ${name}`);
    this.running.splice(this.running.indexOf(name), 1);
  }
  async status(spec: GuestSpec): Promise<BackendGuestStatus | undefined> {
    if (!this.running.includes(spec.name)) return undefined;
    return {
      name: spec.name,
      state: 'running',
      pid: 1000 + this.running.indexOf(spec.name),
      accel: 'tcg',
      qemuVersion: '7.2.0',
      notes: [],
      restarts: 0,
      adopted: false,
      consoleLog: '/dev/null',
    };
  }
  async adopt() {
    return [...this.running];
  }
  async list() {
    return [...this.running];
  }
  definition(_spec: GuestSpec, notes: string[]) {
    return { libvirtXml: `<domain by='${this.name}'/>`, notes };
  }
  detach() {}
}

describe('guest backends: the one place a guest is dispatched (own logic)', () => {
  let dir: string;
  let store: Store;
  let control: Control;
  let supervisor: GuestSupervisor;
  const running = { pmdCpus: [1], hugepages: true, memoryMb: 256, vhostIommuSupport: false };
  const guestSpec = (name: string, port: string, backend: GuestBackendName) =>
    parse(GuestVmSpec, { name, memoryMb: 256, accel: 'tcg', boot: { kind: 'kernel', kernel: '/k' }, nics: [{ port }], backend }, 'guest');
  const make = (qemu: RecordingBackend, libvirt: RecordingBackend) =>
    // The kernel '/k' is never read: every directory is an image directory here.
    new Guests(store, control, supervisor, {
      backends: new GuestBackends({ qemu, libvirt }),
      log: () => {},
      files: { imageDirs: ['/'], hugepageDirs: ['/dev/hugepages'], allowBlockDevices: false },
    });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-backends-'));
    store = new Store(path.join(dir, 'state'), { log: () => {} });
    control = new Control(store, new Datapath(new FakeNative()), { runDir: path.join(dir, 'run'), allowedSocketDirs: [dir], log: () => {} }, running);
    control.bridges.put('br0', {});
    for (const p of ['pa', 'pb', 'pc']) control.ports.put(p, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(dir, 'q', `${p}.sock`) });
    supervisor = new GuestSupervisor({ stateDir: path.join(dir, 'guests'), detectVersion: async () => parseQemuVersion('QEMU emulator version 7.2.0') });
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reconcile keeps what each backend runs, stops what is not stored there, starts the rest where the spec says', async () => {
    const { expectedVersion: _a, ...a } = guestSpec('a', 'pa', 'qemu');
    const { expectedVersion: _b, ...b } = guestSpec('b', 'pb', 'libvirt');
    const { expectedVersion: _c, ...c } = guestSpec('c', 'pc', 'libvirt');
    store.transaction(() => [a, b, c].forEach((g) => store.put('guest', g.name, g)));
    // qemu runs a (kept), x (no longer stored) and b (stored for libvirt); libvirt runs c (kept).
    const qemu = new RecordingBackend('qemu', ['a', 'x', 'b']);
    const libvirt = new RecordingBackend('libvirt', ['c']);
    await make(qemu, libvirt).reconcile();
    assert.deepEqual(qemu.calls, ['stop x', 'stop b']);
    assert.deepEqual(libvirt.calls, ['start b']);
  });

  it("a put starts the guest in its spec's backend only; the state shows that backend's definition and status; delete stops it there", async () => {
    const qemu = new RecordingBackend('qemu');
    const libvirt = new RecordingBackend('libvirt');
    const guests = make(qemu, libvirt);
    // 64 MiB: the put checks the host's free hugepages (scripts/setup.sh reserves them).
    const r = await guests.put('b', { memoryMb: 64, accel: 'tcg', boot: { kind: 'kernel', kernel: '/k' }, nics: [{ port: 'pb' }], backend: 'libvirt' });
    assert.equal(r.changes[0].op, 'create');
    assert.deepEqual(libvirt.calls, ['start b']);
    assert.deepEqual(qemu.calls, []);
    assert.equal(r.object!.libvirtXml, "<domain by='libvirt'/>");
    assert.equal(r.object!.status!.pid, 1000);
    await guests.delete('b');
    assert.deepEqual(libvirt.calls, ['start b', 'stop b']);
    assert.deepEqual(qemu.calls, []);
  });
});
