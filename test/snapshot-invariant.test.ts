/**
 * The copy-on-write invariant of a running snapshot (persistence/snapshot.ts verifyKeyChanged):
 * a key changed while the snapshot runs must have been handed to beforeKeyChange first. A
 * change that skipped it (as serving a blocked BLMOVE once did) fails the snapshot rather than
 * let an image hold a value that never existed.
 *
 * And the point-in-time guarantee: keys changed, deleted and re-created between tiny slices of
 * a walk give an image of exactly the dataset at the start, each key once (a duplicate key
 * makes Redis refuse the file) — whether the walk already wrote a key is asked of the walk's
 * position (DictWalker.passed), in one table, in shards, and across the switch to shards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Database, type KeyspaceOwner } from '../src/keyspace/db.js';
import { Snapshot } from '../src/persistence/snapshot.js';
import { DEFAULT_ENCODE_OPTIONS } from '../src/persistence/rdb-encode.js';
import { defaultLoadLimits, parseRdb } from '../src/persistence/rdb-decode.js';
import type { RedisValue } from '../src/types/value.js';
import { ListValue } from '../src/types/list.js';
import { standaloneOwner } from './helpers/in-process.js';

function owner(): KeyspaceOwner {
  return standaloneOwner();
}

function dbWithLists(): { db: Database; lists: ListValue[] } {
  const db = new Database(0, owner());
  const lists: ListValue[] = [];
  for (let i = 0; i < 10; i++) {
    const l = new ListValue();
    l.pushTail('a');
    db.set(`k${i}`, l);
    lists.push(l);
  }
  return { db, lists };
}

const options = { encode: DEFAULT_ENCODE_OPTIONS, checksum: true, aux: [], functions: [] };

test('a key copied before its change satisfies the invariant and the snapshot completes', () => {
  const { db, lists } = dbWithLists();
  const snap = new Snapshot([db], options);
  snap.step(Infinity, 2);
  snap.beforeKeyChange(db, 'k9');
  lists[9]!.pushTail('x');
  assert.equal(snap.verifyKeyChanged(db, 'k9'), true);
  // Keys already written by the walk, and keys created after the start, need no copy.
  assert.equal(snap.verifyKeyChanged(db, 'k0'), true);
  assert.equal(snap.verifyKeyChanged(db, 'new'), true);
  assert.ok(snap.runToEnd().length > 0);
});

test('a key changed in place without copy-on-write fails the snapshot', () => {
  const { db, lists } = dbWithLists();
  const snap = new Snapshot([db], options);
  snap.step(Infinity, 2);
  lists[9]!.pushTail('x');
  assert.equal(snap.verifyKeyChanged(db, 'k9'), false);
  assert.throws(() => snap.runToEnd(), /key 'k9' of db 0 changed before the snapshot copied it/);
});

test('a walk in tiny slices with changes in between is the dataset at the start, each key once', () => {
  // One table; shards (40,000 keys); and one table that becomes shards half way (32,760 keys
  // and a burst of new ones: the walk goes on over the old table).
  for (const [seed, N] of [[1, 3000], [2, 3000], [3, 3000], [4, 40_000], [5, 32_760]] as const) {
    const db = new Database(0, owner());
    for (let i = 0; i < N; i++) db.set(`key:${i}`, `v${i}`);
    assert.equal(db.dict.sharded, N >= 32_768);
    for (let i = 0; i < N; i += 10) db.setExpire(`key:${i}`, 10_000_000 + i);
    const atStart = new Map<string, [RedisValue, number]>();
    for (const [k, v] of db.dict.entries()) atStart.set(k, [v, db.getExpire(k)]);

    const snap = new Snapshot([db], { encode: DEFAULT_ENCODE_OPTIONS, checksum: true, aux: [], functions: [] });
    db.beforeChange = (d, key) => snap.beforeKeyChange(d, key);
    const chunks: Buffer[] = [];
    let round = 0;
    while (!snap.complete) {
      // A few keys per slice, bytes held back until 1 KB is gathered (as drive() does).
      const c = snap.step(Infinity, 1 + (round++ % 7), 8 << 20, 1024);
      if (c.length > 0) chunks.push(c);
      if (round === 50) {
        const wasSharded = db.dict.sharded;
        for (let i = 0; i < 100; i++) db.set(`burst:${i}`, 'born later');
        if (N === 32_760) assert.ok(!wasSharded && db.dict.sharded, 'the burst switches the dictionary to shards');
      }
      // Keys spread over the whole walk (and 200 born meanwhile), in a fixed order per seed.
      for (let j = 0; j < 5; j++) {
        const n = round * 5 + j;
        const key = `key:${(n * 7919 + seed * 104729) % (N + 200)}`;
        const op = (n * 13 + seed) % 10;
        if (op < 4) db.set(key, `new${round}`);
        else if (op < 6) db.delete(key);
        else if (op < 8) {
          db.delete(key);
          db.set(key, `again${round}`);
        } else if (op < 9) db.setExpire(key, 20_000_000);
        else db.persist(key);
      }
    }
    db.beforeChange = null;

    const seen = new Map<string, [RedisValue, number]>();
    parseRdb(
      Buffer.concat(chunks),
      {
        selectDb: () => {},
        aux: () => {},
        functionCode: () => {},
        key: (_db, key, value, expireMs) => {
          assert.ok(!seen.has(key), `seed ${seed}: ${key} written twice`);
          seen.set(key, [value, expireMs]);
        },
      },
      defaultLoadLimits(),
    );
    assert.equal(seen.size, atStart.size, `seed ${seed}: key count`);
    for (const [k, [v, exp]] of atStart) {
      const got = seen.get(k);
      assert.ok(got !== undefined, `seed ${seed}: ${k} missing`);
      assert.equal(String(got[0]), String(v), `seed ${seed}: value of ${k}`);
      assert.equal(got[1], exp, `seed ${seed}: expiry of ${k}`);
    }
  }
});

test('rdbchecksum no: the image ends in 8 zero bytes and loads; yes: a CRC64 that verifies', () => {
  const db = new Database(0, owner());
  for (let i = 0; i < 2000; i++) db.set(`key:${i}`, `value:${i}`);
  for (const checksum of [false, true]) {
    const snap = new Snapshot([db], { encode: DEFAULT_ENCODE_OPTIONS, checksum, aux: [], functions: [] });
    const chunks: Buffer[] = [];
    // Small slices, each chunk handed out as it is (the buffers must not be reused under them).
    while (!snap.complete) {
      const c = snap.step(Infinity, 100, 8 << 20, 512);
      if (c.length > 0) chunks.push(c);
    }
    const image = Buffer.concat(chunks);
    const trailer = image.subarray(image.length - 8);
    assert.equal(trailer.equals(Buffer.alloc(8)), !checksum, `checksum ${checksum}: trailer ${trailer.toString('hex')}`);
    let keys = 0;
    parseRdb(image, { selectDb: () => {}, aux: () => {}, functionCode: () => {}, key: () => void keys++ }, defaultLoadLimits());
    assert.equal(keys, 2000);
    if (checksum) {
      image[image.length - 1] ^= 1;
      assert.throws(() => parseRdb(image, { selectDb: () => {}, aux: () => {}, functionCode: () => {}, key: () => {} }, defaultLoadLimits()));
    }
  }
});
