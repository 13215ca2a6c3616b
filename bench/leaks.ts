// Leak check of the real agent: resident memory, open file descriptors and threads before and
// after many port/bridge life cycles and many short vhost-user connections. A leak shows as
// growth proportional to the cycles; a warm-up round is taken first so allocator caches settle.
//   bash scripts/with-node.sh node dist/bench/leaks.js [--cycles 300] [--connects 2000] [--guests 50]
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { AgentProcess, waitFor } from '../test/helpers/agent-process';
import { guestImage } from '../test/helpers/guest-image';
import { freeHugepages } from '../test/helpers/qemu-guest';

function count(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^[1-9][0-9]{0,5}$/.test(v)) throw new Error(`--${name} must be a whole number from 1 to 999999, got ${JSON.stringify(v)}`);
  return Number(v);
}

function usage(pid: number): { rssMb: number; fds: number; threads: number } {
  const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    rssMb: Number(/VmRSS:\s+(\d+)/.exec(st)![1]) / 1024,
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    threads: Number(/Threads:\s+(\d+)/.exec(st)![1]),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { cycles: { type: 'string' }, connects: { type: 'string' }, guests: { type: 'string' } } });
  const cycles = count('cycles', values.cycles, 300);
  const connects = count('connects', values.connects, 2000);
  const guestCycles = count('guests', values.guests, 50);
  const agent = await AgentProcess.start({ name: 'bench-leaks' });
  const c = agent.client;
  try {
    const lifeCycles = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await c.bridges.put('lk', { macAgingSeconds: 1 + (i % 300) });
        await c.ports.put('lkc', { bridge: 'lk', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, 'lkc.sock'), queues: 1 + (i % 4) });
        await c.ports.put('lks', { bridge: 'lk', type: 'dpdkvhostuser' });
        await c.ports.list();
        await c.ports.delete('lkc');
        await c.ports.delete('lks');
        await c.bridges.delete('lk');
      }
    };
    const sessions = async (n: number) => {
      await c.bridges.put('lk2', {});
      const made = (await c.ports.put('lkv', { bridge: 'lk2', type: 'dpdkvhostuser' })).object!;
      if (made.type !== 'dpdkvhostuser') throw new Error(`lkv came back as a ${made.type} port`);
      const sock = made.socketPath;
      // librte_vhost's event thread polls a new listening socket only after its current poll()
      // (1 s timeout) returns; until then connections wait in the backlog (128), then EAGAIN.
      await new Promise((r) => setTimeout(r, 1100));
      let connected = 0;
      for (let i = 0; i < n; i++)
        await new Promise<void>((resolve) => {
          const s = net.connect(sock, () => {
            connected++;
            // GET_FEATURES then close: the agent creates and destroys one vhost device.
            s.write(Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]));
            setTimeout(() => s.destroy(), 2);
          });
          s.on('error', () => undefined);
          s.on('close', () => resolve());
        });
      await c.ports.delete('lkv');
      await c.bridges.delete('lk2');
      return connected;
    };
    // A QEMU guest on a client port started and deleted: its hugepages, its socket file, its
    // per-guest directory and the agent's descriptors must all come back.
    const img = guestImage();
    const guestLife = async (n: number) => {
      await c.bridges.put('lkg', {});
      const sockPath = path.join(agent.dir, 'vm', 'lkg.sock');
      await c.ports.put('lkg', { bridge: 'lkg', type: 'dpdkvhostuserclient', vhostServerPath: sockPath });
      for (let i = 0; i < n; i++) {
        await c.guests.put('lkg', {
          memoryMb: 256,
          accel: 'tcg',
          boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append: 'console=ttyS0 quiet' },
          nics: [{ port: 'lkg' }],
        });
        await waitFor(
          'the guest connected',
          async () => {
            const p = await c.ports.get('lkg');
            return (p.type === 'dpdkvhostuserclient' || p.type === 'dpdkvhostuser') && p.status!.connected;
          },
          60000,
          100,
        );
        await c.guests.delete('lkg');
      }
      await c.ports.delete('lkg');
      await c.bridges.delete('lkg');
      // QEMU processes of this guest still alive (zombies excluded: they hold no memory).
      const qemus = fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .filter((d) => {
          try {
            return fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('guest=lkg') && !/\) Z /.test(fs.readFileSync(`/proc/${d}/stat`, 'utf8'));
          } catch {
            return false;
          }
        }).length;
      return { sockets: fs.existsSync(sockPath) ? 1 : 0, guestDirs: fs.readdirSync(path.join(agent.dir, 'state', 'guests')).length, qemus };
    };
    const pid = agent.proc!.pid!;
    await lifeCycles(20);
    await sessions(100);
    await new Promise((r) => setTimeout(r, 1000));
    const base = usage(pid);
    let t = Date.now();
    await lifeCycles(cycles);
    const lifeS = (Date.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const afterLife = usage(pid);
    t = Date.now();
    const connected = await sessions(connects);
    const connS = (Date.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const afterConn = usage(pid);
    const d = (a: ReturnType<typeof usage>, b: ReturnType<typeof usage>) =>
      `RSS ${b.rssMb - a.rssMb >= 0 ? '+' : ''}${(b.rssMb - a.rssMb).toFixed(1)} MiB, fds ${b.fds - a.fds >= 0 ? '+' : ''}${b.fds - a.fds}, threads ${b.threads - a.threads >= 0 ? '+' : ''}${b.threads - a.threads}`;
    console.log(`baseline after warm-up: RSS ${base.rssMb.toFixed(1)} MiB, ${base.fds} fds, ${base.threads} threads`);
    console.log(`${cycles} life cycles (bridge + client port + server port created, listed, deleted) in ${lifeS.toFixed(1)} s: ${d(base, afterLife)}`);
    console.log(`${connects} vhost-user connect/GET_FEATURES/close sessions (${connected} connected) in ${connS.toFixed(1)} s: ${d(afterLife, afterConn)}`);
    const freeBefore = freeHugepages();
    t = Date.now();
    const left = await guestLife(guestCycles);
    const guestS = (Date.now() - t) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    const afterGuests = usage(pid);
    console.log(
      `${guestCycles} GuestVM life cycles (QEMU started on a client port until connected, then deleted) in ${guestS.toFixed(1)} s: ${d(afterConn, afterGuests)}, ` +
        `QEMU processes left ${left.qemus}, socket files left ${left.sockets}, guest dirs left ${left.guestDirs}, ` +
        `free hugepages ${freeHugepages() - freeBefore >= 0 ? '+' : ''}${freeHugepages() - freeBefore} (machine-wide: exact only on an otherwise idle host)`,
    );
  } finally {
    await agent.stop();
    fs.rmSync(agent.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench/leaks: ${(e as Error).message}`);
  process.exit(1);
});
