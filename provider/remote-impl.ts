// What RemoteCommand and RemoteCopy do, run inside the engine's
// dynamic-provider host (loaded by absolute path, see remote-command.ts remoteProvider).
// @pulumi/command's model over the system's OpenSSH client: its plugin cannot be fetched here.
// ssh is spawned with an argv array; the one string the remote shell parses is fixed text plus
// shell-quoted values, and secrets (environment) travel on stdin, never in an argv.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as dynamic from '@pulumi/pulumi/dynamic';
import { unknownValue as UNKNOWN } from '@pulumi/pulumi/runtime/rpc';

export type RemoteKind = 'command' | 'copy';

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** "ssh-ed25519 AAAA..." of the host: pinned. */
  hostKey?: string;
  /** Without hostKey: accept-new into a private known_hosts, chosen explicitly. */
  trustOnFirstUse?: boolean;
}

type Props = Record<string, unknown> & { connection?: SshTarget; privateKey?: string };

/** Bytes of stdout/stderr kept in the state: the tail, as a log would. */
const KEEP_OUTPUT = 64 * 1024;
const TIMEOUT_MS = 15 * 60 * 1000;

/** Quotes a value for a POSIX shell: the only way a value enters the remote command line. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

const known = (v: unknown) => v !== undefined && v !== UNKNOWN;

// ---- checks: every refusal names the field and the rule --------------------------------------

type Failure = { property: string; reason: string };

function checkConnection(p: Props, f: Failure[]): void {
  const c = p.connection as Partial<SshTarget> | undefined;
  if (!c || typeof c !== 'object') {
    f.push({ property: 'connection', reason: 'is required: { host, port, user, privateKey }' });
    return;
  }
  if (known(c.host) && (typeof c.host !== 'string' || !/^[A-Za-z0-9_.:[\]%-]+$/.test(c.host) || c.host.startsWith('-')))
    f.push({ property: 'connection.host', reason: 'must be a host name or an IP address (letters, digits, . : - _), not starting with -' });
  if (known(c.port) && (!Number.isInteger(c.port) || (c.port as number) < 1 || (c.port as number) > 65535))
    f.push({ property: 'connection.port', reason: 'must be a whole number from 1 to 65535' });
  if (known(c.user) && (typeof c.user !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(c.user)))
    f.push({ property: 'connection.user', reason: 'must be a user name (letters, digits, _ . -, not starting with a digit or -)' });
  if (known(c.hostKey) && (typeof c.hostKey !== 'string' || !/^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( .*)?$/.test(c.hostKey.trim())))
    f.push({ property: 'connection.hostKey', reason: 'must be a public host key line "<type> <base64>" (as in the host\'s /etc/ssh/ssh_host_*_key.pub)' });
  if (known(c.trustOnFirstUse) && c.trustOnFirstUse !== undefined && c.trustOnFirstUse !== null && typeof c.trustOnFirstUse !== 'boolean')
    f.push({ property: 'connection.trustOnFirstUse', reason: 'must be true or false' });
  else if (c.hostKey !== UNKNOWN && (c.trustOnFirstUse as unknown) !== UNKNOWN && !c.hostKey && c.trustOnFirstUse !== true)
    f.push({
      property: 'connection.hostKey',
      reason:
        "is required: pin the host's public key (a line of its /etc/ssh/ssh_host_*_key.pub, e.g. from ssh-keyscan over a trusted path), or set connection.trustOnFirstUse: true to accept the first key the host shows",
    });
  if (known(p.privateKey) && (typeof p.privateKey !== 'string' || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(p.privateKey)))
    f.push({ property: 'connection.privateKey', reason: 'must be a PEM or OpenSSH private key ("-----BEGIN ... PRIVATE KEY-----"), without a passphrase' });
}

function checkTriggers(p: Props, f: Failure[]): void {
  if (known(p.triggers) && !Array.isArray(p.triggers)) f.push({ property: 'triggers', reason: 'must be a list' });
}

export async function check(kind: RemoteKind, news: Props): Promise<dynamic.CheckResult> {
  const f: Failure[] = [];
  if (kind === 'command') {
    checkConnection(news, f);
    checkTriggers(news, f);
    if (known(news.create) && (typeof news.create !== 'string' || news.create.trim() === ''))
      f.push({ property: 'create', reason: 'must be a non-empty command' });
    for (const k of ['update', 'delete'])
      if (known(news[k]) && news[k] !== null && typeof news[k] !== 'string') f.push({ property: k, reason: 'must be a command (a string)' });
    const env = news.environment;
    if (known(env) && env !== null) {
      if (typeof env !== 'object' || Array.isArray(env)) f.push({ property: 'environment', reason: 'must be a map of names to strings' });
      else
        for (const [k, v] of Object.entries(env as Record<string, unknown>)) {
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
            f.push({ property: `environment.${k}`, reason: 'name must be letters, digits and _, not starting with a digit' });
          if (known(v) && typeof v !== 'string') f.push({ property: `environment.${k}`, reason: 'must be a string' });
        }
    }
  } else if (kind === 'copy') {
    checkConnection(news, f);
    checkTriggers(news, f);
    if (known(news.localPath)) {
      if (typeof news.localPath !== 'string' || !path.isAbsolute(news.localPath)) f.push({ property: 'localPath', reason: 'must be an absolute path' });
      else if (!fs.existsSync(news.localPath) || !fs.statSync(news.localPath).isFile())
        f.push({ property: 'localPath', reason: `must be an existing file (${news.localPath} is not)` });
    }
    if (
      known(news.remotePath) &&
      (typeof news.remotePath !== 'string' || !news.remotePath.startsWith('/') || news.remotePath.endsWith('/') || /[\n\0]/.test(news.remotePath))
    )
      f.push({ property: 'remotePath', reason: 'must be an absolute file path on the host (not a directory)' });
  }
  return f.length ? { failures: f } : { inputs: news };
}

// ---- ssh ----------------------------------------------------------------------------------------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function knownHostsFile(): string {
  // Private to vhostnet, so accept-new never writes into the user's ~/.ssh/known_hosts.
  const f = process.env.VHOSTNET_KNOWN_HOSTS ?? path.join(process.env.VHOSTNET_CACHE ?? path.join(os.homedir(), '.cache', 'vhostnet'), 'ssh_known_hosts');
  fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o700 });
  return f;
}

/**
 * Runs `remote` (a line for the remote user's shell) over ssh, feeding `input` on stdin.
 * The private key exists on disk (0600, a 0700 directory) only for the duration of the call.
 */
async function ssh(p: Props, remote: string, input: string | (() => NodeJS.ReadableStream)): Promise<Run> {
  const c = p.connection!;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-ssh-'));
  try {
    const key = path.join(tmp, 'id');
    const pk = String(p.privateKey);
    fs.writeFileSync(key, pk.endsWith('\n') ? pk : `${pk}\n`, { mode: 0o600, flag: 'wx' });
    let knownHosts: string;
    let strict: string;
    if (c.hostKey) {
      knownHosts = path.join(tmp, 'known_hosts');
      const name = c.port === 22 ? c.host : `[${c.host}]:${c.port}`;
      fs.writeFileSync(knownHosts, `${name} ${c.hostKey.trim().split(/\s+/).slice(0, 2).join(' ')}\n`, { mode: 0o600 });
      strict = 'yes';
    } else if (c.trustOnFirstUse === true) {
      knownHosts = knownHostsFile();
      strict = 'accept-new';
    } else throw new Error(`ssh to ${c.user}@${c.host}:${c.port}: connection.hostKey is required (or connection.trustOnFirstUse: true)`);
    const args = [
      '-F',
      'none', // the deploying user's ~/.ssh/config plays no part: same behaviour everywhere
      '-i',
      key,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      `StrictHostKeyChecking=${strict}`,
      '-o',
      'ConnectTimeout=20',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'LogLevel=ERROR',
      '-p',
      String(c.port),
      '-l',
      c.user,
      '--',
      c.host,
      remote,
    ];
    return await new Promise<Run>((resolve, reject) => {
      const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const keep = (s: string) => (s.length > 2 * KEEP_OUTPUT ? s.slice(-KEEP_OUTPUT) : s);
      child.stdout.on('data', (d: Buffer) => (stdout = keep(stdout + d.toString())));
      child.stderr.on('data', (d: Buffer) => (stderr = keep(stderr + d.toString())));
      const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new Error(`cannot run ssh (apt-get install openssh-client): ${e.message}`));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        resolve({ code: code ?? (sig === 'SIGTERM' ? 124 : 255), stdout: stdout.slice(-KEEP_OUTPUT), stderr: stderr.slice(-KEEP_OUTPUT) });
      });
      // A remote side that exits early closes stdin: that is its exit status's story, not an error here.
      child.stdin.on('error', () => undefined);
      if (typeof input === 'string') child.stdin.end(input);
      else input().pipe(child.stdin);
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const where = (p: Props) => `${p.connection!.user}@${p.connection!.host}:${p.connection!.port}`;

function failed(what: string, p: Props, r: Run): Error {
  const lines = (r.stderr.trim() || r.stdout.trim()).replace(/\r/g, '').split('\n');
  const tail = lines.slice(-15).join('\n');
  // ssh's own failure: its last lines say why (the banner above them does not).
  if (r.code === 255 && !r.stdout) return new Error(`${what}: ssh to ${where(p)} failed: ${lines.slice(-3).join(' ')}`);
  return new Error(`${what} on ${where(p)} exited with status ${r.code}${tail ? `:\n${tail}` : ''}`);
}

/**
 * The remote side reads the whole script from stdin, then evaluates it with stdin closed: the
 * environment's values are in the script (quoted), not in any process's argv or in sshd's
 * AcceptEnv, and a command that reads stdin sees end-of-file instead of the rest of the script.
 */
const RUN_SCRIPT = `sh -c 'script=$(cat) && eval "$script" </dev/null'`;

async function runCommand(what: string, p: Props, command: string, extraEnv: Record<string, string> = {}): Promise<Run> {
  const env = { ...((p.environment as Record<string, string> | undefined) ?? {}), ...extraEnv };
  const script =
    Object.entries(env)
      .map(([k, v]) => `export ${k}=${shq(String(v))}\n`)
      .join('') + command;
  const r = await ssh(p, RUN_SCRIPT, script);
  if (r.code !== 0) throw failed(what, p, r);
  return r;
}

/** stdout and stderr of the last run, for update and delete, as @pulumi/command passes them. */
const lastRun = (olds: Props) => ({ PULUMI_COMMAND_STDOUT: String(olds.stdout ?? ''), PULUMI_COMMAND_STDERR: String(olds.stderr ?? '') });

async function copy(p: Props): Promise<void> {
  const dest = String(p.remotePath);
  const tmp = `${dest}.part.${crypto.randomBytes(4).toString('hex')}`;
  // Into a temporary name, then renamed: the host never sees half a file under the real name.
  const remote = `sh -c ${shq(`mkdir -p -- ${shq(path.posix.dirname(dest))} && cat > ${shq(tmp)} && mv -f -- ${shq(tmp)} ${shq(dest)} || { rm -f -- ${shq(tmp)}; exit 1; }`)}`;
  const r = await ssh(p, remote, () => fs.createReadStream(String(p.localPath)));
  if (r.code !== 0) throw failed(`copying ${p.localPath} to ${dest}`, p, r);
  const size = fs.statSync(String(p.localPath)).size;
  const check = await ssh(p, `stat -c %s -- ${shq(dest)}`, '');
  if (check.code !== 0 || Number(check.stdout.trim()) !== size)
    throw new Error(`copying ${p.localPath} to ${dest} on ${where(p)}: the copy has ${check.stdout.trim() || 'no'} bytes, the file ${size}`);
}

// ---- the operations -----------------------------------------------------------------------------

const newId = () => crypto.randomBytes(8).toString('hex');
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const target = (p: Props) => ({ host: p.connection?.host, port: p.connection?.port, user: p.connection?.user });

export async function diff(kind: RemoteKind, olds: Props, news: Props): Promise<dynamic.DiffResult> {
  const keys = kind === 'command' ? ['create', 'update', 'delete', 'environment', 'triggers'] : ['localPath', 'remotePath', 'triggers', 'removeOnDelete'];
  const changed = keys.filter((k) => !same(olds[k], news[k]));
  if (!same(target(olds), target(news))) changed.push('connection');
  else if (!same(olds.connection?.hostKey, news.connection?.hostKey) || !same(olds.connection?.trustOnFirstUse, news.connection?.trustOnFirstUse))
    changed.push('connection');
  if (!same(olds.privateKey, news.privateKey)) changed.push('privateKey');
  // As @pulumi/command: triggers replace; so does another host. A copy to another path is another file.
  const replaceOn = kind === 'command' ? ['triggers'] : ['remotePath'];
  const replaces = changed.filter((k) => replaceOn.includes(k));
  if (changed.includes('connection') && !same(target(olds), target(news))) replaces.push('connection');
  return { changes: changed.length > 0, replaces, deleteBeforeReplace: false };
}

export async function create(kind: RemoteKind, news: Props): Promise<dynamic.CreateResult> {
  if (kind === 'copy') {
    await copy(news);
    return { id: newId(), outs: { ...news } };
  }
  const r = await runCommand('create command', news, String(news.create));
  return { id: newId(), outs: { ...news, stdout: r.stdout, stderr: r.stderr } };
}

export async function update(kind: RemoteKind, olds: Props, news: Props): Promise<dynamic.UpdateResult> {
  if (kind === 'copy') {
    if (!same(olds.localPath, news.localPath) || !same(olds.triggers, news.triggers)) await copy(news);
    return { outs: { ...news } };
  }
  // Only a change to what runs, or to its environment, runs anything; a new delete command or
  // a rotated key is recorded for later.
  const rerun = ['create', 'update', 'environment'].some((k) => !same(olds[k], news[k]));
  if (!rerun) return { outs: { ...news, stdout: olds.stdout, stderr: olds.stderr } };
  const cmd = news.update ? String(news.update) : String(news.create);
  const r = await runCommand(news.update ? 'update command' : 'create command (as update)', news, cmd, lastRun(olds));
  return { outs: { ...news, stdout: r.stdout, stderr: r.stderr } };
}

export async function remove(kind: RemoteKind, props: Props): Promise<void> {
  if (kind === 'copy') {
    if (!props.removeOnDelete) return;
    const dest = String(props.remotePath);
    // The directory goes too if the file was all it held (as it was made for it).
    const r = await ssh(props, `sh -c ${shq(`rm -f -- ${shq(dest)} && { rmdir -- ${shq(path.posix.dirname(dest))} 2>/dev/null || true; }`)}`, '');
    if (r.code !== 0) throw failed(`removing ${dest}`, props, r);
    return;
  }
  if (props.delete) await runCommand('delete command', props, String(props.delete), lastRun(props));
}
