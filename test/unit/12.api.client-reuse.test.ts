// The typed client and kept-alive connections: an agent closes an idle connection after its
// keepAliveTimeout, and a request written on it at that moment is never read. A read is sent once
// more on a new connection; a change always goes on a fresh one (never twice: a crash mid-request
// looks the same); a failure on a fresh connection is reported.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentClient, AgentError } from '../../datapath/api';

const OK = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: keep-alive\r\n\r\n{"ok":true}';

/** A server that answers the first request of every connection and drops the connection at the second. */
function flakyServer(sock: string): Promise<{ server: net.Server; requests: () => number; connections: () => number }> {
  let requests = 0;
  let connections = 0;
  const server = net.createServer((c) => {
    connections++;
    let seen = 0;
    c.on('data', (d) => {
      for (const _ of d.toString().matchAll(/\r\n\r\n/g)) {
        requests++;
        if (++seen === 1) c.write(OK);
        else c.destroy(); // as an agent closing an idle connection just as a request arrives
      }
    });
  });
  return new Promise((resolve) => server.listen(sock, () => resolve({ server, requests: () => requests, connections: () => connections })));
}

describe('10 api: the client on a kept-alive connection the agent closed', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-client-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('sends a read the agent never read once more, on a new connection', async () => {
    const sock = path.join(dir, 'a.sock');
    const s = await flakyServer(sock);
    const c = new AgentClient({ endpoint: `unix:${sock}` });
    assert.deepEqual(await c.get('/health'), { ok: true });
    assert.deepEqual(await c.get('/state'), { ok: true }); // reused socket dropped, then a new one
    assert.equal(s.connections(), 2);
    assert.equal(s.requests(), 3);
    s.server.close();
  });

  it('sends every change on a fresh connection, once', async () => {
    const sock = path.join(dir, 'c.sock');
    const s = await flakyServer(sock);
    const c = new AgentClient({ endpoint: `unix:${sock}` });
    assert.deepEqual(await c.get('/health'), { ok: true });
    assert.deepEqual(await c.put('/bridges/br0', {}), { ok: true });
    assert.deepEqual(await c.delete('/bridges/br0'), { ok: true });
    assert.equal(s.requests(), 3); // none dropped, none sent twice
    assert.equal(s.connections(), 3);
    s.server.close();
  });

  it('reports a connection dropped on a fresh socket, without sending again', async () => {
    const sock = path.join(dir, 'b.sock');
    const server = net.createServer((c) => c.on('data', () => c.destroy()));
    await new Promise<void>((r) => server.listen(sock, () => r()));
    let n = 0;
    server.on('connection', () => n++);
    const c = new AgentClient({ endpoint: `unix:${sock}` });
    await assert.rejects(c.get('/health'), (e: AgentError) => e.code === 'unreachable' && /cannot reach the agent/.test(e.message));
    assert.equal(n, 1);
    server.close();
  });
});
