// The MAC table under abuse, with real guests: aging, a MAC moving between ports, a guest
// spraying 10,000 source MACs (dpdk-testpmd replaying a generated pcap through net_pcap into
// its virtio-user port, as bench/ does) held at the per-port limit while two other guests
// exchange unicast traffic that a third port never sees; and with the limit off, the spray
// evicting everyone, so that the same exchange floods to the third port (the count that stays 0
// under the limit is one that does not stay 0 when the table breaks).
// The exchanging guests and the observer are virtio-user ports of one dpdk-testpmd; a fourth port
// of it has A's MAC, as a guest that moved to another port would.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BridgeState, FdbRow, FdbStatsRow, GuestVmState, MacLimitEvent, PortState, VhostnetEvent } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestPings, pingingGuest } from '../helpers/qemu-guest';
import { TestpmdGuest } from '../helpers/testpmd';

const A = '02:00:00:00:73:0a';
const B = '02:00:00:00:73:0b';
const C = '02:00:00:00:73:0c'; // the observer
const S = '02:00:00:00:73:05'; // the sprayer's own port
const SPRAY_MACS = 10000;
const LIMIT = 2048; // the bridge's default macLimitPerPort
const TABLE = 4096; // the default macTableSize
const NET = '169.254.73';

function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/**
 * Frames from S itself first (so S is learned behind the sprayer's port before its limit fills,
 * even if testpmd's first bursts find the ring full) and every 100th, then one from each of
 * SPRAY_MACS distinct source MACs, all to S: a switch that learned S drops them at ingress (never
 * back out of the port they came in on), so under the limit no other port sees the spray.
 */
function writeSprayPcap(file: string): void {
  const frames: Buffer[] = [Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0])];
  const frame = (src: Buffer) => {
    const f = Buffer.alloc(60);
    macBytes(S).copy(f, 0);
    src.copy(f, 6);
    f.writeUInt16BE(0x88b5, 12); // IEEE local experimental ethertype: nothing parses the payload
    const h = Buffer.alloc(16);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    frames.push(h, f);
  };
  for (let i = 0; i < 256; i++) frame(macBytes(S));
  for (let i = 0; i < SPRAY_MACS; i++) {
    if (i % 100 === 0) frame(macBytes(S));
    frame(Buffer.from([0x02, 0x5a, 0, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]));
  }
  fs.writeFileSync(file, Buffer.concat(frames));
}

/** dpdk-testpmd: net_pcap0 replays the pcap forever (infinite_rx) into net_virtio_user1 (io forwarding). */
class Sprayer {
  private out = '';
  private constructor(private readonly proc: ChildProcess) {
    proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
  }

  static start(name: string, dir: string, pcap: string, sock: string): Sprayer {
    const args = [
      '-oL',
      'dpdk-testpmd',
      '--no-pci',
      `--file-prefix=${name}`,
      '--lcores',
      '0@0,1@0',
      '-m',
      '256',
      '--in-memory',
      '--single-file-segments',
      '--vdev',
      `net_pcap0,rx_pcap=${pcap},infinite_rx=1`,
      '--vdev',
      `net_virtio_user1,path=${sock},mac=${S},queues=1,queue_size=1024,server=1`,
      '--',
      '-i',
      '--forward-mode=io',
    ];
    const log = fs.createWriteStream(path.join(dir, `${name}.log`));
    const proc = spawn('stdbuf', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stderr!.pipe(log);
    const s = new Sprayer(proc);
    proc.stdout!.pipe(log);
    return s;
  }

  /** Runs a command once testpmd shows its prompt (its start waits for the agent to connect). */
  async cmd(line: string): Promise<void> {
    await waitFor('the sprayer testpmd prompt', async () => this.out.includes('testpmd> '), 60000, 100);
    this.out = '';
    this.proc.stdin!.write(`${line}\n`);
    await waitFor(`the sprayer testpmd to run ${line}`, async () => this.out.includes('testpmd> '), 20000, 50);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin!.write('quit\n');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  }
}

describe('73 FDB under abuse, with real guests', function () {
  this.timeout(240000);
  let agent: AgentProcess;
  let guest: TestpmdGuest; // ports 0 (A), 1 (B), 2 (C: the observer), 3 (A's MAC again: where A moves)
  let sprayer: Sprayer | undefined;
  const sock = (n: string) => path.join(agent.dir, `${n}.sock`);
  const stats = () => agent.client.get<FdbStatsRow>('/bridges/br0/fdb/stats');
  const fdb = () => agent.client.get<FdbRow[]>('/bridges/br0/fdb');
  const portOf = async (mac: string) => (await fdb()).find((r) => r.mac === mac)?.port;
  const rxOf = async () => (await guest.counters()).map((c) => c.rxPackets);
  const putBridge = (spec: Record<string, unknown>) => agent.client.put('/bridges/br0', { macAgingSeconds: 300, ...spec });

  before(async () => {
    agent = await AgentProcess.start({ name: 'fdbabuse' });
    const starting = TestpmdGuest.start({
      name: `g-fdbabuse-${process.pid}`,
      logDir: agent.dir,
      ports: [A, B, C, A].map((mac, i) => ({ path: sock(`g${i}`), server: true, mac })),
    });
    await putBridge({ macAgingSeconds: 2 }); // short, for the aging check; raised live after it
    for (let i = 0; i < 4; i++) await agent.client.put(`/ports/p${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock(`g${i}`) });
    guest = await starting;
    const pcap = path.join(agent.dir, 'spray.pcap');
    writeSprayPcap(pcap);
    sprayer = Sprayer.start(`s-fdbabuse-${process.pid}`, agent.dir, pcap, sock('spray'));
    await waitFor('the sprayer socket', async () => fs.existsSync(sock('spray')), 30000, 100);
    await agent.client.put('/ports/spray', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock('spray') });
    await waitFor('all five ports up', async () => (await agent.client.get<PortState[]>('/ports')).every((p) => p.status!.link === 'up'), 30000);
  });

  after(async () => {
    for (const g of (await agent?.client.get<GuestVmState[]>('/guests').catch(() => [] as GuestVmState[])) ?? [])
      await agent.client.delete(`/guests/${g.name}`).catch(() => undefined);
    await sprayer?.stop();
    await guest?.stop();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('floods a frame to an unknown MAC: the observer port sees it (flooding is observable)', async () => {
    await guest.clearCounters();
    await guest.send(0, B, 100);
    await guest.settle();
    assert.deepEqual(await rxOf(), [0, 100, 100, 100]);
  });

  it('a learned MAC goes after the aging time, swept without a read, counted expired', async () => {
    assert.equal(await portOf(A), 'p0', 'A learned from the frames it just sent');
    const before = await stats();
    // Reads here only watch: the sweep is the datapath's own (a read never changes the table).
    const after = await waitFor(
      'A to age out',
      async () => {
        const s = await stats();
        return s.expired > before.expired && s;
      },
      20000,
      500,
    );
    assert.equal(await portOf(A), undefined);
    assert.ok(after.entries < before.entries, `entries ${before.entries} -> ${after.entries}`);
    const br = await agent.client.get<BridgeState>('/bridges/br0');
    assert.equal(br.status?.fdb?.macAgingSeconds, 2);
  });

  it('a MAC seen on another port moves there, counted moved; the aging time changes live', async () => {
    await putBridge({}); // 300 s from here on, without a restart
    assert.equal((await agent.client.get<BridgeState>('/bridges/br0')).status?.fdb?.macAgingSeconds, 300);
    await guest.send(0, S, 10); // A learned behind p0
    assert.equal(await portOf(A), 'p0');
    const before = await stats();
    await guest.send(3, S, 10); // A's MAC from another port
    assert.equal(await portOf(A), 'p3');
    assert.equal((await stats()).moved, before.moved + 1);
    await guest.send(0, S, 10);
    assert.equal(await portOf(A), 'p0', 'and back');
    assert.equal((await stats()).moved, before.moved + 2);
  });

  it('a guest spraying 10,000 source MACs stops being learned at the per-port limit: counted limited, one macLimit event', async () => {
    const since = (await agent.client.get<{ next: number }>('/events?since=0')).next;
    const before = await stats();
    await sprayer!.cmd('start');
    // A whole pass of the pcap and more: every MAC beyond the limit refused, and refused again.
    const s = await waitFor(
      'the spray to pass twice',
      async () => {
        const x = await stats();
        return x.limited - before.limited > 2 * (SPRAY_MACS - LIMIT) && x;
      },
      60000,
      500,
    );
    const rows = await fdb();
    assert.equal(rows.filter((r) => r.port === 'spray').length, LIMIT, 'the sprayer holds exactly its limit');
    assert.equal(await portOf(S), 'spray', "the sprayer's own MAC among them");
    assert.ok(s.entries <= LIMIT + 3, `entries ${s.entries}: the spray took only its share`);
    const port = await agent.client.get<PortState & { status: { stats: { drops?: { macLimit: number } } } }>('/ports/spray');
    assert.ok((port.status.stats.drops?.macLimit ?? 0) >= s.limited - before.limited, "every refusal in the port's drops.macLimit too");
    const events = await waitFor(
      'the macLimit event',
      async () => {
        const page = await agent.client.get<{ events: VhostnetEvent[] }>(`/events?since=${since}`);
        const m = page.events.filter((e): e is MacLimitEvent => e.type === 'macLimit');
        return m.length > 0 && m;
      },
      10000,
      250,
    );
    await new Promise((r) => setTimeout(r, 3000)); // the spray goes on: still one event
    const all = (await agent.client.get<{ events: VhostnetEvent[] }>(`/events?since=${since}`)).events.filter((e) => e.type === 'macLimit');
    assert.equal(all.length, 1, JSON.stringify(all));
    assert.deepEqual([events[0].bridge, events[0].port, events[0].limit], ['br0', 'spray', LIMIT]);
    assert.ok(events[0].refused > 0);
    const ctl = await agent.vhostctl('events', '--since', String(since));
    assert.match(ctl.stdout, /port br0\/spray at its MAC limit 2048/);
  });

  it("a port's own macLimit, set live while it sprays, takes over from the bridge's", async () => {
    const spray = { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock('spray') };
    const r = await agent.client.put<{ changes: { op: string }[] }>('/ports/spray', { ...spray, macLimit: 3000 });
    assert.deepEqual(
      r.changes.map((c) => c.op),
      ['update'],
      'in place: the guest keeps its link',
    );
    await waitFor('the sprayer to hold its own limit', async () => (await fdb()).filter((x) => x.port === 'spray').length === 3000, 30000, 500);
    assert.deepEqual((await agent.client.get<BridgeState>('/bridges/br0')).status?.fdb?.portLimits, { spray: 3000 });
    await agent.client.put('/ports/spray', spray); // the bridge's again: what it holds stays until it ages out
    assert.deepEqual((await agent.client.get<BridgeState>('/bridges/br0')).status?.fdb?.portLimits, {});
    assert.equal((await fdb()).filter((x) => x.port === 'spray').length, 3000);
  });

  it('while it sprays, two guests exchange unicast traffic that the observer port never sees', async () => {
    await guest.send(0, S, 1); // A and B known again (to S: dropped at the sprayer's port, seen by no guest)
    await guest.send(1, S, 1);
    await guest.settle();
    const before = await stats();
    await guest.clearCounters();
    await guest.send(0, B, 300);
    await guest.send(1, A, 300);
    await guest.settle();
    assert.deepEqual(await rxOf(), [300, 300, 0, 0], 'A and B got each other, the observer nothing (neither their frames nor the spray)');
    const after = await stats();
    assert.ok(after.limited > before.limited, 'the spray went on meanwhile');
    assert.equal(await portOf(A), 'p0');
    assert.equal(await portOf(B), 'p1');
  });

  it('two QEMU guests keep pinging each other over kernel virtio-net while it sprays, and the other ports see none of it', async () => {
    const { replies, waitReplies } = guestPings(() => agent.client, NET, 120000);
    // Made first: finding the guest image takes seconds, and the API calls below go back to back.
    const bodies = ['vm0', 'vm1'].map((n, i) => {
      const body = pingingGuest(NET, i + 1, 2 - i, [`${n}p`]) as { boot: { append: string } };
      body.boot.append += ' ipv6.disable=1'; // no multicast of its own: what the others may see is only the pings
      return body;
    });
    await sprayer!.cmd('stop'); // the guests boot (TCG) on a CPU the spray would take
    for (const [i, n] of ['vm0', 'vm1'].entries()) {
      await agent.client.put(`/ports/${n}p`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, `${n}.sock`) });
      await agent.client.put(`/guests/${n}`, bodies[i]);
    }
    await waitReplies('vm0', 2, 3); // ARP (broadcast) done before the count starts
    await waitReplies('vm1', 1, 3);
    await sprayer!.cmd('start');
    await guest.settle();
    await guest.clearCounters();
    const [r0, r1, l0] = [await replies('vm0', 2), await replies('vm1', 1), (await stats()).limited];
    await waitReplies('vm0', 2, r0 + 8);
    await waitReplies('vm1', 1, r1 + 8);
    await guest.settle();
    assert.deepEqual(await rxOf(), [0, 0, 0, 0], 'no frame of theirs (nor of the spray) reached the testpmd ports');
    assert.ok((await stats()).limited > l0, 'the spray went on meanwhile');
    const ports = new Set((await fdb()).filter((r) => r.port === 'vm0p' || r.port === 'vm1p').map((r) => r.port));
    assert.deepEqual([...ports].sort(), ['vm0p', 'vm1p'], 'each guest learned behind its port');
    for (const n of ['vm0', 'vm1']) await agent.client.delete(`/guests/${n}`); // no more of their frames in what follows
  });

  it('with the limit off the spray evicts everyone (counted evicted), and the same exchange floods to the observer', async () => {
    const before = await stats();
    await putBridge({ macLimitPerPort: 0 }); // live
    const s = await waitFor(
      'the spray to fill the table and evict A and B',
      async () => {
        const x = await stats();
        return x.evicted - before.evicted > 2 * TABLE && (await portOf(A)) === undefined && (await portOf(B)) === undefined && x;
      },
      60000,
      500,
    );
    assert.equal(s.entries, TABLE, 'the table full');
    assert.equal(s.capacity, TABLE);
    await sprayer!.cmd('stop');
    await guest.settle();
    await guest.clearCounters();
    await guest.send(0, B, 300); // B unknown now: flooded
    await guest.settle();
    assert.deepEqual(await rxOf(), [0, 300, 300, 300], 'the observer sees what stayed unicast under the limit');
    // A smaller table, live: the oldest go at once, counted.
    const e0 = (await stats()).evicted;
    await putBridge({ macLimitPerPort: 0, macTableSize: 1000 });
    const small = await stats();
    assert.equal(small.capacity, 1000);
    assert.ok(small.entries <= 1000 && small.evicted >= e0 + TABLE - 1000, JSON.stringify(small));
    assert.equal(await portOf(A), 'p0', 'the newest entries stay');
  });
});
