// How long traffic stops when the agent is SIGKILLed and restarted under a live guest, and
// how many frames the guest sent that never arrived. Shared by test 52 and bench/reconnect.ts.
import type { AgentProcess } from './agent-process';
import type { TestpmdGuest } from './testpmd';

export interface RestartFigure {
  /** From the start of the new agent process until a probe frame crossed the switch. */
  resumeMs: number;
  /** Frames the sending port transmitted from the kill until resumption, minus those received. */
  lost: number;
  probes: number;
}

const PROBE = 32;

/** Kills the agent (SIGKILL), restarts it, and probes from port `from` to `toMac` (received on port `to`). */
export async function killRestartAndProbe(
  agent: AgentProcess,
  guest: TestpmdGuest,
  from: number,
  to: number,
  toMac: string,
  timeoutMs = 30000,
): Promise<RestartFigure> {
  await guest.settle();
  const c0 = await guest.counters();
  await agent.kill('SIGKILL');
  const t0 = Date.now();
  await agent.launch();
  let probes = 0;
  for (;;) {
    try {
      await guest.send(from, toMac, PROBE);
      probes++;
    } catch {
      // The ring did not drain: the datapath has not attached yet. Probe again.
    }
    const c = await guest.counters();
    if (c[to].rxPackets > c0[to].rxPackets) break;
    if (Date.now() - t0 > timeoutMs) throw new Error(`traffic did not resume within ${timeoutMs} ms of the agent's restart`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const resumeMs = Date.now() - t0;
  await guest.settle();
  const c1 = await guest.counters();
  const lost = c1[from].txPackets - c0[from].txPackets - (c1[to].rxPackets - c0[to].rxPackets);
  return { resumeMs, lost, probes };
}

export function summary(xs: number[]): { median: number; max: number; min: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], max: s[s.length - 1], min: s[0] };
}
