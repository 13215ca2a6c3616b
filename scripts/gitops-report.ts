// Turns `pulumi preview --diff --json` into a short review report: changes that disrupt running
// guests (restarts, dropped links, lost bridges) apart from harmless ones (creates, in-place port
// updates), with an exit code a pipeline can gate on.
//
//   pulumi preview --diff --json > preview.json
//   node dist/scripts/gitops-report.js preview.json [--fail-on disruptive|any|never] [--format text|markdown]
//   (or read stdin with "-" / no file)
//
// Exit codes: 0 nothing to flag, 1 flagged changes (per --fail-on), 2 bad usage or input.
import * as fs from 'node:fs';
// Settings that take effect only when the agent restarts, which drops every guest's link.
import { RESTART_SETTINGS } from '../datapath/api/settings';

export type Verdict = 'disruptive' | 'harmless';

export interface ReportedChange {
  urn: string;
  /** The resource's name (last URN segment). */
  name: string;
  /** The vhostnet kind (Bridge, GuestVM, ...) or the full type for anything else. */
  kind: string;
  op: 'create' | 'update' | 'replace' | 'delete';
  verdict: Verdict;
  why: string;
  /** Inputs that differ (from the steps' old and new inputs; dynamic providers report no detailed diff). */
  fields: string[];
}

interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { type?: string; inputs?: Record<string, unknown> };
  newState?: { type?: string; inputs?: Record<string, unknown> };
  replaceReasons?: string[];
  diffReasons?: string[];
}

/** Inputs that are plumbing, not the object's configuration. */
const PLUMBING = new Set(['__provider', 'agentToken', 'owner']);

// Multi-step operations collapse to what they mean for the object.
const OP_OF: Record<string, ReportedChange['op'] | undefined> = {
  create: 'create',
  import: 'create',
  update: 'update',
  delete: 'delete',
  replace: 'replace',
  'create-replacement': 'replace',
  'delete-replaced': 'replace',
  'import-replacement': 'replace',
};

function kindOf(urn: string, type: string | undefined): string {
  const t = type ?? urn.split('::')[2]?.split('$').pop() ?? '';
  const m = /^pulumi-nodejs:dynamic\/vhostnet:(\w+)$/.exec(t);
  return m ? m[1] : t;
}

function changedFields(s: PreviewStep): string[] {
  if (s.diffReasons?.length) return s.diffReasons;
  const a = s.oldState?.inputs ?? {};
  const b = s.newState?.inputs ?? {};
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !PLUMBING.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/** What one change does to running guests. Unknown kinds: deletes and replaces are disruptive. */
export function judge(kind: string, op: ReportedChange['op'], fields: string[]): { verdict: Verdict; why: string } {
  const d = (why: string) => ({ verdict: 'disruptive' as const, why });
  const h = (why: string) => ({ verdict: 'harmless' as const, why });
  if (op === 'create') return h('new object');
  switch (kind) {
    case 'GuestVM':
      return op === 'delete' ? d('the guest is stopped') : op === 'replace' ? d('the guest is stopped and started again') : d('the guest restarts to apply it');
    case 'VhostUserClientPort':
    case 'VhostUserPort':
      return op === 'update'
        ? h('in place; the guest keeps its link')
        : d(op === 'delete' ? "the port goes: its guest's link drops" : "the port is re-created: its guest's link drops");
    case 'Bridge':
      return op === 'update' ? h('in place') : d(`the bridge ${op === 'delete' ? 'goes' : 'is re-created'}: every port on it drops`);
    case 'HugepageConfig':
      return op === 'update' ? h('reservation resized in place') : d('the hugepage reservation is given back under running guests');
    case 'DatapathSettings': {
      const restart = fields.filter((f) => (RESTART_SETTINGS as readonly string[]).includes(f));
      return restart.length ? d(`${restart.join(', ')} take effect at the agent's restart, which drops every link`) : h('in place');
    }
    case 'pulumi:pulumi:Stack':
    case 'vhostnet:index:VhostNetwork':
      return h('grouping only');
    default:
      return op === 'update' ? h('in place') : d(`${op} of a resource the report does not know`);
  }
}

/** The changes of a preview, one per resource, skipping "same" and reads. */
export function classify(preview: unknown): ReportedChange[] {
  const steps = (preview as { steps?: unknown })?.steps;
  if (!Array.isArray(steps)) throw new Error('input: must be the JSON of `pulumi preview --json` (an object with a "steps" array)');
  const byUrn = new Map<string, { step: PreviewStep; op: ReportedChange['op'] }>();
  steps.forEach((raw, i) => {
    const s = raw as PreviewStep;
    if (typeof s?.op !== 'string' || typeof s?.urn !== 'string') throw new Error(`input: steps[${i}] must have "op" and "urn" strings`);
    const op = OP_OF[s.op];
    if (!op) return;
    const prev = byUrn.get(s.urn);
    // Steps of one replacement (delete-replaced, create-replacement, replace) are one change.
    byUrn.set(s.urn, { step: prev && s.op !== 'replace' ? prev.step : s, op: prev ? 'replace' : op });
  });
  return [...byUrn.values()].map(({ step, op }) => {
    const kind = kindOf(step.urn, step.newState?.type ?? step.oldState?.type);
    const fields = op === 'replace' && step.replaceReasons?.length ? step.replaceReasons : op === 'update' || op === 'replace' ? changedFields(step) : [];
    return { urn: step.urn, name: step.urn.split('::').pop()!, kind, op, fields, ...judge(kind, op, fields) };
  });
}

export function render(changes: ReportedChange[], format: 'text' | 'markdown'): string {
  const line = (c: ReportedChange) => `${c.op} ${c.kind} ${c.name}${c.fields.length ? ` (${c.fields.join(', ')})` : ''}: ${c.why}`;
  const groups: [string, ReportedChange[]][] = [
    ['Disruptive', changes.filter((c) => c.verdict === 'disruptive')],
    ['Harmless', changes.filter((c) => c.verdict === 'harmless' && c.kind !== 'pulumi:pulumi:Stack')],
  ];
  const out: string[] = [];
  for (const [title, list] of groups) {
    out.push(format === 'markdown' ? `### ${title} (${list.length})` : `${title.toUpperCase()} (${list.length})`);
    out.push(...(list.length ? list.map((c) => (format === 'markdown' ? `- ${line(c)}` : `  ${line(c)}`)) : [format === 'markdown' ? '- none' : '  none']));
  }
  return out.join('\n') + '\n';
}

export interface Options {
  file: string;
  failOn: 'disruptive' | 'any' | 'never';
  format: 'text' | 'markdown';
}

export function parseArgs(argv: string[]): Options {
  const o: Options = { file: '-', failOn: 'disruptive', format: 'text' };
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a}: needs a value`);
      return v;
    };
    if (a.startsWith('--fail-on')) {
      const v = value();
      if (v !== 'disruptive' && v !== 'any' && v !== 'never') throw new Error(`--fail-on: must be disruptive, any or never (got '${v}')`);
      o.failOn = v;
    } else if (a.startsWith('--format')) {
      const v = value();
      if (v !== 'text' && v !== 'markdown') throw new Error(`--format: must be text or markdown (got '${v}')`);
      o.format = v;
    } else if (a.startsWith('--') && a !== '--') throw new Error(`${a}: unknown option (known: --fail-on, --format)`);
    else files.push(a);
  }
  if (files.length > 1) throw new Error(`file: at most one preview file (got ${files.length})`);
  if (files.length) o.file = files[0];
  return o;
}

/** Runs the report; returns the exit code. */
export function main(argv: string[], write: (s: string) => void = (s) => process.stdout.write(s)): number {
  let opts: Options;
  let changes: ReportedChange[];
  try {
    opts = parseArgs(argv);
    const text = fs.readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`input: not JSON (${(e as Error).message}); run pulumi preview with --json`, { cause: e });
    }
    changes = classify(json);
  } catch (e) {
    process.stderr.write(`gitops-report: ${(e as Error).message}\n`);
    return 2;
  }
  write(render(changes, opts.format));
  const disruptive = changes.some((c) => c.verdict === 'disruptive');
  const any = changes.some((c) => c.kind !== 'pulumi:pulumi:Stack');
  return (opts.failOn === 'disruptive' && disruptive) || (opts.failOn === 'any' && any) ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
