/**
 * No freeze while loading: a replica loading a full-sync image and DEBUG RELOAD keep answering
 * other clients between slices (-LOADING for commands without the `loading` flag), as Redis's
 * processEventsWhileBlocked does. Timing is measured and printed, not asserted: the checks are
 * that LOADING is seen and that replies keep coming while the load runs.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

after(stopAll);

const KEYS = Number(process.env['NODIS_LOADING_KEYS'] ?? 300000);

function debugServer(): Promise<RunningServer> {
  return startServer({ args: ['--enable-debug-command', 'yes'] });
}

interface Poll {
  loading: number;
  answered: number;
  slowestMs: number;
  stop: () => Promise<void>;
}

/** Sends DBSIZE back to back on `c` until stopped, counting -LOADING replies and the slowest. */
function pollDbsize(c: Redis): Poll {
  let running = true;
  const p: Poll = { loading: 0, answered: 0, slowestMs: 0, stop: async () => {} };
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      try {
        await c.call('dbsize');
      } catch (e) {
        if (!/^LOADING Redis is loading the dataset in memory/.test((e as Error).message)) throw e;
        p.loading++;
      }
      p.answered++;
      p.slowestMs = Math.max(p.slowestMs, performance.now() - t);
    }
  })();
  p.stop = async () => {
    running = false;
    await loop;
  };
  return p;
}

async function infoField(c: Redis, section: string, field: string): Promise<string> {
  const text = (await c.call('info', section)) as string;
  return new RegExp(`^${field}:(.*)\r$`, 'm').exec(text)?.[1] ?? '';
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 120000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('serving clients while loading', () => {
  it(`a replica loading a ${KEYS}-key full-sync image answers -LOADING throughout`, async () => {
    const [master, replica] = await Promise.all([debugServer(), debugServer()]);
    const m = master.client();
    await m.call('debug', 'populate', String(KEYS), 'key', '100');
    const r = replica.client({ enableReadyCheck: false });
    const watcher = replica.client({ enableReadyCheck: false });
    const poll = pollDbsize(r);
    const progress = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        if ((await infoField(watcher, 'persistence', 'loading')) === '1') progress.add(await infoField(watcher, 'persistence', 'loading_loaded_bytes'));
      }
    })();
    await replica.client().call('replicaof', '127.0.0.1', String(master.port));
    await waitFor(async () => (await infoField(watcher, 'replication', 'master_link_status')) === 'up', 'the link up');
    watching = false;
    await watch;
    await poll.stop();
    console.log(`replica load of ${KEYS} keys: ${poll.answered} DBSIZE replies, ${poll.loading} -LOADING, slowest ${poll.slowestMs.toFixed(0)} ms; ${progress.size} loading_loaded_bytes values`);
    assert.ok(poll.loading >= 2, `-LOADING replies while loading: ${poll.loading}`);
    assert.ok(progress.size >= 2, `INFO loading_loaded_bytes progressed: ${[...progress].join(',')}`);
    assert.equal(await r.dbsize(), KEYS);
  });

  it('DEBUG RELOAD serves other clients between slices', async () => {
    const s = await debugServer();
    const c = s.client();
    await c.call('debug', 'populate', String(KEYS), 'key', '100');
    const other = s.client({ enableReadyCheck: false });
    await other.ping();
    const poll = pollDbsize(other);
    // The poller's first replies come in before the reload starts.
    await waitFor(async () => poll.answered > 0, 'the poller');
    assert.equal(await c.call('debug', 'reload'), 'OK');
    // Replies queued behind the reload are answered now; give the poller one more round.
    const seen = poll.answered;
    await waitFor(async () => poll.answered > seen + 1, 'the poller after the reload');
    await poll.stop();
    console.log(`DEBUG RELOAD of ${KEYS} keys: ${poll.answered} DBSIZE replies, ${poll.loading} -LOADING, slowest ${poll.slowestMs.toFixed(0)} ms`);
    assert.ok(poll.loading >= 2, `-LOADING replies during DEBUG RELOAD: ${poll.loading}`);
    assert.equal(await c.dbsize(), KEYS);
  });
});
