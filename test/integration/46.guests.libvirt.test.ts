// GuestVMs with backend 'libvirt': real libvirtd (scripts/setup.sh starts it) defines and starts
// real QEMU guests whose NICs are the agent's vhost-user ports; they ping each other through the
// datapath, and deleting the GuestVMs undefines their domains.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentError, PortState } from '../../datapath/api';
import type { GuestVmState as GuestState } from '../../datapath/api';
import { LibvirtBackend } from '../../datapath/agent/guest/libvirt-backend';
import { AgentProcess } from '../helpers/agent-process';
import { guestPings, pingingGuest } from '../helpers/qemu-guest';

const NET = '169.254.101';
const virsh = (...args: string[]) => execFileSync('virsh', ['-q', '-c', 'qemu:///system', ...args], { encoding: 'utf8' }).trim();
const domains = () => virsh('list', '--all', '--name').split('\n').filter(Boolean);

// As test 40's guests, run by libvirt.
const guestBody = (ip: number, peer: number, ports: string[], extra: object = {}) => pingingGuest(NET, ip, peer, ports, { backend: 'libvirt', ...extra });

describe('46 guests: GuestVMs with the libvirt backend, defined and started through libvirtd', function () {
  this.timeout(300000);
  let agent: AgentProcess;
  const names = ['lvt0', 'lvt1'];
  const { replies, waitReplies } = guestPings(() => agent.client, NET, 120000);
  const clientPort = (name: string) => ({ bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(agent.dir, 'vm', `${name}.sock`) });

  before(async () => {
    // Leftovers of an interrupted run would make the names clash.
    for (const n of names.filter((d) => domains().includes(d))) {
      try {
        virsh('destroy', n);
      } catch {
        /* not running */
      }
      virsh('undefine', n);
    }
    agent = await AgentProcess.start({ name: 'libvirt' });
    await agent.client.put('/bridges/br0', {});
  });
  after(async () => {
    await agent?.deleteGuests();
    await agent?.stop();
    if (agent) fs.rmSync(agent.dir, { recursive: true, force: true });
  });

  it('two libvirt guests on one bridge ping each other; virsh list shows them', async () => {
    await agent.client.put('/ports/lvt0p', clientPort('lvt0p'));
    await agent.client.put('/ports/lvt1p', clientPort('lvt1p'));
    const r = await agent.client.put<{ object: GuestState }>('/guests/lvt0', guestBody(1, 2, ['lvt0p']));
    assert.equal(r.object.backend, 'libvirt');
    assert.match(r.object.libvirtXml, /<qemu:property name='vectors' type='unsigned' value='0'\/>/, 'vectors=0 under TCG through qemu:override');
    await agent.client.put('/guests/lvt1', guestBody(2, 1, ['lvt1p']));
    const listed = virsh('list', '--name').split('\n');
    for (const n of names) {
      assert.ok(listed.includes(n), `virsh list shows ${n}: ${listed.join(' ')}`);
      assert.equal(virsh('domstate', n), 'running');
      const g = await agent.client.get<GuestState>(`/guests/${n}`);
      assert.equal(g.status!.state, 'running');
      assert.equal(g.status!.pid, Number(fs.readFileSync(`/run/libvirt/qemu/${n}.pid`, 'utf8')), "the pid of libvirt's QEMU");
      // QEMU 7.2 under TCG crashes without it: the override must reach the real command line.
      assert.match(fs.readFileSync(`/proc/${g.status!.pid}/cmdline`, 'utf8'), /"driver":"virtio-net-pci".*"vectors":0/);
    }
    await waitReplies('lvt0', 2, 3);
    await waitReplies('lvt1', 1, 3);
    const p = await agent.client.get<PortState>('/ports/lvt0p');
    assert.equal(p.status!.link, 'up');
    assert.ok(p.status!.stats.rxPackets > 0 && p.status!.stats.txPackets > 0);
  });

  it('after an agent SIGKILL and restart the libvirt guests are found again, not started twice', async () => {
    const pids = (await agent.client.get<GuestState[]>('/guests')).map((g) => g.status!.pid);
    const r0 = await replies('lvt0', 2);
    await agent.kill('SIGKILL');
    await agent.launch();
    const after = await agent.client.get<GuestState[]>('/guests');
    assert.deepEqual(
      after.map((g) => g.status!.pid),
      pids,
      'the same QEMU processes',
    );
    assert.ok(
      after.every((g) => g.status!.adopted),
      'found through virsh domstate',
    );
    await waitReplies('lvt0', 2, r0 + 3, 60000);
  });

  it('where no libvirtd answers, backend libvirt is refused naming the field, and nothing starts', async () => {
    assert.equal(await new LibvirtBackend().unavailable(), undefined, 'setup.sh started libvirtd');
    // An agent whose libvirt connection (libvirt's own LIBVIRT_DEFAULT_URI) leads nowhere.
    const uri = 'qemu+unix:///system?socket=/nonexistent/libvirt-sock';
    const saved = process.env.LIBVIRT_DEFAULT_URI;
    process.env.LIBVIRT_DEFAULT_URI = uri;
    let lone: AgentProcess | undefined;
    try {
      lone = await AgentProcess.start({ name: 'nolibvirt' });
    } finally {
      if (saved === undefined) delete process.env.LIBVIRT_DEFAULT_URI;
      else process.env.LIBVIRT_DEFAULT_URI = saved;
    }
    try {
      await lone.client.put('/bridges/br0', {});
      await lone.client.put('/ports/nlp', { bridge: 'br0', type: 'dpdkvhostuserclient', vhostServerPath: path.join(lone.dir, 'vm', 'nlp.sock') });
      for (const q of ['?dryRun=true', ''])
        await assert.rejects(lone.client.put('/guests/nolv', guestBody(9, 1, ['nlp']), q), (e: AgentError) => {
          assert.equal(e.status, 400);
          const i = e.issues.find((x) => x.field === 'backend');
          assert.match(i?.rule ?? '', /^must be 'qemu' where no libvirtd answers: no libvirtd answers at qemu\+unix/);
          return true;
        });
      assert.deepEqual(await lone.client.get('/guests'), []);
      assert.ok(!domains().includes('nolv'));
    } finally {
      await lone.stop();
      fs.rmSync(lone.dir, { recursive: true, force: true });
    }
  });

  it('refuses a backend it does not know, naming the field', async () => {
    await assert.rejects(agent.client.put('/guests/bad', { ...guestBody(9, 1, []), backend: 'xen' }), (e: AgentError) => {
      assert.equal(e.status, 400);
      return e.issues.some((i) => i.field === 'backend' && /must be 'qemu' or 'libvirt'/.test(i.rule));
    });
    assert.ok(!domains().includes('bad'));
  });

  it('deleting the GuestVMs destroys and undefines their domains', async () => {
    const pid = (await agent.client.get<GuestState>('/guests/lvt0')).status!.pid!;
    for (const n of names) await agent.client.delete(`/guests/${n}`);
    for (const n of names) assert.ok(!domains().includes(n), `${n} is undefined`);
    assert.ok(!fs.existsSync(`/proc/${pid}`) || /\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')), 'QEMU is gone');
  });
});
