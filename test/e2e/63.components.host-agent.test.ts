// examples/host-agent as written, under the real engine, against a real sshd on loopback: the
// agent is packed, copied and started over SSH, and the same up makes a bridge and a port
// through it; a second up changes nothing; a version change upgrades the running agent and
// keeps its state; destroy stops it and removes the install.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostAgentArgError, hostAgentSettings } from '../../components/host-agent';
import * as remote from '../../provider/remote-impl';
import { EXAMPLES, engineStack, type EngineStack } from '../helpers/pulumi-stack';
import { freePort, startSshd, type Sshd } from '../helpers/sshd';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('63 components: HostAgent over SSH (examples/host-agent) with the real engine', function () {
  this.timeout(600000);
  let sshd: Sshd;
  let s: EngineStack;
  let dir: string;
  let agentPort: number;
  let installDir: string;
  let stateDir: string;
  const base = () => `http://127.0.0.1:${agentPort}/v1`;
  const token = (version: string) => fs.readFileSync(path.join(installDir, version, 'agent.token'), 'utf8').trim();
  const get = (p: string, tok?: string) => fetch(`${base()}${p}`, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
  const pid = () => Number(fs.readFileSync(path.join(installDir, 'agent.pid'), 'utf8').trim());
  const timings: Record<string, number> = {};

  before(async () => {
    fs.mkdirSync('/dev/hugepages', { recursive: true });
    sshd = await startSshd();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-hostagent-'));
    agentPort = await freePort();
    installDir = path.join(dir, 'opt');
    stateDir = path.join(dir, 'state');
    s = await engineStack('hostagent', path.join(EXAMPLES, 'host-agent'), {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      hostKey: sshd.hostKey,
      version: 'v1',
      listen: `tcp://127.0.0.1:${agentPort}`,
      runDir: path.join(dir, 'run'),
      stateDir,
      installDir,
      filePrefix: `vhn-ha${process.pid}`,
      socketDir: path.join(dir, 'vm'),
      agentArgs: ['--eal-arg=--log-level=lib.eal:error'],
    });
    await s.stack.setConfig('privateKey', { value: sshd.privateKey, secret: true });
  });

  after(async () => {
    // Whatever a failed step left running: the agent we started, by its pidfile.
    try {
      if (alive(pid())) process.kill(pid(), 'SIGKILL');
    } catch {
      /* no pidfile: nothing runs */
    }
    await s?.remove();
    await sshd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    console.log(`      timings (ms): ${JSON.stringify(timings)}`);
  });

  it('up installs the agent over SSH, starts it, and makes a bridge and a port through it', async () => {
    const t0 = Date.now();
    const up = await s.stack.up();
    timings.firstUp = Date.now() - t0;
    // stack, component, token, pack copy, install, bridge, port
    assert.equal(up.summary.resourceChanges?.create, 7, JSON.stringify(up.summary.resourceChanges));
    assert.equal(up.outputs.endpoint.value, `http://127.0.0.1:${agentPort}`);
    assert.equal(up.outputs.version.value, 'v1');
    assert.equal(fs.statSync(path.join(installDir, 'v1', 'agent.token')).mode & 0o777, 0o600);
    assert.equal((await get('/health', token('v1'))).status, 200);
    assert.equal((await get('/health')).status, 401);
    assert.equal((await get('/health', 'not-the-token')).status, 401);
    assert.equal((await get('/bridges/br0', token('v1'))).status, 200);
    const port = (await (await get('/ports/vm1-eth0', token('v1'))).json()) as { bridge: string };
    assert.equal(port.bridge, 'br0');
    const cmdline = fs.readFileSync(`/proc/${pid()}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes(path.join(installDir, 'v1', 'dist/datapath/agent/main.js')), cmdline.join(' '));
  });

  it('a second up changes nothing', async () => {
    const before = pid();
    const t0 = Date.now();
    const up = await s.stack.up();
    timings.noopUp = Date.now() - t0;
    assert.deepEqual(Object.keys(up.summary.resourceChanges ?? {}), ['same'], JSON.stringify(up.summary.resourceChanges));
    assert.equal(pid(), before);
  });

  it('the state holds neither the private key nor the token in plain text', () => {
    const state = s.stateFile();
    const keyBody = sshd.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
    assert.ok(keyBody.length > 0);
    for (const line of keyBody) assert.ok(!state.includes(line), 'a line of the private key is in the state');
    assert.ok(!state.includes(token('v1')), 'the token is in the state');
    assert.ok(state.includes('RemoteCommand') && state.includes('ciphertext'), 'the state has the resources, with secrets');
  });

  it('a version change upgrades the running agent in place and keeps its state', async () => {
    const old = pid();
    const tok = token('v1');
    await s.stack.setConfig('version', { value: 'v2' });
    const t0 = Date.now();
    const up = await s.stack.up();
    timings.upgradeUp = Date.now() - t0;
    // Only the install runs again: the bridge and the port are not touched.
    assert.deepEqual(up.summary.resourceChanges, { same: 6, update: 1 });
    assert.equal(up.outputs.version.value, 'v2');
    assert.notEqual(pid(), old);
    assert.ok(!alive(old), 'the old agent still runs');
    assert.ok(!fs.existsSync(path.join(installDir, 'v1')), 'the old version is still installed');
    assert.equal(token('v2'), tok);
    assert.equal((await get('/bridges/br0', tok)).status, 200, 'the bridge did not survive the upgrade');
    assert.equal((await get('/ports/vm1-eth0', tok)).status, 200, 'the port did not survive the upgrade');
  });

  it('bad input is refused naming the field and the rule; a host key other than the pinned one is refused', async () => {
    const bad = await remote.check('command', {
      connection: { host: '-oProxyCommand=x', port: 70000, user: '1x' },
      privateKey: 'not a key',
      create: '',
      environment: { 'BAD-NAME': 'x' },
    });
    assert.deepEqual(
      (bad.failures ?? []).map((f) => f.property),
      ['connection.host', 'connection.port', 'connection.user', 'connection.privateKey', 'create', 'environment.BAD-NAME'],
    );
    assert.throws(() => hostAgentSettings('h', { connection: { host: 'h', privateKey: 'k' }, listen: 'http://x' }), (e: Error) => e instanceof HostAgentArgError && /listen must be tcp:\/\/HOST:PORT/.test(e.message));
    assert.throws(() => hostAgentSettings('h', { connection: { host: 'h', privateKey: 'k' }, installDir: '/opt/$(x)' }), /installDir must be an absolute path/);
    const conn = { host: sshd.host, port: sshd.port, user: sshd.user };
    const ok = await remote.create('command', { connection: { ...conn, hostKey: sshd.hostKey }, privateKey: sshd.privateKey, create: 'printf %s "$X"', environment: { X: "it's $(not run)" } });
    assert.equal(ok.outs.stdout, "it's $(not run)");
    const otherKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ';
    await assert.rejects(
      remote.create('command', { connection: { ...conn, hostKey: otherKey }, privateKey: sshd.privateKey, create: 'true' }),
      /ssh to root@127\.0\.0\.1:\d+ failed: .*Host key verification failed/,
    );
  });

  it('destroy stops the agent and removes the install dir', async () => {
    const running = pid();
    const t0 = Date.now();
    await s.stack.destroy();
    timings.destroy = Date.now() - t0;
    assert.ok(!alive(running), 'the agent still runs');
    assert.ok(!fs.existsSync(installDir), `${installDir} is still there: ${fs.existsSync(installDir) ? fs.readdirSync(installDir).join(', ') : ''}`);
    assert.ok(fs.existsSync(stateDir), 'the state dir should be kept');
  });
});
