// Drives dpdk-testpmd (interactive mode) with net_virtio_user ports as a stand-in
// vhost-user guest for integration tests.
//
// Counting model: a frame is only counted as received when testpmd polls the port,
// so a guest always runs `rxonly` on all its ports unless a test chose another mode.
// send() transmits from one port with `start tx_first` (see send() for details).
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface GuestPort {
  /** vhost-user socket path. */
  path: string;
  /**
   * true: testpmd creates the socket (virtio_user server=1), for the switch's CLIENT ports.
   * Quirk: testpmd's startup blocks at each server port, in order, until a client
   * connects (the next port's socket only appears then), so start() resolves only
   * once the switch has connected to every server port: call it, connect the
   * switch, then await it.
   */
  server: boolean;
  /** Unicast MAC of this port; also the source MAC of frames it sends. */
  mac: string;
  /** Queue pairs, default 1. All ports of one guest must use the same count (testpmd's --rxq/--txq are global). */
  queues?: number;
  /**
   * Instead of a vhost-user socket, DPDK's af_xdp PMD on this kernel interface (of `netns`):
   * testpmd as a DPDK application on the host's network, for the underlay's own ceiling in
   * bench:tunnel. path and server are then not used.
   */
  afXdpIface?: string;
}

export interface PortCounters {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
  rxMissed: number;
  perQueue?: { rxPackets: number[]; txPackets: number[] };
}

export interface TestpmdGuestOptions {
  /** --file-prefix and log file name (<logDir>/<name>.log). */
  name: string;
  ports: GuestPort[];
  /** EAL --lcores; default '0@0,1@0' (main + one forwarding lcore, both on CPU 0, leaving CPU 1 to the switch). */
  cpus?: string;
  /** EAL -m in MiB, default 256. */
  memMb?: number;
  logDir: string;
  /** Network namespace to run testpmd in (for afXdpIface ports). */
  netns?: string;
}

export type ForwardMode = 'rxonly' | 'io' | 'mac' | 'txonly';

const PROMPT = 'testpmd> ';
// cmdline writes the prompt one character at a time, so a DPDK thread's log line (written
// whole, ending in a newline) can land between its characters: "testpmd" + "vhost_user_...
// port 0 is down\n" + "> ". A split prompt is looked for only at the start of a line (where
// testpmd prints it), so ordinary output cannot be mistaken for one.
const PROMPT_RE = new RegExp('(?:^|(?<=\\n))' + [...PROMPT].map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('((?:[^\\n]*\\n)*?)'));

/**
 * Finds the first prompt in testpmd's output. Returns the output before it (with any log lines
 * that split the prompt appended, so nothing printed is lost) and the rest after it.
 */
export function splitAtPrompt(out: string): { before: string; after: string } | undefined {
  const i = out.indexOf(PROMPT);
  if (i >= 0) return { before: out.slice(0, i), after: out.slice(i + PROMPT.length) };
  const m = PROMPT_RE.exec(out);
  if (!m) return undefined;
  return { before: out.slice(0, m.index) + m.slice(1).join(''), after: out.slice(m.index + m[0].length) };
}
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const NAME_RE = /^[A-Za-z0-9_-]{1,32}$/;
// virtio ring size; receive rings must hold a whole send chunk while unpolled.
const QUEUE_SIZE = 1024;
// Largest number of frames one tx_first round sends; well below QUEUE_SIZE so the
// sender's own, momentarily unpolled, ports cannot overflow.
const SEND_CHUNK = 512;
const MAX_BURST = 32;
const START_TIMEOUT_MS = 30_000;
const CMD_TIMEOUT_MS = 20_000;
const QUIT_TIMEOUT_MS = 10_000;
const SETTLE_POLL_MS = 30;
const SETTLE_STABLE_POLLS = 3;

function fail(where: string, field: string, rule: string, got: unknown): never {
  throw new Error(`${where}: ${field} ${rule}, got ${JSON.stringify(got)}`);
}

function isUnicastMac(mac: string): boolean {
  return MAC_RE.test(mac) && (parseInt(mac.slice(0, 2), 16) & 1) === 0;
}

function validateStart(opts: TestpmdGuestOptions): number {
  const w = 'TestpmdGuest.start';
  if (typeof opts.name !== 'string' || !NAME_RE.test(opts.name)) fail(w, 'name', 'must match [A-Za-z0-9_-]{1,32}', opts.name);
  if (typeof opts.logDir !== 'string' || opts.logDir === '') fail(w, 'logDir', 'must be a non-empty directory path', opts.logDir);
  if (!Array.isArray(opts.ports) || opts.ports.length === 0) fail(w, 'ports', 'must be a non-empty array', opts.ports);
  if (opts.ports.length > 8) fail(w, 'ports', 'must have at most 8 entries', opts.ports.length);
  if (opts.cpus !== undefined && !/^[0-9@,()-]+$/.test(opts.cpus)) fail(w, 'cpus', 'must be an EAL --lcores list like 0@0,1@0', opts.cpus);
  if (opts.netns !== undefined && (typeof opts.netns !== 'string' || !NAME_RE.test(opts.netns)))
    fail(w, 'netns', 'must be a network namespace name matching [A-Za-z0-9_-]{1,32}', opts.netns);
  if (opts.memMb !== undefined && (!Number.isInteger(opts.memMb) || opts.memMb < 64 || opts.memMb > 4096))
    fail(w, 'memMb', 'must be an integer from 64 to 4096', opts.memMb);
  const queues = opts.ports[0]?.queues ?? 1;
  if (Number.isInteger(queues) && opts.ports.length * queues > 16)
    fail(w, 'ports', 'must have at most 16 queues in total (ports x queues) to fit the mbuf pool in memMb', opts.ports.length * queues);
  opts.ports.forEach((p, i) => {
    const f = `ports[${i}]`;
    if (p.afXdpIface !== undefined) {
      if (typeof p.afXdpIface !== 'string' || !/^[A-Za-z0-9_.-]{1,15}$/.test(p.afXdpIface))
        fail(w, `${f}.afXdpIface`, 'must be an interface name of 1..15 letters, digits, _ . -', p.afXdpIface);
      return;
    }
    // sun_path holds 108 bytes including the NUL.
    if (typeof p.path !== 'string' || p.path === '' || Buffer.byteLength(p.path) > 107 || p.path.includes(','))
      fail(w, `${f}.path`, 'must be a non-empty socket path of at most 107 bytes without commas', p.path);
    if (typeof p.server !== 'boolean') fail(w, `${f}.server`, 'must be a boolean', p.server);
    if (typeof p.mac !== 'string' || !isUnicastMac(p.mac)) fail(w, `${f}.mac`, 'must be a unicast MAC like 02:00:00:00:00:01', p.mac);
    const q = p.queues ?? 1;
    if (!Number.isInteger(q) || q < 1 || q > 8) fail(w, `${f}.queues`, 'must be an integer from 1 to 8', p.queues);
    if (q !== queues) fail(w, `${f}.queues`, `must equal ports[0].queues (${queues}) because testpmd's --rxq/--txq apply to all ports`, p.queues);
  });
  return queues;
}

/** Parses `show port xstats all` output into one PortCounters per port. */
export function parseXstats(out: string, nbPorts: number, queues: number): PortCounters[] {
  const result: PortCounters[] = [];
  const sections = out.split(/#+ NIC extended statistics for port (\d+)/);
  // split() with a capture group yields [before, id, body, id, body, ...].
  const byPort = new Map<number, Map<string, number>>();
  for (let i = 1; i + 1 < sections.length; i += 2) {
    const values = new Map<string, number>();
    for (const m of sections[i + 1].matchAll(/^\s*([a-z0-9_]+):\s+(\d+)\s*$/gm)) values.set(m[1], Number(m[2]));
    byPort.set(Number(sections[i]), values);
  }
  for (let p = 0; p < nbPorts; p++) {
    const v = byPort.get(p);
    if (!v) throw new Error(`testpmd: no xstats for port ${p} in output:\n${out}`);
    const get = (k: string): number => {
      const x = v.get(k);
      if (x === undefined) throw new Error(`testpmd: xstat ${k} missing for port ${p}`);
      return x;
    };
    const rxq: number[] = [];
    const txq: number[] = [];
    for (let q = 0; q < queues; q++) {
      // virtio names them rx_q0_good_packets; the generic ethdev names (af_xdp) are rx_q0_packets
      rxq.push(v.has(`rx_q${q}_good_packets`) ? get(`rx_q${q}_good_packets`) : get(`rx_q${q}_packets`));
      txq.push(v.has(`tx_q${q}_good_packets`) ? get(`tx_q${q}_good_packets`) : get(`tx_q${q}_packets`));
    }
    result.push({
      rxPackets: get('rx_good_packets'),
      txPackets: get('tx_good_packets'),
      rxBytes: get('rx_good_bytes'),
      txBytes: get('tx_good_bytes'),
      rxMissed: get('rx_missed_errors'),
      perQueue: { rxPackets: rxq, txPackets: txq },
    });
  }
  return result;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class TestpmdGuest {
  readonly pid: number;
  readonly logFile: string;
  private out = '';
  private exited = false;
  private exitWaiters: (() => void)[] = [];
  private onOutput: (() => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private forwarding = false;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly ports: GuestPort[],
    private readonly queues: number,
    logFile: string,
  ) {
    this.pid = proc.pid!;
    this.logFile = logFile;
  }

  /** Spawns testpmd, waits for its first prompt, then starts rxonly on all ports. */
  static async start(opts: TestpmdGuestOptions): Promise<TestpmdGuest> {
    const queues = validateStart(opts);
    fs.mkdirSync(opts.logDir, { recursive: true });
    const logFile = path.join(opts.logDir, `${opts.name}.log`);
    const log = fs.createWriteStream(logFile);
    const vdevs = opts.ports.flatMap((p, i) => [
      '--vdev',
      p.afXdpIface
        ? `net_af_xdp${i},iface=${p.afXdpIface},queue_count=${queues}`
        : `net_virtio_user${i},path=${p.path},mac=${p.mac},queues=${queues},queue_size=${QUEUE_SIZE}${p.server ? ',server=1' : ''}`,
    ]);
    // Enough mbufs to fill every rx ring (QUEUE_SIZE each) twice over, plus tx bursts.
    const mbufs = opts.ports.length * queues * QUEUE_SIZE * 2 + 8192;
    const args = [
      // testpmd's printf output is block-buffered on a pipe; line buffering lets
      // each command's output arrive before the next prompt.
      'stdbuf',
      '-oL',
      'dpdk-testpmd',
      '--no-pci',
      `--file-prefix=${opts.name}`,
      '--lcores',
      opts.cpus ?? '0@0,1@0',
      // Hugepage memory via memfd in one segment file: shareable with the vhost
      // switch (fd per region, few regions) and leaves no files behind.
      '-m',
      String(opts.memMb ?? 256),
      '--in-memory',
      '--single-file-segments',
      ...vdevs,
      '--',
      '-i',
      `--total-num-mbufs=${mbufs}`,
      ...(queues > 1 ? [`--rxq=${queues}`, `--txq=${queues}`] : []),
    ];
    log.write(`# ${args.join(' ')}\n`);
    // stderr joins stdout in one pipe so error messages (e.g. "Bad arguments")
    // stay in order with the prompt and are part of cmd()'s output. SIGPIPE ignored, as QEMU
    // does: virtio_user writing to a switch that just died must get EPIPE and reconnect, not die.
    const inNs = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...args] : args;
    const proc = spawn('sh', ['-c', 'trap "" PIPE; exec "$0" "$@" 2>&1', ...inNs], { stdio: ['pipe', 'pipe', 'ignore'] });
    if (proc.pid === undefined) throw new Error('TestpmdGuest.start: could not spawn stdbuf dpdk-testpmd');
    const guest = new TestpmdGuest(proc, opts.ports, queues, logFile);
    proc.stdout!.on('data', (d: Buffer) => {
      log.write(d);
      guest.out += d.toString('latin1');
      guest.onOutput?.();
    });
    proc.stdin!.on('error', () => {
      /* the process died; exit handling reports it */
    });
    proc.on('exit', (code, sig) => {
      log.write(`\n# exited code=${code} signal=${sig}\n`);
      log.end();
      guest.exited = true;
      guest.onOutput?.();
      for (const w of guest.exitWaiters.splice(0)) w();
    });
    try {
      await guest.untilPrompt(START_TIMEOUT_MS, 'startup');
      await guest.startForwarding('rxonly');
    } catch (e) {
      await guest.stop();
      throw e;
    }
    return guest;
  }

  /** Resolves with the output before the next prompt (consumes it). */
  private untilPrompt(timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onOutput = null;
        reject(new Error(`testpmd ${this.pid}: no prompt after ${what} within ${timeoutMs} ms; see ${this.logFile}`));
      }, timeoutMs);
      const check = () => {
        const split = splitAtPrompt(this.out);
        if (split) {
          const text = split.before;
          this.out = split.after;
          clearTimeout(timer);
          this.onOutput = null;
          resolve(text);
        } else if (this.exited) {
          clearTimeout(timer);
          this.onOutput = null;
          reject(new Error(`testpmd ${this.pid} exited during ${what}; see ${this.logFile}`));
        }
      };
      this.onOutput = check;
      check();
    });
  }

  /** Runs one raw testpmd command; returns its output up to the next prompt (echo stripped). */
  cmd(line: string): Promise<string> {
    if (typeof line !== 'string' || /[\r\n]/.test(line) || line.trim() === '') {
      return Promise.reject(new Error(`TestpmdGuest.cmd: line must be one non-empty line without newlines, got ${JSON.stringify(line)}`));
    }
    // Commands are serialized: testpmd has one prompt.
    const run = this.queue.then(async () => {
      if (this.exited) throw new Error(`testpmd ${this.pid} has exited; cannot run "${line}"`);
      this.proc.stdin!.write(line + '\n');
      const text = await this.untilPrompt(CMD_TIMEOUT_MS, `"${line}"`);
      // cmdline echoes the typed line first.
      const lines = text.split('\n');
      if (lines[0].trim() === line.trim()) lines.shift();
      return lines.join('\n');
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private checkPort(where: string, port: number): void {
    if (!Number.isInteger(port) || port < 0 || port >= this.ports.length) fail(where, 'port', `must be an integer from 0 to ${this.ports.length - 1}`, port);
  }

  /** Polls `show port info` until the link is up (the vhost-user connection is established). */
  async waitLinkUp(port: number, timeoutMs: number): Promise<void> {
    this.checkPort('TestpmdGuest.waitLinkUp', port);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) fail('TestpmdGuest.waitLinkUp', 'timeoutMs', 'must be a positive number', timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.cmd(`show port info ${port}`);
      if (/Link status:\s*up/.test(info)) return;
      if (Date.now() > deadline) throw new Error(`testpmd ${this.pid}: port ${port} (${this.ports[port].path}) link not up within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /**
   * Sends exactly `count` IPv4/UDP frames of `frameBytes` (without CRC) from `port`
   * to `dstMac`; source MAC is the port's mac. Resolves once this guest's counters
   * have stopped changing, with rxonly running again on all ports.
   *
   * How: rounds of at most SEND_CHUNK frames. Each round: `set portlist <port>`,
   * `set burst B`, `start tx_first N` (the txonly engine sends N bursts of B on
   * every queue of that port only, synchronously), `stop`; then rxonly on all ports
   * until counters settle, so the other ports' rings (QUEUE_SIZE) never overflow
   * while unpolled. The port's tx_good_packets is read before and after each
   * round: a burst that found the ring full sends fewer frames, and the next
   * round makes up the difference, so the transmitted total is exact.
   * With queues > 1 every queue sends the same burst, so count must be a multiple
   * of queues and frames are spread evenly across queues.
   * Only this guest is settled: a receiving guest in another process should call
   * its own settle() before reading counters.
   */
  async send(port: number, dstMac: string, count: number, frameBytes = 64): Promise<void> {
    const w = 'TestpmdGuest.send';
    this.checkPort(w, port);
    if (typeof dstMac !== 'string' || !MAC_RE.test(dstMac)) fail(w, 'dstMac', 'must be a MAC like 02:00:00:00:00:01', dstMac);
    if (!Number.isInteger(count) || count < 1 || count > 10_000_000) fail(w, 'count', 'must be an integer from 1 to 10000000', count);
    if (count % this.queues !== 0)
      fail(w, 'count', `must be a multiple of the port's queues (${this.queues}) because txonly sends the same burst on every queue`, count);
    if (!Number.isInteger(frameBytes) || frameBytes < 64 || frameBytes > 1514) fail(w, 'frameBytes', 'must be an integer from 64 to 1514', frameBytes);

    await this.stopForwarding();
    await this.expectOk(`set fwd rxonly`, /Set rxonly packet forwarding mode/);
    await this.cmd(`set eth-peer ${port} ${dstMac}`);
    await this.cmd(`set txpkts ${frameBytes}`);
    let sent = 0;
    let idleRounds = 0;
    try {
      while (sent < count) {
        await this.stopForwarding(); // set portlist / tx_first need forwarding stopped
        const rem = count - sent;
        if (rem % this.queues !== 0)
          throw new Error(`testpmd ${this.pid}: port ${port} dropped frames in a multi-queue round; ${rem} left cannot be split over ${this.queues} queues`);
        const perQueue = Math.min(rem, Math.floor(SEND_CHUNK / this.queues) * this.queues) / this.queues;
        const burst = Math.min(perQueue, MAX_BURST);
        const rounds = Math.floor(perQueue / burst);
        const before = (await this.counters())[port].txPackets;
        await this.expectOk(`set burst ${burst}`, /Number of packets per burst set to/);
        await this.cmd(`set portlist ${port}`);
        await this.expectOk(`start tx_first ${rounds}`, /rxonly packet forwarding - ports=1 /);
        this.forwarding = true;
        await this.stopForwarding();
        const done = (await this.counters())[port].txPackets - before;
        if (done > rem) throw new Error(`testpmd ${this.pid}: port ${port} sent ${done} frames in a round meant for at most ${rem}`);
        sent += done;
        await this.startForwarding('rxonly');
        await this.settle();
        if (done === 0) {
          // Nothing left the ring: the switch is not draining it.
          if (++idleRounds >= 20) throw new Error(`testpmd ${this.pid}: port ${port} sent ${sent} of ${count} frames; its tx ring stopped draining`);
          await sleep(50);
        } else idleRounds = 0;
      }
    } finally {
      await this.cmd(`set burst ${MAX_BURST}`);
      if (!this.forwarding) await this.startForwarding('rxonly');
    }
  }

  /** Waits until this guest's packet counters stop changing (frames in flight delivered). */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let stable = 0;
    while (stable < SETTLE_STABLE_POLLS) {
      const now = JSON.stringify(await this.counters());
      stable = now === last ? stable + 1 : 0;
      last = now;
      if (Date.now() > deadline) throw new Error(`testpmd ${this.pid}: counters still changing after ${timeoutMs} ms`);
      if (stable < SETTLE_STABLE_POLLS) await sleep(SETTLE_POLL_MS);
    }
  }

  /** One entry per port, from `show port xstats all` (good packets/bytes, per queue). */
  async counters(): Promise<PortCounters[]> {
    return parseXstats(await this.cmd('show port xstats all'), this.ports.length, this.queues);
  }

  /** Zeroes all ports' counters (virtio's xstats are derived from the same queue stats). */
  async clearCounters(): Promise<void> {
    await this.cmd('clear port stats all');
  }

  /** Runs `mode` on all ports (stopping the current mode first). txonly sends to each port's eth-peer until stopped. */
  async startForwarding(mode: ForwardMode): Promise<void> {
    if (!['rxonly', 'io', 'mac', 'txonly'].includes(mode)) fail('TestpmdGuest.startForwarding', 'mode', 'must be one of rxonly, io, mac, txonly', mode);
    await this.stopForwarding();
    await this.expectOk(`set fwd ${mode}`, new RegExp(`Set ${mode} packet forwarding mode`));
    await this.cmd(`set portlist ${this.ports.map((_, i) => i).join(',')}`);
    await this.expectOk('start', /packet forwarding - ports=/);
    this.forwarding = true;
  }

  async stopForwarding(): Promise<void> {
    if (!this.forwarding) return;
    await this.cmd('stop');
    this.forwarding = false;
  }

  private async expectOk(line: string, ok: RegExp): Promise<string> {
    const out = await this.cmd(line);
    if (!ok.test(out)) throw new Error(`testpmd ${this.pid}: "${line}" failed: ${out.trim()}`);
    return out;
  }

  /** Sends `quit`, SIGKILLs if testpmd has not exited after 10 s. Idempotent; deletes nothing. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    try {
      this.proc.stdin!.write('quit\n');
      this.proc.stdin!.end();
    } catch {
      /* stdin already closed */
    }
    const timer = setTimeout(() => {
      if (!this.exited) this.proc.kill('SIGKILL');
    }, QUIT_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
  }
}
