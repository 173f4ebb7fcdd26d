/**
 * The keyspace's shortcuts for string writes (keyspace/db.ts, str16): a set()/replace() right
 * after a lookup() of the same key reuses that lookup's hash, and MSET's keys are warmed
 * (Database.warm) and set with the hashes warm() computed. A stale or misplaced hash would file
 * a key where no lookup finds it; these check that every key is found where it should be.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
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
