/**
 * The keyspace's shortcuts for string writes (keyspace/db.ts, str16): a set()/replace() right
 * after a lookup() of the same key reuses that lookup's hash, and MSET's keys are warmed
 * (Database.warm) and set with the hashes warm() computed. A stale or misplaced hash would file
 * a key where no lookup finds it; these check that every key is found where it should be.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { Database } from '../src/keyspace/db.js';
import { keyHash } from '../src/keyspace/dict.js';
import { RespParser } from '../src/protocol/parser.js';
import { standaloneOwner } from './helpers/in-process.js';

/** Enough keys that the dictionary is sharded (dict.ts SHARD_AT is 32,768). */
const MANY = 40000;

describe('Database: a write after a lookup reuses its hash', () => {
  for (const n of [10, MANY]) {
    it(`files each key under its own hash, never the last lookup's (${n} keys)`, () => {
      const db = new Database(0, standaloneOwner({ track: false, lruClock: 0 }));
      for (let i = 0; i < n; i++) {
        db.lookup(`other:${i}`); // a miss: hashed, not stored
        db.set(`key:${i}`, i); // must not take other:i's hash
        assert.equal(db.lookup(`key:${i}`), i);
        db.replace(`key:${i}`, i + 1); // the hash of the lookup just above
        db.lookup(`key:${(i * 7) % (i + 1)}`);
        db.replace(`key:${i}`, i + 2); // not the hash of the lookup just above (unless the same key)
      }
      assert.equal(db.size, n);
      for (let i = 0; i < n; i++) {
        assert.equal(db.peek(`key:${i}`), i + 2);
        assert.equal(db.peek(`other:${i}`), undefined);
      }
    });
  }

  it('warm() leaves each key hash for set(), in order, and reads nothing it changes', () => {
    const db = new Database(0, standaloneOwner({ track: false, lruClock: 0 }));
    for (let i = 0; i < MANY; i += 2) db.set(`key:${i}`, 'old');
    const argv = ['MSET'];
    for (let i = 0; i < 10; i++) argv.push(`key:${i * 997}`, `v${i}`);
    const hashes: number[] = [];
    db.warm(argv, 1, 2, hashes);
    assert.deepEqual(hashes.slice(0, 10), argv.filter((_, j) => j % 2 === 1).map(keyHash));
    for (let j = 1, i = 0; j < argv.length; j += 2, i++) db.set(argv[j]!, argv[j + 1]!, false, hashes[i]!);
    for (let j = 1; j < argv.length; j += 2) assert.equal(db.lookup(argv[j]!), argv[j + 1]);
  });
});

describe('Database: a lookup of the key looked up or set last (types19)', () => {
  it('answers what the table holds after any sequence of writes, expiries, flushes and swaps', () => {
    const keys = ['k0', 'k1', 'k2', 'mylist'];
    const op = fc.record({
      kind: fc.constantFrom('lookup', 'lookup', 'lookup', 'set', 'replace', 'delete', 'expire', 'persist', 'clear', 'swap', 'peek'),
      k: fc.integer({ min: 0, max: keys.length - 1 }),
      v: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), (ops, track) => {
        let now = 100;
        const owner = () => ({ ...standaloneOwner({ track, lruClock: 7 }), expiryNow: () => now });
        const a = new Database(0, owner());
        const b = new Database(1, owner());
        let model = new Map<string, { v: number; when: number }>();
        let other = new Map<string, { v: number; when: number }>();
        const alive = (k: string): number | undefined => {
          const e = model.get(k);
          if (e === undefined) return undefined;
          if (e.when !== -1 && e.when <= now) {
            model.delete(k);
            return undefined;
          }
          return e.v;
        };
        for (const { kind, k, v } of ops) {
          const key = keys[k]!;
          now++;
          if (kind === 'lookup') assert.equal(a.lookup(key), alive(key), `lookup ${key}`);
          else if (kind === 'peek') {
            const e = model.get(key);
            assert.equal(a.peek(key), e?.v, `peek ${key}`);
          } else if (kind === 'set') {
            a.set(key, v);
            model.set(key, { v, when: -1 });
          } else if (kind === 'replace') {
            if (a.lookup(key) !== undefined) {
              a.replace(key, v);
              model.get(key)!.v = v;
            } else alive(key);
          } else if (kind === 'delete') {
            a.delete(key);
            model.delete(key);
          } else if (kind === 'expire') {
            if (a.peek(key) !== undefined) {
              // In the past or the future, by v's parity: a past one expires at the next lookup.
              const when = v % 2 === 0 ? now - 1 : now + 1000;
              a.setExpire(key, when);
              model.get(key)!.when = when;
            }
          } else if (kind === 'persist') {
            a.persist(key);
            const e = model.get(key);
            if (e !== undefined) e.when = -1;
          } else if (kind === 'clear') {
            a.clear();
            model = new Map();
          } else {
            a.swapWith(b);
            [model, other] = [other, model];
          }
          if (track && kind === 'lookup' && alive(key) !== undefined) assert.equal(a.access.get(key), 7, `record of ${key}`);
        }
        for (const key of keys) assert.equal(a.lookup(key), alive(key), `at the end, ${key}`);
      }),
      { numRuns: 300 },
    );
  });
});

describe('RespParser: arguments of every length up to 40 bytes', () => {
  it('builds each argument from its bytes exactly (the char-code path to 24 bytes, latin1Slice beyond)', () => {
    const p = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
    for (let n = 0; n <= 40; n++) {
      const arg = Buffer.alloc(n);
      for (let i = 0; i < n; i++) arg[i] = (n * 31 + i * 17 + 128) & 0xff;
      p.feed(Buffer.concat([Buffer.from(`*2\r\n$3\r\nGET\r\n$${n}\r\n`), arg, Buffer.from('\r\n')]));
      const argv = p.next();
      assert.deepEqual(argv, ['GET', arg.latin1Slice(0, n)], `length ${n}`);
      assert.equal(p.next(), null);
    }
  });
});
