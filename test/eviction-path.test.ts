/**
 * The pieces of an evicting write's path, in process (no sockets): jemalloc's size classes as
 * the memory model computes them (by counting bits), `Database.take` (the one-probe deletion
 * eviction uses), the sampled entries' hashes (so the deletion needs not read the key), the
 * pool's choice under allkeys-lru, volatile-ttl and volatile-lru, and a DEL that nothing is
 * there to receive (no AOF, no replica) leaving nothing queued for a target that comes later.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Database, type KeyspaceOwner } from '../src/keyspace/db.js';
import { allocSize, chargedValueBytes, dictBucketBytes, keyOverheadBytes } from '../src/keyspace/memory.js';
import { KEEP_RECORD, KeyDict, NO_RECORD, SamplePositions, keyHash } from '../src/keyspace/dict.js';
import type { Server } from '../src/server/server.js';
import { ManualClock } from '../src/core/clock.js';
import { performEvictions, setMemoryGauge } from '../src/server/evict.js';
import { serverInProcess, standaloneOwner } from './helpers/in-process.js';

/** jemalloc's size class as first written (Math.log2): the reference for allocSize. */
function referenceAllocSize(n: number): number {
  if (n <= 8) return 8;
  if (n <= 128) return Math.ceil(n / 16) * 16;
  const step = 2 ** Math.floor(Math.log2(n - 1)) / 4;
  return Math.ceil(n / step) * step;
}

function owner(track: boolean): KeyspaceOwner {
  return standaloneOwner({ track, lruClock: 7 });
}

function inProcessServer(policy: string): { server: Server; clock: ManualClock; fed: string[] } {
  const clock = new ManualClock();
  const server = serverInProcess(clock, 3);
  const config = server.config;
  config.set('maxmemory-policy', [policy], 'runtime');
  // No time limit per round: one performEvictions() call does all the work, under any load.
  config.set('maxmemory-eviction-tenacity', ['100'], 'runtime');
  // Every key costs 100 bytes: eviction frees exactly one key's worth per key.
  setMemoryGauge(server, { used: () => server.dbs.reduce((n, db) => n + db.size, 0) * 100, freedBy: () => 100 });
  return { server, clock, fed: [] };
}

describe('allocSize (jemalloc size classes by counting bits)', () => {
  it('matches the reference at every size up to 1 MB and around every power of two', () => {
    for (let n = 0; n <= 1 << 20; n++) assert.equal(allocSize(n), referenceAllocSize(n), `n = ${n}`);
    for (let b = 20; b <= 40; b++) {
      for (const n of [2 ** b - 1, 2 ** b, 2 ** b + 1, 3 * 2 ** (b - 1) + 5]) assert.equal(allocSize(n), referenceAllocSize(n), `n = ${n}`);
    }
  });

  it("dictBucketBytes: 8 bytes per bucket, the power of two at least the size", () => {
    const reference = (size: number): number => (size <= 1 ? size * 8 : 8 * 2 ** Math.ceil(Math.log2(size)));
    for (let size = 0; size <= 1 << 20; size++) assert.equal(dictBucketBytes(size), reference(size), `size = ${size}`);
    for (const size of [2 ** 30 - 1, 2 ** 30, 2 ** 30 + 1, 2 ** 31, 2 ** 33 + 7]) assert.equal(dictBucketBytes(size), reference(size), `size = ${size}`);
  });

  it('gives the classes Redis reports for common values', () => {
    assert.deepEqual([9, 129, 1009, 1024, 1025, 4097].map(allocSize), [16, 160, 1024, 1024, 1280, 5120]);
  });
});

describe('Database.take', () => {
  it('deletes a key and answers its value, with its charge, access record and TTL gone', () => {
    const db = new Database(0, owner(true));
    const empty = db.memoryBytes();
    db.set('k', 'x'.repeat(1000));
    db.setExpire('k', 5000);
    assert.equal(db.access.get('k'), 7);
    assert.equal(db.memory, chargedValueBytes('x'.repeat(1000)) + keyOverheadBytes('k'));
    assert.equal(db.take('k'), 'x'.repeat(1000));
    assert.equal(db.peek('k'), undefined);
    assert.equal(db.access.size, 0);
    assert.equal(db.getExpire('k'), -1);
    assert.equal(db.memory, 0);
    assert.equal(db.memoryBytes(), empty);
  });

  it('answers undefined for a key that is not there and changes nothing', () => {
    const db = new Database(0, owner(false));
    db.set('a', '1');
    const before = db.memory;
    assert.equal(db.take('b'), undefined);
    assert.equal(db.size, 1);
    assert.equal(db.memory, before);
  });
});

describe('KeyDict.sampleEntries with hashes', () => {
  it("answers each sampled key's keyHash beside it, one table and sharded", () => {
    for (const d of [new KeyDict<number>(64, 8), new KeyDict<number>()]) {
      for (let i = 0; i < 500; i++) d.set(`key:${i}`, i);
      for (let i = 0; i < 500; i += 7) d.delete(`key:${i}`);
      const keys: string[] = [];
      const values: number[] = [];
      const hashes: number[] = [];
      let x = 0.41;
      for (let call = 0; call < 200; call++) {
        d.sampleEntries(() => (x = (x * 9301 + 0.49297) % 1), 5, keys, values, hashes);
        assert.equal(hashes.length, keys.length);
        assert.deepEqual(hashes, keys.map(keyHash));
        assert.deepEqual(values, keys.map((k) => d.get(k)));
      }
    }
  });
});

describe('KeyDict.samplePositions', () => {
  it('answers where live entries are: the key there has the value and hash answered, and more samples than the arrays were first made for fit', () => {
    for (const d of [new KeyDict<number>(64, 8), new KeyDict<number>()]) {
      for (let i = 0; i < 500; i++) d.set(`key:${i}`, i);
      for (let i = 0; i < 500; i += 3) d.delete(`key:${i}`);
      const values: number[] = [];
      let x = 0.27;
      for (const count of [5, 5, 40, 1, 20]) {
        const at = SamplePositions.atLeast(count);
        const n = d.samplePositions(() => (x = (x * 9301 + 0.49297) % 1), count, at.tables, at.positions, values, at.hashes, null);
        assert.equal(n, count);
        assert.equal(values.length, n);
        const keys = new Set<string>();
        for (let i = 0; i < n; i++) {
          const key = d.sampledKey(at.tables[i]!, at.positions[i]!);
          assert.equal(d.get(key), values[i]);
          assert.equal(at.hashes[i], keyHash(key));
          keys.add(key);
        }
        assert.equal(keys.size, n, 'no key twice within a call');
      }
    }
  });
});

describe('the eviction pool picks as the policy says', () => {
  it('allkeys-lru: 1,000 evictions never take one of the 50 keys read last', () => {
    const { server, clock } = inProcessServer('allkeys-lru');
    const db = server.dbs[0]!;
    for (let i = 0; i < 2000; i++) db.set(`k${i}`, 'v');
    clock.advance(60_000);
    server.refreshAccessClock();
    const recent = new Set<string>();
    for (let i = 0; i < 2000; i += 40) {
      db.lookup(`k${i}`);
      recent.add(`k${i}`);
    }
    server.config.set('maxmemory', [String(1000 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'ok');
    assert.equal(db.size, 1000);
    for (const k of recent) assert.notEqual(db.peek(k), undefined, `${k} was read last and evicted`);
  });

  it('volatile-ttl: evicts only keys with a TTL, among the soonest to expire', () => {
    const { server } = inProcessServer('volatile-ttl');
    const db = server.dbs[0]!;
    for (let i = 0; i < 500; i++) db.set(`p${i}`, 'v');
    for (let i = 0; i < 500; i++) {
      db.set(`t${i}`, 'v');
      db.setExpire(`t${i}`, 1_000_000 + i * 1000);
    }
    server.config.set('maxmemory', [String(800 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'ok');
    assert.equal(db.size, 800);
    for (let i = 0; i < 500; i++) assert.notEqual(db.peek(`p${i}`), undefined);
    // The 200 evicted are from the sooner half: the pool keeps the best of every sample.
    let lateEvicted = 0;
    for (let i = 250; i < 500; i++) if (db.peek(`t${i}`) === undefined) lateEvicted++;
    assert.ok(lateEvicted < 20, `${lateEvicted} of the latest-expiring keys evicted`);
  });

  it('volatile-lru with no key left that has a TTL: fails instead of taking a persistent key', () => {
    const { server } = inProcessServer('volatile-lru');
    const db = server.dbs[0]!;
    for (let i = 0; i < 100; i++) db.set(`p${i}`, 'v');
    for (let i = 0; i < 10; i++) {
      db.set(`t${i}`, 'v');
      db.setExpire(`t${i}`, 1_000_000);
    }
    server.config.set('maxmemory', [String(50 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'fail');
    assert.equal(db.size, 100);
    for (let i = 0; i < 10; i++) assert.equal(db.peek(`t${i}`), undefined);
  });
});

describe("a round's time limit (maxmemory-eviction-tenacity)", () => {
  it('at tenacity 0 a round stops after 16 keys and leaves the rest to the follow-up task; one key needs no limit', async () => {
    const { server } = inProcessServer('allkeys-lru');
    const db = server.dbs[0]!;
    for (let i = 0; i < 200; i++) db.set(`k${i}`, 'v');
    server.config.set('maxmemory-eviction-tenacity', ['0'], 'runtime');
    // One key over: the round evicts it and is done (its clock, started only for a second key, never read).
    server.config.set('maxmemory', [String(199 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'ok');
    assert.equal(db.size, 199);
    // 99 keys over: a 0 µs limit, checked every 16 keys, ends the round at the 16th.
    server.config.set('maxmemory', [String(100 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'running');
    assert.equal(db.size, 199 - 16);
    for (let i = 0; i < 50 && db.size > 100; i++) await new Promise((r) => setImmediate(r));
    assert.equal(db.size, 100);
  });
});

describe('an eviction with nothing to propagate to', () => {
  it('queues nothing, and a target added afterwards receives only the DELs of later evictions', () => {
    const { server, fed } = inProcessServer('allkeys-random');
    const db = server.dbs[0]!;
    for (let i = 0; i < 20; i++) db.set(`k${i}`, 'v');
    server.config.set('maxmemory', [String(15 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'ok');
    assert.equal(db.size, 15);
    assert.equal(server.stats.evictedKeys, 5);
    assert.equal(server.propagator.isEmpty(), true);
    server.propagator.addTarget({ feed: (dbId, argv) => fed.push(`${dbId}:${argv.join(' ')}`) });
    server.config.set('maxmemory', [String(13 * 100)], 'runtime');
    assert.equal(performEvictions(server), 'ok');
    assert.equal(db.size, 13);
    assert.equal(fed.length, 2);
    for (const line of fed) {
      assert.match(line, /^0:DEL k\d+$/);
      assert.equal(db.peek(line.slice(6)), undefined);
    }
  });
});

describe('access records in the main dictionary (KeyDict records)', () => {
  it('go with their entries through table rebuilds, sharding and un-sharding, and leave with them', () => {
    // Shards at 64 entries, one table again at 8: both moves happen below.
    const d = new KeyDict<string>(64, 8);
    const want = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const rec = i % 4 === 0 ? NO_RECORD : i * 3;
      d.put(`k${i}`, `v${i}`, keyHash(`k${i}`), rec);
      if (rec !== NO_RECORD) want.set(`k${i}`, rec);
    }
    assert.ok(d.sharded);
    const check = (): void => {
      for (let i = 0; i < 300; i++) assert.equal(d.recordOf(`k${i}`), want.get(`k${i}`) ?? NO_RECORD, `k${i}`);
      assert.equal(d.recordCount, want.size);
    };
    check();
    // Deletes leave holes and shrink the tables (rebuilds); a deleted key's record is gone.
    for (let i = 0; i < 300; i += 2) {
      d.delete(`k${i}`);
      want.delete(`k${i}`);
    }
    check();
    for (let i = 1; i < 290; i += 2) {
      d.delete(`k${i}`);
      want.delete(`k${i}`);
    }
    assert.ok(!d.sharded);
    check();
    // A key added again starts without the old record; an overwrite keeps or replaces it.
    d.put('k0', 'again');
    assert.equal(d.recordOf('k0'), NO_RECORD);
    d.put('k291', 'w', keyHash('k291'), 5, KEEP_RECORD);
    assert.equal(d.recordOf('k291'), 291 * 3);
    d.put('k291', 'w', keyHash('k291'), 5, 9);
    assert.equal(d.recordOf('k291'), 9);
    assert.equal(d.setRecord('absent', 1), false);
    assert.equal(d.recordOf('absent'), NO_RECORD);
    // Sampling answers each sampled entry's record.
    const at = SamplePositions.atLeast(5);
    let x = 0.3;
    for (let call = 0; call < 50; call++) {
      const n = d.samplePositions(() => (x = (x * 9301 + 0.49297) % 1), 5, at.tables, at.positions, null, at.hashes, at.records);
      for (let i = 0; i < n; i++) assert.equal(at.records[i], d.recordOf(d.sampledKey(at.tables[i]!, at.positions[i]!)));
    }
  });

  it('sampling by records never answers a deleted entry, whether its hole came before or after the records did', () => {
    // One table (no sharding), so holes stay in the store until a rebuild: keys written
    // without records, half of them deleted, then records given to the rest — the record
    // array is made after the holes (they must be marked in it) — then more deletes after it.
    const d = new KeyDict<string>(1 << 20, 1 << 10);
    for (let i = 0; i < 400; i++) d.put(`k${i}`, 'v');
    for (let i = 0; i < 400; i += 2) d.delete(`k${i}`);
    for (let i = 1; i < 400; i += 2) d.setRecord(`k${i}`, i);
    for (let i = 1; i < 400; i += 16) d.delete(`k${i}`);
    assert.equal(d.size, 175);
    const at = SamplePositions.atLeast(5);
    let x = 0.7;
    let seen = 0;
    for (let call = 0; call < 200; call++) {
      const n = d.samplePositions(() => (x = (x * 9301 + 0.49297) % 1), 5, at.tables, at.positions, null, null, at.records);
      for (let i = 0; i < n; i++) {
        const key = d.sampledKey(at.tables[i]!, at.positions[i]!);
        assert.equal(typeof key, 'string', 'a sampled position holds a live key');
        assert.equal(at.records[i], d.recordOf(key));
        assert.equal(d.sampledHash(at.tables[i]!, at.positions[i]!), keyHash(key));
        seen++;
      }
    }
    assert.ok(seen >= 900, `samples answered: ${seen}`);
  });

  it('Database: a new key gets a record, LRU refreshes it on overwrite, LFU keeps it, SWAPDB moves it with the key', () => {
    const lru = new Database(0, owner(true));
    lru.set('k', 'a');
    assert.equal(lru.access.get('k'), 7);
    const other = new Database(1, owner(true));
    lru.swapWith(other);
    assert.equal(other.access.get('k'), 7);
    assert.equal(lru.access.get('k'), undefined);
    assert.equal(lru.access.size, 0);
    const untracked = new Database(2, owner(false));
    untracked.set('k', 'a');
    assert.equal(untracked.access.get('k'), undefined);
    untracked.access.set('k', 3);
    untracked.set('k', 'b');
    assert.equal(untracked.access.get('k'), 3, 'an overwrite without tracking leaves the record');
    const lfu = new Database(3, standaloneOwner({ track: true, lfu: true, minutes: 2 }));
    lfu.set('k', 'a');
    const initial = lfu.access.get('k')!;
    assert.equal(initial, (2 << 8) | 5, 'LFU_INIT_VAL at minute 2');
    lfu.access.set('k', (2 << 8) | 40);
    lfu.set('k', 'b');
    assert.equal(lfu.access.get('k'), (2 << 8) | 40, 'LFU keeps the counter over an overwrite (dbSetValue)');
    lru.set('j', 'a');
    lru.access.set('j', 1);
    lru.set('j', 'b');
    assert.equal(lru.access.get('j'), 7, 'LRU: a new object, a fresh clock');
    untracked.access.set('missing', 4);
    assert.equal(untracked.access.size, 1, 'no record for a key that does not exist');
  });
});
