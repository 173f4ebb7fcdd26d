import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { rawExchange, startServer, stopAll, type RunningServer } from './helpers/server.js';

async function run(c: Redis, ...args: (string | number)[]): Promise<unknown> {
  try {
    return await c.call(String(args[0]), ...args.slice(1).map(String));
  } catch (e) {
    return (e as Error).message;
  }
}

/** Settles a pending reply into a value or an error text. */
function settle(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => v,
    (e: Error) => e.message,
  );
}

describe('blocking list operations', () => {
  let s: RunningServer;
  let r: Redis;

  /** Waits until INFO reports `n` blocked clients. */
  async function blockedClients(n: number): Promise<void> {
    for (;;) {
      const info = String(await r.call('info', 'clients'));
      const m = /blocked_clients:(\d+)/.exec(info);
      if (m !== null && Number(m[1]) === n) return;
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  it('serves a BLPOP from a later push', async () => {
    const b = s.client();
    const p = settle(b.call('blpop', 'k1', 'other', '0'));
    await blockedClients(1);
    assert.equal(await run(r, 'rpush', 'k1', 'v'), 1);
    assert.deepEqual(await p, ['k1', 'v']);
    assert.equal(await run(r, 'exists', 'k1'), 0);
  });

  it('returns at once when data is there, from the first non-empty key', async () => {
    await run(r, 'rpush', 'k3', 'a', 'b');
    assert.deepEqual(await run(r, 'brpop', 'k2', 'k3', 0), ['k3', 'b']);
    assert.deepEqual(await run(r, 'blmpop', 0, 2, 'k2', 'k3', 'left', 'count', 9), ['k3', ['a']]);
  });

  it('serves blocked clients first-come first-served', async () => {
    const c1 = s.client();
    const c2 = s.client();
    const c3 = s.client();
    const p1 = settle(c1.call('blpop', 'fifo', '0'));
    await blockedClients(1);
    const p2 = settle(c2.call('brpop', 'fifo', '0'));
    await blockedClients(2);
    const p3 = settle(c3.call('blmpop', '0', '1', 'fifo', 'left', 'count', '5'));
    await blockedClients(3);
    await run(r, 'rpush', 'fifo', 'a', 'b', 'c', 'd');
    assert.deepEqual(await p1, ['fifo', 'a']);
    assert.deepEqual(await p2, ['fifo', 'd']);
    assert.deepEqual(await p3, ['fifo', ['b', 'c']]);
    await blockedClients(0);
  });

  it('times out with a null reply, with sub-second precision', async () => {
    const b = s.client();
    const start = Date.now();
    assert.equal(await settle(b.call('blpop', 'never', '0.05')), null);
    const took = Date.now() - start;
    assert.ok(took >= 45 && took < 1000, `took ${took} ms`);
    assert.equal(await settle(b.call('blmove', 'never', 'x', 'left', 'left', '0.01')), null);
    // RESP3 clients get a null too.
    const raw = await rawExchange(s.port, 'HELLO 3\r\nBRPOP never 0.01\r\n', (got) => got.endsWith('_\r\n'));
    assert.ok(raw.endsWith('_\r\n'), raw);
  });

  it('validates the timeout', async () => {
    assert.equal(await run(r, 'blpop', 'k', '-1'), 'ERR timeout is negative');
    assert.equal(await run(r, 'blpop', 'k', 'abc'), 'ERR timeout is not a float or out of range');
    assert.equal(await run(r, 'brpoplpush', 'k', 'd', '-0.5'), 'ERR timeout is negative');
    assert.equal(await run(r, 'blmpop', 'x', 1, 'k', 'left'), 'ERR timeout is not a float or out of range');
  });

  it('BLMOVE wakes clients blocked on its destination (chained serving)', async () => {
    const a = s.client();
    const b = s.client();
    const pa = settle(a.call('blmove', 'chain1', 'chain2', 'right', 'left', '0'));
    await blockedClients(1);
    const pb = settle(b.call('blpop', 'chain2', '0'));
    await blockedClients(2);
    await run(r, 'rpush', 'chain1', 'x');
    assert.equal(await pa, 'x');
    assert.deepEqual(await pb, ['chain2', 'x']);
    assert.equal(await run(r, 'exists', 'chain1', 'chain2'), 0);
  });

  it('BRPOPLPUSH into a key of another type answers WRONGTYPE when served', async () => {
    const b = s.client();
    await run(r, 'set', 'notalist', 'v');
    const p = settle(b.call('brpoplpush', 'bsrc', 'notalist', '0'));
    await blockedClients(1);
    await run(r, 'rpush', 'bsrc', 'e');
    assert.match(String(await p), /^WRONGTYPE/);
    assert.deepEqual(await run(r, 'lrange', 'bsrc', 0, -1), ['e']);
    await run(r, 'del', 'bsrc', 'notalist');
  });

  it('stays blocked while the key holds another type, then serves the list', async () => {
    const b = s.client();
    const p = settle(b.call('blpop', 'morph', '0'));
    await blockedClients(1);
    await run(r, 'set', 'morph', 'string');
    await run(r, 'del', 'morph');
    await blockedClients(1);
    await run(r, 'lpush', 'morph', 'ok');
    assert.deepEqual(await p, ['morph', 'ok']);
  });

  it('wakes a client when a list is renamed onto the key', async () => {
    const probe = await run(r, 'rename', 'nosuchkey', 'x');
    if (String(probe).startsWith('ERR unknown command')) return; // RENAME not implemented yet
    const b = s.client();
    const p = settle(b.call('blpop', 'renamed', '0'));
    await blockedClients(1);
    await run(r, 'rpush', 'tmp', 'moved');
    await run(r, 'rename', 'tmp', 'renamed');
    assert.deepEqual(await p, ['renamed', 'moved']);
  });

  it('serves after MULTI/EXEC, and does not block inside it', async () => {
    const b = s.client();
    const p = settle(b.call('blpop', 'tx', '0'));
    await blockedClients(1);
    const t = s.client();
    await t.call('multi');
    await t.call('rpush', 'tx', 'a');
    await t.call('rpush', 'tx', 'b');
    await t.call('blpop', 'empty', '0');
    assert.deepEqual(await t.call('exec'), [1, 2, null]);
    assert.deepEqual(await p, ['tx', 'a']);
    assert.deepEqual(await run(r, 'lrange', 'tx', 0, -1), ['b']);
  });

  it('CLIENT UNBLOCK with TIMEOUT and ERROR', async () => {
    const b = s.client();
    const id = Number(await b.call('client', 'id').catch(() => -1));
    if (id < 0) return; // CLIENT not implemented yet
    const p = settle(b.call('blpop', 'ub', '0'));
    await blockedClients(1);
    assert.equal(await run(r, 'client', 'unblock', id, 'timeout'), 1);
    assert.equal(await p, null);
    const p2 = settle(b.call('brpop', 'ub', '0'));
    await blockedClients(1);
    assert.equal(await run(r, 'client', 'unblock', id, 'error'), 1);
    assert.equal(await p2, 'UNBLOCKED client unblocked via CLIENT UNBLOCK');
    assert.equal(await run(r, 'client', 'unblock', id), 0);
  });

  it('forgets a blocked client that disconnects', async () => {
    const b = s.client();
    void settle(b.call('blpop', 'gone', '0'));
    await blockedClients(1);
    b.disconnect();
    await blockedClients(0);
    await run(r, 'rpush', 'gone', 'kept');
    assert.deepEqual(await run(r, 'lrange', 'gone', 0, -1), ['kept']);
  });

  it('runs pipelined commands after being unblocked', async () => {
    const b = s.client();
    const pipe = b.pipeline();
    pipe.blpop('piped', 0);
    pipe.call('lpush', 'after', 'x');
    const done = pipe.exec();
    await blockedClients(1);
    assert.equal(await run(r, 'exists', 'after'), 0);
    await run(r, 'rpush', 'piped', 'v');
    const results = await done;
    assert.deepEqual(results?.map(([, v]) => v), [['piped', 'v'], 1]);
  });
});
