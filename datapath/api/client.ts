// A client of the agent's API, for vhostctl, the provider and tests. No native code.
import * as http from 'node:http';
import * as https from 'node:https';
import type { ApiErrorBody, FieldIssue } from './errors';

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

export class AgentClient {
  constructor(readonly conn: Connection) {}

  request<T>(method: string, path: string, body?: unknown, timeoutMs = 30000): Promise<T> {
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
      ...(isUnix
        ? { socketPath: ep.replace(/^unix:/, '') }
        : { host: url!.hostname, port: url!.port, ...(this.conn.caCert ? { ca: this.conn.caCert } : {}) }),
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
      req.on('error', (e) => reject(new AgentError(0, 'unreachable', `cannot reach the agent at ${ep}: ${e.message}`)));
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
