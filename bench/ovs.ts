// Open vSwitch with DPDK, started in a temporary directory as the anchor the benchmarks compare
// with (the same set-up as ../shared/bench/v2v-loopback.sh): ovsdb-server, then ovs-vswitchd
// with its PMD on CPU 1, optionally inside a network namespace (bench/ovs-tunnel.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface OvsOptions {
  /** Names the directory and DPDK's --file-prefix (one per vswitchd running at once). */
  tag?: string;
  /** Network namespace to run ovs-vswitchd in (its taps, routes and neighbours are that namespace's). */
  ns?: string;
  /** A bridge br0 (netdev) to begin with, for the v2v and control-path benchmarks. */
  br0?: boolean;
}

export class Ovs {
  private constructor(
    readonly dir: string,
    private readonly tag: string,
  ) {}

  static start(opts: OvsOptions = { br0: true }): Ovs {
    const tag = opts.tag ?? 'bench';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vhostnet-ovs${tag}-`));
    const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
    const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    run('ovsdb-tool', ['create', path.join(dir, 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
    run('ovsdb-server', [
      path.join(dir, 'conf.db'),
      `--remote=punix:${dir}/db.sock`,
      `--pidfile=${dir}/ovsdb-server.pid`,
      '--detach',
      `--log-file=${dir}/ovsdb-server.log`,
    ]);
    const o = new Ovs(dir, tag);
    o.vsctl('--no-wait', 'init');
    o.vsctl(
      '--no-wait',
      'set',
      'Open_vSwitch',
      '.',
      'other_config:dpdk-init=true',
      'other_config:dpdk-socket-mem=256',
      'other_config:dpdk-lcore-mask=0x1',
      'other_config:pmd-cpu-mask=0x2',
      `other_config:dpdk-extra=--no-pci --file-prefix=ovs${tag}${process.pid}`,
    );
    const vswitchd = [
      '/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk',
      `unix:${dir}/db.sock`,
      `--pidfile=${dir}/ovs-vswitchd.pid`,
      `--unixctl=${dir}/vswitchd.ctl`,
      '--detach',
      `--log-file=${dir}/ovs-vswitchd.log`,
    ];
    if (opts.ns) run('ip', ['netns', 'exec', opts.ns, ...vswitchd]);
    else run(vswitchd[0], vswitchd.slice(1));
    if (opts.br0) o.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev');
    return o;
  }

  vsctl(...args: string[]): string {
    const r = spawnSync('ovs-vsctl', [`--db=unix:${this.dir}/db.sock`, '--timeout=30', ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ovs-vsctl ${args.join(' ')}: ${r.stderr}${this.logTail()}`);
    return r.stdout;
  }

  appctl(...args: string[]): string {
    const r = spawnSync('ovs-appctl', [`--target=${this.dir}/vswitchd.ctl`, ...args], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : `ovs-appctl ${args.join(' ')} failed: ${r.stderr}`;
  }

  /** Last lines of ovs-vswitchd.log that are warnings or errors. */
  logTail(n = 8): string {
    try {
      const lines = fs.readFileSync(path.join(this.dir, 'ovs-vswitchd.log'), 'utf8').split('\n');
      const bad = lines.filter((l) => /\|(WARN|ERR|EMER)\|/.test(l));
      return bad.length ? `\n  ovs-vswitchd.log (${this.tag}):\n  ${bad.slice(-n).join('\n  ')}` : '';
    } catch {
      return '';
    }
  }

  stop(): void {
    for (const p of ['ovs-vswitchd.pid', 'ovsdb-server.pid']) {
      try {
        process.kill(Number(fs.readFileSync(path.join(this.dir, p), 'utf8')), 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    spawnSync('sleep', ['2']);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
