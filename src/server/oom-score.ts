/**
 * oom-score-adj (server.c's setOOMScoreAdj): on Linux, the server tells the kernel's OOM
 * killer which of its processes to sacrifice first by writing /proc/<pid>/oom_score_adj.
 * `oom-score-adj-values` holds one value per process class — master, replica, background
 * child — and `oom-score-adj` says how to use it: `no` (leave the score alone; turning it off
 * restores the score found before nodis first changed it), `yes`/`relative` (added to that
 * original score), `absolute` (the value itself). The result is clamped to [-1000, 1000].
 *
 * The server's own score follows its role (applied on CONFIG SET, at start-up and on every
 * REPLICAOF); the background-child class goes to the handle that stands for a fork child
 * (persistence/child-handle.ts) when a job starts.
 */
import fs from 'node:fs';
import type { Server } from './server.js';

const OOM_FILE = '/proc/self/oom_score_adj';

/** CONFIG_OOM_MASTER / CONFIG_OOM_REPLICA / CONFIG_OOM_BGCHILD. */
export const enum OomClass {
  Master = 0,
  Replica = 1,
  BackgroundChild = 2,
}

class OomScore {
  /** True once nodis has changed the score (oom_score_adjusted_by_redis). */
  private adjusted = false;
  /** The score found before the first change (oom_score_adj_base). */
  private base = 0;

  constructor(private readonly server: Server) {}

  private mode(): string {
    return this.server.config.getString('oom-score-adj');
  }

  /** The score for `cls` under the current settings (null when oom-score-adj is no). */
  valueFor(cls: OomClass): number | null {
    const mode = this.mode();
    if (mode === 'no') return null;
    let val = Number(this.server.config.getString('oom-score-adj-values').split(' ')[cls]);
    if (mode !== 'absolute') val += this.base;
    return Math.max(-1000, Math.min(1000, val));
  }

  /** setOOMScoreAdj(-1): the server's own score for its role. False (logged) on failure. */
  apply(): boolean {
    if (process.platform !== 'linux') return this.mode() === 'no';
    const log = this.server.log;
    let val: number;
    if (this.mode() !== 'no') {
      if (!this.adjusted) {
        try {
          this.base = Number.parseInt(fs.readFileSync(OOM_FILE, 'latin1'), 10) || 0;
        } catch (e) {
          log.warning(`Unable to read oom_score_adj: ${(e as Error).message}`);
          return false;
        }
        this.adjusted = true;
      }
      val = this.valueFor(this.server.role.isReplica() ? OomClass.Replica : OomClass.Master)!;
    } else if (this.adjusted) {
      this.adjusted = false;
      val = this.base;
    } else {
      return true;
    }
    try {
      fs.writeFileSync(OOM_FILE, `${val}\n`);
    } catch (e) {
      log.warning(`Unable to write oom_score_adj: ${(e as Error).message}`);
      return false;
    }
    return true;
  }
}

const scores = new WeakMap<Server, OomScore>();

/** The oom_score_adj a background job's child handle takes, or null to leave it alone. */
export function childOomScore(server: Server): number | null {
  return scores.get(server)?.valueFor(OomClass.BackgroundChild) ?? null;
}

/** Applies the server's score for its current role (after a role change). */
export function applyOomScore(server: Server): void {
  scores.get(server)?.apply();
}

/**
 * Installs oom-score-adj for `server`: CONFIG SET of either directive applies it (failing
 * with Redis's error when /proc refuses), and the start-up value is applied now.
 */
export function installOomScore(server: Server): void {
  const score = new OomScore(server);
  scores.set(server, score);
  const apply = (): string | null => (score.apply() ? null : 'Failed to set current oom_score_adj. Check server logs.');
  server.config.onApply('oom-score-adj', apply);
  server.config.onApply('oom-score-adj-values', apply);
  score.apply();
}
