/**
 * DEBUG HTSTATS: the keyspace's table size follows Redis's dict rules (KeyDict.tableSize) — it
 * grows when full, not while a background save runs (unless 5× over), and shrinks in the cron
 * below 10% fill — side by side with redis-server for the same steps.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { startServer, stopAll } from './helpers/server.js';
import { startRedis } from './helpers/redis-compare.js';
import { waitFor } from './helpers/conditions.js';

/** The main table's size of db 9 once Redis has finished any rehash (nodis never shows one). */
async function tableSize(c: Redis): Promise<number> {
  let stats = '';
  await waitFor('the rehash to end', async () => {
    stats = String(await c.call('DEBUG', 'HTSTATS', '9'));
    return !stats.includes('rehashing target');
  });
  const m = /\[Dictionary HT\]\nHash table 0 stats \(main hash table\):\n table size: (\d+)\n/.exec(stats);
  assert.ok(m, stats);
  return Number(m[1]);
}

describe('DEBUG HTSTATS table size', () => {
  after(stopAll);

  it('grows, holds during a BGSAVE, and shrinks as redis-server', async () => {
    const args = ['--save', '', '--enable-debug-command', 'yes'];
    const servers = await Promise.all([startServer({ args }), startRedis(args)]);
    const sizes: number[][] = [];
    for (const server of servers) {
      const c = server.client();
      const seen: number[] = [];
      await c.select(9);
      const empty = 'Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n';
      assert.equal(await c.call('DEBUG', 'HTSTATS', '9'), `[Dictionary HT]\n${empty}[Expires HT]\n${empty}`);
      await c.set('first', '1');
      seen.push(await tableSize(c));
      await c.call('DEBUG', 'POPULATE', '4095', 'key', '1');
      seen.push(await tableSize(c));
      // A save that runs until stopped: the table does not grow past full.
      await c.config('SET', 'rdb-key-save-delay', '1000000');
      await c.bgsave();
      await waitFor('the save to start', async () => (await c.info('persistence')).includes('rdb_bgsave_in_progress:1'));
      await c.mset('k1', 'v1', 'k2', 'v2');
      seen.push(await tableSize(c));
      // Redis's save child (nodis's child handle) killed, as unit/other does: the job ends.
      for (const pid of execFileSync('pgrep', ['-P', String(server.proc.pid)]).toString().trim().split('\n')) {
        process.kill(Number(pid), 'SIGKILL');
      }
      await waitFor('the save to end', async () => (await c.info('persistence')).includes('rdb_bgsave_in_progress:0'));
      await c.set('k3', 'v3');
      seen.push(await tableSize(c));
      // Down to 100 keys: the cron shrinks the table to the power of two above the count.
      for (let i = 0; i < 3999; i += 500) {
        await c.del(...Array.from({ length: Math.min(500, 3999 - i) }, (_, j) => `key:${i + j}`));
      }
      // The cron may run between the DEL batches and shrink to a size that a later cron shrinks
      // again: wait until the rule has nothing left to do (fill at or above 10%).
      const count = await c.dbsize();
      await waitFor('the table to shrink', async () => {
        const size = await tableSize(c);
        return size < 8192 && (count * 100) / size >= 10;
      });
      seen.push(await c.dbsize(), await tableSize(c));
      sizes.push(seen);
    }
    assert.deepEqual(sizes[0], [4, 4096, 4096, 8192, 100, 128]);
    assert.deepEqual(sizes[0], sizes[1]);
  });
});
