// The one change sequence of the agent's resources (check, diff, create, read, update, delete)
// over each kind's operations table, which sits beside its resource (<resource>.ops.ts). Run in
// the engine's dynamic-provider host through vhostnet/operations (./load.ts); this file is also
// where vhostnet 0.1.0's state finds it by path (dist/provider/impl.js), so its exports stay.
// It imports the API contract and the typed client only: never native code.
import type * as dynamic from '@pulumi/pulumi/dynamic';
import { AgentClient, AgentError, DEFAULT_SOCKET, fieldIssues, type ChangeResult } from '../datapath/api';
import { bridgeOps } from './bridge.ops';
import { settingsOps } from './datapath-settings.ops';
import { guestOps } from './guest-vm.ops';
import { hugepagesOps } from './hugepage-config.ops';
import type { KindOps, Props } from './kind-ops';
import type { Kind } from './tokens';
import { clientPortOps, serverPortOps } from './vhost-user-port.ops';
import { dpdkPortOps } from './dpdk-port.ops';
import { vxlanPortOps } from './vxlan-port.ops';

export type { Kind } from './tokens';

const OPS: Record<Kind, KindOps> = {
  bridge: bridgeOps,
  clientPort: clientPortOps,
  serverPort: serverPortOps,
  settings: settingsOps,
  guest: guestOps,
  hugepages: hugepagesOps,
  vxlanPort: vxlanPortOps,
  dpdkPort: dpdkPortOps,
};

/** The object's name on the agent (settings have none). */
const nameOf = (ops: KindOps, p: Props) => (ops.singleton ? 'settings' : String(p.name));

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
  const extra = await ops.check?.(news, client(news));
  if (extra) return extra;
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
      const existing = await ops
        .objects(c)
        .get(nameOf(ops, news))
        .then(
          (o) => o as Props,
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
    const found = ops.singleton ? ops.spec((await ops.objects(c).get(nameOf(ops, news))) as Props) : undefined;
    const r = await ops.objects(c).put(nameOf(ops, news), { ...ops.spec(news), ...(ops.singleton ? {} : { owner: news.owner }) }, { adopt: adopting });
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
    const r = await ops.objects(c).put(
      nameOf(ops, news),
      {
        ...ops.spec(news),
        ...(ops.singleton ? {} : { owner: news.owner }),
        ...(typeof olds.version === 'number' && olds.version > 0 ? { expectedVersion: olds.version } : {}),
      },
      { adopt: !ops.singleton },
    );
    return { outs: { ...news, ...ops.outputs(r.object!) } };
  } catch (e) {
    throw explain(e, `updating ${kind} ${String(news.name ?? 'settings')}`);
  }
}

export async function read(kind: Kind, id: string, props: Props): Promise<dynamic.ReadResult> {
  const ops = OPS[kind];
  const c = client(props);
  let obj: Record<string, unknown>;
  try {
    obj = await ops.objects(c).get(ops.singleton ? 'settings' : id);
  } catch (e) {
    if (e instanceof AgentError && e.status === 404) return {}; // gone: refresh drops it, the next up re-creates it
    throw explain(e, `reading ${kind} ${id}`);
  }
  const live: Props = { ...props };
  for (const k of Object.keys(ops.spec({ ...obj } as Props))) live[k] = obj[k];
  for (const k of ops.derived ?? []) if (props[k] === undefined) delete live[k];
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
      if (props.foundSettings) await ops.objects(c).put('settings', props.foundSettings as Record<string, unknown>);
      return;
    }
    await ops.objects(c).delete(String(props.name));
  } catch (e) {
    if (e instanceof AgentError && e.status === 404) return;
    throw explain(e, `deleting ${kind} ${String(props.name)}`);
  }
}

/** The endpoint a resource talks to, as its operations resolve it. */
export const endpointOf = (p: Props): string => client(p).conn.endpoint;

/**
 * The agent's dry run of the change this resource's operations would send (as create or update
 * would, owner included), for the preview. Changes nothing; throws the AgentError as it came.
 */
export async function dryRun(kind: Kind, props: Props): Promise<ChangeResult<unknown>> {
  const ops = OPS[kind];
  const body = { ...ops.spec(props), ...(ops.singleton ? {} : { owner: props.owner }) };
  return ops.objects(client(props)).put(nameOf(ops, props), body, { dryRun: true, adopt: !!props.adopt });
}
