// Runs the real vhostnet-agent (real addon, real DPDK) as a child process, so tests can
// SIGKILL and restart it. Each instance has its own run dir, state dir and DPDK file prefix.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AgentClient } from '../../datapath/api';

const MAIN = path.resolve(__dirname, '../../datapath/agent/main.js');
const VHOSTCTL = path.resolve(__dirname, '../../datapath/vhostctl/main.js');

export class AgentProcess {
  proc: ChildProcess | undefined;
  readonly client: AgentClient;
  readonly socket: string;
  log = '';
  /** Network namespace the agent runs in (ip netns exec), if any. */
  netns?: string;

  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly extraArgs: string[],
  ) {
    this.socket = path.join(dir, 'run', 'agent.sock');
    this.client = new AgentClient({ endpoint: `unix:${this.socket}` });
  }

  /** dir holds run/, state/ and agent.log; it is the test's to remove. */
  static async start(opts: { name: string; dir?: string; args?: string[]; netns?: string }): Promise<AgentProcess> {
    const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), `vhostnet-${opts.name}-`));
    fs.mkdirSync(dir, { recursive: true });
    const a = new AgentProcess(dir, opts.name, opts.args ?? []);
    a.netns = opts.netns;
    await a.launch();
    return a;
  }

  get runDir(): string {
    return path.join(this.dir, 'run');
  }

  async launch(): Promise<void> {
    const args = [
      MAIN,
      '--run-dir',
      this.runDir,
      '--state-dir',
      path.join(this.dir, 'state'),
      '--file-prefix',
      `vhn-${this.name}`,
      '--socket-dir',
      this.dir,
      // The test guest's kernel and initrd are in the build cache (scripts/build-guest-image.sh).
      '--image-dir',
      process.env.VHOSTNET_CACHE ?? path.join(os.homedir(), '.cache', 'vhostnet'),
      '--eal-arg=--log-level=lib.eal:error',
      ...this.extraArgs,
    ];
    const logFile = fs.openSync(path.join(this.dir, 'agent.log'), 'a');
    // ip netns exec execs the agent in place: proc.pid is the agent's own pid
    const proc = this.netns
      ? spawn('ip', ['netns', 'exec', this.netns, process.execPath, ...args], { stdio: ['ignore', 'pipe', logFile] })
      : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', logFile] });
    fs.closeSync(logFile);
    this.proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent did not start within 30 s; see ${this.dir}/agent.log`)), 30000);
      proc.stdout!.on('data', (d: Buffer) => {
        this.log += d.toString();
        if (this.log.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(
          new Error(
            `agent exited (${code ?? sig}) before listening; see ${this.dir}/agent.log: ${fs.readFileSync(path.join(this.dir, 'agent.log'), 'utf8').slice(-2000)}`,
          ),
        );
      });
    });
    proc.removeAllListeners('exit');
  }

  /** SIGKILL: no clean-up of any kind, as a crash. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await gone;
  }

  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.launch();
  }

  /** Deletes every guest the agent has (their QEMU processes go with them); for after() hooks. */
  async deleteGuests(): Promise<void> {
    for (const g of await this.client.get<{ name: string }[]>('/guests').catch(() => [])) await this.client.delete(`/guests/${g.name}`).catch(() => undefined);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10000);
    await gone;
    clearTimeout(t);
  }

  /** Runs vhostctl against this agent; resolves with exit code and output. */
  vhostctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, [VHOSTCTL, '--endpoint', `unix:${this.socket}`, ...args]);
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
