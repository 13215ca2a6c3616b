// Bad input against the real agent, table-driven: every refusal is a 4xx that names the field,
// and leaves GET /v1/state byte-for-byte and the run dir listing as they were. Then vhostctl
// (exit code 2, field named), and a slow-loris client that must not stall anyone else.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { AgentProcess } from '../helpers/agent-process';
import { rawRequest, stateBytes } from '../helpers/raw-http';

interface Case {
  what: string;
  method: string;
  path: string;
  /** An object is sent as JSON; a string or Buffer as the raw bytes. */
  body?: unknown;
  /** The field the refusal must name (issues[].field). */
  field: string;
  /** Exact status when it is not 400. */
  status?: number;
}

const long = (n: number) => 'a'.repeat(n);
const enc = encodeURIComponent;

describe('50 reliability: bad input changes nothing and names the field', function () {
  this.timeout(180000);
  let agent: AgentProcess;
  let sock = (f: string) => f;
  const client = (extra: object = {}) => ({ bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock('new.sock'), ...extra });
  const listing = () => JSON.stringify([fs.readdirSync(agent.runDir).sort(), fs.readdirSync(agent.dir).sort()]);

  before(async () => {
    agent = await AgentProcess.start({ name: 'badinput' });
    sock = (f: string) => path.join(agent.dir, f);
    // Some state for the refusals to (not) disturb: a bridge, a client port, a server port, an owned bridge.
    await agent.client.put('/bridges/br0', {});
    await agent.client.put('/bridges/owned', { owner: 'stack-a' });
    await agent.client.put('/ports/p0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock('p0.sock') });
    await agent.client.put('/ports/srv0', { bridge: 'br0', type: 'dpdkvhostuser' });
    // A symlinked directory and a symlinked socket file inside the allowed socket dir.
    fs.mkdirSync(sock('elsewhere'));
    fs.symlinkSync(sock('elsewhere'), sock('linkdir'));
    fs.symlinkSync('/etc/passwd', sock('link.sock'));
  });
  after(async () => {
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  const cases: () => Case[] = () => [
    // ---- raw bodies
    { what: 'malformed JSON', method: 'PUT', path: '/v1/bridges/b1', body: '{"macAgingSeconds": ', field: '(body)' },
    { what: 'JSON with a trailing comma', method: 'PUT', path: '/v1/bridges/b1', body: '{"macAgingSeconds": 5,}', field: '(body)' },
    { what: 'not JSON at all', method: 'PUT', path: '/v1/settings', body: 'pmdMaxSleepUs=5', field: '(body)' },
    { what: 'body is a JSON array', method: 'PUT', path: '/v1/bridges/b1', body: '[]', field: '(body)' },
    { what: 'body is JSON null', method: 'PUT', path: '/v1/ports/x1', body: 'null', field: '(body)' },
    { what: 'body is a JSON string', method: 'PUT', path: '/v1/settings', body: '"x"', field: '(body)' },
    { what: 'empty body on a port', method: 'PUT', path: '/v1/ports/x1', body: '', field: '(body)' },
    {
      what: 'body over 1 MiB (declared)',
      method: 'PUT',
      path: '/v1/bridges/b1',
      body: JSON.stringify({ owner: long((1 << 20) + 10) }),
      field: '(body)',
      status: 413,
    },
    {
      what: 'invalid UTF-8 JSON',
      method: 'PUT',
      path: '/v1/bridges/b1',
      body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      field: '\ufffd\ufffd',
    },
    // ---- names (URL)
    { what: 'name with / (encoded)', method: 'PUT', path: `/v1/ports/${enc('a/b')}`, body: client(), field: 'name' },
    { what: 'name with \\', method: 'PUT', path: `/v1/ports/${enc('a\\b')}`, body: client(), field: 'name' },
    { what: 'name with NUL', method: 'PUT', path: `/v1/bridges/${enc('a\0b')}`, body: {}, field: 'name' },
    { what: 'name of 300 characters', method: 'PUT', path: `/v1/bridges/${long(300)}`, body: {}, field: 'name' },
    { what: 'name of 65 characters', method: 'PUT', path: `/v1/ports/${long(65)}`, body: client(), field: 'name' },
    { what: 'name starting with .', method: 'PUT', path: '/v1/bridges/.hidden', body: {}, field: 'name' },
    { what: 'name with a space', method: 'PUT', path: `/v1/bridges/${enc('a b')}`, body: {}, field: 'name' },
    { what: 'name with a unicode letter', method: 'PUT', path: `/v1/bridges/${enc('brü')}`, body: {}, field: 'name' },
    { what: 'name differing from the URL', method: 'PUT', path: '/v1/bridges/b1', body: { name: 'b2' }, field: 'name' },
    { what: 'bad percent-encoding in a name', method: 'PUT', path: '/v1/bridges/%E0%A4%A', body: {}, field: 'name' },
    { what: 'delete of a name with /', method: 'DELETE', path: `/v1/ports/${enc('../srv0')}`, field: 'name' },
    { what: 'delete of a bridge named ..\\x', method: 'DELETE', path: `/v1/bridges/${enc('..\\x')}`, field: 'name' },
    { what: 'bridge field ..', method: 'PUT', path: '/v1/ports/x1', body: client({ bridge: '..' }), field: 'bridge' },
    { what: 'bridge field a number', method: 'PUT', path: '/v1/ports/x1', body: client({ bridge: 7 }), field: 'bridge' },
    { what: 'bridge that does not exist', method: 'PUT', path: '/v1/ports/x1', body: client({ bridge: 'nosuch' }), field: 'bridge' },
    // ---- types, unknown fields
    { what: 'unknown field on a bridge', method: 'PUT', path: '/v1/bridges/b1', body: { stp: true }, field: 'stp' },
    { what: "unknown field on a port (OVS's name for mtu)", method: 'PUT', path: '/v1/ports/x1', body: client({ mtu_request: 9000 }), field: 'mtu_request' },
    { what: 'unknown field in settings', method: 'PUT', path: '/v1/settings', body: { dpdkInit: true }, field: 'dpdkInit' },
    { what: 'macAgingSeconds as a string', method: 'PUT', path: '/v1/bridges/b1', body: { macAgingSeconds: '300' }, field: 'macAgingSeconds' },
    { what: 'macAgingSeconds 0', method: 'PUT', path: '/v1/bridges/b1', body: { macAgingSeconds: 0 }, field: 'macAgingSeconds' },
    { what: 'macAgingSeconds 1e9', method: 'PUT', path: '/v1/bridges/b1', body: { macAgingSeconds: 1e9 }, field: 'macAgingSeconds' },
    { what: 'macAgingSeconds 2.5', method: 'PUT', path: '/v1/bridges/b1', body: { macAgingSeconds: 2.5 }, field: 'macAgingSeconds' },
    { what: 'owner over 512 characters', method: 'PUT', path: '/v1/bridges/b1', body: { owner: long(513) }, field: 'owner' },
    { what: 'owner a number', method: 'PUT', path: '/v1/bridges/b1', body: { owner: 5 }, field: 'owner' },
    { what: 'type unknown', method: 'PUT', path: '/v1/ports/x1', body: client({ type: 'dpdkr' }), field: 'type' },
    { what: 'type missing', method: 'PUT', path: '/v1/ports/x1', body: { bridge: 'br0', vhostServerPath: sock('new.sock') }, field: 'type' },
    { what: 'nRxq on a vhost-user port', method: 'PUT', path: '/v1/ports/x1', body: client({ nRxq: 2 }), field: 'nRxq' },
    { what: 'expectedVersion 0 in the body', method: 'PUT', path: '/v1/bridges/br0', body: { expectedVersion: 0 }, field: 'expectedVersion' },
    { what: 'expectedVersion as a string', method: 'PUT', path: '/v1/bridges/br0', body: { expectedVersion: '1' }, field: 'expectedVersion' },
    {
      what: 'expectedVersion stale',
      method: 'PUT',
      path: '/v1/bridges/br0',
      body: { macAgingSeconds: 10, expectedVersion: 99 },
      field: 'expectedVersion',
      status: 409,
    },
    {
      what: 'owner of another stack without adopt',
      method: 'PUT',
      path: '/v1/bridges/owned',
      body: { owner: 'stack-b', macAgingSeconds: 9 },
      field: 'owner',
      status: 409,
    },
    // ---- MACs
    { what: 'multicast MAC', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: '01:00:5e:00:00:01' }), field: 'mac' },
    { what: 'broadcast MAC', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: 'ff:ff:ff:ff:ff:ff' }), field: 'mac' },
    { what: 'all-zero MAC', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: '00:00:00:00:00:00' }), field: 'mac' },
    { what: 'MAC with 5 octets', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: '02:00:00:00:00' }), field: 'mac' },
    { what: 'MAC with non-hex', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: '02:00:00:00:00:zz' }), field: 'mac' },
    { what: 'MAC with dashes', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: '02-00-00-00-00-01' }), field: 'mac' },
    { what: 'MAC as a number', method: 'PUT', path: '/v1/ports/x1', body: client({ mac: 2 }), field: 'mac' },
    // ---- queues
    { what: 'queues 0', method: 'PUT', path: '/v1/ports/x1', body: client({ queues: 0 }), field: 'queues' },
    { what: 'queues -1', method: 'PUT', path: '/v1/ports/x1', body: client({ queues: -1 }), field: 'queues' },
    { what: 'queues 17', method: 'PUT', path: '/v1/ports/x1', body: client({ queues: 17 }), field: 'queues' },
    { what: 'queues 1.5', method: 'PUT', path: '/v1/ports/x1', body: client({ queues: 1.5 }), field: 'queues' },
    { what: 'queues as a string', method: 'PUT', path: '/v1/ports/x1', body: client({ queues: '2' }), field: 'queues' },
    { what: 'queues null', method: 'PUT', path: '/v1/ports/x1', body: client({ queues: null }), field: 'queues' },
    // ---- socket paths
    {
      what: 'socket path outside the allowed dirs',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: client({ vhostServerPath: '/etc/vhost.sock' }),
      field: 'vhostServerPath',
    },
    {
      what: 'socket path through a symlinked dir',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: client({ vhostServerPath: sock('linkdir/x.sock') }),
      field: 'vhostServerPath',
    },
    {
      what: 'socket path that is a symlink',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: client({ vhostServerPath: sock('link.sock') }),
      field: 'vhostServerPath',
    },
    { what: 'relative socket path', method: 'PUT', path: '/v1/ports/x1', body: client({ vhostServerPath: 'x.sock' }), field: 'vhostServerPath' },
    { what: 'socket path with ..', method: 'PUT', path: '/v1/ports/x1', body: client({ vhostServerPath: sock('../x.sock') }), field: 'vhostServerPath' },
    { what: 'socket path with NUL', method: 'PUT', path: '/v1/ports/x1', body: client({ vhostServerPath: sock('x\0.sock') }), field: 'vhostServerPath' },
    { what: 'socket path over 107 bytes', method: 'PUT', path: '/v1/ports/x1', body: client({ vhostServerPath: sock(long(110)) }), field: 'vhostServerPath' },
    {
      what: 'socket path naming a directory',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: client({ vhostServerPath: sock('elsewhere/') }),
      field: 'vhostServerPath',
    },
    {
      what: 'socket path another port uses',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: client({ vhostServerPath: sock('p0.sock') }),
      field: 'vhostServerPath',
      status: 409,
    },
    {
      what: 'client port without a socket path',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: { bridge: 'br0', type: 'dpdkvhostuserclient' },
      field: 'vhostServerPath',
    },
    {
      what: 'server port with a socket path',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: { bridge: 'br0', type: 'dpdkvhostuser', vhostServerPath: sock('s.sock') },
      field: 'vhostServerPath',
    },
    // ---- settings
    { what: 'settings: pmdCpus with a CPU twice', method: 'PUT', path: '/v1/settings', body: { pmdCpus: [1, 1] }, field: 'pmdCpus' },
    { what: 'settings: pmdCpus negative', method: 'PUT', path: '/v1/settings', body: { pmdCpus: [-1] }, field: 'pmdCpus.0' },
    { what: 'settings: pmdCpus a string', method: 'PUT', path: '/v1/settings', body: { pmdCpus: '1' }, field: 'pmdCpus' },
    { what: 'settings: memoryMb 10', method: 'PUT', path: '/v1/settings', body: { memoryMb: 10 }, field: 'memoryMb' },
    { what: 'settings: hugepages maybe', method: 'PUT', path: '/v1/settings', body: { hugepages: 'maybe' }, field: 'hugepages' },
    { what: 'settings: vhostIommuSupport "true"', method: 'PUT', path: '/v1/settings', body: { vhostIommuSupport: 'true' }, field: 'vhostIommuSupport' },
    { what: 'settings: vhostSockDir absolute', method: 'PUT', path: '/v1/settings', body: { vhostSockDir: '/tmp' }, field: 'vhostSockDir' },
    { what: 'settings: vhostSockDir with ..', method: 'PUT', path: '/v1/settings', body: { vhostSockDir: 'a/../..' }, field: 'vhostSockDir' },
    { what: 'settings: pmdMaxSleepUs 20000', method: 'PUT', path: '/v1/settings', body: { pmdMaxSleepUs: 20000 }, field: 'pmdMaxSleepUs' },
    { what: 'settings: pmdMaxSleepUs -1', method: 'PUT', path: '/v1/settings', body: { pmdMaxSleepUs: -1 }, field: 'pmdMaxSleepUs' },
    { what: 'settings: pmdCpus a CPU this host lacks', method: 'PUT', path: '/v1/settings', body: { pmdCpus: [1000] }, field: 'pmdCpus.0' },
    { what: 'settings: hugepages on beyond the free ones', method: 'PUT', path: '/v1/settings', body: { hugepages: 'on', memoryMb: 65536 }, field: 'memoryMb' },
    // ---- guest files and hugetlbfs mounts (issue 13: QEMU runs as root)
    {
      what: 'guest: a block device as its disk',
      method: 'PUT',
      path: '/v1/guests/vm9',
      body: { memoryMb: 64, accel: 'tcg', boot: { kind: 'disk', image: '/dev/sda' } },
      field: 'boot.image',
    },
    {
      what: 'guest: a kernel outside the image directories',
      method: 'PUT',
      path: '/v1/guests/vm9',
      body: { memoryMb: 64, accel: 'tcg', boot: { kind: 'kernel', kernel: '/etc/shadow' } },
      field: 'boot.kernel',
    },
    { what: 'hugepages: hugetlbfs over /etc', method: 'PUT', path: '/v1/hugepages/h9', body: { pages: 0, mountPath: '/etc' }, field: 'mountPath' },
    // ---- query flags
    { what: 'dryRun=yes', method: 'PUT', path: '/v1/bridges/b1?dryRun=yes', body: {}, field: 'dryRun' },
    { what: 'adopt=2', method: 'PUT', path: '/v1/bridges/owned?adopt=2', body: { owner: 'stack-b' }, field: 'adopt' },
    { what: 'expectedVersion=abc', method: 'DELETE', path: '/v1/ports/p0?expectedVersion=abc', field: 'expectedVersion' },
    { what: 'expectedVersion=0', method: 'PUT', path: '/v1/settings?expectedVersion=0', body: {}, field: 'expectedVersion' },
    { what: 'expectedVersion=-1 on delete', method: 'DELETE', path: '/v1/bridges/owned?expectedVersion=-1', field: 'expectedVersion' },
    { what: 'expectedVersion stale on delete', method: 'DELETE', path: '/v1/ports/p0?expectedVersion=7', field: 'expectedVersion', status: 409 },
    // ---- methods and endpoints
    { what: 'POST on a port', method: 'POST', path: '/v1/ports/x1', body: client(), field: 'method', status: 405 },
    { what: 'PATCH on settings', method: 'PATCH', path: '/v1/settings', body: {}, field: 'method', status: 405 },
    { what: 'DELETE on /v1/state', method: 'DELETE', path: '/v1/state', field: 'method', status: 405 },
    { what: 'PUT on /v1/ports', method: 'PUT', path: '/v1/ports', body: [], field: 'method', status: 405 },
    { what: 'unknown endpoint', method: 'GET', path: '/v1/switches', field: 'path', status: 404 },
    { what: 'no version prefix', method: 'PUT', path: '/bridges/b1', body: {}, field: 'path', status: 404 },
  ];

  // Two cases found by this campaign, kept apart so one acceptance cannot make every later case
  // fail on a changed state.
  const knownBugs: () => Case[] = () => [
    // A client port must never name the agent's own API socket (the run dir is the agent's).
    {
      what: 'socket path the agent listens on',
      method: 'PUT',
      path: '/v1/ports/x1',
      body: client({ vhostServerPath: path.join(agent.runDir, 'agent.sock') }),
      field: 'vhostServerPath',
    },
    // The 409 for a bridge that still has ports names the field.
    { what: 'delete of a bridge that has ports', method: 'DELETE', path: '/v1/bridges/br0', field: 'ports', status: 409 },
  ];

  const runTable = async (table: Case[]) => {
    const before = await stateBytes(agent.socket);
    const dirBefore = listing();
    const wrong: string[] = [];
    for (const c of table) {
      const body = c.body === undefined ? undefined : typeof c.body === 'string' || Buffer.isBuffer(c.body) ? c.body : JSON.stringify(c.body);
      const r = await rawRequest(agent.socket, { method: c.method, path: c.path, body }).catch((e: Error) => ({
        status: 0,
        text: `no answer: ${e.message}`,
        json: undefined,
      }));
      const fields: string[] = (r.json?.error?.issues ?? []).map((i: { field: string }) => i.field);
      const want = c.status ?? 400;
      if (r.status !== want || !fields.includes(c.field)) wrong.push(`${c.what}: ${r.status} ${r.text.slice(0, 300)} (wanted ${want} naming ${c.field})`);
      const after = await stateBytes(agent.socket);
      if (after !== before) wrong.push(`${c.what}: GET /v1/state changed`);
      if (listing() !== dirBefore) wrong.push(`${c.what}: run dir changed: ${listing()}`);
    }
    console.log(`      bad-input figure: ${table.length} HTTP cases, ${wrong.length} wrong, state changes: ${wrong.filter((w) => /changed/.test(w)).length}`);
    assert.deepEqual(wrong, []);
  };

  it('refuses every bad request with a 4xx naming the field; state and run dir unchanged', async () => {
    const table = cases();
    assert.ok(table.length >= 60, `${table.length} cases`);
    await runTable(table);
  });

  it("refuses a client path on the agent's own API socket, and names the field of a bridge-with-ports 409", async () => {
    await runTable(knownBugs());
  });

  it('a body over 1 MiB sent without content-length (chunked) gets 413, and the agent keeps answering', async () => {
    const before = await stateBytes(agent.socket);
    const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const s = net.connect(agent.socket);
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('error', () => undefined); // the agent may close while we still write
      s.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(out);
        if (m) resolve({ status: Number(m[1]), text: m[2] });
        else reject(new Error(`no HTTP answer: ${JSON.stringify(out.slice(0, 200))}`));
      });
      s.write('PUT /v1/bridges/big HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n');
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 2 * (1 << 20) && !s.destroyed) {
          sent += chunk.length;
          s.write(`${chunk.length.toString(16)}\r\n`);
          s.write(chunk);
          if (!s.write('\r\n')) return void s.once('drain', pump);
        }
        if (!s.destroyed) s.end('0\r\n\r\n');
      };
      pump();
    });
    assert.equal(r.status, 413, r.text);
    assert.ok(JSON.parse(r.text).error.issues.some((i: { field: string }) => i.field === '(body)'));
    assert.equal(await stateBytes(agent.socket), before);
  });

  it('vhostctl refuses bad input with exit code 2 and names the field; nothing changes', async () => {
    const before = await stateBytes(agent.socket);
    const dirBefore = listing();
    const cmds: { args: string[]; field: RegExp }[] = [
      { args: ['add-port', 'br0', 'a/b', '--type', 'dpdkvhostuser'], field: /name/ },
      { args: ['add-port', 'br0', 'q0', '--vhost-server-path', sock('q0.sock'), '--queues', '0'], field: /queues/ },
      { args: ['add-port', 'br0', 'q0', '--vhost-server-path', sock('q0.sock'), '--queues', '17'], field: /queues/ },
      { args: ['add-port', 'br0', 'q0', '--vhost-server-path', sock('q0.sock'), '--queues', 'two'], field: /queues/ },
      { args: ['add-port', 'br0', 'q0', '--vhost-server-path', sock('q0.sock'), '--mac', '01:00:00:00:00:01'], field: /mac/ },
      { args: ['add-port', 'br0', 'q0', '--vhost-server-path', 'rel.sock'], field: /vhostServerPath/ },
      { args: ['add-port', 'br0', 'q0', '--vhost-server-path', '/etc/q0.sock'], field: /vhostServerPath/ },
      { args: ['add-port', 'br0', 'q0'], field: /vhostServerPath/ },
      { args: ['add-port', 'br0', 'q0', '--type', 'vhost', '--vhost-server-path', sock('q0.sock')], field: /type/ },
      { args: ['add-port', 'nosuch', 'q0', '--vhost-server-path', sock('q0.sock')], field: /bridge/ },
      { args: ['add-br', long(300)], field: /name/ },
      { args: ['add-br', 'b9', '--mac-aging=-5'], field: /macAgingSeconds/ },
      { args: ['add-br', 'b9', '--mac-aging', 'soon'], field: /macAgingSeconds/ },
      { args: ['set', 'memoryMb=10'], field: /memoryMb/ },
      { args: ['set', 'pmdCpus=1,1'], field: /pmdCpus/ },
      { args: ['set', 'hugepages=maybe'], field: /hugepages/ },
      { args: ['set', 'noSuchSetting=1'], field: /noSuchSetting/ },
      { args: ['set', 'vhostSockDir=../up'], field: /vhostSockDir/ },
      { args: ['del-port', 'a/b'], field: /name/ },
    ];
    const wrong: string[] = [];
    for (const c of cmds) {
      const r = await agent.vhostctl(...c.args);
      if (r.code !== 2 || !c.field.test(r.stderr)) wrong.push(`vhostctl ${c.args.join(' ')}: exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`);
    }
    assert.equal(await stateBytes(agent.socket), before);
    assert.equal(listing(), dirBefore);
    console.log(`      bad-input figure: ${cmds.length} vhostctl cases, ${wrong.length} wrong, state changes: 0`);
    assert.deepEqual(wrong, []);
  });

  it('a slow-loris client that dribbles its headers is cut off within ~6 s, while another client is answered promptly', async () => {
    const started = Date.now();
    const s = net.connect(agent.socket);
    let closedAt = 0;
    s.on('error', () => undefined);
    const closed = new Promise<void>((r) => s.on('close', () => ((closedAt = Date.now()), r())));
    s.write('GET /v1/health HTTP/1.1\r\nhost: a\r\n');
    const drip = setInterval(() => !s.destroyed && s.write(`x-drip-${Date.now()}: 1\r\n`), 300);
    const latencies: number[] = [];
    try {
      while (!closedAt && Date.now() - started < 15000) {
        const t = Date.now();
        const r = await rawRequest(agent.socket, { method: 'GET', path: '/v1/health' });
        assert.equal(r.status, 200);
        latencies.push(Date.now() - t);
        await new Promise((r) => setTimeout(r, 200));
      }
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
    } finally {
      clearInterval(drip);
      s.destroy();
    }
    assert.ok(closedAt, 'the slow client was never cut off');
    const cutAfter = closedAt - started;
    console.log(`      slow-loris figure: cut off after ${cutAfter} ms; other client: ${latencies.length} requests, max ${Math.max(...latencies)} ms`);
    assert.ok(cutAfter <= 7000, `cut off after ${cutAfter} ms`);
    assert.ok(Math.max(...latencies) < 1000, `max latency ${Math.max(...latencies)} ms`);
  });
});
