// The QMP client against a scripted unix-socket server speaking QMP's JSON lines.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { QmpClient, QmpEvent } from '../../../datapath/agent/guest/qmp';

function fakeQemu(sock: string, onCmd: (cmd: any, write: (o: object) => void) => void): Promise<net.Server> {
  const srv = net.createServer((c) => {
    const write = (o: object) => c.write(JSON.stringify(o) + '\r\n');
    write({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'test' }, capabilities: ['oob'] } });
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        onCmd(JSON.parse(line), write);
      }
    });
  });
  return new Promise((r) => srv.listen(sock, () => r(srv)));
}

describe('guest/qmp', () => {
  let dir: string;
  let srv: net.Server | undefined;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhn-qmp-'))));
  afterEach(() => {
    srv?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('greets, negotiates capabilities, matches replies by id, passes events through', async () => {
    const sock = path.join(dir, 'q.sock');
    const seen: string[] = [];
    srv = await fakeQemu(sock, (cmd, write) => {
      seen.push(cmd.execute);
      if (cmd.execute === 'qmp_capabilities') write({ return: {}, id: cmd.id });
      if (cmd.execute === 'query-cpus-fast') {
        write({ event: 'RESUME', timestamp: { seconds: 1, microseconds: 0 } });
        write({ return: [{ 'cpu-index': 0, 'thread-id': 1234 }], id: cmd.id });
      }
      if (cmd.execute === 'nope') write({ error: { class: 'CommandNotFound', desc: 'The command nope has not been found' }, id: cmd.id });
    });
    const q = await QmpClient.connect(sock, 2000);
    assert.equal(q.greeting?.QMP.version.qemu.major, 7);
    const events: QmpEvent[] = [];
    q.on('event', (e) => events.push(e));
    const cpus = await q.execute('query-cpus-fast');
    assert.deepEqual(cpus, [{ 'cpu-index': 0, 'thread-id': 1234 }]);
    assert.deepEqual(
      events.map((e) => e.event),
      ['RESUME'],
    );
    await assert.rejects(q.execute('nope'), /QMP nope: CommandNotFound: The command nope has not been found/);
    assert.deepEqual(seen, ['qmp_capabilities', 'query-cpus-fast', 'nope']);
    q.close();
    await assert.rejects(q.execute('query-status'), /connection closed/);
  });

  it('rejects pending commands when QEMU closes the socket (as on quit)', async () => {
    const sock = path.join(dir, 'q.sock');
    let conn: net.Socket | undefined;
    srv = await fakeQemu(sock, (cmd, write) => {
      if (cmd.execute === 'qmp_capabilities') write({ return: {}, id: cmd.id });
      if (cmd.execute === 'quit') conn?.destroy(); // QEMU exits before replying
    });
    srv.on('connection', (c) => (conn = c));
    const q = await QmpClient.connect(sock, 2000);
    const closed = new Promise((r) => q.once('close', r));
    await assert.rejects(q.execute('quit'), /connection closed \(while running quit\)/);
    await closed;
    assert.equal(q.isClosed, true);
  });

  it('fails clearly when nothing listens', async () => {
    await assert.rejects(QmpClient.connect(path.join(dir, 'none.sock'), 500), /QMP .*none\.sock: connect ENOENT/);
  });
});
