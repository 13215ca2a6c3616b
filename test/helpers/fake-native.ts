// A stand-in for the native addon, for unit tests of the agent's own logic only: the
// integration tests run the real datapath. It records calls and can be told to fail.
import type { EalOptions, NativeDatapath, PortInfo } from '../../datapath/native/addon';

export class FakeNative implements NativeDatapath {
  bridges = new Set<number>();
  ports = new Map<number, { bridge: number; mode: 'client' | 'server'; path: string }>();
  /** createPort throws for paths this matches. */
  failCreatePort: RegExp | undefined;
  calls: string[] = [];
  /** What setPortMtu was told, by port id (portInfo's mtu). */
  mtus = new Map<number, number>();
  private next = 1;

  init(_o: EalOptions) {
    return { lcores: '0@(0,1),1@1', pmds: 1, tscHz: 1e9, dpdkVersion: 'DPDK 22.11.0 (fake)' };
  }
  createBridge() {
    const id = this.next++;
    this.bridges.add(id);
    this.calls.push(`createBridge ${id}`);
    return id;
  }
  destroyBridge(b: number) {
    this.bridges.delete(b);
    this.calls.push(`destroyBridge ${b}`);
  }
  setFdbAging() {}
  createPort(spec: { bridge: number; mode: 'client' | 'server'; path: string }) {
    if (this.failCreatePort?.test(spec.path)) throw new Error(`cannot register ${spec.path}`);
    const id = this.next++;
    this.ports.set(id, spec);
    this.calls.push(`createPort ${spec.mode} ${spec.path}`);
    return id;
  }
  destroyPort(p: number) {
    this.calls.push(`destroyPort ${this.ports.get(p)?.path}`);
    this.ports.delete(p);
  }
  setPortMtu(p: number, mtu: number) {
    this.mtus.set(p, mtu);
    this.calls.push(`setPortMtu ${this.ports.get(p)?.path} ${mtu}`);
  }
  portInfo(p?: number): PortInfo {
    const drops = { ringFull: 0, mtuExceeded: 0, offloadUnsupported: 0, underlaySendFailure: 0, macLimit: 0, malformed: 0 };
    const z = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, txDrops: 0, drops };
    return {
      connected: false,
      socketReady: true,
      vringsEnabled: 0,
      vringsTotal: 0,
      queuePairs: 0,
      offeredFeatures: '0x0',
      negotiatedFeatures: '0x0',
      mtu: (p !== undefined && this.mtus.get(p)) || 1500,
      stats: z,
      queues: [],
    };
  }
  fdb() {
    return [];
  }
  pmdStats() {
    return [];
  }
  setPmdMaxSleep() {}
  shutdown() {}
}
