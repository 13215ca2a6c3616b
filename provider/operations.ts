// `vhostnet/operations`: what the serialized providers in a stack's state load at run time (see
// ./load.ts), and the plain per-kind operations a provider plugin calls. Imports the API
// contract, the HTTP client and the SSH runner only: never native code.
import type * as dynamic from '@pulumi/pulumi/dynamic';
import * as agent from './impl';
import * as remote from './remote-impl';
import { packageVersion } from './load';
import { tokenOperations } from './agent-token.ops';
import { AGENT_KINDS, REMOTE_KINDS, TOKEN_KIND } from './tokens';

export { check, diff, create, read, update, remove } from './impl';
export { AGENT_KINDS, REMOTE_KINDS, TOKEN_KIND, RESOURCE_TYPES, type Kind } from './tokens';
export type { RemoteKind } from './remote-impl';

/** major.minor.patch as numbers; a pre-release tag is ignored. */
function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** Negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return a === b ? 0 : NaN;
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/**
 * State serialized by vhostnet 0.1.0, which captured the absolute path of dist/provider/impl.js
 * (or remote-impl.js) on the machine that ran the update. Such state loads from that path only.
 */
export const LEGACY_PROVIDER = /[\\/]dist[\\/]provider[\\/](remote-)?impl\.js/;

/**
 * Every release reads the state of every earlier one. State from a newer release than the one
 * installed may hold what this one does not understand: refused, naming both versions.
 */
export function checkStateVersion(stateVersion: string, installed = packageVersion()): void {
  const c = compareVersions(stateVersion, installed);
  if (Number.isNaN(c))
    throw new Error(`vhostnet: this resource's state names vhostnet version "${stateVersion}", which is not a version (installed: ${installed})`);
  if (c > 0)
    throw new Error(
      `vhostnet: this resource's state was written by vhostnet ${stateVersion}, newer than the vhostnet ${installed} installed in ${process.cwd()}: ` +
        `install vhostnet@^${stateVersion} (npm install vhostnet@^${stateVersion}) so this program runs the release that wrote it`,
    );
}

/**
 * The dynamic provider of `kind`, after checking the version that wrote the state. A resource
 * whose state still names a 0.1.0 provider by path shows as changed (no field differs), so the
 * next `up` rewrites its state with the portable provider, changing nothing on the host.
 */
export function providerOperations(kind: string, stateVersion: string): dynamic.ResourceProvider {
  checkStateVersion(stateVersion);
  const legacyDiff = (olds: Record<string, unknown>, r: dynamic.DiffResult): dynamic.DiffResult =>
    !r.changes && typeof olds.__provider === 'string' && LEGACY_PROVIDER.test(olds.__provider) ? { ...r, changes: true } : r;
  if ((AGENT_KINDS as readonly string[]).includes(kind)) {
    const k = kind as agent.Kind;
    return {
      check: async (_olds, news) => agent.check(k, news),
      diff: async (_id, olds, news) => legacyDiff(olds, await agent.diff(k, olds, news)),
      create: async (news) => agent.create(k, news),
      read: async (id, props) => agent.read(k, id, props),
      update: async (_id, olds, news) => agent.update(k, olds, news),
      delete: async (_id, props) => agent.remove(k, props),
    };
  }
  if ((REMOTE_KINDS as readonly string[]).includes(kind)) {
    const k = kind as remote.RemoteKind;
    return {
      check: async (_olds, news) => remote.check(k, news),
      diff: async (_id, olds, news) => legacyDiff(olds, await remote.diff(k, olds, news)),
      create: async (news) => remote.create(k, news),
      // Nothing to read back from a host: refresh keeps what the last run recorded.
      read: async (id, props) => ({ id, props }),
      update: async (_id, olds, news) => remote.update(k, olds, news),
      delete: async (_id, props) => remote.remove(k, props),
    };
  }
  if (kind === TOKEN_KIND) return { ...tokenOperations, diff: async (id, olds, news) => legacyDiff(olds, await tokenOperations.diff!(id, olds, news)) };
  throw new Error(
    `vhostnet ${packageVersion()}: unknown resource kind "${kind}" in the state (written by vhostnet ${stateVersion}): install vhostnet@^${stateVersion}`,
  );
}
