// npm run bench:ctl: control-path speed. Adds N client ports through the agent's API (one
// request each, as `pulumi up` does), removes them, and does the same with one ovs-vsctl call
// per port on Open vSwitch with DPDK in the same run. Prints figures; asserts nothing.
import { performance } from 'node:perf_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentProcess } from '../test/helpers/agent-process';
import { Ovs } from './ovs';

const N = Number(process.env.N ?? 1000);

async function agentRun(): Promise<{ add: number; del: number }> {
  const agent = await AgentProcess.start({ name: 'benchctl' });
  try {
    await agent.client.bridges.put('br0', {});
    const sock = (i: number) => path.join(agent.dir, `c${i}.sock`);
    let t = performance.now();
    for (let i = 0; i < N; i++) await agent.client.ports.put(`c${i}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock(i) });
    const add = (performance.now() - t) / N;
    t = performance.now();
    for (let i = 0; i < N; i++) await agent.client.ports.delete(`c${i}`);
    const del = (performance.now() - t) / N;
    return { add, del };
  } finally {
    await agent.stop();
    fs.rmSync(agent.dir, { recursive: true, force: true });
  }
}

function ovsRun(): { add: number; del: number } {
  const ovs = Ovs.start();
  try {
    let t = performance.now();
    for (let i = 0; i < N; i++)
      ovs.vsctl('add-port', 'br0', `c${i}`, '--', 'set', 'Interface', `c${i}`, 'type=dpdkvhostuserclient', `options:vhost-server-path=${ovs.dir}/c${i}.sock`);
    const add = (performance.now() - t) / N;
    t = performance.now();
    for (let i = 0; i < N; i++) ovs.vsctl('del-port', 'br0', `c${i}`);
    const del = (performance.now() - t) / N;
    return { add, del };
  } finally {
    ovs.stop();
  }
}

async function main(): Promise<void> {
  const a = await agentRun();
  console.log(`ctl add_ms_per_port=${a.add.toFixed(3)} del_ms_per_port=${a.del.toFixed(3)} ports=${N}`);
  if (process.env.NO_OVS) return;
  const o = ovsRun();
  console.log(`ctl ovs add_ms_per_port=${o.add.toFixed(3)} del_ms_per_port=${o.del.toFixed(3)} ports=${N} (one ovs-vsctl call per port)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
