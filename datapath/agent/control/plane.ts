// The agent's control plane: one class per object kind, each going through the one change
// sequence (change.ts). Guests (guests.ts) and hugepage reservations (hugepages.ts) are built
// beside it in agent.ts: they need the QEMU supervisor and sysfs, the rest only the datapath.
import type { BridgeState, PortState, RunningSettings, SettingsState } from '../../api';
import type { Datapath } from '../datapath';
import type { Store } from '../store';
import { Bridges } from './bridges';
import { Ports, type ControlOptions, type PortContext } from './ports';
import { Settings, storedSettings } from './settings';

export { ChangeSequence } from './change';
export type { ControlOptions } from './ports';

export class Control {
  readonly settings: Settings;
  readonly bridges: Bridges;
  readonly ports: Ports;
  private readonly log: (msg: string) => void;

  constructor(
    store: Store,
    dp: Datapath,
    opts: ControlOptions,
    readonly running: RunningSettings,
  ) {
    this.log = opts.log ?? ((msg) => process.stderr.write(`vhostnet-agent: ${msg}\n`));
    const ctx: PortContext = { dp, store, opts, running, sockDir: () => storedSettings(store).spec.vhostSockDir, applyErrors: new Map(), waiting: new Map() };
    this.ports = new Ports(ctx, this.log);
    this.bridges = new Bridges(store, dp, this.ports, this.log);
    this.settings = new Settings(store, dp, this.ports, opts, running, this.log);
  }

  /** The stored configuration, without live status: what a dry run must leave byte-for-byte. */
  state(): { settings: SettingsState; bridges: BridgeState[]; ports: PortState[] } {
    return { settings: this.settings.get(), bridges: this.bridges.list(false), ports: this.ports.list(false) };
  }

  /** At start: every stored object applied through its class (settings, bridges, then ports). */
  reconcile(): void {
    this.settings.restore();
    this.bridges.restore();
    this.ports.restore(this.log);
  }
}
