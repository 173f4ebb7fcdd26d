/**
 * Byte-level helpers for string values (`string` latin1 | `number` | `Buffer`).
 *
 * In-place edits (APPEND, SETRANGE, SETBIT, BITFIELD) work on Buffers this module allocates
 * itself, over a backing ArrayBuffer with spare capacity, the way sds strings grow: a larger
 * value is just a longer view of the same memory, so repeated appends are amortised O(change)
 * instead of copying the whole string each time. Only backing stores recorded in `owned` are
 * ever extended in place: a Buffer from elsewhere (Node's pool, an RDB file slice) may share its
 * memory with other data.
 */
import { ArenaValue, arena } from './value-arena.js';
import type { StringValue } from './value.js';

const owned = new WeakSet<ArrayBuffer>();

/** sds's growth policy: double below 1 MB, then grow by 1 MB. */
const GREEDY_LIMIT = 1024 * 1024;

/** A zero-filled Buffer of `length` bytes with room for `capacity`, safe to grow in place. */
export function allocOwned(length: number, capacity = length): Buffer {
  const store = new ArrayBuffer(Math.max(capacity, length, 1));
  owned.add(store);
  return Buffer.from(store, 0, length);
}

/** The value's bytes as a latin1 JS string. */
export function latin1Of(v: StringValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v instanceof ArenaValue) return arena.latin1(v.handle);
  return v.latin1Slice(0, v.length);
}

/** The value's bytes as a Buffer for reading (may be the stored Buffer itself: do not edit). */
export function bytesOf(v: StringValue): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArenaValue) return arena.view(v.handle);
  return Buffer.from(typeof v === 'string' ? v : String(v), 'latin1');
}

/** Byte at `i`, or 0 past the end (cheap on every representation). */
export function byteAt(v: StringValue, i: number): number {
  if (typeof v === 'string') return i < v.length ? v.charCodeAt(i) : 0;
  if (typeof v === 'number') {
    const s = String(v);
    return i < s.length ? s.charCodeAt(i) : 0;
  }
  if (v instanceof ArenaValue) return i < v.length ? arena.view(v.handle)[i]! : 0;
  return i < v.length ? v[i]! : 0;
}

/**
 * A Buffer holding `v`'s bytes that may be edited in place, at least `minLength` long (zero
 * padded). Reuses `v` itself when it is already an owned Buffer with room; otherwise copies into
 * a new owned Buffer, with greedy spare capacity when `greedy` (the value is growing).
 */
export function mutableBytes(v: StringValue, minLength: number, greedy: boolean): Buffer {
  if (Buffer.isBuffer(v) && v.byteOffset === 0 && owned.has(v.buffer as ArrayBuffer)) {
    if (minLength <= v.length) return v;
    // Grow within our own spare capacity. The spare bytes are still zero: values never shrink
    // in place, so nothing was ever written past any length this store has had.
    if ((v.buffer as ArrayBuffer).byteLength >= minLength) return Buffer.from(v.buffer as ArrayBuffer, 0, minLength);
  }
  const src = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
  const curLen = src !== null ? src.length : (v as Buffer).length;
  const length = Math.max(curLen, minLength);
  const capacity = greedy && length > curLen ? (length < GREEDY_LIMIT ? length * 2 : length + GREEDY_LIMIT) : length;
  const out = allocOwned(length, capacity);
  if (src !== null) out.latin1Write(src, 0);
  else if (v instanceof ArenaValue) arena.copyTo(v.handle, out, 0);
  else (v as Buffer).copy(out, 0);
  return out;
}

/** `v` with `tail` (latin1 bytes) appended, growing in place when possible. */
export function appendBytes(v: StringValue, tail: string): Buffer {
  const start = typeof v === 'string' ? v.length : typeof v === 'number' ? String(v).length : v.length;
  const out = mutableBytes(v, start + tail.length, true);
  out.latin1Write(tail, start);
  return out;
}
