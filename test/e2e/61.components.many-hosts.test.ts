// examples/many-hosts: one stack, two agents (two "hosts"), every resource with its own
// connection. The hosts are applied in parallel; when one host is down, the other's change
// still lands and the stack's state stays true to both hosts.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BridgeState, VhostUserPortState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';
import { EXAMPLES, engineStack, setConfig, type EngineStack } from '../helpers/pulumi-stack';

interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  startMs: number;
  durationMs: number;
}

/** The requests an agent logged (one JSON line each on its stderr, agent.log) after byte `from`. */
function requestsLogged(h: AgentProcess, from: number): LoggedRequest[] {
  const text = fs.readFileSync(path.join(h.dir, 'agent.log')).subarray(from).toString();
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LoggedRequest & { event: string })
    .filter((r) => r.event === 'request');
}

describe('61 components: one stack, many hosts (examples/many-hosts)', function () {
  this.timeout(600000);
  let a: AgentProcess;
  let b: AgentProcess;
  let s: EngineStack;
  const configure = (extra: Record<string, unknown>) =>
    setConfig(s.stack, {
      hosts: [
        { name: 'hosta', endpoint: `unix:${a.socket}`, socketDir: a.dir },
        { name: 'hostb', endpoint: `unix:${b.socket}`, socketDir: b.dir },
      ],
      ...extra,
    });
  const aging = async (h: AgentProcess) => (await h.client.get<BridgeState>('/bridges/br0')).macAgingSeconds;

  before(async () => {
    a = await AgentProcess.start({ name: 'hosta' });
    b = await AgentProcess.start({ name: 'hostb' });
    s = await engineStack('many', path.join(EXAMPLES, 'many-hosts'), {});
    await configure({ macAgingSeconds: 300 });
  });
  after(async () => {
    await s?.stack.destroy().catch(() => undefined);
    for (const h of [a, b]) {
      await h?.stop();
      if (h) fs.rmSync(h.dir, { recursive: true, force: true });
    }
    await s?.remove();
  });

  it('up creates bridge and ports on both hosts, the hosts in parallel', async () => {
    const seq: string[] = [];
    const logFrom = new Map([a, b].map((h) => [h, fs.statSync(path.join(h.dir, 'agent.log')).size]));
    const up = await s.stack.up({
      onEvent: (e) => {
        if (e.resourcePreEvent && /-br0$/.test(e.resourcePreEvent.metadata.urn)) seq.push(`start ${e.resourcePreEvent.metadata.urn.split('::').pop()}`);
        if (e.resOutputsEvent && /-br0$/.test(e.resOutputsEvent.metadata.urn)) seq.push(`done ${e.resOutputsEvent.metadata.urn.split('::').pop()}`);
      },
    });
    assert.equal(up.summary.resourceChanges?.create, 7, JSON.stringify(up.summary.resourceChanges)); // stack + 2 x (bridge + 2 ports)
    // Both bridges were under way before either finished: the engine did not serialize the hosts.
    assert.deepEqual(
      seq.slice(0, 2).map((x) => x.split(' ')[0]),
      ['start', 'start'],
      seq.join(', '),
    );
    // The same from the hosts' side, in each agent's own request log: creating br0 (from the
    // provider's first request about it to the answer to the last, its PUT) was under way on B before it was done on A, and the
    // other way round. Applied one host after the other, the two spans could not overlap.
    const span = (h: AgentProcess) => {
      const reqs = requestsLogged(h, logFrom.get(h)!).filter((r) => r.path === '/v1/bridges/br0');
      assert.ok(
        reqs.some((r) => r.method === 'PUT' && r.status === 200),
        `${h.name} logged no PUT of br0: ${JSON.stringify(reqs)}`,
      );
      return { from: reqs[0].startMs, to: Math.max(...reqs.map((r) => r.startMs + r.durationMs)) };
    };
    const [sa, sb] = [span(a), span(b)];
    assert.ok(sa.from < sb.to && sb.from < sa.to, `br0 on hosta ${JSON.stringify(sa)} and on hostb ${JSON.stringify(sb)} do not overlap`);
    for (const h of [a, b]) {
      const ports = await h.client.get<VhostUserPortState[]>('/ports');
      assert.deepEqual(ports.map((p) => `${p.bridge}/${p.name}@${path.dirname(p.vhostServerPath!)}`).sort(), [
        `br0/dpdkvhostclient0@${h.dir}`,
        `br0/dpdkvhostclient1@${h.dir}`,
      ]);
      assert.equal(await aging(h), 300);
    }
    assert.deepEqual(Object.keys(up.outputs.perHost.value).sort(), ['hosta', 'hostb']);
  });

  it('with host B down, a change to both hosts fails for B but lands on A, and the state stays true', async () => {
    await b.stop();
    await configure({ macAgingSeconds: 600 });
    // --continue-on-error: a pipeline applies every host it can reach, then reports the failures.
    await assert.rejects(s.stack.up({ continueOnError: true }), (e: Error) => {
      assert.match(e.message, /hostb-br0|updating bridge br0/, e.message.slice(-2000));
      return true;
    });
    assert.equal(await aging(a), 600, "A's change was applied");

    await b.launch(); // the host comes back with what it had (its agent's state survives restarts)
    assert.equal(await aging(b), 300);
    const refresh = await s.stack.refresh();
    assert.deepEqual(
      Object.keys(refresh.summary.resourceChanges ?? {}),
      ['same'],
      `refresh found the state true: ${JSON.stringify(refresh.summary.resourceChanges)}`,
    );
    const pending: string[] = [];
    const pv = await s.stack.preview({
      onEvent: (e) => {
        const m = e.resourcePreEvent?.metadata;
        if (m && m.op !== 'same') pending.push(`${m.op} ${m.urn.split('::').pop()}`);
      },
    });
    assert.deepEqual(pending, ['update hostb-br0'], `pending: ${pending.join(', ')}; ${JSON.stringify(pv.changeSummary)}`);
  });

  it('the next up applies B; destroy empties both hosts', async () => {
    const up = await s.stack.up();
    assert.equal(up.summary.resourceChanges?.update, 1, JSON.stringify(up.summary.resourceChanges));
    assert.equal(await aging(b), 600);
    await s.stack.destroy();
    for (const h of [a, b]) {
      const st = await h.client.get<{ bridges: unknown[]; ports: unknown[] }>('/state');
      assert.deepEqual([st.bridges, st.ports], [[], []]);
    }
  });
});
