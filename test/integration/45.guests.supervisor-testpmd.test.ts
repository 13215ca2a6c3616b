// Two real QEMU (TCG) guests, started by the GuestSupervisor, ping each other through
// dpdk-testpmd acting as the switch (io forwarding between two net_vhost ports), in both
// vhost-user port modes. Also: adopt() after an agent restart, crash report, restart policy.
// Needs root, hugepages, qemu-system-x86, dpdk-testpmd. (Moves to the agent's tests later.)
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, execFileSync, ChildProcess } from 'node:child_process';
import { GuestSupervisor, GuestStatus } from '../../datapath/agent/guest/supervisor';
import { ensureHugepages, pingReplies, testGuestSpec, waitForConsole } from '../helpers/qemu-guest';
import { guestImage } from '../helpers/guest-image';

const A_IP = '169.254.100.1';
const B_IP = '169.254.100.2';

function startTestpmd(dir: string, prefix: string, clientMode: boolean): { proc: ChildProcess; log: string } {
  const log = path.join(dir, 'testpmd.log');
  const c = clientMode ? ',client=1' : '';
  const args = [
    '--no-pci',
    `--file-prefix=${prefix}`,
    '-l',
    '0,1',
    '--log-level=lib.eal:warning',
    '--vdev',
    `net_vhost0,iface=${dir}/s0${c}`,
    '--vdev',
    `net_vhost1,iface=${dir}/s1${c}`,
    '--',
    '--forward-mode=io',
    '--stats-period',
    '5',
    '--auto-start',
  ];
  const fd = fs.openSync(log, 'a');
  // --stats-period keeps it running without a terminal on stdin.
  const proc = spawn('dpdk-testpmd', args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return { proc, log };
}

async function stopProc(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Gone or a zombie (exited, not yet reaped). */
function processGone(pid: number): boolean {
  try {
    return /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const portMode of ['client', 'server'] as const) {
  describe(`guests ping through dpdk-testpmd (${portMode} ports)`, function () {
    this.timeout(180_000);
    let dir: string;
    let sup: GuestSupervisor;
    let testpmd: { proc: ChildProcess; log: string } | undefined;

    before(function () {
      if (process.getuid?.() !== 0) this.skip();
      ensureHugepages();
      guestImage();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-'));
      sup = new GuestSupervisor({ stateDir: path.join(dir, 'g') });
    });

    after(async function () {
      if (!sup) return;
      for (const g of sup.list()) await sup.stop(g.name).catch(() => undefined);
      await stopProc(testpmd?.proc);
      if (this.currentTest?.state === 'failed' || process.env.KEEP_GUEST_LOGS) console.log(`logs kept in ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    });

    it('boots two TCG guests that ping each other both ways', async function () {
      const t0 = Date.now();
      const nic = (n: string, s: string, mac: string) => [{ name: n, socketPath: path.join(dir, s), portMode, mac }];
      const specA = testGuestSpec({ name: 'a', ip: `${A_IP}/24`, ping: B_IP, nics: nic('eth0', 's0', '52:54:00:00:00:01') });
      const specB = testGuestSpec({ name: 'b', ip: `${B_IP}/24`, ping: A_IP, nics: nic('eth0', 's1', '52:54:00:00:00:02') });
      if (portMode === 'server') {
        // Deprecated server ports: the switch creates the sockets, QEMU connects as client.
        testpmd = startTestpmd(dir, `vgsw${process.pid}s`, false);
        await waitFor(() => fs.existsSync(path.join(dir, 's0')) && fs.existsSync(path.join(dir, 's1')), 30_000, 'testpmd sockets');
      }
      const a = await sup.start(specA);
      const b = await sup.start(specB);
      assert.equal(a.accel, 'tcg');
      assert.ok(
        a.notes.some((n) => n.includes('vectors=0')),
        'TCG note about vectors=0',
      );
      const wantServer = portMode === 'client';
      assert.equal(
        a.command.some((x) => x.includes(',server=on') && x.includes('char-eth0')),
        wantServer,
      );
      if (portMode === 'client') {
        // Client ports: QEMU is the server; the switch connects (and retries until QEMU listens).
        testpmd = startTestpmd(dir, `vgsw${process.pid}c`, true);
      }
      const [ra, rb] = await Promise.all([sup.waitRunning('a', 60_000), sup.waitRunning('b', 60_000)]);
      assert.ok(ra.pid && rb.pid);
      await Promise.all([
        waitForConsole(a.paths.consoleLog, /VHOSTNET-READY ip=169\.254\.100\.1/, 60_000),
        waitForConsole(b.paths.consoleLog, /VHOSTNET-READY ip=169\.254\.100\.2/, 60_000),
      ]);
      const tReady = Date.now() - t0;
      await waitFor(() => pingReplies(a.paths.consoleLog, B_IP) >= 3 && pingReplies(b.paths.consoleLog, A_IP) >= 3, 90_000, '3 ping replies each way');
      const tPing = Date.now() - t0;
      console.log(`      ${portMode} ports: both guests ready ${(tReady / 1000).toFixed(1)} s, 3 replies each way ${(tPing / 1000).toFixed(1)} s after start`);
      const st = sup.status('a')!;
      assert.equal(st.state, 'running');
      assert.ok((st.uptimeSec ?? 0) > 0);
    });

    it('a restarted agent adopts the running guests instead of starting them twice', async function () {
      const before = sup.list().map((s) => [s.name, s.pid]);
      sup.detach();
      sup = new GuestSupervisor({ stateDir: path.join(dir, 'g') });
      await assert.rejects(sup.start(testGuestSpec({ name: 'a', ip: `${A_IP}/24`, nics: [] })), /already runs.*adopt/);
      const adopted = await sup.adopt();
      assert.deepEqual(adopted.map((s) => [s.name, s.pid]).sort(), before.sort());
      const ra = await sup.waitRunning('a', 15_000);
      assert.equal(ra.adopted, true);
      const stopped = await sup.stop('a');
      assert.equal(stopped.state, 'stopped');
      // In this test QEMU is still this process's child: it may linger a moment as a zombie.
      await waitFor(() => processGone(ra.pid!), 5000, 'QEMU of a gone');
      assert.equal(sup.status('b')?.state, 'running', 'b still runs');
    });
  });
}

describe('guest supervisor lifecycle (real QEMU, no NICs)', function () {
  this.timeout(120_000);
  let dir: string;
  let sup: GuestSupervisor;

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
    ensureHugepages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-'));
    sup = new GuestSupervisor({ stateDir: path.join(dir, 'g'), restartBackoffMs: { initial: 200, max: 1000 } });
  });
  after(async function () {
    if (!sup) return;
    for (const g of sup.list()) await sup.stop(g.name).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports a killed guest as crashed with exit reason and console lines, and restarts it on-failure', async function () {
    const spec = { ...testGuestSpec({ name: 'c', ip: `${A_IP}/24`, nics: [] }), restartPolicy: 'on-failure' as const };
    await sup.start(spec);
    const r = await sup.waitRunning('c', 30_000);
    await waitForConsole(r.paths.consoleLog, /VHOSTNET-HEARTBEAT/, 30_000);
    const crashed = new Promise<GuestStatus>((res) => sup.once('crashed', res));
    process.kill(r.pid!, 'SIGKILL');
    const c = await crashed;
    assert.equal(c.state, 'crashed');
    assert.match(c.exitReason ?? '', /signal SIGKILL/);
    assert.ok(
      (c.lastConsoleLines ?? []).some((l) => l.includes('VHOSTNET-HEARTBEAT')),
      'console tail in crash report',
    );
    const again = await sup.waitRunning('c', 30_000).catch(async () => {
      // waitRunning may see "restarting" first; wait for the relaunch.
      await waitFor(() => sup.status('c')?.state === 'running', 30_000, 'restart');
      return sup.status('c')!;
    });
    assert.equal(again.restarts, 1);
    assert.notEqual(again.pid, r.pid);
    const s = await sup.stop('c');
    assert.equal(s.state, 'stopped');
  });

  it('a guest outlives the agent process that started it; the next agent adopts it and sees it die', async function () {
    const stateDir = path.join(dir, 'g');
    const spec = testGuestSpec({ name: 'o', ip: `${A_IP}/24`, nics: [] });
    // A separate Node process plays the first agent: starts the guest, then exits.
    const agent = `
      const { GuestSupervisor } = require(${JSON.stringify(path.resolve(__dirname, '../../datapath/agent/guest/supervisor.js'))});
      (async () => {
        const s = new GuestSupervisor({ stateDir: ${JSON.stringify(stateDir)} });
        await s.start(${JSON.stringify(spec)});
        const r = await s.waitRunning("o", 30000);
        s.detach();
        console.log(r.pid);
        process.exit(0);
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const pid = Number(execFileSync(process.execPath, ['-e', agent], { encoding: 'utf8', timeout: 60_000 }).trim());
    assert.ok(pid > 0 && !processGone(pid), 'QEMU still runs after its agent exited');
    const found = await sup.adopt();
    assert.deepEqual(
      found.map((s) => [s.name, s.pid]),
      [['o', pid]],
    );
    const r = await sup.waitRunning('o', 15_000);
    assert.equal(r.adopted, true);
    await waitForConsole(r.paths.consoleLog, /VHOSTNET-HEARTBEAT/, 30_000);
    // Not our child: the supervisor learns of its death from QMP closing / polling /proc.
    const crashed = new Promise<GuestStatus>((res) => sup.once('crashed', res));
    process.kill(pid, 'SIGKILL');
    const c = await crashed;
    assert.match(c.exitReason ?? '', /exit status unknown/);
    assert.ok((c.lastConsoleLines ?? []).some((l) => l.includes('VHOSTNET-HEARTBEAT')));
    assert.equal(sup.status('o')?.state, 'crashed', 'restartPolicy never: stays crashed');
  });

  it('pins vCPU and emulator threads (query-cpus-fast thread ids + taskset)', async function () {
    const spec = { ...testGuestSpec({ name: 'p', ip: `${A_IP}/24`, nics: [] }), vcpus: 2, pinning: { vcpus: [[1], [0]], emulator: [0] } };
    await sup.start(spec);
    const r = await sup.waitRunning('p', 30_000);
    assert.ok(r.pinning, r.error);
    assert.deepEqual(
      r.pinning!.vcpus.map((v) => v.cpus),
      ['1', '0'],
    );
    for (const v of r.pinning!.vcpus) {
      const st = fs.readFileSync(`/proc/${r.pid}/task/${v.threadId}/status`, 'utf8');
      assert.match(st, new RegExp(`Cpus_allowed_list:\\s*${v.cpus}\\n`));
    }
    assert.ok(r.pinning!.emulatorThreads.includes(r.pid!), 'main thread pinned as emulator');
    await sup.stop('p');
  });
});
