/**
 * The stand-in for the child that Redis forks for a background job (BGSAVE, AOF rewrite, an
 * RDB for a replica's full sync). nodis runs those jobs in slices inside its own process (a
 * copy-on-write Snapshot, snapshot.ts), so there is no fork; but operators and tools look
 * for the child: `pgrep -P <server pid>` / `ps --ppid` to find it, `kill` to stop a runaway
 * save, /proc/<pid>/oom_score_adj to see that the OOM killer would pick it first.
 *
 * So while a job runs nodis keeps a real, tiny process as its handle: `cat` reading a pipe
 * from the server (nothing is ever written to it), with argv[0] naming the job as Redis's
 * process titles do (`nodis-rdb-bgsave`, `nodis-aof-rewrite`, `nodis-rdb-to-slaves`).
 *  - Its PID is the child's PID everywhere Redis shows one: the "started by pid" log lines
 *    and the temp file names (`temp-<pid>.rdb`, `temp-rewriteaof-bg-<pid>.aof`).
 *  - Killed by a signal (an operator, the OOM killer, a test), the job is aborted exactly as
 *    Redis handles a child that died by that signal (`onKilled(signal number)`); the caller
 *    logs "terminated by signal N" and applies Redis's rules (SIGUSR1 is not an error).
 *  - Its oom_score_adj follows oom-score-adj / oom-score-adj-values for the background-child
 *    class (server/oom-score.ts computes the value), as Redis's child sets its own.
 *  - It exits by itself when the server dies (its stdin pipe closes), as Redis's child notices
 *    its parent is gone; when the job ends, the server ends it quietly.
 * It holds no data and costs one fork+exec of a small program per job (never per command).
 * Where it cannot be started (no `cat`, Windows), the job runs without one and reports the
 * server's own PID, as nodis did before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { Server } from '../server/server.js';
import { childOomScore } from '../server/oom-score.js';

/** Redis's process titles for its children (redisSetProcTitle in the child), nodis-prefixed. */
export type ChildJob = 'rdb-bgsave' | 'aof-rewrite' | 'rdb-to-slaves';

/** The signal a job's own end uses (killRDBChild / killAppendOnlyChild send SIGUSR1). */
export const SIGUSR1_NUMBER = os.constants.signals.SIGUSR1;

export class ChildHandle {
  /** The PID to report as the child's: the handle's, or the server's when there is none. */
  readonly pid: number;
  private proc: ChildProcess | null;
  private ended = false;

  private constructor(proc: ChildProcess | null, onKilled: (signal: number) => void) {
    this.proc = proc;
    this.pid = proc?.pid ?? process.pid;
    if (proc === null) return;
    proc.on('exit', (_code, signal) => {
      this.proc = null;
      if (this.ended) return;
      this.ended = true;
      // Anything but our own end is a death of the job's child: by its signal, or (a handle
      // that exited on its own) as if killed by SIGKILL.
      onKilled(signal === null ? os.constants.signals.SIGKILL : os.constants.signals[signal]);
    });
  }

  /**
   * Starts the handle for one job of `server`; `onKilled` runs (once, later) if it dies while
   * the job is still running. Never throws: without a handle the job simply runs.
   */
  static start(server: Server, job: ChildJob, onKilled: (signal: number) => void): ChildHandle {
    if (process.platform === 'win32') return new ChildHandle(null, onKilled);
    let proc: ChildProcess;
    try {
      proc = spawn('cat', [], { argv0: `nodis-${job}`, stdio: ['pipe', 'ignore', 'ignore'] });
    } catch {
      return new ChildHandle(null, onKilled);
    }
    // A spawn that fails (ENOENT) reports it asynchronously and has no pid.
    proc.on('error', () => undefined);
    if (proc.pid === undefined) return new ChildHandle(null, onKilled);
    proc.stdin?.on('error', () => undefined);
    // The handle never keeps the server's event loop alive.
    proc.unref();
    (proc.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    const handle = new ChildHandle(proc, onKilled);
    const score = childOomScore(server);
    if (score !== null) {
      try {
        fs.writeFileSync(`/proc/${proc.pid}/oom_score_adj`, `${score}\n`);
      } catch {
        // Redis's child logs nothing either when it cannot set its score.
      }
    }
    return handle;
  }

  /** The job ended (or was stopped by the server): the handle goes, with no callback. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const proc = this.proc;
    this.proc = null;
    if (proc === null) return;
    proc.stdin?.destroy();
    proc.kill('SIGKILL');
  }

  /**
   * Sends `signal` to the handle, as Redis signals its child (killRDBChild's SIGUSR1): the job
   * then ends through `onKilled`, like a child that died by that signal.
   */
  signal(signal: NodeJS.Signals): void {
    if (this.ended || this.proc === null) return;
    this.proc.kill(signal);
  }

  /** True while the handle's process runs. */
  get running(): boolean {
    return this.proc !== null;
  }
}
