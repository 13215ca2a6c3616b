// Who runs a GuestVM's QEMU: one interface for the agent's own supervisor (backend 'qemu') and
// libvirtd (backend 'libvirt'), and the one table that maps a spec's `backend` to its
// implementation. The agent asks the table; nothing else tests which backend a guest has.
import type { GuestSpec } from '../../api/guest';
import { formatVersion } from './version';
import { LibvirtBackend, type LibvirtBackendOptions } from './libvirt-backend';
import { QemuBackend } from './qemu-backend';
import type { GuestStatus, GuestSupervisor } from './supervisor';

export type GuestBackendName = GuestSpec['backend'];

/** A guest's live status as the API shows it, whichever backend runs it. */
export interface BackendGuestStatus extends Omit<GuestStatus, 'command' | 'paths'> {
  consoleLog: string;
}

export interface GuestBackend {
  readonly name: GuestBackendName;
  /**
   * Why this host cannot run guests on this backend, or undefined when it can. `missing` says
   * what is absent, for the 'backend' field's rule.
   */
  unavailable(): Promise<{ missing: string; why: string } | undefined>;
  /** Starts the guest; resolves once its QEMU runs. */
  start(spec: GuestSpec): Promise<void>;
  /** Stops the guest and forgets it (its runtime directory too); nothing when it has no such guest. */
  stop(name: string): Promise<void>;
  /** Live status of the guest; undefined when this backend does not have it. */
  status(spec: GuestSpec): Promise<BackendGuestStatus | undefined>;
  /**
   * At agent start: finds the guests a previous agent left to this backend and keeps them
   * (running, or handled per their restart policy). Returns their names: they are not started again.
   */
  adopt(): Promise<string[]>;
  /** Every guest this backend holds, running or not. */
  list(): Promise<string[]>;
  /** What the backend really runs for the spec: the libvirt domain XML and the notes about it. */
  definition(spec: GuestSpec, commandNotes: string[]): { libvirtXml: string; notes: string[] };
  /** Agent shutdown: drops connections and timers, leaves every guest running. */
  detach(): void;
}

/** The backends of one agent, by name: the choice of backend is made here and only here. */
export class GuestBackends {
  private readonly table: Record<GuestBackendName, GuestBackend>;

  constructor(backends: Record<GuestBackendName, GuestBackend>) {
    this.table = backends;
  }

  /** The backend a spec names (its default is 'qemu'). */
  of(spec: Pick<GuestSpec, 'backend'>): GuestBackend {
    return this.table[spec.backend ?? 'qemu'];
  }

  all(): GuestBackend[] {
    return Object.values(this.table);
  }
}

/** The agent's backends: its supervisor, and libvirtd keeping its guests' files beside the supervisor's. */
export function guestBackends(supervisor: GuestSupervisor, libvirt: LibvirtBackendOptions = {}): GuestBackends {
  return new GuestBackends({
    qemu: new QemuBackend(supervisor),
    libvirt: new LibvirtBackend({ stateDir: supervisor.stateDir, qemuVersion: async () => formatVersion(await supervisor.qemuVersion()), ...libvirt }),
  });
}
