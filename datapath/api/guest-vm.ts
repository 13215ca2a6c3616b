// A GuestVM as the agent's API takes it: each NIC names the datapath port it plugs into, and the
// agent (or the provider's check, from the port's outputs) fills in and checks the guest's end of
// that socket. No tool manages both ends of a vhost-user socket as one thing; we do.
import { z } from 'zod';
import { Mac, Name, QueuePairs, SocketPath, owned, type Stored } from './fields';
import type { PortMode } from './vhost-user';
import { GuestSpec, type GuestNicSpec } from './guest';

export const GuestNicRequest = z.strictObject({
  /** The datapath port (VhostUserClientPort or VhostUserPort) this NIC plugs into. */
  port: Name,
  /** QEMU id of the NIC; derived from the port name. */
  name: z.string().optional(),
  /** Optional: when given, they must agree with the port (the pairing check). */
  socketPath: SocketPath.optional(),
  portMode: z.enum(['client', 'server'], { error: "must be 'client' or 'server'" }).optional(),
  queues: QueuePairs.optional(),
  mac: Mac.optional(),
  mrgRxbuf: z.boolean({ error: 'must be true or false' }).optional(),
  /** false: the guest takes no GSO frames (guest_tso4/tso6/ufo=off); the datapath segments for it. */
  guestTso: z.boolean({ error: 'must be true or false' }).optional(),
  iommu: z.boolean({ error: 'must be true or false' }).optional(),
});
export type GuestNicRequest = z.output<typeof GuestNicRequest>;

// The rest of the guest is GuestSpec's own fields, with NICs by port.
export const GuestVmSpec = z.strictObject({
  ...GuestSpec.shape,
  nics: z.array(GuestNicRequest).max(32, { error: 'must have at most 32 NICs' }).default([]),
  ...owned,
});
export type GuestVmSpec = z.output<typeof GuestVmSpec>;
export type GuestVmInput = z.input<typeof GuestVmSpec>;

/** A guest's QEMU process as the agent reports it, whichever backend runs it. */
export interface GuestVmStatus {
  name: string;
  state: 'starting' | 'running' | 'stopping' | 'stopped' | 'crashed' | 'restarting';
  pid?: number;
  accel: 'kvm' | 'tcg';
  qemuVersion: string;
  /** Seconds since the QEMU process started, while it runs. */
  uptimeSec?: number;
  notes: string[];
  restarts: number;
  /** Found running at the agent's start rather than started by it. */
  adopted: boolean;
  /** Why the last QEMU process ended (crashed/stopped). */
  exitReason?: string;
  lastConsoleLines?: string[];
  pinning?: { vcpus: { cpuIndex: number; threadId: number; cpus: string }[]; emulatorThreads: number[]; emulatorCpus?: string };
  /** Set when QMP or pinning failed after start. */
  error?: string;
  consoleLog: string;
}

export interface GuestVmState extends Stored<GuestVmSpec> {
  version: number;
  /** The QEMU command line the agent runs (binary first). */
  qemuCommand: string[];
  /** The equivalent libvirt domain XML. */
  libvirtXml: string;
  notes: string[];
  status?: GuestVmStatus;
}

/** What the pairing check needs to know of a port. */
export interface PortEnd {
  name: string;
  socketPath: string;
  mode: PortMode;
  queues: number;
  mac: string;
  /** The port's MTU, told to the guest (host_mtu). */
  mtu?: number;
}

/** A QEMU id from a port name: QEMU's id alphabet is narrower than ours. */
export function nicName(port: string): string {
  const s = port.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return (/^[a-z]/.test(s) ? s : `n${s}`).slice(0, 31);
}

/**
 * Pairs each NIC with its port: refuses a pair that cannot work (socket paths that differ, roles
 * that do not pair, queue counts that differ, a missing port) and returns the NICs QEMU needs.
 */
export function pairNics(
  nics: GuestNicRequest[],
  portOf: (name: string) => PortEnd | undefined,
): { nics: GuestNicSpec[]; problems: { field: string; rule: string }[] } {
  const problems: { field: string; rule: string }[] = [];
  const out: GuestNicSpec[] = [];
  nics.forEach((n, i) => {
    const at = (f: string) => `nics.${i}.${f}`;
    const port = portOf(n.port);
    if (!port) {
      problems.push({ field: at('port'), rule: `must name an existing port (${n.port} does not exist)` });
      return;
    }
    if (n.socketPath !== undefined && n.socketPath !== port.socketPath)
      problems.push({ field: at('socketPath'), rule: `must be the port's socket ${port.socketPath}: QEMU and the datapath would each use a different socket` });
    if (n.portMode !== undefined && n.portMode !== port.mode)
      problems.push({
        field: at('portMode'),
        rule:
          port.mode === 'client'
            ? `must be 'client': ${port.name} is a client port, so QEMU must be the socket server (server=on)`
            : `must be 'server': ${port.name} is a server port, so QEMU must connect as the client`,
      });
    if (n.queues !== undefined && n.queues !== port.queues)
      problems.push({ field: at('queues'), rule: `must equal the port's queues (${port.queues}): the guest would negotiate ${n.queues} queue pairs` });
    out.push({
      name: n.name ?? nicName(n.port),
      socketPath: port.socketPath,
      portMode: port.mode,
      mac: n.mac ?? port.mac,
      queues: port.queues,
      mrgRxbuf: n.mrgRxbuf,
      guestTso: n.guestTso,
      mtu: port.mtu,
      iommu: n.iommu ?? false,
    });
  });
  return { nics: out, problems };
}
