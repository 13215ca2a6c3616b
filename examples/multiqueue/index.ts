// vhost-user multiqueue, as the guide sets it up: the queues are negotiated with the guest
// (QEMU queues=N, mq=on, vectors=2N+2); the port only says how many it expects, and the
// datapath spreads them over its PMD threads (the guide asks for at least 2 PMD cores).
import * as pulumi from '@pulumi/pulumi';
import { Bridge, VhostUserClientPort } from 'vhostnet';

const cfg = new pulumi.Config();
const socketDir = cfg.get('socketDir') ?? '/run/vhostnet-qemu';
const queues = cfg.getNumber('queues') ?? 2;

const br0 = new Bridge('br0');
const port = new VhostUserClientPort('dpdkvhostclient0', { bridge: br0.name, vhostServerPath: `${socketDir}/dpdkvhostclient0`, queues });

export const qemuArgs = port.qemuArgs;
