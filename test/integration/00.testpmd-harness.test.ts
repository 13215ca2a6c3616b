// Proves the TestpmdGuest harness against dpdk-testpmd's own vhost PMD acting as
// the switch (net_vhost vdevs, io forwarding: port 0 <-> port 1), so the harness
// is trusted before the agent exists. Needs root, hugepages and dpdk-testpmd.
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestpmdGuest } from '../helpers/testpmd';

const MAC0 = '02:00:00:00:aa:00';
const MAC1 = '02:00:00:00:aa:01';

interface Switch {
  proc: ChildProcess;
  log: string;
}

/** Starts testpmd as a 2-port vhost-user switch; stdout goes to a log file. */
function startSwitch(dir: string, vdevArgs: string, queues: number): Switch {
  const log = path.join(dir, 'switch.log');
  const fd = fs.openSync(log, 'w');
  const args = [
    '--no-pci',
    '--file-prefix=hsw',
    '--lcores',
    '0@0,1@1',
    // Own memory, sized small, no hugepage files left behind.
    '--in-memory',
    '-m',
    '256',
    '--vdev',
    `net_vhost0,iface=${path.join(dir, 'S0')}${vdevArgs}`,
    '--vdev',
    `net_vhost1,iface=${path.join(dir, 'S1')}${vdevArgs}`,
    '--',
    '--forward-mode=io',
    '--stats-period',
    '1',
    '--auto-start',
    '--total-num-mbufs=16384',
    ...(queues > 1 ? [`--rxq=${queues}`, `--txq=${queues}`] : []),
  ];
  const proc = spawn('dpdk-testpmd', args, { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return { proc, log };
}

async function stopSwitch(sw: Switch | undefined): Promise<void> {
  if (!sw || sw.proc.exitCode !== null || sw.proc.signalCode !== null) return;
  const gone = new Promise<void>((r) => sw.proc.once('exit', () => r()));
  sw.proc.kill('SIGINT'); // testpmd stops ports and exits on SIGINT
  const timer = setTimeout(() => sw.proc.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('TestpmdGuest harness (testpmd vhost switch)', function () {
  this.timeout(120_000);
  let dir: string;
  let sw: Switch | undefined;
  let guest: TestpmdGuest | undefined;
  let second: TestpmdGuest | undefined;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-harness-'));
  });

  afterEach(async function () {
    await guest?.stop();
    await stopSwitch(sw);
    guest = undefined;
    sw = undefined;
    if (this.currentTest?.state === 'failed') console.log(`logs kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });

  async function startPair(opts: { queues: number; switchIsClient: boolean }): Promise<TestpmdGuest> {
    const ports = [MAC0, MAC1].map((mac, i) => ({
      path: path.join(dir, `S${i}`),
      server: opts.switchIsClient,
      mac,
      queues: opts.queues,
    }));
    const vdevArgs = `${opts.queues > 1 ? `,queues=${opts.queues}` : ''}${opts.switchIsClient ? ',client=1' : ''}`;
    if (opts.switchIsClient) {
      // The guest owns the sockets; the switch (vhost client) connects to them.
      // virtio_user server=1 blocks testpmd's startup at each port in turn until a
      // client connects (S1 only appears once S0 is connected), so start() resolves
      // only after the switch is up; the vhost client retries missing sockets every second.
      const starting = TestpmdGuest.start({ name: 'hguest', ports, logDir: dir });
      await waitFor(() => fs.existsSync(ports[0].path), 20_000, 'guest socket S0');
      sw = startSwitch(dir, vdevArgs, opts.queues);
      guest = await starting;
    } else {
      sw = startSwitch(dir, vdevArgs, opts.queues);
      await waitFor(() => ports.every((p) => fs.existsSync(p.path)), 20_000, 'switch sockets');
      guest = await TestpmdGuest.start({ name: 'hguest', ports, logDir: dir });
    }
    await guest.waitLinkUp(0, 20_000);
    await guest.waitLinkUp(1, 20_000);
    await guest.clearCounters();
    return guest;
  }

  it('sends exactly N frames from port 0 and port 1 receives exactly N', async () => {
    const g = await startPair({ queues: 1, switchIsClient: false });
    const t0 = Date.now();
    await g.send(0, MAC1, 1000);
    const ms = Date.now() - t0;
    const [p0, p1] = await g.counters();
    console.log(`    send(1000 x 64 B) took ${ms} ms; port0 tx=${p0.txPackets} port1 rx=${p1.rxPackets}`);
    assert.equal(p0.txPackets, 1000);
    assert.equal(p0.txBytes, 1000 * 64);
    assert.equal(p1.rxPackets, 1000);
    assert.equal(p1.rxBytes, 1000 * 64);
    assert.equal(p0.rxPackets, 0);
    assert.equal(p1.txPackets, 0);
    assert.equal(p1.rxMissed, 0);

    // Odd counts, other frame sizes, the other direction, and a cleared baseline.
    await g.clearCounters();
    await g.send(1, MAC0, 777, 128);
    await g.send(1, MAC0, 1, 128);
    const [q0, q1] = await g.counters();
    assert.equal(q1.txPackets, 778);
    assert.equal(q0.rxPackets, 778);
    assert.equal(q0.rxBytes, 778 * 128);
    assert.equal(q1.rxPackets, 0);

    // Raw commands return their output, error messages included.
    assert.match(await g.cmd('set fwd nosuchmode'), /Bad arguments/);
    assert.equal(fs.readFileSync(`/proc/${g.pid}/comm`, 'utf8').trim(), 'dpdk-testpmd');
    await g.stop();
    await g.stop(); // idempotent
    assert.equal(fs.existsSync(`/proc/${g.pid}`), false);
  });

  it('queues=2: sends on both queues and counts per queue', async () => {
    const g = await startPair({ queues: 2, switchIsClient: false });
    await g.send(0, MAC1, 1000);
    const [p0, p1] = await g.counters();
    assert.equal(p0.txPackets, 1000);
    assert.deepEqual(p0.perQueue?.txPackets, [500, 500]);
    assert.equal(p1.rxPackets, 1000);
    // io forwarding keeps the queue: switch rxq i -> txq i.
    assert.deepEqual(p1.perQueue?.rxPackets, [500, 500]);
    await assert.rejects(g.send(0, MAC1, 3), /count must be a multiple of the port's queues \(2\)/);
  });

  it('client mode: the guest owns the sockets, the switch connects', async () => {
    const g = await startPair({ queues: 1, switchIsClient: true });
    await g.send(0, MAC1, 1000);
    const [p0, p1] = await g.counters();
    assert.equal(p0.txPackets, 1000);
    assert.equal(p1.rxPackets, 1000);
    assert.equal(p0.rxPackets, 0);
  });

  it('two guests: one port each, frames cross processes exactly', async () => {
    sw = startSwitch(dir, '', 1);
    await waitFor(() => fs.existsSync(path.join(dir, 'S0')) && fs.existsSync(path.join(dir, 'S1')), 20_000, 'switch sockets');
    guest = await TestpmdGuest.start({ name: 'hguesta', ports: [{ path: path.join(dir, 'S0'), server: false, mac: MAC0 }], logDir: dir });
    try {
      second = await TestpmdGuest.start({ name: 'hguestb', ports: [{ path: path.join(dir, 'S1'), server: false, mac: MAC1 }], logDir: dir });
      await guest.waitLinkUp(0, 20_000);
      await second.waitLinkUp(0, 20_000);
      await guest.clearCounters();
      await second.clearCounters();
      const t0 = Date.now();
      await guest.send(0, MAC1, 5000, 256);
      await second.settle();
      console.log(`    send(5000 x 256 B) to another guest + settle took ${Date.now() - t0} ms`);
      const [a] = await guest.counters();
      const [b] = await second.counters();
      assert.equal(a.txPackets, 5000);
      assert.equal(b.rxPackets, 5000);
      assert.equal(b.rxBytes, 5000 * 256);
      assert.equal(a.rxPackets, 0);
      assert.equal(b.txPackets, 0);
    } finally {
      await second?.stop();
      second = undefined;
    }
  });

  it('rejects bad input naming the field and the rule', async () => {
    await assert.rejects(
      TestpmdGuest.start({ name: 'x', ports: [{ path: '/tmp/a', server: false, mac: '03:00:00:00:00:01' }], logDir: dir }),
      /ports\[0\]\.mac must be a unicast MAC/,
    );
    await assert.rejects(TestpmdGuest.start({ name: 'bad name', ports: [{ path: '/tmp/a', server: false, mac: MAC0 }], logDir: dir }), /name must match/);
    await assert.rejects(
      TestpmdGuest.start({
        name: 'x',
        logDir: dir,
        ports: [
          { path: '/tmp/a', server: false, mac: MAC0 },
          { path: '/tmp/b', server: false, mac: MAC1, queues: 2 },
        ],
      }),
      /ports\[1\]\.queues must equal ports\[0\]\.queues/,
    );
  });
});
