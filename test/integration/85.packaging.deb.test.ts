// The agent's Debian package on this machine, as an operator uses it: `npm run package:deb`'s
// .deb passes lintian, `apt-get install ./…deb` installs it with Debian's DPDK libraries, the
// agent runs from the unit's own ExecStart (no systemd here: taken from the unit file) and
// `vhostctl show` answers; remove stops it and keeps configuration and state, a new install finds
// that state again, purge removes everything.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const UNIT = '/lib/systemd/system/vhostnet-agent.service';
const SOCKET = '/run/vhostnet/agent.sock';
const PIDFILE = '/run/vhostnet/agent.pid';
const BRIDGE = 'br-deb85';

const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: ['ignore', 'pipe', 'pipe'] });
const status = (): string => {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Status}', 'vhostnet-agent'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : 'not known';
};
/** Running, and not a zombie: the agent is this test's child, reaped only when the loop turns. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const vhostctl = (...args: string[]) => spawnSync('/usr/bin/vhostctl', args, { encoding: 'utf8', timeout: 30000 });

/** The unit's ExecStart, split as systemd would (it has no quoting or variables). */
function execStart(): string[] {
  const line = fs
    .readFileSync(UNIT, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ExecStart='));
  assert.ok(line, `${UNIT} has no ExecStart`);
  return line.slice('ExecStart='.length).trim().split(/\s+/);
}

/** Started detached as the unit's command, the way a host without systemd runs it. */
async function startFromUnit(log: string): Promise<number> {
  const [cmd, ...args] = execStart();
  const out = fs.openSync(log, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.unref();
  const deadline = Date.now() + 60000;
  while (vhostctl('show').status !== 0) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the agent did not answer on ${SOCKET}: ${fs.readFileSync(log, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return child.pid!;
}

describe('85 packaging: the vhostnet-agent .deb installed, run from its unit, removed and purged', function () {
  this.timeout(900000);
  let deb: { version: string; path: string; sha256: string };
  let log: string;
  let pid = 0;

  before(() => {
    if (status().includes('installed') || status().includes('config-files')) run('apt-get', ['purge', '-y', '-q', 'vhostnet-agent']);
    const t0 = Date.now();
    const out = run('bash', [path.join(ROOT, 'packaging', 'build-deb.sh')]);
    deb = JSON.parse(out.trim().split('\n').pop()!);
    console.log(`      build-deb.sh: ${Date.now() - t0} ms (cached when the inputs did not change) -> ${deb.path}`);
    log = fs.mkdtempSync('/tmp/vhostnet-deb85-') + '/agent.log';
  });

  after(() => {
    if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    if (status() !== 'not known') spawnSync('apt-get', ['purge', '-y', '-q', 'vhostnet-agent'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    fs.rmSync(path.dirname(log), { recursive: true, force: true });
  });

  it('is named vhostnet-agent_<version>_amd64.deb and lintian reports no errors', () => {
    assert.equal(path.basename(deb.path), `vhostnet-agent_${deb.version}_amd64.deb`);
    assert.match(deb.version, /^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
    const r = spawnSync('lintian', ['--tag-display-limit', '0', deb.path], { encoding: 'utf8' });
    const tags = r.stdout.split('\n').filter((l) => /^[EWIXO]: /.test(l));
    console.log(`      lintian: ${tags.filter((t) => t.startsWith('E:')).length} errors, ${tags.filter((t) => t.startsWith('W:')).length} warnings`);
    assert.deepEqual(
      tags.filter((t) => t.startsWith('E:')),
      [],
    );
    assert.ok(r.status === 0, `lintian exited ${r.status}: ${r.stderr}`);
  });

  it('apt-get install ./…deb installs it, its DPDK libraries, the unit and the configuration', () => {
    // apt needs a path with a slash to take it for a file: as an operator types it.
    execFileSync('apt-get', ['install', '-y', '-q', `./${path.basename(deb.path)}`], {
      cwd: path.dirname(deb.path),
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      stdio: 'ignore',
    });
    assert.equal(status(), 'install ok installed');
    const depends = run('dpkg-query', ['-W', '-f', '${Depends}', 'vhostnet-agent']);
    for (const lib of ['librte-vhost23', 'librte-eal23', 'librte-mbuf23', 'librte-mempool-ring23', 'librte-net-af-packet23'])
      assert.ok(depends.includes(lib), `Depends lacks ${lib}: ${depends}`);
    for (const dep of depends.split(', ').map((d) => d.split(' ')[0]))
      assert.match(run('dpkg-query', ['-W', '-f', '${Status}', dep]), /install ok installed/, dep);
    assert.match(run('dpkg-query', ['-W', '-f', '${Conffiles}', 'vhostnet-agent']), /\/etc\/vhostnet\/agent\.conf [0-9a-f]{32}/);
    assert.equal(fs.statSync('/etc/vhostnet/agent.token').mode & 0o777, 0o600);
    assert.match(fs.readFileSync('/etc/vhostnet/agent.token', 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.equal(fs.statSync('/var/lib/vhostnet').mode & 0o777, 0o700);
    for (const bin of ['vhostnet-agent', 'vhostctl']) {
      // An operator's PATH, not this test's (which has the repository's node_modules/.bin first).
      const which = run('env', ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'sh', '-c', `command -v ${bin}`]).trim();
      assert.equal(which, `/usr/bin/${bin}`);
    }
    assert.match(run('/usr/lib/vhostnet/bin/node', ['--version']), /^v24\./);
    assert.match(run('/usr/bin/vhostnet-agent', ['--help']), /--insecure-tcp/);
    // systemd reads the unit without complaint (it checks ExecStart is there and executable).
    const verify = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', UNIT], { encoding: 'utf8' });
    console.log(`      systemd-analyze security: ${(/Overall exposure level for .*/.exec(security.stdout) ?? [security.stderr.trim()])[0]}`);
  });

  it("the unit's ExecStart starts the agent from /etc/vhostnet/agent.conf and vhostctl show answers", async () => {
    assert.deepEqual(execStart(), ['/usr/lib/vhostnet/bin/start-agent', '/etc/vhostnet/agent.conf']);
    pid = await startFromUnit(log);
    assert.equal(Number(fs.readFileSync(PIDFILE, 'utf8').trim()), pid, 'start-agent execs the agent: the pidfile names it');
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.deepEqual(cmdline.slice(0, 2), ['/usr/lib/vhostnet/bin/node', '/usr/lib/vhostnet/dist/datapath/agent/main.js']);
    assert.ok(cmdline.includes('--token-file') && cmdline.includes('/etc/vhostnet/agent.token'), cmdline.join(' '));
    assert.equal(fs.statSync(SOCKET).mode & 0o777, 0o600);
    const add = vhostctl('add-br', BRIDGE);
    assert.equal(add.status, 0, add.stderr);
    const show = vhostctl('show');
    assert.equal(show.status, 0, show.stderr);
    assert.match(show.stdout, new RegExp(`Bridge ${BRIDGE}`));
  });

  it('remove stops the agent and keeps its configuration and state', () => {
    run('apt-get', ['remove', '-y', '-q', 'vhostnet-agent']);
    assert.equal(status(), 'deinstall ok config-files');
    assert.ok(!alive(pid), 'the agent still runs after remove');
    assert.ok(!fs.existsSync('/usr/lib/vhostnet'), '/usr/lib/vhostnet is still there');
    assert.ok(!fs.existsSync('/usr/bin/vhostctl'));
    for (const f of ['/etc/vhostnet/agent.conf', '/etc/vhostnet/agent.token', '/var/lib/vhostnet/state.db']) assert.ok(fs.existsSync(f), `${f} is gone`);
  });

  it('installed again, the agent finds its state', async () => {
    const token = fs.readFileSync('/etc/vhostnet/agent.token', 'utf8');
    execFileSync('apt-get', ['install', '-y', '-q', deb.path], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'ignore' });
    assert.equal(status(), 'install ok installed');
    assert.equal(fs.readFileSync('/etc/vhostnet/agent.token', 'utf8'), token, 'the token was made again');
    pid = await startFromUnit(log);
    assert.match(vhostctl('show').stdout, new RegExp(`Bridge ${BRIDGE}`), 'the bridge did not survive remove and install');
  });

  it('purge removes everything', () => {
    run('apt-get', ['purge', '-y', '-q', 'vhostnet-agent']);
    assert.equal(status(), 'not known');
    assert.ok(!alive(pid), 'the agent still runs after purge');
    for (const p of ['/etc/vhostnet', '/var/lib/vhostnet', '/run/vhostnet', '/usr/lib/vhostnet', '/usr/bin/vhostnet-agent', UNIT])
      assert.ok(!fs.existsSync(p), `${p} is still there`);
  });
});
