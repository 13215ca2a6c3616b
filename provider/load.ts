// Builds the dynamic ResourceProvider of a kind. The engine serializes it into the stack's state
// as program text and later runs that text in its own dynamic-provider host, on whatever machine
// and in whatever directory the next `pulumi refresh/up/destroy` runs. So the text captures no
// path: only the kind, the package name and the version that wrote the state. At run time it
// resolves `vhostnet/operations` from the program's own dependencies (the host's working
// directory is the program's), and that module refuses, naming both versions, state written by
// a newer vhostnet than the one installed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as dynamic from '@pulumi/pulumi/dynamic';
import type { Kind, REMOTE_KINDS, TOKEN_KIND } from './tokens';

export const PACKAGE_NAME = 'vhostnet';

let version: string | undefined;

/** This package's version, from its package.json (found above this file, compiled or not). */
export function packageVersion(): string {
  if (version) return version;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && pkg.version) return (version = pkg.version);
    }
    if (path.dirname(dir) === dir) throw new Error(`vhostnet: no package.json named ${PACKAGE_NAME} above ${__dirname}`);
  }
}

export function makeProvider(kind: Kind | (typeof REMOTE_KINDS)[number] | typeof TOKEN_KIND): dynamic.ResourceProvider {
  const wrote = packageVersion();
  // Serialized by value: only `kind` and `wrote` (strings) are captured. The requires are the
  // dynamic-provider host's; createRequire from its working directory finds the program's
  // node_modules/vhostnet, or, for a program inside this repository, the package itself.
  const ops = (): dynamic.ResourceProvider => {
    const from = `${process.cwd()}/`;
    let mod: { providerOperations(kind: string, stateVersion: string): dynamic.ResourceProvider };
    try {
      mod = require('node:module').createRequire(from)('vhostnet/operations');
    } catch (e) {
      throw new Error(
        `vhostnet: this resource's state was written by vhostnet ${wrote}, and the program in ${process.cwd()} cannot load vhostnet/operations ` +
          `(${(e as Error).message.split('\n')[0]}): add vhostnet@^${wrote} to its dependencies and run npm install`,
        { cause: e },
      );
    }
    return mod.providerOperations(kind, wrote);
  };
  return {
    check: async (olds, news) => ops().check!(olds, news),
    diff: async (id, olds, news) => ops().diff!(id, olds, news),
    create: async (news) => ops().create(news),
    read: async (id, props) => ops().read!(id, props),
    update: async (id, olds, news) => ops().update!(id, olds, news),
    delete: async (id, props) => ops().delete!(id, props),
  };
}
