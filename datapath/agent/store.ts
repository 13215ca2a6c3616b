// Crash-safe configuration store: SQLite (Node's built-in node:sqlite) in WAL mode with
// synchronous=FULL, so a change is on disk before the agent acknowledges it, and a SIGKILL
// at any moment leaves either the old or the new state, never a mix.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Kind = 'settings' | 'bridge' | 'port' | 'guest' | 'hugepages';

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

  constructor(stateDir: string) {
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.db = new DatabaseSync(path.join(stateDir, 'state.db'));
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS objects (
        kind TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL, version INTEGER NOT NULL,
        socket TEXT,
        PRIMARY KEY (kind, name)
      );
      CREATE INDEX IF NOT EXISTS objects_socket ON objects (socket) WHERE socket IS NOT NULL;`);
    this.getStmt = this.db.prepare('SELECT spec, version FROM objects WHERE kind = ? AND name = ?');
    this.listStmt = this.db.prepare('SELECT name, spec, version FROM objects WHERE kind = ? ORDER BY name');
    this.putStmt = this.db.prepare(
      'INSERT INTO objects (kind, name, spec, version, socket) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, version = excluded.version, socket = excluded.socket',
    );
    this.socketStmt = this.db.prepare('SELECT name FROM objects WHERE kind = ? AND socket = ? AND name <> ?');
    this.delStmt = this.db.prepare('DELETE FROM objects WHERE kind = ? AND name = ?');
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
