// VhostNetwork: a bridge, one vhost-user client port per guest NIC, the guests on those ports
// and (optionally) their hugepages, from one short spec. The plan (names, sockets, queues,
// dependencies) is computed by pure functions below, so bad input fails at construction with
// the argument named, before the engine or the host see anything.
import * as pulumi from '@pulumi/pulumi';
import { Mac, Name, QueuePairs, SocketPath } from '../datapath/api/fields';
import { Bridge, GuestVM, HugepageConfig, VhostUserClientPort, type AgentConnection, type GuestVMArgs } from '../provider';

export const VHOST_NETWORK_TYPE = 'vhostnet:index:VhostNetwork';

export interface VhostNetworkNic {
  /** Queue pairs (QEMU queues=N); default 1. */
  queues?: number;
  /** The NIC's MAC; default: derived by the agent from the port name. */
  mac?: string;
  /** The port's name on the host; default `<guest>-eth<i>`. */
  port?: string;
}

export interface VhostNetworkGuest {
  /** MiB on hugetlbfs; default 256. */
  memoryMb?: number;
  vcpus?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
  machine?: 'q35' | 'pc';
  boot: GuestVMArgs['boot'];
  /** A count of single-queue NICs, or one entry per NIC; default 1. */
  nics?: number | VhostNetworkNic[];
  dpdkGuest?: boolean;
  restartPolicy?: 'never' | 'on-failure' | 'always';
}

export interface VhostNetworkArgs {
  /** The bridge's name on the host. */
  bridge: string;
  /** Directory of the sockets QEMU creates (one per NIC, named after its port). */
  socketDir: string;
  macAgingSeconds?: number;
  /** Reserve hugepages for the guests (the whole reservation of that page size on the host). */
  hugepages?: { pages: number; pageSize?: '2M' | '1G'; mountPath?: string };
  guests: Record<string, VhostNetworkGuest>;
  /** Which agent (host); default: stack config vhostnet:endpoint, else $VHOSTNET_AGENT. */
  connection?: AgentConnection;
}

export interface PortPlan {
  resourceName: string;
  name: string;
  guest: string;
  vhostServerPath: string;
  queues?: number;
  mac?: string;
}

export interface GuestPlan {
  resourceName: string;
  name: string;
  ports: string[];
}

export interface NetworkPlan {
  bridge: { resourceName: string; name: string };
  hugepages?: { resourceName: string };
  ports: PortPlan[];
  guests: GuestPlan[];
}

/** What a user needs per guest: its sockets and MACs, and how it is run (QEMU or libvirt). */
export interface GuestNetworkOutputs {
  ports: string[];
  sockets: string[];
  macs: string[];
  qemuCommand: string[];
  libvirtXml: string;
}

/** Thrown for a bad argument: the message names the component, the argument and the rule. */
export class VhostNetworkArgError extends Error {
  constructor(
    readonly component: string,
    readonly field: string,
    readonly rule: string,
  ) {
    super(`VhostNetwork '${component}': ${field} ${rule}`);
    this.name = 'VhostNetworkArgError';
  }
}

// The API's own field rules, so a name the agent would refuse is refused here first.
function checkField(
  component: string,
  field: string,
  schema: { safeParse(v: unknown): { success: boolean; error?: { issues: { message: string }[] } } },
  value: unknown,
): void {
  const r = schema.safeParse(value);
  if (!r.success) throw new VhostNetworkArgError(component, field, r.error!.issues[0].message);
}

function plainString(component: string, field: string, v: unknown): string {
  // Names and paths shape the resources' names: they must be known when the program runs.
  if (typeof v !== 'string') throw new VhostNetworkArgError(component, field, 'must be a plain string (not an Output): it names resources');
  return v;
}

/** A guest's `nics` as one entry per NIC. */
export function nicList(component: string, guest: string, nics: VhostNetworkGuest['nics']): VhostNetworkNic[] {
  const field = `guests.${guest}.nics`;
  if (nics === undefined) return [{}];
  if (typeof nics === 'number') {
    if (!Number.isInteger(nics) || nics < 0 || nics > 32)
      throw new VhostNetworkArgError(component, field, 'must be a whole number from 0 to 32, or a list of NICs');
    return Array.from({ length: nics }, () => ({}));
  }
  if (!Array.isArray(nics)) throw new VhostNetworkArgError(component, field, 'must be a number or a list of NICs');
  if (nics.length > 32) throw new VhostNetworkArgError(component, field, 'must have at most 32 NICs');
  nics.forEach((n, i) => {
    if (typeof n !== 'object' || n === null) throw new VhostNetworkArgError(component, `${field}[${i}]`, 'must be an object ({ queues?, mac?, port? })');
    if (n.queues !== undefined) checkField(component, `${field}[${i}].queues`, QueuePairs, n.queues);
    if (n.mac !== undefined) checkField(component, `${field}[${i}].mac`, Mac, n.mac);
    if (n.port !== undefined) checkField(component, `${field}[${i}].port`, Name, n.port);
  });
  return nics;
}

/** Names, sockets and pairings of everything the component makes; throws on bad arguments. */
export function planNetwork(component: string, args: VhostNetworkArgs): NetworkPlan {
  if (typeof args !== 'object' || args === null) throw new VhostNetworkArgError(component, 'args', 'must be an object');
  const bridge = plainString(component, 'bridge', args.bridge);
  checkField(component, 'bridge', Name, bridge);
  const socketDir = plainString(component, 'socketDir', args.socketDir);
  if (!socketDir.startsWith('/')) throw new VhostNetworkArgError(component, 'socketDir', 'must be an absolute path');
  if (args.hugepages !== undefined) {
    const pages = args.hugepages?.pages;
    if (!Number.isInteger(pages) || pages < 0) throw new VhostNetworkArgError(component, 'hugepages.pages', 'must be a whole number >= 0');
  }
  if (typeof args.guests !== 'object' || args.guests === null || Array.isArray(args.guests))
    throw new VhostNetworkArgError(component, 'guests', 'must be an object of guests by name ({ vm1: {...} })');

  const ports: PortPlan[] = [];
  const guests: GuestPlan[] = [];
  const bySocket = new Map<string, string>();
  const byPort = new Map<string, string>();
  const byMac = new Map<string, string>();
  for (const [guest, spec] of Object.entries(args.guests)) {
    checkField(component, `guests.${guest} (its name)`, Name, guest);
    if (typeof spec !== 'object' || spec === null) throw new VhostNetworkArgError(component, `guests.${guest}`, 'must be an object');
    if (spec.boot === undefined)
      throw new VhostNetworkArgError(component, `guests.${guest}.boot`, "is required ({ kind: 'kernel', kernel, initrd? } or { kind: 'disk', image })");
    const names: string[] = [];
    nicList(component, guest, spec.nics).forEach((nic, i) => {
      const field = `guests.${guest}.nics[${i}]`;
      const name = nic.port ?? `${guest}-eth${i}`;
      checkField(component, `${field}.port`, Name, name);
      const vhostServerPath = `${socketDir.replace(/\/+$/, '')}/${name}`;
      checkField(component, `${field} socket (socketDir + port name)`, SocketPath, vhostServerPath);
      const dup = (m: Map<string, string>, key: string, what: string) => {
        const other = m.get(key);
        if (other !== undefined) throw new VhostNetworkArgError(component, `${field}.${what}`, `must be unique (${other} has ${key} already)`);
        m.set(key, field);
      };
      dup(byPort, name, 'port');
      dup(bySocket, vhostServerPath, 'socket');
      if (nic.mac !== undefined) dup(byMac, nic.mac.toLowerCase(), 'mac');
      ports.push({ resourceName: `${component}-${name}`, name, guest, vhostServerPath, queues: nic.queues, mac: nic.mac });
      names.push(name);
    });
    guests.push({ resourceName: `${component}-${guest}`, name: guest, ports: names });
  }
  return {
    bridge: { resourceName: `${component}-${bridge}`, name: bridge },
    hugepages: args.hugepages ? { resourceName: `${component}-hugepages` } : undefined,
    ports,
    guests,
  };
}

/** The guide's quick example as one resource: bridge, client ports, guests, hugepages. */
export class VhostNetwork extends pulumi.ComponentResource {
  readonly bridge: Bridge;
  readonly hugepages?: HugepageConfig;
  /** By port name. */
  readonly ports: Record<string, VhostUserClientPort>;
  /** By guest name. */
  readonly vms: Record<string, GuestVM>;
  readonly bridgeName: pulumi.Output<string>;
  /** By guest name: ports, sockets, MACs, QEMU command and libvirt XML. */
  readonly guests: pulumi.Output<Record<string, GuestNetworkOutputs>>;

  constructor(name: string, args: VhostNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super(VHOST_NETWORK_TYPE, name, {}, opts);
    const plan = planNetwork(name, args);
    const conn = args.connection ? { connection: args.connection } : {};
    const child = { parent: this };

    this.bridge = new Bridge(plan.bridge.resourceName, { ...conn, name: plan.bridge.name, macAgingSeconds: args.macAgingSeconds }, child);
    if (plan.hugepages && args.hugepages)
      this.hugepages = new HugepageConfig(
        plan.hugepages.resourceName,
        { ...conn, pageSize: args.hugepages.pageSize ?? '2M', pages: args.hugepages.pages, mountPath: args.hugepages.mountPath },
        child,
      );

    this.ports = {};
    for (const p of plan.ports)
      // Ports after their bridge: the agent refuses a port on a bridge it does not have.
      this.ports[p.name] = new VhostUserClientPort(
        p.resourceName,
        { ...conn, name: p.name, bridge: this.bridge.name, vhostServerPath: p.vhostServerPath, queues: p.queues, mac: p.mac },
        { ...child, dependsOn: [this.bridge] },
      );

    this.vms = {};
    for (const g of plan.guests) {
      const { nics: _n, ...spec } = args.guests[g.name];
      const nicSpecs = nicList(name, g.name, args.guests[g.name].nics);
      // Guests after their ports (GuestVM adds those itself) and after the hugepages they live on.
      this.vms[g.name] = new GuestVM(
        g.resourceName,
        {
          ...conn,
          ...spec,
          name: g.name,
          hugepagesPath: args.hugepages?.mountPath ?? undefined,
          nics: g.ports.map((p, i) => ({ port: this.ports[p], queues: nicSpecs[i].queues })),
        },
        { ...child, dependsOn: this.hugepages ? [this.hugepages] : [] },
      );
    }

    this.bridgeName = this.bridge.name;
    const perGuest = plan.guests.map((g) => {
      const ports = g.ports.map((p) => this.ports[p]);
      const vm = this.vms[g.name];
      return pulumi
        .all([pulumi.all(ports.map((p) => p.socketPath)), pulumi.all(ports.map((p) => p.macAddress)), vm.qemuCommand, vm.libvirtXml])
        .apply(([sockets, macs, qemuCommand, libvirtXml]) => [g.name, { ports: g.ports, sockets, macs, qemuCommand, libvirtXml }] as const);
    });
    this.guests = pulumi.all(perGuest).apply((entries) => Object.fromEntries(entries) as Record<string, GuestNetworkOutputs>);
    this.registerOutputs({ bridgeName: this.bridgeName, guests: this.guests });
  }
}
