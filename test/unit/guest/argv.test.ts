import { strict as assert } from 'node:assert';
import { parseGuestSpec, GuestSpecInput } from '../../../datapath/api/guest';
import { buildQemuArgv, qemuOptValue } from '../../../datapath/agent/guest/argv';
import type { AccelChoice } from '../../../datapath/agent/guest/accel';
import { guestPaths } from '../../../datapath/agent/guest/paths';

const TCG: AccelChoice = { accel: 'tcg', reason: 'accel: tcg as requested' };
const KVM: AccelChoice = { accel: 'kvm', reason: 'accel: kvm as requested' };
const paths = guestPaths('/run/vhostnet/guests', 'vm1');

function spec(over: Partial<GuestSpecInput> = {}) {
  return parseGuestSpec({
    name: 'vm1',
    boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.gz', append: 'quiet' },
    nics: [{ name: 'eth0', socketPath: '/run/vhostnet/p0.sock', mac: '52:54:00:AA:00:01' }],
    ...over,
  });
}

/** The value following a flag, for each occurrence. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((x, i) => (x === flag ? [argv[i + 1]] : []));
}

describe('guest/argv', () => {
  it("builds the guide's command line for a client port under TCG", () => {
    const c = buildQemuArgv(spec(), { accel: TCG, paths });
    assert.equal(c.binary, 'qemu-system-x86_64');
    assert.deepEqual(c.argv, [
      '-name',
      'guest=vm1,debug-threads=on',
      '-machine',
      'q35,accel=tcg',
      '-cpu',
      'max',
      '-smp',
      '1',
      '-m',
      '256',
      '-object',
      'memory-backend-file,id=mem,size=256M,mem-path=/dev/hugepages,share=on',
      '-numa',
      'node,memdev=mem',
      '-mem-prealloc',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-nographic',
      '-serial',
      'file:/run/vhostnet/guests/vm1/console.log',
      '-chardev',
      'socket,id=qmp,path=/run/vhostnet/guests/vm1/qmp.sock,server=on,wait=off',
      '-mon',
      'chardev=qmp,mode=control',
      '-pidfile',
      '/run/vhostnet/guests/vm1/qemu.pid',
      '-kernel',
      '/img/vmlinuz',
      '-initrd',
      '/img/initrd.gz',
      '-append',
      'console=ttyS0 quiet',
      '-chardev',
      'socket,id=char-eth0,path=/run/vhostnet/p0.sock,server=on',
      '-netdev',
      'type=vhost-user,id=net-eth0,chardev=char-eth0,vhostforce=on',
      '-device',
      'virtio-net-pci,mac=52:54:00:aa:00:01,netdev=net-eth0,vectors=0',
    ]);
    assert.ok(c.notes.some((n) => /vectors=0 under TCG/.test(n)));
    assert.ok(c.notes.some((n) => /console=ttyS0/.test(n)));
    assert.equal(c.notes[0], TCG.reason);
  });

  it('server port (deprecated): QEMU connects, no server=on', () => {
    const s = spec({ nics: [{ name: 'eth0', socketPath: '/run/p.sock', portMode: 'server', mac: '52:54:00:00:00:01' }] });
    const ch = values(buildQemuArgv(s, { accel: TCG, paths }).argv, '-chardev');
    assert.equal(ch[1], 'socket,id=char-eth0,path=/run/p.sock');
  });

  it('multiqueue under KVM: queues=q, mq=on, vectors=2q+2, -cpu host', () => {
    const s = spec({ nics: [{ name: 'eth0', socketPath: '/run/p.sock', mac: '52:54:00:00:00:01', queues: 4 }] });
    const c = buildQemuArgv(s, { accel: KVM, paths });
    assert.deepEqual(values(c.argv, '-netdev'), ['type=vhost-user,id=net-eth0,chardev=char-eth0,vhostforce=on,queues=4']);
    assert.deepEqual(values(c.argv, '-device'), ['virtio-net-pci,mac=52:54:00:00:00:01,netdev=net-eth0,mq=on,vectors=10']);
    assert.deepEqual(values(c.argv, '-cpu'), ['host']);
    assert.deepEqual(values(c.argv, '-machine'), ['q35,accel=kvm']);
    assert.ok(!c.notes.some((n) => /vectors=0/.test(n)));
  });

  it('multiqueue under TCG keeps vectors=0', () => {
    const s = spec({ nics: [{ name: 'eth0', socketPath: '/run/p.sock', mac: '52:54:00:00:00:01', queues: 2 }] });
    assert.deepEqual(values(buildQemuArgv(s, { accel: TCG, paths }).argv, '-device'), ['virtio-net-pci,mac=52:54:00:00:00:01,netdev=net-eth0,mq=on,vectors=0']);
  });

  it('dpdkGuest turns mrg_rxbuf=on and says why; explicit mrgRxbuf otherwise', () => {
    const c = buildQemuArgv(spec({ dpdkGuest: true }), { accel: TCG, paths });
    assert.match(values(c.argv, '-device')[0], /,mrg_rxbuf=on$/);
    assert.ok(c.notes.some((n) => /dpdkGuest: mrg_rxbuf=on/.test(n)));
    const off = spec({ nics: [{ name: 'eth0', socketPath: '/run/p.sock', mac: '52:54:00:00:00:01', mrgRxbuf: false }] });
    assert.match(values(buildQemuArgv(off, { accel: TCG, paths }).argv, '-device')[0], /,mrg_rxbuf=off$/);
  });

  it('a NIC carries the port MTU as host_mtu, and guestTso=false turns off the guest offloads', () => {
    const s = spec({ nics: [{ name: 'eth0', socketPath: '/run/p.sock', mac: '52:54:00:00:00:01', mtu: 1450, guestTso: false }] });
    assert.match(values(buildQemuArgv(s, { accel: TCG, paths }).argv, '-device')[0], /,guest_tso4=off,guest_tso6=off,guest_ufo=off,host_mtu=1450$/);
    assert.doesNotMatch(values(buildQemuArgv(spec(), { accel: TCG, paths }).argv, '-device')[0], /host_mtu|guest_tso/);
  });

  it('vhost IOMMU: intel-iommu before the NIC, iommu_platform+ats, split irqchip under KVM', () => {
    const s = spec({ nics: [{ name: 'eth0', socketPath: '/run/p.sock', mac: '52:54:00:00:00:01', iommu: true }] });
    const c = buildQemuArgv(s, { accel: KVM, paths });
    const devs = values(c.argv, '-device');
    assert.deepEqual(devs, [
      'intel-iommu,intremap=on,device-iotlb=on',
      'virtio-net-pci,mac=52:54:00:00:00:01,netdev=net-eth0,disable-legacy=on,iommu_platform=on,ats=on',
    ]);
    assert.deepEqual(values(c.argv, '-machine'), ['q35,accel=kvm,kernel-irqchip=split']);
  });

  it('disk boot, pc machine, several vCPUs, memory size, hugepage path', () => {
    const s = spec({ boot: { kind: 'disk', image: '/img/vm.qcow2' }, machine: 'pc', vcpus: 2, memoryMb: 1024, hugepagesPath: '/mnt/huge' });
    const c = buildQemuArgv(s, { accel: TCG, paths, qemuBinary: '/opt/qemu/bin/qemu-system-x86_64' });
    assert.equal(c.binary, '/opt/qemu/bin/qemu-system-x86_64');
    assert.deepEqual(values(c.argv, '-drive'), ['file=/img/vm.qcow2,format=qcow2,if=virtio']);
    assert.deepEqual(values(c.argv, '-smp'), ['2']);
    assert.deepEqual(values(c.argv, '-object'), ['memory-backend-file,id=mem,size=1024M,mem-path=/mnt/huge,share=on']);
    assert.ok(!c.argv.includes('-kernel'));
  });

  it('keeps an explicit console= and escapes commas in option values', () => {
    const s = spec({
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', append: 'console=hvc0' },
      nics: [{ name: 'eth0', socketPath: '/run/a,b.sock', mac: '52:54:00:00:00:01' }],
    });
    const c = buildQemuArgv(s, { accel: TCG, paths });
    assert.deepEqual(values(c.argv, '-append'), ['console=hvc0']);
    assert.equal(values(c.argv, '-chardev')[1], 'socket,id=char-eth0,path=/run/a,,b.sock,server=on');
    assert.equal(qemuOptValue('x,y,,z'), 'x,,y,,,,z');
  });

  it('a shell metacharacter stays one argv element (no shell anywhere)', () => {
    const s = spec({ boot: { kind: 'kernel', kernel: '/img/vmlinuz', append: 'quiet; rm -rf / $(reboot)' } });
    assert.deepEqual(values(buildQemuArgv(s, { accel: TCG, paths }).argv, '-append'), ['console=ttyS0 quiet; rm -rf / $(reboot)']);
  });
});
