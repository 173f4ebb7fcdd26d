/**
 * The active expiry cycle (expire.c's activeExpireCycle): on every cron tick, sample keys that
 * have a TTL in each database and delete the expired ones, repeating while more than 10% of a
 * sample was expired and the time budget allows. Keys are visited through a persistent
 * iterator over each database's expires dictionary, so successive cycles sweep all of them.
 */
import type { KeyDict } from './dict.js';
import type { Server } from '../server/server.js';
import { recordLatencyEvent } from '../server/latency.js';

const KEYS_PER_LOOP = 20;
const ACCEPTABLE_STALE_PERCENT = 10;

/** Sweep position per expires dict (not per db: SWAPDB swaps the dicts between dbs). */
const cursors = new WeakMap<KeyDict<number>, Iterator<[string, number]>>();

/** Runs one cycle with a budget of `budgetMs` milliseconds. */
export function activeExpireCycle(server: Server, budgetMs: number): void {
  const start = server.clock.monotonic();
  let sampledTotal = 0;
  let expiredTotal = 0;
  for (const db of server.dbs) {
    if (db.expires.size === 0) continue;
    for (;;) {
      const now = server.clock.now();
      let sampled = 0;
      let expired = 0;
      const expires = db.expires;
      let it = cursors.get(expires);
      if (it === undefined) {
        it = expires.entries();
        cursors.set(expires, it);
      }
      const due: string[] = [];
      while (sampled < KEYS_PER_LOOP) {
        const r = it.next();
        if (r.done) {
          cursors.delete(expires);
          break;
        }
        sampled++;
        if (r.value[1] <= now) due.push(r.value[0]);
      }
      for (const key of due) {
        // expireIfNeeded re-checks and performs delete + propagation + notification.
        if (db.expireIfNeeded(key)) expired++;
      }
      sampledTotal += sampled;
      expiredTotal += expired;
      if (sampled === 0 || (expired * 100) / sampled <= ACCEPTABLE_STALE_PERCENT) break;
      if (server.clock.monotonic() - start > budgetMs) {
        server.stats.expiredTimeCapReached++;
        recordLatencyEvent(server, 'expire-cycle', server.clock.monotonic() - start);
        return;
      }
    }
  }
  // The whole cycle is one "expire-cycle" latency sample (LATENCY LATEST / HISTORY).
  if (sampledTotal > 0) recordLatencyEvent(server, 'expire-cycle', server.clock.monotonic() - start);
  if (sampledTotal > 0) {
    const perc = expiredTotal / sampledTotal;
    server.stats.expiredStalePerc = perc * 0.05 + server.stats.expiredStalePerc * 0.95;
  }
}
