// Builds QEMU's argv for a GuestVM, following the OVS-DPDK "vHost User Ports" guide.
// The argv is an array built from validated fields and is exec'd directly: never a shell.
import type { GuestSpec, GuestNicSpec } from '../../api/guest';
import { qemuNicArgs } from '../../api/qemu-nic';
import type { AccelChoice } from './accel';
import type { GuestPaths } from './paths';

export interface QemuCommand {
  binary: string;
  /** Arguments after the binary. */
  argv: string[];
  /** Choices the agent made that a user should know about (accel, vectors=0, console=ttyS0...). */
  notes: string[];
}

export interface QemuArgvContext {
  accel: AccelChoice;
  paths: Pick<GuestPaths, 'qmpSocket' | 'pidFile' | 'consoleLog'>;
  /** Default qemu-system-x86_64. */
  qemuBinary?: string;
  /** The user QEMU drops to once it has opened its files and sockets (-runas), if not root. */
  runAs?: string;
}

/** QEMU option values are comma-separated key=value lists; a literal comma is written ",,". */
export function qemuOptValue(v: string): string {
  return v.replace(/,/g, ',,');
}

export function chardevId(nic: Pick<GuestNicSpec, 'name'>): string {
  return `char-${nic.name}`; // as qemuNicArgs names it
}
export function netdevId(nic: Pick<GuestNicSpec, 'name'>): string {
  return `net-${nic.name}`;
}

/** mrg_rxbuf for a NIC: forced on for DPDK guests (virtio vectorized-Rx bug), else as asked. */
export function mrgRxbufFor(spec: Pick<GuestSpec, 'dpdkGuest'>, nic: Pick<GuestNicSpec, 'mrgRxbuf'>): boolean | undefined {
  return spec.dpdkGuest ? true : nic.mrgRxbuf;
}

export function buildQemuArgv(spec: GuestSpec, ctx: QemuArgvContext): QemuCommand {
  const notes: string[] = [ctx.accel.reason];
  const tcg = ctx.accel.accel === 'tcg';
  const iommu = spec.nics.some((n) => n.iommu);
  const a: string[] = [];

  // debug-threads names vCPU threads ("CPU 0/TCG"), which helps anyone inspecting pinning.
  a.push('-name', `guest=${spec.name},debug-threads=on`);
  let machine = `${spec.machine},accel=${ctx.accel.accel}`;
  // Interrupt remapping with an in-kernel irqchip needs it split (KVM only).
  if (iommu && !tcg) machine += ',kernel-irqchip=split';
  a.push('-machine', machine);
  a.push('-cpu', tcg ? 'max' : 'host');
  a.push('-smp', String(spec.vcpus));
  a.push('-m', String(spec.memoryMb));
  // vhost-user maps guest memory into the datapath: it must be a shared file on hugetlbfs.
  a.push(
    '-object',
    `memory-backend-file,id=mem,size=${spec.memoryMb}M,mem-path=${qemuOptValue(spec.hugepagesPath)},share=on`,
    '-numa',
    'node,memdev=mem',
    '-mem-prealloc',
  );
  a.push('-nodefaults', '-no-user-config', '-display', 'none', '-nographic');
  a.push('-serial', `file:${ctx.paths.consoleLog}`);
  a.push('-chardev', `socket,id=qmp,path=${qemuOptValue(ctx.paths.qmpSocket)},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control');
  a.push('-pidfile', ctx.paths.pidFile);
  // QEMU 7.2 has no -run-with user=; -runas drops to the user after start-up, so the files above,
  // the hugepage file and the vhost-user sockets are opened (and created) as root first.
  if (ctx.runAs) a.push('-runas', ctx.runAs);

  if (spec.boot.kind === 'disk') {
    a.push('-drive', `file=${qemuOptValue(spec.boot.image)},format=${spec.boot.format},if=virtio`);
  } else {
    a.push('-kernel', spec.boot.kernel);
    if (spec.boot.initrd) a.push('-initrd', spec.boot.initrd);
    let append = spec.boot.append;
    if (!/(^|\s)console=/.test(append)) {
      append = `console=ttyS0${append ? ' ' + append : ''}`;
      notes.push("boot.append: added console=ttyS0 so the console log gets the kernel's output");
    }
    a.push('-append', append);
  }

  if (iommu) {
    // Must precede the devices it translates for.
    a.push('-device', 'intel-iommu,intremap=on,device-iotlb=on');
  }

  if (tcg && spec.nics.length > 0) {
    notes.push('nics: virtio-net-pci vectors=0 under TCG (QEMU 7.2 crashes in vhost_net_start/msix_set_vector_notifiers otherwise); the guest uses INTx');
  }
  if (spec.dpdkGuest && spec.nics.length > 0) {
    notes.push('dpdkGuest: mrg_rxbuf=on on every NIC (virtio vectorized-Rx bug)');
  }
  for (const nic of spec.nics) {
    // The same NIC arguments the port's outputs show (api/qemu-nic), so the two never disagree.
    // Client port: the datapath connects, so QEMU is the server. Server port (deprecated): QEMU connects.
    const nicArgs = qemuNicArgs({
      id: nic.name,
      socketPath: qemuOptValue(nic.socketPath),
      qemuIsServer: nic.portMode === 'client',
      mac: nic.mac.toLowerCase(),
      queues: nic.queues,
      mrgRxbuf: mrgRxbufFor(spec, nic),
      guestTso: nic.guestTso,
      mtu: nic.mtu,
      vectors: tcg ? 0 : undefined,
    });
    // iommu_platform is a modern-virtio feature: QEMU refuses it on a transitional device.
    if (nic.iommu) nicArgs[nicArgs.length - 1] += ',disable-legacy=on,iommu_platform=on,ats=on';
    a.push(...nicArgs);
  }

  return { binary: ctx.qemuBinary ?? 'qemu-system-x86_64', argv: a, notes };
}
