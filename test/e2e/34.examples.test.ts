// Every example stack runs as written (and the root Pulumi.yaml, the guide's quick example):
// up against a fresh agent, what its users read in the output, then destroy back to nothing.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PortState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';
import { EXAMPLES, engineStack } from '../helpers/pulumi-stack';

const ROOT = path.resolve(EXAMPLES, '..');

describe('34 examples run as written', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  let empty: string;
  before(async () => {
    agent = await AgentProcess.start({ name: 'examples' });
    empty = JSON.stringify(await agent.client.get('/state'));
  });
  after(async () => {
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  const run = async (name: string, program: string, check: (out: { stdout: string; outputs: Record<string, { value: unknown }> }) => Promise<void>) => {
    const s = await engineStack(`ex-${name}`, program, { 'vhostnet:endpoint': `unix:${agent.socket}`, socketDir: agent.dir });
    try {
      const up = await s.stack.up();
      await check({ stdout: up.stdout, outputs: up.outputs });
      await s.stack.destroy();
      assert.equal(JSON.stringify(await agent.client.get('/state')), empty, `${name}: destroy leaves the agent as it was`);
    } finally {
      await s.remove();
    }
  };

  it('the root Pulumi.yaml: the guide quick example (br0, dpdkvhostclient0 and dpdkvhostclient1)', async () => {
    const main = fs.readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8');
    assert.match(main, /main: examples\/quickstart\//);
    await run('quickstart', path.join(EXAMPLES, 'quickstart'), async ({ outputs }) => {
      assert.deepEqual(outputs.sockets.value, [path.join(agent.dir, 'dpdkvhostclient0'), path.join(agent.dir, 'dpdkvhostclient1')]);
      const ports = await agent.client.get<PortState[]>('/ports');
      assert.deepEqual(
        ports.map((p) => `${p.bridge}/${p.name}/${p.type}`),
        ['br0/dpdkvhostclient0/dpdkvhostuserclient', 'br0/dpdkvhostclient1/dpdkvhostuserclient'],
      );
      assert.ok((outputs.qemuArgs.value as string[][])[0].includes('-chardev'));
    });
  });

  it('server-ports: deprecated dpdkvhostuser ports warn, and their sockets are in the run dir', async () => {
    await run('server-ports', path.join(EXAMPLES, 'server-ports'), async ({ stdout, outputs }) => {
      assert.match(stdout, /VhostUserPort is deprecated/);
      assert.deepEqual(outputs.sockets.value, [path.join(agent.runDir, 'dpdkvhostuser0'), path.join(agent.runDir, 'dpdkvhostuser1')]);
      assert.ok(fs.existsSync(path.join(agent.runDir, 'dpdkvhostuser0')));
    });
  });

  it('multiqueue: the QEMU fragment asks for the queues (queues=2, mq=on, vectors=6)', async () => {
    await run('multiqueue', path.join(EXAMPLES, 'multiqueue'), async ({ outputs }) => {
      const args = (outputs.qemuArgs.value as string[]).join(' ');
      assert.match(args, /queues=2/);
      assert.match(args, /mq=on,vectors=6/);
    });
  });

  it('vhost-iommu: the preview says the change waits for an agent restart', async () => {
    const s = await engineStack('ex-iommu', path.join(EXAMPLES, 'vhost-iommu'), { 'vhostnet:endpoint': `unix:${agent.socket}` });
    try {
      const pv = await s.stack.preview();
      assert.match(pv.stdout, /restart required: vhostIommuSupport/);
      const up = await s.stack.up();
      assert.deepEqual(up.outputs.restartRequired.value, ['vhostIommuSupport']);
      await s.stack.destroy();
      // The settings are back as found; their version counts the two changes.
      const { settings, ...rest } = await agent.client.get<{ settings: { version: number } }>('/state');
      const { settings: was, ...wasRest } = JSON.parse(empty);
      assert.deepEqual({ ...settings, version: 0 }, { ...was, version: 0 });
      assert.equal(settings.version, was.version + 2);
      assert.deepEqual(rest, wasRest);
    } finally {
      await s.remove();
    }
  });
});
