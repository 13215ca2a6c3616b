// Crash consistency: a seeded random stream of bridge and port changes against the real agent
// while it is SIGKILLed at random moments. Every change the agent acknowledged (2xx) must be
// in its state after each restart; a change in flight at the kill may or may not be there (the
// model then takes what the agent says). And the datapath must hold every stored port.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentError, type BridgeState, type VhostUserPortState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';

/** mulberry32: small, seeded, good enough to pick operations reproducibly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface BridgeModel { macAgingSeconds: number }
interface PortModel { bridge: string; type: 'dpdkvhostuserclient' | 'dpdkvhostuser'; vhostServerPath?: string; queues: number; mac: string }
interface Model { bridges: Map<string, BridgeModel>; ports: Map<string, PortModel> }
interface Change { kind: 'bridge' | 'port'; op: 'put' | 'delete'; name: string; spec?: BridgeModel | PortModel }

const SEED = Number(process.env.VHOSTNET_SEED ?? 5151);
const MIN_CHANGES = 200;
const MIN_KILLS = 30;
const MAX_MS = 80000;

function cloneModel(m: Model): Model {
  return { bridges: new Map([...m.bridges].map(([k, v]) => [k, { ...v }])), ports: new Map([...m.ports].map(([k, v]) => [k, { ...v }])) };
}

function applyChange(m: Model, c: Change): void {
  const map = (c.kind === 'bridge' ? m.bridges : m.ports) as Map<string, unknown>;
  if (c.op === 'delete') map.delete(c.name);
  else map.set(c.name, { ...c.spec });
}

/** The agent's state in the model's shape, as one comparable string. */
function canon(m: Model): string {
  const b = [...m.bridges].sort(([x], [y]) => x.localeCompare(y)).map(([n, v]) => `${n}:${v.macAgingSeconds}`);
  const p = [...m.ports].sort(([x], [y]) => x.localeCompare(y)).map(([n, v]) => `${n}:${v.bridge}:${v.type}:${v.vhostServerPath ?? ''}:${v.queues}:${v.mac}`);
  return JSON.stringify({ b, p });
}

function modelOf(state: { bridges: BridgeState[]; ports: VhostUserPortState[] }): Model {
  return {
    bridges: new Map(state.bridges.map((b) => [b.name, { macAgingSeconds: b.macAgingSeconds }])),
    ports: new Map(state.ports.map((p) => [p.name, { bridge: p.bridge, type: p.type, vhostServerPath: p.vhostServerPath, queues: p.queues, mac: p.mac }])),
  };
}

describe('51 reliability: crash consistency under random SIGKILLs', function () {
  this.timeout(180000);
  let agent: AgentProcess | undefined;
  let keep = false;
  afterEach(function () {
    keep ||= this.currentTest?.state === 'failed';
  });
  after(async () => {
    await agent?.stop();
    if (agent && !keep) fs.rmSync(agent.dir, { recursive: true, force: true });
    else if (agent) console.log(`      kept ${agent.dir} (agent.log) for the failure`);
  });

  it(`${MIN_CHANGES}+ changes, ${MIN_KILLS}+ kills: no acknowledged change lost, the datapath holds every port`, async () => {
    const rnd = prng(SEED);
    const pick = <T>(a: T[]) => a[Math.floor(rnd() * a.length)];
    const a = (agent = await AgentProcess.start({ name: 'crash' }));
    const BRIDGES = ['b0', 'b1', 'b2', 'b3'];
    const PORTS = Array.from({ length: 10 }, (_, i) => `p${i}`);

    /** A change that is valid against the model (the agent must accept it). */
    const nextChange = (m: Model): Change => {
      for (;;) {
        const r = rnd();
        if (r < 0.3) {
          const name = pick(BRIDGES);
          if (!m.bridges.has(name) || rnd() < 0.7) return { kind: 'bridge', op: 'put', name, spec: { macAgingSeconds: 1 + Math.floor(rnd() * 600) } };
          if (![...m.ports.values()].some((p) => p.bridge === name)) return { kind: 'bridge', op: 'delete', name };
        } else if (m.bridges.size) {
          const name = pick(PORTS);
          if (m.ports.has(name) && rnd() < 0.3) return { kind: 'port', op: 'delete', name };
          const server = rnd() < 0.3;
          const i = Number(name.slice(1));
          return {
            kind: 'port',
            op: 'put',
            name,
            spec: {
              bridge: pick([...m.bridges.keys()]),
              type: server ? 'dpdkvhostuser' : 'dpdkvhostuserclient',
              ...(server ? {} : { vhostServerPath: path.join(a.dir, `${name}.sock`) }),
              queues: 1 + Math.floor(rnd() * 4),
              mac: `02:00:00:51:${(i & 0xff).toString(16).padStart(2, '0')}:${Math.floor(rnd() * 256).toString(16).padStart(2, '0')}`,
            },
          };
        }
      }
    };
    const send = (c: Change) =>
      c.op === 'delete' ? a.client.delete(`/${c.kind}s/${c.name}`) : a.client.put(`/${c.kind}s/${c.name}`, c.spec);

    // The killer: SIGKILL at a random moment 0.2–1.5 s after the agent is back, then restart.
    let running = true;
    let paused = false;
    let killing = false;
    let kills = 0;
    const launchMs: number[] = [];
    let killerFailed: Error | undefined;
    const killer = (async () => {
      while (running) {
        await new Promise((r) => setTimeout(r, 200 + rnd() * 1300));
        while (paused && running) await new Promise((r) => setTimeout(r, 10));
        if (!running) break;
        killing = true;
        await a.kill('SIGKILL');
        kills++;
        const t = Date.now();
        await a.launch();
        launchMs.push(Date.now() - t);
        killing = false;
      }
    })().catch((e: Error) => {
      killerFailed = e; // a restart that failed: the driver stops and reports it
      running = false;
    });

    let model: Model = { bridges: new Map(), ports: new Map() };
    let acked = 0;
    let inFlightApplied = 0;
    let inFlightNotApplied = 0;
    let verified = 0;
    const lost: string[] = [];
    const refused: string[] = [];
    const started = Date.now();
    let verifiedKills = 0;

    /** After a kill: the state must be the model, or the model plus the change that was in flight. */
    const verify = async (inFlight: Change | undefined) => {
      paused = true;
      while (killing) await new Promise((r) => setTimeout(r, 10));
      try {
        const state = await waitFor('agent back', () => a.client.get<{ bridges: BridgeState[]; ports: VhostUserPortState[] }>('/state'), 30000, 50);
        const have = canon(modelOf(state));
        const withChange = inFlight && cloneModel(model);
        if (withChange) applyChange(withChange, inFlight!);
        if (have === canon(model)) {
          if (inFlight) inFlightNotApplied++;
        } else if (withChange && have === canon(withChange)) {
          inFlightApplied++;
          model = withChange;
        } else {
          lost.push(`after kill ${kills}: agent has ${have}, acknowledged ${canon(model)}${inFlight ? ` (in flight: ${JSON.stringify(inFlight)})` : ''}`);
          model = modelOf(state); // go on from what the agent says, so one loss is counted once
        }
        // The datapath: every stored port is in it (missing sockets are fine; not being there is not).
        const ports = await a.client.get<VhostUserPortState[]>('/ports');
        for (const p of ports)
          if (/not in the datapath|datapath has not created/.test(p.status?.reason ?? '')) lost.push(`after kill ${kills}: port ${p.name}: ${p.status!.reason}`);
        verified++;
        verifiedKills = kills;
      } finally {
        paused = false;
      }
    };

    try {
      while ((acked < MIN_CHANGES || kills < MIN_KILLS) && Date.now() - started < MAX_MS) {
        if (killerFailed) throw killerFailed;
        if (kills !== verifiedKills && !killing) await verify(undefined);
        const c = nextChange(model);
        try {
          await send(c);
          applyChange(model, c);
          acked++;
        } catch (e) {
          const err = e as AgentError;
          if (err.status !== 0) {
            refused.push(`${JSON.stringify(c)}: ${err.status} ${err.message}`);
            continue;
          }
          // No answer: the agent died around this change. Wait for the restart, then judge.
          await waitFor('the kill to finish', async () => {
            if (killerFailed) throw killerFailed;
            return kills > verifiedKills && !killing;
          }, 30000, 10);
          await verify(c);
        }
      }
    } finally {
      running = false;
      await killer;
    }
    await verify(undefined);
    const sorted = [...launchMs].sort((x, y) => x - y);
    console.log(
      `      crash figure (seed ${SEED}): ${acked} acknowledged changes, ${kills} kills survived, ${verified} verifications, ` +
        `in flight at a kill: ${inFlightApplied} applied / ${inFlightNotApplied} not, acknowledged changes lost: ${lost.length}, ` +
        `agent restart median ${sorted[Math.floor(sorted.length / 2)]} ms, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    assert.deepEqual(refused, [], 'a valid change was refused');
    assert.deepEqual(lost, []);
    assert.ok(acked >= MIN_CHANGES, `only ${acked} acknowledged changes in ${MAX_MS} ms`);
    assert.ok(kills >= MIN_KILLS, `only ${kills} kills`);
  });
});
