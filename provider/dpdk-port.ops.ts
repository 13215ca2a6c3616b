// The DpdkPort resource's operations table (./dpdk-port.ts is the resource).
import { DpdkPortSpec, PORT_REPLACE_FIELDS } from '../datapath/api';
import { objectsOf, pick, type KindOps } from './kind-ops';

export const dpdkPortOps: KindOps = {
  schema: DpdkPortSpec,
  objects: (c) => objectsOf(c.ports),
  spec: (p) => ({ ...pick(p, ['name', 'bridge', 'devargs', 'mtu', 'macLimit']), type: 'dpdk' }),
  replaceOn: PORT_REPLACE_FIELDS.dpdk.filter((f) => f !== 'type'),
  outputs: (o) => {
    const st = o.status as { link?: string; reason?: string; device?: { driver?: string } } | undefined;
    return { version: o.version, link: st?.link ?? 'down', linkReason: st?.reason ?? '', driver: st?.device?.driver ?? '' };
  },
};
