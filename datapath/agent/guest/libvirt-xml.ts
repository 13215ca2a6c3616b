// Renders the libvirt domain XML equivalent to buildQemuArgv's command line, shaped like the
// sample in the OVS-DPDK "vHost User Ports" guide, for users who run guests under libvirt.
import type { GuestSpec } from '../../api/guest';
import type { AccelChoice } from './accel';
import { mrgRxbufFor } from './argv';

export interface LibvirtXmlOptions {
  accel: AccelChoice;
  /** Serial console log file; omitted: a pty console as in the guide. */
  consoleLog?: string;
  emulator?: string;
}

export interface LibvirtDomain {
  xml: string;
  notes: string[];
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** "0,1,2,5" -> "0-2,5" (libvirt cpuset syntax; plain lists are valid too, ranges are just shorter). */
export function cpusetString(cpus: number[]): string {
  const s = [...new Set(cpus)].sort((x, y) => x - y);
  const parts: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

export function renderLibvirtXml(spec: GuestSpec, opts: LibvirtXmlOptions): LibvirtDomain {
  const e = xmlEscape;
  const notes: string[] = [];
  const kib = spec.memoryMb * 1024;
  const tcg = opts.accel.accel === 'tcg';
  const iommu = spec.nics.some((n) => n.iommu);
  const L: string[] = [];
  L.push(`<domain type='${tcg ? 'qemu' : 'kvm'}'>`);
  L.push(`  <name>${e(spec.name)}</name>`);
  L.push(`  <memory unit='KiB'>${kib}</memory>`);
  L.push(`  <currentMemory unit='KiB'>${kib}</currentMemory>`);
  // vhost-user needs guest RAM on shared hugepages.
  L.push(`  <memoryBacking>`);
  L.push(`    <hugepages>`);
  L.push(`      <page size='2' unit='M' nodeset='0'/>`);
  L.push(`    </hugepages>`);
  L.push(`  </memoryBacking>`);
  L.push(`  <vcpu placement='static'>${spec.vcpus}</vcpu>`);
  if (spec.pinning) {
    L.push(`  <cputune>`);
    spec.pinning.vcpus.forEach((cpus, i) => L.push(`    <vcpupin vcpu='${i}' cpuset='${cpusetString(cpus)}'/>`));
    if (spec.pinning.emulator) L.push(`    <emulatorpin cpuset='${cpusetString(spec.pinning.emulator)}'/>`);
    L.push(`  </cputune>`);
  }
  L.push(`  <os>`);
  L.push(`    <type arch='x86_64' machine='${spec.machine}'>hvm</type>`);
  if (spec.boot.kind === 'kernel') {
    L.push(`    <kernel>${e(spec.boot.kernel)}</kernel>`);
    if (spec.boot.initrd) L.push(`    <initrd>${e(spec.boot.initrd)}</initrd>`);
    const append = /(^|\s)console=/.test(spec.boot.append) ? spec.boot.append : `console=ttyS0${spec.boot.append ? ' ' + spec.boot.append : ''}`;
    L.push(`    <cmdline>${e(append)}</cmdline>`);
  } else {
    L.push(`    <boot dev='hd'/>`);
  }
  L.push(`  </os>`);
  L.push(`  <features>`);
  L.push(`    <acpi/>`);
  L.push(`    <apic/>`);
  if (iommu) L.push(`    <ioapic driver='qemu'/>`);
  L.push(`  </features>`);
  // The NUMA cell with memAccess='shared' is what makes libvirt pass share=on.
  L.push(tcg ? `  <cpu mode='custom' match='exact'>` : `  <cpu mode='host-model'>`);
  if (tcg) L.push(`    <model fallback='allow'>max</model>`);
  else L.push(`    <model fallback='allow'/>`);
  L.push(`    <topology sockets='${spec.vcpus}' cores='1' threads='1'/>`);
  L.push(`    <numa>`);
  L.push(`      <cell id='0' cpus='0-${spec.vcpus - 1}' memory='${kib}' unit='KiB' memAccess='shared'/>`);
  L.push(`    </numa>`);
  L.push(`  </cpu>`);
  L.push(`  <on_poweroff>destroy</on_poweroff>`);
  L.push(`  <on_reboot>restart</on_reboot>`);
  L.push(`  <on_crash>destroy</on_crash>`);
  L.push(`  <devices>`);
  L.push(`    <emulator>${e(opts.emulator ?? '/usr/bin/qemu-system-x86_64')}</emulator>`);
  if (spec.boot.kind === 'disk') {
    L.push(`    <disk type='file' device='disk'>`);
    L.push(`      <driver name='qemu' type='${spec.boot.format}' cache='none'/>`);
    L.push(`      <source file='${e(spec.boot.image)}'/>`);
    L.push(`      <target dev='vda' bus='virtio'/>`);
    L.push(`    </disk>`);
  }
  for (const nic of spec.nics) {
    // libvirt's mode is QEMU's side: a datapath client port means QEMU is the server.
    const mode = nic.portMode === 'client' ? 'server' : 'client';
    const mrg = mrgRxbufFor(spec, nic);
    L.push(`    <interface type='vhostuser'>`);
    L.push(`      <mac address='${nic.mac.toLowerCase()}'/>`);
    L.push(`      <source type='unix' path='${e(nic.socketPath)}' mode='${mode}'/>`);
    L.push(`      <model type='virtio'/>`);
    // libvirt's <mtu> is QEMU's host_mtu: the guest's virtio-net takes it (VIRTIO_NET_F_MTU).
    if (nic.mtu !== undefined) L.push(`      <mtu size='${nic.mtu}'/>`);
    const drvAttrs = [nic.queues > 1 ? `queues='${nic.queues}'` : '', nic.iommu ? `iommu='on' ats='on'` : ''].filter(Boolean).join(' ');
    const drvChildren = [
      mrg !== undefined ? `        <host mrg_rxbuf='${mrg ? 'on' : 'off'}'/>` : '',
      nic.guestTso === false ? `        <guest tso4='off' tso6='off' ufo='off'/>` : '',
    ].filter(Boolean);
    if (drvChildren.length) {
      L.push(`      <driver${drvAttrs ? ' ' + drvAttrs : ''}>`);
      L.push(...drvChildren);
      L.push(`      </driver>`);
    } else if (drvAttrs) {
      L.push(`      <driver ${drvAttrs}/>`);
    }
    L.push(`    </interface>`);
  }
  if (iommu) {
    L.push(`    <iommu model='intel'>`);
    L.push(`      <driver intremap='on' iotlb='on'/>`);
    L.push(`    </iommu>`);
  }
  if (opts.consoleLog) {
    L.push(`    <serial type='file'>`);
    L.push(`      <source path='${e(opts.consoleLog)}'/>`);
    L.push(`      <target port='0'/>`);
    L.push(`    </serial>`);
  } else {
    L.push(`    <serial type='pty'>`);
    L.push(`      <target port='0'/>`);
    L.push(`    </serial>`);
  }
  L.push(`    <console type='${opts.consoleLog ? 'file' : 'pty'}'>`);
  if (opts.consoleLog) L.push(`      <source path='${e(opts.consoleLog)}'/>`);
  L.push(`      <target type='serial' port='0'/>`);
  L.push(`    </console>`);
  L.push(`  </devices>`);
  L.push(`</domain>`);
  if (tcg && spec.nics.length > 0) {
    notes.push("libvirt has no interface 'vectors' setting; under TCG QEMU 7.2 may crash in vhost_net_start without vectors=0 (use <qemu:commandline> or KVM)");
  }
  return { xml: L.join('\n') + '\n', notes };
}
