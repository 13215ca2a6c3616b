// The agent's view of the native datapath: names to the addon's ids, and what is applied.
// Everything here is control path; the addon's calls return promptly.
import type { PortMode } from '../api';
import type { FdbEntry, FdbStats, NativeDatapath, PmdStats, PortInfo } from '../native/addon';

/** A vhost-user port as the datapath has it: the socket and the datapath's role on it. */
export interface AppliedVhostUser {
  bridge: string;
  mode: PortMode;
  path: string;
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

export class Datapath {
  private readonly bridges = new Map<string, { id: number; aging: number; fdb: BridgeFdb }>();
  /** Ports' own MAC limits as applied, by name (null: the bridge's). */
  private readonly portLimits = new Map<string, number>();
  private readonly ports = new Map<string, AppliedPort & { id: number }>();

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
  }

  removePort(name: string): void {
    const p = this.ports.get(name);
    if (!p) return;
    this.native.destroyPort(p.id);
    this.ports.delete(name);
    this.portLimits.delete(name); // the datapath forgot it with the port
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
