/**
 * Long SET values kept as bytes in the keyspace's arena (src/types/value-arena.ts): the arena's
 * chunks freed and reused, compaction moving values intact, and a value stored there reading
 * the same through every consumer as the same bytes stored as a string (MSET, which does not
 * take the arena's path), with the memory model charging both alike.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARENA_MIN, ArenaValue, SLAB, ValueArena, arena, arenaValue, freeValue } from '../src/types/value-arena.js';
import { SystemClock } from '../src/core/clock.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';
import { LONG_ARG } from '../src/protocol/parser.js';

/** `n` bytes of every value 0–255 (binary-safe), shifted by `seed`. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

describe('ValueArena', () => {
  it('round-trips bytes, and a freed chunk is reused before a slab is added', () => {
    const a = new ValueArena();
    const v = bytes(1000, 1);
    const h = a.alloc(v, 0, v.length);
    assert.equal(a.latin1(h), v.toString('latin1'));
    assert.deepEqual(a.view(h), v);
    const slabs = a.slabBytes;
    assert.equal(slabs, SLAB);
    a.free(h);
    for (let i = 0; i < 5000; i++) a.free(a.alloc(v, 0, v.length));
    // Each alloc took the chunk the free before it returned: one slab still.
    assert.equal(a.slabBytes, slabs);
    assert.equal(a.live, 0);
  });

  it('compaction releases the emptiest slabs and moves the live values intact', () => {
    const a = new ValueArena();
    const handles: number[] = [];
    // 1000-byte values take 1024-byte chunks: 1024 per slab; 5000 values fill 5 slabs.
    for (let i = 0; i < 5000; i++) {
      const v = bytes(1000, i);
      handles.push(a.alloc(v, 0, v.length));
    }
    assert.equal(a.slabBytes, 5 * SLAB);
    // Free 4 of every 5: more than half the class's chunks free, spread over every slab.
    const kept = new Map<number, number>();
    for (let i = 0; i < handles.length; i++) {
      if (i % 5 === 0) kept.set(handles[i]!, i);
      else a.free(handles[i]!);
    }
    assert.ok(a.slabsReleased > 0, 'no slab was released');
    assert.ok(a.chunksMoved > 0, 'no chunk was moved');
    assert.ok(a.slabBytes < 5 * SLAB, `slabs ${a.slabBytes}`);
    for (const [h, i] of kept) assert.equal(a.latin1(h), bytes(1000, i).toString('latin1'), `value ${i}`);
    // And the arena goes on working on the compacted slabs.
    const v = bytes(700, 3);
    const h = a.alloc(v, 0, v.length);
    assert.deepEqual(a.view(h), v);
    for (const [k, i] of kept) assert.equal(a.latin1(k), bytes(1000, i).toString('latin1'), `value ${i} after`);
  });
  it('allocs, frees and compactions against a model: every live value reads its bytes after every step', () => {
    // Each op: alloc a value (lengths at class boundaries and between) or free a run of them.
    // Values are freed in bulk runs so that classes cross the compaction threshold; every live
    // value is read after each op through view (and every 16th through latin1 and copyTo), so
    // a chunk compaction moved without its handle following reads wrong bytes.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('store' as const), len: fc.constantFrom(ARENA_MIN, 600, 640, 1000, 1024, 1025, 3000, 65536), seed: fc.nat(255) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat(), run: fc.integer({ min: 1, max: 2500 }) }),
    );
    let moved = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), fc.integer({ min: 200, max: 5000 }), (ops, prefill) => {
        const a = new ValueArena();
        const live: { v: number; bytes: Buffer }[] = [];
        const check = (): void => {
          live.forEach(({ v, bytes: b }, i) => {
            assert.ok(a.view(v).equals(b));
            if (i % 16 !== 0) return;
            assert.equal(a.latin1(v), b.toString('latin1'));
            const out = Buffer.alloc(b.length + 3);
            a.copyTo(v, out, 3);
            assert.ok(out.subarray(3).equals(b));
          });
        };
        for (let i = 0; i < prefill; i++) {
          const b = bytes(1000, i);
          live.push({ v: a.alloc(b, 0, b.length), bytes: b });
        }
        for (const o of ops) {
          if (o.kind === 'store') {
            // Stored from the middle of a larger buffer, as the parser leaves it.
            const src = Buffer.concat([bytes(5, 9), bytes(o.len, o.seed), bytes(5, 8)]);
            live.push({ v: a.alloc(src, 5, o.len), bytes: bytes(o.len, o.seed) });
          } else {
            for (let k = 0; k < o.run && live.length > 0; k++) {
              const [gone] = live.splice((o.pick + k * 7919) % live.length, 1);
              a.free(gone!.v);
            }
          }
          check();
        }
        assert.equal(a.live, live.length);
        assert.equal(a.liveBytes, live.reduce((n, x) => n + x.bytes.length, 0));
        moved += a.chunksMoved;
      }),
      { numRuns: 40 },
    );
    assert.ok(moved > 0, 'no run compacted');
  });
});

describe('ArenaValue objects reused (evict9)', () => {
  it('a freed value object is handed out again, holding the new bytes and length', () => {
    const a = bytes(1000, 1);
    const v = arenaValue(a, 0, a.length);
    freeValue(v);
    assert.equal(v.handle, -1, 'a freed value keeps a live handle');
    const b = Buffer.concat([bytes(3, 0), bytes(700, 2)]);
    const w = arenaValue(b, 3, 700);
    assert.equal(w, v, 'the freed object was not reused');
    assert.equal(w.length, 700);
    assert.equal(arena.latin1(w.handle), bytes(700, 2).toString('latin1'));
    freeValue(w);
  });

  it('a value freed after a compaction moved its chunk frees the chunk it is in now', () => {
    // 5,000 values of 1000 bytes fill 5 slabs; freeing 4 of every 5 compacts (chunks move, the
    // arena's epoch changes). Each free of a moved value must give back its new chunk: one that
    // gave back its old location would leave a live value's chunk on the free list, and the
    // fresh values below would overwrite it.
    const live = new Map<ArenaValue, Buffer>();
    const all: ArenaValue[] = [];
    for (let i = 0; i < 5000; i++) {
      const b = bytes(1000, i);
      const v = arenaValue(b, 0, b.length);
      all.push(v);
      live.set(v, b);
    }
    const epoch = arena.epoch;
    for (let i = 0; i < all.length; i++) {
      if (i % 5 === 0) continue;
      freeValue(all[i]!);
      live.delete(all[i]!);
    }
    // Free the rest in an order that reaches moved values (those past the first slab).
    const rest = [...live.keys()];
    for (let i = 0; i < rest.length; i += 2) {
      freeValue(rest[i]!);
      live.delete(rest[i]!);
    }
    assert.ok(arena.epoch > epoch, 'no compaction ran');
    const fresh: [ArenaValue, Buffer][] = [];
    for (let i = 0; i < 3000; i++) {
      const b = bytes(1000, 100 + i);
      fresh.push([arenaValue(b, 0, b.length), b]);
    }
    for (const [v, b] of live) assert.ok(arena.view(v.handle).equals(b), 'a live value was overwritten');
    for (const [v, b] of fresh) assert.ok(arena.view(v.handle).equals(b));
    for (const v of live.keys()) freeValue(v);
    for (const [v] of fresh) freeValue(v);
  });

  it('against a model: live values are distinct objects and read their own bytes after every step', () => {
    // Sets (a new value, the old one freed, as Database.set does) and deletes on a few keys; a
    // reused object that kept its old handle or length, or one handed out while live, fails.
    const op = fc.record({ key: fc.nat(7), del: fc.boolean(), len: fc.constantFrom(ARENA_MIN, 700, 1000, 1500, 4000), seed: fc.nat(255) });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const live = new Map<number, { v: ArenaValue; bytes: Buffer }>();
        const before = arena.live;
        for (const o of ops) {
          const old = live.get(o.key);
          if (o.del) live.delete(o.key);
          else {
            const b = bytes(o.len, o.seed);
            live.set(o.key, { v: arenaValue(Buffer.concat([bytes(2, 1), b]), 2, o.len), bytes: b });
          }
          if (old !== undefined) freeValue(old.v);
          const seen = new Set<ArenaValue>();
          for (const { v, bytes: b } of live.values()) {
            assert.ok(!seen.has(v), 'two live keys share a value object');
            seen.add(v);
            assert.equal(v.length, b.length);
            assert.ok(arena.view(v.handle).equals(b));
          }
        }
        for (const { v } of live.values()) freeValue(v);
        assert.equal(arena.live, before);
      }),
      { numRuns: 200 },
    );
  });
});

describe('long SET values in the arena, through a server', () => {
  let s: InProcessServer;
  before(async () => {
    s = await startInProcess(new SystemClock(), { 'enable-debug-command': 'yes' });
  });
  after(async () => {
    await s.stop();
  });

  it('reads the same as the bytes stored as a string, through every consumer', async () => {
    const { r, server } = s;
    const v = bytes(1000, 5);
    await r.set('arena', v);
    await r.mset('plain', v); // not a plain 3-argument SET: a string
    const db = server.dbs[0]!;
    assert.ok(db.peek('arena') instanceof ArenaValue, 'SET did not store the value in the arena');
    assert.equal(typeof db.peek('plain'), 'string');
    assert.deepEqual(await r.getBuffer('arena'), v);
    const K = '<key>';
    for (const cmd of [['strlen', K], ['getrange', K, '3', '900'], ['object', 'encoding', K], ['debug', 'digest-value', K], ['memory', 'usage', K], ['dump', K], ['type', K]]) {
      const on = (key: string): Promise<unknown> => r.callBuffer(cmd[0]!, ...cmd.slice(1).map((a) => (a === K ? key : a)));
      assert.deepEqual(await on('arena'), await on('plain'), cmd.join(' '));
    }
    assert.equal(await r.call('lcs', 'arena', 'plain', 'len'), 1000);
    // A DUMP of it restores as the same value.
    const dump = await r.dumpBuffer('arena');
    await r.restore('restored', 0, dump);
    assert.deepEqual(await r.getBuffer('restored'), v);
  });

  it('APPEND, SETRANGE, GETDEL, RENAME, MOVE, COPY, MULTI and DEBUG RELOAD keep the bytes', async () => {
    const { r } = s;
    const v = bytes(800, 9);
    await r.set('a', v);
    assert.equal(await r.append('a', 'XYZ'), 803);
    assert.deepEqual(await r.getBuffer('a'), Buffer.concat([v, Buffer.from('XYZ')]));
    await r.set('b', v);
    await r.setrange('b', 2, 'Q');
    const edited = Buffer.from(v);
    edited[2] = 0x51;
    assert.deepEqual(await r.getBuffer('b'), edited);
    await r.set('c', v);
    await r.rename('c', 'c2');
    assert.deepEqual(await r.getBuffer('c2'), v);
    await r.move('c2', 1);
    await r.select(1);
    assert.deepEqual(await r.getBuffer('c2'), v);
    await r.copy('c2', 'c3');
    await r.del('c2');
    assert.deepEqual(await r.getBuffer('c3'), v);
    await r.select(0);
    await r.set('d', v);
    assert.deepEqual(await r.getdelBuffer('d'), v);
    const [[, ok]] = (await r.multi().set('m', v).exec()) as [[null, string]];
    assert.equal(ok, 'OK');
    assert.deepEqual(await r.getBuffer('m'), v);
    await r.set('reload', v);
    await r.call('debug', 'reload');
    assert.deepEqual(await r.getBuffer('reload'), v);
  });

  it('SLOWLOG and MONITOR see the value the parser left as bytes', async () => {
    const { r, port } = s;
    const v = 'w'.repeat(ARENA_MIN + 100);
    const { Redis } = await import('ioredis');
    const monitored: string[][] = [];
    const mc = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
    const m = await mc.monitor();
    m.on('monitor', (_t: string, args: string[]) => monitored.push(args));
    await r.set('seen', v);
    await new Promise((resolve) => setTimeout(resolve, 100));
    m.disconnect();
    mc.disconnect();
    assert.ok(monitored.some((a) => a[0]?.toLowerCase() === 'set' && a[1] === 'seen' && a[2] === v), JSON.stringify(monitored).slice(0, 300));
    await r.config('SET', 'slowlog-log-slower-than', '0');
    await r.call('slowlog', 'reset');
    await r.set('slow', v); // no monitor now: the arena's path
    assert.ok(s.server.dbs[0]!.peek('slow') instanceof ArenaValue);
    const log = (await r.call('slowlog', 'get', '10')) as [number, number, number, string[]][];
    await r.config('SET', 'slowlog-log-slower-than', '10000');
    const entry = log.find((e) => e[3][1] === 'slow');
    assert.ok(entry !== undefined, JSON.stringify(log).slice(0, 300));
    assert.equal(entry[3][2], `${v.slice(0, 128)}... (${v.length - 128} more bytes)`);
  });

  it("a client's value equal to the parser's placeholder is stored as sent, never as bytes left from an earlier read", async () => {
    const { r } = s;
    // A long value first leaves its bytes (and the parser's record of where they were) behind.
    await r.set('before', 'L'.repeat(ARENA_MIN + 400));
    for (const [cmd, key] of [['set', 'forged'], ['SET', 'forged2']] as const) {
      assert.equal(await r.call(cmd, key, LONG_ARG), 'OK');
      assert.equal(await r.get(key), LONG_ARG, cmd);
      assert.equal(typeof s.server.dbs[0]!.peek(key), 'string');
    }
    // Through MULTI and a script too.
    await r.multi().set('forged3', LONG_ARG).exec();
    assert.equal(await r.get('forged3'), LONG_ARG);
    await r.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, 'forged4', LONG_ARG);
    assert.equal(await r.get('forged4'), LONG_ARG);
  });

  it('overwrite, DEL, eviction and FLUSHALL free the chunks, and overwrites reuse them', async () => {
    const { r } = s;
    await r.flushall();
    assert.equal(arena.live, 0);
    const v = bytes(1000, 1);
    await r.set('k', v);
    const slabs = arena.slabBytes;
    for (let i = 0; i < 3000; i++) await r.set('k', bytes(1000, i));
    assert.equal(arena.live, 1);
    assert.equal(arena.slabBytes, slabs, 'an overwrite did not reuse the chunk it freed');
    assert.deepEqual(await r.getBuffer('k'), bytes(1000, 2999));
    await r.del('k');
    assert.equal(arena.live, 0);
    // Eviction: every key the evictor takes gives its chunk back.
    await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await r.config('SET', 'maxmemory', String(4 * 1024 * 1024));
    const pipe = r.pipeline();
    for (let i = 0; i < 20000; i++) pipe.set(`e:${i}`, v);
    await pipe.exec();
    const keys = await r.dbsize();
    assert.ok(keys < 20000, `nothing evicted (${keys} keys)`);
    // (A SET whose bytes a read split is parsed the old way: its value is a string.)
    let inArena = 0;
    const db = s.server.dbs[0]!;
    for (const k of db.dict.keys()) if (db.peek(k) instanceof ArenaValue) inArena++;
    assert.ok(inArena > keys / 2, `${inArena} of ${keys} in the arena`);
    assert.equal(arena.live, inArena);
    await r.config('SET', 'maxmemory', '0');
    await r.flushall();
    assert.equal(arena.live, 0);
  });
});
