// Real QEMU guests (TCG, Debian cloud kernel, busybox initramfs) on the agent's datapath,
// started and supervised by the agent through its API.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentError, VhostUserPortState } from '../../datapath/api';
import type { GuestVmState as GuestState } from '../../datapath/api';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { freeHugepages, guestPings, pingingGuest, readConsole } from '../helpers/qemu-guest';

const NET = '169.254.100';

const guestBody = (ip: number, peer: number, ports: string[], extra: object = {}) => pingingGuest(NET, ip, peer, ports, extra);

describe('40 guests: QEMU guests on the datapath, through the agent', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  const { consoleOf, replies, waitReplies } = guestPings(() => agent.client, NET);
  const clientPort = (name: string, extra: object = {}) => ({
    bridge: 'br0',
    type: 'dpdkvhostuserclient',
    vhostServerPath: path.join(agent.dir, 'vm', `${name}.sock`),
    ...extra,
  });

  before(async () => {
    agent = await AgentProcess.start({ name: 'guests' });
    await agent.client.put('/bridges/br0', {});
  });
  after(async () => {
    await agent?.deleteGuests();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('two guests on one bridge over vhost-user client ports ping each other both ways', async () => {
    await agent.client.put('/ports/vm0p', clientPort('vm0p'));
    await agent.client.put('/ports/vm1p', clientPort('vm1p'));
    const r = await agent.client.put<{ object: GuestState }>('/guests/vm0', guestBody(1, 2, ['vm0p']));
    assert.ok(
      r.object.qemuCommand.some((a) => /^socket,id=char-vm0p,path=.*vm0p\.sock,server=on$/.test(a)),
      r.object.qemuCommand.join(' '),
    );
    assert.ok(
      r.object.qemuCommand.some((a) => a.includes('vectors=0')),
      'vectors=0 under TCG',
    );
    assert.ok(r.object.notes.some((n) => /vectors=0/.test(n)));
    assert.match(r.object.libvirtXml, /<interface type='vhostuser'>/);
    await agent.client.put('/guests/vm1', guestBody(2, 1, ['vm1p']));
    await waitReplies('vm0', 2, 3);
    await waitReplies('vm1', 1, 3);
    const p = await agent.client.get<VhostUserPortState>('/ports/vm0p');
    assert.equal(p.status!.link, 'up');
    // QEMU must hold no descriptor of the agent's: an inherited copy of the datapath's end of a
    // vhost-user socket keeps the connection open after the agent dies, and QEMU never reconnects.
    const sockets = (pid: number) =>
      new Set(
        fs
          .readdirSync(`/proc/${pid}/fd`)
          .map((f) => {
            try {
              return fs.readlinkSync(`/proc/${pid}/fd/${f}`);
            } catch {
              return '';
            }
          })
          .filter((l) => /^socket:|memfd/.test(l)),
      );
    const mine = sockets(agent.proc!.pid!);
    for (const g of await agent.client.get<GuestState[]>('/guests'))
      assert.deepEqual(
        [...sockets(g.status!.pid!)].filter((l) => mine.has(l)),
        [],
        `QEMU of ${g.name} holds the agent's descriptors`,
      );
    assert.ok(p.status!.stats.rxPackets > 0 && p.status!.stats.txPackets > 0);
  });

  it('SIGKILL of the agent while they ping, then a restart: pings resume and the guests were not rebooted', async () => {
    const before = await agent.client.get<GuestState[]>('/guests');
    const pids = before.map((g) => g.status!.pid);
    // Each guest's own count before the kill: "resumed" is 3 more replies than that guest had.
    const r0 = await replies('vm0', 2);
    const r1 = await replies('vm1', 1);
    await agent.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 1000));
    await agent.launch();
    const after = await agent.client.get<GuestState[]>('/guests');
    assert.deepEqual(
      after.map((g) => g.status!.pid),
      pids,
      'the same QEMU processes',
    );
    assert.ok(
      after.every((g) => g.status!.adopted),
      'found again, not started twice',
    );
    await waitReplies('vm0', 2, r0 + 3, 60000);
    await waitReplies('vm1', 1, r1 + 3, 60000);
    const log = readConsole(await consoleOf('vm0'));
    assert.equal((log.match(/VHOSTNET-READY/g) ?? []).length, 1, 'booted once');
    const beats = [...log.matchAll(/VHOSTNET-HEARTBEAT (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(
      beats.every((b, i) => i === 0 || b >= beats[i - 1]),
      'the guest uptime never went back',
    );
  });

  it('a guest killed from outside is reported crashed, with the reason and its last console lines', async () => {
    const g = await agent.client.get<GuestState>('/guests/vm1');
    process.kill(g.status!.pid!, 'SIGKILL');
    const s = await waitFor('vm1 crashed', async () => {
      const x = await agent.client.get<GuestState>('/guests/vm1');
      return x.status!.state === 'crashed' && x;
    });
    // A guest the agent adopted after its restart is not its child: the exit status is unknown then.
    assert.match(s.status!.exitReason!, /SIGKILL|signal|exited|disappeared/);
    assert.ok(s.status!.lastConsoleLines!.length > 0);
  });

  it('deleting a GuestVM stops its QEMU and frees its hugepages', async () => {
    const pid = (await agent.client.get<GuestState>('/guests/vm0')).status!.pid!;
    const free0 = freeHugepages();
    await agent.client.delete('/guests/vm0');
    await agent.client.delete('/guests/vm1');
    // An orphaned QEMU that exited may linger as a zombie (this machine's PID 1 does not reap).
    assert.ok(!fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), 'QEMU is gone');
    await waitFor('hugepages freed', async () => freeHugepages() >= free0 + 128, 10000);
  });

  it('a GuestVM asking for more memory than the hugepages hold is refused with the numbers, and nothing starts', async () => {
    const state = JSON.stringify(await agent.client.get('/state'));
    const free = freeHugepages() * 2;
    await assert.rejects(agent.client.put('/guests/huge', guestBody(9, 1, ['vm0p'], { memoryMb: 65536 })), (e: AgentError) => {
      assert.equal(e.status, 400);
      const i = e.issues.find((x) => x.field === 'memoryMb')!;
      assert.match(i.rule, new RegExp(`needs 65536 MiB, ${free} MiB are free`));
      return true;
    });
    assert.equal(JSON.stringify(await agent.client.get('/state')), state);
    assert.ok(!fs.existsSync(path.join(agent.dir, 'state', 'guests', 'huge')), 'no QEMU was started');
  });

  it('refuses NICs that cannot pair with their port, naming the field', async () => {
    const bad = [
      [{ port: 'vm0p', socketPath: '/tmp/elsewhere.sock' }, 'nics.0.socketPath'],
      [{ port: 'vm0p', portMode: 'server' }, 'nics.0.portMode'],
      [{ port: 'vm0p', queues: 2 }, 'nics.0.queues'],
      [{ port: 'nope' }, 'nics.0.port'],
    ] as const;
    const state = JSON.stringify(await agent.client.get('/state'));
    for (const [nic, field] of bad)
      await assert.rejects(agent.client.put('/guests/bad', { ...guestBody(9, 1, []), nics: [nic] }), (e: AgentError) => {
        assert.equal(e.status, 400, `${JSON.stringify(nic)}: ${e.message}`);
        assert.ok(
          e.issues.some((i) => i.field === field),
          `${JSON.stringify(nic)}: expected ${field} among ${JSON.stringify(e.issues)}`,
        );
        return true;
      });
    // The NIC that does pair is accepted: the dry run plans the guest on vm0p's socket and starts nothing.
    const ok = await agent.client.put<{ dryRun: boolean; changes: { op: string }[]; object: GuestState }>(
      '/guests/first',
      { ...guestBody(7, 8, ['vm0p']) },
      '?dryRun=true',
    );
    assert.equal(ok.dryRun, true);
    assert.deepEqual(
      ok.changes.map((c) => c.op),
      ['create'],
    );
    assert.ok(
      ok.object.qemuCommand.some((a) => /^socket,id=char-vm0p,path=.*vm0p\.sock,server=on$/.test(a)),
      ok.object.qemuCommand.join(' '),
    );
    assert.equal(JSON.stringify(await agent.client.get('/state')), state, 'nothing changed');
    assert.ok(!fs.existsSync(path.join(agent.dir, 'state', 'guests', 'first')), 'no QEMU was started');
  });

  it('two guests over deprecated server ports ping each other', async () => {
    await agent.client.put('/ports/vm2s', { bridge: 'br0', type: 'dpdkvhostuser' });
    await agent.client.put('/ports/vm3s', { bridge: 'br0', type: 'dpdkvhostuser' });
    const r = await agent.client.put<{ object: GuestState }>('/guests/vm2', guestBody(3, 4, ['vm2s']));
    assert.ok(
      r.object.qemuCommand.some((a) => /^socket,id=char-vm2s,path=[^,]*vm2s$/.test(a)),
      'QEMU connects as the client',
    );
    await agent.client.put('/guests/vm3', guestBody(4, 3, ['vm3s']));
    await waitReplies('vm2', 4, 3);
    await waitReplies('vm3', 3, 3);
    await agent.client.delete('/guests/vm2');
    await agent.client.delete('/guests/vm3');
  });

  it('a guest with queues=2 and 2 vCPUs passes traffic on both queue pairs', async () => {
    await agent.client.put('/ports/mq0', clientPort('mq0', { queues: 2 }));
    await agent.client.put('/ports/mq1', clientPort('mq1', { queues: 2 }));
    await agent.client.put('/guests/mqa', guestBody(5, 6, ['mq0'], { vcpus: 2 }));
    await agent.client.put('/guests/mqb', guestBody(6, 5, ['mq1'], { vcpus: 2 }));
    await waitReplies('mqa', 6, 6, 120000);
    const p = await agent.client.get<VhostUserPortState>('/ports/mq0');
    assert.equal(p.status!.queuePairs, 2);
    assert.ok(p.status!.features.negotiatedNames.includes('mq'));
    const rx = p.status!.queues.map((q) => q.rxPackets);
    assert.ok(rx.length === 2 && rx[0] > 0 && rx[1] > 0, `per-queue rx from the guest: ${rx}`);
    // egress follows the ingress queue pair: with one PMD each guest still receives on both
    for (const name of ['mq0', 'mq1']) {
      const tx = (await agent.client.get<VhostUserPortState>(`/ports/${name}`)).status!.queues.map((q) => q.txPackets);
      assert.ok(tx.length === 2 && tx[0] > 0 && tx[1] > 0, `${name}: per-queue tx to the guest: ${tx}`);
    }
  });
});
