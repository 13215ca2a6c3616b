// The one change sequence every object kind goes through, as a PUT or a DELETE:
//   parse → owner check → version check → the kind's checks, diff and plan → dry-run exit →
//   one store transaction that stores and applies (a throw rolls the store back).
// Each kind (settings.ts, bridges.ts, ports/, guests.ts, hugepages.ts) says only what is its own:
// its schema, its checks, its plan, how it is applied. Request, then apply (as OVS netdev-dpdk).
import type { z } from 'zod';
import { ApiError, parse, type ChangeOptions, type ChangeResult, type ObjectKind, type PlannedChange } from '../../api';
import type { Store, StoredObject } from '../store';

/** What a kind decided about one PUT, before anything changes. */
export interface Plan<St> {
  /** The object's own change first, then any it brings (server ports a settings change moves). */
  changes: PlannedChange[];
  warnings?: string[];
  /** What the store keeps: the spec, or the spec and what the kind found on the host. */
  stored: object;
  /** A socket path the object owns, indexed by the store so two objects never share one. */
  socket?: string;
  /** The answer's object at this version; live: with the host's live status. */
  object(version: number, live: boolean): St;
  /** Makes the datapath or host match, inside the store transaction: a throw leaves both as they were. */
  apply(): void;
  /** A line for the agent's log once it is done. */
  done?: string;
}

/** What a kind decided about one DELETE. */
export interface Removal {
  change: PlannedChange;
  apply(): void;
  done?: string;
}

/** A kind of stored object. S: the parsed spec (expectedVersion included); C: what the store holds. */
export interface ObjectClass<S extends { expectedVersion?: number }, C extends object, St> {
  readonly kind: ObjectKind;
  /** For messages: "port", "hugepage config". */
  readonly what: string;
  readonly schema: z.ZodType<S>;
  /** false for the settings: one per agent, no name in the body. */
  readonly named: boolean;
  current(name: string): StoredObject<C> | undefined;
  plan(name: string, spec: Omit<S, 'expectedVersion'>, cur: StoredObject<C> | undefined, o: ChangeOptions): Plan<St>;
  planDelete(name: string, cur: StoredObject<C>): Removal;
}

/** An object class whose application is slow and asynchronous (a QEMU start): see ChangeSequence.putAsync. */
export interface AsyncPlan<St> extends Omit<Plan<St>, 'apply' | 'object'> {
  object(version: number, live: boolean): Promise<St>;
  /** After the store commit; on a throw the store is put back (undo) and the change refused. */
  apply(): Promise<void>;
  undo(): Promise<void>;
}

export interface AsyncObjectClass<S extends { expectedVersion?: number }, C extends object, St> extends Omit<ObjectClass<S, C, St>, 'plan' | 'planDelete'> {
  plan(name: string, spec: Omit<S, 'expectedVersion'>, cur: StoredObject<C> | undefined, o: ChangeOptions): Promise<AsyncPlan<St>>;
  planDelete(name: string, cur: StoredObject<C>): { change: PlannedChange; apply(): Promise<void>; done?: string };
}

type Owned = { owner?: string };

/** The fields that differ between two objects, sorted by name. */
export function diffFields(from: object | undefined, to: object | undefined): PlannedChange['diff'] {
  const a: Record<string, unknown> = { ...from };
  const b: Record<string, unknown> = { ...to };
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => ({ field: k, from: a[k], to: b[k] }));
}

/** create, replace (when a replace field differs), update or none. */
export function opOf(cur: unknown, diff: PlannedChange['diff'], replaceFields: readonly string[] = []): PlannedChange['op'] {
  if (!cur) return 'create';
  if (diff.some((d) => replaceFields.includes(d.field))) return 'replace';
  return diff.length ? 'update' : 'none';
}

/** The body with the URL's name: a body that names another object is refused. */
function withName(input: unknown, name: string): unknown {
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    const body = input as Record<string, unknown>;
    if (body.name !== undefined && body.name !== name)
      throw new ApiError('invalid', `invalid body: name ${JSON.stringify(body.name)} differs from the URL's ${JSON.stringify(name)}`, [
        { field: 'name', rule: 'must match the name in the URL' },
      ]);
    return { ...body, name };
  }
  return input;
}

export class ChangeSequence {
  constructor(
    private readonly store: Store,
    private readonly log: (msg: string) => void,
  ) {}

  /** parse → owner → version: what every PUT does before its kind plans it. */
  private begin<S extends { expectedVersion?: number }, C extends object>(
    k: { kind: ObjectKind; what: string; schema: z.ZodType<S>; named: boolean; current(name: string): StoredObject<C> | undefined },
    name: string,
    input: unknown,
    o: ChangeOptions,
  ): { spec: Omit<S, 'expectedVersion'>; cur: StoredObject<C> | undefined } {
    const { expectedVersion, ...spec } = parse(k.schema, k.named ? withName(input, name) : input, k.what);
    const cur = k.current(name);
    this.checkOwner(k.kind, name, (cur?.spec as Owned | undefined)?.owner, (spec as Owned).owner, o);
    this.checkVersion(k.kind, name, cur?.version ?? 0, expectedVersion ?? o.expectedVersion);
    return { spec, cur };
  }

  put<S extends { expectedVersion?: number }, C extends object, St>(
    k: ObjectClass<S, C, St>,
    name: string,
    input: unknown,
    o: ChangeOptions = {},
  ): ChangeResult<St> {
    const { spec, cur } = this.begin(k, name, input, o);
    const plan = k.plan(name, spec, cur, o);
    const warnings = plan.warnings ?? [];
    const none = plan.changes[0].op === 'none';
    if (o.dryRun || none) return { dryRun: !!o.dryRun, changes: plan.changes, object: plan.object((cur?.version ?? 0) + (none ? 0 : 1), !o.dryRun), warnings };
    const version = this.store.transaction(() => {
      const v = this.store.put(k.kind, name, plan.stored, plan.socket);
      plan.apply();
      return v;
    });
    this.log(plan.done ?? `${k.kind} ${name} ${plan.changes[0].op}d`);
    return { dryRun: false, changes: plan.changes, object: plan.object(version, true), warnings };
  }

  /** DELETE: absent is no change; the version is checked; the kind may refuse (a port a guest uses). */
  remove<C extends object, St>(k: ObjectClass<{ expectedVersion?: number }, C, St>, name: string, o: ChangeOptions = {}): ChangeResult<St> {
    const cur = k.current(name);
    if (!cur) return { dryRun: !!o.dryRun, changes: [{ op: 'none', kind: k.kind, name, diff: [], disruptive: false }], warnings: [] };
    this.checkVersion(k.kind, name, cur.version, o.expectedVersion);
    const r = k.planDelete(name, cur);
    if (o.dryRun) return { dryRun: true, changes: [r.change], warnings: [] };
    this.store.transaction(() => {
      this.store.delete(k.kind, name);
      r.apply();
    });
    this.log(r.done ?? `${k.kind} ${name} deleted`);
    return { dryRun: false, changes: [r.change], warnings: [] };
  }

  /**
   * The same sequence for a kind whose application cannot run inside a transaction (QEMU starts
   * take seconds): the store commits first, then the kind applies, and on failure the store is put
   * back and the kind undoes what it did, so nothing unacknowledged remains.
   */
  async putAsync<S extends { expectedVersion?: number }, C extends object, St>(
    k: AsyncObjectClass<S, C, St>,
    name: string,
    input: unknown,
    o: ChangeOptions = {},
  ): Promise<ChangeResult<St>> {
    const { spec, cur } = this.begin(k, name, input, o);
    const plan = await k.plan(name, spec, cur, o);
    const warnings = plan.warnings ?? [];
    const none = plan.changes[0].op === 'none';
    if (o.dryRun || none)
      return { dryRun: !!o.dryRun, changes: plan.changes, object: await plan.object((cur?.version ?? 0) + (none ? 0 : 1), !o.dryRun), warnings };
    const version = this.store.transaction(() => this.store.put(k.kind, name, plan.stored, plan.socket));
    try {
      await plan.apply();
    } catch (e) {
      this.store.transaction(() => (cur ? this.store.put(k.kind, name, cur.spec) : this.store.delete(k.kind, name)));
      await plan.undo().catch(() => undefined);
      throw e;
    }
    this.log(plan.done ?? `${k.kind} ${name} ${plan.changes[0].op}d`);
    return { dryRun: false, changes: plan.changes, object: await plan.object(version, true), warnings };
  }

  /** DELETE of an asynchronous kind: the store first (a crash after it leaves what the next start removes), then the kind. */
  async removeAsync<C extends object, St>(
    k: AsyncObjectClass<{ expectedVersion?: number }, C, St>,
    name: string,
    o: ChangeOptions = {},
  ): Promise<ChangeResult<St>> {
    const cur = k.current(name);
    if (!cur) return { dryRun: !!o.dryRun, changes: [{ op: 'none', kind: k.kind, name, diff: [], disruptive: false }], warnings: [] };
    this.checkVersion(k.kind, name, cur.version, o.expectedVersion);
    const r = k.planDelete(name, cur);
    if (o.dryRun) return { dryRun: true, changes: [r.change], warnings: [] };
    this.store.transaction(() => this.store.delete(k.kind, name));
    await r.apply();
    this.log(r.done ?? `${k.kind} ${name} deleted`);
    return { dryRun: false, changes: [r.change], warnings: [] };
  }

  private checkOwner(kind: ObjectKind, name: string, have: string | undefined, want: string | undefined, o: ChangeOptions): void {
    if (have && want && have !== want && !o.adopt)
      throw new ApiError('conflict', `${kind} ${name} is managed by ${have}; import it (adopt) to take it over`, [
        { field: 'owner', rule: `must be ${have}, or adopt the ${kind} on purpose` },
      ]);
  }

  private checkVersion(kind: ObjectKind, name: string, have: number, expected: number | undefined): void {
    if (expected !== undefined && expected !== have)
      throw new ApiError('conflict', `${kind} ${name} is at version ${have}, not ${expected}: it changed since you read it`, [
        { field: 'expectedVersion', rule: `must be the current version (${have})` },
      ]);
  }
}
