// The GitOps report on hand-made `pulumi preview --json` steps: which changes disrupt guests,
// how replacement steps collapse, exit codes, and refusals that name the argument.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { classify, main, parseArgs, render } from '../../scripts/gitops-report';

const T = (kind: string) => `pulumi-nodejs:dynamic/vhostnet:${kind}`;
const urn = (kind: string, name: string) => `urn:pulumi:dev::proj::${kind.includes(':') ? kind : T(kind)}::${name}`;
const step = (op: string, kind: string, name: string, oldInputs?: object, newInputs?: object, extra: object = {}) => ({
  op,
  urn: urn(kind, name),
  ...(oldInputs ? { oldState: { type: T(kind), inputs: oldInputs } } : {}),
  ...(newInputs ? { newState: { type: T(kind), inputs: newInputs } } : {}),
  ...extra,
});

const preview = {
  steps: [
    step('same', 'pulumi:pulumi:Stack', 'proj-dev'),
    step('create', 'VhostUserClientPort', 'new0', undefined, { name: 'new0' }),
    step('update', 'VhostUserClientPort', 'p1', { queues: 1, owner: 'a', agentToken: 'x' }, { queues: 2, owner: 'b', agentToken: 'y' }),
    step('update', 'GuestVM', 'vm1', { memoryMb: 256 }, { memoryMb: 512 }),
    step('create-replacement', 'VhostUserPort', 'srv', {}, {}),
    step('replace', 'VhostUserPort', 'srv', { bridge: 'br0' }, { bridge: 'br1' }, { replaceReasons: ['bridge'] }),
    step('delete-replaced', 'VhostUserPort', 'srv', {}, {}),
    step('delete', 'Bridge', 'br9', { name: 'br9' }),
    step('update', 'DatapathSettings', 'settings', { pmdCpus: [1], pmdMaxSleepUs: 0 }, { pmdCpus: [1, 2], pmdMaxSleepUs: 50 }),
    step('update', 'HugepageConfig', 'hp', { pages: 10 }, { pages: 20 }),
    step('read', 'Bridge', 'ext'),
  ],
};

describe('62 components: gitops-report', () => {
  it('classifies each resource once: guest restarts, replaced/deleted ports and bridges are disruptive', () => {
    const got = classify(preview).map((c) => `${c.verdict} ${c.op} ${c.kind} ${c.name} [${c.fields.join(',')}]`);
    assert.deepEqual(got, [
      'harmless create VhostUserClientPort new0 []',
      'harmless update VhostUserClientPort p1 [queues]',
      'disruptive update GuestVM vm1 [memoryMb]',
      'disruptive replace VhostUserPort srv [bridge]',
      'disruptive delete Bridge br9 []',
      'disruptive update DatapathSettings settings [pmdCpus,pmdMaxSleepUs]',
      'harmless update HugepageConfig hp [pages]',
    ]);
  });

  it('settings that apply without a restart are harmless', () => {
    const [c] = classify({ steps: [step('update', 'DatapathSettings', 's', { pmdMaxSleepUs: 0 }, { pmdMaxSleepUs: 9 })] });
    assert.equal(c.verdict, 'harmless');
  });

  it('renders text and markdown with both groups', () => {
    const text = render(classify(preview), 'text');
    assert.match(text, /^DISRUPTIVE \(4\)\n {2}update GuestVM vm1 \(memoryMb\): the guest restarts to apply it\n/);
    assert.match(text, /HARMLESS \(3\)/);
    assert.match(render([], 'markdown'), /^### Disruptive \(0\)\n- none\n### Harmless \(0\)\n- none\n$/);
  });

  it('exit codes follow --fail-on; bad usage and input exit 2 naming the argument', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-report-'));
    const f = (name: string, body: string) => {
      fs.writeFileSync(path.join(dir, name), body);
      return path.join(dir, name);
    };
    const mixed = f('mixed.json', JSON.stringify(preview));
    const calm = f(
      'calm.json',
      JSON.stringify({ steps: [step('same', 'pulumi:pulumi:Stack', 's'), step('update', 'Bridge', 'br0', { macAgingSeconds: 1 }, { macAgingSeconds: 2 })] }),
    );
    const quiet = () => undefined;
    const errs: string[] = [];
    const origWrite = process.stderr.write.bind(process.stderr);
    (process.stderr as { write: unknown }).write = (s: string) => (errs.push(s), true);
    try {
      assert.equal(main([mixed], quiet), 1);
      assert.equal(main([mixed, '--fail-on=never'], quiet), 0);
      assert.equal(main([calm], quiet), 0);
      assert.equal(main([calm, '--fail-on', 'any'], quiet), 1);
      assert.equal(main([f('bad.json', '{')], quiet), 2);
      assert.equal(main([f('shape.json', '{"steps": [{"op": 1}]}')], quiet), 2);
      assert.equal(main([f('nosteps.json', '{}')], quiet), 2);
      assert.equal(main([mixed, '--format', 'html'], quiet), 2);
    } finally {
      (process.stderr as { write: unknown }).write = origWrite;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.match(errs[0], /input: not JSON/);
    assert.match(errs[1], /input: steps\[0\] must have "op" and "urn" strings/);
    assert.match(errs[2], /"steps" array/);
    assert.match(errs[3], /--format: must be text or markdown \(got 'html'\)/);
    assert.throws(() => parseArgs(['--fail-on']), /--fail-on: needs a value/);
    assert.throws(() => parseArgs(['--nope']), /--nope: unknown option/);
    assert.throws(() => parseArgs(['a', 'b']), /file: at most one preview file/);
  });
});
