// The datapath's global settings (OVS Open_vSwitch other_config): one object per agent, never
// created or deleted. Some take effect at once (pmdMaxSleepUs, vhostSockDir: server ports'
// sockets move), the rest at the agent's next start ("restart required").
import {
  ApiError,
  RESTART_SETTINGS,
  SettingsSpec,
  type ChangeOptions,
  type ChangeResult,
  type FieldIssue,
  type PlannedChange,
  type RunningSettings,
  type SettingsState,
  type Stored,
} from '../../api';
import type { Datapath } from '../datapath';
import { hugepageMemory, memAvailableMb, onlineCpus } from '../host';
import type { Store, StoredObject } from '../store';
import { ChangeSequence, diffFields, type ObjectClass, type Plan, type Removal } from './change';
import { ownSocket, serverSocketPath, type ControlOptions, type Ports } from './ports';

/** The store's name of the one settings object. */
export const SETTINGS = 'global';

type StoredSettings = Stored<SettingsSpec>;

/** The stored settings, or the defaults at version 0 when none were ever set. */
export function storedSettings(store: Store): { spec: StoredSettings; version: number } {
  const s = store.get<StoredSettings>('settings', SETTINGS);
  if (s) return { spec: s.spec, version: s.version };
  const { expectedVersion: _v, ...defaults } = SettingsSpec.parse({});
  return { spec: defaults, version: 0 };
}

/** Why these PMD CPUs cannot run here: each must be a CPU the host has online. */
export function pmdCpuProblems(cpus: number[], online: number[]): FieldIssue[] {
  const list = online.join(',');
  return cpus.flatMap((c, i) => (online.includes(c) ? [] : [{ field: `pmdCpus.${i}`, rule: `must be a CPU this host has online (${list}); ${c} is not` }]));
}

/** What the host offers the datapath's restart-required settings. */
export interface HostFacts {
  online: number[];
  /** Free hugepage memory the datapath could take, MiB (with what it holds itself). */
  hugeFreeMb: number;
  /** Ordinary memory available (--no-huge), MiB. */
  memAvailableMb: number;
}

/** The host as it is now; heldMb: hugepage memory the datapath holds and would give back at a restart. */
export function hostFacts(heldMb = 0): HostFacts {
  return { online: onlineCpus(), hugeFreeMb: hugepageMemory().freeMb + heldMb, memAvailableMb: memAvailableMb() };
}

/** The restart-required settings, as the last start that worked took them (kept in the store). */
export type RestartSettings = Pick<SettingsSpec, 'pmdCpus' | 'memoryMb' | 'hugepages' | 'vhostIommuSupport'>;

/** The store's name of the last restart-required settings the datapath started with. */
export const LAST_GOOD = 'last-good';

/**
 * Why this host cannot start the datapath with these settings: PMD CPUs it has online, and the
 * memory they ask for (free hugepages for hugepages 'on', available memory without hugepages).
 */
export function settingsHostProblems(s: RestartSettings, host: HostFacts): FieldIssue[] {
  const out = pmdCpuProblems(s.pmdCpus, host.online);
  const huge = s.hugepages === 'on' || (s.hugepages === 'auto' && host.hugeFreeMb >= s.memoryMb);
  if (s.hugepages === 'on' && s.memoryMb > host.hugeFreeMb)
    out.push({
      field: 'memoryMb',
      rule: `must fit the free hugepages with hugepages 'on' (${s.memoryMb} MiB asked, ${host.hugeFreeMb} MiB free): reserve more with a HugepageConfig, or set hugepages 'auto'`,
    });
  else if (!huge && s.memoryMb > host.memAvailableMb)
    out.push({
      field: 'memoryMb',
      rule: `must fit the host's available memory without hugepages (${s.memoryMb} MiB asked, ${host.memAvailableMb} MiB available)`,
    });
  return out;
}

export class Settings implements ObjectClass<SettingsSpec, StoredSettings, SettingsState> {
  readonly kind = 'settings';
  readonly what = 'settings';
  readonly schema = SettingsSpec;
  readonly named = false;
  private readonly changes: ChangeSequence;

  constructor(
    private readonly store: Store,
    private readonly dp: Datapath,
    private readonly ports: Ports,
    private readonly opts: ControlOptions,
    readonly running: RunningSettings,
    log: (msg: string) => void,
  ) {
    this.changes = new ChangeSequence(store, log);
  }

  current(): StoredObject<StoredSettings> | undefined {
    return this.store.get<StoredSettings>('settings', SETTINGS);
  }

  get(): SettingsState {
    const { spec, version } = storedSettings(this.store);
    return { ...spec, version, restartRequired: this.restartRequired(spec), running: this.running };
  }

  put(input: unknown, o: ChangeOptions = {}): ChangeResult<SettingsState> {
    return this.changes.put(this, SETTINGS, input, o);
  }

  /** Fields whose value differs from what the running datapath took at start. */
  private restartRequired(spec: StoredSettings): string[] {
    const want: RunningSettings = {
      pmdCpus: spec.pmdCpus.length ? spec.pmdCpus : this.running.pmdCpus,
      hugepages: spec.hugepages === 'auto' ? this.running.hugepages : spec.hugepages === 'on',
      memoryMb: spec.memoryMb,
      vhostIommuSupport: spec.vhostIommuSupport,
    };
    // A setting refused at start is reported as refused: a restart would not take it either.
    const refused = new Set((this.running.refused ?? []).map((r) => r.field.split('.')[0]));
    return RESTART_SETTINGS.filter((k) => !refused.has(k) && JSON.stringify(want[k]) !== JSON.stringify(this.running[k]));
  }

  plan(name: string, spec: StoredSettings): Plan<SettingsState> {
    const cur = storedSettings(this.store).spec;
    const diff = diffFields(cur, spec);
    // Checked when set, against this host: at the next start it would be too late to say so.
    const restartDiff = diff.filter((d) => (RESTART_SETTINGS as readonly string[]).includes(d.field)).map((d) => d.field.split('.')[0]);
    const hostProblems = restartDiff.length
      ? settingsHostProblems(spec, hostFacts(this.running.hugepages ? this.running.memoryMb : 0)).filter(
          (p) => restartDiff.includes(p.field.split('.')[0]) || (p.field === 'memoryMb' && restartDiff.includes('hugepages')),
        )
      : [];
    if (hostProblems.length) throw new ApiError('invalid', `invalid settings: ${hostProblems.map((p) => `${p.field} ${p.rule}`).join('; ')}`, hostProblems);
    const sockDirMoves = cur.vhostSockDir !== spec.vhostSockDir;
    const serverPorts = this.ports.stored().filter((p) => p.spec.type === 'dpdkvhostuser');
    const change: PlannedChange = {
      op: diff.length ? 'update' : 'none',
      kind: 'settings',
      name,
      diff,
      disruptive: sockDirMoves && serverPorts.length > 0,
      restartRequired: this.restartRequired(spec).filter((f) => diff.some((d) => d.field === f)),
    };
    if (change.restartRequired?.length) change.why = `takes effect at the agent's next start (restart required: ${change.restartRequired.join(', ')})`;
    const changes = [change];
    for (const p of sockDirMoves ? serverPorts : []) {
      const to = serverSocketPath(this.opts.runDir, spec.vhostSockDir, p.name);
      if (ownSocket(this.opts, to))
        throw new ApiError('invalid', `invalid settings: vhostSockDir would put server port ${p.name}'s socket on the agent's own socket ${to}`, [
          { field: 'vhostSockDir', rule: `must not put a server port's socket on the agent's own socket (${p.name})` },
        ]);
    }
    if (sockDirMoves)
      for (const p of serverPorts)
        changes.push({
          op: 'replace',
          kind: 'port',
          name: p.name,
          disruptive: true,
          diff: [
            {
              field: 'socketPath',
              from: serverSocketPath(this.opts.runDir, cur.vhostSockDir, p.name),
              to: serverSocketPath(this.opts.runDir, spec.vhostSockDir, p.name),
            },
          ],
          why: 'vhostSockDir moved: the server socket is re-created and its guest must reconnect',
        });
    let applied = false;
    return {
      changes,
      stored: spec,
      // A dry run answers the settings as they would be, at the version they are at.
      object: () => (applied || change.op === 'none' ? this.get() : { ...this.get(), ...spec }),
      apply: () => {
        // The new settings are stored already (same transaction): server ports find their new directory.
        if (cur.pmdMaxSleepUs !== spec.pmdMaxSleepUs) this.dp.native.setPmdMaxSleep(spec.pmdMaxSleepUs);
        if (sockDirMoves) for (const p of serverPorts) this.ports.reapply(p.name, p.spec);
        applied = true;
      },
      done: `settings updated: ${diff.map((d) => d.field).join(', ')}`,
    };
  }

  planDelete(): Removal {
    throw new ApiError('method_not_allowed', 'the settings cannot be deleted, only set', [{ field: 'method', rule: 'must be GET or PUT' }]);
  }

  /** At start: what takes effect at once. The rest the datapath took at init. */
  restore(): void {
    this.dp.native.setPmdMaxSleep(storedSettings(this.store).spec.pmdMaxSleepUs);
  }
}
