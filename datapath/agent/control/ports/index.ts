// Ports: a registry of port classes, one per port type (OVS: one netdev class per interface
// type). The next kind of port (an uplink 'dpdk' port) is one more class and one more row of
// PORT_CLASSES; the change sequence, the store and the reconcile need nothing new.
import {
  ApiError,
  PORT_REPLACE_FIELDS,
  PortSpec,
  type ChangeOptions,
  type ChangeResult,
  type PlannedChange,
  type PortEnd,
  type PortSpecOf,
  type PortState,
  type PortType,
  type Stored,
} from '../../../api';
import type { StoredObject } from '../../store';
import { ChangeSequence, diffFields, opOf, type ObjectClass, type Plan, type Removal } from '../change';
import { Port, type PortContext } from './port';
import { DpdkPort } from './dpdk';
import { VhostUserPort } from './vhost-user';
import { VxlanPort } from './vxlan';
import { inInsecureDir } from '../../socket-policy';

/** How often stored ports the datapath refused are tried again. */
export const RETRY_MS = 5000;

export { Port, type ControlOptions, type PortContext } from './port';
export { ownSocket, serverSocketPath } from './vhost-user';

type SpecOf = { [T in PortType]: Stored<PortSpecOf<T>> };
type PortClass<T extends PortType> = new (ctx: PortContext, name: string, spec: SpecOf[T]) => Port;

/** The class of each port type. */
const PORT_CLASSES: { [T in PortType]: PortClass<T> } = {
  dpdkvhostuserclient: VhostUserPort,
  dpdkvhostuser: VhostUserPort,
  vxlan: VxlanPort,
  dpdk: DpdkPort,
};

function construct<T extends PortType>(ctx: PortContext, name: string, type: T, spec: SpecOf[T]): Port {
  const C: PortClass<T> = PORT_CLASSES[type];
  return new C(ctx, name, spec);
}

type StoredPort = Stored<PortSpec>;

export class Ports implements ObjectClass<PortSpec, StoredPort, PortState> {
  readonly kind = 'port';
  readonly what = 'port';
  readonly schema = PortSpec;
  readonly named = true;
  private readonly changes: ChangeSequence;

  constructor(
    private readonly ctx: PortContext,
    log: (msg: string) => void,
  ) {
    this.changes = new ChangeSequence(ctx.store, log);
  }

  /** The port object of a stored (or proposed) spec, of its type's class. */
  of(name: string, spec: StoredPort): Port {
    return construct(this.ctx, name, spec.type, spec);
  }

  current(name: string): StoredObject<StoredPort> | undefined {
    return this.ctx.store.get<StoredPort>('port', name);
  }

  stored(): StoredObject<StoredPort>[] {
    return this.ctx.store.list<StoredPort>('port');
  }

  get(name: string, live = true): PortState {
    const p = this.current(name);
    if (!p) throw new ApiError('not_found', `port ${name} does not exist`);
    return this.of(name, p.spec).state(p.version, live);
  }

  list(live = true): PortState[] {
    return this.stored().map((p) => this.of(p.name, p.spec).state(p.version, live));
  }

  /** The guest's end of a port, for pairing a GuestVM's NIC; undefined for none or a port no guest plugs into. */
  guestEnd(name: string): PortEnd | undefined {
    const p = this.current(name);
    return p && this.of(name, p.spec).guestEnd();
  }

  put(name: string, input: unknown, o: ChangeOptions = {}): ChangeResult<PortState> {
    return this.changes.put(this, name, input, o);
  }

  delete(name: string, o: ChangeOptions = {}): ChangeResult<PortState> {
    return this.changes.remove(this, name, o);
  }

  plan(name: string, spec: StoredPort, cur: StoredObject<StoredPort> | undefined): Plan<PortState> {
    if (!this.ctx.store.get('bridge', spec.bridge))
      throw new ApiError('invalid', `invalid port: bridge ${spec.bridge} does not exist`, [{ field: 'bridge', rule: 'must name an existing bridge' }]);
    // A port keeps its class: the datapath objects of two classes have nothing to carry over.
    if (cur && PORT_CLASSES[cur.spec.type] !== PORT_CLASSES[spec.type])
      throw new ApiError('conflict', `port ${name} is a ${cur.spec.type} port: delete it before making a ${spec.type} port of that name`, [
        { field: 'type', rule: `must stay ${cur.spec.type}` },
      ]);
    const port = this.of(name, spec);
    port.check();
    const diff = diffFields(cur?.spec, spec);
    const replaceFields: readonly string[] = PORT_REPLACE_FIELDS[spec.type];
    const op = opOf(cur, diff, replaceFields);
    const change: PlannedChange = { op, kind: 'port', name, diff, disruptive: op === 'replace' };
    if (op === 'replace') change.why = port.replaceWhy(diff.filter((d) => replaceFields.includes(d.field)).map((d) => d.field));
    return {
      changes: [change],
      warnings: port.warnings(),
      stored: spec,
      socket: port.socket(),
      object: (version, live) => port.state(version, live),
      apply: () => port.apply(),
      done: `port ${name} ${op}d (${port.summary()})`,
    };
  }

  planDelete(name: string, cur: StoredObject<StoredPort>): Removal {
    const users = this.ctx.store.list<{ nics: { port: string }[] }>('guest').filter((g) => g.spec.nics.some((n) => n.port === name));
    if (users.length)
      throw new ApiError('conflict', `port ${name} is plugged into guest ${users.map((g) => g.name).join(', ')}: delete or change the guest first`, [
        { field: 'name', rule: 'must not be a port a guest uses' },
      ]);
    return {
      change: { op: 'delete', kind: 'port', name, diff: diffFields(cur.spec, undefined), disruptive: true },
      apply: () => this.of(name, cur.spec).remove(),
    };
  }

  /** At start: every stored port through its class. A port that fails is reported, not fatal. */
  restore(log: (msg: string) => void): void {
    for (const p of this.stored()) this.reapply(p.name, p.spec, log);
  }

  /**
   * Client ports waiting for their socket are admitted once it passes the socket policy, and a
   * disconnected one whose socket was replaced by one that does not is let go of (vhost-user.ts).
   */
  admitWaiting(log: (msg: string) => void): void {
    // Only an insecure directory lets an untrusted socket replace a trusted one: elsewhere nothing to look at.
    const policy = this.ctx.opts.socketPolicy;
    const insecure = !!policy?.insecureDirs.length;
    if (!this.ctx.waiting.size && !insecure) return;
    for (const p of this.stored()) {
      if (p.spec.type !== 'dpdkvhostuserclient') continue;
      const recheck = insecure && inInsecureDir(policy!, p.spec.vhostServerPath) && this.ctx.dp.portInfo(p.name)?.connected === false;
      if (this.ctx.waiting.has(p.name) || recheck) this.reapply(p.name, p.spec, log);
    }
  }

  private lastRetry = 0;

  /**
   * Stored ports the datapath refused at start (a tunnel whose next hop the kernel had not
   * resolved yet, an uplink whose interface was missing) are tried again every RETRY_MS: the host
   * may have fixed the cause since. Logged when one is restored or its reason changes.
   */
  retryRefused(log: (msg: string) => void, now = Date.now()): void {
    if (!this.ctx.applyErrors.size || now - this.lastRetry < RETRY_MS) return;
    this.lastRetry = now;
    for (const p of this.stored()) {
      const before = this.ctx.applyErrors.get(p.name);
      if (before === undefined) continue;
      try {
        this.of(p.name, p.spec).apply();
        log(`port ${p.name} restored on retry (it had failed: ${before})`);
      } catch (e) {
        const why = (e as Error).message;
        this.ctx.applyErrors.set(p.name, why);
        if (why !== before) log(`port ${p.name} still not restored: ${why}`);
      }
    }
  }

  /** Applies a stored port again (settings moved its socket); a failure is recorded as the port's reason. */
  reapply(name: string, spec: StoredPort, log?: (msg: string) => void): void {
    try {
      this.of(name, spec).apply();
    } catch (e) {
      if (!log) throw e;
      this.ctx.applyErrors.set(name, (e as Error).message);
      log(`port ${name} not restored: ${(e as Error).message}`);
    }
  }
}
