/**
 * Time and chance come from one place. Core logic (expiry, timeouts, replication and Sentinel
 * state machines) reads the time and schedules work through a `Clock`, and draws randomness
 * from a `Random`, both handed in, so that tests can run it under a simulated clock.
 */

// Imported rather than read from globalThis: the global `performance` is a lazy getter that
// costs a call on every access, and monotonic() runs several times per command.
import { performance } from 'node:perf_hooks';

/** Handle returned by `Clock.setTimer`, passed back to `Clock.clearTimer`. */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch (what Redis calls mstime()). */
  now(): number;
  /** Monotonic milliseconds, for measuring durations; never jumps backwards. */
  monotonic(): number;
  /**
   * The wall-clock time (as now() reads it, whole milliseconds) at the monotonic instant `mono`,
   * a value monotonic() returned: a command's start, read once for its duration, gives its
   * frozen wall time too without a second clock read (Redis's call() takes server.mstime from
   * the same ustime() it times the command with).
   */
  wallAt(mono: number): number;
  /** Re-aligns wallAt with now() after the wall clock was stepped (cron calls it every tick). */
  resync(): void;
  /** Runs `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The real clock: Date.now(), performance.now() and Node's timers. */
export class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  /**
   * Wall-clock ms at monotonic() = 0: performance.timeOrigin (microsecond precision, taken with
   * the monotonic clock's origin), moved by resync() only if the wall clock is stepped. NTP's
   * slewing adjusts CLOCK_MONOTONIC and CLOCK_REALTIME alike, so the two do not drift apart.
   */
  private wallOffset = performance.timeOrigin;

  now(): number {
    return Date.now();
  }

  monotonic(): number {
    return performance.now();
  }

  wallAt(mono: number): number {
    return Math.floor(this.wallOffset + mono);
  }

  resync(): void {
    const before = performance.now();
    const wall = Date.now();
    const after = performance.now();
    // Descheduled between the reads: nothing can be told from them this time.
    if (after - before > 0.1) return;
    // The true wall time at `wall`'s read is in [wall, wall + 1) and that read happened between
    // `before` and `after`. Within half a millisecond of that nothing is moved (a re-based offset
    // is itself only known to ±0.5 ms, and moving it back and forth would make time jitter).
    if (this.wallOffset + after < wall - 0.5 || this.wallOffset + before >= wall + 1.5) {
      this.wallOffset = wall + 0.5 - (before + after) / 2;
    }
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const t = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    t.unref?.();
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t !== undefined) {
      clearTimeout(t);
      this.timers.delete(handle.id);
    }
  }
}

/**
 * A clock that only moves when told to. Timers fire in deadline order as `advance()` passes
 * them, so state machines can be driven deterministically in tests.
 */
export class ManualClock implements Clock {
  private current: number;
  private mono = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  constructor(startMs = 1_700_000_000_000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.mono;
  }

  wallAt(mono: number): number {
    return this.current - (this.mono - mono);
  }

  resync(): void {}

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.pending.set(id, { at: this.mono + Math.max(0, ms), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.pending.delete(handle.id);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.mono + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.pending) {
        if (t.at <= target && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const timer = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.current += nextAt - this.mono;
      this.mono = nextAt;
      timer.fn();
    }
    this.current += target - this.mono;
    this.mono = target;
  }

  /** Makes the wall clock jump (as NTP or an operator might) without moving monotonic time. */
  jumpWallClock(ms: number): void {
    this.current += ms;
  }
}

/** splitmix32 from `seed`: the stream Random's xorshift128 state is seeded from. */
export function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seedable pseudo-random source (splitmix32 → xorshift128). */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number = (Date.now() ^ (process.pid << 16)) >>> 0) {
    const next = splitmix32(seed);
    // The state is kept as int32 (the same bits as uint32): V8 holds an int32 field as a small
    // integer, while a uint32 at or above 2^31 is a heap number — one allocated per step and
    // stored into this (old) object through the write barrier's slow path (evict8: ~60 ns a
    // call, five calls per eviction).
    this.a = next() | 1;
    this.b = next() | 0;
    this.c = next() | 0;
    this.d = next() | 0;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const a = this.a;
    const d = this.d;
    const t = a ^ (a << 11);
    this.a = this.b;
    this.b = this.c;
    this.c = d;
    const next = d ^ (d >>> 19) ^ (t ^ (t >>> 8));
    this.d = next;
    return next >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return (this.nextUint32() * 2 ** 21 + (this.nextUint32() >>> 11)) / 2 ** 53;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** `len` lowercase hex characters (run ids, replication ids). */
  hex(len: number): string {
    let out = '';
    while (out.length < len) out += this.nextUint32().toString(16).padStart(8, '0');
    return out.slice(0, len);
  }
}
