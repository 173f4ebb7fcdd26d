/**
 * The one propagation path. Every change to the dataset leaves through `Propagator`, which feeds
 * the AOF and the replication stream alike, in the command's deterministic form (handlers
 * rewrite EXPIRE → PEXPIREAT, SPOP → SREM, INCRBYFLOAT → SET, scripts → their effects).
 *
 * Commands are collected while a top-level call runs (`also`) and emitted when it ends
 * (`flush`); when one call produced several commands (a script, EXEC, a command plus expiry
 * DELs) they are wrapped in MULTI/EXEC so that AOF and replicas apply them atomically, as
 * Redis 7's propagatePendingCommands does. Each target tracks its own SELECTed database.
 */

/** A consumer of the write stream: the AOF, the replication backlog. */
export interface PropagationTarget {
  /** Receives one command to apply in database `db`. Targets emit SELECT themselves. */
  feed(db: number, argv: readonly string[]): void;
  /**
   * 'aof' targets do not receive replication-only commands (PUBLISH: Redis propagates it with
   * PROPAGATE_REPL only, so reloading the AOF does not publish again).
   */
  readonly kind?: 'aof' | 'replication';
}

interface Pending {
  db: number;
  argv: readonly string[];
  /** For replicas only, never the AOF (PROPAGATE_REPL). */
  replicationOnly: boolean;
}

export class Propagator {
  private readonly targets: PropagationTarget[] = [];
  private pending: Pending[] = [];
  /** Set while EXEC runs so its MULTI/EXEC wrapping is emitted once. */
  inTransaction = false;

  addTarget(t: PropagationTarget): void {
    this.targets.push(t);
  }

  removeTarget(t: PropagationTarget): void {
    const i = this.targets.indexOf(t);
    if (i >= 0) this.targets.splice(i, 1);
  }

  get hasTargets(): boolean {
    return this.targets.length > 0;
  }

  /** Queues a command for propagation at the end of the current top-level call. */
  also(db: number, argv: readonly string[], replicationOnly = false): void {
    this.pending.push({ db, argv, replicationOnly });
  }

  /**
   * Emits the queued commands, wrapped in MULTI/EXEC when there are several, unless `noMulti`:
   * a command run directly that may touch arbitrary keys (SCAN, RANDOMKEY…) propagates the
   * lazy-expiry DELs it caused on their own, like active expiry (7.0.15 propagatePendingCommands).
   */
  flush(noMulti = false): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    if (this.targets.length === 0) return;
    for (const t of this.targets) {
      const mine = t.kind === 'aof' ? pending.filter((p) => !p.replicationOnly) : pending;
      if (mine.length === 0) continue;
      const wrap = mine.length > 1 && !noMulti;
      if (wrap) t.feed(mine[0]!.db, ['MULTI']);
      for (const p of mine) t.feed(p.db, p.argv);
      if (wrap) t.feed(mine[mine.length - 1]!.db, ['EXEC']);
    }
  }

  /** Discards queued commands (used when a call is rolled back before any effect). */
  discard(): void {
    this.pending = [];
  }
}

/** Encodes a command as a RESP multibulk (the form AOF and replicas receive). */
export function encodeCommand(argv: readonly string[]): string {
  let s = `*${argv.length}\r\n`;
  for (const a of argv) s += `$${a.length}\r\n${a}\r\n`;
  return s;
}
