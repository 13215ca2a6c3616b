// One "host" of the OVS-DPDK VXLAN anchor of bench/tunnel.ts: Open vSwitch with DPDK doing
// userspace tunnelling inside network namespace ns, as its "Userspace Datapath - Tunneling" guide
// lays it out. br-phy (netdev) holds a `dpdk` port on the veth end (net_af_packet or net_af_xdp
// devargs); the tunnel endpoint address moves from the veth to br-phy's LOCAL interface, which
// vswitchd creates as a tap in its own namespace (hence ip netns exec); br-int (netdev) holds the
// `vxlan` port and a dpdkvhostuserclient port for the testpmd guest. PMD on CPU 1, like the agent's
// (vswitchd itself is bench/ovs.ts's).
import { execFileSync } from 'node:child_process';
import { Ovs } from './ovs';

export interface OvsTunnelOptions {
  ns: string;
  veth: string;
  localIp: string;
  remoteIp: string;
  vni: number;
  /** 'af_packet' or 'af_xdp': the DPDK driver of br-phy's `dpdk` port. */
  driver: 'af_packet' | 'af_xdp';
  /** vhost-user server socket of the guest (testpmd, server=1). */
  guestSock: string;
  tag: string;
  /** Uplink instead of tunnel: the guest's port joins br-phy beside the `dpdk` port; no br-int, no address moved. */
  uplink?: boolean;
}

export class OvsTunnelHost {
  private constructor(
    private readonly ovs: Ovs,
    private readonly o: OvsTunnelOptions,
  ) {}

  static start(o: OvsTunnelOptions): OvsTunnelHost {
    // in the host's namespace: br-phy's tap, the routes and neighbours OVS's tunnel code reads are there
    const h = new OvsTunnelHost(Ovs.start({ tag: `tun${o.tag}`, ns: o.ns }), o);
    const devargs = `${o.driver === 'af_xdp' ? 'net_af_xdp0' : 'net_af_packet0'},iface=${o.veth}`;
    h.vsctl('add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy', 'datapath_type=netdev', '--', 'br-set-external-id', 'br-phy', 'bridge-id', 'br-phy');
    // MTU 1600 so a 1514 B frame fits after VXLAN's 50 B; DPDK 22.11's af_packet PMD caps frames at
    // 1518 B ("Frame size (1618) > device max frame size (1518)"), so there it stays 1500.
    const mtu = o.driver === 'af_xdp' ? ['mtu_request=1600'] : [];
    h.vsctl('add-port', 'br-phy', 'phy0', '--', 'set', 'Interface', 'phy0', 'type=dpdk', `options:dpdk-devargs=${devargs}`, ...mtu);
    if (o.uplink) {
      h.vsctl('add-port', 'br-phy', 'g', '--', 'set', 'Interface', 'g', 'type=dpdkvhostuserclient', `options:vhost-server-path=${o.guestSock}`);
      return h;
    }
    h.vsctl('set', 'Interface', 'br-phy', 'mtu_request=1600');
    const ip = (...a: string[]) => execFileSync('ip', ['-n', o.ns, ...a], { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('addr', 'flush', 'dev', o.veth);
    ip('addr', 'add', `${o.localIp}/24`, 'dev', 'br-phy');
    ip('link', 'set', 'br-phy', 'up');
    h.vsctl('add-br', 'br-int', '--', 'set', 'bridge', 'br-int', 'datapath_type=netdev');
    h.vsctl('add-port', 'br-int', 'vx', '--', 'set', 'Interface', 'vx', 'type=vxlan', `options:remote_ip=${o.remoteIp}`, `options:key=${o.vni}`);
    h.vsctl('add-port', 'br-int', 'g', '--', 'set', 'Interface', 'g', 'type=dpdkvhostuserclient', `options:vhost-server-path=${o.guestSock}`);
    return h;
  }

  vsctl(...args: string[]): string {
    return this.ovs.vsctl(...args);
  }

  appctl(...args: string[]): string {
    return this.ovs.appctl(...args);
  }

  /** What the `dpdk` port got: its driver and, for af_xdp, the XDP mode from ip -d link, or the error OVS logged. */
  underlay(): string {
    const err = this.vsctl('get', 'Interface', 'phy0', 'error').trim();
    if (err !== '[]' && err !== '""') return `${this.o.driver}(error: ${err})`;
    if (this.o.driver !== 'af_xdp') return `af_packet(mtu ${this.vsctl('get', 'Interface', 'phy0', 'mtu').trim()})`;
    const link = execFileSync('ip', ['-n', this.o.ns, '-d', 'link', 'show', this.o.veth]).toString();
    return `af_xdp(${/\bxdpgeneric\b/.test(link) ? 'generic' : /\bxdp\b|prog\/xdp/.test(link) ? 'native' : '?'})`;
  }

  logTail(n = 8): string {
    return this.ovs.logTail(n);
  }

  stop(): void {
    this.ovs.stop();
  }
}
