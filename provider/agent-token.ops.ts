// What an AgentToken does, run inside the engine's dynamic-provider host: it is made on create
// and never changes afterwards (no inputs to differ); delete forgets it.
import * as crypto from 'node:crypto';
import type * as dynamic from '@pulumi/pulumi/dynamic';

export const tokenOperations: dynamic.ResourceProvider = {
  check: async (_olds, news) => ({ inputs: news }),
  diff: async () => ({ changes: false }),
  create: async () => ({ id: crypto.randomBytes(8).toString('hex'), outs: { token: crypto.randomBytes(32).toString('hex') } }),
  // Nothing lives outside the state: refresh keeps it.
  read: async (id, props) => ({ id, props }),
  update: async (_id, olds) => ({ outs: olds }),
  delete: async () => {},
};
