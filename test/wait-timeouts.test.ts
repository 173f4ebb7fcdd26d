/**
 * WAIT's timeouts (the blocking module's deadline heap, src/server/blocking.ts, with WAIT's
 * waiters, src/replication/master.ts). A master without replicas: every WAIT 1 <ms> blocks
 * until its own deadline and answers :0; they answer in deadline order whatever order they
 * blocked in; a WAIT ended by CLIENT UNBLOCK answers at once (TIMEOUT: the count, ERROR: the
 * error), and its entry, still in the heap, times nobody out later. (Written for wait9's
 * waiter-as-its-own-heap-entry change, measured at a few ns per WAIT and reverted.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { SystemClock } from '../src/core/clock.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';

let s: InProcessServer | null = null;
const clients: Redis[] = [];
after(async () => {
  for (const c of clients) c.disconnect();
  await s?.stop();
});

function client(port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
  clients.push(c);
  return c;
}

async function blockedCount(r: Redis): Promise<number> {
  return Number(/blocked_clients:(\d+)/.exec(await r.info('clients'))![1]);
}

async function untilBlocked(r: Redis, n: number): Promise<void> {
  while ((await blockedCount(r)) !== n) await new Promise((res) => setTimeout(res, 5));
}

test('WAITs with timeouts answer in deadline order; CLIENT UNBLOCK answers at once and its entry times nobody out', async () => {
  s = await startInProcess(new SystemClock(), {});
  const admin = s.r;
  const order: string[] = [];
  const t0 = Date.now();
  const waits: Promise<void>[] = [];
  const ids: Record<string, number> = {};
  // Blocked in this order, deadlines in another; two of them ended by CLIENT UNBLOCK.
  const plan: [string, number][] = [
    ['w300', 300],
    ['w100', 100],
    ['unblock-timeout', 150],
    ['w200', 200],
    ['unblock-error', 120],
  ];
  let n = 0;
  for (const [name, ms] of plan) {
    const c = client(s.port);
    ids[name] = (await c.client('ID')) as number;
    waits.push(
      (c.call('WAIT', '1', String(ms)) as Promise<number>).then(
        (v) => void order.push(`${name}=${v}@${ms <= Date.now() - t0 ? 'late' : 'early'}`),
        (e: Error) => void order.push(`${name}=${e.message.split(' ')[0]}@${ms <= Date.now() - t0 ? 'late' : 'early'}`),
      ),
    );
    await untilBlocked(admin, ++n);
  }
  assert.equal(await admin.call('CLIENT', 'UNBLOCK', String(ids['unblock-timeout']), 'TIMEOUT'), 1);
  assert.equal(await admin.call('CLIENT', 'UNBLOCK', String(ids['unblock-error']), 'ERROR'), 1);
  await Promise.all(waits);
  assert.deepEqual(order, ['unblock-timeout=0@early', 'unblock-error=UNBLOCKED@early', 'w100=0@late', 'w200=0@late', 'w300=0@late']);
  assert.equal(await blockedCount(admin), 0);
  // Again on the same heap (the entries served early may still be in it): one more WAIT times
  // out at its own deadline, not earlier.
  const c = client(s.port);
  const t1 = Date.now();
  assert.equal(await c.call('WAIT', '1', '80'), 0);
  assert.ok(Date.now() - t1 >= 75, `answered after ${Date.now() - t1} ms`);
  assert.equal(await blockedCount(admin), 0);
});
