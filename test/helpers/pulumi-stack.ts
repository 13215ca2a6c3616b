// The real Pulumi engine (built from Go modules by scripts/install-pulumi.sh), run offline
// through the Automation API: a file backend and a PULUMI_HOME of the test's own.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalWorkspace, PulumiCommand, type ConfigMap, type Stack } from '@pulumi/pulumi/automation';

const ROOT = path.resolve(__dirname, '../../..');

export function pulumiDir(): string {
  const v = /PULUMI_VERSION=(\S+)/.exec(fs.readFileSync(path.join(ROOT, 'scripts/versions.sh'), 'utf8'))![1];
  const cache = process.env.VHOSTNET_CACHE ?? path.join(os.homedir(), '.cache', 'vhostnet');
  return path.join(cache, `pulumi-${v}`);
}

export interface EngineStack {
  stack: Stack;
  dir: string;
  env: Record<string, string>;
  /** The stack's state as the backend stores it, as text. */
  stateFile(): string;
  remove(): Promise<void>;
}

/** A stack of `program` (a directory with index.ts) in a temporary workspace. */
export async function engineStack(name: string, program: string, config: Record<string, unknown>, extraEnv: Record<string, string> = {}): Promise<EngineStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `vhostnet-engine-${name}-`));
  const backend = path.join(dir, 'backend');
  fs.mkdirSync(backend);
  const bin = path.join(pulumiDir(), 'bin');
  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: 'vhostnet-e2e',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_HOME: path.join(dir, 'home'),
    PATH: `${bin}:${path.dirname(process.execPath)}:${process.env.PATH}`,
    // The workspace is a temporary directory: use the program's own tsconfig, as `pulumi` run there would.
    ...(fs.existsSync(path.join(program, 'tsconfig.json')) ? { PULUMI_NODEJS_TSCONFIG_PATH: path.join(program, 'tsconfig.json') } : {}),
    ...extraEnv,
  };
  const pulumiCommand = await PulumiCommand.get({ root: pulumiDir(), skipVersionCheck: true });
  // The project file goes in the temporary workspace; the program stays where it is.
  const projectSettings = { name: 'vhostnet-e2e', runtime: { name: 'nodejs' as const, options: { typescript: true } }, main: program };
  const stack = await LocalWorkspace.createOrSelectStack({ stackName: name, workDir: dir }, { workDir: dir, pulumiCommand, envVars: env, projectSettings });
  await setConfig(stack, config);
  return {
    stack,
    dir,
    env,
    stateFile: () => {
      const files: string[] = [];
      const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory()) walk(p);
          else if (p.includes(`${path.sep}stacks${path.sep}`)) files.push(p);
        }
      };
      walk(backend);
      return files.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    },
    remove: async () => {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function setConfig(stack: Stack, config: Record<string, unknown>): Promise<void> {
  const map: ConfigMap = {};
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined) continue;
    const secret = k.endsWith(':token');
    map[k] = { value: typeof v === 'string' ? v : JSON.stringify(v), secret };
  }
  await stack.setAllConfig(map);
}

export const E2E_PROGRAM = path.join(ROOT, 'test', 'e2e', 'program');
export const EXAMPLES = path.join(ROOT, 'examples');

/**
 * A stack of a user's own project directory (its Pulumi.yaml, package.json and node_modules),
 * as `pulumi` run in that directory sees it. The backend and PULUMI_HOME live in `stateDir`,
 * apart from the project, so the project can move and the stack be selected again from there.
 */
export async function projectStack(
  projectDir: string,
  stackName: string,
  stateDir: string,
  extraEnv: Record<string, string> = {},
): Promise<{ stack: Stack; env: Record<string, string> }> {
  const backend = path.join(stateDir, 'backend');
  fs.mkdirSync(backend, { recursive: true });
  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${backend}`,
    PULUMI_CONFIG_PASSPHRASE: 'vhostnet-e2e',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_HOME: path.join(stateDir, 'home'),
    PATH: `${path.join(pulumiDir(), 'bin')}:${path.dirname(process.execPath)}:${process.env.PATH}`,
    ...extraEnv,
  };
  const pulumiCommand = await PulumiCommand.get({ root: pulumiDir(), skipVersionCheck: true });
  const stack = await LocalWorkspace.createOrSelectStack({ stackName, workDir: projectDir }, { workDir: projectDir, pulumiCommand, envVars: env });
  return { stack, env };
}

/** The text of every stack file in a `projectStack` state directory's backend. */
export function backendStateText(stateDir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.includes(`${path.sep}stacks${path.sep}`) && p.endsWith('.json')) out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(path.join(stateDir, 'backend'));
  return out.join('\n');
}
