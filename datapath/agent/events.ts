// Events: every link change with its reason, tunnels up and down, guests crashing and being
// restarted, a port reaching its MAC limit, settings that wait for a restart. Each is one structured JSON line on stderr (for
// journald and log shippers), and kept in a bounded ring that GET /v1/events?since=ID serves,
// with a long poll (wait=SECONDS) behind `vhostctl events --follow`.
//
// Found by watching what the agent already reports rather than by hooks in each path: a port's
// link can drop from the guest's side (QEMU exits, the vrings are disabled) with no API call,
// and the same comparison serves every port class and both guest backends.
import type { NewEvent, VhostnetEvent } from '../api';

export const EVENT_RING = 10000;
/** A port that keeps hitting its MAC limit is one event per this long, not one per refused MAC. */
export const MAC_LIMIT_EVENT_EVERY_MS = 60000;

export class EventLog {
  private readonly ring: VhostnetEvent[] = [];
  private nextId = 1;
  private waiters: (() => void)[] = [];

  constructor(private readonly write: (line: string) => void = (l) => process.stderr.write(l)) {}

  emit(e: NewEvent): VhostnetEvent {
    const ev = { id: this.nextId++, time: new Date().toISOString(), ...e } as VhostnetEvent;
    this.ring.push(ev);
    if (this.ring.length > EVENT_RING) this.ring.shift();
    this.write(`${JSON.stringify({ event: ev })}\n`);
    this.wakeAll();
    return ev;
  }

  /** Answers every waiting long poll now (the agent is stopping). */
  wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const wake of w) wake();
  }

  /** Events after `since` (an id; 0 for all kept). `next` is the id to pass next time. */
  since(since: number): { events: VhostnetEvent[]; next: number; oldest: number } {
    const events = this.ring.filter((e) => e.id > since);
    return { events, next: this.nextId - 1, oldest: this.ring[0]?.id ?? this.nextId };
  }

  /** As since(), but waits up to waitMs for the first new event when there is none yet. */
  async wait(since: number, waitMs: number): Promise<{ events: VhostnetEvent[]; next: number; oldest: number }> {
    const now = this.since(since);
    if (now.events.length || waitMs <= 0) return now;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve();
      }, waitMs);
      const wake = () => {
        clearTimeout(t);
        resolve();
      };
      this.waiters.push(wake);
    });
    return this.since(since);
  }
}

interface PortLink {
  name: string;
  bridge: string;
  type: string;
  status?: { link: string; reason?: string; stats?: object };
}
interface GuestLife {
  name: string;
  status?: { state: string; restarts?: number; exitReason?: string };
}

export interface WatchSources {
  ports(): PortLink[];
  guests(): Promise<GuestLife[]>;
  /** Settings stored but not yet running (they wait for the agent's next start). */
  restartRequired(): string[];
  /** The port's limit of learned MACs as the datapath applies it. */
  macLimit?(port: PortLink): number | undefined;
}

/**
 * Compares what the agent reports with what it reported last time and turns each difference
 * into an event. The first look only records: what was already so at start is no change.
 */
export class EventWatcher {
  private links = new Map<string, { link: string; reason?: string }>();
  private guests = new Map<string, { state: string; restarts: number }>();
  private pending: string[] = [];
  /** Per port: its macLimit refusals at the last look, and at (and when) its last event. */
  private limited = new Map<string, { seen: number; told: number; at: number }>();
  private primed = false;
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly log: EventLog,
    private readonly src: WatchSources,
    private readonly now: () => number = Date.now,
  ) {}

  start(everyMs = 1000): void {
    const tick = () => {
      if (this.running) return;
      this.running = true;
      this.check()
        .catch((e) => process.stderr.write(`vhostnet-agent: event watcher: ${(e as Error).message}\n`))
        .finally(() => (this.running = false));
    };
    tick();
    this.timer = setInterval(tick, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<void> {
    const emit = this.primed;
    const seen = new Set<string>();
    const ports = this.src.ports();
    for (const p of ports) {
      seen.add(p.name);
      const now = { link: p.status?.link ?? 'down', reason: p.status?.reason };
      const was = this.links.get(p.name);
      this.links.set(p.name, now);
      const changed = !was || was.link !== now.link || (now.link === 'down' && was.reason !== now.reason);
      if (emit && changed)
        this.log.emit({
          type: p.type === 'vxlan' ? 'tunnel' : 'link',
          port: p.name,
          bridge: p.bridge,
          portType: p.type,
          link: now.link,
          ...(was ? { from: was.link } : {}),
          reason: now.reason ?? (!was ? 'port created' : now.link === 'up' ? 'forwarding' : 'down'),
        });
    }
    this.checkMacLimits(ports, emit);
    for (const [name, was] of this.links)
      if (!seen.has(name)) {
        this.links.delete(name);
        if (emit && was.link === 'up') this.log.emit({ type: 'link', port: name, link: 'down', from: 'up', reason: 'port deleted' });
      }

    for (const g of await this.src.guests()) {
      const now = { state: g.status?.state ?? 'unknown', restarts: g.status?.restarts ?? 0 };
      const was = this.guests.get(g.name);
      this.guests.set(g.name, now);
      if (!emit || !was) continue;
      // A quick restart may go crashed -> restarting -> running between two looks: the count says so.
      if (now.restarts > was.restarts)
        this.log.emit({
          type: 'guest',
          guest: g.name,
          state: now.state,
          from: was.state,
          restarts: now.restarts,
          reason: `restarted by the agent (restart ${now.restarts})${g.status?.exitReason ? `: ${g.status.exitReason}` : ''}`,
        });
      else if (now.state !== was.state)
        this.log.emit({
          type: 'guest',
          guest: g.name,
          state: now.state,
          from: was.state,
          restarts: now.restarts,
          reason: g.status?.exitReason ?? `state ${was.state} -> ${now.state}`,
        });
    }

    const pending = this.src.restartRequired();
    const added = pending.filter((f) => !this.pending.includes(f));
    if (emit && added.length)
      this.log.emit({ type: 'settings', restartRequired: pending, reason: `${added.join(', ')} stored; takes effect at the agent's next start` });
    this.pending = pending;
    this.primed = true;
  }

  // The datapath counts every refused MAC (drops.macLimit); an event says the port is at its
  // limit: the first refusals after a quiet look, then at most one per MAC_LIMIT_EVENT_EVERY_MS.
  private checkMacLimits(ports: PortLink[], emit: boolean): void {
    const now = this.now();
    const seen = new Set<string>();
    for (const p of ports) {
      seen.add(p.name);
      // the addon's counters carry drops by reason (datapath/native/addon.ts QueueStats)
      const n = (p.status?.stats as { drops?: { macLimit?: number } } | undefined)?.drops?.macLimit ?? 0;
      // A port made since the last look (or re-made: its counters restarted) started from 0;
      // at the first look what is counted already is no news.
      let cur = this.limited.get(p.name);
      if (!cur || n < cur.seen) {
        const from = emit ? 0 : n;
        cur = { seen: from, told: from, at: -Infinity };
        this.limited.set(p.name, cur);
      }
      const rising = n > cur.seen;
      cur.seen = n;
      if (!emit || !rising || now - cur.at < MAC_LIMIT_EVENT_EVERY_MS) continue;
      const limit = this.src.macLimit?.(p);
      this.log.emit({
        type: 'macLimit',
        port: p.name,
        bridge: p.bridge,
        limit: limit ?? 0,
        refused: n - cur.told,
        refusedTotal: n,
        reason: `port ${p.name} holds its limit of ${limit ?? '?'} learned MACs on bridge ${p.bridge}: its new source MACs are not learned (${n - cur.told} refused)`,
      });
      cur.told = n;
      cur.at = now;
    }
    for (const name of this.limited.keys()) if (!seen.has(name)) this.limited.delete(name);
  }
}
