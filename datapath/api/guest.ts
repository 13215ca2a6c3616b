// The GuestVM spec: a QEMU guest whose NICs are vhost-user ports of the datapath.
// Shared contract between the Pulumi provider, the agent's HTTP API and vhostctl.
// Every rule carries its reason so an error names the field and the rule it broke.
import { z } from 'zod';
import { Mac, Mtu, QueuePairs, SocketPath } from './fields';

/** QEMU ids (chardev/netdev) are derived from names, so names use QEMU's id alphabet. */
const nameRule = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, {
  error: "must be 1-31 chars of a-z, 0-9, '-', starting with a letter",
});

/** Absolute, no NUL/newline (argv never passes through a shell, but logs and XML should stay sane). */
const absPath = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(4096, { error: 'must be at most 4096 bytes' })
  .refine((p) => p.startsWith('/'), { error: 'must be an absolute path' })
  .refine((p) => !/[\0\n\r]/.test(p), { error: 'must not contain NUL or newline characters' });

const cpuList = z
  .array(z.number().int({ error: 'must be an integer CPU number' }).min(0, { error: 'must be >= 0' }).max(4095, { error: 'must be <= 4095' }))
  .min(1, { error: 'must list at least one CPU' });

export const GuestNicSpec = z.object({
  name: nameRule,
  /** The vhost-user socket of the datapath port this NIC plugs into. */
  socketPath: SocketPath,
  /**
   * The datapath port's mode, as OVS names it: "client" (dpdkvhostuserclient: the datapath
   * connects, QEMU is the socket server; recommended) or "server" (dpdkvhostuser, deprecated:
   * the datapath listens, QEMU connects).
   */
  portMode: z.enum(['client', 'server'], { error: "must be 'client' or 'server'" }).default('client'),
  /** Lower-cased on parse. */
  mac: Mac,
  /** Queue pairs; >1 enables multiqueue (mq=on, vectors=2q+2). */
  queues: QueuePairs.default(1),
  /** Mergeable Rx buffers; unset: QEMU's default, or on when dpdkGuest. */
  mrgRxbuf: z.boolean({ error: 'must be a boolean' }).optional(),
  /** false: guest_tso4=off,guest_tso6=off,guest_ufo=off (the datapath segments GSO frames for it). */
  guestTso: z.boolean({ error: 'must be a boolean' }).optional(),
  /** The port's MTU, given to the guest as host_mtu (VIRTIO_NET_F_MTU). */
  mtu: Mtu.optional(),
  /** vhost IOMMU (iommu_platform, ats, intel-iommu); needs QEMU >= 2.9.1 and machine q35. */
  iommu: z.boolean({ error: 'must be a boolean' }).default(false),
});
export type GuestNicSpec = z.infer<typeof GuestNicSpec>;

export const GuestBootSpec = z.discriminatedUnion(
  'kind',
  [
    z.object({
      kind: z.literal('disk'),
      image: absPath,
      format: z.enum(['raw', 'qcow2'], { error: "must be 'raw' or 'qcow2'" }).default('qcow2'),
    }),
    z.object({
      kind: z.literal('kernel'),
      kernel: absPath,
      initrd: absPath.optional(),
      /** Kernel command line; console=ttyS0 is added when it names no console, so the log works. */
      append: z
        .string()
        .max(2048, { error: 'must be at most 2048 bytes' })
        .refine((s) => !/[\0\n\r]/.test(s), { error: 'must not contain NUL or newline characters' })
        .default(''),
    }),
  ],
  { error: "kind must be 'disk' or 'kernel'" },
);
export type GuestBootSpec = z.infer<typeof GuestBootSpec>;

export const GuestSpec = z
  .object({
    name: nameRule,
    vcpus: z.number().int({ error: 'must be an integer' }).min(1, { error: 'must be >= 1' }).max(64, { error: 'must be <= 64' }).default(1),
    /** Guest RAM, MiB; all of it on hugetlbfs, shared with the datapath (vhost-user needs that). */
    memoryMb: z
      .number()
      .int({ error: 'must be an integer' })
      .min(64, { error: 'must be >= 64' })
      .max(1048576, { error: 'must be <= 1048576' })
      .refine((m) => m % 2 === 0, { error: 'must be a multiple of 2 (2 MiB hugepages)' })
      .default(256),
    /** A mounted hugetlbfs. */
    hugepagesPath: absPath.default('/dev/hugepages'),
    machine: z.enum(['q35', 'pc'], { error: "must be 'q35' or 'pc'" }).default('q35'),
    /** auto: TCG unless the agent is configured to trust KVM on this host (see guest/accel.ts). */
    accel: z.enum(['auto', 'kvm', 'tcg'], { error: "must be 'auto', 'kvm' or 'tcg'" }).default('auto'),
    boot: GuestBootSpec,
    nics: z.array(GuestNicSpec).max(32, { error: 'must have at most 32 NICs' }).default([]),
    /** The guest runs a DPDK virtio PMD: forces mrg_rxbuf=on (the virtio vectorized-Rx bug). */
    dpdkGuest: z.boolean({ error: 'must be a boolean' }).default(false),
    /** vcpupin/emulatorpin: vcpus[i] is the host CPU set of vCPU i. */
    pinning: z
      .object({
        vcpus: z.array(cpuList).min(1, { error: 'must pin at least one vCPU' }),
        emulator: cpuList.optional(),
      })
      .optional(),
    restartPolicy: z.enum(['never', 'on-failure', 'always'], { error: "must be 'never', 'on-failure' or 'always'" }).default('never'),
    /** Who runs QEMU: the agent itself, or libvirtd (the domain XML is defined and started through virsh). */
    backend: z.enum(['qemu', 'libvirt'], { error: "must be 'qemu' or 'libvirt'" }).default('qemu'),
  })
  .superRefine((g, ctx) => {
    const seenName = new Map<string, number>();
    const seenSock = new Map<string, number>();
    const seenMac = new Map<string, number>();
    g.nics.forEach((n, i) => {
      const dup = (m: Map<string, number>, key: string, field: string) => {
        const j = m.get(key);
        if (j !== undefined) ctx.addIssue({ code: 'custom', path: ['nics', i, field], message: `must be unique (same as nics[${j}].${field})` });
        else m.set(key, i);
      };
      dup(seenName, n.name, 'name');
      dup(seenSock, n.socketPath, 'socketPath');
      dup(seenMac, n.mac.toLowerCase(), 'mac');
      if (g.dpdkGuest && n.mrgRxbuf === false) {
        ctx.addIssue({
          code: 'custom',
          path: ['nics', i, 'mrgRxbuf'],
          message: 'must not be false when dpdkGuest is true (the virtio vectorized-Rx bug needs mrg_rxbuf=on)',
        });
      }
      if (n.iommu && g.machine !== 'q35') {
        ctx.addIssue({ code: 'custom', path: ['nics', i, 'iommu'], message: "needs machine 'q35' (intel-iommu)" });
      }
    });
    if (g.pinning && g.pinning.vcpus.length !== g.vcpus) {
      ctx.addIssue({ code: 'custom', path: ['pinning', 'vcpus'], message: `must have one entry per vCPU (${g.vcpus})` });
    }
  });
export type GuestSpec = z.infer<typeof GuestSpec>;
/** The spec as a user writes it (defaults not yet applied). */
export type GuestSpecInput = z.input<typeof GuestSpec>;

/** Parses a spec; throws an Error whose message lists "field.path: rule" for every problem. */
export function parseGuestSpec(input: unknown): GuestSpec {
  const r = GuestSpec.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((iss) => `${formatPath(iss.path)}: ${iss.message}`);
  throw new Error(`invalid GuestVM spec: ${lines.join('; ')}`);
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  if (path.length === 0) return '(spec)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
