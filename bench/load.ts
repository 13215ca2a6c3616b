// Forwarding under control-path load: 1000 client ports on the agent, a testpmd guest looping
// traffic through two more ports, and then 100 API requests per second for 60 s. Prints the
// forwarding rate without and with the load (the PMD is isolated from the control path) and
// the API's latency percentiles. Figures only; asserts nothing.
//   bash scripts/with-node.sh node dist/bench/load.js [PORTS=1000 RPS=100 SECS=60]
import { performance } from 'node:perf_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess, waitFor } from '../test/helpers/agent-process';
import { TestpmdGuest } from '../test/helpers/testpmd';

const PORTS = Number(process.env.PORTS ?? 1000);
const RPS = Number(process.env.RPS ?? 100);
const SECS = Number(process.env.SECS ?? 60);
const MAC = ['02:00:00:00:0f:00', '02:00:00:00:0f:01'];

/** Packets the guest received per second over `secs`, from its counters. */
async function rate(guest: TestpmdGuest, secs: number): Promise<number> {
  const rx = async () => (await guest.counters()).reduce((n, c) => n + c.rxPackets, 0);
  const a = await rx();
  const t = performance.now();
  await new Promise((r) => setTimeout(r, secs * 1000));
  return ((await rx()) - a) / ((performance.now() - t) / 1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const agent = await AgentProcess.start({ name: 'benchload' });
  let guest: TestpmdGuest | undefined;
  try {
    await agent.client.bridges.put('br0', {});
    for (let i = 0; i < PORTS; i++)
      await agent.client.ports.put(`c${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, `c${i}.sock`) });
    const sock = [0, 1].map((i) => path.join(agent.dir, `loop${i}.sock`));
    const starting = TestpmdGuest.start({
      name: `g-load-${process.pid}`,
      logDir: agent.dir,
      ports: sock.map((p, i) => ({ path: p, server: true, mac: MAC[i] })),
    });
    await agent.client.ports.put('loop0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock[0] });
    await agent.client.ports.put('loop1', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock[1] });
    guest = await starting;
    await waitFor('loop ports up', async () => (await agent.client.ports.get('loop1')).status!.link === 'up');
    // Learn both MACs, then let 32 bursts circulate in mac-forwarding mode, as the v2v harness does.
    await guest.send(0, MAC[1], 32);
    await guest.send(1, MAC[0], 32);
    await guest.cmd(`set eth-peer 0 ${MAC[1]}`);
    await guest.cmd(`set eth-peer 1 ${MAC[0]}`);
    await guest.stopForwarding();
    await guest.cmd('set fwd mac');
    await guest.cmd('start tx_first 32');

    await new Promise((r) => setTimeout(r, 3000));
    const idle = await rate(guest, 15);

    const latencies: number[] = [];
    let errors = 0;
    const loaded = rate(guest, SECS);
    const t0 = performance.now();
    for (let n = 0; performance.now() - t0 < SECS * 1000; n++) {
      const due = t0 + (n * 1000) / RPS;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const i = n % PORTS;
      const t = performance.now();
      // A mix of what a pipeline does: status reads, in-place updates (each fsynced), listings.
      const req =
        n % 10 < 7
          ? agent.client.ports.get(`c${i}`)
          : n % 10 < 9
            ? agent.client.ports.put(`c${i}`, {
                bridge: 'br0',
                type: 'dpdkvhostuserclient',
                vhostServerPath: path.join(agent.dir, `c${i}.sock`),
                queues: 1 + (n % 2),
              })
            : agent.client.bridges.list();
      void req.then(
        () => latencies.push(performance.now() - t),
        () => errors++,
      );
    }
    const withLoad = await loaded;
    latencies.sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(2);
    console.log(
      `load ports=${PORTS + 2} api_rps=${RPS} secs=${SECS} fwd_mpps_idle=${f(idle / 1e6)} fwd_mpps_load=${f(withLoad / 1e6)} ` +
        `drop_pct=${f((100 * (idle - withLoad)) / idle)} api_requests=${latencies.length} api_errors=${errors} ` +
        `api_p50_ms=${f(percentile(latencies, 50))} api_p99_ms=${f(percentile(latencies, 99))} api_max_ms=${f(latencies[latencies.length - 1])}`,
    );
  } finally {
    await guest?.stop();
    await agent.stop();
    fs.rmSync(agent.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
