/** The kinds of object the agent keeps, as change plans name them. */
export type ObjectKind = 'bridge' | 'port' | 'settings' | 'guest' | 'hugepages';

/** What a change would do, answered by a dry run without touching the datapath. */
export interface PlannedChange {
  op: 'create' | 'update' | 'replace' | 'delete' | 'none';
  kind: ObjectKind;
  name: string;
  /** Fields that differ, with old and new values. */
  diff: { field: string; from: unknown; to: unknown }[];
  /** Would it drop a guest's link or stop a guest? */
  disruptive: boolean;
  /** Fields that take effect only at the agent's next start. */
  restartRequired?: string[];
  why?: string;
}

export interface ChangeResult<T> {
  dryRun: boolean;
  changes: PlannedChange[];
  /** The resulting object (or the one that would result); absent after a delete. */
  object?: T;
  warnings: string[];
}

/** How a change is asked for (query parameters of a PUT or DELETE). */
export interface ChangeOptions {
  /** Say what would change, change nothing. */
  dryRun?: boolean;
  /** Take over an object another owner (stack) manages, on purpose. */
  adopt?: boolean;
  /** Optimistic concurrency: refused with 409 unless the object is at this version. */
  expectedVersion?: number;
}
