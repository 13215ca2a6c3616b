// The agent's view of the native datapath: names to the addon's ids, and what is applied.
// Everything here is control path; the addon's calls return promptly.
import type { PortMode } from '../api';
import type { FdbEntry, FdbStats, NativeDatapath, PmdStats, PortInfo } from '../native/addon';

/** A vhost-user port as the datapath has it: the socket and the datapath's role on it. */
export interface AppliedVhostUser {
  bridge: string;
  mode: PortMode;
  path: string;
  /** The port's own MTU request; the bridge's when absent. Changes in place (setPortMtu). */
  mtu?: number;
}

/** A tunnel as the native createTunnel takes it, MACs resolved. */
export interface AppliedTunnel {
  iface: string;
  localIp: string;
  remoteIp: string;
  localMac: string;
  remoteMac: string;
  vni: number;
  udpPort: number;
  driver: 'af_xdp' | 'af_packet';
  splitHorizon: boolean;
}

export interface AppliedVxlan {
  bridge: string;
  mode: 'vxlan';
  tunnel: AppliedTunnel;
}

/** An uplink as the native createEthdevPort takes it. */
export interface AppliedDpdk {
  bridge: string;
  mode: 'dpdk';
  devargs: string;
  mtu?: number;
}

/** What the datapath has for a port; a port whose wanted form differs is re-created. */
export type AppliedPort = AppliedVhostUser | AppliedVxlan | AppliedDpdk;

/** Whether two applied forms are the same port (nothing to re-create). */
export function sameApplied(a: AppliedPort | undefined, b: AppliedPort): boolean {
  if (!a || a.bridge !== b.bridge || a.mode !== b.mode) return false;
  if (a.mode === 'dpdk' || b.mode === 'dpdk') return a.mode === 'dpdk' && b.mode === 'dpdk' && a.devargs === b.devargs && a.mtu === b.mtu;
  if (a.mode === 'vxlan' || b.mode === 'vxlan') {
    if (a.mode !== 'vxlan' || b.mode !== 'vxlan') return false;
    const [x, y] = [a.tunnel, b.tunnel];
    return (Object.keys(x) as (keyof AppliedTunnel)[]).every((k) => x[k] === y[k]);
  }
  return a.path === b.path;
}

/** A bridge's MAC table settings (BridgeSpec macTableSize, macLimitPerPort). */
export interface BridgeFdb {
  tableSize: number;
  limitPerPort: number;
}

/** The MTU of a bridge without tunnels (OVS's default mtu_request), and VXLAN over IPv4's overhead. */
export const DEFAULT_MTU = 1500;
export const VXLAN_OVERHEAD = 50;

/** An MTU and, in words, where it comes from (for the port's and the bridge's status). */
export interface MtuChoice {
  mtu: number;
  source: string;
}

export class Datapath {
  private readonly bridges = new Map<string, { id: number; aging: number; fdb: BridgeFdb; mtu?: number }>();
  /** Ports' own MAC limits as applied, by name (null: the bridge's). */
  private readonly portLimits = new Map<string, number>();
  /** setMtu: the MTU last told to the datapath (guest ports only). */
  private readonly ports = new Map<string, AppliedPort & { id: number; setMtu?: number }>();

  constructor(readonly native: NativeDatapath) {}

  hasBridge(name: string): boolean {
    return this.bridges.has(name);
  }

  ensureBridge(name: string, agingSeconds: number, fdb?: BridgeFdb): void {
    let b = this.bridges.get(name);
    if (!b) {
      b = { id: this.native.createBridge(), aging: -1, fdb: { tableSize: -1, limitPerPort: -1 } };
      this.bridges.set(name, b);
    }
    if (b.aging !== agingSeconds) {
      this.native.setFdbAging(b.id, agingSeconds);
      b.aging = agingSeconds;
    }
    // Live, as aging: the PMDs read both on their next learn.
    if (fdb && b.fdb.tableSize !== fdb.tableSize && this.native.setFdbTableSize) {
      this.native.setFdbTableSize(b.id, fdb.tableSize);
      b.fdb.tableSize = fdb.tableSize;
    }
    if (fdb && b.fdb.limitPerPort !== fdb.limitPerPort && this.native.setFdbPortLimit) {
      this.native.setFdbPortLimit(b.id, fdb.limitPerPort);
      b.fdb.limitPerPort = fdb.limitPerPort;
    }
  }

  /** A port's own limit on learned MACs (undefined: its bridge's); a port re-created takes it again. */
  setPortMacLimit(name: string, limit: number | undefined): void {
    const p = this.ports.get(name);
    const b = p && this.bridges.get(p.bridge);
    if (!p || !b || !this.native.setFdbPortLimit || this.portLimits.get(name) === limit) return;
    this.native.setFdbPortLimit(b.id, limit ?? null, p.id);
    if (limit === undefined) this.portLimits.delete(name);
    else this.portLimits.set(name, limit);
  }

  /** The MAC table's settings as applied: ports' own limits by name. */
  fdbSettings(bridge: string): { macAgingSeconds: number; macTableSize: number; macLimitPerPort: number; portLimits: Record<string, number> } | undefined {
    const b = this.bridges.get(bridge);
    if (!b) return undefined;
    const portLimits: Record<string, number> = {};
    for (const [n, l] of this.portLimits) if (this.ports.get(n)?.bridge === bridge) portLimits[n] = l;
    return { macAgingSeconds: b.aging, macTableSize: b.fdb.tableSize, macLimitPerPort: b.fdb.limitPerPort, portLimits };
  }

  /** The bridge's own MTU request (undefined: from its tunnels, or the default); its guest ports follow. */
  setBridgeMtu(name: string, mtu: number | undefined): void {
    const b = this.bridges.get(name);
    if (!b || b.mtu === mtu) return;
    b.mtu = mtu;
    this.syncMtus(name);
  }

  /** The smallest MTU a tunnel port of the bridge carries (its underlay's - 50), or undefined without tunnels. */
  tunnelMtu(bridge: string): MtuChoice | undefined {
    let best: MtuChoice | undefined;
    for (const [name, p] of this.ports) {
      if (p.bridge !== bridge || p.mode !== 'vxlan') continue;
      const u = this.native.portInfo(p.id).underlayMtu;
      if (!u) continue;
      const mtu = u - VXLAN_OVERHEAD;
      if (!best || mtu < best.mtu) best = { mtu, source: `tunnel port ${name}: underlay MTU ${u} - ${VXLAN_OVERHEAD} bytes of VXLAN` };
    }
    return best;
  }

  /**
   * The MTU of the bridge's guest ports that ask for none: the bridge's mtu, else the smallest
   * tunnel MTU (so a full-size guest frame still fits the underlay), else 1500.
   */
  bridgeMtu(bridge: string): MtuChoice {
    const own = this.bridges.get(bridge)?.mtu;
    if (own !== undefined) return { mtu: own, source: `bridge ${bridge} mtu` };
    return this.tunnelMtu(bridge) ?? { mtu: DEFAULT_MTU, source: `default (${DEFAULT_MTU})` };
  }

  /** A guest port's MTU: its own request, else its bridge's. */
  guestPortMtu(bridge: string, own: number | undefined): MtuChoice {
    return own !== undefined ? { mtu: own, source: 'port mtu' } : this.bridgeMtu(bridge);
  }

  /** Tells the datapath each guest port's MTU (longer frames to it are dropped and counted as mtuExceeded). */
  private syncMtus(bridge: string): void {
    if (!this.native.setPortMtu) return;
    for (const p of this.ports.values()) {
      if (p.bridge !== bridge || (p.mode !== 'client' && p.mode !== 'server')) continue;
      const { mtu } = this.guestPortMtu(bridge, p.mtu);
      if (p.setMtu === mtu) continue;
      this.native.setPortMtu(p.id, mtu);
      p.setMtu = mtu;
    }
  }

  /** Fields of an applied port that change in place (sameApplied says the rest are the same). */
  update(name: string, p: AppliedPort): void {
    const have = this.ports.get(name);
    if (!have) return;
    this.ports.set(name, { ...p, id: have.id, setMtu: have.setMtu });
    this.syncMtus(p.bridge);
  }

  removeBridge(name: string): void {
    const b = this.bridges.get(name);
    if (!b) return;
    for (const [port, p] of this.ports) if (p.bridge === name) this.removePort(port);
    this.native.destroyBridge(b.id);
    this.bridges.delete(name);
  }

  applied(name: string): AppliedPort | undefined {
    return this.ports.get(name);
  }

  portNames(): string[] {
    return [...this.ports.keys()];
  }

  /** Creates the port in the datapath; the name must not be there (removePort first). */
  addPort(name: string, p: AppliedPort): void {
    const b = this.bridges.get(p.bridge);
    if (!b) throw new Error(`bridge ${p.bridge} is not in the datapath`);
    let id: number;
    if (p.mode === 'vxlan') {
      if (!this.native.createTunnel) throw new Error('this datapath has no tunnel support');
      id = this.native.createTunnel({ bridge: b.id, ...p.tunnel });
    } else if (p.mode === 'dpdk') {
      if (!this.native.createEthdevPort) throw new Error('this datapath has no uplink support');
      id = this.native.createEthdevPort({ bridge: b.id, devargs: p.devargs, ...(p.mtu === undefined ? {} : { mtu: p.mtu }) });
    } else id = this.native.createPort({ bridge: b.id, mode: p.mode, path: p.path });
    this.ports.set(name, { ...p, id });
    this.syncMtus(p.bridge);
  }

  removePort(name: string): void {
    const p = this.ports.get(name);
    if (!p) return;
    this.native.destroyPort(p.id);
    this.ports.delete(name);
    this.portLimits.delete(name); // the datapath forgot it with the port
    if (p.mode === 'vxlan') this.syncMtus(p.bridge);
  }

  portInfo(name: string): PortInfo | undefined {
    const p = this.ports.get(name);
    return p && this.native.portInfo(p.id);
  }

  fdb(bridge: string): { mac: string; port: string; ageSeconds: number }[] {
    const b = this.bridges.get(bridge);
    if (!b) return [];
    const byId = new Map([...this.ports].map(([n, p]) => [p.id, n]));
    return this.native.fdb(b.id).map((e: FdbEntry) => ({ mac: e.mac, port: byId.get(e.port) ?? `#${e.port}`, ageSeconds: e.ageSeconds }));
  }

  /** The bridge's MAC table counters, read without the lock learning PMDs take; undefined without the addon's support. */
  fdbStats(bridge: string): FdbStats | undefined {
    const b = this.bridges.get(bridge);
    return b && this.native.fdbStats?.(b.id);
  }

  pmdStats(): (PmdStats & { rxQueueNames: string[] })[] {
    const byId = new Map([...this.ports].map(([n, p]) => [p.id, n]));
    return this.native.pmdStats().map((s) => ({ ...s, rxQueueNames: s.rxQueues.map((q) => `${byId.get(q.port) ?? q.port}:${q.queue}`) }));
  }
}
