// Runs QEMU guests so they outlive the agent: each QEMU is spawned in its own session
// (detached + unref, stdio to files, -pidfile), controlled over QMP, and found again by
// adopt() after an agent restart (pidfile + /proc/PID/cmdline + QMP socket) instead of being
// started twice. A guest that exits unasked is reported (crashed, exit reason, console tail)
// and restarted per its restartPolicy. Stop = QMP quit, then SIGTERM, then SIGKILL.
import * as fs from 'node:fs';
import { spawn, ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { GuestSpec, GuestSpecInput, parseGuestSpec } from '../../api/guest';
import { Accel, AccelChoice, AccelOptions, chooseAccel } from './accel';
import { buildQemuArgv, QemuCommand } from './argv';
import { GuestPaths, guestPaths, stateDirProblems } from './paths';
import { QmpClient } from './qmp';
import { applyPinning, PinningResult } from './pinning';
import { tailLines } from './console';
import { assertQemuSupports, detectQemuVersion, formatVersion, QemuVersion, requirementsOf } from './version';

/**
 * Closes every fd above stderr, then execs "$0" "$@" (same pid, so -pidfile and adopt() agree).
 * Node's spawn passes on all fds without FD_CLOEXEC, and DPDK creates its vhost-user sockets,
 * eventfds and memseg memfds without it: a QEMU child would hold the agent's end of its own
 * vhost-user connection, so a dead or stopped agent never closes it, QEMU never sees EOF and
 * never accepts the restarted agent's reconnection. It would also pin the dead agent's hugepages.
 * bash, not sh: dash cannot redirect fds above 9.
 */
export const CLOSE_INHERITED_FDS = 'for fd in /proc/self/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$0" "$@"';

export type GuestState = 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'restarting';

export interface GuestStatus {
  name: string;
  state: GuestState;
  pid?: number;
  accel: Accel;
  qemuVersion: string;
  /** Seconds since the QEMU process started (from /proc), while it runs. */
  uptimeSec?: number;
  notes: string[];
  /** The exact command (binary first). */
  command: string[];
  restarts: number;
  /** Found running by adopt() rather than started by this supervisor. */
  adopted: boolean;
  /** Why the last QEMU process ended (crashed/stopped). */
  exitReason?: string;
  /** Last console lines when it ended. */
  lastConsoleLines?: string[];
  pinning?: PinningResult;
  /** Set when QMP or pinning failed after start. */
  error?: string;
  paths: GuestPaths;
}

export interface SupervisorOptions {
  /** One directory per guest is created under it (see paths.ts). */
  stateDir: string;
  qemuBinary?: string;
  /** The user 'qemu'-backend guests run as (--qemu-user; -runas): undefined, the agent's own (root). */
  qemuUser?: string;
  accel?: AccelOptions;
  /** After spawning: how long QEMU may take to open QMP (it blocks until vhost-user sockets connect). Default 120 s. */
  qmpTimeoutMs?: number;
  /** stop(): wait after QMP quit, then after SIGTERM, before escalating. Defaults 10 s and 5 s. */
  quitTimeoutMs?: number;
  termTimeoutMs?: number;
  /** Liveness poll of adopted guests (not our children, so no exit event). Default 1 s. */
  pollIntervalMs?: number;
  /** Restart back-off: doubles from initial up to max. Defaults 1 s and 30 s. */
  restartBackoffMs?: { initial: number; max: number };
  consoleTailLines?: number;
  /** Injectable for tests; default runs `<qemuBinary> --version` once. */
  detectVersion?: () => Promise<QemuVersion>;
}

/** What the supervisor saves next to each guest so a restarted agent can adopt it. */
interface SavedGuest {
  spec: GuestSpec;
  command: QemuCommand;
  accel: AccelChoice;
  qemuVersion: string;
  /** stop() sets "stopped" so adopt() does not restart a guest the user stopped. */
  desired: 'running' | 'stopped';
  restarts: number;
}

interface GuestRecord {
  saved: SavedGuest;
  paths: GuestPaths;
  state: GuestState;
  pid?: number;
  child?: ChildProcess;
  qmp?: QmpClient;
  adopted: boolean;
  exitReason?: string;
  lastConsoleLines?: string[];
  pinning?: PinningResult;
  error?: string;
  /** Reason from the last QMP SHUTDOWN event (guest-shutdown, host-qmp-quit, host-signal...). */
  lastShutdown?: string;
  /** Bumped per QEMU process; events of an older process are ignored. */
  generation: number;
  exitWaiters: Array<() => void>;
  poll?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
  /** Set while stop() runs, so the exit is not a crash. */
  stopRequested: boolean;
}

/**
 * Events: "status" (GuestStatus) on every state change; "crashed" (GuestStatus) when a guest
 * exits without being asked to.
 */
export class GuestSupervisor extends EventEmitter {
  private readonly guests = new Map<string, GuestRecord>();
  private version?: Promise<QemuVersion>;
  private readonly o: Required<Omit<SupervisorOptions, 'accel' | 'detectVersion' | 'qemuBinary' | 'qemuUser'>> & SupervisorOptions;

  constructor(opts: SupervisorOptions) {
    super();
    const problems = stateDirProblems(opts.stateDir);
    if (problems.length) throw new Error(`GuestSupervisor: ${problems.join('; ')}`);
    this.o = {
      qmpTimeoutMs: 120_000,
      quitTimeoutMs: 10_000,
      termTimeoutMs: 5_000,
      pollIntervalMs: 1_000,
      restartBackoffMs: { initial: 1_000, max: 30_000 },
      consoleTailLines: 20,
      ...opts,
    };
    fs.mkdirSync(opts.stateDir, { recursive: true });
  }

  /** The directory holding one directory per guest (see paths.ts). */
  get stateDir(): string {
    return this.o.stateDir;
  }

  /** QEMU's version (detected once). */
  qemuVersion(): Promise<QemuVersion> {
    this.version ??= (this.o.detectVersion ?? (() => detectQemuVersion(this.o.qemuBinary)))();
    return this.version;
  }

  /** Validates a spec and returns the command it would run, without running it (preview). */
  async plan(input: GuestSpecInput | unknown): Promise<{ spec: GuestSpec; command: QemuCommand; qemuVersion: QemuVersion }> {
    const spec = parseGuestSpec(input);
    const v = await this.qemuVersion();
    assertQemuSupports(v, requirementsOf(spec));
    const accel = chooseAccel(spec.accel, this.o.accel);
    const paths = guestPaths(this.o.stateDir, spec.name);
    return {
      spec,
      command: buildQemuArgv(spec, { accel, paths, qemuBinary: this.o.qemuBinary, runAs: spec.backend === 'qemu' ? this.o.qemuUser : undefined }),
      qemuVersion: v,
    };
  }

  /**
   * Starts a guest. Resolves once QEMU runs and wrote its pidfile (state "starting"); it turns
   * "running" when QMP answers and pinning is applied: see waitRunning().
   */
  async start(input: GuestSpecInput | unknown): Promise<GuestStatus> {
    const { spec, command, qemuVersion } = await this.plan(input);
    const existing = this.guests.get(spec.name);
    if (existing && isLive(existing.state)) {
      throw new Error(`name: guest '${spec.name}' is already ${existing.state}${existing.pid ? ` (pid ${existing.pid})` : ''}`);
    }
    if (existing) this.forget(existing);
    const paths = guestPaths(this.o.stateDir, spec.name);
    const livePid = readLivePid(paths);
    if (livePid) {
      throw new Error(`name: a QEMU for guest '${spec.name}' already runs (pid ${livePid}); call adopt() instead of starting it twice`);
    }
    const accel = chooseAccel(spec.accel, this.o.accel);
    const saved: SavedGuest = { spec, command, accel, qemuVersion: formatVersion(qemuVersion), desired: 'running', restarts: 0 };
    const g: GuestRecord = { saved, paths, state: 'starting', adopted: false, generation: 0, exitWaiters: [], stopRequested: false };
    this.guests.set(spec.name, g);
    await this.launch(g);
    return this.status(spec.name)!;
  }

  /** Resolves when the guest is "running"; rejects if it ends or the timeout passes. */
  waitRunning(name: string, timeoutMs = this.o.qmpTimeoutMs): Promise<GuestStatus> {
    return new Promise((resolve, reject) => {
      const check = (s?: GuestStatus): boolean => {
        s ??= this.status(name);
        if (!s) return (reject(new Error(`name: no guest '${name}'`)), true);
        if (s.name !== name) return false;
        if (s.state === 'running') return (resolve(s), true);
        if (s.state === 'crashed' || s.state === 'stopped') {
          return (reject(new Error(`guest '${name}' ${s.state}: ${s.exitReason ?? ''}`)), true);
        }
        if (s.error) return (reject(new Error(`guest '${name}': ${s.error}`)), true);
        return false;
      };
      if (check()) return;
      const onStatus = (s: GuestStatus) => {
        if (check(s)) done();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`guest '${name}' not running within ${timeoutMs} ms (state ${this.status(name)?.state})`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.off('status', onStatus);
      };
      this.on('status', onStatus);
    });
  }

  /** Stops a guest: QMP quit, then SIGTERM, then SIGKILL. It stays listed as "stopped". */
  async stop(name: string): Promise<GuestStatus> {
    const g = this.guests.get(name);
    if (!g) throw new Error(`name: no guest '${name}'`);
    g.saved.desired = 'stopped';
    this.save(g);
    if (g.restartTimer) clearTimeout(g.restartTimer);
    g.restartTimer = undefined;
    if (!g.pid || !isLive(g.state)) {
      if (g.state === 'restarting') this.setState(g, 'stopped');
      return this.status(name)!;
    }
    g.stopRequested = true;
    this.setState(g, 'stopping');
    const pid = g.pid;
    let how = 'QMP quit';
    try {
      if (g.qmp && !g.qmp.isClosed) await Promise.race([g.qmp.execute('quit'), sleep(2000)]);
      else how = '';
    } catch {
      // The socket closes as QEMU quits; a lost reply is expected.
    }
    if (!(how && (await this.waitExit(g, this.o.quitTimeoutMs)))) {
      how = 'SIGTERM';
      signal(pid, 'SIGTERM');
      if (!(await this.waitExit(g, this.o.termTimeoutMs))) {
        how = 'SIGKILL';
        signal(pid, 'SIGKILL');
        await this.waitExit(g, 5000);
      }
    }
    if (g.state === 'stopping') this.onExit(g, g.generation, null, null, `stopped by ${how}`);
    return this.status(name)!;
  }

  /** Stops (if needed) and forgets a guest, deleting its state directory. */
  async remove(name: string): Promise<void> {
    const g = this.guests.get(name);
    if (g) {
      await this.stop(name);
      this.forget(g);
      this.guests.delete(name);
    }
    fs.rmSync(guestPaths(this.o.stateDir, name).dir, { recursive: true, force: true });
  }

  /**
   * Finds guests this or a previous agent started: for every state directory whose pidfile
   * names a live process with our -pidfile and QMP socket on its command line, reconnects QMP.
   * Guests that died meanwhile are reported crashed and restarted per their policy.
   */
  async adopt(): Promise<GuestStatus[]> {
    const found: GuestStatus[] = [];
    for (const name of fs.readdirSync(this.o.stateDir)) {
      if (this.guests.has(name)) continue;
      const paths = guestPaths(this.o.stateDir, name);
      let saved: SavedGuest;
      try {
        saved = JSON.parse(fs.readFileSync(paths.stateFile, 'utf8')) as SavedGuest;
      } catch {
        continue; // Not a guest directory (or a half-written one from a crashed start).
      }
      const g: GuestRecord = { saved, paths, state: 'starting', adopted: true, generation: 0, exitWaiters: [], stopRequested: false };
      this.guests.set(name, g);
      const pid = readLivePid(paths);
      if (pid) {
        g.pid = pid;
        this.watchAdopted(g);
        this.connectQmp(g, g.generation, 10_000);
      } else if (saved.desired === 'running') {
        g.lastConsoleLines = tailLines(paths.consoleLog, this.o.consoleTailLines);
        g.exitReason = 'exited while the agent was not running (exit status unknown)';
        this.setState(g, 'crashed');
        this.emit('crashed', this.status(name));
        this.maybeRestart(g, true);
      } else {
        g.state = 'stopped';
      }
      found.push(this.status(name)!);
    }
    return found;
  }

  status(name: string): GuestStatus | undefined {
    const g = this.guests.get(name);
    if (!g) return undefined;
    return {
      name,
      state: g.state,
      pid: isLive(g.state) ? g.pid : undefined,
      accel: g.saved.accel.accel,
      qemuVersion: g.saved.qemuVersion,
      uptimeSec: isLive(g.state) && g.pid ? processUptimeSec(g.pid) : undefined,
      notes: g.saved.command.notes,
      command: [g.saved.command.binary, ...g.saved.command.argv],
      restarts: g.saved.restarts,
      adopted: g.adopted,
      exitReason: g.exitReason,
      lastConsoleLines: g.lastConsoleLines,
      pinning: g.pinning,
      error: g.error,
      paths: g.paths,
    };
  }

  list(): GuestStatus[] {
    return [...this.guests.keys()].map((n) => this.status(n)!);
  }

  /** The live QMP connection of a running guest, for callers that need other commands. */
  qmp(name: string): QmpClient | undefined {
    return this.guests.get(name)?.qmp;
  }

  /** Agent shutdown: drops QMP connections and timers, leaves every QEMU running for adopt(). */
  detach(): void {
    for (const g of this.guests.values()) this.forget(g);
    this.guests.clear();
  }

  // --- internals ---

  private async launch(g: GuestRecord): Promise<void> {
    const { paths } = g;
    fs.mkdirSync(paths.dir, { recursive: true });
    for (const f of [paths.pidFile, paths.qmpSocket]) fs.rmSync(f, { force: true });
    // Keep the previous console (a crash's evidence) one generation back.
    if (fs.existsSync(paths.consoleLog)) fs.renameSync(paths.consoleLog, paths.consoleLog + '.prev');
    g.saved.desired = 'running';
    this.save(g);
    g.generation++;
    const gen = g.generation;
    g.stopRequested = false;
    g.exitReason = undefined;
    g.lastConsoleLines = undefined;
    g.lastShutdown = undefined;
    g.error = undefined;
    g.pinning = undefined;
    g.adopted = false;
    const errFd = fs.openSync(paths.stderrLog, 'a');
    let child: ChildProcess;
    try {
      fs.writeSync(errFd, `--- ${new Date().toISOString()} starting: ${g.saved.command.binary} ${g.saved.command.argv.join(' ')}\n`);
      // detached: setsid, so the guest survives the agent and its process group's signals.
      // Through CLOSE_INHERITED_FDS: QEMU must not keep the agent's fds (see there).
      child = spawn('/bin/bash', ['-c', CLOSE_INHERITED_FDS, g.saved.command.binary, ...g.saved.command.argv], {
        detached: true,
        stdio: ['ignore', errFd, errFd],
      });
    } finally {
      fs.closeSync(errFd);
    }
    child.unref();
    g.child = child;
    g.pid = child.pid;
    this.setState(g, 'starting');
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    child.once('exit', (code, sig) => this.onExit(g, gen, code, sig));
    child.once('error', (e) => this.onExit(g, gen, null, null, `spawn failed: ${e.message}`));
    // QEMU writes its pidfile early in startup, before it blocks waiting for vhost-user peers.
    const ok = await Promise.race([this.waitForFile(paths.pidFile, 10_000, g, gen), spawnError.then(() => false)]);
    if (!ok && g.generation === gen && isLive(g.state)) {
      g.error = `QEMU wrote no pidfile within 10 s (see ${paths.stderrLog})`;
    }
    if (g.generation === gen && isLive(g.state)) this.connectQmp(g, gen, this.o.qmpTimeoutMs);
  }

  /** Connects QMP (retrying while QEMU initialises), applies pinning, marks the guest running. */
  private connectQmp(g: GuestRecord, gen: number, timeoutMs: number): void {
    const deadline = Date.now() + timeoutMs;
    const attempt = async (): Promise<void> => {
      while (g.generation === gen && isLive(g.state) && g.state !== 'stopping') {
        try {
          const qmp = await QmpClient.connect(g.paths.qmpSocket, 5000);
          if (g.generation !== gen || !isLive(g.state)) {
            qmp.close();
            return;
          }
          g.qmp = qmp;
          qmp.on('event', (ev) => {
            if (ev.event === 'SHUTDOWN') g.lastShutdown = String(ev.data?.reason ?? 'unknown');
          });
          qmp.on('close', () => {
            // For adopted guests the closing QMP socket is the fastest exit signal.
            if (g.generation === gen && g.adopted) setTimeout(() => this.checkAdopted(g, gen), 200);
          });
          if (g.saved.spec.pinning && g.pid) {
            try {
              g.pinning = await applyPinning(g.pid, qmp, g.saved.spec.pinning);
            } catch (e) {
              g.error = (e as Error).message;
            }
          }
          if (g.generation === gen && g.state === 'starting') this.setState(g, 'running');
          return;
        } catch (e) {
          if (Date.now() > deadline) {
            if (g.generation === gen && isLive(g.state)) {
              g.error = `QMP did not answer within ${timeoutMs} ms: ${(e as Error).message}`;
              this.emit('status', this.status(g.saved.spec.name));
            }
            return;
          }
          await sleep(250);
        }
      }
    };
    void attempt();
  }

  private watchAdopted(g: GuestRecord): void {
    const gen = g.generation;
    g.poll = setInterval(() => this.checkAdopted(g, gen), this.o.pollIntervalMs);
    g.poll.unref();
  }

  private checkAdopted(g: GuestRecord, gen: number): void {
    if (g.generation !== gen || !g.pid || !isLive(g.state)) return;
    if (!pidMatches(g.pid, g.paths)) this.onExit(g, gen, null, null);
  }

  /** The single place a QEMU process's end is handled. */
  private onExit(g: GuestRecord, gen: number, code: number | null, sig: NodeJS.Signals | null, why?: string): void {
    if (g.generation !== gen || !isLive(g.state)) return;
    if (g.poll) clearInterval(g.poll);
    g.poll = undefined;
    g.qmp?.close();
    g.qmp = undefined;
    g.child = undefined;
    g.lastConsoleLines = tailLines(g.paths.consoleLog, this.o.consoleTailLines);
    const parts: string[] = [];
    if (why) parts.push(why);
    if (code !== null) parts.push(`exit code ${code}`);
    if (sig) parts.push(`signal ${sig}`);
    if (code === null && !sig && !why) parts.push('exited (not a child of this agent: exit status unknown)');
    if (g.lastShutdown) parts.push(`QMP SHUTDOWN reason ${g.lastShutdown}`);
    if (code !== null && code !== 0) {
      const err = tailLines(g.paths.stderrLog, 3).filter((l) => !l.startsWith('--- '));
      if (err.length) parts.push(`stderr: ${err.join(' | ')}`);
    }
    g.exitReason = parts.join('; ');
    const requested = g.stopRequested;
    const clean = code === 0 && g.lastShutdown === 'guest-shutdown';
    this.setState(g, requested || clean ? 'stopped' : 'crashed');
    for (const w of g.exitWaiters.splice(0)) w();
    if (!requested) {
      if (g.state === 'crashed') this.emit('crashed', this.status(g.saved.spec.name));
      this.maybeRestart(g, g.state === 'crashed');
    }
  }

  private maybeRestart(g: GuestRecord, failed: boolean): void {
    const policy = g.saved.spec.restartPolicy;
    if (g.saved.desired !== 'running') return;
    if (!(policy === 'always' || (policy === 'on-failure' && failed))) return;
    const { initial, max } = this.o.restartBackoffMs;
    const delay = Math.min(max, initial * 2 ** Math.min(g.saved.restarts, 16));
    const reason = g.exitReason;
    const lines = g.lastConsoleLines;
    this.setState(g, 'restarting');
    g.restartTimer = setTimeout(() => {
      g.restartTimer = undefined;
      if (g.saved.desired !== 'running' || g.state !== 'restarting') return;
      g.saved.restarts++;
      this.launch(g)
        .then(() => {
          // Keep why it had to restart visible until it fails again.
          if (!g.exitReason) g.exitReason = `restarted after: ${reason}`;
          if (!g.lastConsoleLines) g.lastConsoleLines = lines;
        })
        .catch((e: Error) => {
          g.exitReason = `restart failed: ${e.message}`;
          this.setState(g, 'crashed');
        });
    }, delay);
    g.restartTimer.unref();
  }

  private waitExit(g: GuestRecord, ms: number): Promise<boolean> {
    if (!g.pid || !pidMatches(g.pid, g.paths)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const pid = g.pid!;
      const t0 = Date.now();
      const iv = setInterval(() => {
        // Adopted guests are not our children: poll /proc as well as waiting for our exit event.
        if (!pidMatches(pid, g.paths)) finish(true);
        else if (Date.now() - t0 > ms) finish(false);
      }, 100);
      const finish = (v: boolean) => {
        clearInterval(iv);
        resolve(v);
      };
      g.exitWaiters.push(() => finish(true));
    });
  }

  private async waitForFile(file: string, ms: number, g: GuestRecord, gen: number): Promise<boolean> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      if (fs.existsSync(file)) return true;
      if (g.generation !== gen || !isLive(g.state)) return false;
      await sleep(50);
    }
    return false;
  }

  private setState(g: GuestRecord, s: GuestState): void {
    g.state = s;
    this.emit('status', this.status(g.saved.spec.name));
  }

  private save(g: GuestRecord): void {
    const tmp = g.paths.stateFile + '.tmp';
    fs.writeFileSync(tmp, JSON.stringify(g.saved, null, 2));
    fs.renameSync(tmp, g.paths.stateFile);
  }

  private forget(g: GuestRecord): void {
    if (g.poll) clearInterval(g.poll);
    if (g.restartTimer) clearTimeout(g.restartTimer);
    g.poll = g.restartTimer = undefined;
    g.generation++; // Ignore anything the old process still reports.
    g.qmp?.close();
    g.qmp = undefined;
  }
}

function isLive(s: GuestState): boolean {
  return s === 'starting' || s === 'running' || s === 'stopping';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** The pid in the guest's pidfile, if that process is alive and is our QEMU for this guest. */
export function readLivePid(paths: GuestPaths): number | undefined {
  let pid: number;
  try {
    pid = parseInt(fs.readFileSync(paths.pidFile, 'utf8').trim(), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return pidMatches(pid, paths) ? pid : undefined;
}

/**
 * Guards against pid reuse: the process must be alive (not a zombie) and its command line
 * must carry this guest's -pidfile and QMP socket.
 */
export function pidMatches(pid: number, paths: GuestPaths): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z /.test(stat)) return false;
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.indexOf('-pidfile');
    return i >= 0 && args[i + 1] === paths.pidFile && args.some((a) => a.includes(`path=${paths.qmpSocket.replace(/,/g, ',,')},`));
  } catch {
    return false;
  }
}

/** Seconds since a process started: /proc/uptime minus its start time (field 22, in clock ticks). */
export function processUptimeSec(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startTicks = Number(fields[19]); // field 22 overall; fields[0] is field 3
    const uptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    const CLK_TCK = 100; // Linux's USER_HZ on x86_64.
    return Math.max(0, Math.round((uptime - startTicks / CLK_TCK) * 10) / 10);
  } catch {
    return undefined;
  }
}
