/**
 * Clock.wallAt: the wall time of an instant the monotonic clock was read at, which the server
 * uses for a command's frozen time (expiry inside a command and a script) instead of a second
 * clock read. It must agree with now() (Date.now()) to the millisecond, and follow a stepped
 * wall clock once cron resyncs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { ManualClock, Random, SystemClock, splitmix32 } from '../src/core/clock.js';

test('SystemClock.wallAt of a monotonic read lies between Date.now() before and after it (to 1 ms)', () => {
  const clock = new SystemClock();
  let checked = 0;
  for (let i = 0; i < 20_000; i++) {
    const before = Date.now();
    const mono = clock.monotonic();
    const after = Date.now();
    // performance.timeOrigin is the wall time of the monotonic origin to a few microseconds
    // (measured 4 µs ahead on Linux): wallAt may cross a millisecond boundary that much early.
    const wall = clock.wallAt(mono);
    assert.ok(wall >= before && wall <= after + 1, `wallAt ${wall} outside [${before}, ${after + 1}]`);
    assert.ok(Number.isInteger(wall));
    checked++;
  }
  assert.equal(checked, 20_000);
});

test('SystemClock.resync follows a wall clock stepped by more than half a millisecond', () => {
  const clock = new SystemClock();
  // As if the wall clock had been stepped 5 s back since the offset was taken.
  const offset = clock as unknown as { wallOffset: number };
  const aligned = offset.wallOffset;
  offset.wallOffset = aligned + 5000;
  assert.ok(clock.wallAt(clock.monotonic()) > Date.now() + 4000);
  // A resync may be skipped when the process is descheduled between its reads: try a few.
  for (let i = 0; i < 100 && Math.abs(offset.wallOffset - aligned) > 1; i++) clock.resync();
  assert.ok(Math.abs(offset.wallOffset - aligned) <= 1, `offset still ${offset.wallOffset - aligned} ms off`);
  const before = Date.now();
  const wall = clock.wallAt(clock.monotonic());
  const after = Date.now();
  assert.ok(wall >= before - 1 && wall <= after + 1, `wallAt ${wall} outside [${before - 1}, ${after + 1}]`);
  // An aligned offset is left alone.
  offset.wallOffset = aligned;
  for (let i = 0; i < 100; i++) clock.resync();
  assert.equal(offset.wallOffset, aligned);
});

test('ManualClock.wallAt maps a monotonic instant to its wall time, jumps included', () => {
  const clock = new ManualClock(1_000_000);
  const start = clock.monotonic();
  clock.advance(250);
  assert.equal(clock.wallAt(start), 1_000_000);
  assert.equal(clock.wallAt(clock.monotonic()), 1_000_250);
  clock.jumpWallClock(-100);
  assert.equal(clock.wallAt(clock.monotonic()), clock.now());
  assert.ok(performance.now() >= 0);
});

/** The generator as first written (state as uint32 numbers): the model Random must match bit for bit. */
function modelRandom(seed: number): { nextUint32(): number } {
  const next = splitmix32(seed);
  let a = next() | 1;
  let b = next();
  let c = next();
  let d = next();
  return {
    nextUint32() {
      const t = a ^ (a << 11);
      a = b;
      b = c;
      c = d;
      d = (d ^ (d >>> 19) ^ (t ^ (t >>> 8))) >>> 0;
      return d;
    },
  };
}

test('Random (int32 state) draws the same uint32 sequence as the uint32 model, and next()/below() stay in range', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 1_000_000 }), (seed, n) => {
      const r = new Random(seed);
      const m = modelRandom(seed);
      for (let i = 0; i < 300; i++) {
        const x = r.nextUint32();
        assert.equal(x, m.nextUint32());
        assert.ok(x >= 0 && x <= 0xffffffff && Number.isInteger(x));
        const f = r.next();
        const hi = m.nextUint32();
        const lo = m.nextUint32();
        assert.equal(f, (hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53);
        assert.ok(f >= 0 && f < 1);
        const k = r.below(n);
        assert.ok(Number.isInteger(k) && k >= 0 && k < n);
        m.nextUint32();
        m.nextUint32();
      }
    }),
    { numRuns: 200 },
  );
});
