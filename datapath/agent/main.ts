#!/usr/bin/env node
// vhostnet-agent: owns the host's vhost-user datapath, as ovs-vswitchd does with OVS-DPDK.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { loadNative } from '../native/addon';
import { SafeStartNeeded, startAgent } from './agent';
import { checkListenPolicy } from './listen-policy';

const USAGE = `usage: vhostnet-agent [options]
  --run-dir DIR       sockets live here (default /run/vhostnet)
  --state-dir DIR     crash-safe configuration (default /var/lib/vhostnet)
  --listen ADDR       unix:/path (default <run-dir>/agent.sock) or tcp://host:port (needs --token-file)
  --token-file FILE   bearer token for TCP clients
  --tls-cert FILE --tls-key FILE   serve HTTPS on TCP (required beyond loopback)
  --insecure-tcp      allow plain HTTP on a TCP address beyond loopback (warns)
  --file-prefix NAME  DPDK file prefix, one per agent (default vhostnet)
  --socket-dir DIR    a directory client ports' sockets may be in (repeatable; default
                      /run/vhostnet-qemu and /var/lib/libvirt/qemu). It, and every directory on
                      the way, must be writable only by root, the agent or QEMU's user
  --insecure-socket-dir DIR  a socket directory other users may write, e.g. /tmp (repeatable): any
                      local user could bind a socket there first and be a guest's frontend
  --image-dir DIR     a directory guests' disk images, kernels and initrds may be in (repeatable;
                      default /var/lib/vhostnet/images)
  --hugepages-dir DIR a directory guests' hugepagesPath and HugepageConfig mountPath may be in
                      (repeatable; default /dev/hugepages /dev/hugepages1G /mnt/huge /run/vhostnet-hugepages)
  --allow-block-devices  a guest's disk image may be a block device
  --socket-group GRP  group QEMU runs as: sockets and socket dirs get it (mode 0660/0770)
  --qemu-user USER    user the 'qemu' guest backend's QEMU runs as (-runas; default: the agent's, root)
  --eal-arg ARG       extra DPDK EAL argument (repeatable)
  --metrics-listen ADDR  Prometheus metrics, tcp://host:port (default tcp://127.0.0.1:9477; 'off': none).
                      No token there and nothing that changes state: keep it on loopback or a management network`;

/** Set (to the EAL's error) when the agent re-executed itself to start with the last good settings. */
const SAFE_START = 'VHOSTNET_SAFE_START';

/**
 * The failed EAL's descriptors on hugetlbfs and its runtime directory have no close-on-exec: one
 * holds a flock on the hugepage directory, which the next EAL would wait on forever.
 */
function closeEalFiles(): void {
  const mounts = fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'hugetlbfs')
    .map((f) => f[1]);
  const dirs = [...mounts, '/var/run/dpdk', '/run/dpdk'];
  for (const fd of fs.readdirSync('/proc/self/fd').map(Number)) {
    if (fd <= 2) continue;
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (dirs.some((d) => target === d || target.startsWith(`${d}/`))) fs.closeSync(fd);
  }
}

/**
 * DPDK's EAL cannot start twice in one process: the agent becomes a fresh one of itself (same
 * pid, so the pid file and systemd's main pid stay right; same argv, fds and environment) told to
 * start with the last settings that worked. Where Node has no execve, a child takes over instead.
 */
function restartSafely(reason: string): never {
  process.stderr.write(
    `vhostnet-agent: the datapath could not start with the stored settings (${reason}); starting again with the last settings that worked\n`,
  );
  const env = { ...process.env, [SAFE_START]: reason };
  const argv = [...process.execArgv, ...process.argv.slice(1)];
  if (process.execve) {
    closeEalFiles();
    process.execve(process.execPath, [process.execPath, ...argv], env);
  }
  const child = spawn(process.execPath, argv, { stdio: 'inherit', env });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, sig) => process.exit(code ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : 1)));
  // Keep this process until the child ends.
  return undefined as never;
}

const DEFAULT_METRICS = 'tcp://127.0.0.1:9477';
/** Root-owned, as a Debian-packaged daemon's: never /tmp, where any user could bind a guest's socket first. */
const DEFAULT_SOCKET_DIRS = ['/run/vhostnet-qemu', '/var/lib/libvirt/qemu'];

function gid(group: string | undefined): number | undefined {
  if (group === undefined) return undefined;
  if (/^\d+$/.test(group)) return Number(group);
  return Number(execFileSync('getent', ['group', group], { encoding: 'utf8' }).split(':')[2]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'run-dir': { type: 'string', default: '/run/vhostnet' },
      'state-dir': { type: 'string', default: '/var/lib/vhostnet' },
      listen: { type: 'string' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'insecure-tcp': { type: 'boolean' },
      'file-prefix': { type: 'string', default: 'vhostnet' },
      'socket-dir': { type: 'string', multiple: true },
      'insecure-socket-dir': { type: 'string', multiple: true },
      'image-dir': { type: 'string', multiple: true },
      'hugepages-dir': { type: 'string', multiple: true },
      'allow-block-devices': { type: 'boolean' },
      'socket-group': { type: 'string' },
      'qemu-user': { type: 'string' },
      'eal-arg': { type: 'string', multiple: true },
      'metrics-listen': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const warning = checkListenPolicy({
    listen: values.listen ?? 'unix:',
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    insecureTcp: values['insecure-tcp'],
  });
  if (warning) process.stderr.write(`vhostnet-agent: ${warning}\n`);
  const runDir = path.resolve(values['run-dir']!);
  const socketGid = gid(values['socket-group']);
  const insecureDirs = (values['insecure-socket-dir'] ?? []).map((d) => path.resolve(d));
  const socketDirs = values['socket-dir']?.map((d) => path.resolve(d)) ?? (values['insecure-socket-dir'] ? [] : DEFAULT_SOCKET_DIRS);
  // The default directory QEMU's sockets go in is the agent's to make: root's, QEMU's group's when given.
  if (!values['socket-dir'] && !values['insecure-socket-dir'] && !fs.existsSync(DEFAULT_SOCKET_DIRS[0])) {
    fs.mkdirSync(DEFAULT_SOCKET_DIRS[0], { recursive: true });
    if (socketGid !== undefined) fs.chownSync(DEFAULT_SOCKET_DIRS[0], process.getuid!(), socketGid);
    fs.chmodSync(DEFAULT_SOCKET_DIRS[0], socketGid === undefined ? 0o755 : 0o770);
  }
  const safe = process.env[SAFE_START];
  // Not passed on to what the agent starts (QEMU), nor to a later re-execution.
  delete process.env[SAFE_START];
  const agent = await startAgent(
    {
      ...(safe !== undefined ? { safeStart: { reason: safe } } : {}),
      runDir,
      stateDir: path.resolve(values['state-dir']!),
      listen: values.listen,
      token: values['token-file'] ? fs.readFileSync(values['token-file'], 'utf8').trim() : undefined,
      tlsCert: values['tls-cert'],
      tlsKey: values['tls-key'],
      filePrefix: values['file-prefix']!,
      allowedSocketDirs: [...socketDirs, ...insecureDirs],
      insecureSocketDirs: insecureDirs,
      files: {
        ...(values['image-dir'] ? { imageDirs: values['image-dir'].map((d) => path.resolve(d)) } : {}),
        ...(values['hugepages-dir'] ? { hugepageDirs: values['hugepages-dir'].map((d) => path.resolve(d)) } : {}),
        allowBlockDevices: !!values['allow-block-devices'],
      },
      socketGid,
      qemuUser: values['qemu-user'],
      ealArgs: values['eal-arg'],
      metricsListen: values['metrics-listen'] ?? DEFAULT_METRICS,
      // Several agents on one host (tests, namespaces) cannot all have the default port.
      metricsOptional: values['metrics-listen'] === undefined,
    },
    loadNative(),
  );
  if (agent.metricsEndpoint) process.stdout.write(`vhostnet-agent: metrics on ${agent.metricsEndpoint}\n`);
  process.stdout.write(`vhostnet-agent: listening on ${agent.endpoint}\n`);
  const stop = async (sig: string) => {
    process.stderr.write(`vhostnet-agent: ${sig}, stopping\n`);
    await agent.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e) => {
  if (e instanceof SafeStartNeeded) return restartSafely(e.reason);
  process.stderr.write(`vhostnet-agent: ${(e as Error).message}\n`);
  process.exit(1);
});
