// The real agent's edges (issue 13): a socket another local user bound is never connected to,
// and a directory every user may write is refused unless named insecure on purpose; guests'
// files and hugetlbfs mounts only in the configured directories, block devices refused; stored
// settings the host refuses never keep the agent from starting: it takes the last good ones,
// and says so in the settings, the events and vhostctl show.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AgentError, type VhostUserPortState } from '../../datapath/api';
import { Store } from '../../datapath/agent/store';
import { AgentProcess, waitFor } from '../helpers/agent-process';
import { TestpmdGuest } from '../helpers/testpmd';

const NOBODY = 65534;

/** A unix socket server run as another user, which prints a line for every connection it accepts. */
function foreignServer(p: string): Promise<{ proc: ChildProcess; accepted: () => number }> {
  const py = [
    'import socket,sys',
    's=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)',
    'print("listening", flush=True)',
    'while True:',
    '  c,_=s.accept(); print("accepted", flush=True)',
  ].join('\n');
  const proc = spawn('python3', ['-c', py, p], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return waitFor('the other user listens', async () => out.includes('listening'), 10000).then(() => ({
    proc,
    accepted: () => out.split('\n').filter((l) => l === 'accepted').length,
  }));
}

const refusedWith = async (p: Promise<unknown>, field: string, rule: RegExp) => {
  await assert.rejects(p, (e: AgentError) => {
    const issue = e.issues.find((i) => i.field === field);
    assert.ok(issue, `no issue on ${field}: ${e.message}`);
    assert.match(issue.rule, rule);
    return e.status === 400;
  });
};

describe('57 security: the edges of the agent (real agent, real DPDK)', function () {
  this.timeout(180000);
  let agent: AgentProcess;
  let open: string;
  let wide: string;

  before(async () => {
    const dir = fs.mkdtempSync('/tmp/vhostnet-edges57-');
    fs.chmodSync(dir, 0o711); // other users may pass through to the open directory, as to /tmp
    // A directory every user may write (as /tmp), named insecure on purpose; another one that is not.
    open = path.join(dir, 'open');
    wide = path.join(dir, 'wide');
    for (const d of [open, wide]) {
      fs.mkdirSync(d);
      fs.chmodSync(d, 0o1777);
    }
    agent = await AgentProcess.start({ name: 'edges57', dir, args: ['--insecure-socket-dir', open, '--socket-dir', wide] });
    await agent.client.bridges.put('br0', {});
  });
  after(async () => {
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('a client port in a directory every user may write is refused naming vhostServerPath and the rule; nothing changes', async () => {
    const before = JSON.stringify(await agent.client.get('/state'));
    await refusedWith(
      agent.client.ports.put('wide0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(wide, 'wide0') }),
      'vhostServerPath',
      /must be in a directory only root, the agent or QEMU's user can write: .*wide is writable by every user \(mode 1777\).*--insecure-socket-dir/,
    );
    assert.equal(JSON.stringify(await agent.client.get('/state')), before);
  });

  it("a socket another user bound in an --insecure-socket-dir is never connected to; QEMU's (root's) is", async () => {
    const sock = path.join(open, 'p0');
    await agent.client.ports.put('p0', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: sock });
    const status = async () => ((await agent.client.ports.get('p0')) as VhostUserPortState).status!;
    assert.match((await status()).reason!, /^socket missing: /);
    const other = await foreignServer(sock);
    try {
      await waitFor('the refusal in the status', async () => /^socket refused: .* owned by uid 65534/.test((await status()).reason ?? ''), 10000);
      // DPDK's client retries every second: 3 s give it three chances it must not get.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(other.accepted(), 0, "the datapath connected to another user's socket");
      const shown = await agent.vhostctl('show');
      assert.match(shown.stdout, /socket refused: .*p0 is owned by uid 65534: the socket must be owned by root, the agent or QEMU's user/);
    } finally {
      other.proc.kill('SIGKILL');
    }
    fs.rmSync(sock, { force: true });
    // A guest of root's (testpmd as QEMU with server=on) creates it: the port connects, the link comes up.
    const guest = await TestpmdGuest.start({ name: 'edges57', ports: [{ path: sock, server: true, mac: '02:00:00:00:57:01' }], logDir: agent.dir });
    try {
      await waitFor('the link up', async () => (await status()).link === 'up', 30000);
    } finally {
      await guest.stop();
    }
  });

  it('guest files and hugetlbfs mounts outside the configured directories, and block devices, are refused naming the field; dry run too; nothing changes', async () => {
    const before = JSON.stringify(await agent.client.get('/state'));
    for (const dryRun of [true, false]) {
      await refusedWith(
        agent.client.guests.put('vm0', { memoryMb: 64, accel: 'tcg', boot: { kind: 'disk', image: '/dev/sda' } }, { dryRun }),
        'boot.image',
        /must be inside .* \(--image-dir; \/dev\/sda is not\)/,
      );
      await refusedWith(
        agent.client.guests.put('vm0', { memoryMb: 64, accel: 'tcg', boot: { kind: 'kernel', kernel: '/boot/vmlinuz' }, hugepagesPath: '/etc' }, { dryRun }),
        'hugepagesPath',
        /must be inside \/dev\/hugepages or .*--hugepages-dir/,
      );
      await refusedWith(
        agent.client.hugepages.put('hp', { pages: 0, mountPath: '/etc' }, { dryRun }),
        'mountPath',
        /must be inside \/dev\/hugepages .*--hugepages-dir/,
      );
    }
    assert.equal(JSON.stringify(await agent.client.get('/state')), before);
  });

  it('stored settings the host refuses: the agent starts with the last good ones and says so in the settings, the events and vhostctl show', async () => {
    await agent.client.settings.put({ memoryMb: 128 });
    await agent.stop();
    await agent.launch();
    const good = (await agent.client.settings.get()).running;
    assert.equal(good.memoryMb, 128);
    assert.equal(good.refused, undefined);
    // The store as another host (or a hand) left it: a CPU this host does not have, hugepages it cannot give.
    await agent.stop();
    const store = new Store(path.join(agent.dir, 'state'), { log: () => {} });
    const cur = store.get<Record<string, unknown>>('settings', 'global')!.spec;
    store.put('settings', 'global', { ...cur, pmdCpus: [99], hugepages: 'on', memoryMb: 65536 });
    store.close();
    await agent.launch();
    const s = await agent.client.settings.get();
    assert.deepEqual(s.pmdCpus, [99], 'the refused settings stay stored');
    assert.deepEqual(s.running.pmdCpus, good.pmdCpus);
    assert.equal(s.running.memoryMb, 128);
    assert.equal(s.running.hugepages, good.hugepages);
    assert.deepEqual(
      s.running.refused!.map((r) => r.field),
      ['pmdCpus.0', 'memoryMb'],
    );
    assert.match(s.running.refused![0].rule, /must be a CPU this host has online .*99 is not; the last settings the datapath started with are used/);
    assert.match(s.running.refused![1].rule, /must fit the free hugepages with hugepages 'on' \(65536 MiB asked/);
    const events = (await agent.client.events(0)).events.filter((e) => e.type === 'settings').map((e) => (e as { reason: string }).reason);
    assert.ok(
      events.some((r) => /^stored pmdCpus\.0 refused at start: .*99 is not/.test(r)),
      `events: ${JSON.stringify(events)}`,
    );
    assert.ok(events.some((r) => /^stored memoryMb refused at start: /.test(r)));
    const shown = await agent.vhostctl('show');
    assert.match(shown.stdout, /refused at start: pmdCpus\.0 must be a CPU this host has online/);
    assert.match(shown.stdout, /refused at start: memoryMb must fit the free hugepages/);
    // The API that can undo them is there.
    await agent.client.settings.put({ pmdCpus: [], hugepages: 'auto', memoryMb: 128 });
    await agent.stop();
    await agent.launch();
    assert.equal((await agent.client.settings.get()).running.refused, undefined);
  });
});
