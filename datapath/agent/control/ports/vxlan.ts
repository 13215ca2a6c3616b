// VXLAN tunnel ports: the bridge's end of a tunnel over a kernel interface (the underlay), its
// MACs resolved from the interface and the kernel's neighbour table when the spec leaves them out.
import { ApiError, zeroCounters, type FieldIssue, type Stored, type VxlanPortSpec, type VxlanPortState } from '../../../api';
import type { AppliedVxlan } from '../../datapath';
import { interfaceMac, neighbourMac, operstate, xdpMode } from '../../host';
import { Port } from './port';

export class VxlanPort extends Port<Stored<VxlanPortSpec>> {
  /** One underlay interface carries one tunnel: the af_packet ethdev owns the interface's frames. */
  check(): void {
    const iface = this.spec.underlay.iface;
    const other = this.ctx.store
      .list<Stored<VxlanPortSpec>>('port')
      .find((p) => p.name !== this.name && p.spec.type === 'vxlan' && p.spec.underlay.iface === iface);
    if (other)
      throw new ApiError('conflict', `port ${other.name} already uses ${iface} as its underlay`, [
        { field: 'underlay.iface', rule: 'must be an interface no other vxlan port uses' },
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
      },
    };
  }

  protected refusedOn(): FieldIssue[] {
    return [{ field: 'underlay', rule: 'must be usable by the datapath' }];
  }
}
