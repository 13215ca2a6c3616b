// Bridges: an L2 learning switch each, in the datapath. A bridge with ports cannot be deleted.
import {
  ApiError,
  BridgeSpec,
  DEFAULT_MAC_LIMIT_PER_PORT,
  MAC_TABLE_MAX,
  type BridgeFdbStatus,
  type BridgeStatus,
  type BridgeState,
  type ChangeOptions,
  type ChangeResult,
  type Stored,
} from '../../api';
import type { BridgeFdb } from '../datapath';
import type { Datapath } from '../datapath';
import type { Store, StoredObject } from '../store';
import { ChangeSequence, diffFields, opOf, type ObjectClass, type Plan, type Removal } from './change';
import type { Ports } from './ports';

type StoredBridge = Stored<BridgeSpec>;

/** The MAC table settings of a stored bridge (one stored before they existed has the defaults). */
function fdbOf(spec: StoredBridge): BridgeFdb {
  return { tableSize: spec.macTableSize ?? MAC_TABLE_MAX, limitPerPort: spec.macLimitPerPort ?? DEFAULT_MAC_LIMIT_PER_PORT };
}

export class Bridges implements ObjectClass<BridgeSpec, StoredBridge, BridgeState> {
  readonly kind = 'bridge';
  readonly what = 'bridge';
  readonly schema = BridgeSpec;
  readonly named = true;
  private readonly changes: ChangeSequence;

  constructor(
    private readonly store: Store,
    private readonly dp: Datapath,
    private readonly ports: Ports,
    log: (msg: string) => void,
  ) {
    this.changes = new ChangeSequence(store, log);
  }

  private state(name: string, spec: StoredBridge, version: number): BridgeState {
    const ports = this.ports
      .stored()
      .filter((p) => p.spec.bridge === name)
      .map((p) => p.name);
    return { ...spec, version, ports };
  }

  /** What its guest ports take now: the MTU and where it comes from, and what will not fit. */
  private status(name: string, spec: StoredBridge): BridgeStatus {
    const m = spec.mtu !== undefined ? { mtu: spec.mtu, source: `bridge ${name} mtu` } : this.dp.bridgeMtu(name);
    const warnings: string[] = [];
    const t = this.dp.tunnelMtu(name);
    if (t && m.mtu > t.mtu) warnings.push(`mtu ${m.mtu} is more than a tunnel carries (${t.source}): longer frames are dropped there (counted as mtuExceeded)`);
    return { mtu: m.mtu, mtuSource: m.source, warnings };
  }

  current(name: string): StoredObject<StoredBridge> | undefined {
    return this.store.get<StoredBridge>('bridge', name);
  }

  /** The MAC table as the datapath runs it: its settings and counters. */
  private fdbStatus(name: string): BridgeFdbStatus | undefined {
    const set = this.dp.fdbSettings(name);
    const stats = this.dp.fdbStats(name);
    if (!set || !stats) return undefined;
    const { macAgingSeconds, macLimitPerPort, portLimits } = set;
    return { ...stats, macAgingSeconds, macLimitPerPort, portLimits };
  }

  /** The live bridge: its guest ports' MTU and its MAC table. */
  private live(name: string, st: BridgeState): BridgeState {
    const fdb = this.fdbStatus(name);
    return { ...st, status: { ...this.status(name, st), ...(fdb ? { fdb } : {}) } };
  }

  get(name: string, live = true): BridgeState {
    const b = this.current(name);
    if (!b) throw new ApiError('not_found', `bridge ${name} does not exist`);
    const st = this.state(name, b.spec, b.version);
    return live ? this.live(name, st) : st;
  }

  list(live = true): BridgeState[] {
    return this.store.list<StoredBridge>('bridge').map((b) => {
      const st = this.state(b.name, b.spec, b.version);
      return live ? this.live(b.name, st) : st;
    });
  }

  put(name: string, input: unknown, o: ChangeOptions = {}): ChangeResult<BridgeState> {
    return this.changes.put(this, name, input, o);
  }

  delete(name: string, o: ChangeOptions = {}): ChangeResult<BridgeState> {
    return this.changes.remove(this, name, o);
  }

  plan(name: string, spec: StoredBridge, cur: StoredObject<StoredBridge> | undefined): Plan<BridgeState> {
    const diff = diffFields(cur?.spec, spec);
    return {
      changes: [{ op: opOf(cur, diff), kind: 'bridge', name, diff, disruptive: false }],
      stored: spec,
      object: (version) => this.state(name, spec, version),
      apply: () => {
        this.dp.ensureBridge(name, spec.macAgingSeconds, fdbOf(spec));
        this.dp.setBridgeMtu(name, spec.mtu);
      },
    };
  }

  planDelete(name: string, cur: StoredObject<StoredBridge>): Removal {
    const ports = this.ports.stored().filter((p) => p.spec.bridge === name);
    if (ports.length)
      throw new ApiError('conflict', `bridge ${name} still has ports (${ports.map((p) => p.name).join(', ')}): delete them first`, [
        { field: 'ports', rule: "must be empty: delete the bridge's ports first" },
      ]);
    return {
      change: { op: 'delete', kind: 'bridge', name, diff: diffFields(cur.spec, undefined), disruptive: false },
      apply: () => this.dp.removeBridge(name),
    };
  }

  /** At start: every stored bridge into the datapath. */
  restore(): void {
    for (const b of this.store.list<StoredBridge>('bridge')) {
      this.dp.ensureBridge(b.name, b.spec.macAgingSeconds, fdbOf(b.spec));
      this.dp.setBridgeMtu(b.name, b.spec.mtu);
    }
  }
}
