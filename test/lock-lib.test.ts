/**
 * nodis/lock against nodis-server: every API of the library (Lock, fair Lock, ReadWriteLock,
 * Semaphore, fencing helpers, durability by WAIT) with ioredis and node-redis clients. Waits are
 * on conditions with generous limits; timings are only asserted as lower bounds or as "far
 * sooner than the fallback would allow".
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import type { Redis } from 'ioredis';
import { Lock, LockError, ReadWriteLock, Semaphore, Fence, FencingError, checkFence, fencedSet, closeLockConnections, type Held } from '../src/lock/index.js';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function lockError(code: string): (e: unknown) => boolean {
  return (e) => e instanceof LockError && e.code === code;
}

describe('nodis/lock against nodis-server', () => {
  let s: RunningServer;
  let c: Redis;
  before(async () => {
    s = await startServer();
    c = s.client();
  });
  after(async () => {
    closeLockConnections(c);
    await stopAll();
  });

  it('acquire stores a redis-py-shaped token with the ttl; release deletes it', async () => {
    const lock = new Lock(c, 'l:basic', { ttl: 5000 });
    const held = await lock.acquire();
    assert.match((await c.get('l:basic'))!, /^[0-9a-f]{32}$/);
    assert.equal(await c.get('l:basic'), held.owner);
    const pttl = await c.pttl('l:basic');
    assert.ok(pttl > 4000 && pttl <= 5000, `pttl ${pttl}`);
    assert.ok(Number.isSafeInteger(held.token) && held.token > 0);
    assert.equal(await lock.isLocked(), true);
    assert.equal(held.signal.aborted, false);
    await held.release();
    assert.equal(held.signal.aborted, true);
    assert.equal(await c.exists('l:basic'), 0);
    await assert.rejects(held.release(), lockError('NOT_OWNED'));
  });

  it('a held lock excludes: wait 0 rejects at once, wait N rejects with TIMEOUT after N ms', async () => {
    const lock = new Lock(c, 'l:busy', { ttl: 10000 });
    const held = await lock.acquire();
    await assert.rejects(lock.acquire({ wait: 0 }), lockError('TIMEOUT'));
    assert.equal(await lock.tryAcquire(), null);
    const t0 = performance.now();
    await assert.rejects(lock.acquire({ wait: 300 }), lockError('TIMEOUT'));
    assert.ok(performance.now() - t0 >= 290, 'waited the whole blocking timeout');
    await held.release();
    const again = await lock.tryAcquire();
    assert.ok(again !== null);
    await again.release();
  });

  it('fencing tokens grow with every grant, and keep growing when the counter is lost', async () => {
    const lock = new Lock(c, 'l:fence', { ttl: 5000 });
    const tokens: number[] = [];
    for (let i = 0; i < 20; i++) {
      const h = await lock.acquire();
      tokens.push(h.token);
      await h.release();
    }
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} grew`);
    // A promoted replica may lack the last grants' counter entirely: the hybrid clock still
    // hands out a larger token (server time has moved on since).
    await c.del('{l:fence}:fence');
    const h = await lock.acquire();
    assert.ok(h.token > tokens[tokens.length - 1]!);
    // …and a counter pushed ahead of the clock (many grants in one µs) still only grows.
    await c.set('{l:fence}:fence', String(h.token + 1_000_000_000));
    await h.release();
    const h2 = await lock.acquire();
    assert.equal(h2.token, h.token + 1_000_000_001);
    await h2.release();
  });

  it('a waiter is woken by the release, not by polling or the lease', async () => {
    // maxWaitSlice 60 s and ttl 60 s: only the release's wake-up can end the wait quickly.
    const lock = new Lock(c, 'l:wake', { ttl: 60000, maxWaitSlice: 60000 });
    const held = await lock.acquire();
    const waiting = lock.acquire({ wait: 30000 });
    await until('waiter blocked', async () => /blocked_clients:1/.test(await c.info('clients')));
    const released = performance.now();
    await held.release();
    const next = await waiting;
    assert.ok(performance.now() - released < 5000, 'woken by the release');
    assert.ok(next.token > held.token);
    await next.release();
  });

  it('a lease that runs out aborts the signal; the next holder gets in; the old release is refused', async () => {
    const lock = new Lock(c, 'l:expire', { ttl: 300 });
    const held = await lock.acquire();
    const aborted = new Promise<unknown>((r) => held.signal.addEventListener('abort', () => r(held.signal.reason)));
    const next = await lock.acquire({ wait: 10000 });
    // The old holder's lease had run out by its own clock before the server let the next one in
    // (its timer may still be queued behind this continuation on a loaded event loop).
    assert.ok(performance.now() >= held.validUntil, 'the old lease was over');
    assert.ok((await aborted) instanceof LockError);
    assert.ok(held.signal.aborted);
    await assert.rejects(held.release(), lockError('NOT_OWNED'));
    assert.equal(await c.get('l:expire'), next.owner, 'the stale release did not delete the new grant');
    await next.release();
  });

  it('extend sets the remaining lease; extending a lost lock rejects and aborts', async () => {
    const lock = new Lock(c, 'l:extend', { ttl: 2000 });
    const held = await lock.acquire();
    await held.extend(8000);
    const pttl = await c.pttl('l:extend');
    assert.ok(pttl > 7000 && pttl <= 8000, `pttl ${pttl}`);
    assert.ok(held.validUntil > performance.now() + 7000);
    await c.del('l:extend');
    await assert.rejects(held.extend(8000), lockError('NOT_OWNED'));
    assert.equal(held.signal.aborted, true);
  });

  it('using() renews by watchdog past the ttl and releases after', async () => {
    const lock = new Lock(c, 'l:using', { ttl: 1200 });
    const other = new Lock(c, 'l:using', { ttl: 1200 });
    const result = await lock.using(async (held) => {
      // Two and a half leases long: the watchdog must have renewed (every 400 ms) to still hold it.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(held.signal.aborted, false);
      assert.equal(await other.tryAcquire(), null);
      assert.equal(await c.get('l:using'), held.owner);
      return 42;
    });
    assert.equal(result, 42);
    assert.equal(await c.exists('l:using'), 0);
  });

  it('using() aborts the signal when renewal finds the lock gone, and releases on a throw', async () => {
    const lock = new Lock(c, 'l:watchdog', { ttl: 900 });
    const reason = await lock.using(async (held) => {
      await c.del('l:watchdog'); // taken away behind the holder's back
      await new Promise<void>((r) => held.signal.addEventListener('abort', () => r()));
      return held.signal.reason as LockError;
    });
    assert.ok(reason instanceof LockError && reason.code === 'NOT_OWNED');
    await assert.rejects(
      lock.using(() => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await c.exists('l:watchdog'), 0);
  });

  it('the fair lock grants in FIFO order of arrival', async () => {
    const lock = new Lock(c, 'l:fair', { ttl: 30000, fair: true, maxWaitSlice: 30000 });
    const held = await lock.acquire();
    const order: number[] = [];
    const waiters: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      waiters.push(
        lock.acquire({ wait: 30000 }).then(async (h) => {
          order.push(i);
          await h.release();
        }),
      );
      await until(`waiter ${i} queued`, async () => (await c.llen('{l:fair}:queue')) === i + 1);
    }
    await held.release();
    await Promise.all(waiters);
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal(await c.exists('{l:fair}:queue'), 0);
  });

  it('a fair waiter that gives up leaves the queue and passes the turn on', async () => {
    const lock = new Lock(c, 'l:fair2', { ttl: 30000, fair: true, maxWaitSlice: 30000 });
    const held = await lock.acquire();
    await assert.rejects(lock.acquire({ wait: 200 }), lockError('TIMEOUT'));
    assert.equal(await c.llen('{l:fair2}:queue'), 0);
    const next = lock.acquire({ wait: 30000 });
    await until('queued', async () => (await c.llen('{l:fair2}:queue')) === 1);
    await held.release();
    await (await next).release();
  });

  it('durability: WAIT for more replicas than exist rejects NOT_DURABLE and gives the grant back', async () => {
    const lock = new Lock(c, 'l:durable', { ttl: 5000, durability: { replicas: 1, timeout: 100 } });
    await assert.rejects(lock.acquire({ wait: 0 }), lockError('NOT_DURABLE'));
    assert.equal(await c.exists('l:durable'), 0);
  });

  it('durability: with a replica attached the grant is acknowledged and on the replica', async () => {
    const replica = await startServer({ args: ['--replicaof', '127.0.0.1', String(s.port)] });
    const rc = replica.client();
    try {
      await until('replica in sync', async () => /master_link_status:up/.test(await rc.info('replication')));
      // A client of its own: the replica count it has seen is remembered per client.
      const own = s.client();
      const lock = new Lock(own, 'l:replicated', { ttl: 5000, durability: { timeout: 300 } });
      const held = await lock.acquire();
      assert.equal(await rc.get('l:replicated'), held.owner, 'WAIT returned only once the replica had it');
      assert.equal(await rc.get('{l:replicated}:fence'), String(held.token));
      await held.release();
      // The master loses its replica (as a master cut off by a failover would): this client has
      // seen one, so a grant no replica acknowledges is refused rather than handed out.
      await replica.stop();
      await until('replica gone', async () => /connected_slaves:0/.test(await c.info('replication')));
      await assert.rejects(lock.acquire({ wait: 0 }), lockError('NOT_DURABLE'));
      assert.equal(await c.exists('l:replicated'), 0);
      closeLockConnections(own);
    } finally {
      await replica.stop();
    }
  });

  it('ReadWriteLock: readers share, a writer waits for them and excludes readers', async () => {
    const rw = new ReadWriteLock(c, 'l:rw', { ttl: 30000, maxWaitSlice: 30000 });
    const r1 = await rw.readLock.acquire();
    const r2 = await rw.readLock.acquire({ wait: 0 });
    assert.equal(await rw.writeLock.tryAcquire(), null);
    const writer = rw.writeLock.acquire({ wait: 30000 });
    await r1.release();
    assert.equal(await c.hget('l:rw', 'mode'), 'read');
    await r2.release();
    const w = await writer;
    assert.ok(w.token > r2.token && r2.token > r1.token);
    assert.equal(await rw.readLock.tryAcquire(), null);
    const readers = [rw.readLock.acquire({ wait: 30000 }), rw.readLock.acquire({ wait: 30000 })];
    await until('readers blocked', async () => /blocked_clients:2/.test(await c.info('clients')));
    await w.release();
    const [a, b] = await Promise.all(readers);
    assert.equal(await c.hlen('l:rw'), 3, 'mode and both readers');
    await a!.release();
    await b!.release();
    assert.equal(await c.exists('l:rw'), 0);
  });

  it('ReadWriteLock: an expired reader stops blocking the writer', async () => {
    const rw = new ReadWriteLock(c, 'l:rw2', { ttl: 300 });
    const r = await rw.readLock.acquire();
    const w = await rw.writeLock.acquire({ wait: 10000 });
    assert.ok(performance.now() >= r.validUntil, "the reader's lease was over");
    assert.ok(await w.extend(5000).then(() => true));
    await w.release();
  });

  it('Semaphore: at most `permits` holders; a release wakes a waiter; leases expire', async () => {
    const sem = new Semaphore(c, 'l:sem', { permits: 2, ttl: 30000, maxWaitSlice: 30000 });
    const a = await sem.acquire();
    const b = await sem.acquire();
    assert.equal(await sem.tryAcquire(), null);
    assert.equal(await c.zcard('l:sem'), 2);
    const waiting = sem.acquire({ wait: 30000 });
    await until('waiter blocked', async () => /blocked_clients:1/.test(await c.info('clients')));
    await a.release();
    const d = await waiting;
    assert.ok(d.token > b.token);
    await b.extend(10000);
    await b.release();
    await d.release();
    assert.equal(await c.exists('l:sem'), 0);
    const short = new Semaphore(c, 'l:sem2', { permits: 1, ttl: 200 });
    const e = await short.acquire();
    const f = await short.acquire({ wait: 10000 });
    assert.ok(performance.now() >= e.validUntil, "the first holder's lease was over");
    await assert.rejects(e.release(), lockError('NOT_OWNED'));
    await f.release();
    assert.throws(() => new Semaphore(c, 'x', { permits: 0 }), RangeError);
  });

  it('Fence and checkFence reject an older token and accept equal or newer ones', () => {
    const fence = new Fence();
    fence.check('file', 5);
    fence.check('file', 5);
    fence.check('file', 7);
    assert.throws(() => fence.check('file', 6), (e: unknown) => e instanceof FencingError && e.highest === 7 && e.token === 6);
    fence.check('other', 1);
    assert.equal(fence.highestFor('file'), 7);
    checkFence('global-resource', 10);
    assert.throws(() => checkFence('global-resource', 9), FencingError);
  });

  it('fencedSet: a storage write from a holder whose lock was taken over is rejected', async () => {
    const lock = new Lock(c, 'l:storage', { ttl: 200 });
    const first = await lock.acquire();
    // The first holder stalls past its lease; the second takes over and writes.
    const second = await lock.acquire({ wait: 10000 });
    assert.equal(await fencedSet(c, 'doc', 'from second', second.token), true);
    await assert.rejects(fencedSet(c, 'doc', 'from first', first.token), (e: unknown) => e instanceof FencingError && e.highest === second.token);
    assert.equal(await c.get('doc'), 'from second');
    assert.equal(await fencedSet(c, 'doc', 'second again', second.token), true);
    await second.release();
  });

  it('works with a node-redis client too', async () => {
    const nr = createClient({ url: `redis://127.0.0.1:${s.port}` });
    await nr.connect();
    try {
      const lock = new Lock(nr, 'l:node-redis', { ttl: 30000, maxWaitSlice: 30000 });
      const held = await lock.acquire();
      assert.equal(await nr.get('l:node-redis'), held.owner);
      await assert.rejects(lock.acquire({ wait: 0 }), lockError('TIMEOUT'));
      const waiting = lock.acquire({ wait: 30000 });
      await until('waiter blocked', async () => /blocked_clients:1/.test(await c.info('clients')));
      await held.release();
      const next = await waiting;
      assert.ok(next.token > held.token);
      await next.release();
      assert.equal(await lock.using(async (h) => (await nr.get('l:node-redis')) === h.owner), true);
      const sem = new Semaphore(nr, 'l:nr-sem', { permits: 1 });
      const h: Held = await sem.acquire();
      await h.release();
      closeLockConnections(nr);
    } finally {
      await nr.quit();
    }
  });

  it('rejects bad arguments with clear errors', () => {
    assert.throws(() => new Lock(c, ''), TypeError);
    assert.throws(() => new Lock(c, 'x', { ttl: 0 }), RangeError);
    assert.throws(() => new Lock({} as never, 'x'), /ioredis or node-redis/);
  });
});
