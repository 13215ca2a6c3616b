// The HugepageConfig resource's operations table (./hugepage-config.ts is the resource).
import { HugepageSpec } from '../datapath/api';
import { objectsOf, pick, type KindOps } from './kind-ops';

export const hugepagesOps: KindOps = {
  schema: HugepageSpec,
  objects: (c) => objectsOf(c.hugepages),
  spec: (p) => pick(p, ['name', 'pageSize', 'pages', 'node', 'mountPath']),
  replaceOn: ['name', 'pageSize', 'node'],
  outputs: (o) => ({ version: o.version, found: o.found, total: (o.status as { total: number }).total, free: (o.status as { free: number }).free }),
};
