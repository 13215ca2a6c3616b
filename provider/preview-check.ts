// A preview that asks each host: during `pulumi preview` every resource sends the change its
// operations would make to its agent as a dry run, and what the agent answers (collisions with
// what exists, guests the change disrupts, settings that wait for a restart, the host's
// resources) becomes warnings on that resource. The provider's own check cannot warn (the
// engine takes only failures from it), so this runs in the program, which can.
// An agent that does not answer is a warning naming the endpoint and what went unchecked; stack
// config `vhostnet:previewRequiresAgent: true` makes it an error, so the preview fails.
import * as pulumi from '@pulumi/pulumi';
import { AgentError, SERVER_PORT_DEPRECATION, type ChangeResult } from '../datapath/api';
import { dryRun, endpointOf } from './impl';
import type { Kind } from './tokens';

/** What the agent is asked to check, for the message when it could not be. */
const UNCHECKED = "collisions with what exists on the host, disruption to connected guests, restart-required settings and the host's resources";

/** Objects this program declares, by agent endpoint: a port's bridge made by the same update is not missing. */
const declared = new Set<string>();
const key = (endpoint: string, kind: 'bridge' | 'port', name: string) => `${endpoint}\0${kind}\0${name}`;

/** A refusal the same update resolves: the bridge or port it names is declared here too. */
function madeBySameUpdate(endpoint: string, props: Record<string, unknown>, rule: string, field: string): boolean {
  if (/must name an existing bridge/.test(rule)) return declared.has(key(endpoint, 'bridge', String(props.bridge)));
  if (/must name an existing port/.test(rule)) {
    // "nics.0.port": the NIC's port name.
    const m = /^nics\.(\d+)/.exec(field);
    const nics = (props.nics ?? []) as { port?: unknown }[];
    const names = m ? [nics[Number(m[1])]?.port] : nics.map((n) => n.port);
    return names.every((n) => typeof n === 'string' && declared.has(key(endpoint, 'port', n)));
  }
  return false;
}

/** The agent's answer as warnings for the preview; empty when it has nothing to say. */
export function agentFindings(r: ChangeResult<unknown>): string[] {
  const out: string[] = [];
  for (const ch of r.changes) {
    if (ch.restartRequired?.length) out.push(`this change takes effect at the agent's next start (restart required: ${ch.restartRequired.join(', ')})`);
    else if (ch.disruptive) out.push(`the agent says: ${ch.why ?? `${ch.op} of ${ch.kind} ${ch.name} disrupts traffic`}`);
  }
  const changing = r.changes.some((ch) => ch.op !== 'none');
  // The deprecation is the resource's own warning already.
  if (changing) for (const w of r.warnings) if (w !== SERVER_PORT_DEPRECATION) out.push(`the agent says: ${w}`);
  return out;
}

/**
 * Registers `resource` for the preview's dry run. `what` names it in messages ("port
 * dpdkvhostclient0"); `props` are the inputs its operations receive.
 */
export function checkInPreview(resource: pulumi.CustomResource, kind: Kind, props: Record<string, pulumi.Input<unknown>>): void {
  if (!pulumi.runtime.isDryRun()) return;
  const required = new pulumi.Config('vhostnet').getBoolean('previewRequiresAgent') ?? false;
  const objectKind =
    kind === 'bridge' ? 'bridge' : kind === 'clientPort' || kind === 'serverPort' || kind === 'vxlanPort' || kind === 'dpdkPort' ? 'port' : undefined;
  pulumi.all(props).apply(async (p) => {
    const endpoint = endpointOf(p);
    const what = kind === 'settings' ? 'settings' : `${objectKind ?? kind} ${String(p.name)}`;
    if (objectKind) declared.add(key(endpoint, objectKind, String(p.name)));
    // Let every resource of the program declare itself before answers are judged.
    await new Promise((resolve) => setImmediate(resolve));
    let r: ChangeResult<unknown>;
    try {
      r = await dryRun(kind, p);
    } catch (e) {
      if (!(e instanceof AgentError)) throw e;
      if (e.status === 0 || e.status === 401 || e.status === 403) {
        const why = e.status === 0 ? e.message.replace(/^cannot reach the agent at \S+: /, '') : `it refused the token (${e.status} ${e.code})`;
        const msg = `vhostnet: the agent at ${endpoint} could not be asked (${why}): the ${what} change was not checked against the host (${UNCHECKED})`;
        if (required) {
          await pulumi.log.error(`${msg}; vhostnet:previewRequiresAgent is true, so this preview fails`, resource);
          // An error diagnostic alone leaves the exit status 0: the program must fail.
          throw new pulumi.RunError(`vhostnet: ${what} was not checked by the agent at ${endpoint}, and vhostnet:previewRequiresAgent is true`);
        } else pulumi.log.warn(`${msg}; set vhostnet:previewRequiresAgent: true to make this an error`, resource);
        return;
      }
      const issues = e.issues.length ? e.issues : [{ field: '', rule: e.message }];
      for (const i of issues)
        if (!madeBySameUpdate(endpoint, p, i.rule, i.field))
          pulumi.log.warn(`the agent at ${endpoint} would refuse the ${what} change: ${i.field ? `${i.field} ` : ''}${i.rule}`, resource);
      return;
    }
    for (const w of agentFindings(r)) pulumi.log.warn(w, resource);
  });
}
