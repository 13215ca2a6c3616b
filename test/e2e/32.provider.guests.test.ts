// examples/guests as written, under the real engine: hugepages, a bridge, two client ports and
// two QEMU guests that ping each other; preview refuses pairs and sizes that cannot work.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GuestVmState as GuestState } from '../../datapath/api';
import { AgentProcess } from '../helpers/agent-process';
import { EXTRA_PAGES, guestStack, nrHugepages, type GuestStack } from '../helpers/guest-stack';
import { guestImage } from '../helpers/guest-image';
import { E2E_PROGRAM, EXAMPLES, engineStack, type EngineStack } from '../helpers/pulumi-stack';
import { guestPings } from '../helpers/qemu-guest';

describe('32 provider: guests and hugepages with the real engine (examples/guests)', function () {
  this.timeout(600000);
  let agent: AgentProcess;
  let s: EngineStack;
  let g: GuestStack | undefined;

  before(async () => {
    g = await guestStack('guests', path.join(EXAMPLES, 'guests'));
    ({ agent, stack: s } = g);
  });
  after(async () => {
    await g?.cleanup();
  });

  it('up reserves the hugepages and brings up the bridge, ports and guests, which ping each other', async () => {
    const found = nrHugepages();
    const up = await s.stack.up();
    assert.equal(up.summary.resourceChanges?.create, 7, JSON.stringify(up.summary.resourceChanges)); // stack + 6
    assert.equal(nrHugepages(), found + EXTRA_PAGES);
    assert.ok((up.outputs.qemuCommands.value as string[][])[0].some((a) => /server=on$/.test(a)));
    assert.match((up.outputs.libvirtXml.value as string[])[0], /<interface type='vhostuser'>[\s\S]*mode='server'/);
    const { waitReplies } = guestPings(() => agent.client, '169.254.100');
    await waitReplies('vm1', 2, 3, 120000);
    await waitReplies('vm2', 1, 3, 60000);
    const again = await s.stack.preview({ expectNoChanges: true });
    assert.deepEqual(Object.keys(again.changeSummary), ['same']);
  });

  it('destroy stops the guests, removes the ports and bridge, and gives back the hugepage reservation it found', async () => {
    const pids = (await agent.client.get<GuestState[]>('/guests')).map((g) => g.status!.pid!);
    await s.stack.destroy();
    const st = await agent.client.get<{ bridges: unknown[]; ports: unknown[]; guests: unknown[]; hugepages: unknown[] }>('/state');
    assert.deepEqual([st.bridges, st.ports, st.guests, st.hugepages], [[], [], [], []]);
    assert.equal(nrHugepages(), (await s.stack.getConfig('hugepages').then((c) => Number(c.value))) - EXTRA_PAGES);
    for (const pid of pids) assert.ok(!fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')));
  });
});

describe('33 provider: preview refuses guests that cannot work, before anything changes', function () {
  this.timeout(300000);
  it('names the field for a queue mismatch with the port, and for memory beyond the free hugepages', async () => {
    const agent = await AgentProcess.start({ name: 'epair' });
    const img = guestImage();
    const port = { name: 'p0', bridge: 'br0', path: path.join(agent.dir, 'p0.sock') };
    const s = await engineStack('pair', E2E_PROGRAM, { 'vhostnet:endpoint': `unix:${agent.socket}`, bridges: [{ name: 'br0' }], ports: [port] });
    try {
      const before = JSON.stringify(await agent.client.get('/state'));
      await s.stack.setConfig('guests', { value: JSON.stringify([{ name: 'g', kernel: img.kernel, initrd: img.initrd, nics: [{ port: 'p0', queues: 2 }] }]) });
      await assert.rejects(s.stack.preview(), /nics\.0\.queues.*must equal the port's queues \(1\)/s);
      assert.equal(JSON.stringify(await agent.client.get('/state')), before);
      // With the port in place, the agent's dry run checks the host: memory beyond the free hugepages.
      await s.stack.setConfig('guests', { value: '[]' });
      await s.stack.up();
      await s.stack.setConfig('guests', {
        value: JSON.stringify([{ name: 'g', memoryMb: 524288, kernel: img.kernel, initrd: img.initrd, nics: [{ port: 'p0' }] }]),
      });
      const mid = JSON.stringify(await agent.client.get('/state'));
      await assert.rejects(s.stack.preview(), /memoryMb.*needs 524288 MiB, \d+ MiB are free/s);
      assert.equal(JSON.stringify(await agent.client.get('/state')), mid);
      await s.stack.setConfig('guests', { value: '[]' });
      await s.stack.destroy();
    } finally {
      await agent.stop();
      await s.remove();
      fs.rmSync(agent.dir, { recursive: true, force: true });
    }
  });
});
