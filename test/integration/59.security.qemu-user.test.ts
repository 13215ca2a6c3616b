// --qemu-user (issue 13): the 'qemu' backend's QEMU runs as that user (-runas), and the dry run
// judges a guest's socket directory as that user, not as root (whose access() says yes to all).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentError, GuestVmState as GuestState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { guestPings, pingingGuest } from '../helpers/qemu-guest';

const NET = '169.254.101';
const NOBODY = 65534;

describe('59 security: guests of the qemu backend run as --qemu-user (real agent, real QEMU)', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  const { waitReplies } = guestPings(() => agent.client, NET);

  before(async () => {
    const dir = fs.mkdtempSync('/tmp/vhostnet-qemuuser59-');
    fs.chmodSync(dir, 0o711); // nobody may pass through to its own directory
    agent = await AgentProcess.start({ name: 'qemuuser59', dir, args: ['--qemu-user', 'nobody'] });
    await agent.client.put('/bridges/br0', {});
  });
  after(async () => {
    await agent?.deleteGuests();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('a socket directory nobody cannot write is refused in the dry run naming the field and the rule; one it can write boots and pings, QEMU as nobody', async () => {
    const rootOnly = path.join(agent.dir, 'root-only');
    fs.mkdirSync(rootOnly, { mode: 0o700 });
    await agent.client.put('/ports/r0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(rootOnly, 'r0.sock') });
    await assert.rejects(agent.client.put('/guests/r', pingingGuest(NET, 9, 1, ['r0']), '?dryRun=true'), (e: AgentError) => {
      const issue = e.issues.find((i) => i.field === 'nics.0.socketPath');
      assert.ok(issue, e.message);
      assert.match(issue.rule, /^must be in a directory QEMU can write: .*root-only is not writable by nobody \(uid 65534\), who runs QEMU/);
      return e.status === 400;
    });
    assert.ok(!fs.existsSync(path.join(agent.dir, 'state', 'guests', 'r')), 'no QEMU was started');

    const own = path.join(agent.dir, 'nobody');
    fs.mkdirSync(own, { mode: 0o700 });
    fs.chownSync(own, NOBODY, NOBODY);
    for (const n of ['n0', 'n1'])
      await agent.client.put(`/ports/${n}`, { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(own, `${n}.sock`) });
    const r = await agent.client.put<{ object: GuestState }>('/guests/n0', pingingGuest(NET, 1, 2, ['n0']));
    const cmd = r.object.qemuCommand;
    assert.equal(cmd[cmd.indexOf('-runas') + 1], 'nobody', cmd.join(' '));
    await agent.client.put('/guests/n1', pingingGuest(NET, 2, 1, ['n1']));
    await waitReplies('n0', 2, 3);
    await waitReplies('n1', 1, 3);
    for (const g of ['n0', 'n1']) {
      const pid = (await agent.client.get<GuestState>(`/guests/${g}`)).status!.pid!;
      await waitFor(`${g}'s QEMU runs as nobody`, async () => fs.statSync(`/proc/${pid}`).uid === NOBODY, 10000);
    }
  });
});
