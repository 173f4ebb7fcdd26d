/**
 * nodis/lock and redis-py's `Lock` on the same key exclude each other: same value format (the
 * owner's token as a plain string), same SET NX PX acquisition, same Lua ownership checks.
 * Python is Debian's python3 with its redis-py; the server is nodis-server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { Lock, closeLockConnections } from '../src/lock/index.js';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { runPython } from './helpers/python.js';

const PRELUDE = `
import sys, time, json, redis
r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]))
def wait_for(key):
    while not r.exists(key):
        time.sleep(0.005)
`;

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('nodis/lock interoperates with redis-py r.lock() on the same key', () => {
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

  it('a Python holder excludes the Node lock; Node gets it once Python releases', async () => {
    await c.del('key', 'go', 'py-held');
    const py = runPython(
      `${PRELUDE}
lock = r.lock('key', timeout=30)
assert lock.acquire()
r.set('py-held', lock.local.token)
wait_for('go')
lock.release()
print('released')
`,
      s.port,
    );
    await until('python holds the lock', async () => (await c.exists('py-held')) === 1);
    const lock = new Lock(c, 'key', { ttl: 10000, maxWaitSlice: 200 });
    assert.equal(await lock.tryAcquire(), null);
    assert.equal(await c.get('key'), await c.get('py-held'), "Python's token is still there");
    const waiting = lock.acquire({ wait: 20000 });
    await c.set('go', '1');
    const held = await waiting;
    assert.equal((await py).trim(), 'released');
    assert.equal(await c.get('key'), held.owner);
    await held.release();
  });

  it('a Node holder excludes Python (blocking_timeout runs out); Python gets it after the release', async () => {
    await c.del('key', 'go', 'tried');
    const lock = new Lock(c, 'key', { ttl: 10000 });
    const held = await lock.acquire();
    const py = runPython(
      `${PRELUDE}
res = []
lock = r.lock('key', timeout=5, blocking_timeout=0.3)
res.append(lock.acquire())
res.append(lock.locked())
r.set('tried', '1')
wait_for('go')
res.append(lock.acquire(blocking_timeout=10))
res.append(lock.owned())
lock.release()
print(json.dumps(res))
`,
      s.port,
    );
    await until('python tried and gave up', async () => (await c.exists('tried')) === 1);
    assert.equal(await c.get('key'), held.owner, 'Python did not take or break the Node grant');
    await held.release();
    await c.set('go', '1');
    assert.deepEqual(JSON.parse(await py), [false, true, true, true]);
    assert.equal(await c.exists('key'), 0);
  });

  it('Python cannot release or extend a Node-held lock, and Node cannot release a Python-held one', async () => {
    await c.del('key');
    const lock = new Lock(c, 'key', { ttl: 10000 });
    const held = await lock.acquire();
    const out = await runPython(
      `${PRELUDE}
from redis.exceptions import LockNotOwnedError
lock = r.lock('key', timeout=5)
lock.local.token = b'not-the-owner'
res = []
for op in (lambda: lock.extend(5), lock.release):
    try:
        op()
        res.append('done')
    except LockNotOwnedError:
        res.append('not owned')
print(json.dumps(res))
`,
      s.port,
    );
    assert.deepEqual(JSON.parse(out), ['not owned', 'not owned']);
    assert.equal(await c.get('key'), held.owner);
    await held.release();
    // And the other way: Node's release script is redis-py's check, so a foreign token stays.
    await c.set('key', 'python-token', 'PX', 10000);
    await assert.rejects(held.release());
    assert.equal(await c.get('key'), 'python-token');
    await c.del('key');
  });

  it('mixed contenders (two Python processes, two Node clients) never overlap and lose no update', async () => {
    await c.del('key', 'counter');
    const rounds = 10;
    const pyWorker = `${PRELUDE}
spans = []
for i in range(${rounds}):
    with r.lock('key', timeout=10, blocking_timeout=20):
        t0 = time.monotonic_ns()
        v = int(r.get('counter') or 0)
        time.sleep(0.003)
        r.set('counter', v + 1)
        spans.append([t0, time.monotonic_ns()])
print(json.dumps(spans))
`;
    // Node's process.hrtime and Python's time.monotonic both read CLOCK_MONOTONIC.
    const nodeWorker = async (): Promise<[number, number][]> => {
      const conn = s.client();
      const lock = new Lock(conn, 'key', { ttl: 10000, maxWaitSlice: 50 });
      const spans: [number, number][] = [];
      for (let i = 0; i < rounds; i++) {
        await lock.using(async () => {
          const t0 = Number(process.hrtime.bigint());
          const v = Number((await conn.get('counter')) ?? 0);
          await new Promise((r) => setTimeout(r, 3));
          await conn.set('counter', v + 1);
          spans.push([t0, Number(process.hrtime.bigint())]);
        }, { wait: 20000 });
      }
      closeLockConnections(conn);
      return spans;
    };
    const results = await Promise.all([runPython(pyWorker, s.port), runPython(pyWorker, s.port), nodeWorker(), nodeWorker()]);
    assert.equal(await c.get('counter'), String(4 * rounds));
    const spans = results.flatMap((r) => (typeof r === 'string' ? (JSON.parse(r) as [number, number][]) : r)).sort((a, b) => a[0] - b[0]);
    assert.equal(spans.length, 4 * rounds);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], `critical sections ${i - 1} and ${i} overlap`);
  });
});
