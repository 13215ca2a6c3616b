// HTTP/JSON API. A unix socket (mode 0600) by default; TCP only with a bearer token, TLS when
// given a certificate. Bodies are bounded and slow clients are cut off; every refusal names
// the field and the rule and changes nothing.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { API_PREFIX, ApiError, EVENTS_MAX_WAIT, HTTP_STATUS, Name, invalid, type ChangeOptions } from '../api';
import type { Control } from './control/plane';
import type { Guests } from './control/guests';
import type { Hugepages } from './control/hugepages';
import type { Datapath } from './datapath';
import type { EventLog } from './events';
import type { ApiMetrics } from './metrics';

export const MAX_BODY = 1 << 20;

export interface ListenOptions {
  /** "unix:/path" or "/path" for a unix socket; "tcp://host:port" for TCP. */
  listen: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  /** Group allowed on the unix socket (mode 0660); else 0600. */
  socketGid?: number;
  /** Counts every answered request by route and status, with its latency. */
  apiMetrics?: ApiMetrics;
}

type Handler = (req: { params: string[]; query: URLSearchParams; body: unknown }) => unknown;
interface Route {
  method: string;
  /** The route as written (`/v1/ports/:name`): the metrics' label, never the raw path. */
  template: string;
  pattern: RegExp;
  handler: Handler;
}

function changeOptions(q: URLSearchParams): ChangeOptions {
  const flag = (k: string) => {
    const v = q.get(k);
    if (v === null) return undefined;
    if (v === '' || v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new ApiError('invalid', `invalid query: ${k} must be true or false`, [{ field: k, rule: 'must be true or false' }]);
  };
  const ev = q.get('expectedVersion');
  if (ev !== null && !/^[1-9][0-9]*$/.test(ev))
    throw new ApiError('invalid', 'invalid query: expectedVersion must be a whole number ≥ 1', [
      { field: 'expectedVersion', rule: 'must be a whole number ≥ 1' },
    ]);
  return { dryRun: flag('dryRun'), adopt: flag('adopt'), expectedVersion: ev === null ? undefined : Number(ev) };
}

export interface Services {
  control: Control;
  dp: Datapath;
  guests: Guests;
  hugepages: Hugepages;
  info: () => object;
  events: EventLog;
}

/** ?since=ID&wait=SECONDS of GET /events, checked like every input. */
function eventsQuery(q: URLSearchParams): { since: number; waitMs: number } {
  const num = (k: string, max: number) => {
    const v = q.get(k);
    if (v === null) return 0;
    if (!/^(0|[1-9][0-9]*)$/.test(v) || Number(v) > max)
      throw new ApiError('invalid', `invalid query: ${k} must be a whole number from 0 to ${max}`, [
        { field: k, rule: `must be a whole number from 0 to ${max}` },
      ]);
    return Number(v);
  };
  return { since: num('since', Number.MAX_SAFE_INTEGER), waitMs: num('wait', EVENTS_MAX_WAIT) * 1000 };
}

export function routes({ control, dp, guests, hugepages, info, events }: Services): Route[] {
  const r = (method: string, p: string, handler: Handler): Route => ({
    method,
    template: `${API_PREFIX}${p}`,
    pattern: new RegExp(`^${API_PREFIX}${p.replace(/:[a-z]+/g, '([^/]+)')}$`),
    handler,
  });
  const bridgeOf = (name: string) => (control.bridges.get(name), name);
  return [
    r('GET', '/health', () => ({ ok: true, ...info() })),
    r('GET', '/events', ({ query }) => {
      const { since, waitMs } = eventsQuery(query);
      return events.wait(since, waitMs);
    }),
    r('GET', '/state', () => ({ ...control.state(), guests: guests.specs(), hugepages: hugepages.specs() })),
    r('GET', '/show', () => ({
      ...info(),
      settings: control.settings.get(),
      bridges: control.bridges.list(),
      ports: control.ports.list(true),
      pmds: dp.pmdStats(),
    })),
    r('GET', '/settings', () => control.settings.get()),
    r('PUT', '/settings', ({ body, query }) => control.settings.put(body, changeOptions(query))),
    r('GET', '/bridges', () => control.bridges.list()),
    r('GET', '/bridges/:name', ({ params }) => control.bridges.get(params[0])),
    r('PUT', '/bridges/:name', ({ params, body, query }) => control.bridges.put(params[0], body, changeOptions(query))),
    r('DELETE', '/bridges/:name', ({ params, query }) => control.bridges.delete(params[0], changeOptions(query))),
    r('GET', '/bridges/:name/fdb', ({ params }) => dp.fdb(bridgeOf(params[0]))),
    r('GET', '/bridges/:name/fdb/stats', ({ params }) => {
      const s = dp.fdbStats(bridgeOf(params[0]));
      if (!s) throw new ApiError('not_found', 'this datapath keeps no FDB statistics');
      return s;
    }),
    r('GET', '/ports', ({ query }) => control.ports.list(query.get('status') !== 'false')),
    r('GET', '/ports/:name', ({ params }) => control.ports.get(params[0])),
    r('PUT', '/ports/:name', ({ params, body, query }) => control.ports.put(params[0], body, changeOptions(query))),
    r('DELETE', '/ports/:name', ({ params, query }) => control.ports.delete(params[0], changeOptions(query))),
    r('GET', '/pmd', () => dp.pmdStats()),
    r('GET', '/guests', () => guests.list()),
    r('GET', '/guests/:name', ({ params }) => guests.get(params[0])),
    r('PUT', '/guests/:name', ({ params, body, query }) => guests.put(params[0], body, changeOptions(query))),
    r('DELETE', '/guests/:name', ({ params, query }) => guests.delete(params[0], changeOptions(query))),
    r('GET', '/hugepages', () => hugepages.list()),
    r('GET', '/hugepages/:name', ({ params }) => hugepages.get(params[0])),
    r('PUT', '/hugepages/:name', ({ params, body, query }) => hugepages.put(params[0], body, changeOptions(query))),
    r('DELETE', '/hugepages/:name', ({ params, query }) => hugepages.delete(params[0], changeOptions(query))),
  ];
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 0);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let over = false;
    const tooLarge = (message: string) => {
      over = true;
      // Discard the rest and answer once the client has sent it: closing the socket on a client
      // that is still writing resets the connection and the 413 is lost. requestTimeout bounds this.
      req.removeAllListeners('data');
      req.resume();
      const answer = () => reject(new ApiError('too_large', message, [{ field: '(body)', rule: `must be at most ${MAX_BODY} bytes` }]));
      req.once('end', answer);
      req.once('close', answer);
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY) return tooLarge(`body is ${declared} bytes; at most ${MAX_BODY} are accepted`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooLarge(`body is over ${MAX_BODY} bytes`);
      else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (over) return;
      if (!size) return resolve(undefined);
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new ApiError('invalid', `body is not valid JSON: ${(e as Error).message}`, [{ field: '(body)', rule: 'must be valid JSON' }]));
      }
    });
  });
}

/**
 * A name from the URL, decoded and checked as every name is: a DELETE or GET of "a/b" or of bad
 * percent-encoding is refused with the field named, not answered "no change" or 500.
 */
function nameParam(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new ApiError('invalid', `invalid name: ${JSON.stringify(raw)} is not valid percent-encoding`, [
      { field: 'name', rule: 'must be valid percent-encoded UTF-8' },
    ]);
  }
  const r = Name.safeParse(name);
  if (!r.success) throw invalid(r.error, 'name', 'name');
  return name;
}

/** Constant-time comparison of the presented bearer token with ours (hashes have equal length). */
function authorized(req: http.IncomingMessage, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  const given = crypto
    .createHash('sha256')
    .update(m ? m[1] : '')
    .digest();
  const want = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(given, want) && !!m;
}

/**
 * One JSON line per request on stderr once it is answered: when it arrived (epoch ms, with
 * fractions), how long it took, and its status, so an operator (or a test) can see which
 * requests were served when, and whether two hosts were changed at the same time.
 */
function logRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  const t0 = performance.timeOrigin + performance.now();
  res.once('finish', () => {
    const line = {
      event: 'request',
      method: req.method,
      path: (req.url ?? '/').split('?')[0],
      status: res.statusCode,
      start: new Date(t0).toISOString(),
      startMs: Number(t0.toFixed(3)),
      durationMs: Number((performance.timeOrigin + performance.now() - t0).toFixed(3)),
    };
    process.stderr.write(`${JSON.stringify(line)}\n`);
  });
}

export function createServer(table: Route[], opts: ListenOptions): http.Server {
  const tcp = opts.listen.startsWith('tcp://');
  if (tcp && !opts.token) throw new Error('listening on TCP needs a token (--token-file): the API changes the host network');
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    logRequest(req, res);
    const started = process.hrtime.bigint();
    let template = '(unmatched)';
    if (opts.apiMetrics)
      res.once('finish', () => opts.apiMetrics!.observe(req.method ?? 'GET', template, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
    try {
      if (tcp && !authorized(req, opts.token!))
        throw new ApiError('unauthorized', 'missing or wrong bearer token', [{ field: 'authorization', rule: 'must be "Bearer <the agent\'s token>"' }]);
      const url = new URL(req.url ?? '/', 'http://agent');
      const method = req.method ?? 'GET';
      let matched: Route | undefined;
      let params: string[] = [];
      let pathMatched = false;
      for (const route of table) {
        const m = route.pattern.exec(url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (route.method !== method) continue;
        matched = route;
        template = route.template;
        params = m.slice(1).map(nameParam);
        break;
      }
      if (!matched) {
        if (!pathMatched)
          throw new ApiError('not_found', `no such endpoint: ${url.pathname}`, [{ field: 'path', rule: `must be an endpoint of the API under ${API_PREFIX}` }]);
        const allowed = table.filter((r) => r.pattern.test(url.pathname)).map((r) => r.method);
        res.setHeader('allow', allowed.join(', '));
        throw new ApiError('method_not_allowed', `${method} is not allowed on ${url.pathname}`, [
          { field: 'method', rule: `must be one of ${allowed.join(', ')}` },
        ]);
      }
      const body = method === 'PUT' || method === 'POST' ? await readBody(req) : undefined;
      send(res, 200, await matched.handler({ params, query: url.searchParams, body }));
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError('internal', (e as Error).message ?? String(e));
      if (!(e instanceof ApiError)) process.stderr.write(`vhostnet-agent: internal error: ${(e as Error).stack}\n`);
      // Read what the client still sends before refusing: closing on a client that is still
      // writing resets the connection and the refusal is lost. requestTimeout bounds the wait.
      if (!req.complete && !req.destroyed) {
        req.removeAllListeners('data');
        req.resume();
        await new Promise((r) => (req.once('end', r), req.once('close', r)));
      }
      if (!res.headersSent) send(res, HTTP_STATUS[err.code], err.toBody());
    }
  };
  // Slow-loris: a client gets 5 s for its headers and 10 s for the whole request. Node only
  // enforces these when it sweeps its connections (every 30 s by default), so sweep every second.
  const limits = { headersTimeout: 5000, requestTimeout: 10000, keepAliveTimeout: 5000, connectionsCheckingInterval: 1000 };
  const server =
    tcp && opts.tlsCert
      ? https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey!), ...limits }, handle)
      : http.createServer(limits, handle);
  return server;
}

export function listen(server: http.Server, opts: ListenOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (opts.listen.startsWith('tcp://')) {
      const u = new URL(opts.listen);
      server.listen(Number(u.port), u.hostname, () => {
        const a = server.address() as { address: string; port: number };
        resolve(`${opts.tlsCert ? 'https' : 'http'}://${a.address}:${a.port}`);
      });
    } else {
      const p = opts.listen.replace(/^unix:/, '');
      fs.rmSync(p, { force: true });
      // Created under a umask of 077 so there is no moment when others could connect.
      const old = process.umask(0o077);
      server.listen(p, () => {
        process.umask(old);
        if (opts.socketGid !== undefined) {
          fs.chownSync(p, process.getuid!(), opts.socketGid);
          fs.chmodSync(p, 0o660);
        } else fs.chmodSync(p, 0o600); // the umask left 0700: no one else either way, but say what we mean
        resolve(`unix:${p}`);
      });
    }
  });
}
