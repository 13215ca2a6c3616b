// Open vSwitch with DPDK, started in a temporary directory as the anchor the control-path
// benchmarks compare with (the same set-up as ../shared/bench/v2v-loopback.sh).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export class Ovs {
  private constructor(readonly dir: string) {}

  static start(): Ovs {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-ovs-'));
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
    const o = new Ovs(dir);
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
      `other_config:dpdk-extra=--no-pci --file-prefix=ovsbench${process.pid}`,
    );
    run('/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk', [
      `unix:${dir}/db.sock`,
      `--pidfile=${dir}/ovs-vswitchd.pid`,
      '--detach',
      `--log-file=${dir}/ovs-vswitchd.log`,
    ]);
    o.vsctl('add-br', 'br0', '--', 'set', 'bridge', 'br0', 'datapath_type=netdev');
    return o;
  }

  vsctl(...args: string[]): void {
    const r = spawnSync('ovs-vsctl', [`--db=unix:${this.dir}/db.sock`, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ovs-vsctl ${args.join(' ')}: ${r.stderr}`);
  }

  stop(): void {
    for (const p of ['ovs-vswitchd.pid', 'ovsdb-server.pid']) {
      try {
        process.kill(Number(fs.readFileSync(path.join(this.dir, p), 'utf8')), 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    spawnSync('sleep', ['1']);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
