// What the dynamic providers do, one table of operations per resource kind (as OVS has one
// per port class). This module runs inside the engine's dynamic-provider host, which loads it
// by absolute path (see ./load.ts): the serialized providers capture nothing but that path.
// It imports the API contract and the HTTP client only: never native code.
import type * as dynamic from '@pulumi/pulumi/dynamic';
// The engine's stand-in for a value not known during preview.
import { unknownValue as UNKNOWN } from '@pulumi/pulumi/runtime/rpc';
import {
  AgentClient,
  AgentError,
  BridgeSpec,
  DEFAULT_SOCKET,
  GuestVmSpec,
  HugepageSpec,
  PortSpec,
  SettingsSpec,
  PORT_REPLACE_FIELDS,
  VxlanPortSpec,
  fieldIssues,
  pairNics,
  queryString,
  type GuestNicRequest,
  type PortEnd,
  type ChangeResult,
  type VhostUserPortState,
  type SettingsState,
} from '../datapath/api';
import type { z } from 'zod';

export type Kind = 'bridge' | 'clientPort' | 'serverPort' | 'settings' | 'guest' | 'hugepages' | 'vxlanPort';

/** Inputs every resource carries besides its own fields. */
interface Common {
  agentEndpoint?: string;
  agentToken?: string;
  agentCaCert?: string;
  owner?: string;
  adopt?: boolean;
}

type Props = Record<string, unknown> & Common;

interface KindOps {
  schema: z.ZodType;
  /** The agent's path for the object. */
  path(p: Props): string;
  /** The spec sent to the agent, from the resource's properties. */
  spec(p: Props): Record<string, unknown>;
  /** Properties that cannot change in place. */
  replaceOn: string[];
  /** Outputs from the agent's answer. */
  outputs(obj: Record<string, unknown>): Record<string, unknown>;
  /** A kind that exists once per agent is never created or deleted, only set. */
  singleton?: boolean;
}

const portOutputs = (o: Record<string, unknown>) => {
  const p = o as unknown as VhostUserPortState;
  return {
    socketPath: p.socketPath,
    macAddress: p.mac,
    qemuArgs: p.qemuArgs,
    link: p.status?.link ?? 'down',
    linkReason: p.status?.reason ?? '',
    version: p.version,
  };
};

const OPS: Record<Kind, KindOps> = {
  bridge: {
    schema: BridgeSpec,
    path: (p) => `/bridges/${encodeURIComponent(String(p.name))}`,
    spec: (p) => pick(p, ['name', 'macAgingSeconds']),
    replaceOn: ['name'],
    outputs: (o) => ({ version: o.version }),
  },
  clientPort: {
    schema: PortSpec,
    path: (p) => `/ports/${encodeURIComponent(String(p.name))}`,
    spec: (p) => ({ ...pick(p, ['name', 'bridge', 'vhostServerPath', 'queues', 'mac']), type: 'dpdkvhostuserclient' }),
    replaceOn: ['name', 'bridge', 'vhostServerPath'],
    outputs: portOutputs,
  },
  serverPort: {
    schema: PortSpec,
    path: (p) => `/ports/${encodeURIComponent(String(p.name))}`,
    spec: (p) => ({ ...pick(p, ['name', 'bridge', 'queues', 'mac']), type: 'dpdkvhostuser' }),
    replaceOn: ['name', 'bridge'],
    outputs: portOutputs,
  },
  settings: {
    schema: SettingsSpec,
    path: () => '/settings',
    spec: (p) => pick(p, ['vhostSockDir', 'vhostIommuSupport', 'pmdCpus', 'memoryMb', 'hugepages', 'pmdMaxSleepUs']),
    replaceOn: [],
    outputs: (o) => ({ version: o.version, restartRequired: (o as unknown as SettingsState).restartRequired }),
    singleton: true,
  },
  guest: {
    schema: GuestVmSpec,
    path: (p) => `/guests/${encodeURIComponent(String(p.name))}`,
    spec: (p) => {
      const g = pick(p, ['name', 'vcpus', 'memoryMb', 'hugepagesPath', 'machine', 'accel', 'boot', 'nics', 'dpdkGuest', 'pinning', 'restartPolicy', 'backend']);
      // portEnd is the provider's own (see guest-vm.ts): the agent knows its ports.
      if (Array.isArray(g.nics)) g.nics = (g.nics as Record<string, unknown>[]).map(({ portEnd: _e, ...n }) => n);
      return g;
    },
    // Everything else changes by restarting the guest, which the agent does in place.
    replaceOn: ['name'],
    outputs: (o) => {
      const st = o.status as { state?: string; pid?: number; accel?: string } | undefined;
      return { version: o.version, qemuCommand: o.qemuCommand, libvirtXml: o.libvirtXml, notes: o.notes, state: st?.state ?? 'unknown', pid: st?.pid ?? 0 };
    },
  },
  vxlanPort: {
    schema: VxlanPortSpec,
    path: (p) => `/ports/${encodeURIComponent(String(p.name))}`,
    spec: (p) => ({ ...pick(p, ['name', 'bridge', 'underlay', 'vni', 'udpPort']), type: 'vxlan' }),
    replaceOn: [...PORT_REPLACE_FIELDS.vxlan],
    outputs: (o) => {
      const st = o.status as { link?: string; reason?: string; underlay?: { localMac?: string; remoteMac?: string } } | undefined;
      return {
        version: o.version,
        link: st?.link ?? 'down',
        linkReason: st?.reason ?? '',
        localMac: st?.underlay?.localMac ?? '',
        remoteMac: st?.underlay?.remoteMac ?? '',
      };
    },
  },
  hugepages: {
    schema: HugepageSpec,
    path: (p) => `/hugepages/${encodeURIComponent(String(p.name))}`,
    spec: (p) => pick(p, ['name', 'pageSize', 'pages', 'node', 'mountPath']),
    replaceOn: ['name', 'pageSize', 'node'],
    outputs: (o) => ({ version: o.version, found: o.found, total: (o.status as { total: number }).total, free: (o.status as { free: number }).free }),
  },
};

function pick(p: Props, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

function client(p: Props): AgentClient {
  return new AgentClient({
    endpoint: p.agentEndpoint || process.env.VHOSTNET_AGENT || `unix:${DEFAULT_SOCKET}`,
    token: p.agentToken || process.env.VHOSTNET_TOKEN || undefined,
    caCert: p.agentCaCert || undefined,
  });
}

/** The engine shows err.message: name the agent and keep the agent's field-level reasons. */
function explain(e: unknown, what: string): Error {
  if (e instanceof AgentError) {
    const detail = e.issues.length ? e.issues.map((i) => `${i.field} ${i.rule}`).join('; ') : e.message;
    return new Error(`${what}: ${e.status ? `the agent refused (${e.code}): ` : ''}${detail}`);
  }
  return e as Error;
}

export async function check(kind: Kind, news: Props): Promise<dynamic.CheckResult> {
  const ops = OPS[kind];
  const r = ops.schema.safeParse(ops.spec(news));
  if (!r.success) return { failures: fieldIssues(r.error).map((i) => ({ property: i.field, reason: i.rule })) };
  if (kind === 'guest') {
    // The NIC and the port resource it names, paired here already: no host needed.
    const nics = (news.nics ?? []) as (Record<string, unknown> & { portEnd?: Partial<PortEnd> })[];
    const local = pairNics(
      nics.map(({ portEnd: _e, ...n }) => n as GuestNicRequest),
      (name) => {
        const e = nics.find((n) => n.port === name)?.portEnd;
        if (!e) return undefined;
        // What preview does not know yet (or a server port's socket, the agent's to name) is taken on the NIC's word.
        const nic = nics.find((n) => n.port === name)!;
        const known = <T>(v: T | undefined, fallback: unknown) => (v === undefined || v === UNKNOWN ? fallback : v) as T;
        return {
          name,
          socketPath: known(e.socketPath, nic.socketPath),
          mode: known(e.mode, nic.portMode ?? 'client'),
          queues: known(e.queues, nic.queues ?? 1),
          mac: '02:00:00:00:00:01',
        };
      },
    );
    const known = local.problems.filter((p) => !/must name an existing port/.test(p.rule));
    if (known.length) return { failures: known.map((i) => ({ property: i.field, reason: i.rule })) };
    // Both ends of every socket, and the host's resources, checked by the agent's dry run before
    // anything runs. A port this same update creates is not there yet: that one check waits for up.
    try {
      await client(news).put(ops.path(news), ops.spec(news), queryString({ dryRun: true, adopt: true }));
    } catch (e) {
      if (!(e instanceof AgentError) || e.status !== 400) return { inputs: news };
      const failures = e.issues.filter((i) => !/must name an existing port/.test(i.rule)).map((i) => ({ property: i.field, reason: i.rule }));
      if (failures.length) return { failures };
    }
  }
  return { inputs: news };
}

const comparable = (kind: Kind, p: Props) => ({ ...OPS[kind].spec(p), agentEndpoint: p.agentEndpoint ?? '' });

export async function diff(kind: Kind, olds: Props, news: Props): Promise<dynamic.DiffResult> {
  const ops = OPS[kind];
  const a = comparable(kind, olds);
  const b = comparable(kind, news);
  // Defaults the agent filled in (queues: 1) are not a change when the program leaves them out.
  const parsedOld = ops.schema.safeParse(ops.spec(olds));
  const parsedNew = ops.schema.safeParse(ops.spec(news));
  const norm = (x: Record<string, unknown>, parsed: { success: boolean; data?: unknown }) =>
    parsed.success ? { ...(parsed.data as Record<string, unknown>), agentEndpoint: x.agentEndpoint } : x;
  const na = norm(a, parsedOld);
  const nb = norm(b, parsedNew);
  const keys = [...new Set([...Object.keys(na), ...Object.keys(nb)])].filter((k) => k !== 'expectedVersion');
  const changed = keys.filter((k) => JSON.stringify(na[k]) !== JSON.stringify(nb[k]));
  const replaceOn = [...ops.replaceOn, 'agentEndpoint'];
  const replaces = changed.filter((k) => replaceOn.includes(k));
  // The agent keys objects by name (and a socket by its path): a replacement that keeps
  // either would collide with the object it replaces, so the old one must go first.
  const keepsName = !changed.includes('name');
  const keepsSocket = !changed.includes('vhostServerPath');
  return {
    changes: changed.length > 0,
    replaces,
    deleteBeforeReplace: replaces.length > 0 && (keepsName || keepsSocket) && !changed.includes('agentEndpoint'),
    // The dynamic-provider host passes no detailedDiff: the engine shows the input diff itself.
    stables: keys.filter((k) => !changed.includes(k) && k !== 'agentEndpoint'),
  };
}

export async function create(kind: Kind, news: Props): Promise<dynamic.CreateResult> {
  const ops = OPS[kind];
  const c = client(news);
  const what = `${kind} ${String(news.name ?? 'settings')} on ${c.conn.endpoint}`;
  try {
    let adopting = false;
    if (!ops.singleton) {
      const existing = await c.get<Props>(ops.path(news)).then(
        (o) => o,
        (e: AgentError) => (e.status === 404 ? undefined : Promise.reject(e)),
      );
      if (existing && !news.adopt) throw new Error(`${what} already exists: set adopt: true to import it on purpose rather than taking it over`);
      if (existing) {
        // Importing adopts what is there; it must be what the program declares, as pulumi import requires.
        const want = ops.schema.parse(ops.spec(news)) as Props;
        const differ = Object.keys(want).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(existing[k]));
        if (differ.length)
          throw new Error(
            `${what} exists but differs from the program in ${differ.map((k) => `${k} (live ${JSON.stringify(existing[k])}, declared ${JSON.stringify(want[k])})`).join(', ')}: make the program match, then import`,
          );
        adopting = true;
      }
    }
    // Settings exist before us: remember what we found, so destroy can give it back.
    const found = ops.singleton ? ops.spec(await c.get<Props>(ops.path(news))) : undefined;
    const r = await c.put<ChangeResult<Record<string, unknown>>>(
      ops.path(news),
      { ...ops.spec(news), ...(ops.singleton ? {} : { owner: news.owner }) },
      queryString({ adopt: adopting }),
    );
    return { id: ops.singleton ? 'settings' : String(news.name), outs: { ...news, ...ops.outputs(r.object!), ...(found ? { foundSettings: found } : {}) } };
  } catch (e) {
    throw explain(e, `creating ${what}`);
  }
}

export async function update(kind: Kind, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
  const ops = OPS[kind];
  const c = client(news);
  try {
    // Our state says we manage it (created or imported on purpose): adopt, but only at the version we last saw.
    const r = await c.put<ChangeResult<Record<string, unknown>>>(
      ops.path(news),
      {
        ...ops.spec(news),
        ...(ops.singleton ? {} : { owner: news.owner }),
        ...(typeof olds.version === 'number' && olds.version > 0 ? { expectedVersion: olds.version } : {}),
      },
      queryString({ adopt: !ops.singleton }),
    );
    return { outs: { ...news, ...ops.outputs(r.object!) } };
  } catch (e) {
    throw explain(e, `updating ${kind} ${String(news.name ?? 'settings')}`);
  }
}

export async function read(kind: Kind, id: string, props: Props): Promise<dynamic.ReadResult> {
  const ops = OPS[kind];
  const c = client(props);
  const target = { ...props, name: ops.singleton ? undefined : id };
  let obj: Record<string, unknown>;
  try {
    obj = await c.get<Record<string, unknown>>(ops.path(target));
  } catch (e) {
    if (e instanceof AgentError && e.status === 404) return {}; // gone: refresh drops it, the next up re-creates it
    throw explain(e, `reading ${kind} ${id}`);
  }
  const live: Props = { ...props };
  for (const k of Object.keys(ops.spec({ ...obj } as Props))) live[k] = obj[k];
  // A MAC the agent derived is an output (macAddress), not an input the program gave.
  if ((kind === 'clientPort' || kind === 'serverPort') && props.mac === undefined) delete live.mac;
  if (!ops.singleton) live.name = id;
  const outs = { ...live, ...ops.outputs(obj) };
  return { id, props: outs };
}

export async function remove(kind: Kind, props: Props): Promise<void> {
  const ops = OPS[kind];
  const c = client(props);
  try {
    if (ops.singleton) {
      // Settings cannot be deleted: destroy restores what create found.
      if (props.foundSettings) await c.put(ops.path(props), props.foundSettings);
      return;
    }
    await c.delete(ops.path(props));
  } catch (e) {
    if (e instanceof AgentError && e.status === 404) return;
    throw explain(e, `deleting ${kind} ${String(props.name)}`);
  }
}

/** The endpoint a resource talks to, as its operations resolve it. */
export const endpointOf = (p: Props): string => client(p).conn.endpoint;

/** A preview asks every resource's agent at once; one that does not answer soon is reported, not waited for. */
export const PREVIEW_TIMEOUT_MS = 10000;

/**
 * The agent's dry run of the change this resource's operations would send (as create or update
 * would, owner included), for the preview. Changes nothing; throws the AgentError as it came.
 */
export async function dryRun(kind: Kind, props: Props): Promise<ChangeResult<unknown>> {
  const ops = OPS[kind];
  const body = { ...ops.spec(props), ...(ops.singleton ? {} : { owner: props.owner }) };
  return client(props).request<ChangeResult<unknown>>('PUT', ops.path(props) + queryString({ dryRun: true, adopt: !!props.adopt }), body, PREVIEW_TIMEOUT_MS);
}
