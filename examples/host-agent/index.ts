// One host from bare SSH access to a working datapath in one `pulumi up`: HostAgent packs the
// built agent, copies it over SSH, installs and starts it; the bridge and the port then talk to
// it through its endpoint and token.
//
// Config:
//   host, port (22), user (root)   the SSH target
//   privateKey                     (secret) an unencrypted private key the host accepts
//   hostKey                        the host's public key line; absent: accept-new
//   version                        names the install; a change upgrades the agent in place
//   listen                         tcp://127.0.0.1:8470 by default: the program must run on the host
//   runDir, stateDir, installDir, filePrefix   as HostAgentArgs (defaults: /run/vhostnet, ...)
//   socketDir                      where QEMU's socket for the port will be (default /tmp/vhostnet)
//   agentArgs                      extra agent arguments (list)
import * as pulumi from '@pulumi/pulumi';
import { HostAgent } from 'vhostnet/components';
import { Bridge, VhostUserClientPort } from 'vhostnet';

const cfg = new pulumi.Config();
const socketDir = cfg.get('socketDir') ?? '/tmp/vhostnet';

const host = new HostAgent('h1', {
  connection: {
    host: cfg.require('host'),
    port: cfg.getNumber('port'),
    user: cfg.get('user'),
    privateKey: cfg.requireSecret('privateKey'),
    hostKey: cfg.get('hostKey'),
  },
  version: cfg.get('version'),
  listen: cfg.get('listen'),
  runDir: cfg.get('runDir'),
  stateDir: cfg.get('stateDir'),
  installDir: cfg.get('installDir'),
  filePrefix: cfg.get('filePrefix'),
  socketDirs: [socketDir],
  agentArgs: cfg.getObject<string[]>('agentArgs'),
});

const connection = { endpoint: host.endpoint, token: host.token };
const br0 = new Bridge('br0', { connection });
const port = new VhostUserClientPort('vm1-eth0', { connection, bridge: br0.name, vhostServerPath: `${socketDir}/vm1-eth0` });

export const endpoint = host.endpoint;
export const version = host.version;
export const socketPath = port.socketPath;
