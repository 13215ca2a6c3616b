import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseGuestSpec } from '../../../datapath/api/guest';
import { renderLibvirtXml, cpusetString } from '../../../datapath/agent/guest/libvirt-xml';

const KVM = { accel: 'kvm' as const, reason: '' };
const TCG = { accel: 'tcg' as const, reason: '' };

/** Runs libvirt's own validator (Debian libvirt-clients) against the domain schema. */
function validate(xml: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhn-xml-'));
  const f = path.join(dir, 'domain.xml');
  fs.writeFileSync(f, xml);
  try {
    execFileSync('virt-xml-validate', [f, 'domain'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    assert.fail(`virt-xml-validate refused:\n${err.stderr}${err.stdout}\n${xml}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('guest/libvirt-xml (validated by virt-xml-validate)', function () {
  before(function () {
    try {
      execFileSync('which', ['virt-xml-validate']);
    } catch {
      this.skip();
    }
    try {
      execFileSync('which', ['xmllint']);
    } catch {
      throw new Error('virt-xml-validate needs xmllint: apt-get install libxml2-utils');
    }
  });

  it("the guide's sample: disk boot, pinning, two multiqueue vhost-user client ports, DPDK guest", () => {
    const spec = parseGuestSpec({
      name: 'demovm',
      vcpus: 2,
      memoryMb: 4096,
      boot: { kind: 'disk', image: '/root/CentOS7_x86_64.qcow2' },
      machine: 'pc',
      dpdkGuest: true,
      pinning: { vcpus: [[4], [5]], emulator: [4, 5] },
      nics: [
        { name: 'eth0', socketPath: '/usr/local/var/run/openvswitch/dpdkvhostuser0', portMode: 'server', mac: '00:00:00:00:00:01', queues: 2 },
        { name: 'eth1', socketPath: '/tmp/dpdkvhostclient0', portMode: 'client', mac: '00:00:00:00:00:02', queues: 2 },
      ],
    });
    const { xml } = renderLibvirtXml(spec, { accel: KVM });
    validate(xml);
    assert.match(xml, /<domain type='kvm'>/);
    assert.match(xml, /<hugepages>\s*<page size='2' unit='M' nodeset='0'\/>/);
    assert.match(xml, /<vcpupin vcpu='0' cpuset='4'\/>\s*<vcpupin vcpu='1' cpuset='5'\/>\s*<emulatorpin cpuset='4-5'\/>/);
    assert.match(xml, /<cell id='0' cpus='0-1' memory='4194304' unit='KiB' memAccess='shared'\/>/);
    // libvirt's mode is QEMU's role: a datapath server port means QEMU is the client, and back.
    assert.match(xml, /path='\/usr\/local\/var\/run\/openvswitch\/dpdkvhostuser0' mode='client'\/>/);
    assert.match(xml, /path='\/tmp\/dpdkvhostclient0' mode='server'\/>/);
    assert.match(xml, /<driver queues='2'>\s*<host mrg_rxbuf='on'\/>\s*<\/driver>/);
    assert.match(xml, /<source file='\/root\/CentOS7_x86_64.qcow2'\/>/);
  });

  it('TCG, kernel boot, console to a file, IOMMU, escaping', () => {
    const spec = parseGuestSpec({
      name: 'vm1',
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.gz', append: 'quiet x=<&>' },
      nics: [{ name: 'eth0', socketPath: "/run/p0'&.sock", mac: '52:54:00:00:00:01', iommu: true, mrgRxbuf: false }],
    });
    const { xml, notes } = renderLibvirtXml(spec, { accel: TCG, consoleLog: '/var/log/vm1.log' });
    validate(xml);
    assert.match(xml, /<domain type='qemu'>/);
    assert.match(xml, /<cmdline>console=ttyS0 quiet x=&lt;&amp;&gt;<\/cmdline>/);
    assert.match(xml, /path='\/run\/p0&apos;&amp;.sock'/);
    assert.match(xml, /<iommu model='intel'>/);
    assert.match(xml, /<driver iommu='on' ats='on'>\s*<host mrg_rxbuf='off'\/>/);
    assert.match(xml, /<serial type='file'>\s*<source path='\/var\/log\/vm1.log'\/>/);
    assert.ok(notes.some((n) => /vectors/.test(n)));
  });

  it("a NIC's MTU is <mtu size>, guestTso=false turns the guest's offloads off", () => {
    const spec = parseGuestSpec({
      name: 'vm1',
      boot: { kind: 'kernel', kernel: '/img/vmlinuz' },
      nics: [{ name: 'eth0', socketPath: '/run/p0.sock', mac: '52:54:00:00:00:01', mtu: 1450, guestTso: false, mrgRxbuf: false }],
    });
    const { xml } = renderLibvirtXml(spec, { accel: KVM });
    validate(xml);
    assert.match(xml, /<mtu size='1450'\/>/);
    assert.match(xml, /<driver>\s*<host mrg_rxbuf='off'\/>\s*<guest tso4='off' tso6='off' ufo='off'\/>\s*<\/driver>/);
  });

  it('a guest without NICs or pinning is valid too', () => {
    validate(renderLibvirtXml(parseGuestSpec({ name: 'bare', boot: { kind: 'kernel', kernel: '/k' } }), { accel: KVM }).xml);
  });

  it('cpuset ranges', () => {
    assert.equal(cpusetString([5, 1, 2, 3, 8, 9]), '1-3,5,8-9');
    assert.equal(cpusetString([0]), '0');
  });
});
