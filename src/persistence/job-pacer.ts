/**
 * How a background job (a snapshot for BGSAVE, an AOF rewrite, a full sync) shares the one
 * thread with clients. Redis forks: its child has a core of its own and its clients never wait
 * for it. nodis runs the job on the event loop in slices, so every slice is time a client's
 * next command may wait; the pacer decides how long the next slice is, or that there is none
 * this turn.
 *
 * - While no command arrived for `busyWindowMs`, the job runs in long slices (`idleSliceMs`):
 *   fewer loop turns, and a client that arrives waits at most one of them.
 * - While commands arrive, the job gets `busyShare` of the thread's wall time: job time accrues
 *   at that rate (a token bucket) and each slice spends what has accrued, up to
 *   `maxBusySliceMs`; below `minBusySliceMs` the turn passes without a slice, and the job
 *   waits for the next turn that flushed replies or `restMs`, whichever comes first
 *   (Server.afterNextFlush): the thread sleeps in the poll meanwhile instead of spinning
 *   through setImmediate for its credit, which burnt a core and allocated a promise and an
 *   Immediate per spin, a scavenge every ~0.3 s (docs/PERFORMANCE.md, jobs3). So a slice
 *   is as long as the turns around it are: a client sending one command at a time (turns of
 *   tens of µs) meets slices of a few µs, fifty clients keeping the loop saturated (turns of
 *   ~1 ms) meet slices of a fifth of that, and either keeps ~(1 − busyShare) of the thread.
 *
 * The job's own CPU is what it is (docs/PERFORMANCE.md: ~0.2 s per million small keys); the
 * share only stretches it while clients are active, which the job-time target (at most 2×
 * redis-server's) leaves room for.
 */

export interface JobPacing {
  /** Slice length while no command arrived for busyWindowMs. */
  idleSliceMs: number;
  /** While commands arrive: the longest slice, and the shortest worth a turn. */
  maxBusySliceMs: number;
  minBusySliceMs: number;
  /** How long after the last command the job still counts clients as active. */
  busyWindowMs: number;
  /** The share of the thread's wall time the job may take while clients are active (0–1]. */
  busyShare: number;
  /**
   * While clients are active and the job has no credit: 0 = poll again next turn (the loop
   * spins through setImmediate); > 0 = sleep that long (a timer) so the thread blocks in the
   * poll and the core is the clients'.
   */
  restMs: number;
}

/** The defaults (measured: docs/PERFORMANCE.md "Writes while a background job runs"). */
export const DEFAULT_JOB_PACING: JobPacing = { idleSliceMs: 0.6, maxBusySliceMs: 0.3, minBusySliceMs: 0.01, busyWindowMs: 2, busyShare: 0.2, restMs: 1, ...envPacing() };

/** NODIS_JOB_PACING='{"busyShare":0.1}' overrides the defaults (for measuring, bench/jobs-gc.mjs). */
function envPacing(): Partial<JobPacing> {
  const text = process.env.NODIS_JOB_PACING;
  return text ? (JSON.parse(text) as Partial<JobPacing>) : {};
}

export class JobPacer {
  private commandsSeen: number;
  private lastCommandAt = -Infinity;
  private lastAt: number;
  /** Job time (ms) the share allows now, while clients are active. */
  private credit: number;

  constructor(
    private readonly now: () => number,
    /** A counter that moves whenever a command ran (the server's total commands). */
    private readonly commands: () => number,
    private readonly pacing: JobPacing = DEFAULT_JOB_PACING,
  ) {
    this.commandsSeen = commands();
    this.lastAt = now();
    this.credit = 0;
  }

  /** True while commands arrived within busyWindowMs (as of the last next()). */
  busy = false;

  /** The next slice's length in ms, or 0: no slice this turn (clients have the thread). */
  next(): number {
    const p = this.pacing;
    const t = this.now();
    const n = this.commands();
    if (n !== this.commandsSeen) {
      this.commandsSeen = n;
      this.lastCommandAt = t;
    }
    this.credit = Math.min(p.maxBusySliceMs, this.credit + (t - this.lastAt) * p.busyShare);
    this.lastAt = t;
    this.busy = t - this.lastCommandAt < p.busyWindowMs;
    if (!this.busy) return p.idleSliceMs;
    return this.credit >= p.minBusySliceMs ? this.credit : 0;
  }

  get restMs(): number {
    return this.pacing.restMs;
  }

  /** True when, as of the last next(), clients are active and the last slice spent the job's credit. */
  shareSpent(): boolean {
    return this.busy && this.credit < this.pacing.minBusySliceMs;
  }

  /** A slice ran for `ms` (wall time). */
  spent(ms: number): void {
    if (this.busy) this.credit -= ms;
  }
}
