// The Bridge resource's operations table (./bridge.ts is the resource).
import { BridgeSpec } from '../datapath/api';
import { objectsOf, pick, type KindOps } from './kind-ops';

export const bridgeOps: KindOps = {
  schema: BridgeSpec,
  objects: (c) => objectsOf(c.bridges),
  spec: (p) => pick(p, ['name', 'macAgingSeconds', 'macTableSize', 'macLimitPerPort', 'mtu']),
  replaceOn: ['name'],
  outputs: (o) => ({ version: o.version }),
};
