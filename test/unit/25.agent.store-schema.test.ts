// The store's schema version and migrations (own logic): a new store, a store written by release
// 0.1.0 (no version, made here with its exact DDL), a store from a newer release, a failing migration.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MIGRATIONS, SCHEMA_VERSION, Store } from '../../datapath/agent/store';

/** release 0.1.0's DDL, verbatim (datapath/agent/store.ts at ff3657e). */
const V010_DDL = `
  PRAGMA journal_mode = WAL;
  CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, version INTEGER NOT NULL,
    socket TEXT,
    PRIMARY KEY (kind, name)
  );
  CREATE INDEX IF NOT EXISTS objects_socket ON objects (socket) WHERE socket IS NOT NULL;`;

describe('25 agent store: schema version and migrations (own logic)', () => {
  let dir: string;
  const db = () => path.join(dir, 'state.db');
  const dump = (file: string) => {
    const d = new DatabaseSync(file);
    try {
      return JSON.stringify(d.prepare('SELECT * FROM objects ORDER BY kind, name').all());
    } finally {
      d.close();
    }
  };
  const logs: string[] = [];
  const log = (m: string) => logs.push(m);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vhostnet-store-'));
    logs.length = 0;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a new store is at the current schema version, with no copy kept and nothing logged', () => {
    const s = new Store(dir, { log });
    assert.equal(s.foundSchemaVersion, 0);
    assert.equal(s.schemaVersion, SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
    MIGRATIONS.forEach((m, i) => assert.equal(m.to, i + 1, 'migrations are numbered in order'));
    s.close();
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('schema-')),
      [],
    );
    assert.deepEqual(logs, []);
  });

  it('a 0.1.0 store is migrated in place, objects and versions intact, a copy kept at schema 0', () => {
    const old = new DatabaseSync(db());
    old.exec(V010_DDL);
    old
      .prepare('INSERT INTO objects VALUES (?, ?, ?, ?, ?)')
      .run('port', 'p0', '{"type":"dpdkvhostuserclient","bridge":"br0","vhostServerPath":"/tmp/p0.sock","queues":1}', 3, '/tmp/p0.sock');
    old.prepare('INSERT INTO objects VALUES (?, ?, ?, ?, ?)').run('bridge', 'br0', '{"macAgingSeconds":120}', 2, null);
    old.close();
    const before = dump(db());
    const s = new Store(dir, { log });
    assert.equal(s.foundSchemaVersion, 0);
    assert.equal(s.schemaVersion, SCHEMA_VERSION);
    assert.deepEqual(s.get('port', 'p0'), {
      kind: 'port',
      name: 'p0',
      spec: { type: 'dpdkvhostuserclient', bridge: 'br0', vhostServerPath: '/tmp/p0.sock', queues: 1 },
      version: 3,
    });
    assert.equal(s.get('bridge', 'br0')!.version, 2);
    assert.equal(s.socketOwner('port', '/tmp/p0.sock', 'other'), 'p0', 'the socket index still answers');
    s.close();
    assert.equal(dump(`${db()}.schema-0`), before, 'the copy holds what 0.1.0 wrote');
    assert.equal(new Store(dir, { log }).schemaVersion, SCHEMA_VERSION, 'opening it again changes nothing');
    assert.equal(logs.length, SCHEMA_VERSION, logs.join('\n'));
    assert.match(logs[0], /^store: schema 0 -> 1: /);
  });

  it('a store from a newer release is refused, naming both versions, and left as it was', () => {
    new Store(dir, { log }).close();
    const d = new DatabaseSync(db());
    d.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    d.close();
    assert.throws(
      () => new Store(dir, { log }),
      new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this agent's ${SCHEMA_VERSION}: it was written by a later release`),
    );
    const again = new DatabaseSync(db());
    assert.equal((again.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, SCHEMA_VERSION + 1);
    again.close();
  });

  it('a migration that fails leaves the store at its old version, with its objects', () => {
    const old = new DatabaseSync(db());
    old.exec(V010_DDL);
    old.prepare('INSERT INTO objects VALUES (?, ?, ?, ?, ?)').run('bridge', 'br0', '{}', 1, null);
    old.close();
    const before = dump(db());
    const failing = [
      ...MIGRATIONS,
      { to: SCHEMA_VERSION + 1, why: 'test', up: (x: DatabaseSync) => x.exec('ALTER TABLE objects ADD COLUMN extra TEXT; SELECT nosuchfunction()') },
    ];
    assert.throws(
      () => new Store(dir, { log, migrations: failing }),
      new RegExp(`migration from schema 0 to ${SCHEMA_VERSION + 1} failed, the store is unchanged: .*nosuchfunction`),
    );
    const d = new DatabaseSync(db());
    assert.equal((d.prepare('PRAGMA user_version').get() as { user_version: number }).user_version, 0);
    assert.equal(JSON.stringify(d.prepare('SELECT * FROM objects ORDER BY kind, name').all()), before, 'no column added');
    d.close();
  });
});
