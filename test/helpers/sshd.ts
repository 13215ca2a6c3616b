// A real OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1:<free port>, with its own host
// key, config and authorized key in a temporary directory: root may log in by that key only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Sshd {
  host: string;
  port: number;
  user: string;
  /** The client's private key (OpenSSH format), which authorized_keys accepts. */
  privateKey: string;
  /** The server's public host key line, for pinning. */
  hostKey: string;
  dir: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('data', () => (c.destroy(), resolve(true))); // the server's banner: sshd is serving
    c.once('error', () => resolve(false));
    c.setTimeout(1000, () => (c.destroy(), resolve(false)));
  });
}

export async function startSshd(): Promise<Sshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-sshd-'));
  // Privilege separation directory: sshd refuses to start without it.
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vhostnet-test', '-f', file]);
  keygen(path.join(dir, 'host_ed25519'));
  keygen(path.join(dir, 'client_ed25519'));
  fs.copyFileSync(path.join(dir, 'client_ed25519.pub'), path.join(dir, 'authorized_keys'));
  fs.chmodSync(path.join(dir, 'authorized_keys'), 0o600);
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${dir}/host_ed25519`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    // The temporary directory is not the user's home: the ownership checks do not apply.
    'StrictModes no',
    'PrintMotd no',
    'MaxStartups 50:30:100',
    'MaxSessions 50',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'sshd_config'), `${config}\n`);
  execFileSync('/usr/sbin/sshd', ['-t', '-f', path.join(dir, 'sshd_config')]);
  const log = fs.openSync(path.join(dir, 'sshd.log'), 'a');
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const deadline = Date.now() + 10000;
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`sshd did not start on port ${port}: ${fs.readFileSync(path.join(dir, 'sshd.log'), 'utf8').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: '127.0.0.1',
    port,
    user: 'root',
    privateKey: fs.readFileSync(path.join(dir, 'client_ed25519'), 'utf8'),
    hostKey: fs.readFileSync(path.join(dir, 'host_ed25519.pub'), 'utf8').trim(),
    dir,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
