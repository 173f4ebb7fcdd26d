/**
 * What a key can hold. Strings are stored as the cheapest faithful form: a latin1 JS string
 * (one char per byte), a number when the bytes are a canonical integer that fits a double
 * exactly (INCR's fast path, and less memory), or a Buffer once a string is edited in place
 * (SETRANGE, SETBIT, APPEND on large values) so those stay O(change) rather than O(length).
 * Every other type is an object with a `type` tag; their structures live in src/types/.
 */
// Imported, not the global: in an ES module every read of the global `Buffer` goes through
// Node's getter on globalThis (~15 ns), and isStringValue runs on every lookup of a value.
import { Buffer } from 'node:buffer';
import { ArenaValue, arena } from '../types/value-arena.js';

export type StringValue = string | number | Buffer | ArenaValue;

/** The data types Redis has, by the name TYPE prints. */
export type TypeName = 'string' | 'list' | 'set' | 'zset' | 'hash' | 'stream';

/** Base for every non-string value. `type` is what TYPE replies. */
export interface TypedValue {
  readonly type: Exclude<TypeName, 'string'>;
  /** OBJECT ENCODING's answer for this value, as Redis would encode it. */
  encoding(): string;
  /** A deep copy (COPY, and the copy-on-write snapshot). */
  clone(): TypedValue;
  /** Number of elements (for INFO keyspace sizes, lazyfree decisions, MEMORY USAGE estimates). */
  size(): number;
  /**
   * Optional: feeds the contents to DEBUG DIGEST / DIGEST-VALUE (keyspace/digest.ts), the way
   * Redis's xorObjectDigest does for the type: ordered elements (list items, stream ids and
   * fields) through `sink.ordered`, unordered ones (set members; hash field+value; zset
   * member+score as %.17g) through `sink.unordered`. Without it the digest falls back on
   * iterating the value, which is only order-independent for ordered types.
   */
  digest?(sink: DigestSink): void;
  /** Optional: extra text DEBUG OBJECT appends (e.g. " ql_nodes:1 ql_avg_node:3.00 …"). */
  debugObjectExtra?(): string;
}

/** Where a value's contents go to be digested (see TypedValue.digest). */
export interface DigestSink {
  /** An element whose position matters: digest = SHA1(digest xor SHA1(bytes)). */
  ordered(bytes: string): void;
  /** An unordered element made of one part (set member) or several (hash field and value). */
  unordered(...parts: string[]): void;
}

export type RedisValue = StringValue | TypedValue;

export function isStringValue(v: RedisValue): v is StringValue {
  return typeof v === 'string' || typeof v === 'number' || v instanceof ArenaValue || Buffer.isBuffer(v);
}

export function typeOf(v: RedisValue): TypeName {
  return isStringValue(v) ? 'string' : v.type;
}

/** The bytes of a string value as a latin1 string. */
export function stringOf(v: StringValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v instanceof ArenaValue) return arena.latin1(v.handle);
  return v.latin1Slice(0, v.length);
}

/** Length in bytes of a string value. */
export function stringLength(v: StringValue): number {
  if (typeof v === 'string') return v.length;
  if (typeof v === 'number') return String(v).length;
  return v.length;
}

/**
 * True when `s` is an integer exactly as Redis would print it (no '+', no leading zeros…) and a
 * double holds it exactly (|v| ≤ 2^53 − 1).
 */
export function isCanonicalSafeInteger(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 16) return false;
  let i = 0;
  if (s.charCodeAt(0) === 45 /* - */) {
    if (n === 1) return false;
    i = 1;
  }
  const first = s.charCodeAt(i);
  if (first === 48 /* 0 */) return n === 1; // "0" only; "-0" and "01" are not canonical
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  // Sixteen digits may pass 2^53 - 1; fifteen never do.
  return n - (s.charCodeAt(0) === 45 ? 1 : 0) < 16 || Number.isSafeInteger(Number(s));
}

/** The stored form of a string argument: a number if it is a canonical safe integer. */
export function encodeString(s: string): StringValue {
  if (s.length <= 16 && isCanonicalSafeInteger(s)) {
    const n = Number(s);
    if (Number.isSafeInteger(n)) return n;
  }
  return s;
}

/** OBJECT ENCODING for a string value, matching Redis (int / embstr up to 44 bytes / raw). */
export function stringEncoding(v: StringValue): string {
  if (typeof v === 'number') return 'int';
  if (typeof v === 'string') return v.length <= 44 ? 'embstr' : 'raw';
  return 'raw';
}
