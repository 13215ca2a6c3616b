// GuestVMs on the agent: each NIC is paired with the datapath port it plugs into, the host's
// resources are checked before QEMU starts (hugepages, PMD cores, socket directories), and the
// store is the truth the supervisor is reconciled to. Guests outlive the agent.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ApiError,
  GuestVmSpec,
  pairNics,
  type ChangeOptions,
  type ChangeResult,
  type GuestSpec,
  type GuestVmState,
  type PlannedChange,
  type Stored,
} from '../../api';
import { guestBackends, type GuestBackends, type GuestSupervisor } from '../guest';
import { defaultFilePolicy, filePathIssue, type FilePolicy } from '../file-policy';
import { cannotCreateIn, hugepageMemory, selfIdentity, type Identity } from '../host';
import type { Store, StoredObject } from '../store';
import { ChangeSequence, diffFields, type AsyncObjectClass, type AsyncPlan } from './change';
import type { Control } from './plane';

type StoredGuest = Stored<GuestVmSpec>;

export class Guests implements AsyncObjectClass<GuestVmSpec, StoredGuest, GuestVmState> {
  readonly kind = 'guest';
  readonly what = 'guest';
  readonly schema = GuestVmSpec;
  readonly named = true;
  private readonly changes: ChangeSequence;
  /** One change at a time: QEMU starts and stops are slow and must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Who runs each guest's QEMU: the spec's `backend` picks one here (see guest/backend.ts). */
  private readonly backends: GuestBackends;

  constructor(
    private readonly store: Store,
    private readonly control: Control,
    /** Plans every guest's QEMU command, whichever backend runs it. */
    private readonly supervisor: GuestSupervisor,
    private readonly opts: {
      socketGid?: number;
      log?: (m: string) => void;
      backends?: GuestBackends;
      /** Where images, kernels, initrds and hugepagesPath may be (file-policy.ts); default: the packaged directories. */
      files?: FilePolicy;
      /** The user QEMU runs as under each backend: 'qemu' is the agent itself, 'libvirt' qemu.conf's user. */
      qemuIdentity?: (backend: GuestSpec['backend']) => Identity;
    },
  ) {
    this.backends = opts.backends ?? guestBackends(supervisor);
    this.changes = new ChangeSequence(store, (m) => this.log(m));
  }

  /** Refuses a backend this host cannot run (dry runs too): 'qemu' always can. */
  private async checkBackend(spec: GuestSpec): Promise<void> {
    const no = await this.backends.of(spec).unavailable();
    if (no)
      throw new ApiError('invalid', `invalid guest: backend must be 'qemu' on this host: ${no.why}`, [
        { field: 'backend', rule: `must be 'qemu' where ${no.missing}: ${no.why}` },
      ]);
  }

  /** Whether the guest's QEMU runs, whichever backend started it. */
  private async isRunning(spec: GuestSpec): Promise<boolean> {
    for (const b of this.backends.all()) if ((await b.status(spec))?.pid) return true;
    return false;
  }

  private async startGuest(spec: GuestSpec): Promise<void> {
    this.prepareSocketDirs(spec);
    await this.backends.of(spec).start(spec);
  }

  /** Stops and forgets the guest in whichever backend has it. */
  private async stopGuest(name: string): Promise<void> {
    for (const b of this.backends.all()) await b.stop(name);
  }

  /** Agent shutdown: every guest keeps running, for the next agent to adopt. */
  detach(): void {
    for (const b of this.backends.all()) b.detach();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Pairs NICs with ports and returns the spec QEMU runs; refuses what cannot work, naming fields. */
  private resolve(spec: StoredGuest): GuestSpec {
    const ports = this.control.ports;
    const paired = pairNics(spec.nics, (name) => ports.guestEnd(name));
    const { nics } = paired;
    // A port no guest plugs into (a tunnel) has no socket: say so, rather than "does not exist".
    const plugless = new Map<string, string>();
    spec.nics.forEach((n, i) => {
      const p = ports.current(n.port);
      if (p && !ports.guestEnd(n.port)) plugless.set(`nics.${i}.port`, p.spec.type);
    });
    const problems = paired.problems.filter((p) => !plugless.has(p.field));
    for (const [field, type] of plugless) problems.push({ field, rule: `must name a vhost-user port (a ${type} port carries no guest)` });
    // Two guests on one socket: the second QEMU could never connect.
    for (const g of this.store.list<StoredGuest>('guest')) {
      if (g.name === spec.name) continue;
      for (const n of g.spec.nics)
        spec.nics.forEach((mine, i) => {
          if (mine.port === n.port) problems.push({ field: `nics.${i}.port`, rule: `must not be a port another guest uses (${g.name} is on ${n.port})` });
        });
    }
    if (problems.length) throw new ApiError('invalid', `invalid guest: ${problems.map((p) => `${p.field} ${p.rule}`).join('; ')}`, problems);
    const { owner: _o, nics: _n, ...rest } = spec;
    return { ...rest, nics };
  }

  /** Refuses files and directories outside the configured ones, and block devices (dry runs too). */
  private checkPaths(spec: StoredGuest): void {
    const f = this.opts.files ?? defaultFilePolicy();
    const b = spec.boot;
    const issues = [
      b.kind === 'disk' ? filePathIssue('boot.image', b.image, f.imageDirs, 'file', '--image-dir', f.allowBlockDevices) : undefined,
      b.kind === 'kernel' ? filePathIssue('boot.kernel', b.kernel, f.imageDirs, 'file', '--image-dir') : undefined,
      b.kind === 'kernel' && b.initrd !== undefined ? filePathIssue('boot.initrd', b.initrd, f.imageDirs, 'file', '--image-dir') : undefined,
      filePathIssue('hugepagesPath', spec.hugepagesPath, f.hugepageDirs, 'dir', '--hugepages-dir'),
    ].filter((i) => i !== undefined);
    if (issues.length) throw new ApiError('invalid', `invalid guest: ${issues.map((p) => `${p.field} ${p.rule}`).join('; ')}`, issues);
  }

  /** Host checks a dry run makes too: hugepages, PMD cores, socket directories. */
  private checkHost(spec: GuestSpec, replacing?: GuestSpec, replacingRuns = false): void {
    const problems: { field: string; rule: string }[] = [];
    const hp = hugepageMemory();
    const reclaim = replacing && replacingRuns ? replacing.memoryMb : 0;
    if (spec.memoryMb % hp.pageMb !== 0) problems.push({ field: 'memoryMb', rule: `must be a multiple of the hugepage size (${hp.pageMb} MiB)` });
    if (spec.memoryMb > hp.freeMb + reclaim)
      problems.push({
        field: 'memoryMb',
        rule: `must fit the free hugepages: the guest needs ${spec.memoryMb} MiB, ${hp.freeMb + reclaim} MiB are free (${hp.totalMb} MiB reserved, the datapath and running guests hold the rest); reserve more with a HugepageConfig`,
      });
    const pmds = this.control.running.pmdCpus;
    (spec.pinning?.vcpus ?? []).forEach((cpus, i) => {
      const clash = cpus.filter((c) => pmds.includes(c));
      if (clash.length)
        problems.push({ field: `pinning.vcpus.${i}`, rule: `must not use the PMD cores (${clash.join(',')}): a vCPU there starves the datapath` });
    });
    const clashE = (spec.pinning?.emulator ?? []).filter((c) => pmds.includes(c));
    if (clashE.length) problems.push({ field: 'pinning.emulator', rule: `must not use the PMD cores (${clashE.join(',')})` });
    spec.nics.forEach((n, i) => {
      if (n.portMode !== 'client') return; // QEMU creates client ports' sockets: it needs their directory
      // As the user QEMU runs as, not access() as root (which always passes); a directory the agent
      // will create is judged as prepareSocketDirs makes it.
      const who = (this.opts.qemuIdentity ?? (() => selfIdentity()))(spec.backend);
      const created = this.opts.socketGid !== undefined ? { gid: this.opts.socketGid, mode: 0o770 } : { gid: process.getgid?.() ?? 0, mode: 0o700 };
      const why = cannotCreateIn(path.dirname(n.socketPath), who, created);
      if (why) problems.push({ field: `nics.${i}.socketPath`, rule: `must be in a directory QEMU can write: ${why}` });
    });
    if (problems.length)
      throw new ApiError('invalid', `guest ${spec.name} cannot run here: ${problems.map((p) => `${p.field} ${p.rule}`).join('; ')}`, problems);
  }

  private async render(name: string, spec: StoredGuest, version: number, withStatus: boolean): Promise<GuestVmState> {
    const resolved = this.resolve(spec);
    const plan = await this.supervisor.plan(resolved);
    const backend = this.backends.of(plan.spec);
    const state: GuestVmState = {
      ...spec,
      version,
      qemuCommand: [plan.command.binary, ...plan.command.argv],
      ...backend.definition(plan.spec, plan.command.notes),
    };
    const status = withStatus ? await backend.status(plan.spec) : undefined;
    if (status) state.status = status;
    return state;
  }

  /** Stored specs only, for /state: what a dry run must leave byte-for-byte. */
  specs(): (StoredGuest & { version: number })[] {
    return this.store.list<StoredGuest>('guest').map((g) => ({ ...g.spec, version: g.version }));
  }

  current(name: string): StoredObject<StoredGuest> | undefined {
    return this.store.get<StoredGuest>('guest', name);
  }

  async get(name: string): Promise<GuestVmState> {
    const g = this.current(name);
    if (!g) throw new ApiError('not_found', `guest ${name} does not exist`);
    return this.render(name, g.spec, g.version, true);
  }

  async list(): Promise<GuestVmState[]> {
    return Promise.all(this.store.list<StoredGuest>('guest').map((g) => this.render(g.name, g.spec, g.version, true)));
  }

  put(name: string, input: unknown, o: ChangeOptions = {}): Promise<ChangeResult<GuestVmState>> {
    return this.serial(() => this.changes.putAsync(this, name, input, o));
  }

  delete(name: string, o: ChangeOptions = {}): Promise<ChangeResult<GuestVmState>> {
    return this.serial(() => this.changes.removeAsync(this, name, o));
  }

  async plan(name: string, spec: StoredGuest, cur: StoredObject<StoredGuest> | undefined): Promise<AsyncPlan<GuestVmState>> {
    const resolved = this.resolve(spec);
    const old = cur ? this.resolve(cur.spec) : undefined;
    const diff = diffFields(cur?.spec, spec);
    const restart = !!cur && JSON.stringify(old) !== JSON.stringify(resolved);
    const change: PlannedChange = {
      op: !cur ? 'create' : !diff.length ? 'none' : restart ? 'replace' : 'update',
      kind: 'guest',
      name,
      diff,
      disruptive: restart && (await this.isRunning(resolved)),
      ...(restart ? { why: 'the guest restarts with the new command line' } : {}),
    };
    if (change.op !== 'none') this.checkPaths(spec);
    if (change.op === 'create' || restart) {
      await this.checkBackend(resolved);
      this.checkHost(resolved, old, !!old && (await this.isRunning(old)));
    }
    return {
      changes: [change],
      stored: spec,
      object: (version, live) => this.render(name, spec, version, live),
      apply: async () => {
        try {
          if (restart) await this.stopGuest(name);
          if (change.op === 'create' || restart) await this.startGuest(resolved);
        } catch (e) {
          throw new ApiError('datapath', `guest ${name} did not start: ${(e as Error).message}`);
        }
      },
      // Nothing acknowledged: the store is put back, and the guest that ran before runs again.
      undo: async () => {
        if (old && restart && !(await this.isRunning(old))) await this.startGuest(old);
      },
    };
  }

  planDelete(name: string): { change: PlannedChange; apply(): Promise<void> } {
    return {
      change: { op: 'delete', kind: 'guest', name, diff: [], disruptive: true, why: 'the guest is stopped' },
      apply: () => this.stopGuest(name),
    };
  }

  /** At start: finds running guests again, stops those no longer stored, starts stored ones never started. */
  async reconcile(): Promise<void> {
    const stored = new Map(this.store.list<StoredGuest>('guest').map((g) => [g.name, g.spec]));
    const kept = new Map<string, Set<string>>();
    for (const b of this.backends.all())
      kept.set(b.name, new Set(await b.adopt().catch((e: Error) => (this.log(`${b.name} guests not adopted: ${e.message}`), []))));
    // A guest no longer stored, or stored for another backend, is stopped where it runs.
    for (const b of this.backends.all())
      for (const name of await b.list()) {
        const spec = stored.get(name);
        if (!spec || this.backends.of(spec) !== b) {
          kept.get(b.name)!.delete(name);
          await b.stop(name).catch((e: Error) => this.log(`${b.name} guest ${name} not removed: ${e.message}`));
        }
      }
    for (const [name, spec] of stored) {
      if (kept.get(this.backends.of(spec).name)!.has(name)) continue;
      try {
        this.checkPaths(spec); // a guest stored before these rules (or under other --image-dir) is not started with them broken
        await this.startGuest(this.resolve(spec));
      } catch (e) {
        this.log(`guest ${name} not started: ${(e as Error).message}`);
      }
    }
  }

  /** QEMU creates client ports' sockets: their directory gets QEMU's group, and no wider. */
  private prepareSocketDirs(spec: GuestSpec): void {
    for (const n of spec.nics) {
      if (n.portMode !== 'client') continue;
      const dir = path.dirname(n.socketPath);
      if (fs.existsSync(dir)) continue;
      const first = fs.mkdirSync(dir, { recursive: true, mode: this.opts.socketGid !== undefined ? 0o770 : 0o700 });
      // Every directory made, not only the last: QEMU must search its way down to it.
      if (this.opts.socketGid !== undefined && first)
        for (let d = dir; d.length >= first.length; d = path.dirname(d)) fs.chownSync(d, process.getuid!(), this.opts.socketGid);
    }
  }

  private log(m: string): void {
    (this.opts.log ?? ((x: string) => process.stderr.write(`vhostnet-agent: ${x}\n`)))(m);
  }
}
