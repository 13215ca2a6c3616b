// The native datapath's MAC table (datapath/native/src/fdb.cpp) under abuse: aging swept without
// reads, eviction of the oldest entry when full, the per-port limit, moves. Its own logic only, so
// it runs as a C++ program (test/unit/native/fdb-check.cpp) built here against the real fdb.cpp
// and DPDK's headers; the switching through it is tested with real guests in test/integration/10.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../../..');

describe('15 native: the FDB under abuse', function () {
  this.timeout(120000);
  let lines: string[] = [];
  let dir = '';

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhn-fdb-'));
    const exe = path.join(dir, 'fdb-check');
    const cflags = execFileSync('pkg-config', ['--cflags', 'libdpdk'], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean);
    const src = ['test/unit/native/fdb-check.cpp', 'datapath/native/src/fdb.cpp'].map((f) => path.join(root, f));
    execFileSync('g++', ['-std=c++17', '-O1', ...cflags, '-o', exe, ...src], { stdio: ['ignore', 'inherit', 'inherit'] });
    let out: string;
    try {
      out = execFileSync(exe, { encoding: 'utf8' });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? '');
    }
    lines = out.split('\n').filter(Boolean);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const checks = [
    'learns a source MAC',
    'a MAC seen on another port moves',
    'a read leaves aged-out entries out',
    'a read changes nothing',
    'an aged-out MAC is unknown before the sweep',
    'the sweep removes aged-out entries and counts them',
    'the sweep follows the last sighting',
    'a sighting a second ahead of the sweep clock is fresh',
    'an entry seen again is not swept',
    'a port stops learning at its limit',
    'the limit is per port',
    'a MAC moving onto a port at its limit is forgotten, not left behind',
    'flushing a port frees its share',
    'a new MAC in a full table is learned, evicting one entry',
    'the oldest entry is the one evicted',
    'a flood of new MACs keeps the table full of the newest ones',
    "a port's own limit overrides the bridge's",
    'a port destroyed forgets its own limit',
    'a smaller table keeps the newest entries',
    'shrinking the table evicts the oldest at once',
  ];
  for (const name of checks)
    it(name, () => {
      const line = lines.find((l) => l === `ok ${name}` || l.startsWith(`FAIL ${name}:`));
      assert.equal(line, `ok ${name}`, line ?? `the check did not run (output: ${lines.join(' | ')})`);
    });
});
