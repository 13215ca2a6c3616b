// examples/host-agent as written, under the real engine, against a real sshd on loopback: the
// agent's Debian package is copied and installed over SSH, a CA and a server certificate are
// made on the host, and the same up makes a bridge and a port through the agent's TLS endpoint,
// pinning that CA; a second up changes nothing; a new package upgrades the running agent in place
// and keeps its state; destroy removes the package and keeps configuration and state. SSH host
// keys are pinned, or trusted on first use only when asked.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { HostAgentArgError, hostAgentSettings } from '../../components/host-agent';
import * as remote from '../../provider/remote-impl';
import { EXAMPLES, engineStack, type EngineStack } from '../helpers/pulumi-stack';
import { freePort, startSshd, type Sshd } from '../helpers/sshd';

const ROOT = path.resolve(EXAMPLES, '..');
const TOKEN_FILE = '/etc/vhostnet/agent.token';
const apt = (...args: string[]) => execFileSync('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'ignore' });
const dpkgStatus = (): string => {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Status} ${Version}', 'vhostnet-agent'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : 'not known';
};
const sha256 = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A second package of the same tree with a higher version: what an upgrade installs. */
function repack(deb: string, dir: string): { path: string; version: string } {
  const tree = path.join(dir, 'repack');
  execFileSync('dpkg-deb', ['-R', deb, tree]);
  const control = path.join(tree, 'DEBIAN', 'control');
  const version = `${/^Version: (.*)$/m.exec(fs.readFileSync(control, 'utf8'))![1]}.1`;
  fs.writeFileSync(control, fs.readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}`));
  const out = path.join(dir, `vhostnet-agent_${version}_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z1', '--build', tree, out], { stdio: 'ignore' });
  fs.rmSync(tree, { recursive: true, force: true });
  return { path: out, version };
}

describe('63 components: HostAgent over SSH (examples/host-agent) with the real engine', function () {
  this.timeout(900000);
  let sshd: Sshd;
  let s: EngineStack;
  let dir: string;
  let agentPort: number;
  let runDir: string;
  let stateDir: string;
  let deb1: { path: string; version: string };
  let deb2: { path: string; version: string };
  let caCert = '';
  const token = () => fs.readFileSync(TOKEN_FILE, 'utf8').trim();
  const pid = () => Number(fs.readFileSync(path.join(runDir, 'agent.pid'), 'utf8').trim());
  /** GET /v1<p> over TLS; the status and body, or the error of a connection that failed. */
  const get = (p: string, tok?: string, pinned = true, mod: typeof https | typeof http = https) =>
    new Promise<{ status: number; body: string } | { error: string }>((resolve) => {
      const req = mod.get(
        {
          host: '127.0.0.1',
          port: agentPort,
          path: `/v1${p}`,
          ...(pinned ? { ca: caCert } : {}),
          timeout: 10000,
          headers: tok ? { authorization: `Bearer ${tok}` } : {},
        },
        (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        },
      );
      req.on('error', (e) => resolve({ error: e.message }));
      req.on('timeout', () => req.destroy(new Error('timeout')));
    });
  const status = async (p: string, tok?: string) => {
    const r = await get(p, tok);
    return 'status' in r ? r.status : r.error;
  };
  const timings: Record<string, number> = {};

  before(async () => {
    fs.mkdirSync('/dev/hugepages', { recursive: true });
    if (dpkgStatus() !== 'not known') apt('purge', '-y', '-q', 'vhostnet-agent');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-hostagent-'));
    const built = JSON.parse(
      execFileSync('bash', [path.join(ROOT, 'packaging', 'build-deb.sh')], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop()!,
    );
    deb1 = { path: built.path, version: built.version };
    deb2 = repack(deb1.path, dir);
    sshd = await startSshd();
    agentPort = await freePort();
    runDir = path.join(dir, 'run');
    stateDir = path.join(dir, 'state');
    s = await engineStack('hostagent', path.join(EXAMPLES, 'host-agent'), {
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      hostKey: sshd.hostKey,
      package: deb1.path,
      listen: `tcp://127.0.0.1:${agentPort}`,
      runDir,
      stateDir,
      filePrefix: `vhn-ha${process.pid}`,
      socketDir: path.join(dir, 'vm'),
      agentArgs: ['--eal-arg=--log-level=lib.eal:error'],
    });
    await s.stack.setConfig('privateKey', { value: sshd.privateKey, secret: true });
  });

  after(async () => {
    // Whatever a failed step left running: the agent we started, by its pidfile; then the package.
    try {
      if (alive(pid())) process.kill(pid(), 'SIGKILL');
    } catch {
      /* no pidfile: nothing runs */
    }
    if (dpkgStatus() !== 'not known')
      spawnSync('apt-get', ['purge', '-y', '-q', 'vhostnet-agent'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    await s?.remove();
    await sshd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    console.log(`      timings (ms): ${JSON.stringify(timings)}`);
  });

  it('up installs the package over SSH, starts the agent on TLS, and makes a bridge and a port through its https endpoint', async () => {
    const t0 = Date.now();
    const up = await s.stack.up();
    timings.firstUp = Date.now() - t0;
    // stack, component, token, package copy, TLS, install, bridge, port
    assert.equal(up.summary.resourceChanges?.create, 8, JSON.stringify(up.summary.resourceChanges));
    assert.equal(up.outputs.endpoint.value, `https://127.0.0.1:${agentPort}`);
    assert.equal(up.outputs.version.value, sha256(deb1.path), "the default version is the package file's sha256");
    assert.equal(dpkgStatus(), `install ok installed ${deb1.version}`);
    caCert = up.outputs.caCert.value;
    assert.match(caCert, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
    const ca = new crypto.X509Certificate(caCert);
    assert.ok(ca.ca, 'caCert is not a CA certificate');
    assert.equal(fs.readFileSync('/etc/vhostnet/tls/ca.crt', 'utf8'), caCert);
    assert.equal(fs.statSync('/etc/vhostnet/tls/server.key').mode & 0o777, 0o600);
    assert.equal(fs.statSync(TOKEN_FILE).mode & 0o777, 0o600);
    // The agent's certificate is the CA's, for the endpoint's address.
    const server = new crypto.X509Certificate(fs.readFileSync('/etc/vhostnet/tls/server.crt'));
    assert.ok(server.verify(ca.publicKey) && server.checkIP('127.0.0.1'), server.subjectAltName);
    assert.equal(await status('/health', token()), 200);
    assert.equal(await status('/health'), 401);
    assert.equal(await status('/health', 'not-the-token'), 401);
    // Only TLS, and only with the pinned CA.
    const plain = await get('/health', token(), false, http);
    assert.ok(!('status' in plain) || plain.status !== 200, 'the agent answered plain HTTP');
    const unpinned = await get('/health', token(), false);
    assert.ok('error' in unpinned && /self[- ]signed|unable to (get|verify)/i.test(unpinned.error), JSON.stringify(unpinned));
    assert.equal(await status('/bridges/br0', token()), 200);
    const port = await get('/ports/vm1-eth0', token());
    assert.ok('body' in port && (JSON.parse(port.body) as { bridge: string }).bridge === 'br0', JSON.stringify(port));
    const cmdline = fs.readFileSync(`/proc/${pid()}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(0, 2), ['/usr/lib/vhostnet/bin/node', '/usr/lib/vhostnet/dist/datapath/agent/main.js']);
    assert.ok(cmdline.includes('--tls-cert') && cmdline.includes(`tcp://127.0.0.1:${agentPort}`), cmdline.join(' '));
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
    assert.ok(!state.includes(token()), 'the token is in the state');
    assert.ok(state.includes('RemoteCommand') && state.includes('ciphertext'), 'the state has the resources, with secrets');
  });

  it('a new package upgrades the running agent in place and keeps its state', async () => {
    const old = pid();
    const tok = token();
    await s.stack.setConfig('package', { value: deb2.path });
    const t0 = Date.now();
    const up = await s.stack.up();
    timings.upgradeUp = Date.now() - t0;
    // The package file is copied anew (another name) and installed; nothing else is touched.
    assert.deepEqual(up.summary.resourceChanges, { same: 6, update: 1, replace: 1 });
    assert.equal(up.outputs.version.value, sha256(deb2.path));
    assert.equal(dpkgStatus(), `install ok installed ${deb2.version}`);
    assert.equal(up.outputs.caCert.value, caCert, 'the CA changed');
    assert.notEqual(pid(), old);
    assert.ok(!alive(old), 'the old agent still runs');
    assert.ok(!fs.existsSync(path.join('/var/cache/vhostnet', path.basename(deb1.path))), 'the old package file is still on the host');
    assert.equal(token(), tok);
    assert.equal(await status('/bridges/br0', tok), 200, 'the bridge did not survive the upgrade');
    assert.equal(await status('/ports/vm1-eth0', tok), 200, 'the port did not survive the upgrade');
  });

  it('bad input is refused naming the field and the rule; host keys are pinned, or trusted on first use only when asked', async () => {
    const bad = await remote.check('command', {
      connection: { host: '-oProxyCommand=x', port: 70000, user: '1x' },
      privateKey: 'not a key',
      create: '',
      environment: { 'BAD-NAME': 'x' },
    });
    assert.deepEqual(
      (bad.failures ?? []).map((f) => f.property),
      ['connection.host', 'connection.port', 'connection.user', 'connection.hostKey', 'connection.privateKey', 'create', 'environment.BAD-NAME'],
    );
    assert.match(
      bad.failures!.find((f) => f.property === 'connection.hostKey')!.reason,
      /is required: pin the host's public key .*or set connection\.trustOnFirstUse: true/,
    );
    const pkg = deb1.path;
    assert.throws(
      () => hostAgentSettings('h', { connection: { host: 'h', privateKey: 'k' }, package: pkg, listen: 'http://x' }),
      (e: Error) => e instanceof HostAgentArgError && /listen must be tcp:\/\/HOST:PORT/.test(e.message),
    );
    assert.throws(
      () => hostAgentSettings('h', { connection: { host: 'h', privateKey: 'k' }, package: '/tmp/agent.tar.gz' }),
      /'h': package must be the absolute path of a vhostnet-agent_<version>_amd64\.deb/,
    );
    assert.throws(
      () => hostAgentSettings('h', { connection: { host: 'h', privateKey: 'k' }, package: '/nowhere/vhostnet-agent_1_amd64.deb' }),
      /package must be an existing file/,
    );
    assert.throws(
      () => hostAgentSettings('h', { connection: { host: 'h', privateKey: 'k' }, package: pkg, runDir: '/run/$(x)' }),
      /runDir must be an absolute path/,
    );
    const conn = { host: sshd.host, port: sshd.port, user: sshd.user };
    const ok = await remote.create('command', {
      connection: { ...conn, hostKey: sshd.hostKey },
      privateKey: sshd.privateKey,
      create: 'printf %s "$X"',
      environment: { X: "it's $(not run)" },
    });
    assert.equal(ok.outs.stdout, "it's $(not run)");
    const otherKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ';
    await assert.rejects(
      remote.create('command', { connection: { ...conn, hostKey: otherKey }, privateKey: sshd.privateKey, create: 'true' }),
      /ssh to root@127\.0\.0\.1:\d+ failed: .*Host key verification failed/,
    );
    // Neither pinned nor trusted on first use: refused before ssh runs.
    await assert.rejects(
      remote.create('command', { connection: conn, privateKey: sshd.privateKey, create: 'true' }),
      /connection\.hostKey is required \(or connection\.trustOnFirstUse: true\)/,
    );
    // Trust on first use, chosen: the key is remembered, and a host showing another key is refused.
    const knownHosts = path.join(dir, 'known_hosts');
    process.env.VHOSTNET_KNOWN_HOSTS = knownHosts;
    try {
      const tofu = await remote.create('command', { connection: { ...conn, trustOnFirstUse: true }, privateKey: sshd.privateKey, create: 'echo hello' });
      assert.equal(tofu.outs.stdout, 'hello\n');
      assert.ok(fs.readFileSync(knownHosts, 'utf8').includes(sshd.hostKey.split(' ')[1]), 'the first key was not remembered');
      fs.writeFileSync(knownHosts, `[${sshd.host}]:${sshd.port} ${otherKey}\n`);
      await assert.rejects(
        remote.create('command', { connection: { ...conn, trustOnFirstUse: true }, privateKey: sshd.privateKey, create: 'true' }),
        /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/,
      );
    } finally {
      delete process.env.VHOSTNET_KNOWN_HOSTS;
    }
  });

  it('destroy stops the agent and removes the package, keeping its configuration and state', async () => {
    const running = pid();
    const t0 = Date.now();
    await s.stack.destroy();
    timings.destroy = Date.now() - t0;
    assert.ok(!alive(running), 'the agent still runs');
    assert.match(dpkgStatus(), /^deinstall ok config-files /);
    assert.ok(!fs.existsSync('/usr/lib/vhostnet'), '/usr/lib/vhostnet is still there');
    assert.ok(!fs.existsSync(path.join('/var/cache/vhostnet', path.basename(deb2.path))), 'the package file is still on the host');
    assert.ok(fs.existsSync(path.join(stateDir, 'state.db')), 'the state should be kept');
    assert.ok(fs.existsSync('/etc/vhostnet/agent.conf') && fs.existsSync('/etc/vhostnet/tls/ca.crt'), 'the configuration should be kept');
  });
});
