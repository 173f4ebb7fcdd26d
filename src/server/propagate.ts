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
  /** False while a command fed now would be dropped (no backlog yet); absent: always read. */
  receiving?(): boolean;
}

/** Where a command goes (Redis's PROPAGATE_AOF / PROPAGATE_REPL bits). */
export const enum PropagateTo {
  None = 0,
  Aof = 1,
  Replication = 2,
  All = 3,
}

interface Pending {
  db: number;
  argv: readonly string[];
  /** Which kinds of targets receive it (PUBLISH: replicas only). */
  to: PropagateTo;
}

export class Propagator {
  private readonly targets: PropagationTarget[] = [];
  // The queue. Its first command lives in these three fields and only the others in `rest`: most
  // calls queue one command, and with no AOF and no replica nothing is fed, so a write then
  // allocates nothing here (an object and the array's store per write were half of LPUSH's
  // allocation: docs/PERFORMANCE.md, types16). `rest` is empty whenever `firstArgv` is null.
  private firstDb = 0;
  private firstArgv: readonly string[] | null = null;
  private firstTo: PropagateTo = PropagateTo.All;
  private rest: Pending[] = [];
  /** True when some pending command is not for every target (the common case needs no filter). */
  private filtered = false;
  /** Set while EXEC runs so its MULTI/EXEC wrapping is emitted once. */
  inTransaction = false;
  /**
   * Where the command now running propagates *itself* (not the extra commands its handler
   * queues, nor expiry DELs): a script's redis.set_repl() narrows it for the commands it calls.
   */
  commandTargets: PropagateTo = PropagateTo.All;

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

  /** Whether a command propagated now would be read by some target (its argv kept or encoded). */
  hasReaders(): boolean {
    const targets = this.targets;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (t.receiving === undefined || t.receiving()) return true;
    }
    return false;
  }

  /** Queues a command for propagation at the end of the current top-level call. */
  also(db: number, argv: readonly string[], replicationOnly = false): void {
    if (replicationOnly) this.filtered = true;
    this.queue(db, argv, replicationOnly ? PropagateTo.Replication : PropagateTo.All);
  }

  /** Queues the running command's own propagation, filtered by `commandTargets`. */
  alsoCommand(db: number, argv: readonly string[], replicationOnly: boolean): void {
    const to = (replicationOnly ? PropagateTo.Replication : PropagateTo.All) & this.commandTargets;
    if (to === PropagateTo.None) return;
    if (to !== PropagateTo.All) this.filtered = true;
    this.queue(db, argv, to);
  }

  private queue(db: number, argv: readonly string[], to: PropagateTo): void {
    if (this.firstArgv === null) {
      this.firstDb = db;
      this.firstArgv = argv;
      this.firstTo = to;
    } else {
      this.rest.push({ db, argv, to });
    }
  }

  /**
   * Emits the queued commands, wrapped in MULTI/EXEC when there are several, unless `noMulti`:
   * a command run directly that may touch arbitrary keys (SCAN, RANDOMKEY…) propagates the
   * lazy-expiry DELs it caused on their own, like active expiry (7.0.15 propagatePendingCommands).
   */
  flush(noMulti = false): void {
    const firstArgv = this.firstArgv;
    if (firstArgv === null) return;
    const filtered = this.filtered;
    const rest = this.rest;
    const db = this.firstDb;
    const to = this.firstTo;
    // Emptied before feeding: a target that queues more (re-entrantly) starts a new queue.
    this.filtered = false;
    this.firstArgv = null;
    if (rest.length !== 0) this.rest = [];
    const targets = this.targets;
    if (targets.length === 0) return; // no AOF, no replicas: nothing to feed
    if (rest.length === 0) {
      // One command (most calls): fed as it is, no MULTI/EXEC, nothing to gather.
      for (let i = 0; i < targets.length; i++) {
        const t = targets[i]!;
        if (filtered && (to & (t.kind === 'aof' ? PropagateTo.Aof : PropagateTo.Replication)) === 0) continue;
        t.feed(db, firstArgv);
      }
      return;
    }
    const first: Pending = { db, argv: firstArgv, to };
    const pending = [first, ...rest];
    for (const t of targets) {
      const kind = t.kind === 'aof' ? PropagateTo.Aof : PropagateTo.Replication;
      const mine = filtered ? pending.filter((p) => (p.to & kind) !== 0) : pending;
      if (mine.length === 0) continue;
      const wrap = mine.length > 1 && !noMulti;
      if (wrap) t.feed(mine[0]!.db, ['MULTI']);
      for (const p of mine) t.feed(p.db, p.argv);
      if (wrap) t.feed(mine[mine.length - 1]!.db, ['EXEC']);
    }
  }

  /** True when nothing waits to be flushed (an invariant after each outermost flush). */
  isEmpty(): boolean {
    return this.firstArgv === null;
  }

  /** Discards queued commands (used when a call is rolled back before any effect). */
  discard(): void {
    this.firstArgv = null;
    this.rest = [];
    this.filtered = false;
  }
}

/** Encodes a command as a RESP multibulk (the form AOF and replicas receive). */
export function encodeCommand(argv: readonly string[]): string {
  let s = `*${argv.length}\r\n`;
  for (const a of argv) s += `$${a.length}\r\n${a}\r\n`;
  return s;
}
