// The SDKs generated from the plugin's schema (scripts/pulumi-build/build-sdks.sh, run by the
// set-up): a Python program using every resource type-checks with mypy against PyPI's pulumi,
// and a Go program using every resource builds against sdk/v3. No Python program can run here:
// the Go module proxy refuses pulumi-language-python.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
const SDK = path.join(ROOT, 'sdk');

function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    ),
  );
}

const PY_PROGRAM = `from typing import Sequence

import pulumi
import pulumi_vhostnet as vhostnet

provider = vhostnet.Provider("host", endpoint="unix:/run/vhostnet/agent.sock")
opts = pulumi.ResourceOptions(provider=provider)
br0 = vhostnet.Bridge("br0", mac_aging_seconds=300, opts=opts)
client = vhostnet.VhostUserClientPort("dpdkvhostclient0", bridge=br0.name, vhost_server_path="/tmp/dpdkvhostclient0", queues=2, opts=opts)
server = vhostnet.VhostUserPort("dpdkvhost0", bridge=br0.name, opts=opts)
tunnel = vhostnet.VxlanPort("vx0", bridge=br0.name, vni=100,
    underlay=vhostnet.VxlanPortUnderlayArgs(iface="eth1", local_ip="169.254.10.1", remote_ip="169.254.10.2"), opts=opts)
settings = vhostnet.DatapathSettings("settings", pmd_cpus=[1], pmd_max_sleep_us=200, opts=opts)
pages = vhostnet.HugepageConfig("hp", pages=512, page_size="2M", opts=opts)
guest = vhostnet.GuestVM("g1", memory_mb=256,
    boot=vhostnet.GuestVMBootArgs(kind="kernel", kernel="/boot/vmlinuz"),
    nics=[vhostnet.GuestVMNicArgs(port=client.name)],
    pinning=vhostnet.GuestVMPinningArgs(vcpus=[[2]]), opts=opts)
qemu_args: pulumi.Output[Sequence[str]] = client.qemu_args
pulumi.export("socket", client.socket_path)
pulumi.export("restart", settings.restart_required)
pulumi.export("free", pages.free)
pulumi.export("state", guest.state)
pulumi.export("remote", tunnel.remote_mac)
pulumi.export("server", server.socket_path)
`;

const GO_PROGRAM = `package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"vhostnet.local/sdk/go/vhostnet"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		p, err := vhostnet.NewProvider(ctx, "host", &vhostnet.ProviderArgs{Endpoint: pulumi.StringPtr("unix:/run/vhostnet/agent.sock")})
		if err != nil {
			return err
		}
		opt := pulumi.Provider(p)
		br0, err := vhostnet.NewBridge(ctx, "br0", &vhostnet.BridgeArgs{MacAgingSeconds: pulumi.IntPtr(300)}, opt)
		if err != nil {
			return err
		}
		client, err := vhostnet.NewVhostUserClientPort(ctx, "dpdkvhostclient0", &vhostnet.VhostUserClientPortArgs{Bridge: br0.Name, VhostServerPath: pulumi.String("/tmp/dpdkvhostclient0")}, opt)
		if err != nil {
			return err
		}
		if _, err := vhostnet.NewVhostUserPort(ctx, "dpdkvhost0", &vhostnet.VhostUserPortArgs{Bridge: br0.Name}, opt); err != nil {
			return err
		}
		underlay := vhostnet.VxlanPortUnderlayArgs{Iface: pulumi.String("eth1"), LocalIp: pulumi.String("169.254.10.1"), RemoteIp: pulumi.String("169.254.10.2")}
		if _, err := vhostnet.NewVxlanPort(ctx, "vx0", &vhostnet.VxlanPortArgs{Bridge: br0.Name, Vni: pulumi.Int(100), Underlay: underlay}, opt); err != nil {
			return err
		}
		if _, err := vhostnet.NewDatapathSettings(ctx, "settings", &vhostnet.DatapathSettingsArgs{PmdCpus: pulumi.IntArray{pulumi.Int(1)}}, opt); err != nil {
			return err
		}
		if _, err := vhostnet.NewHugepageConfig(ctx, "hp", &vhostnet.HugepageConfigArgs{Pages: pulumi.Int(512)}, opt); err != nil {
			return err
		}
		guest, err := vhostnet.NewGuestVM(ctx, "g1", &vhostnet.GuestVMArgs{
			Boot: vhostnet.GuestVMBootArgs{Kind: pulumi.String("kernel"), Kernel: pulumi.StringPtr("/boot/vmlinuz")},
			Nics: vhostnet.GuestVMNicArray{vhostnet.GuestVMNicArgs{Port: client.Name}},
		}, opt)
		if err != nil {
			return err
		}
		ctx.Export("socket", client.SocketPath)
		ctx.Export("state", guest.State)
		return nil
	})
}
`;

describe('35 plugin: the generated Python and Go SDKs serve a program that uses every resource', function () {
  this.timeout(600000);
  let dir: string;
  before(() => {
    for (const p of ['python-site', 'python-env', 'go'])
      assert.ok(fs.existsSync(path.join(SDK, p)), `sdk/${p} missing: run scripts/setup.sh (scripts/pulumi-build/build-sdks.sh)`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-sdks-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('Python: the program type-checks with mypy, and a wrong argument type is refused naming it', async () => {
    const env = { MYPYPATH: path.join(SDK, 'python-site'), PYTHONPATH: path.join(SDK, 'python-site') };
    const mypy = path.join(SDK, 'python-env', 'bin', 'mypy');
    fs.writeFileSync(path.join(dir, '__main__.py'), PY_PROGRAM);
    const ok = await run(mypy, ['--config-file', path.join(SDK, 'mypy.ini'), '__main__.py'], { cwd: dir, env });
    assert.equal(ok.code, 0, ok.out);
    fs.writeFileSync(path.join(dir, 'wrong.py'), 'import pulumi_vhostnet as vhostnet\nvhostnet.Bridge("br0", mac_aging_seconds="300")\n');
    const bad = await run(mypy, ['--config-file', path.join(SDK, 'mypy.ini'), 'wrong.py'], { cwd: dir, env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /wrong\.py:2: error: No overload variant of "Bridge" matches argument types "str", "str"/);
    assert.match(bad.out, /mac_aging_seconds: int \| Awaitable/);
  });

  it('Go: the program builds against sdk/v3', async () => {
    const sdkGo = fs.realpathSync(path.join(SDK, 'go'));
    fs.writeFileSync(path.join(dir, 'main.go'), GO_PROGRAM);
    const sdkMod = fs.readFileSync(path.join(sdkGo, 'go.mod'), 'utf8');
    const sdkV3 = /github\.com\/pulumi\/pulumi\/sdk\/v3 (\S+)/.exec(sdkMod)![1];
    fs.writeFileSync(
      path.join(dir, 'go.mod'),
      `module vhostnet.local/sdk-check\n\ngo 1.26.6\n\nrequire (\n\tgithub.com/pulumi/pulumi/sdk/v3 ${sdkV3}\n\tvhostnet.local/sdk/go v0.0.0\n)\n\nreplace vhostnet.local/sdk/go => ${sdkGo}\n`,
    );
    fs.copyFileSync(path.join(sdkGo, 'go.sum'), path.join(dir, 'go.sum'));
    const go = fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
    const built = await run(go, ['build', '-mod=mod', '-o', path.join(dir, 'program'), '.'], { cwd: dir, env: { CGO_ENABLED: '0' } });
    assert.equal(built.code, 0, built.out);
    assert.ok(fs.statSync(path.join(dir, 'program')).size > 0);
  });
});
