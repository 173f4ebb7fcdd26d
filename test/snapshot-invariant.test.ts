/**
 * The copy-on-write invariant of a running snapshot (persistence/snapshot.ts verifyKeyChanged):
 * a key changed while the snapshot runs must have been handed to beforeKeyChange first. A
 * change that skipped it (as serving a blocked BLMOVE once did) fails the snapshot rather than
 * let an image hold a value that never existed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Database, type KeyspaceOwner } from '../src/keyspace/db.js';
import { Snapshot } from '../src/persistence/snapshot.js';
import { DEFAULT_ENCODE_OPTIONS } from '../src/persistence/rdb-encode.js';
import { ListValue } from '../src/types/list.js';

function owner(): KeyspaceOwner {
  return {
    expiryNow: () => 0,
    expiryIsMastersJob: () => false,
    onKeyExpired: () => {},
    random: () => 0.5,
    onKeyAdded: () => {},
    access: { track: false, epoch: 0, lfu: false, lruClock: 0, minutes: 0, logFactor: 10, decayTime: 1, random: () => 0.5 },
  };
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
