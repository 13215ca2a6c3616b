// npm run bench:stack: the time of `pulumi up` for a stack of N client ports on one bridge, a
// no-op up, a preview and a destroy (the real engine against the real agent), next to the same N
// ports made with one ovs-vsctl call each on Open vSwitch with DPDK, in the same run.
import { performance } from 'node:perf_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess } from '../test/helpers/agent-process';
import { E2E_PROGRAM, engineStack } from '../test/helpers/pulumi-stack';
import { Ovs } from './ovs';

const N = Number(process.env.N ?? 100);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function main(): Promise<void> {
  const agent = await AgentProcess.start({ name: 'benchstack' });
  const ports = [...Array(N).keys()].map((i) => ({ name: `c${i}`, bridge: 'br0', path: path.join(agent.dir, `c${i}.sock`) }));
  // As a user runs it: the project's tsconfig decides (ts-node.transpileOnly, type-checked by tsc at build).
  const env: Record<string, string> = process.env.TRANSPILE_ONLY ? { PULUMI_NODEJS_TRANSPILE_ONLY: process.env.TRANSPILE_ONLY } : {};
  const s = await engineStack('bench', E2E_PROGRAM, { 'vhostnet:endpoint': `unix:${agent.socket}`, bridges: [{ name: 'br0' }], ports }, env);
  try {
    const up = await timed(() => s.stack.up());
    const noop = await timed(() => s.stack.up());
    const preview = await timed(() => s.stack.preview());
    const destroy = await timed(() => s.stack.destroy());
    let ovs = NaN;
    if (!process.env.NO_OVS) {
      const o = Ovs.start();
      try {
        const t = performance.now();
        for (let i = 0; i < N; i++)
          o.vsctl('add-port', 'br0', `c${i}`, '--', 'set', 'Interface', `c${i}`, 'type=dpdkvhostuserclient', `options:vhost-server-path=${o.dir}/c${i}.sock`);
        ovs = (performance.now() - t) / 1000;
      } finally {
        o.stop();
      }
    }
    const f = (x: number) => x.toFixed(1);
    console.log(`stack N=${N} up_s=${f(up)} noop_s=${f(noop)} preview_s=${f(preview)} destroy_s=${f(destroy)} ovs_vsctl_s=${f(ovs)}`);
  } finally {
    await s.remove();
    await agent.stop();
    fs.rmSync(agent.dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
