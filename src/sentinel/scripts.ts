/**
 * The queue of user scripts Sentinel runs: the notification script (every WARNING event of a
 * master, its replicas and sentinels) and the client reconfiguration script (failover start,
 * config switch). This is the "script execution" section of Redis 7.0's sentinel.c, step for
 * step, driven from `Sentinel.tick()` in the same order as sentinelTimer(): run pending jobs,
 * collect the ones that exited, kill the ones that ran too long.
 *
 * The queue itself starts nothing: processes are started through an injected `ScriptRunner`
 * (child_process.spawn in the real sentinel — script-runner.ts — a fake in tests and in the
 * simulation), and their exits are only recorded when they arrive, then handled at the next
 * tick as Redis's waitpid(WNOHANG) does. Time comes from the sentinel's clock, so retries and
 * timeouts run under a simulated clock exactly as under the real one.
 *
 * Limits (Redis's): at most SENTINEL_SCRIPT_MAX_QUEUE jobs queued (the oldest job not running
 * is dropped), SENTINEL_SCRIPT_MAX_RUNNING at once; a job that exits with code 1 or is killed by
 * a signal is retried, after script-retry-delay doubled for every further retry, until it has
 * run SENTINEL_SCRIPT_MAX_RETRY times; a job running longer than script-max-runtime is killed
 * with SIGKILL (and, being killed by a signal, retried).
 */
import type { LogLevel } from './sentinel.js';

export const SENTINEL_SCRIPT_MAX_QUEUE = 256;
export const SENTINEL_SCRIPT_MAX_RUNNING = 16;
export const SENTINEL_SCRIPT_MAX_RETRY = 10;
/** Redis reports a failure to fork as "signal 99". */
export const SCRIPT_FORK_ERROR_SIGNAL = 99;

/** A started script process. */
export interface ScriptProcess {
  readonly pid: number;
  /** SIGKILL. The exit is still reported through the start() callback. */
  kill(): void;
}

/** How scripts are started: the only part that touches the operating system. */
export interface ScriptRunner {
  /** access(path, X_OK): checked when a script path is configured. */
  isExecutable(path: string): boolean;
  /**
   * Starts `argv[0]` with arguments `argv` (argv[0] included, as execve). `onExit` is called
   * exactly once, later, with the exit code (0 when killed) and the signal number (0 when it
   * exited); a program that cannot be executed exits with code 2, as Redis's forked child does
   * when execve fails. Returns null when no process could be created at all (fork failure).
   */
  start(argv: readonly string[], onExit: (exitCode: number, signal: number) => void): ScriptProcess | null;
}

/** For sentinels built without a runner (the simulation by default): no script is executable. */
export const NO_SCRIPT_RUNNER: ScriptRunner = {
  isExecutable: () => false,
  start: () => null,
};

/** One queued script execution (sentinelScriptJob). */
export interface ScriptJob {
  readonly argv: readonly string[];
  running: boolean;
  /** How many times it has been started. */
  retryNum: number;
  /** When running: when it started. Otherwise 0 (run at once) or the earliest retry time. */
  startTime: number;
  pid: number;
  process: ScriptProcess | null;
}

export interface ScriptQueueContext {
  runner: ScriptRunner;
  now(): number;
  maxRuntime(): number;
  retryDelay(): number;
  /** A Sentinel event with no instance (so it never triggers a notification script itself). */
  event(level: LogLevel, type: string, message: string): void;
  /** A plain log line. */
  log(level: LogLevel, line: string): void;
}

interface Exit {
  job: ScriptJob;
  exitCode: number;
  signal: number;
}

export class ScriptQueue {
  /** Oldest first (Redis appends at the tail and runs from the head). */
  readonly jobs: ScriptJob[] = [];
  /** Jobs started and not yet collected. */
  running = 0;
  /** Exits reported since the last collect (the waitpid() backlog). */
  private readonly exited: Exit[] = [];

  constructor(private readonly ctx: ScriptQueueContext) {}

  get runner(): ScriptRunner {
    return this.ctx.runner;
  }

  /** sentinelScheduleScriptExecution(). */
  schedule(path: string, args: readonly string[]): void {
    this.jobs.push({ argv: [path, ...args], running: false, retryNum: 0, startTime: 0, pid: 0, process: null });
    if (this.jobs.length > SENTINEL_SCRIPT_MAX_QUEUE) {
      // Drop the oldest job that is not running.
      const i = this.jobs.findIndex((j) => !j.running);
      this.jobs.splice(i, 1);
    }
  }

  /** sentinelRunPendingScripts(): start jobs, oldest first, up to the running limit. */
  runPending(): void {
    const now = this.ctx.now();
    for (const job of this.jobs) {
      if (this.running >= SENTINEL_SCRIPT_MAX_RUNNING) break;
      if (job.running) continue;
      // A retry whose delay has not elapsed yet.
      if (job.startTime !== 0 && job.startTime > now) continue;
      job.running = true;
      job.startTime = now;
      job.retryNum++;
      const proc = this.ctx.runner.start(job.argv, (exitCode, signal) => {
        this.exited.push({ job, exitCode, signal });
      });
      if (proc === null) {
        this.ctx.event('warning', '-script-error', `${job.argv[0]} ${SCRIPT_FORK_ERROR_SIGNAL} 0`);
        job.running = false;
        job.pid = 0;
        continue;
      }
      this.running++;
      job.pid = proc.pid;
      job.process = proc;
      this.ctx.event('debug', '+script-child', `${proc.pid}`);
    }
  }

  /** sentinelCollectTerminatedScripts(): retry on exit 1 or a signal, otherwise forget the job. */
  collectTerminated(): void {
    while (this.exited.length > 0) {
      const { job, exitCode, signal } = this.exited.shift()!;
      // A job has at most one process at a time, so its pid is still the one that exited.
      const pid = job.pid;
      this.ctx.event('debug', '-script-child', `${pid} ${exitCode} ${signal}`);
      const index = this.jobs.indexOf(job);
      if (index < 0 || !job.running) {
        this.ctx.log('warning', `waitpid() returned a pid (${pid}) we can't find in our scripts execution queue!`);
        continue;
      }
      job.process = null;
      if ((signal !== 0 || exitCode === 1) && job.retryNum !== SENTINEL_SCRIPT_MAX_RETRY) {
        job.running = false;
        job.pid = 0;
        job.startTime = this.ctx.now() + this.retryDelay(job.retryNum);
      } else {
        if (signal !== 0 || exitCode !== 0) this.ctx.event('warning', '-script-error', `${job.argv[0]} ${signal} ${exitCode}`);
        this.jobs.splice(index, 1);
      }
      this.running--;
    }
  }

  /** sentinelKillTimedoutScripts(): the kill is collected like any other exit. */
  killTimedOut(): void {
    const now = this.ctx.now();
    for (const job of this.jobs) {
      if (job.running && now - job.startTime > this.ctx.maxRuntime()) {
        this.ctx.event('warning', '-script-timeout', `${job.argv[0]} ${job.pid}`);
        job.process?.kill();
      }
    }
  }

  /** sentinelScriptRetryDelay(): the delay doubles with every further retry. */
  retryDelay(retryNum: number): number {
    let delay = this.ctx.retryDelay();
    while (retryNum-- > 1) delay *= 2;
    return delay;
  }
}
