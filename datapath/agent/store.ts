// Crash-safe configuration store: SQLite (Node's built-in node:sqlite) in WAL mode with
// synchronous=FULL, so a change is on disk before the agent acknowledges it, and a SIGKILL
// at any moment leaves either the old or the new state, never a mix.
//
// Stored state outlives releases: the store carries a schema version (SQLite's user_version) and
// an ordered list of migrations; an agent brings an older store up to its version at start, in one
// transaction, after copying it aside (docs/upgrades.md).
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Kind = 'settings' | 'bridge' | 'port' | 'guest' | 'hugepages';

export interface Migration {
  /** The schema version this migration brings the store to (its index + 1). */
  to: number;
  /** What changed, for the log and the docs. */
  why: string;
  up(db: DatabaseSync): void;
}

/**
 * Schema version n is MIGRATIONS[0..n-1] applied in order. Append only: a released migration is
 * never edited, since stores in the field were made by it. Version 0 is a new, empty database or
 * one written by release 0.1.0, which kept no version (its objects table is version 1's).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    to: 1,
    why: 'the objects table, as release 0.1.0 made it (a 0.1.0 store only gets its version recorded)',
    up: (db) =>
      db.exec(`
        CREATE TABLE IF NOT EXISTS objects (
          kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, version INTEGER NOT NULL,
          socket TEXT,
          PRIMARY KEY (kind, name)
        );
        CREATE INDEX IF NOT EXISTS objects_socket ON objects (socket) WHERE socket IS NOT NULL;`),
  },
];

/** The schema version this release writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export interface StoredObject<T = unknown> {
  kind: Kind;
  name: string;
  spec: T;
  version: number;
}

export class Store {
  private readonly db: DatabaseSync;
  private readonly getStmt: StatementSync;
  private readonly listStmt: StatementSync;
  private readonly putStmt: StatementSync;
  private readonly delStmt: StatementSync;
  private readonly socketStmt: StatementSync;
  private depth = 0;
  /** The schema version the store was at when opened, before any migration. */
  readonly foundSchemaVersion: number;

  constructor(stateDir: string, opts: { log?: (m: string) => void; /** Tests only. */ migrations?: readonly Migration[] } = {}) {
    const log = opts.log ?? ((m: string) => process.stderr.write(`vhostnet-agent: ${m}\n`));
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const file = path.join(stateDir, 'state.db');
    this.db = new DatabaseSync(file);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
    this.foundSchemaVersion = this.schemaVersion;
    try {
      this.migrate(file, opts.migrations ?? MIGRATIONS, log);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.getStmt = this.db.prepare('SELECT spec, version FROM objects WHERE kind = ? AND name = ?');
    this.listStmt = this.db.prepare('SELECT name, spec, version FROM objects WHERE kind = ? ORDER BY name');
    this.putStmt = this.db.prepare(
      'INSERT INTO objects (kind, name, spec, version, socket) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, version = excluded.version, socket = excluded.socket',
    );
    this.socketStmt = this.db.prepare('SELECT name FROM objects WHERE kind = ? AND socket = ? AND name <> ?');
    this.delStmt = this.db.prepare('DELETE FROM objects WHERE kind = ? AND name = ?');
  }

  /** The schema version the store is at (SQLite's user_version). */
  get schemaVersion(): number {
    return (this.db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  }

  /**
   * Brings the store to SCHEMA_VERSION: the pending migrations run in one transaction (all or
   * none). A store with objects is first copied to state.db.schema-<from>, for going back to the
   * release that wrote it. A store from a newer release is refused: this one would drop what it
   * does not know.
   */
  private migrate(file: string, migrations: readonly Migration[], log: (m: string) => void): void {
    const from = this.foundSchemaVersion;
    const to = migrations.length;
    if (from > to)
      throw new Error(
        `${file} is at schema version ${from}, newer than this agent's ${to}: it was written by a later release; run that release, or restore the copy it kept (${file}.schema-${to})`,
      );
    if (from === to) return;
    const hasObjects = !!this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'objects'").get();
    if (hasObjects) {
      const backup = `${file}.schema-${from}`;
      fs.rmSync(backup, { force: true });
      this.db.prepare('VACUUM INTO ?').run(backup);
    }
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const m of migrations.slice(from)) {
        m.up(this.db);
        this.db.exec(`PRAGMA user_version = ${m.to}`);
        if (hasObjects) log(`store: schema ${m.to - 1} -> ${m.to}: ${m.why}`);
      }
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw new Error(`${file}: migration from schema ${from} to ${to} failed, the store is unchanged: ${(e as Error).message}`, { cause: e });
    }
  }

  get<T>(kind: Kind, name: string): StoredObject<T> | undefined {
    const row = this.getStmt.get(kind, name) as { spec: string; version: number } | undefined;
    return row && { kind, name, spec: JSON.parse(row.spec) as T, version: row.version };
  }

  list<T>(kind: Kind): StoredObject<T>[] {
    return (this.listStmt.all(kind) as { name: string; spec: string; version: number }[]).map((r) => ({
      kind,
      name: r.name,
      spec: JSON.parse(r.spec) as T,
      version: r.version,
    }));
  }

  /** Writes spec with the next version; returns that version. socket: a path the object owns, indexed. */
  put(kind: Kind, name: string, spec: unknown, socket?: string): number {
    const version = (this.get(kind, name)?.version ?? 0) + 1;
    this.putStmt.run(kind, name, JSON.stringify(spec), version, socket ?? null);
    return version;
  }

  /** The object of this kind, other than `except`, that owns the socket path. */
  socketOwner(kind: Kind, socket: string, except: string): string | undefined {
    return (this.socketStmt.get(kind, socket, except) as { name: string } | undefined)?.name;
  }

  delete(kind: Kind, name: string): void {
    this.delStmt.run(kind, name);
  }

  /**
   * Runs fn in one transaction: it commits (durably) only if fn returns, and rolls back if
   * fn throws, so a change that fails half-way leaves the stored state whole. Nests.
   */
  transaction<R>(fn: () => R): R {
    if (this.depth > 0) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    this.depth++;
    try {
      const r = fn();
      this.db.exec('COMMIT');
      return r;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    } finally {
      this.depth--;
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
