// The one client of the agent's API, for vhostctl, the provider, the benchmarks and tests: typed
// operations per object kind (client.ports.put(...)) over request(). No native code.
import * as http from 'node:http';
import * as https from 'node:https';
import type { BridgeInput, BridgeState, FdbRow, FdbStatsRow } from './bridge';
import type { PmdState } from './counters';
import type { ApiErrorBody, FieldIssue } from './errors';
import type { EventPage } from './events';
import type { Stored } from './fields';
import type { GuestVmInput, GuestVmSpec, GuestVmState } from './guest-vm';
import type { HugepageInput, HugepageSpec, HugepageState } from './hugepages';
import type { ChangeOptions, ChangeResult } from './plan';
import type { PortInput, PortState } from './port';
import type { RunningSettings, SettingsInput, SettingsState } from './settings';

export interface Connection {
  /** "unix:/run/vhostnet/agent.sock", a bare socket path, "http://host:port" or "https://host:port". */
  endpoint: string;
  token?: string;
  /** PEM of the agent's certificate (or its CA): the client trusts nothing else. */
  caCert?: string;
}

export class AgentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

/** GET /health. */
export interface AgentHealth {
  ok: boolean;
  version: string;
  pid: number;
  lcores: string;
  pmds: number;
  running: RunningSettings;
}

/** GET /show: the agent, its settings, and every bridge and port with live status. */
export interface AgentShow extends Omit<AgentHealth, 'ok' | 'pmds'> {
  pmds: PmdState[];
  settings: SettingsState;
  bridges: BridgeState[];
  ports: PortState[];
}

/** GET /state: the stored configuration without live status (a dry run leaves it byte for byte). */
export interface AgentStoredState {
  settings: SettingsState;
  bridges: BridgeState[];
  ports: PortState[];
  guests: (Stored<GuestVmSpec> & { version: number })[];
  hugepages: (Stored<HugepageSpec> & { found: number; mounted: boolean; version: number })[];
}

/** A PUT body: the name is the URL's (a body may repeat it, and must then agree). */
export type PutBody<T> = T extends unknown ? Omit<T, 'name'> & { name?: string } : never;

/** The operations on one kind of named object: /v1/<kind>/<name>. */
export class ObjectClient<Input, State> {
  constructor(
    protected readonly c: AgentClient,
    /** "/ports": the collection's path under /v1. */
    readonly base: string,
  ) {}

  path(name: string): string {
    return `${this.base}/${encodeURIComponent(name)}`;
  }
  get(name: string): Promise<State> {
    return this.c.get<State>(this.path(name));
  }
  list(): Promise<State[]> {
    return this.c.get<State[]>(this.base);
  }
  put(name: string, spec: PutBody<Input>, o: ChangeOptions = {}): Promise<ChangeResult<State>> {
    return this.c.put<ChangeResult<State>>(this.path(name), spec, queryString({ ...o }));
  }
  delete(name: string, o: ChangeOptions = {}): Promise<ChangeResult<State>> {
    return this.c.delete<ChangeResult<State>>(this.path(name), queryString({ ...o }));
  }
}

export class PortsClient extends ObjectClient<PortInput, PortState> {
  /** Without live status (status=false): cheaper, and only what the store holds. */
  listStored(): Promise<PortState[]> {
    return this.c.get<PortState[]>(`${this.base}?status=false`);
  }
}

export class AgentClient {
  readonly bridges: ObjectClient<BridgeInput, BridgeState>;
  readonly ports: PortsClient;
  readonly guests: ObjectClient<GuestVmInput, GuestVmState>;
  readonly hugepages: ObjectClient<HugepageInput, HugepageState>;
  /** The one settings object of the agent: read and set, never created or deleted. */
  readonly settings: { get(): Promise<SettingsState>; put(spec: SettingsInput, o?: ChangeOptions): Promise<ChangeResult<SettingsState>> };

  constructor(readonly conn: Connection) {
    this.bridges = new ObjectClient(this, '/bridges');
    this.ports = new PortsClient(this, '/ports');
    this.guests = new ObjectClient(this, '/guests');
    this.hugepages = new ObjectClient(this, '/hugepages');
    this.settings = {
      get: () => this.get<SettingsState>('/settings'),
      put: (spec, o = {}) => this.put<ChangeResult<SettingsState>>('/settings', spec, queryString({ ...o })),
    };
  }

  health(): Promise<AgentHealth> {
    return this.get<AgentHealth>('/health');
  }
  show(): Promise<AgentShow> {
    return this.get<AgentShow>('/show');
  }
  state(): Promise<AgentStoredState> {
    return this.get<AgentStoredState>('/state');
  }
  pmd(): Promise<PmdState[]> {
    return this.get<PmdState[]>('/pmd');
  }

  /** Events after `since`; with waitSec, waits that long for the first one (a long poll). */
  events(since = 0, waitSec = 0): Promise<EventPage> {
    return this.request<EventPage>('GET', `/events?since=${since}&wait=${waitSec}`, undefined, (waitSec + 30) * 1000);
  }
  fdb(bridge: string): Promise<FdbRow[]> {
    return this.get<FdbRow[]>(`/bridges/${encodeURIComponent(bridge)}/fdb`);
  }
  fdbStats(bridge: string): Promise<FdbStatsRow> {
    return this.get<FdbStatsRow>(`/bridges/${encodeURIComponent(bridge)}/fdb/stats`);
  }

  request<T>(method: string, path: string, body?: unknown, timeoutMs = 30000, retried = false): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const ep = this.conn.endpoint;
    const isUnix = ep.startsWith('unix:') || ep.startsWith('/');
    const url = isUnix ? undefined : new URL(ep);
    const opts: https.RequestOptions = {
      method,
      path: `/v1${path}`,
      headers: {
        accept: 'application/json',
        ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        ...(this.conn.token ? { authorization: `Bearer ${this.conn.token}` } : {}),
      },
      timeout: timeoutMs,
      // A change never goes on a kept-alive connection: one the agent closes as idle just then
      // would leave us unsure whether it was applied (a crash mid-request looks the same), and a
      // change must not be sent twice. Reads reuse connections and are retried (below).
      ...(method === 'GET' ? {} : { agent: false }),
      ...(isUnix ? { socketPath: ep.replace(/^unix:/, '') } : { host: url!.hostname, port: url!.port, ...(this.conn.caCert ? { ca: this.conn.caCert } : {}) }),
    };
    const mod = url?.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            return reject(new AgentError(res.statusCode ?? 0, 'internal', `agent answered ${res.statusCode} with non-JSON: ${text.slice(0, 200)}`));
          }
          if ((res.statusCode ?? 500) >= 400) {
            const e = (parsed as ApiErrorBody | undefined)?.error;
            return reject(new AgentError(res.statusCode ?? 0, e?.code ?? 'internal', e?.message ?? `HTTP ${res.statusCode}`, e?.issues));
          }
          resolve(parsed as T);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`agent at ${ep} did not answer within ${timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A read on a kept-alive socket the agent closed as idle just as we reused it (its
        // keepAliveTimeout): reads change nothing, so it is sent once more, on a new connection.
        if (method === 'GET' && req.reusedSocket && !retried && (e.code === 'ECONNRESET' || e.code === 'EPIPE'))
          return resolve(this.request<T>(method, path, body, timeoutMs, true));
        reject(new AgentError(0, 'unreachable', `cannot reach the agent at ${ep}: ${e.message}`));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  put<T>(path: string, body: unknown, query = ''): Promise<T> {
    return this.request<T>('PUT', path + query, body);
  }
  delete<T>(path: string, query = ''): Promise<T> {
    return this.request<T>('DELETE', path + query);
  }
}

export function queryString(q: Record<string, string | number | boolean | undefined>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== false) s.set(k, String(v));
  const t = s.toString();
  return t ? `?${t}` : '';
}
