/**
 * redis-cli's dict order, replayed (cli/redis-dict-order.ts): the expected values were printed by
 * Redis 7.0.15's own siphash.c and dict.c (dictReplace of sds keys, then an unsafe iterator),
 * built from ~/.cache/nodis-redis-suite/redis-7.0.15/src with a seed of zero as redis-cli has.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RedisDictOrder, siphash12 } from '../src/cli/redis-dict-order.js';

const order = (keys: string[]): string => {
  const d = new RedisDictOrder();
  for (const k of keys) d.add(k);
  return d.keys().join(' ');
};
const range = (from: number, to: number, step = 1): string[] => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => String(from + i * step));

test('SipHash-1-2 with a zero key, as siphash.c', () => {
  assert.equal(siphash12(Buffer.from('0')), 9202639499479551759n);
  assert.equal(siphash12(Buffer.from('16383')), 5512909473655609812n);
  assert.equal(siphash12(Buffer.from('abcdefgh')), 7896741981928265163n);
  assert.equal(siphash12(Buffer.from('abcdefghij')), 7160192284621386411n);
  assert.equal(siphash12(Buffer.alloc(0)), 3604268065564183773n);
});

test('iteration order of dict.c across growth and incremental rehashing', () => {
  assert.equal(order('5 9 100 7 3 2 8 12 1000 15 16 17 99 98'.split(' ')), '9 2 1000 98 12 99 16 15 7 5 100 3 8 17');
  assert.equal(order(range(0, 40)), '18 12 1 21 20 11 7 15 16 28 27 22 17 9 2 13 31 38 32 33 4 6 24 14 5 23 35 8 25 0 30 37 10 36 39 19 29 26 3 40 34');
  // A key added twice is there once.
  assert.equal(order(['5', '9', '5']), order(['5', '9']));
  const md5 = (s: string): string => createHash('md5').update(`${s} \n`).digest('hex');
  assert.equal(md5(order(range(0, 200, 3))), 'f01d6295a0b642e15d2e5a506d212a5f');
  assert.equal(md5(order(range(0, 16383, 2))), '43a0f6953ba85d656716bf5ce41f4042');
});
