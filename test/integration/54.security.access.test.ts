// Access to the real agent: TCP only with a bearer token (401 without it, the token never in
// logs or error bodies), the unix socket mode 0600, TLS with a pinned CA and refusal of others.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentClient, AgentError } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';

const TOKEN = `tok-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}-s3cr3t`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A plain HTTP request with any Authorization header (or none); the raw body comes back. */
function httpRaw(port: number, method: string, p: string, auth?: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: p,
        headers: {
          ...(auth !== undefined ? { authorization: auth } : {}),
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

describe('54 security: access to the agent', function () {
  this.timeout(120000);
  const agents: AgentProcess[] = [];
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-access-'));
    fs.writeFileSync(path.join(tmp, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  });
  after(async () => {
    for (const a of agents) {
      await a.stop();
      fs.rmSync(a.dir, { recursive: true, force: true });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the unix socket is mode 0600 (and the state dir 0700)', async () => {
    const a = await AgentProcess.start({ name: 'acc-unix' });
    agents.push(a);
    const st = fs.statSync(a.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(a.dir, 'state')).mode & 0o777, 0o700);
    await a.stop();
  });

  /** Runs the agent's main.js directly (not AgentProcess) so a start that never ends can be killed here. */
  const runAgent = async (name: string, args: string[], waitMs: number) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vhostnet-${name}-`));
    const main = path.resolve(__dirname, '../../datapath/agent/main.js');
    const p = spawn(
      process.execPath,
      [
        main,
        '--run-dir',
        path.join(dir, 'run'),
        '--state-dir',
        path.join(dir, 'state'),
        '--file-prefix',
        `vhn-${name}`,
        '--eal-arg=--log-level=lib.eal:error',
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const exit = await new Promise<{ code: number | null; signal: string | null } | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), waitMs);
      p.once('exit', (code, signal) => (clearTimeout(t), resolve({ code, signal })));
    });
    if (!exit) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    return { exit, out };
  };

  it('refuses to serve TCP without a token: it never listens and says why', async () => {
    const port = await freePort();
    const r = await runAgent('acc-notoken', ['--listen', `tcp://127.0.0.1:${port}`], 5000);
    assert.match(r.out, /listening on TCP needs a token \(--token-file\)/);
    assert.doesNotMatch(r.out, /listening on http/);
    await assert.rejects(httpRaw(port, 'GET', '/v1/health'), /ECONNREFUSED/);
  });

  // Once the EAL runs, an exit must shut it down first (an exit with the PMD and vhost threads up
  // corrupted the heap): the agent refuses bad listen options before DPDK starts.
  it('refuses to listen on TCP without a token: exits promptly with code 1', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await runAgent('acc-notoken', ['--listen', `tcp://127.0.0.1:${await freePort()}`], 10000);
      assert.deepEqual(r.exit, { code: 1, signal: null }, r.out.slice(-500));
      assert.doesNotMatch(r.out, /malloc\(\)|corrupted/);
    }
  });

  it('TCP with a token: every request without the right token is 401, with it 200; the token is never echoed or logged', async () => {
    const port = await freePort();
    const a = await AgentProcess.start({ name: 'acc-tcp', args: ['--listen', `tcp://127.0.0.1:${port}`, '--token-file', path.join(tmp, 'token')] });
    agents.push(a);
    const requests: [string, string, string?][] = [
      ['GET', '/v1/health'],
      ['GET', '/v1/state'],
      ['GET', '/v1/show'],
      ['GET', '/v1/ports'],
      ['GET', '/v1/pmd'],
      ['PUT', '/v1/bridges/br0', '{}'],
      ['PUT', '/v1/settings', '{"pmdMaxSleepUs":100}'],
      ['DELETE', '/v1/bridges/br0'],
      ['GET', '/v1/nosuch'],
      ['POST', '/v1/state', '{}'],
      ['PUT', '/v1/ports/a%2Fb', '{}'],
    ];
    const badAuth = [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `bearer ${TOKEN}`,
      `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`,
      `Bearer  ${TOKEN}`,
      TOKEN,
    ];
    let refused = 0;
    const bodies: string[] = [];
    for (const [m, p, b] of requests)
      for (const auth of badAuth) {
        const r = await httpRaw(port, m, p, auth, b);
        assert.equal(r.status, 401, `${m} ${p} with ${JSON.stringify(auth)}: ${r.status} ${r.text}`);
        assert.equal(JSON.parse(r.text).error.issues[0].field, 'authorization');
        bodies.push(r.text);
        refused++;
      }
    // Nothing was changed by the refused requests.
    const c = new AgentClient({ endpoint: `http://127.0.0.1:${port}`, token: TOKEN });
    assert.deepEqual((await c.get<{ bridges: unknown[] }>('/state')).bridges, []);
    for (const [m, p, b] of requests) {
      const r = await httpRaw(port, m, p, `Bearer ${TOKEN}`, b);
      assert.ok(r.status !== 401, `${m} ${p} with the token: ${r.status}`);
      bodies.push(r.text);
    }
    assert.equal((await httpRaw(port, 'GET', '/v1/health', `Bearer ${TOKEN}`)).status, 200);
    await c.put('/bridges/br1', {});
    await assert.rejects(c.put('/bridges/x', { bogus: 1 }), (e: AgentError) => e.status === 400);
    await a.stop();
    const log = fs.readFileSync(path.join(a.dir, 'agent.log'), 'utf8') + a.log;
    assert.ok(!log.includes(TOKEN), 'the token is in the agent log');
    for (const t of bodies) assert.ok(!t.includes(TOKEN), `the token is in a response body: ${t.slice(0, 200)}`);
    console.log(`      access figure: ${refused} requests without the right token, ${refused} refused with 401; token in log or bodies: 0`);
  });

  it("TLS: a client pinning the agent's certificate works; one trusting another CA, or speaking plain HTTP, is refused", async () => {
    const port = await freePort();
    const mine = selfSigned(tmp, 'agent');
    const other = selfSigned(tmp, 'other');
    const a = await AgentProcess.start({
      name: 'acc-tls',
      args: ['--listen', `tcp://127.0.0.1:${port}`, '--token-file', path.join(tmp, 'token'), '--tls-cert', mine.cert, '--tls-key', mine.key],
    });
    agents.push(a);
    assert.match(a.log, new RegExp(`listening on https://127.0.0.1:${port}`));
    const good = new AgentClient({ endpoint: `https://127.0.0.1:${port}`, token: TOKEN, caCert: fs.readFileSync(mine.cert, 'utf8') });
    assert.equal((await good.get<{ ok: boolean }>('/health')).ok, true);
    await good.put('/bridges/tls0', {});
    const wrongCa = new AgentClient({ endpoint: `https://127.0.0.1:${port}`, token: TOKEN, caCert: fs.readFileSync(other.cert, 'utf8') });
    await assert.rejects(wrongCa.get('/health'), (e: AgentError) => e.code === 'unreachable' && /self[- ]signed|certificate/i.test(e.message));
    const systemCa = new AgentClient({ endpoint: `https://127.0.0.1:${port}`, token: TOKEN });
    await assert.rejects(systemCa.get('/health'), (e: AgentError) => e.code === 'unreachable');
    const noToken = new AgentClient({ endpoint: `https://127.0.0.1:${port}`, caCert: fs.readFileSync(mine.cert, 'utf8') });
    await assert.rejects(noToken.get('/health'), (e: AgentError) => e.status === 401);
    await assert.rejects(httpRaw(port, 'GET', '/v1/health', `Bearer ${TOKEN}`)); // plain HTTP on the TLS port
    // vhostctl the same way: --ca-cert pins the agent's certificate; without it nothing is trusted.
    const https = ['--endpoint', `https://127.0.0.1:${port}`, '--token-file', path.join(tmp, 'token')];
    const shown = await a.vhostctl(...https, '--ca-cert', mine.cert, 'show');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /tls0/);
    const unpinned = await a.vhostctl(...https, 'show');
    assert.notEqual(unpinned.code, 0);
    assert.match(unpinned.stderr, /self[- ]signed|certificate/i);
    const wrong = await a.vhostctl(...https, '--ca-cert', other.cert, 'show');
    assert.notEqual(wrong.code, 0);
    await a.stop();
    assert.ok(!(fs.readFileSync(path.join(a.dir, 'agent.log'), 'utf8') + a.log).includes(TOKEN));
  });
});
