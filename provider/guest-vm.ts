import * as pulumi from '@pulumi/pulumi';
import { connectionInputs, withSecrets, type ConnectionArgs } from './connection';
import { makeProvider } from './load';
import { checkInPreview } from './preview-check';
import { MODULE, RESOURCE_TYPES } from './tokens';
import { VhostUserClientPort } from './vhost-user-client-port';
import { VhostUserPort } from './vhost-user-port';

export interface GuestNicArgs {
  /** The port this NIC plugs into: a port resource (its socket and role are taken from it) or a port name. */
  port: VhostUserClientPort | VhostUserPort | pulumi.Input<string>;
  /** Optional; when given they must agree with the port, or check/preview refuse the pair. */
  socketPath?: pulumi.Input<string>;
  portMode?: pulumi.Input<'client' | 'server'>;
  queues?: pulumi.Input<number>;
  /** Default: the port's MAC. */
  mac?: pulumi.Input<string>;
  /** Mergeable rx buffers; forced on for a DPDK guest. */
  mrgRxbuf?: pulumi.Input<boolean>;
  /** false: guest_tso4/tso6/ufo=off (the guest takes no TSO frames; the datapath segments for it). */
  guestTso?: pulumi.Input<boolean>;
  /** vhost IOMMU on this NIC (q35, QEMU >= 2.9.1). */
  iommu?: pulumi.Input<boolean>;
}

export interface GuestVMArgs extends ConnectionArgs {
  /** Guest name on the host; defaults to the resource name. Replaces. */
  name?: pulumi.Input<string>;
  /** Default 1. Restarts the guest. */
  vcpus?: pulumi.Input<number>;
  /** MiB, all on hugetlbfs shared with the datapath; default 256. Restarts the guest. */
  memoryMb?: pulumi.Input<number>;
  hugepagesPath?: pulumi.Input<string>;
  machine?: pulumi.Input<'q35' | 'pc'>;
  /** auto (TCG unless KVM is trusted on the host), kvm or tcg. Restarts the guest. */
  accel?: pulumi.Input<'auto' | 'kvm' | 'tcg'>;
  boot: pulumi.Input<{ kind: 'disk'; image: string; format?: 'raw' | 'qcow2' } | { kind: 'kernel'; kernel: string; initrd?: string; append?: string }>;
  nics?: GuestNicArgs[];
  /** The guest runs DPDK: mergeable rx buffers on (the guide's virtio vectorized-Rx bug). */
  dpdkGuest?: pulumi.Input<boolean>;
  /** The guide's vcpupin/emulatorpin; never on the PMD cores. */
  pinning?: pulumi.Input<{ vcpus: number[][]; emulator?: number[] }>;
  restartPolicy?: pulumi.Input<'never' | 'on-failure' | 'always'>;
  /** "qemu" (default): the agent runs QEMU itself; "libvirt": defined and started through libvirtd. Restarts the guest. */
  backend?: pulumi.Input<'qemu' | 'libvirt'>;
}

// A NIC given a port resource also carries that port's own socket, role and queues (portEnd),
// so check() can pair both ends before either exists on the host.
function nicInputs(n: GuestNicArgs): pulumi.Input<Record<string, unknown>> {
  const { port, ...rest } = n;
  if (port instanceof VhostUserClientPort)
    return { ...rest, port: port.name, portEnd: { socketPath: port.declared.vhostServerPath, mode: 'client', queues: port.declared.queues ?? 1 } };
  if (port instanceof VhostUserPort) return { ...rest, port: port.name, portEnd: { mode: 'server', queues: port.declared.queues ?? 1 } };
  return { ...rest, port };
}

/** A QEMU guest run by the host's agent, its NICs plugged into vhost-user ports. */
export class GuestVM extends pulumi.dynamic.Resource {
  declare readonly name: pulumi.Output<string>;
  /** The QEMU command line the agent runs. */
  declare readonly qemuCommand: pulumi.Output<string[]>;
  /** The equivalent libvirt domain XML. */
  declare readonly libvirtXml: pulumi.Output<string>;
  /** What the agent chose for you (accelerator, vectors=0 under TCG, ...). */
  declare readonly notes: pulumi.Output<string[]>;
  declare readonly state: pulumi.Output<string>;
  declare readonly pid: pulumi.Output<number>;
  declare readonly version: pulumi.Output<number>;

  constructor(name: string, args: GuestVMArgs, opts?: pulumi.CustomResourceOptions) {
    const { connection: _c, adopt: _a, nics, name: guestName, ...guest } = args;
    const ports = (nics ?? []).map((n) => n.port).filter((p): p is VhostUserClientPort | VhostUserPort => p instanceof pulumi.Resource);
    const props = {
      ...connectionInputs(args),
      ...guest,
      name: guestName ?? name,
      nics: (nics ?? []).map(nicInputs),
      qemuCommand: undefined,
      libvirtXml: undefined,
      notes: undefined,
      state: undefined,
      pid: undefined,
      version: undefined,
    };
    super(
      makeProvider('guest'),
      name,
      props,
      withSecrets({
        ...opts,
        dependsOn: [
          ...(Array.isArray(opts?.dependsOn) ? opts!.dependsOn : opts?.dependsOn ? [opts.dependsOn] : []),
          ...ports,
        ] as pulumi.Input<pulumi.Resource>[],
      }),
      MODULE,
      RESOURCE_TYPES.guest,
    );
    checkInPreview(this, 'guest', props);
  }
}
