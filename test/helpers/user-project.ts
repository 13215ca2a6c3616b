// A platform team's own Pulumi project, outside this repository: a package.json that installs
// vhostnet from the tarball `npm pack` makes, as a user installs a release, and npm run the way
// a user runs it. The project directory can be moved, as between CI runners.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

/** Versions the repository itself installs, so a project's npm install is served from the npm cache. */
export function lockedVersion(pkg: string): string {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  return lock.packages[`node_modules/${pkg}`].version;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs npm (the one on PATH, as setup.sh runs it) under the Node this test runs with, in `cwd`; rejects with its output when it fails. */
export function npm(cwd: string, args: string[]): Promise<Run> {
  const bin = path.dirname(process.execPath);
  return new Promise((resolve, reject) => {
    execFile('npm', args, { cwd, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      const r = { code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr };
      if (e) reject(new Error(`npm ${args.join(' ')} in ${cwd} failed (${r.code}):\n${stdout}\n${stderr}`));
      else resolve(r);
    });
  });
}

/** `npm pack` of this repository's package (built already) into `dir`: the tarball's path and its file list. */
export async function packVhostnet(dir: string): Promise<{ tarball: string; files: string[]; version: string }> {
  const r = await npm(ROOT, ['pack', '--json', '--pack-destination', dir]);
  const [info] = JSON.parse(r.stdout) as { filename: string; version: string; files: { path: string }[] }[];
  return { tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path), version: info.version };
}

/** A temporary directory outside this repository. */
export function outsideRepo(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (!path.relative(ROOT, d).startsWith('..')) throw new Error(`${d} is inside the repository ${ROOT}`);
  return d;
}

/** Writes a project: Pulumi.yaml, package.json and the given files. */
export function writeProject(dir: string, name: string, typescript: boolean, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'Pulumi.yaml'),
    `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: ${typescript}\n${typescript ? '' : 'main: index.js\n'}`,
  );
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, main: typescript ? 'index.ts' : 'index.js' }, null, 2),
  );
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
}

/** The tsconfig Pulumi's TypeScript template gives a new project (strict). */
export const PULUMI_TEMPLATE_TSCONFIG = JSON.stringify(
  {
    compilerOptions: {
      strict: true,
      outDir: 'bin',
      target: 'es2020',
      module: 'commonjs',
      moduleResolution: 'node',
      sourceMap: true,
      experimentalDecorators: true,
      pretty: true,
      noFallthroughCasesInSwitch: true,
      noImplicitReturns: true,
      forceConsistentCasingInFileNames: true,
    },
    files: ['index.ts'],
  },
  null,
  2,
);

/** npm install as a user would, served from the npm cache where it can be; scripts' output shown. */
export function install(dir: string, specs: string[]): Promise<Run> {
  return npm(dir, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', ...specs]);
}
