// Uplink ports (type 'dpdk'): a DPDK ethdev on the bridge, named by its devargs, so the bridge's
// guests reach the physical network (OVS: `ovs-vsctl add-port br0 dpdk-p0 -- set Interface
// dpdk-p0 type=dpdk options:dpdk-devargs=…`). The datapath opens the device; here are the
// checks that name what is wrong before it does, and the status read back from the host.
import * as fs from 'node:fs';
import { ApiError, parseDevargs, zeroCounters, type DpdkPortSpec, type DpdkPortState, type FieldIssue, type Stored } from '../../../api';
import type { AppliedDpdk } from '../../datapath';
import { operstate, xdpMode } from '../../host';
import { Port } from './port';

/** The driver a PCI device is bound to, '' for none; undefined when there is no such device. */
function pciDriver(bdf: string): string | undefined {
  const dev = `/sys/bus/pci/devices/${bdf}`;
  if (!fs.existsSync(dev)) return undefined;
  try {
    return fs.readlinkSync(`${dev}/driver`).split('/').pop() ?? '';
  } catch {
    return '';
  }
}

export class DpdkPort extends Port<Stored<DpdkPortSpec>> {
  private get dev() {
    return parseDevargs(this.spec.devargs)!; // the schema refused anything else
  }

  /** One port per device; a PCI NIC bound to vfio-pci; a kernel interface that exists. */
  check(): void {
    const dev = this.dev;
    const other = this.ctx.store
      .list<Stored<DpdkPortSpec>>('port')
      .find(
        (p) =>
          p.name !== this.name &&
          p.spec.type === 'dpdk' &&
          (parseDevargs(p.spec.devargs)?.device === dev.device || (dev.iface && parseDevargs(p.spec.devargs)?.iface === dev.iface)),
      );
    if (other)
      throw new ApiError('conflict', `port ${other.name} already uses ${dev.iface ?? dev.device} (devargs ${other.spec.devargs})`, [
        { field: 'devargs', rule: 'must name a device (and interface) no other dpdk port uses' },
      ]);
    const tunnel =
      dev.iface &&
      this.ctx.store.list<{ type: string; underlay?: { iface: string } }>('port').find((p) => p.spec.type === 'vxlan' && p.spec.underlay?.iface === dev.iface);
    if (tunnel)
      throw new ApiError('conflict', `${dev.iface} is the underlay of vxlan port ${tunnel.name}`, [
        { field: 'devargs', rule: 'must not name the underlay interface of a vxlan port' },
      ]);
    if (dev.driver === 'pci') {
      const driver = pciDriver(dev.device);
      if (driver === undefined)
        throw new ApiError('invalid', `no PCI device ${dev.device} on this host`, [{ field: 'devargs', rule: 'must name a PCI device of this host' }]);
      if (driver !== 'vfio-pci')
        throw new ApiError('invalid', `PCI device ${dev.device} is ${driver ? `bound to ${driver}` : 'bound to no driver'}, not vfio-pci`, [
          { field: 'devargs', rule: `must be a PCI device bound to vfio-pci: modprobe vfio-pci; dpdk-devbind.py --bind=vfio-pci ${dev.device}` },
        ]);
    } else if (operstate(dev.iface!) === undefined)
      throw new ApiError('invalid', `interface ${dev.iface} does not exist in the agent's network namespace`, [
        { field: 'devargs', rule: "must name (iface=) an interface in the agent's network namespace" },
      ]);
  }

  socket(): undefined {
    return undefined;
  }

  warnings(): string[] {
    return this.dev.driver === 'af_packet' ? ['af_packet makes a system call per burst: net_af_xdp is faster where the interface takes XDP'] : [];
  }

  replaceWhy(): string {
    return 'changing the uplink re-opens its device: traffic to the physical network stops briefly';
  }

  summary(): string {
    return `dpdk ${this.spec.devargs}, bridge ${this.spec.bridge}`;
  }

  state(version: number, live: boolean): DpdkPortState {
    const state: DpdkPortState = { ...this.spec, version };
    if (!live) return state;
    const { dp, applyErrors } = this.ctx;
    const dev = this.dev;
    const info = dp.portInfo(this.name);
    const oper = dev.iface ? operstate(dev.iface) : undefined;
    const st: NonNullable<DpdkPortState['status']> = {
      link: 'down',
      device: {
        driver: dev.driver,
        name: dev.device,
        iface: dev.iface,
        operstate: oper,
        queuePairs: info?.queuePairs ?? 0,
        ...(info?.device ? { counters: info.device } : {}),
      },
      warnings: this.warnings(),
      stats: info?.stats ?? zeroCounters(),
      queues: info?.queues ?? [],
    };
    if (dev.driver === 'af_xdp' && info) {
      const mode = xdpMode(dev.iface!);
      if (mode) st.device.xdpMode = mode;
    }
    const err = applyErrors.get(this.name);
    if (err) st.reason = `not in the datapath: ${err}`;
    else if (!info) st.reason = 'not in the datapath';
    else if (dev.iface && oper === undefined) st.reason = `interface ${dev.iface} has vanished from the agent's network namespace`;
    else if (!info.connected) st.reason = `the device's link is down${oper ? ` (interface ${dev.iface} operstate ${oper})` : ''}`;
    else st.link = 'up';
    state.status = st;
    return state;
  }

  /** No guest plugs into an uplink. */
  guestEnd(): undefined {
    return undefined;
  }

  protected wanted(): AppliedDpdk {
    return { bridge: this.spec.bridge, mode: 'dpdk', devargs: this.spec.devargs, mtu: this.spec.mtu };
  }

  protected refusedOn(): FieldIssue[] {
    return [{ field: 'devargs', rule: 'must be a device the datapath can open' }];
  }
}
