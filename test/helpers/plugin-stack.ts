// A stack of a Pulumi YAML program under the real engine, its resources served by the provider
// plugin pulumi-resource-vhostnet (packed and installed into the stack's own PULUMI_HOME).
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalWorkspace, PulumiCommand, type Stack } from '@pulumi/pulumi/automation';
import { pulumiDir, setConfig } from './pulumi-stack';

const ROOT = path.resolve(__dirname, '../../..');

export interface PluginStack {
  stack: Stack;
  dir: string;
  env: Record<string, string>;
  /** Runs the pulumi CLI in the workspace, as a user would type it; resolves with its exit code and output. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  remove(): Promise<void>;
}

/** `projectFile`: a Pulumi.yaml (runtime yaml), copied into a temporary workspace. */
export async function yamlStack(name: string, projectFile: string, config: Record<string, unknown>): Promise<PluginStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vhostnet-yaml-${name}-`));
  const backend = path.join(dir, 'backend');
  fs.mkdirSync(backend);
  fs.copyFileSync(projectFile, path.join(dir, 'Pulumi.yaml'));
  const bin = path.join(pulumiDir(), 'bin');
  const home = path.join(dir, 'home');
  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: 'vhostnet-e2e',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_HOME: home,
    PATH: `${bin}:${path.dirname(process.execPath)}:${process.env.PATH}`,
  };
  execFileSync('bash', [path.join(ROOT, 'plugin', 'pack.sh'), '--install-into', home], { stdio: ['ignore', 'ignore', 'inherit'] });
  const pulumiCommand = await PulumiCommand.get({ root: pulumiDir(), skipVersionCheck: true });
  const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: dir }, { workDir: dir, pulumiCommand, envVars: env });
  await setConfig(stack, config);
  return {
    stack,
    dir,
    env,
    cli: (...args) =>
      new Promise((resolve) => {
        execFile(
          path.join(bin, 'pulumi'),
          [...args, '--stack', name, '--non-interactive'],
          { cwd: dir, env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      }),
    remove: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export const YAML_EXAMPLE = path.join(ROOT, 'examples', 'yaml', 'Pulumi.yaml');
