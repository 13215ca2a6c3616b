// VXLAN tunnel ports: the bridge's end of a tunnel over a kernel interface (the underlay), its
// MACs resolved from the interface and the kernel's neighbour table when the spec leaves them out.
import { ApiError, zeroCounters, type FieldIssue, type Stored, type VxlanPortSpec, type VxlanPortState } from '../../../api';
import type { AppliedVxlan } from '../../datapath';
import { interfaceMac, neighbourMac, operstate, xdpMode } from '../../host';
import { Port } from './port';

export class VxlanPort extends Port<Stored<VxlanPortSpec>> {
  /**
   * Tunnels may share an underlay interface (the datapath tells their frames apart by remote
   * address, VNI and UDP port), with one driver: not two tunnels with all three the same.
   */
  check(): void {
    const u = this.spec.underlay;
    const others = this.ctx.store
      .list<Stored<VxlanPortSpec>>('port')
      .filter((p) => p.name !== this.name && p.spec.type === 'vxlan' && p.spec.underlay.iface === u.iface);
    const same = others.find((p) => p.spec.underlay.remoteIp === u.remoteIp && p.spec.vni === this.spec.vni && p.spec.udpPort === this.spec.udpPort);
    if (same)
      throw new ApiError('conflict', `port ${same.name} is already the tunnel over ${u.iface} to ${u.remoteIp} with VNI ${this.spec.vni}`, [
        { field: 'vni', rule: 'must differ from that of another vxlan port with the same underlay interface, remoteIp and udpPort' },
      ]);
    const driver = others.find((p) => (p.spec.underlay.driver ?? 'af_packet') !== u.driver);
    if (driver)
      throw new ApiError('conflict', `port ${driver.name} drives ${u.iface} with ${driver.spec.underlay.driver ?? 'af_packet'}`, [
        { field: 'underlay.driver', rule: 'must be that of the other vxlan ports over the same interface (they share it)' },
      ]);
  }

  socket(): undefined {
    return undefined;
  }

  warnings(): string[] {
    const info = this.ctx.dp.portInfo(this.name);
    const iface = this.spec.underlay.iface;
    if (info?.underlayFallback) return [`af_xdp did not attach to ${iface} (${info.underlayFallback}): af_packet carries the tunnel, a system call per burst`];
    if (info?.underlayDriver === 'af_xdp') return [`af_xdp takes ${iface}'s frames from the kernel while the tunnel runs (the kernel no longer answers on it)`];
    return [];
  }

  replaceWhy(): string {
    return 'changing the tunnel re-opens its underlay: traffic across it stops briefly';
  }

  summary(): string {
    return `vxlan over ${this.spec.underlay.iface}, vni ${this.spec.vni}, bridge ${this.spec.bridge}`;
  }

  state(version: number, live: boolean): VxlanPortState {
    const state: VxlanPortState = { ...this.spec, version };
    if (!live) return state;
    const { dp, applyErrors } = this.ctx;
    const iface = this.spec.underlay.iface;
    const info = dp.portInfo(this.name);
    const applied = dp.applied(this.name);
    const t = applied?.mode === 'vxlan' ? applied.tunnel : undefined;
    const oper = operstate(iface);
    const st: NonNullable<VxlanPortState['status']> = {
      link: 'down',
      underlay: {
        iface,
        operstate: oper,
        localMac: t?.localMac,
        remoteMac: t?.remoteMac,
        driver: info?.underlayDriver,
        ...(info?.underlayMtu ? { mtu: info.underlayMtu } : {}),
        ...(info?.device ? { counters: info.device } : {}),
      },
      ...(info ? { mtu: info.mtu } : {}),
      warnings: this.warnings(),
      stats: info?.stats ?? zeroCounters(),
      queues: info?.queues ?? [],
    };
    if (info?.underlayDriver === 'af_xdp') st.underlay.xdpMode = xdpMode(iface);
    const err = applyErrors.get(this.name);
    if (err) st.reason = `not in the datapath: ${err}`;
    else if (!info) st.reason = 'not in the datapath';
    else if (oper === undefined) st.reason = `underlay interface ${iface} is missing from the agent's network namespace`;
    else if (oper !== 'up' && oper !== 'unknown') st.reason = `underlay interface ${iface} is not up (operstate ${oper})`;
    else st.link = 'up';
    state.status = st;
    return state;
  }

  /** A tunnel carries no guest. */
  guestEnd(): undefined {
    return undefined;
  }

  /** Resolves the MACs, refusing with the reason when the host cannot say them. */
  protected wanted(): AppliedVxlan {
    const u = this.spec.underlay;
    const fail = (field: string, rule: string, msg: string) => new ApiError('datapath', `port ${this.name}: ${msg}`, [{ field, rule }]);
    if (operstate(u.iface) === undefined)
      throw fail(
        'underlay.iface',
        "must be an interface in the agent's network namespace",
        `underlay interface ${u.iface} does not exist in the agent's network namespace`,
      );
    const localMac = u.localMac ?? interfaceMac(u.iface);
    const remoteMac = u.remoteMac ?? neighbourMac(u.iface, u.remoteIp);
    if (!remoteMac)
      throw fail(
        'underlay.remoteMac',
        'must be given, or the kernel must know the neighbour',
        `no neighbour entry for ${u.remoteIp} on ${u.iface} in the kernel's table: set underlay.remoteMac, or let the host resolve it first (e.g. ping ${u.remoteIp})`,
      );
    return {
      bridge: this.spec.bridge,
      mode: 'vxlan',
      tunnel: {
        iface: u.iface,
        localIp: u.localIp,
        remoteIp: u.remoteIp,
        localMac,
        remoteMac,
        vni: this.spec.vni,
        udpPort: this.spec.udpPort,
        driver: u.driver,
        splitHorizon: this.spec.splitHorizon ?? true,
      },
    };
  }

  protected refusedOn(): FieldIssue[] {
    return [{ field: 'underlay', rule: 'must be usable by the datapath' }];
  }
}
