// Reconnect benchmark: a dpdk-testpmd guest (two virtio_user ports) on two client ports of the
// real agent; the agent is SIGKILLed and restarted N times under it. Prints, per restart, the
// time from the new agent process's start until a frame crosses the switch again and the frames
// lost; then median and max. Then the guest is restarted M times (time until both links are up).
//   bash scripts/with-node.sh node dist/bench/reconnect.js [--restarts 20] [--guest-restarts 10]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { AgentProcess, waitFor } from '../test/helpers/agent-process';
import { TestpmdGuest } from '../test/helpers/testpmd';
import { killRestartAndProbe, summary } from '../test/helpers/traffic-resume';

const A = '02:00:00:00:5b:00';
const B = '02:00:00:00:5b:01';

function count(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^[1-9][0-9]{0,3}$/.test(v)) throw new Error(`--${name} must be a whole number from 1 to 9999, got ${JSON.stringify(v)}`);
  return Number(v);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { restarts: { type: 'string' }, 'guest-restarts': { type: 'string' } } });
  const N = count('restarts', values.restarts, 20);
  const M = count('guest-restarts', values['guest-restarts'], 10);
  const agent = await AgentProcess.start({ name: 'bench-reconn' });
  let guest: TestpmdGuest | undefined;
  const sock = (i: number) => path.join(agent.dir, `b${i}.sock`);
  const startGuest = () =>
    TestpmdGuest.start({
      name: `g-bench-reconn-${process.pid}`,
      logDir: agent.dir,
      ports: [
        { path: sock(0), server: true, mac: A },
        { path: sock(1), server: true, mac: B },
      ],
    });
  const waitUp = () => waitFor('b0, b1 up', async () => (await agent.client.ports.list()).every((p) => p.status!.link === 'up'), 30000);
  try {
    await agent.client.bridges.put('br0', {});
    const starting = startGuest();
    for (const i of [0, 1]) await agent.client.ports.put(`b${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock(i) });
    guest = await starting;
    await waitUp();
    const resume: number[] = [];
    const lost: number[] = [];
    for (let i = 0; i < N; i++) {
      const f = await killRestartAndProbe(agent, guest, i % 2, 1 - (i % 2), i % 2 ? A : B);
      resume.push(f.resumeMs);
      lost.push(f.lost);
      console.log(`agent restart ${i + 1}/${N}: traffic again after ${f.resumeMs} ms (${f.probes} probe bursts), frames lost ${f.lost}`);
      await waitUp();
    }
    const guestUp: number[] = [];
    for (let i = 0; i < M; i++) {
      await guest.stop();
      guest = undefined;
      await waitFor('ports down', async () => (await agent.client.ports.list()).every((p) => p.status!.link === 'down'), 15000);
      const t0 = Date.now();
      guest = await startGuest();
      await waitUp();
      guestUp.push(Date.now() - t0);
      await guest.send(0, B, 100);
      await guest.settle();
      const rx = (await guest.counters())[1].rxPackets;
      if (rx !== 100) throw new Error(`guest restart ${i + 1}: port 1 received ${rx} of 100 frames`);
      console.log(`guest restart ${i + 1}/${M}: both links up ${guestUp[i]} ms after the guest started, 100/100 frames`);
    }
    const r = summary(resume);
    const g = summary(guestUp);
    console.log(
      `\nagent SIGKILL+restart x${N}: traffic resumes median ${r.median} ms, max ${r.max} ms; frames lost per restart: median ${summary(lost).median}, max ${summary(lost).max}, total ${lost.reduce((a, b) => a + b, 0)}`,
    );
    console.log(`guest restart x${M}: reconnected ${guestUp.length}/${M}; links up median ${g.median} ms, max ${g.max} ms`);
  } finally {
    await guest?.stop();
    await agent.stop();
    fs.rmSync(agent.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench/reconnect: ${(e as Error).message}`);
  process.exit(1);
});
