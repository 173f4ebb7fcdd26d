/**
 * The seed's distributed lock with the real redis-py (Debian's python3-redis, run by
 * /usr/bin/python3): `with r.lock('key', blocking_timeout=3):` from several processes at once.
 * redis-py acquires with SET NX PX and releases/extends through Lua scripts called by EVALSHA,
 * falling back to SCRIPT LOAD on NOSCRIPT — so this exercises the scripting path end to end.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { runPython } from './helpers/python.js';

const PRELUDE = `
import sys, time, json, redis
from redis.exceptions import LockError, LockNotOwnedError
r = redis.Redis(connection_pool=redis.ConnectionPool(host='127.0.0.1', port=int(sys.argv[1]), db=0))
`;

/** Each worker takes the lock N times; inside, a non-atomic GET/SET increment with a pause. */
const WORKER = `${PRELUDE}
rounds = int(sys.argv[2])
spans = []
for i in range(rounds):
    with r.lock('key', blocking_timeout=3):
        t0 = time.monotonic()
        v = int(r.get('counter') or 0)
        time.sleep(0.005)
        r.set('counter', v + 1)
        spans.append([t0, time.monotonic()])
print(json.dumps(spans))
`;

describe('distributed lock: redis-py r.lock() against nodis-server', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('redis-py is the real one', async () => {
    const out = await runPython(`${PRELUDE}\nprint(redis.__version__)\n`, s.port);
    assert.match(out.trim(), /^\d+\.\d+/);
  });

  it('mutual exclusion holds across contending processes', async () => {
    const c = s.client();
    await c.del('counter', 'key');
    const workers = 4;
    const rounds = 15;
    const outs = await Promise.all(Array.from({ length: workers }, () => runPython(WORKER, s.port, String(rounds))));
    // Every critical section incremented the counter; a lost update would show up here.
    assert.equal(await c.get('counter'), String(workers * rounds));
    // time.monotonic() is CLOCK_MONOTONIC, shared by every process: no two sections overlap.
    const spans = outs.flatMap((o) => JSON.parse(o) as [number, number][]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) assert.ok(spans[i]![0] >= spans[i - 1]![1], `overlap at ${i}`);
    assert.equal(await c.exists('key'), 0);
  });

  it('the NOSCRIPT fallback loads the scripts again after SCRIPT FLUSH', async () => {
    const c = s.client();
    await c.call('SCRIPT', 'FLUSH');
    const loads = async (): Promise<number> => {
      const info = (await c.call('INFO', 'commandstats')) as string;
      return Number(/cmdstat_script\|load:calls=(\d+)/.exec(info)?.[1] ?? 0);
    };
    const before = await loads();
    const out = await runPython(
      `${PRELUDE}
lock = r.lock('key', blocking_timeout=3)
assert lock.acquire()
lock.release()
print(r.exists('key'))
`,
      s.port,
    );
    assert.equal(out.trim(), '0');
    // EVALSHA got NOSCRIPT and redis-py loaded its release script again through SCRIPT LOAD.
    assert.equal(await loads(), before + 1);
  });

  it('blocking_timeout is honoured while another process holds the lock', async () => {
    const holder = runPython(
      `${PRELUDE}
with r.lock('key', blocking_timeout=3):
    print('held', flush=True)
    time.sleep(5)
print('released')
`,
      s.port,
    );
    const c = s.client();
    // Wait (on a condition) until the holder owns the lock.
    for (let i = 0; i < 200 && (await c.exists('key')) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(await c.exists('key'), 1);
    const waiter = await runPython(
      `${PRELUDE}
t0 = time.monotonic()
try:
    with r.lock('key', blocking_timeout=3):
        print('acquired')
except LockError as e:
    print('gave up after %.2f' % (time.monotonic() - t0))
`,
      s.port,
    );
    const m = /^gave up after ([\d.]+)$/.exec(waiter.trim());
    assert.ok(m, waiter);
    const waited = Number(m[1]);
    assert.ok(waited >= 2.9 && waited < 4.5, `waited ${waited}`);
    assert.equal((await holder).trim(), 'held\nreleased');
  });

  it('extend, release, and LockNotOwnedError for a lock not owned', async () => {
    const out = await runPython(
      `${PRELUDE}
r.delete('key')
res = []
lock = r.lock('key', timeout=2, blocking_timeout=3)
assert lock.acquire()
res.append(r.pttl('key') <= 2000)
lock.extend(10)
res.append(r.pttl('key') > 10000)
lock.extend(3, replace_ttl=True)
res.append(2000 < r.pttl('key') <= 3000)
res.append(lock.owned())
other = r.lock('key', blocking_timeout=0.2)
res.append(other.acquire() is False)
try:
    other.release()
    res.append('released foreign lock')
except LockNotOwnedError:
    res.append('not owned')
except LockError:
    res.append('lock error')
lock.release()
res.append(r.exists('key'))
try:
    lock.release()
except LockNotOwnedError:
    res.append('not owned')
except LockError:
    res.append('unlocked')
assert lock.acquire()
r.set('key', 'someone-else')
try:
    lock.extend(1)
except LockNotOwnedError:
    res.append('extend not owned')
r.delete('key')
print(json.dumps(res))
`,
      s.port,
    );
    // Releasing a never-acquired lock raises LockError("Cannot release an unlocked lock").
    assert.deepEqual(JSON.parse(out), [true, true, true, true, true, 'lock error', 0, 'unlocked', 'extend not owned']);
  });

  it('releasing after the lock expired and was taken by another raises LockNotOwnedError', async () => {
    const out = await runPython(
      `${PRELUDE}
r.delete('key')
a = r.lock('key', timeout=0.2, blocking_timeout=3)
assert a.acquire()
b = r.lock('key', timeout=5, blocking_timeout=3)
assert b.acquire()   # succeeds once a's 200 ms expired
try:
    a.release()
    print('released')
except LockNotOwnedError:
    print('not owned')
b.release()
`,
      s.port,
    );
    assert.equal(out.trim(), 'not owned');
  });
});

describe("SET key value NX EX/PX as the seed's lock uses it", () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('second SET NX returns nil, EX sets a 3 s TTL, the key expires', async () => {
    const c = s.client();
    assert.equal(await c.call('SET', 'lk', 'v1', 'NX', 'EX', '3'), 'OK');
    assert.equal(await c.call('SET', 'lk', 'v2', 'NX', 'EX', '3'), null);
    assert.equal(await c.get('lk'), 'v1');
    const pttl = await c.pttl('lk');
    assert.ok(pttl > 2000 && pttl <= 3000, `pttl ${pttl}`);
    assert.equal(await c.ttl('lk'), 3);
    // PX with a small value: expiry without a long wait.
    assert.equal(await c.call('SET', 'lp', 'v1', 'NX', 'PX', '50'), 'OK');
    assert.equal(await c.call('SET', 'lp', 'v2', 'NX', 'PX', '50'), null);
    for (let i = 0; i < 100 && (await c.exists('lp')) === 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await c.get('lp'), null);
    assert.equal(await c.call('SET', 'lp', 'v3', 'NX', 'PX', '50'), 'OK');
    // PEXPIRE shortens the EX lock; after it expires NX succeeds again.
    assert.equal(await c.pexpire('lk', 30), 1);
    for (let i = 0; i < 100 && (await c.exists('lk')) === 1; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await c.call('SET', 'lk', 'v3', 'NX', 'EX', '3'), 'OK');
  });

  it('the same through redis-cli output', async () => {
    const { execFileSync } = await import('node:child_process');
    const cli = (...a: string[]): string => execFileSync('/usr/bin/redis-cli', ['-p', String(s.port), ...a]).toString();
    assert.equal(cli('SET', 'cl', 'v', 'NX', 'EX', '3'), 'OK\n');
    assert.equal(cli('SET', 'cl', 'v', 'NX', 'EX', '3'), '\n');
    assert.equal(cli('TTL', 'cl'), '3\n');
  });

  it('syntax errors are Redis’s', async () => {
    const c = s.client();
    await assert.rejects(c.call('SET', 'k', 'v', 'NX', 'XX'), /ERR syntax error/);
    await assert.rejects(c.call('SET', 'k', 'v', 'EX', '0'), /ERR invalid expire time in 'set' command/);
    await assert.rejects(c.call('SET', 'k', 'v', 'EX', '3', 'PX', '3'), /ERR syntax error/);
  });
});
