/**
 * Sizes of listpack entries (listpack.c's lpEncodeBacklen / lpEncodeGetType arithmetic), for
 * the data types' memory estimates and the encoding limits (stream node sizes, hash/zset
 * conversion), and the integer test lpAppend applies before storing a string as a number
 * (string2ll: canonical decimal int64). The codec that writes and reads listpacks is
 * src/persistence/listpack.ts; the sizes live here so that types/ need not import persistence/.
 */
import { isCanonicalSafeInteger } from './value.js';
import { parseInt64 } from '../protocol/args.js';

/** An element as it comes out of a listpack: bytes, or an integer. */
export type PackedElement = string | number | bigint;

/** Size of the backlen field for an entry whose encoding+data is `l` bytes. */
export function backlenSize(l: number): number {
  if (l <= 127) return 1;
  if (l < 16383) return 2;
  if (l < 2097151) return 3;
  if (l < 268435455) return 4;
  return 5;
}

/**
 * string2ll: the integer a string stands for when Redis would store it as one (canonical
 * decimal within int64), as a number when exact, a bigint beyond 2^53, else null.
 */
export function stringToInt(s: string): number | bigint | null {
  if (s.length === 0 || s.length > 20) return null;
  if (isCanonicalSafeInteger(s)) return Number(s);
  if (s.length < 16) return null;
  const v = parseInt64(s);
  if (v === null) return null;
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/** Bytes the encoding+data part of an integer entry takes. */
export function intEntrySize(v: number | bigint): number {
  if (typeof v === 'number') {
    if (v >= 0 && v <= 127) return 1;
    if (v >= -4096 && v <= 4095) return 2;
    if (v >= -32768 && v <= 32767) return 3;
    if (v >= -8388608 && v <= 8388607) return 4;
    if (v >= -2147483648 && v <= 2147483647) return 5;
  }
  return 9;
}

export function strEntrySize(len: number): number {
  if (len < 64) return 1 + len;
  if (len < 4096) return 2 + len;
  return 5 + len;
}

/** The integer form of an element if it is stored as one, else null. */
export function asInt(e: PackedElement): number | bigint | null {
  if (typeof e === 'string') return stringToInt(e);
  return e;
}

/** Total bytes one element adds to a listpack (entry + backlen). */
export function listpackEntryBytes(e: PackedElement): number {
  const iv = asInt(e);
  const l = iv !== null ? intEntrySize(iv) : strEntrySize((e as string).length);
  return l + backlenSize(l);
}
