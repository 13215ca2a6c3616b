// Builds the dynamic ResourceProvider of a kind. The engine serializes it into the stack's
// state and runs it in its own host process, where neither ts-node nor this program's
// modules are loaded: so it captures only two strings (the kind and the absolute path of the
// compiled implementation) and requires the implementation when called.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as dynamic from '@pulumi/pulumi/dynamic';
import type { Kind } from './impl';

export function implPath(): string {
  // Compiled (dist/provider/load.js): beside us. From TypeScript source (provider/load.ts): the build.
  for (const p of [path.join(__dirname, 'impl.js'), path.resolve(__dirname, '..', 'dist', 'provider', 'impl.js')])
    if (fs.existsSync(p)) return p;
  throw new Error('vhostnet: the provider is not built: run `npm run build`');
}

export function makeProvider(kind: Kind): dynamic.ResourceProvider {
  const impl = implPath();
  return {
    check: async (_olds, news) => require(impl).check(kind, news),
    diff: async (_id, olds, news) => require(impl).diff(kind, olds, news),
    create: async (news) => require(impl).create(kind, news),
    read: async (id, props) => require(impl).read(kind, id, props),
    update: async (_id, olds, news) => require(impl).update(kind, olds, news),
    delete: async (_id, props) => require(impl).remove(kind, props),
  };
}
