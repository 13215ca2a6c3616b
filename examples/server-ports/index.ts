// Deprecated dpdkvhostuser ports, as in the guide's "vhost-user" section: the agent creates the
// sockets under its run dir (vhostSockDir) and QEMU connects as the client. Prefer client ports.
import { Bridge, VhostUserPort } from 'vhostnet';

const br0 = new Bridge('br0');
const ports = [0, 1].map((i) => new VhostUserPort(`dpdkvhostuser${i}`, { bridge: br0.name }));

export const sockets = ports.map((p) => p.socketPath);
export const qemuArgs = ports.map((p) => p.qemuArgs);
