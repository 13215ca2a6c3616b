// Assembles the agent: store, datapath (EAL started with the stored settings), control plane,
// reconcile, API server. main.ts parses the command line; tests call startAgent directly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as http from 'node:http';
import { SettingsSpec, type RunningSettings } from '../api';
import type { NativeDatapath } from '../native/addon';
import { Control } from './control/plane';
import { Guests } from './control/guests';
import { Hugepages } from './control/hugepages';
import { Datapath } from './datapath';
import { GuestSupervisor } from './guest';
import { LAST_GOOD, hostFacts, settingsHostProblems, type HostFacts, type RestartSettings } from './control/settings';
import { EventLog, EventWatcher } from './events';
import { cpuCount, hugepageFilesMb, libvirtQemuUser, onlineCpus, selfIdentity, userIdentity, type Identity } from './host';
import { defaultFilePolicy, type FilePolicy } from './file-policy';
import { socketPolicy } from './socket-policy';
import { ApiMetrics, dpdkVersion, dpdkWorkerThreads, serveMetrics } from './metrics';
import { createServer, listen, routes, type ListenOptions } from './server';
import { Store } from './store';

export const AGENT_VERSION = '0.1.0';

export interface AgentConfig extends Omit<ListenOptions, 'listen'> {
  runDir: string;
  stateDir: string;
  listen?: string;
  filePrefix: string;
  allowedSocketDirs: string[];
  /** Allowed socket directories other users may write (e.g. /tmp), allowed so on purpose (--insecure-socket-dir). */
  insecureSocketDirs?: string[];
  /** Where guest images, kernels, initrds and hugetlbfs paths may be (--image-dir, --hugepages-dir, --allow-block-devices). */
  files?: Partial<FilePolicy>;
  /** Extra EAL arguments, e.g. --log-level. */
  ealArgs?: string[];
  /** The user the 'qemu' backend's guests run as (--qemu-user; default: the agent's own, root). */
  qemuUser?: string;
  /** QEMU binary for GuestVMs (default qemu-system-x86_64 on PATH). */
  qemuBinary?: string;
  /**
   * The EAL refused the stored settings at the last try (its error): start with the last settings
   * that worked (or the defaults) and report the stored ones as refused for that reason.
   */
  safeStart?: { reason: string };
  /** Prometheus metrics listener, tcp://host:port; 'off' or absent: none. */
  metricsListen?: string;
  /** Only warn (and serve no metrics) when metricsListen cannot be bound: the default address may be taken. */
  metricsOptional?: boolean;
}

export interface RunningAgent {
  endpoint: string;
  /** http://host:port/metrics, when metrics are served. */
  metricsEndpoint?: string;
  control: Control;
  server: http.Server;
  stop(): Promise<void>;
}

/**
 * What the datapath starts with: the stored settings, but never ones this host cannot run (a
 * store written on another host, or edited, or a host that lost CPUs or hugepages since): those
 * are refused, with the reason, and the last settings the datapath started with are taken
 * instead (the defaults when there were none), so stored settings never keep the agent from starting.
 */
export function runningSettings(
  stored: SettingsSpec | undefined,
  online = onlineCpus(),
  lastGood?: RestartSettings,
  host: Omit<HostFacts, 'online'> = hostFacts(),
): RunningSettings {
  const s = stored ?? SettingsSpec.parse({});
  const facts: HostFacts = { ...host, online };
  const ncpu = cpuCount();
  const refused = settingsHostProblems(s, facts);
  // The last good ones only where they still fit this host; else the defaults.
  const fallback = lastGood && !settingsHostProblems(lastGood, facts).length ? lastGood : SettingsSpec.parse({});
  const cpusRefused = refused.some((r) => r.field.startsWith('pmdCpus'));
  const memRefused = refused.some((r) => r.field === 'memoryMb' || r.field === 'hugepages');
  const pmdCpus = cpusRefused ? fallback.pmdCpus : s.pmdCpus;
  const mem = memRefused ? fallback : s;
  const from = lastGood && fallback === lastGood ? 'the last settings the datapath started with' : 'the defaults';
  return {
    ...(refused.length ? { refused: refused.map((r) => ({ ...r, rule: `${r.rule}; ${from} are used` })) } : {}),
    pmdCpus: pmdCpus.length ? pmdCpus : [ncpu - 1],
    hugepages: mem.hugepages === 'on' || (mem.hugepages === 'auto' && facts.hugeFreeMb >= mem.memoryMb),
    memoryMb: mem.memoryMb,
    vhostIommuSupport: s.vhostIommuSupport,
  };
}

/** What a start that worked keeps as the last good settings: the stored values it took, or the fallback's. */
function startedWith(stored: SettingsSpec | undefined, running: RunningSettings, lastGood: RestartSettings | undefined): RestartSettings {
  const s = stored ?? SettingsSpec.parse({});
  const fb = lastGood ?? SettingsSpec.parse({});
  const refused = (f: string) => (running.refused ?? []).some((r) => r.field.split('.')[0] === f);
  const mem = refused('memoryMb') || refused('hugepages') ? fb : s;
  return { pmdCpus: refused('pmdCpus') ? fb.pmdCpus : s.pmdCpus, memoryMb: mem.memoryMb, hugepages: mem.hugepages, vhostIommuSupport: s.vhostIommuSupport };
}

const RESTART_FIELDS = ['pmdCpus', 'memoryMb', 'hugepages', 'vhostIommuSupport'] as const;

/**
 * What the datapath starts with after the EAL refused the stored settings (a failure the host
 * checks did not predict): the last good settings where they still fit the host, else the
 * defaults; every stored restart-required setting that differs from them is refused with the EAL's error.
 */
export function safeRunningSettings(
  stored: SettingsSpec | undefined,
  reason: string,
  online = onlineCpus(),
  lastGood?: RestartSettings,
  host: Omit<HostFacts, 'online'> = hostFacts(),
): { running: RunningSettings; taken: RestartSettings } {
  const s = stored ?? SettingsSpec.parse({});
  const facts: HostFacts = { ...host, online };
  const defaults = SettingsSpec.parse({});
  const useLast = !!lastGood && !settingsHostProblems(lastGood, facts).length;
  const fb: RestartSettings = useLast
    ? lastGood!
    : { pmdCpus: defaults.pmdCpus, memoryMb: defaults.memoryMb, hugepages: defaults.hugepages, vhostIommuSupport: defaults.vhostIommuSupport };
  const from = useLast ? 'the last settings the datapath started with' : 'the defaults';
  const refused = RESTART_FIELDS.filter((f) => JSON.stringify(s[f]) !== JSON.stringify(fb[f])).map((field) => ({
    field,
    rule: `the datapath could not start with the stored settings (${reason}); ${from} are used`,
  }));
  return {
    running: {
      refused,
      pmdCpus: fb.pmdCpus.length ? fb.pmdCpus : [cpuCount() - 1],
      hugepages: fb.hugepages === 'on' || (fb.hugepages === 'auto' && facts.hugeFreeMb >= fb.memoryMb),
      memoryMb: fb.memoryMb,
      vhostIommuSupport: fb.vhostIommuSupport,
    },
    taken: fb,
  };
}

/**
 * native.init threw with stored settings other than the ones a safe start takes. DPDK cannot
 * start its EAL twice in one process, so main.ts re-executes the agent with VHOSTNET_SAFE_START.
 */
export class SafeStartNeeded extends Error {
  constructor(readonly reason: string) {
    super(`the datapath could not start with the stored settings: ${reason}`);
  }
}

export function controlCpus(ncpu: number, pmdCpus: number[]): number[] {
  const all = [...Array(ncpu).keys()];
  const rest = all.filter((c) => !pmdCpus.includes(c));
  return rest.length ? rest : all;
}

export async function startAgent(cfg: AgentConfig, native: NativeDatapath): Promise<RunningAgent> {
  const listenOn = cfg.listen ?? `unix:${path.join(cfg.runDir, 'agent.sock')}`;
  // Refuse bad options before DPDK starts: a process with the EAL up must shut it down to exit cleanly.
  if (listenOn.startsWith('tcp://') && !cfg.token) throw new Error('listening on TCP needs a token (--token-file): the API changes the host network');
  if (cfg.qemuUser !== undefined && !userIdentity(cfg.qemuUser)) throw new Error(`--qemu-user ${cfg.qemuUser}: no such user on this host`);
  fs.mkdirSync(cfg.runDir, { recursive: true, mode: 0o755 });
  const store = new Store(cfg.stateDir);
  const stored = store.get<SettingsSpec>('settings', 'global')?.spec;
  const lastGood = store.get<RestartSettings>('settings', LAST_GOOD)?.spec;
  // A killed agent's hugepage files of this prefix come back to the EAL that starts now.
  const facts = hostFacts(hugepageFilesMb(cfg.filePrefix));
  let running = runningSettings(stored, onlineCpus(), lastGood, facts);
  let good = startedWith(stored, running, lastGood);
  if (cfg.safeStart) ({ running, taken: good } = safeRunningSettings(stored, cfg.safeStart.reason, onlineCpus(), lastGood, facts));
  const ncpu = cpuCount();
  let eal: { lcores: string; pmds: number; dpdkVersion: string };
  try {
    eal = native.init({
      filePrefix: cfg.filePrefix,
      // The control path (Node's main thread, and what it starts) stays off the PMD cores when it can.
      mainCpus: controlCpus(ncpu, running.pmdCpus),
      pmdCpus: running.pmdCpus,
      hugepages: running.hugepages,
      memoryMb: running.memoryMb,
      iommuSupport: running.vhostIommuSupport,
      pmdMaxSleepUs: stored?.pmdMaxSleepUs ?? SettingsSpec.parse({}).pmdMaxSleepUs,
      extraArgs: cfg.ealArgs,
    });
  } catch (e) {
    store.close();
    // Stored settings the host checks passed but the EAL refused: a safe start would take others.
    if (!cfg.safeStart && safeRunningSettings(stored, '', onlineCpus(), lastGood, facts).running.refused?.length)
      throw new SafeStartNeeded((e as Error).message);
    throw e;
  }
  try {
    const agent = await serve(cfg, native, store, running, eal, listenOn);
    // The datapath started with these: the settings to fall back on when stored ones are refused.
    if (JSON.stringify(good) !== JSON.stringify(lastGood)) store.put('settings', LAST_GOOD, good);
    return agent;
  } catch (e) {
    native.shutdown();
    store.close();
    throw e;
  }
}

async function serve(
  cfg: AgentConfig,
  native: NativeDatapath,
  store: Store,
  running: RunningSettings,
  eal: { lcores: string; pmds: number; dpdkVersion: string },
  listenOn: string,
): Promise<RunningAgent> {
  const dp = new Datapath(native);
  // Who runs QEMU: the agent itself ('qemu' backend), or libvirtd as qemu.conf's user.
  const self = selfIdentity();
  const libvirtUser = libvirtQemuUser();
  const libvirt: Identity = userIdentity(libvirtUser) ?? { user: libvirtUser, uid: -1, gids: [] };
  const qemuUser = cfg.qemuUser !== undefined ? userIdentity(cfg.qemuUser)! : self;
  const qemuIdentity = (backend: string) => (backend === 'libvirt' ? libvirt : qemuUser);
  const policy = socketPolicy({
    socketGid: cfg.socketGid,
    qemu: libvirt.uid >= 0 ? { uid: libvirt.uid, gids: libvirt.gids } : undefined,
    insecureDirs: cfg.insecureSocketDirs,
  });
  // The 'qemu' backend's user (--qemu-user) may own socket directories as libvirt's may.
  if (qemuUser.uid !== self.uid) {
    policy.trustedUids.push(qemuUser.uid);
    policy.trustedGids.push(...qemuUser.gids);
  }
  const files: FilePolicy = { ...defaultFilePolicy(), ...cfg.files };
  const control = new Control(
    store,
    dp,
    {
      runDir: cfg.runDir,
      allowedSocketDirs: cfg.allowedSocketDirs,
      socketGid: cfg.socketGid,
      socketPolicy: policy,
      ownFiles: listenOn.startsWith('tcp://') ? [] : [listenOn.replace(/^unix:/, '')],
    },
    running,
  );
  control.reconcile();
  const supervisor = new GuestSupervisor({ stateDir: path.join(cfg.stateDir, 'guests'), qemuBinary: cfg.qemuBinary, qemuUser: cfg.qemuUser });
  const guests = new Guests(store, control, supervisor, { socketGid: cfg.socketGid, files, qemuIdentity });
  await guests.reconcile();
  const hugepages = new Hugepages(store, undefined, undefined, files);
  const info = () => ({ version: AGENT_VERSION, schemaVersion: store.schemaVersion, pid: process.pid, lcores: eal.lcores, pmds: eal.pmds, running });
  const events = new EventLog();
  // Stored settings this host cannot run were not taken: said once, as an event (and a log line).
  for (const r of running.refused ?? [])
    events.emit({ type: 'settings', restartRequired: [], reason: `stored ${r.field} refused at start: ${r.field} ${r.rule}` });
  const watcher = new EventWatcher(events, {
    ports: () => control.ports.list(true),
    guests: () => guests.list(),
    restartRequired: () => control.settings.get().restartRequired,
    macLimit: (p) => control.ports.current(p.name)?.spec.macLimit ?? dp.fdbSettings(p.bridge)?.macLimitPerPort,
  });
  watcher.start();
  // Client ports waiting for a socket they may connect to (socket-policy.ts) are looked at twice a
  // second; stored ports the datapath refused at start are tried again every RETRY_MS.
  const gate = setInterval(() => {
    const log = (m: string) => process.stderr.write(`vhostnet-agent: ${m}\n`);
    control.ports.admitWaiting(log);
    control.ports.retryRefused(log);
  }, 500);
  gate.unref();
  const apiMetrics = new ApiMetrics();
  const server = createServer(routes({ control, dp, guests, hugepages, info, events }), { ...cfg, listen: listenOn, apiMetrics });
  const endpoint = await listen(server, { ...cfg, listen: listenOn });
  let metrics: { server: http.Server; endpoint: string } | undefined;
  if (cfg.metricsListen && cfg.metricsListen !== 'off') {
    const sources = {
      ports: () => control.ports.list(true),
      pmds: () => dp.pmdStats(),
      bridges: () => control.bridges.list().map((b) => b.name),
      fdbStats: (b: string) => dp.fdbStats(b),
      guests: () => guests.list(),
      api: apiMetrics,
      build: { version: AGENT_VERSION, dpdkVersion: dpdkVersion(eal.dpdkVersion) },
      pmdThreads: dpdkWorkerThreads,
    };
    try {
      metrics = await serveMetrics(cfg.metricsListen, sources);
    } catch (e) {
      if (!cfg.metricsOptional) {
        await new Promise<void>((r) => server.close(() => r()));
        throw new Error(`metrics listener ${cfg.metricsListen}: ${(e as Error).message}`, { cause: e });
      }
      process.stderr.write(`vhostnet-agent: warning: no metrics served: ${cfg.metricsListen}: ${(e as Error).message}\n`);
    }
  }
  let stopped = false;
  return {
    endpoint,
    metricsEndpoint: metrics?.endpoint,
    control,
    server,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(gate);
      watcher.stop();
      events.wakeAll(); // a long poll would hold server.close() for its whole wait
      if (metrics) await new Promise<void>((r) => metrics!.server.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      guests.detach(); // guests outlive the agent
      native.shutdown();
      store.close();
    },
  };
}
