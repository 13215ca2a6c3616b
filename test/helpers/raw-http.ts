// Raw HTTP/1.1 to the agent's unix socket: the bytes a test sends reach the server exactly as
// written (malformed JSON, lying content-length, bad percent-encoding), which AgentClient
// would never produce.
import * as net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The parsed JSON body, when it is JSON. */
  json?: any;
}

/** Sends one request (Connection: close) and reads the whole answer. */
export function rawRequest(
  socketPath: string,
  req: { method: string; path: string; body?: string | Buffer; headers?: Record<string, string>; contentLength?: number },
  timeoutMs = 15000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    const headers: Record<string, string> = { host: 'agent', connection: 'close', ...(req.headers ?? {}) };
    if (body !== undefined || req.contentLength !== undefined) headers['content-length'] = String(req.contentLength ?? body!.length);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const head = `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}`)
      .join('\r\n')}\r\n\r\n`;
    const s = net.connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(new Error(`no complete answer to ${req.method} ${req.path} within ${timeoutMs} ms`)), timeoutMs);
    s.on('connect', () => {
      s.write(head);
      // The server may answer (413) and close before the body is all written: EPIPE is fine.
      if (body) s.write(body, () => undefined);
    });
    s.on('data', (d) => chunks.push(d));
    let failure: Error | undefined;
    // EPIPE/ECONNRESET can come before the answer is read: decide on close, from what arrived.
    s.on('error', (e) => (failure = e));
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString('utf8');
      if (!all && failure) return reject(failure);
      const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(all);
      if (!m) return reject(new Error(`not an HTTP answer to ${req.method} ${req.path}: ${JSON.stringify(all.slice(0, 200))}`));
      const hdrs: Record<string, string> = {};
      for (const line of m[2].split('\r\n')) {
        const i = line.indexOf(':');
        hdrs[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
      }
      let json: unknown;
      try {
        json = JSON.parse(m[3]);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(m[1]), headers: hdrs, text: m[3], json });
    });
  });
}

/** GET /v1/state as the exact bytes the agent answers. */
export async function stateBytes(socketPath: string): Promise<string> {
  const r = await rawRequest(socketPath, { method: 'GET', path: '/v1/state' });
  if (r.status !== 200) throw new Error(`GET /v1/state answered ${r.status}: ${r.text}`);
  return r.text;
}
