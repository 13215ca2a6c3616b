// The agent's control plane: every change is validated, planned, written to the store and
// applied to the datapath in one step that either completes or leaves the previous state
// whole. A dry run stops after planning. Request, then apply (as OVS netdev-dpdk does).
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ApiError,
  BridgeSpec,
  PORT_REPLACE_FIELDS,
  PortSpec,
  RESTART_SETTINGS,
  SERVER_PORT_DEPRECATION,
  SettingsSpec,
  derivedMac,
  parse,
  portMode,
  qemuNicArgs,
  type BridgeState,
  type ChangeResult,
  type PlannedChange,
  type PortState,
  type SettingsState,
  type VhostUserPortSpec,
  type VhostUserPortState,
  type VxlanPortSpec,
  type VxlanPortState,
  type Stored,
} from '../api';
import type { AppliedTunnel, Datapath } from './datapath';
import { portStatus } from './status';
import type { Kind, Store } from './store';

export interface ControlOptions {
  /** Server ports' sockets live under runDir/vhostSockDir. */
  runDir: string;
  /** Where client ports' vhostServerPath may be (QEMU's side). */
  allowedSocketDirs: string[];
  /** Group that QEMU runs as: socket directories and server sockets get it, mode 0770/0660. */
  socketGid?: number;
  /** Where change records go (stderr by default). */
  log?: (msg: string) => void;
}

/** What the running datapath took at start; changes to these wait for a restart. */
export interface RunningSettings {
  pmdCpus: number[];
  hugepages: boolean;
  memoryMb: number;
  vhostIommuSupport: boolean;
}

export interface ChangeOptions {
  dryRun?: boolean;
  /** Take over an object another owner (stack) manages: `pulumi import`. */
  adopt?: boolean;
  expectedVersion?: number;
}

const SETTINGS = 'global';

function strip<T extends { expectedVersion?: number }>(spec: T): Stored<T> {
  const { expectedVersion: _v, ...rest } = spec;
  return rest as Stored<T>;
}

function diffFields(from: object | undefined, to: object | undefined): PlannedChange['diff'] {
  const a = (from ?? {}) as Record<string, unknown>;
  const b = (to ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => ({ field: k, from: a[k], to: b[k] }));
}

export class Control {
  private readonly applyErrors = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly dp: Datapath,
    private readonly opts: ControlOptions,
    readonly running: RunningSettings,
  ) {}

  // ---- settings --------------------------------------------------------------------------

  private settingsSpec(): { spec: Omit<SettingsSpec, 'expectedVersion'>; version: number } {
    const s = this.store.get<SettingsSpec>('settings', SETTINGS);
    return s ? { spec: s.spec, version: s.version } : { spec: strip(SettingsSpec.parse({})), version: 0 };
  }

  settings(): SettingsState {
    const { spec, version } = this.settingsSpec();
    return { ...spec, version, restartRequired: this.restartRequired(spec), running: this.running };
  }

  private restartRequired(spec: Omit<SettingsSpec, 'expectedVersion'>): string[] {
    const want: RunningSettings = {
      pmdCpus: spec.pmdCpus.length ? spec.pmdCpus : this.running.pmdCpus,
      hugepages: spec.hugepages === 'auto' ? this.running.hugepages : spec.hugepages === 'on',
      memoryMb: spec.memoryMb,
      vhostIommuSupport: spec.vhostIommuSupport,
    };
    return RESTART_SETTINGS.filter((k) => JSON.stringify(want[k]) !== JSON.stringify(this.running[k]));
  }

  putSettings(input: unknown, o: ChangeOptions = {}): ChangeResult<SettingsState> {
    const spec = strip(parse(SettingsSpec, input, 'settings'));
    const cur = this.settingsSpec();
    this.checkVersion('settings', SETTINGS, cur.version, (input as SettingsSpec)?.expectedVersion ?? o.expectedVersion);
    const diff = diffFields(cur.spec, spec);
    const sockDirMoves = cur.spec.vhostSockDir !== spec.vhostSockDir;
    const serverPorts = this.store.list<PortSpec>('port').filter((p) => p.spec.type === 'dpdkvhostuser');
    const change: PlannedChange = {
      op: diff.length ? 'update' : 'none',
      kind: 'settings',
      name: SETTINGS,
      diff,
      disruptive: sockDirMoves && serverPorts.length > 0,
      restartRequired: this.restartRequired(spec).filter((f) => diff.some((d) => d.field === f)),
    };
    if (change.restartRequired?.length) change.why = `takes effect at the agent's next start (restart required: ${change.restartRequired.join(', ')})`;
    const changes = [change];
    if (sockDirMoves)
      for (const p of serverPorts)
        changes.push({
          op: 'replace', kind: 'port', name: p.name, disruptive: true,
          diff: [{ field: 'socketPath', from: this.serverSocket(p.name, cur.spec.vhostSockDir), to: this.serverSocket(p.name, spec.vhostSockDir) }],
          why: 'vhostSockDir moved: the server socket is re-created and its guest must reconnect',
        });
    if (o.dryRun || !diff.length) return { dryRun: !!o.dryRun, changes, object: o.dryRun ? { ...this.settings(), ...spec } : this.settings(), warnings: [] };

    this.store.transaction(() => {
      this.store.put('settings', SETTINGS, spec);
      if (cur.spec.pmdMaxSleepUs !== spec.pmdMaxSleepUs) this.dp.native.setPmdMaxSleep(spec.pmdMaxSleepUs);
      if (sockDirMoves) for (const p of serverPorts) this.applyPort(p.name, p.spec);
    });
    this.log(`settings updated: ${diff.map((d) => d.field).join(', ')}`);
    return { dryRun: false, changes, object: this.settings(), warnings: [] };
  }

  // ---- bridges ---------------------------------------------------------------------------

  private bridgeState(name: string, spec: Omit<BridgeSpec, 'expectedVersion'>, version: number): BridgeState {
    const ports = this.store.list<PortSpec>('port').filter((p) => p.spec.bridge === name).map((p) => p.name);
    return { ...spec, version, ports };
  }

  bridge(name: string): BridgeState {
    const b = this.store.get<BridgeSpec>('bridge', name);
    if (!b) throw new ApiError('not_found', `bridge ${name} does not exist`);
    return this.bridgeState(name, b.spec, b.version);
  }

  bridges(): BridgeState[] {
    return this.store.list<BridgeSpec>('bridge').map((b) => this.bridgeState(b.name, b.spec, b.version));
  }

  putBridge(name: string, input: unknown, o: ChangeOptions = {}): ChangeResult<BridgeState> {
    const spec = strip(parse(BridgeSpec, withName(input, name), 'bridge'));
    const cur = this.store.get<BridgeSpec>('bridge', name);
    this.checkOwner('bridge', name, cur?.spec.owner, spec.owner, o);
    this.checkVersion('bridge', name, cur?.version ?? 0, (input as BridgeSpec)?.expectedVersion ?? o.expectedVersion);
    const diff = diffFields(cur?.spec, spec);
    const change: PlannedChange = { op: !cur ? 'create' : diff.length ? 'update' : 'none', kind: 'bridge', name, diff, disruptive: false };
    if (o.dryRun || change.op === 'none')
      return { dryRun: !!o.dryRun, changes: [change], object: this.bridgeState(name, spec, (cur?.version ?? 0) + (change.op === 'none' ? 0 : 1)), warnings: [] };
    const version = this.store.transaction(() => {
      const v = this.store.put('bridge', name, spec);
      this.dp.ensureBridge(name, spec.macAgingSeconds);
      return v;
    });
    this.log(`bridge ${name} ${change.op}d`);
    return { dryRun: false, changes: [change], object: this.bridgeState(name, spec, version), warnings: [] };
  }

  deleteBridge(name: string, o: ChangeOptions = {}): ChangeResult<BridgeState> {
    const cur = this.store.get<BridgeSpec>('bridge', name);
    if (!cur) return { dryRun: !!o.dryRun, changes: [{ op: 'none', kind: 'bridge', name, diff: [], disruptive: false }], warnings: [] };
    this.checkVersion('bridge', name, cur.version, o.expectedVersion);
    const ports = this.store.list<PortSpec>('port').filter((p) => p.spec.bridge === name);
    if (ports.length)
      throw new ApiError('conflict', `bridge ${name} still has ports (${ports.map((p) => p.name).join(', ')}): delete them first`, [{ field: 'ports', rule: 'must be empty: delete the bridge\'s ports first' }]);
    const change: PlannedChange = { op: 'delete', kind: 'bridge', name, diff: diffFields(cur.spec, undefined), disruptive: false };
    if (o.dryRun) return { dryRun: true, changes: [change], warnings: [] };
    this.store.transaction(() => {
      this.store.delete('bridge', name);
      this.dp.removeBridge(name);
    });
    this.log(`bridge ${name} deleted`);
    return { dryRun: false, changes: [change], warnings: [] };
  }

  // ---- ports -----------------------------------------------------------------------------

  private serverSocket(name: string, sockDir = this.settingsSpec().spec.vhostSockDir): string {
    return path.join(this.opts.runDir, sockDir, name);
  }

  private socketPathOf(name: string, spec: Stored<VhostUserPortSpec>, sockDir?: string): string {
    return spec.type === 'dpdkvhostuserclient' ? spec.vhostServerPath : this.serverSocket(name, sockDir);
  }

  private portState(name: string, spec: Stored<PortSpec>, version: number, withStatus: boolean): PortState {
    if (spec.type === 'vxlan') return this.vxlanState(name, spec, version, withStatus);
    const socketPath = this.socketPathOf(name, spec);
    const mac = spec.mac ?? derivedMac(name);
    const state: VhostUserPortState = {
      ...spec,
      mac,
      version,
      socketPath,
      qemuArgs: qemuNicArgs({ id: name, socketPath, qemuIsServer: spec.type === 'dpdkvhostuserclient', mac, queues: spec.queues }),
    };
    if (spec.type === 'dpdkvhostuser') state.deprecated = SERVER_PORT_DEPRECATION;
    if (withStatus)
      state.status = portStatus({
        mode: portMode(spec.type),
        socketPath,
        info: this.dp.portInfo(name),
        expectedQueues: spec.queues,
        iommu: this.running.vhostIommuSupport,
        applyError: this.applyErrors.get(name),
      });
    return state;
  }

  port(name: string, withStatus = true): PortState {
    const p = this.store.get<PortSpec>('port', name);
    if (!p) throw new ApiError('not_found', `port ${name} does not exist`);
    return this.portState(name, p.spec, p.version, withStatus);
  }

  ports(withStatus = true): PortState[] {
    return this.store.list<PortSpec>('port').map((p) => this.portState(p.name, p.spec, p.version, withStatus));
  }

  /** Refuses socket paths outside the allowed directories, through symlinks, or already used. */
  private checkSocketPath(name: string, spec: Stored<VhostUserPortSpec>): void {
    const field = spec.type === 'dpdkvhostuserclient' ? 'vhostServerPath' : 'name';
    const p = this.socketPathOf(name, spec);
    const bad = (rule: string) => new ApiError('invalid', `invalid port: ${field} ${rule}`, [{ field, rule }]);
    // The run dir holds the agent's own sockets (its API, server ports): never QEMU's.
    if (spec.type === 'dpdkvhostuserclient' && (p + path.sep).startsWith(path.resolve(this.opts.runDir) + path.sep))
      throw bad(`must not be in the agent's run directory ${this.opts.runDir}: it holds the agent's own sockets`);
    const dirs = spec.type === 'dpdkvhostuserclient' ? this.opts.allowedSocketDirs : [this.opts.runDir];
    const inside = dirs.find((d) => p.startsWith(path.resolve(d) + path.sep));
    if (!inside) throw bad(`must be inside ${dirs.join(' or ')} (the allowed socket directories)`);
    // Walk from the allowed directory down: a symlink could point the datapath anywhere.
    let at = path.resolve(inside);
    for (const part of path.relative(inside, p).split(path.sep)) {
      at = path.join(at, part);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(at);
      } catch {
        break;
      }
      if (st.isSymbolicLink()) throw bad(`must not pass through a symlink (${at})`);
    }
    // Client ports' paths are indexed; a server port's path is <run dir>/<vhostSockDir>/<its name>.
    const serverDir = path.dirname(this.serverSocket('x'));
    const other =
      this.store.socketOwner('port', p, name) ??
      (path.dirname(p) === serverDir && path.basename(p) !== name && this.store.get<PortSpec>('port', path.basename(p))?.spec.type === 'dpdkvhostuser' ? path.basename(p) : undefined);
    if (other)
      throw new ApiError('conflict', `port ${other} already uses the socket ${p}: two ports cannot share one socket`, [{ field, rule: 'must be a socket no other port uses' }]);
  }

  putPort(name: string, input: unknown, o: ChangeOptions = {}): ChangeResult<PortState> {
    const parsed = strip(parse(PortSpec, withName(input, name), 'port'));
    if (parsed.type === 'vxlan') return this.putVxlanPort(name, parsed, input, o);
    const spec: Stored<VhostUserPortSpec> = parsed;
    if (!this.store.get('bridge', spec.bridge))
      throw new ApiError('invalid', `invalid port: bridge ${spec.bridge} does not exist`, [{ field: 'bridge', rule: 'must name an existing bridge' }]);
    const cur = this.store.get<PortSpec>('port', name);
    this.checkOwner('port', name, cur?.spec.owner, spec.owner, o);
    this.checkVersion('port', name, cur?.version ?? 0, (input as PortSpec)?.expectedVersion ?? o.expectedVersion);
    this.checkSocketPath(name, spec);
    const diff = diffFields(cur?.spec, spec);
    const replaceFields: readonly string[] = PORT_REPLACE_FIELDS[spec.type];
    const replace = !!cur && diff.some((d) => replaceFields.includes(d.field));
    const change: PlannedChange = {
      op: !cur ? 'create' : replace ? 'replace' : diff.length ? 'update' : 'none',
      kind: 'port',
      name,
      diff,
      disruptive: replace,
    };
    if (replace) change.why = `changing ${diff.filter((d) => replaceFields.includes(d.field)).map((d) => d.field).join(', ')} re-creates the socket: the guest's link drops until it reconnects`;
    const warnings = spec.type === 'dpdkvhostuser' ? [SERVER_PORT_DEPRECATION] : [];
    if (spec.queues > 1 && this.running.pmdCpus.length < 2)
      warnings.push(`multiqueue with a single PMD thread: the guide asks for at least 2 PMD cores so queues are spread (pmdCpus has ${this.running.pmdCpus.length})`);
    const nextVersion = (cur?.version ?? 0) + (change.op === 'none' ? 0 : 1);
    if (o.dryRun || change.op === 'none')
      return { dryRun: !!o.dryRun, changes: [change], object: this.portState(name, spec, nextVersion, !o.dryRun), warnings };
    const version = this.store.transaction(() => {
      const v = this.store.put('port', name, spec, spec.vhostServerPath);
      this.applyPort(name, spec);
      return v;
    });
    this.log(`port ${name} ${change.op}d (${spec.type}, bridge ${spec.bridge})`);
    return { dryRun: false, changes: [change], object: this.portState(name, spec, version, true), warnings };
  }

  deletePort(name: string, o: ChangeOptions = {}): ChangeResult<PortState> {
    const cur = this.store.get<PortSpec>('port', name);
    if (!cur) return { dryRun: !!o.dryRun, changes: [{ op: 'none', kind: 'port', name, diff: [], disruptive: false }], warnings: [] };
    this.checkVersion('port', name, cur.version, o.expectedVersion);
    const users = this.store.list<{ nics: { port: string }[] }>('guest').filter((g) => g.spec.nics.some((n) => n.port === name));
    if (users.length)
      throw new ApiError('conflict', `port ${name} is plugged into guest ${users.map((g) => g.name).join(', ')}: delete or change the guest first`, [{ field: 'name', rule: 'must not be a port a guest uses' }]);
    const change: PlannedChange = { op: 'delete', kind: 'port', name, diff: diffFields(cur.spec, undefined), disruptive: true };
    if (o.dryRun) return { dryRun: true, changes: [change], warnings: [] };
    this.store.transaction(() => {
      this.store.delete('port', name);
      this.dp.removePort(name);
      this.removeServerSocket(name, cur.spec);
    });
    this.applyErrors.delete(name);
    this.log(`port ${name} deleted`);
    return { dryRun: false, changes: [change], warnings: [] };
  }

  private removeServerSocket(name: string, spec: Omit<PortSpec, 'expectedVersion'>, sockDir?: string): void {
    if (spec.type !== 'dpdkvhostuser') return;
    fs.rmSync(this.serverSocket(name, sockDir), { force: true });
  }

  // ---- vxlan tunnel ports (stored as ports: bridges list them, deletePort removes them) ----

  private vxlanState(name: string, spec: StoredVxlan, version: number, withStatus: boolean): VxlanPortState {
    const state: VxlanPortState = { ...spec, version };
    if (!withStatus) return state;
    const info = this.dp.portInfo(name);
    const applied = this.dp.applied(name);
    const t = applied?.mode === 'vxlan' ? (JSON.parse(applied.path) as AppliedTunnel) : undefined;
    const oper = underlayOperstate(spec.underlay.iface);
    const zero = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, txDrops: 0 };
    const st: VxlanPortState['status'] = {
      link: 'down',
      underlay: { iface: spec.underlay.iface, operstate: oper, localMac: t?.localMac, remoteMac: t?.remoteMac },
      warnings: [],
      stats: info?.stats ?? zero,
      queues: info?.queues ?? [],
    };
    const err = this.applyErrors.get(name);
    if (err) st.reason = `not in the datapath: ${err}`;
    else if (!info) st.reason = 'not in the datapath';
    else if (oper === undefined) st.reason = `underlay interface ${spec.underlay.iface} is missing from the agent's network namespace`;
    else if (oper !== 'up' && oper !== 'unknown') st.reason = `underlay interface ${spec.underlay.iface} is not up (operstate ${oper})`;
    else st.link = 'up';
    state.status = st;
    return state;
  }

  private putVxlanPort(name: string, spec: StoredVxlan, input: unknown, o: ChangeOptions): ChangeResult<VxlanPortState> {
    if (!this.store.get('bridge', spec.bridge))
      throw new ApiError('invalid', `invalid port: bridge ${spec.bridge} does not exist`, [{ field: 'bridge', rule: 'must name an existing bridge' }]);
    const cur = this.store.get<StoredVxlan>('port', name);
    if (cur && cur.spec.type !== 'vxlan')
      throw new ApiError('conflict', `port ${name} is a ${cur.spec.type} port: delete it before making a vxlan port of that name`, [{ field: 'type', rule: `must stay ${cur.spec.type}` }]);
    this.checkOwner('port', name, cur?.spec.owner, spec.owner, o);
    this.checkVersion('port', name, cur?.version ?? 0, (input as { expectedVersion?: number })?.expectedVersion ?? o.expectedVersion);
    const other = this.store.list<StoredVxlan>('port').find((p) => p.name !== name && p.spec.type === 'vxlan' && p.spec.underlay.iface === spec.underlay.iface);
    if (other)
      throw new ApiError('conflict', `port ${other.name} already uses ${spec.underlay.iface} as its underlay`, [{ field: 'underlay.iface', rule: 'must be an interface no other vxlan port uses' }]);
    const diff = diffFields(cur?.spec, spec);
    const replaceFields: readonly string[] = PORT_REPLACE_FIELDS.vxlan;
    const replace = !!cur && diff.some((d) => replaceFields.includes(d.field));
    const change: PlannedChange = { op: !cur ? 'create' : replace ? 'replace' : diff.length ? 'update' : 'none', kind: 'port', name, diff, disruptive: replace };
    if (replace) change.why = 'changing the tunnel re-opens its underlay: traffic across it stops briefly';
    const nextVersion = (cur?.version ?? 0) + (change.op === 'none' ? 0 : 1);
    if (o.dryRun || change.op === 'none') return { dryRun: !!o.dryRun, changes: [change], object: this.vxlanState(name, spec, nextVersion, !o.dryRun), warnings: [] };
    const version = this.store.transaction(() => {
      const v = this.store.put('port', name, spec);
      this.applyVxlan(name, spec);
      return v;
    });
    this.log(`port ${name} ${change.op}d (vxlan over ${spec.underlay.iface}, vni ${spec.vni}, bridge ${spec.bridge})`);
    return { dryRun: false, changes: [change], object: this.vxlanState(name, spec, version, true), warnings: [] };
  }

  /** Resolves the MACs (refusing with the reason) and (re)creates the tunnel when it changed. */
  private applyVxlan(name: string, spec: StoredVxlan): void {
    const u = spec.underlay;
    const fail = (field: string, rule: string, msg: string) => new ApiError('datapath', `port ${name}: ${msg}`, [{ field, rule }]);
    const oper = underlayOperstate(u.iface);
    if (oper === undefined) throw fail('underlay.iface', "must be an interface in the agent's network namespace", `underlay interface ${u.iface} does not exist in the agent's network namespace`);
    const localMac = u.localMac ?? fs.readFileSync(`/sys/class/net/${u.iface}/address`, 'utf8').trim();
    const remoteMac = u.remoteMac ?? neighbourMac(u.iface, u.remoteIp);
    if (!remoteMac)
      throw fail('underlay.remoteMac', 'must be given, or the kernel must know the neighbour', `no neighbour entry for ${u.remoteIp} on ${u.iface} in the kernel's table: set underlay.remoteMac, or let the host resolve it first (e.g. ping ${u.remoteIp})`);
    const want: AppliedTunnel = { iface: u.iface, localIp: u.localIp, remoteIp: u.remoteIp, localMac, remoteMac, vni: spec.vni, udpPort: spec.udpPort };
    const have = this.dp.applied(name);
    if (have && have.bridge === spec.bridge && have.mode === 'vxlan' && have.path === JSON.stringify(want)) return;
    if (have) this.dp.removePort(name);
    try {
      this.dp.addTunnel(name, spec.bridge, want);
      this.applyErrors.delete(name);
    } catch (e) {
      throw new ApiError('datapath', `port ${name}: the datapath refused it: ${(e as Error).message}`, [{ field: 'underlay', rule: 'must be usable by the datapath' }]);
    }
  }

  /** Makes the datapath's port match spec; on failure restores what was there and throws. */
  private applyPort(name: string, spec: Stored<PortSpec>): void {
    if (spec.type === 'vxlan') return this.applyVxlan(name, spec);
    const want = { bridge: spec.bridge, mode: portMode(spec.type), path: this.socketPathOf(name, spec) } as const;
    const have = this.dp.applied(name);
    if (have && have.bridge === want.bridge && have.mode === want.mode && have.path === want.path) return;
    if (have) {
      this.dp.removePort(name);
      if (have.mode === 'server') fs.rmSync(have.path, { force: true });
    }
    try {
      if (want.mode === 'server') this.prepareServerSocket(want.path);
      this.dp.addPort(name, want);
      if (want.mode === 'server') this.secureSocket(want.path);
      this.applyErrors.delete(name);
    } catch (e) {
      if (this.dp.applied(name)) this.dp.removePort(name);
      if (have) {
        try {
          this.dp.addPort(name, have);
        } catch {
          /* the previous port stays recorded as failed below */
        }
      }
      throw new ApiError('datapath', `port ${name}: the datapath refused it: ${(e as Error).message}`);
    }
  }

  private prepareServerSocket(p: string): void {
    const dir = path.dirname(p);
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
    if (this.opts.socketGid !== undefined) {
      fs.chownSync(dir, process.getuid!(), this.opts.socketGid);
      fs.chmodSync(dir, 0o770);
    }
    fs.rmSync(p, { force: true }); // a stale socket from a killed agent would make bind() fail
  }

  private secureSocket(p: string): void {
    if (!fs.existsSync(p)) return;
    if (this.opts.socketGid !== undefined) {
      fs.chownSync(p, process.getuid!(), this.opts.socketGid);
      fs.chmodSync(p, 0o660);
    } else fs.chmodSync(p, 0o600);
  }

  // ---- whole state -----------------------------------------------------------------------

  /** The stored configuration, without live status: what a dry run must leave byte-for-byte. */
  state(): { settings: SettingsState; bridges: BridgeState[]; ports: PortState[] } {
    return { settings: this.settings(), bridges: this.bridges(), ports: this.ports(false) };
  }

  /** At start: builds the datapath from the stored state. A port that fails is reported, not fatal. */
  reconcile(): void {
    const s = this.settingsSpec().spec;
    this.dp.native.setPmdMaxSleep(s.pmdMaxSleepUs);
    for (const b of this.store.list<BridgeSpec>('bridge')) this.dp.ensureBridge(b.name, b.spec.macAgingSeconds);
    for (const p of this.store.list<PortSpec>('port')) {
      try {
        this.applyPort(p.name, p.spec);
      } catch (e) {
        this.applyErrors.set(p.name, (e as Error).message);
        this.log(`port ${p.name} not restored: ${(e as Error).message}`);
      }
    }
  }

  private checkOwner(kind: Kind, name: string, have: string | undefined, want: string | undefined, o: ChangeOptions): void {
    if (have && want && have !== want && !o.adopt)
      throw new ApiError('conflict', `${kind} ${name} is managed by ${have}; import it (adopt) to take it over`, [{ field: 'owner', rule: `must be ${have}, or adopt the ${kind} on purpose` }]);
  }

  private checkVersion(kind: Kind, name: string, have: number, expected: number | undefined): void {
    if (expected !== undefined && expected !== have)
      throw new ApiError('conflict', `${kind} ${name} is at version ${have}, not ${expected}: it changed since you read it`, [{ field: 'expectedVersion', rule: `must be the current version (${have})` }]);
  }

  private log(msg: string): void {
    if (this.opts.log) this.opts.log(msg);
    else process.stderr.write(`vhostnet-agent: ${msg}\n`);
  }
}

type StoredVxlan = Stored<VxlanPortSpec>;

/** The kernel's operstate of an interface in our namespace, undefined if it does not exist. */
function underlayOperstate(iface: string): string | undefined {
  try {
    return fs.readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The MAC of ip on iface from the kernel's neighbour table (this namespace's /proc/net/arp). */
function neighbourMac(iface: string, ip: string): string | undefined {
  for (const line of fs.readFileSync('/proc/net/arp', 'utf8').split('\n').slice(1)) {
    const [addr, , flags, mac, , dev] = line.trim().split(/\s+/);
    if (addr === ip && dev === iface && (Number(flags) & 0x2) && mac !== '00:00:00:00:00:00') return mac.toLowerCase();
  }
  return undefined;
}

function withName(input: unknown, name: string): unknown {
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const body = input as Record<string, unknown>;
    if (body.name !== undefined && body.name !== name)
      throw new ApiError('invalid', `invalid body: name ${JSON.stringify(body.name)} differs from the URL's ${JSON.stringify(name)}`, [{ field: 'name', rule: 'must match the name in the URL' }]);
    return { ...body, name };
  }
  return input;
}
