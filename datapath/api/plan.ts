/** What a change would do, answered by a dry run without touching the datapath. */
export interface PlannedChange {
  op: 'create' | 'update' | 'replace' | 'delete' | 'none';
  kind: 'bridge' | 'port' | 'settings' | 'guest';
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
