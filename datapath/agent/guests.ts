// GuestVMs on the agent: each NIC is paired with the datapath port it plugs into, the host's
// resources are checked before QEMU starts (hugepages, PMD cores, socket directories), and the
// store is the truth the supervisor is reconciled to. Guests outlive the agent.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ApiError,
  GuestVmSpec,
  pairNics,
  parse,
  type ChangeResult,
  type GuestSpec,
  type PlannedChange,
  type PortEnd,
  type PortSpec,
} from '../api';
import type { Control } from './control';
import { chooseAccel, formatVersion, renderLibvirtXml, type GuestStatus, type GuestSupervisor } from './guest';
import { LibvirtBackend, withTcgVectorsOverride, type LibvirtGuestStatus } from './guest/libvirt-backend';
import type { Store } from './store';

export interface GuestState extends Omit<GuestVmSpec, 'expectedVersion'> {
  version: number;
  /** The QEMU command line the agent runs (binary first). */
  qemuCommand: string[];
  /** The equivalent libvirt domain XML. */
  libvirtXml: string;
  notes: string[];
  status?: Omit<GuestStatus, 'command' | 'paths'> & { consoleLog: string };
}

function isVhostPort(spec: { type: string }): boolean {
  return spec.type === 'dpdkvhostuserclient' || spec.type === 'dpdkvhostuser';
}

/** Free hugepage memory of the default size, MiB, and the page size, from /proc/meminfo. */
function hugepageMemory(): { freeMb: number; totalMb: number; pageMb: number } {
  const m = fs.readFileSync('/proc/meminfo', 'utf8');
  const num = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(m)?.[1] ?? 0);
  const pageMb = num('Hugepagesize') / 1024;
  return { freeMb: num('HugePages_Free') * pageMb, totalMb: num('HugePages_Total') * pageMb, pageMb };
}

/** virsh domstate, as the supervisor's states. */
function libvirtState(s: LibvirtGuestStatus): GuestStatus['state'] {
  if (s.state === 'running' || s.state === 'paused' || s.state === 'idle' || s.state === 'in shutdown') return 'running';
  return s.state === 'crashed' ? 'crashed' : 'stopped';
}

export class Guests {
  /** One change at a time: QEMU starts and stops are slow and must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly libvirt: LibvirtBackend;
  /** libvirt guests found running by reconcile() rather than started by this agent. */
  private readonly libvirtAdopted = new Set<string>();
  private guestsDir?: string;

  constructor(
    private readonly store: Store,
    private readonly control: Control,
    private readonly supervisor: GuestSupervisor,
    private readonly opts: { socketGid?: number; log?: (m: string) => void; libvirt?: LibvirtBackend },
  ) {
    this.libvirt = opts.libvirt ?? new LibvirtBackend();
  }

  /**
   * The supervisor's state dir (libvirt guests keep their directories there too), read off the
   * -pidfile of a planned command: the supervisor does not expose it otherwise.
   */
  private async stateDir(): Promise<string> {
    if (!this.guestsDir) {
      const plan = await this.supervisor.plan({ name: 'probe', boot: { kind: 'kernel', kernel: '/probe' } });
      const argv = plan.command.argv;
      this.guestsDir = path.dirname(path.dirname(argv[argv.indexOf('-pidfile') + 1]));
    }
    return this.guestsDir;
  }

  /** Refuses the libvirt backend where no libvirtd answers (dry runs too). */
  private async checkBackend(spec: { backend?: string }): Promise<void> {
    if (spec.backend !== 'libvirt') return;
    const why = await this.libvirt.unavailable();
    if (why) throw new ApiError('invalid', `invalid guest: backend must be 'qemu' on this host: ${why}`, [{ field: 'backend', rule: `must be 'qemu' where no libvirtd answers: ${why}` }]);
  }

  /** Whether the guest's QEMU runs, whichever backend started it. */
  private async isRunning(name: string): Promise<boolean> {
    if (this.supervisor.status(name)?.pid) return true;
    return !!(await this.libvirt.status(name, await this.stateDir()))?.pid;
  }

  private async startGuest(spec: GuestSpec): Promise<void> {
    this.prepareSocketDirs(spec);
    if (spec.backend === 'libvirt') await this.libvirt.start(spec, chooseAccel(spec.accel), await this.stateDir());
    else await this.supervisor.start(spec);
  }

  /** Stops and forgets the guest in whichever backend has it. */
  private async stopGuest(name: string): Promise<void> {
    if (this.supervisor.status(name)) {
      await this.supervisor.stop(name);
      await this.supervisor.remove(name);
    }
    const dir = await this.stateDir();
    if (this.libvirt.list(dir).includes(name)) await this.libvirt.stop(name, dir);
    this.libvirtAdopted.delete(name);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private portEnd = (name: string): PortEnd | undefined => {
    const p = this.store.get<PortSpec>('port', name);
    if (!p || !isVhostPort(p.spec)) return undefined;
    const s = this.control.port(name, false);
    return { name, socketPath: s.socketPath, mode: p.spec.type === 'dpdkvhostuserclient' ? 'client' : 'server', queues: s.queues, mac: s.mac };
  };

  /** Pairs NICs with ports and returns the spec QEMU runs; refuses what cannot work, naming fields. */
  private resolve(spec: Omit<GuestVmSpec, 'expectedVersion'>): GuestSpec {
    const paired = pairNics(spec.nics, this.portEnd);
    const { nics } = paired;
    // A tunnel port has no socket: say so, rather than "does not exist".
    const tunnels = new Set(spec.nics.map((n, i) => (this.store.get<{ type: string }>('port', n.port)?.spec.type === 'vxlan' ? `nics.${i}.port` : '')).filter(Boolean));
    const problems = paired.problems.filter((p) => !tunnels.has(p.field));
    for (const field of tunnels) problems.push({ field, rule: 'must name a vhost-user port (a vxlan tunnel port carries no guest)' });
    // Two guests on one socket: the second QEMU could never connect.
    for (const g of this.store.list<GuestVmSpec>('guest')) {
      if (g.name === spec.name) continue;
      for (const n of g.spec.nics)
        spec.nics.forEach((mine, i) => {
          if (mine.port === n.port) problems.push({ field: `nics.${i}.port`, rule: `must not be a port another guest uses (${g.name} is on ${n.port})` });
        });
    }
    if (problems.length) throw new ApiError('invalid', `invalid guest: ${problems.map((p) => `${p.field} ${p.rule}`).join('; ')}`, problems);
    const { owner: _o, nics: _n, ...rest } = spec;
    return { ...rest, nics } as GuestSpec;
  }

  /** Host checks a dry run makes too: hugepages, PMD cores, socket directories. */
  private checkHost(spec: GuestSpec, replacing?: GuestSpec): void {
    const problems: { field: string; rule: string }[] = [];
    const hp = hugepageMemory();
    const reclaim = replacing && this.supervisor.status(replacing.name)?.pid ? replacing.memoryMb : 0;
    if (spec.memoryMb % hp.pageMb !== 0)
      problems.push({ field: 'memoryMb', rule: `must be a multiple of the hugepage size (${hp.pageMb} MiB)` });
    if (spec.memoryMb > hp.freeMb + reclaim)
      problems.push({
        field: 'memoryMb',
        rule: `must fit the free hugepages: the guest needs ${spec.memoryMb} MiB, ${hp.freeMb + reclaim} MiB are free (${hp.totalMb} MiB reserved, the datapath and running guests hold the rest); reserve more with a HugepageConfig`,
      });
    const pmds = this.control.running.pmdCpus;
    (spec.pinning?.vcpus ?? []).forEach((cpus, i) => {
      const clash = cpus.filter((c) => pmds.includes(c));
      if (clash.length) problems.push({ field: `pinning.vcpus.${i}`, rule: `must not use the PMD cores (${clash.join(',')}): a vCPU there starves the datapath` });
    });
    const clashE = (spec.pinning?.emulator ?? []).filter((c) => pmds.includes(c));
    if (clashE.length) problems.push({ field: 'pinning.emulator', rule: `must not use the PMD cores (${clashE.join(',')})` });
    spec.nics.forEach((n, i) => {
      if (n.portMode !== 'client') return; // QEMU creates client ports' sockets: it needs their directory
      const dir = path.dirname(n.socketPath);
      let at = dir;
      while (!fs.existsSync(at)) at = path.dirname(at);
      try {
        fs.accessSync(at, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        problems.push({ field: `nics.${i}.socketPath`, rule: `must be in a directory QEMU can write (${at} is not writable)` });
      }
    });
    if (problems.length) throw new ApiError('invalid', `guest ${spec.name} cannot run here: ${problems.map((p) => `${p.field} ${p.rule}`).join('; ')}`, problems);
  }

  private async render(name: string, spec: Omit<GuestVmSpec, 'expectedVersion'>, version: number, withStatus: boolean): Promise<GuestState> {
    const resolved = this.resolve(spec);
    const plan = await this.supervisor.plan(resolved);
    const accel = chooseAccel(plan.spec.accel);
    const xml = renderLibvirtXml(plan.spec, { accel });
    const state: GuestState = { ...spec, version, qemuCommand: [plan.command.binary, ...plan.command.argv], libvirtXml: xml.xml, notes: [...plan.command.notes, ...xml.notes] };
    if (plan.spec.backend === 'libvirt') {
      // What is actually defined: vectors=0 through qemu:override under TCG, console to a file.
      const dir = await this.stateDir();
      const lv = withStatus ? await this.libvirt.status(name, dir) : undefined;
      state.libvirtXml = withTcgVectorsOverride(renderLibvirtXml(plan.spec, { accel, consoleLog: path.join(dir, name, 'console.log') }).xml, plan.spec, accel);
      state.notes = [...plan.command.notes, ...(accel.accel === 'tcg' && plan.spec.nics.length ? ['libvirt: vectors=0 set through <qemu:override> (libvirt has no interface vectors attribute)'] : [])];
      if (lv) {
        const s = libvirtState(lv);
        state.status = { name, state: s, pid: lv.pid, accel: accel.accel, qemuVersion: formatVersion(await this.supervisor.qemuVersion()), notes: [`libvirt domain state: ${lv.state}`], restarts: 0, adopted: this.libvirtAdopted.has(name), consoleLog: lv.consoleLog };
      }
      return state;
    }
    const st = withStatus ? this.supervisor.status(name) : undefined;
    if (st) {
      const { command: _c, paths, ...rest } = st;
      state.status = { ...rest, consoleLog: paths.consoleLog };
    }
    return state;
  }

  /** Stored specs only, for /state: what a dry run must leave byte-for-byte. */
  specs(): (GuestVmSpec & { version: number })[] {
    return this.store.list<GuestVmSpec>('guest').map((g) => ({ ...g.spec, version: g.version }));
  }

  async guest(name: string): Promise<GuestState> {
    const g = this.store.get<GuestVmSpec>('guest', name);
    if (!g) throw new ApiError('not_found', `guest ${name} does not exist`);
    return this.render(name, g.spec, g.version, true);
  }

  async guests(): Promise<GuestState[]> {
    return Promise.all(this.store.list<GuestVmSpec>('guest').map((g) => this.render(g.name, g.spec, g.version, true)));
  }

  putGuest(name: string, input: unknown, o: { dryRun?: boolean; adopt?: boolean } = {}): Promise<ChangeResult<GuestState>> {
    return this.serial(async () => {
      const body = input && typeof input === 'object' && !Array.isArray(input) ? { ...(input as object), name } : input;
      const { expectedVersion, ...spec } = parse(GuestVmSpec, body, 'guest');
      const cur = this.store.get<GuestVmSpec>('guest', name);
      if (expectedVersion !== undefined && expectedVersion !== (cur?.version ?? 0))
        throw new ApiError('conflict', `guest ${name} is at version ${cur?.version ?? 0}, not ${expectedVersion}`, [{ field: 'expectedVersion', rule: `must be the current version (${cur?.version ?? 0})` }]);
      if (cur?.spec.owner && spec.owner && cur.spec.owner !== spec.owner && !o.adopt)
        throw new ApiError('conflict', `guest ${name} is managed by ${cur.spec.owner}; adopt it to take it over`, [{ field: 'owner', rule: `must be ${cur.spec.owner}, or adopt on purpose` }]);
      const resolved = this.resolve(spec);
      const old = cur ? this.resolve(cur.spec) : undefined;
      const same = !!cur && JSON.stringify(cur.spec) === JSON.stringify(spec);
      const running = await this.isRunning(name);
      const restart = !!cur && JSON.stringify(old) !== JSON.stringify(resolved);
      const change: PlannedChange = {
        op: !cur ? 'create' : same ? 'none' : restart ? 'replace' : 'update',
        kind: 'guest',
        name,
        diff: Object.keys({ ...cur?.spec, ...spec })
          .filter((k) => JSON.stringify((cur?.spec as Record<string, unknown> | undefined)?.[k]) !== JSON.stringify((spec as Record<string, unknown>)[k]))
          .map((k) => ({ field: k, from: (cur?.spec as Record<string, unknown> | undefined)?.[k], to: (spec as Record<string, unknown>)[k] })),
        disruptive: restart && running,
        ...(restart ? { why: 'the guest restarts with the new command line' } : {}),
      };
      if (change.op === 'create' || restart) {
        await this.checkBackend(resolved);
        this.checkHost(resolved, old);
      }
      const nextVersion = (cur?.version ?? 0) + (change.op === 'none' ? 0 : 1);
      if (o.dryRun || change.op === 'none')
        return { dryRun: !!o.dryRun, changes: [change], object: await this.render(name, spec, nextVersion, !o.dryRun), warnings: [] };

      const version = this.store.transaction(() => this.store.put('guest', name, spec));
      try {
        if (restart) await this.stopGuest(name);
        if (change.op === 'create' || restart) await this.startGuest(resolved);
      } catch (e) {
        // Nothing acknowledged: put back what was stored (and its guest, if it was running).
        this.store.transaction(() => (cur ? this.store.put('guest', name, cur.spec) : this.store.delete('guest', name)));
        if (old && restart && !(await this.isRunning(name))) await this.startGuest(old).catch(() => undefined);
        throw new ApiError('datapath', `guest ${name} did not start: ${(e as Error).message}`);
      }
      this.log(`guest ${name} ${change.op}d`);
      return { dryRun: false, changes: [change], object: await this.render(name, spec, version, true), warnings: [] };
    });
  }

  deleteGuest(name: string, o: { dryRun?: boolean } = {}): Promise<ChangeResult<GuestState>> {
    return this.serial(async () => {
      const cur = this.store.get<GuestVmSpec>('guest', name);
      if (!cur) return { dryRun: !!o.dryRun, changes: [{ op: 'none', kind: 'guest', name, diff: [], disruptive: false }], warnings: [] };
      const change: PlannedChange = { op: 'delete', kind: 'guest', name, diff: [], disruptive: true, why: 'the guest is stopped' };
      if (o.dryRun) return { dryRun: true, changes: [change], warnings: [] };
      // The store first: a crash after it leaves a guest the next start stops (reconcile).
      this.store.transaction(() => this.store.delete('guest', name));
      await this.stopGuest(name);
      this.log(`guest ${name} deleted`);
      return { dryRun: false, changes: [change], warnings: [] };
    });
  }

  /** At start: finds running guests again, stops those no longer stored, starts stored ones never started. */
  async reconcile(): Promise<void> {
    await this.supervisor.adopt();
    const stored = new Map(this.store.list<GuestVmSpec>('guest').map((g) => [g.name, g.spec]));
    for (const s of this.supervisor.list())
      if (!stored.has(s.name) || stored.get(s.name)!.backend === 'libvirt') {
        await this.supervisor.stop(s.name).catch(() => undefined);
        await this.supervisor.remove(s.name).catch(() => undefined);
      }
    // No state dir (QEMU cannot even be planned here): no libvirt guest can exist either.
    const dir = await this.stateDir().catch(() => undefined);
    // libvirt guests are found again through virsh domstate; domains no longer stored are undefined.
    for (const name of dir ? this.libvirt.list(dir) : [])
      if (stored.get(name)?.backend !== 'libvirt') await this.libvirt.stop(name, dir!).catch((e: Error) => this.log(`libvirt guest ${name} not removed: ${e.message}`));
    for (const [name, spec] of stored) {
      if (spec.backend === 'libvirt') {
        const lv = dir ? await this.libvirt.status(name, dir).catch(() => undefined) : undefined;
        if (lv?.pid) {
          this.libvirtAdopted.add(name);
          continue;
        }
      } else if (this.supervisor.status(name)) continue;
      try {
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
      fs.mkdirSync(dir, { recursive: true, mode: this.opts.socketGid !== undefined ? 0o770 : 0o700 });
      if (this.opts.socketGid !== undefined) fs.chownSync(dir, process.getuid!(), this.opts.socketGid);
    }
  }

  private log(m: string): void {
    (this.opts.log ?? ((x: string) => process.stderr.write(`vhostnet-agent: ${x}\n`)))(m);
  }
}
