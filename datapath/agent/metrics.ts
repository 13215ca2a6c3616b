// Prometheus metrics of the agent, in the text exposition format (version 0.0.4), on a listener
// of their own (--metrics-listen): no token there, and no route that changes state.
//
// Names follow openstack-network-exporter's OVS metrics (ovs_interface_rx_packets, ovs_pmd_*,
// ovs_build_info) with a vhostnet_ prefix and, on counters, the _total suffix Prometheus asks for.
// Everything is read at scrape time from what the datapath already keeps: port counters are
// per-PMD rows read with relaxed loads (stats.h), PMD cycles likewise; a scrape takes no lock a
// PMD takes. (The FDB's own counters need the addon's lock-free statistics: see fdbStats.)
//
// Written by hand rather than with prom-client: every datapath figure here is a snapshot of a
// counter the addon keeps, which prom-client's Counter can only be set to through reset().
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { DeviceCounters } from '../api/counters';

type Labels = Record<string, string | number>;

/** One metric family: HELP, TYPE and its samples. */
interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: { suffix?: string; labels: Labels; value: number }[];
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

export function render(families: Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const ls = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(String(v))}"`)
        .join(',');
      out.push(`${f.name}${s.suffix ?? ''}${ls ? `{${ls}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

class FamilySet {
  private readonly byName = new Map<string, Family>();
  add(name: string, type: Family['type'], help: string, labels: Labels, value: number, suffix?: string): void {
    let f = this.byName.get(name);
    if (!f) this.byName.set(name, (f = { name, help, type, samples: [] }));
    f.samples.push({ labels, value, suffix });
  }
  /** Declares a family that may have no samples yet, so dashboards and rules see its HELP. */
  declare(name: string, type: Family['type'], help: string): void {
    if (!this.byName.has(name)) this.byName.set(name, { name, help, type, samples: [] });
  }
  list(): Family[] {
    return [...this.byName.values()];
  }
}

/** Upper bounds of the API latency histogram, seconds. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** API requests by route and status, with a latency histogram per route: kept by the API server. */
export class ApiMetrics {
  private readonly requests = new Map<string, { route: string; method: string; status: number; count: number }>();
  private readonly latency = new Map<string, { route: string; method: string; buckets: number[]; sum: number; count: number }>();

  /** route is the pattern (`/v1/ports/:name`), never the raw path: names would make unbounded series. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const rk = `${method} ${route} ${status}`;
    const r = this.requests.get(rk) ?? { route, method, status, count: 0 };
    r.count++;
    this.requests.set(rk, r);
    const lk = `${method} ${route}`;
    const l = this.latency.get(lk) ?? { route, method, buckets: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
    LATENCY_BUCKETS.forEach((b, i) => {
      if (seconds <= b) l.buckets[i]++;
    });
    l.sum += seconds;
    l.count++;
    this.latency.set(lk, l);
  }

  collect(fs_: FamilySet): void {
    fs_.declare('vhostnet_api_requests_total', 'counter', 'API requests answered, by route, method and HTTP status.');
    for (const r of this.requests.values())
      fs_.add('vhostnet_api_requests_total', 'counter', '', { route: r.route, method: r.method, status: r.status }, r.count);
    const name = 'vhostnet_api_request_duration_seconds';
    fs_.declare(name, 'histogram', 'Time from a request arriving to its answer being written, by route and method.');
    for (const l of this.latency.values()) {
      LATENCY_BUCKETS.forEach((b, i) => fs_.add(name, 'histogram', '', { route: l.route, method: l.method, le: b }, l.buckets[i], '_bucket'));
      fs_.add(name, 'histogram', '', { route: l.route, method: l.method, le: '+Inf' }, l.count, '_bucket');
      fs_.add(name, 'histogram', '', { route: l.route, method: l.method }, l.sum, '_sum');
      fs_.add(name, 'histogram', '', { route: l.route, method: l.method }, l.count, '_count');
    }
  }
}

/** The counters of one queue pair or of a whole port, as the API reports them. */
export interface CounterRow {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  txDrops: number;
  /** Drops by reason, where the datapath counts them by reason. */
  drops?: Record<string, number>;
  rxErrors?: number;
  txErrors?: number;
}

/** What the metrics read of a port: the API's PortState / VxlanPortState, whichever type. */
export interface PortView {
  name: string;
  bridge: string;
  type: string;
  status?: {
    link: string;
    stats: CounterRow;
    queues: CounterRow[];
    features?: { offered: string; negotiated: string; negotiatedNames: string[] };
    /** An uplink's device, a tunnel's underlay: what the ethdev counted itself. */
    device?: { counters?: DeviceCounters };
    underlay?: { counters?: DeviceCounters };
  };
}

export interface PmdView {
  cpu: number;
  lcore: number;
  busyCycles: number;
  idleCycles: number;
  packets: number;
  rxQueueNames: string[];
}

export interface FdbStatsView {
  entries: number;
  capacity?: number;
  limited?: number;
  learned?: number;
  expired?: number;
  evicted?: number;
  moved?: number;
}

export interface GuestView {
  name: string;
  status?: { state: string; restarts?: number };
}

export interface MetricsSources {
  ports(): PortView[];
  pmds(): PmdView[];
  bridges(): string[];
  /** Lock-free FDB statistics of a bridge; absent where the addon cannot give them without the PMDs' lock. */
  fdbStats?(bridge: string): FdbStatsView | undefined;
  guests(): Promise<GuestView[]>;
  api: ApiMetrics;
  build: { version: string; dpdkVersion: string };
  /** Thread ids of the PMD threads by lcore, for their context switches (from /proc). */
  pmdThreads?(): Map<number, number>;
}

/** Every state a guest can be in, so a state with no guest reads 0 rather than vanishing. */
const GUEST_STATES = ['starting', 'running', 'stopping', 'stopped', 'crashed', 'restarting', 'unknown'];

const COUNTERS: [keyof CounterRow, string, string][] = [
  ['rxPackets', 'rx_packets', 'Packets received from the interface (from the guest, for a vhost-user port).'],
  ['rxBytes', 'rx_bytes', 'Bytes received from the interface.'],
  ['txPackets', 'tx_packets', 'Packets sent to the interface (to the guest, for a vhost-user port).'],
  ['txBytes', 'tx_bytes', 'Bytes sent to the interface.'],
  ['rxErrors', 'rx_errors', 'Invalid packets received.'],
  ['txErrors', 'tx_errors', 'Errors while sending packets.'],
];

// The API's drop reasons (DropCounters) as metric label values.
const DROP_LABEL: Record<string, string> = {
  ringFull: 'tx_ring_full',
  mtuExceeded: 'mtu_exceeded',
  offloadUnsupported: 'offload_unsupported',
  underlaySendFailure: 'underlay_send_failure',
  macLimit: 'mac_limit',
  malformed: 'malformed',
};
const DROP_HELP =
  'Packets dropped, by reason (tx_ring_full: the destination had no room or no ready vring; mtu_exceeded; offload_unsupported; ' +
  'underlay_send_failure; mac_limit; malformed: on ingress; device_rx_missed, device_rx_nombuf: an uplink or tunnel underlay device dropped it before a PMD saw it; ' +
  'kernel_rx_dropped, kernel_tx_dropped: the kernel interface under an af_xdp or af_packet device dropped it).';

function addCounters(set: FamilySet, prefix: string, labels: Labels, row: CounterRow): void {
  for (const [key, suffix, help] of COUNTERS)
    set.add(`${prefix}_${suffix}_total`, 'counter', help, labels, typeof row[key] === 'number' ? (row[key] as number) : 0);
  // Drops by reason; a datapath that counts only "no room at the destination" reports that one.
  const drops = row.drops ?? { ringFull: row.txDrops };
  for (const [reason, n] of Object.entries(drops))
    set.add(`${prefix}_dropped_total`, 'counter', DROP_HELP, { ...labels, reason: DROP_LABEL[reason] ?? reason }, n);
}

/** /proc/self/task/<tid>/status: voluntary and involuntary context switches of one thread. */
function contextSwitches(tid: number): { voluntary: number; involuntary: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
    return {
      voluntary: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0),
      involuntary: Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(s)?.[1] ?? 0),
    };
  } catch {
    return undefined;
  }
}

/**
 * DPDK names its worker lcore threads "rte-worker-<lcore>" (22.11; "lcore-worker-" before): the PMDs are those,
 * so their tids come from /proc/self/task/<tid>/comm without help from the addon.
 */
export function dpdkWorkerThreads(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const m = /^(?:rte|lcore)-worker-(\d+)$/.exec(fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim());
      if (m) out.set(Number(m[1]), Number(tid));
    } catch {
      /* the thread ended while we looked */
    }
  }
  return out;
}

export async function collect(src: MetricsSources): Promise<string> {
  const set = new FamilySet();
  set.add(
    'vhostnet_build_info',
    'gauge',
    'The agent build: version and the DPDK it runs on. Always 1.',
    { version: src.build.version, dpdk_version: src.build.dpdkVersion },
    1,
  );

  for (const p of src.ports()) {
    const labels = { bridge: p.bridge, port: p.name, type: p.type };
    const st = p.status;
    set.add('vhostnet_interface_link_state', 'gauge', 'The link state of the interface: up (1) or down (0).', labels, st?.link === 'up' ? 1 : 0);
    if (!st) continue;
    // An ethdev's own counts: rx/tx errors, and the frames it dropped before a PMD saw them.
    const dev = st.device?.counters ?? st.underlay?.counters;
    addCounters(set, 'vhostnet_interface', labels, dev ? { ...st.stats, rxErrors: dev.rxErrors, txErrors: dev.txErrors } : st.stats);
    if (dev)
      for (const [reason, n] of [
        ['device_rx_missed', dev.rxMissed],
        ['device_rx_nombuf', dev.rxNoMbuf],
        ['kernel_rx_dropped', dev.kernelRxDropped],
        ['kernel_tx_dropped', dev.kernelTxDropped],
      ] as const)
        if (n !== undefined) set.add('vhostnet_interface_dropped_total', 'counter', DROP_HELP, { ...labels, reason }, n);
    st.queues.forEach((q, i) => addCounters(set, 'vhostnet_interface_queue', { ...labels, queue: i }, q));
    if (st.features)
      set.add(
        'vhostnet_interface_features_info',
        'gauge',
        'Virtio features the port offers and those negotiated with the guest (hex), and the negotiated names. Always 1.',
        { ...labels, offered: st.features.offered, negotiated: st.features.negotiated, negotiated_names: st.features.negotiatedNames.join(',') },
        1,
      );
  }

  const threads = src.pmdThreads?.() ?? new Map<number, number>();
  for (const pmd of src.pmds()) {
    const labels = { cpu: pmd.cpu };
    set.add('vhostnet_pmd_busy_cycles_total', 'counter', 'TSC cycles of PMD iterations that moved packets.', labels, pmd.busyCycles);
    set.add('vhostnet_pmd_idle_cycles_total', 'counter', 'TSC cycles of PMD iterations that moved none, sleeps included.', labels, pmd.idleCycles);
    set.add('vhostnet_pmd_rx_packets_total', 'counter', 'Packets the PMD received from its rx queues.', labels, pmd.packets);
    set.add('vhostnet_pmd_rxqs', 'gauge', 'Rx queues the PMD polls.', labels, pmd.rxQueueNames.length);
    for (const q of pmd.rxQueueNames) {
      const cut = q.lastIndexOf(':');
      set.add(
        'vhostnet_pmd_rxq_assigned',
        'gauge',
        'An rx queue (interface, rxq) polled by this PMD. Always 1.',
        { ...labels, interface: q.slice(0, cut), rxq: q.slice(cut + 1) },
        1,
      );
    }
    const tid = threads.get(pmd.lcore);
    const cs = tid === undefined ? undefined : contextSwitches(tid);
    if (cs) {
      set.add('vhostnet_pmd_context_switches_total', 'counter', 'Voluntary context switches of the PMD thread (its idle sleeps).', labels, cs.voluntary);
      set.add(
        'vhostnet_pmd_nonvol_context_switches_total',
        'counter',
        'Involuntary context switches of the PMD thread (preempted: its CPU is shared).',
        labels,
        cs.involuntary,
      );
    }
  }

  set.declare('vhostnet_bridge_fdb_entries', 'gauge', 'MAC addresses in the bridge forwarding table.');
  for (const b of src.bridges()) {
    set.add('vhostnet_bridge_info', 'gauge', 'A bridge of the agent. Always 1.', { bridge: b }, 1);
    const fdb = src.fdbStats?.(b);
    if (!fdb) continue;
    set.add('vhostnet_bridge_fdb_entries', 'gauge', '', { bridge: b }, fdb.entries);
    if (fdb.capacity !== undefined)
      set.add(
        'vhostnet_bridge_fdb_capacity',
        'gauge',
        'Most entries the forwarding table holds; a new MAC then evicts the oldest.',
        { bridge: b },
        fdb.capacity,
      );
    const help = {
      learned: 'MAC addresses learned.',
      expired: 'Entries removed after the aging time without a sighting.',
      evicted: 'Entries removed, oldest first, to make room in a full table.',
      moved: 'Known MACs seen on another port.',
      limited: 'Source MACs not learned because their port held its per-port limit.',
    };
    for (const k of ['learned', 'expired', 'evicted', 'moved', 'limited'] as const)
      if (fdb[k] !== undefined) set.add(`vhostnet_bridge_fdb_${k}_total`, 'counter', help[k], { bridge: b }, fdb[k]!);
  }

  const guests = await src.guests();
  const byState = new Map(GUEST_STATES.map((s) => [s, 0]));
  for (const g of guests) byState.set(g.status?.state ?? 'unknown', (byState.get(g.status?.state ?? 'unknown') ?? 0) + 1);
  for (const [state, n] of byState) set.add('vhostnet_guests', 'gauge', 'GuestVMs by state.', { state }, n);
  set.declare('vhostnet_guest_restarts_total', 'counter', 'Times the agent restarted a GuestVM after it exited (restartPolicy).');
  for (const g of guests)
    set.add(
      'vhostnet_guest_restarts_total',
      'counter',
      'Times the agent restarted a GuestVM after it exited (restartPolicy).',
      { guest: g.name },
      g.status?.restarts ?? 0,
    );

  src.api.collect(set);
  return render(set.list());
}

/**
 * The metrics listener: GET /metrics only. "tcp://host:port" (port 0: any free port). Loopback
 * by default: the figures describe the host's guests, so exposing them is the operator's choice.
 */
export function serveMetrics(listen: string, src: MetricsSources): Promise<{ server: http.Server; endpoint: string }> {
  const u = new URL(listen);
  if (u.protocol !== 'tcp:' || !u.port) throw new Error(`--metrics-listen: must be tcp://host:port (got ${JSON.stringify(listen)})`);
  const server = http.createServer({ headersTimeout: 5000, requestTimeout: 10000 }, (req, res) => {
    const path = new URL(req.url ?? '/', 'http://agent').pathname;
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    collect(src).then(
      (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : text),
      (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${(e as Error).message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(u.port), u.hostname.replace(/^\[|\]$/g, ''), () => {
      server.removeListener('error', reject);
      const a = server.address() as { address: string; port: number };
      resolve({ server, endpoint: `http://${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}/metrics` });
    });
  });
}

/** The DPDK release the agent runs on, from rte_version() of the library loaded ("DPDK 22.11.4" -> "22.11.4"). */
export function dpdkVersion(rteVersion: string): string {
  return /(\d+\.\d+(?:\.\d+)?\S*)/.exec(rteVersion)?.[1] ?? 'unknown';
}
