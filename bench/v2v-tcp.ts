// Kernel TCP between two QEMU guests through the agent's datapath and through Open vSwitch with
// DPDK, alternating round by round in one run (bench/v2v.sh calls it last; `TCP_ROUNDS=0` skips).
// Each round boots two TCG test guests (Debian cloud kernel, virtio-net with the offloads the
// kernel negotiates, QEMU the vhost-user server, the switch its client, PMD on CPU 1, guests on
// CPU 0). Guest A serves MIB MiB of random data; guest B downloads it once with busybox nc and
// prints its md5 and its own uptime before and after. A round whose md5 differs fails.
// Both switches run as configured out of the box: Open vSwitch masks the guests' TSO and
// checksum offloads unless other_config:userspace-tso-enable=true; the agent passes them through.
// No target: the TCG guests, not the switches, are the limit.
// Prints "v2v SWITCH tcp Mbit/s=X" (median of the rounds) and "v2v agent/ovs tcp ratio=R".
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseGuestSpec } from '../datapath/api/guest';
import { buildQemuArgv } from '../datapath/agent/guest/argv';
import { guestImage } from '../test/helpers/guest-image';
import { ensureHugepages, readConsole } from '../test/helpers/qemu-guest';
import { Ovs } from './ovs';

const ROUNDS = Number(process.env.TCP_ROUNDS ?? 2);
const MIB = Number(process.env.MIB ?? 32);
const NET = '169.254.77';
const root = path.resolve(__dirname, '../..');

interface Switch {
  stop(): void;
}

function agentSwitch(sock0: string, sock1: string): Switch {
  const child = spawn(process.execPath, [path.join(root, 'bench/v2v-switch.js')], {
    env: { ...process.env, SOCK0: sock0, SOCK1: sock1, PORT_MODE: 'client', FILE_PREFIX: `v2vtcp${process.pid}`, PMD_MAX_SLEEP_US: '0' },
    stdio: 'ignore',
  });
  return { stop: () => stopChild(child) };
}

function ovsSwitch(sock0: string, sock1: string): Switch {
  const ovs = Ovs.start();
  ovs.vsctl('add-port', 'br0', 'a', '--', 'set', 'Interface', 'a', 'type=dpdkvhostuserclient', `options:vhost-server-path=${sock0}`);
  ovs.vsctl('add-port', 'br0', 'b', '--', 'set', 'Interface', 'b', 'type=dpdkvhostuserclient', `options:vhost-server-path=${sock1}`);
  return { stop: () => ovs.stop() };
}

function stopChild(c: ChildProcess): void {
  if (c.exitCode === null) c.kill('SIGTERM');
}

function startGuest(dir: string, name: string, sock: string, mac: string, append: string): ChildProcess {
  const img = guestImage();
  const spec = parseGuestSpec({
    name,
    vcpus: 1,
    memoryMb: 256,
    accel: 'tcg',
    boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append: `console=ttyS0 quiet ${append}` },
    nics: [{ name: 'eth0', socketPath: sock, portMode: 'client', mac }],
  });
  const paths = { qmpSocket: path.join(dir, `${name}.qmp`), pidFile: path.join(dir, `${name}.pid`), consoleLog: path.join(dir, `${name}.log`) };
  const cmd = buildQemuArgv(spec, { accel: { accel: 'tcg', reason: 'bench' }, paths });
  return spawn('taskset', ['-c', '0', cmd.binary, ...cmd.argv], { stdio: 'ignore' });
}

async function waitConsole(file: string, re: RegExp, ms: number): Promise<RegExpMatchArray> {
  const t0 = Date.now();
  for (;;) {
    const m = readConsole(file).match(re);
    if (m) return m;
    if (Date.now() - t0 > ms) throw new Error(`${file}: no ${re} in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitFile(file: string, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!fs.existsSync(file)) {
    if (Date.now() - t0 > ms) throw new Error(`no ${file} in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function round(kind: 'agent' | 'ovs'): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `v2v-tcp-${kind}-`));
  const sockA = path.join(dir, 'a.sock');
  const sockB = path.join(dir, 'b.sock');
  // QEMU first: it is the server the switch connects to, and it boots once the switch has.
  const a = startGuest(dir, 'a', sockA, '52:54:00:77:00:01', `vhostnet.ip=${NET}.1/24 vhostnet.serve=${MIB}`);
  const b = startGuest(dir, 'b', sockB, '52:54:00:77:00:02', `vhostnet.ip=${NET}.2/24 vhostnet.fetch=${NET}.1`);
  let sw: Switch | undefined;
  try {
    for (const s of [sockA, sockB]) await waitFile(s, 30000);
    sw = kind === 'agent' ? agentSwitch(sockA, sockB) : ovsSwitch(sockA, sockB);
    const served = await waitConsole(path.join(dir, 'a.log'), /VHOSTNET-SERVING md5=(\w+) bytes=(\d+)/, 60000);
    const got = await waitConsole(path.join(dir, 'b.log'), /VHOSTNET-FETCHED md5=(\w+) bytes=(\d+) t0=([\d.]+) t1=([\d.]+)/, 300000);
    if (got[1] !== served[1] || got[2] !== served[2])
      throw new Error(`${kind}: B got md5 ${got[1]} (${got[2]} bytes), A served ${served[1]} (${served[2]} bytes)`);
    const secs = Number(got[4]) - Number(got[3]);
    return (Number(got[2]) * 8) / Math.max(secs, 0.01) / 1e6;
  } finally {
    for (const q of [a, b]) stopChild(q);
    sw?.stop();
    await new Promise((r) => setTimeout(r, 1000));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};

async function main(): Promise<void> {
  if (ROUNDS <= 0) return;
  ensureHugepages();
  const res: Record<string, number[]> = { agent: [], ovs: [] };
  for (let r = 1; r <= ROUNDS; r++)
    for (const kind of ['agent', 'ovs'] as const) {
      try {
        const mbit = await round(kind);
        res[kind].push(mbit);
        console.error(`round ${r}: ${kind} tcp ${MIB} MiB Mbit/s=${mbit.toFixed(0)}`);
      } catch (e) {
        console.error(`round ${r}: ${kind} tcp failed: ${(e as Error).message}`);
        res[kind].push(0);
      }
    }
  const m = { agent: median(res.agent), ovs: median(res.ovs) };
  console.log(`v2v agent tcp Mbit/s=${m.agent.toFixed(0)}`);
  console.log(`v2v ovs tcp Mbit/s=${m.ovs.toFixed(0)}`);
  console.log(`v2v agent/ovs tcp ratio=${m.ovs ? (m.agent / m.ovs).toFixed(2) : '0'} (no target: TCG guests are the limit)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
