/**
 * SCAN-family cursors (SCAN, HSCAN, SSCAN, ZSCAN).
 *
 * Redis's guarantee: a full iteration (cursor 0 … cursor 0) returns every element that was
 * present for the whole iteration at least once, however the collection changes meanwhile;
 * elements added or removed during it may or may not be returned; duplicates are possible.
 *
 * Redis gets this from reverse-binary cursors over its hash table buckets. nodis gets it from
 * JS's own iteration semantics instead: a `Map`/`Set` iterator (and `KeyDict`'s sharded one) is
 * *live* — it survives inserts, deletes and rehashes, and visits every entry present for its
 * whole lifetime exactly once. So a cursor names a server-side iterator:
 *
 *   cursor = position * 2^20 + tag      (tag in 1 .. 2^20-1, position = elements consumed)
 *
 * held in a bounded registry (LRU, `scanCursors.limit`, default 10,000 open cursors). Each
 * step takes the cursor's iterator out of the registry, advances it COUNT elements and files it
 * back under a new cursor. A cursor that the registry no longer knows — evicted, already used
 * once (a retried call), issued before a restart or by another node, or for a different
 * collection — still makes sensible progress: a fresh iterator is created and `position`
 * elements are skipped. That fallback keeps the at-least-once guarantee only if nothing before
 * the position was deleted meanwhile; it is the one place the guarantee degrades. Registered
 * iterators belong to an `owner` (the KeyDict or collection object walked); a cursor presented
 * for another owner is treated as unknown.
 *
 * This is a deliberate difference in cursor *values* (they are not bucket indexes and not
 * portable between servers), not in guarantees. COUNT is exact here: each step consumes up to
 * COUNT elements before MATCH/TYPE filtering, as Redis filters after sampling.
 *
 * Collections kept in a compact form (Redis's listpack/intset) may instead return everything in
 * one call with cursor 0, as Redis does: pass `count = Infinity`.
 */
import type { Client } from '../server/client.js';
import { parseInteger, is } from '../protocol/args.js';
import { NOT_INTEGER, SYNTAX } from '../protocol/errors.js';

export const INVALID_CURSOR = 'ERR invalid cursor';

const TAG_BITS = 20;
const TAG_SPACE = 2 ** TAG_BITS;
const UINT64_MAX = 2n ** 64n - 1n;

interface OpenCursor {
  owner: object;
  iter: Iterator<unknown>;
  /** Elements still to consume before the iteration is declared complete. */
  remaining: number;
}

/** The registry of open cursors: insertion-ordered Map used as an LRU. */
export class CursorRegistry {
  private readonly open = new Map<number, OpenCursor>();
  private nextTag = 1;

  constructor(public limit = 10_000) {}

  get size(): number {
    return this.open.size;
  }

  /** Removes and returns the cursor's state if it is open for this owner. */
  take(cursor: number, owner: object): OpenCursor | undefined {
    const entry = this.open.get(cursor);
    if (entry === undefined || entry.owner !== owner) return undefined;
    this.open.delete(cursor);
    return entry;
  }

  /** Files an iterator under a fresh cursor value for `position`, evicting the oldest if full. */
  put(position: number, owner: object, iter: Iterator<unknown>, remaining: number): number {
    const tag = this.nextTag;
    this.nextTag = tag + 1 === TAG_SPACE ? 1 : tag + 1;
    // Positions are bounded by collection sizes, far below 2^33, so the value stays exact.
    const cursor = position * TAG_SPACE + tag;
    this.open.delete(cursor);
    this.open.set(cursor, { owner, iter, remaining });
    while (this.open.size > Math.max(0, this.limit)) {
      const oldest = this.open.keys().next().value as number;
      this.open.delete(oldest);
    }
    return cursor;
  }

  clear(): void {
    this.open.clear();
  }
}

/** The process-wide registry (one server per process). */
export const scanCursors = new CursorRegistry();

/**
 * Parses a cursor as Redis's strtoul-based parseScanCursorOrReply: optional sign, decimal
 * digits, no leading space, no trailing bytes, within unsigned long ("-1" wraps, "" is 0).
 * Returns null for an invalid cursor (reply INVALID_CURSOR).
 */
export function parseCursor(arg: string): bigint | null {
  const n = arg.length;
  if (n === 0) return 0n;
  const c0 = arg.charCodeAt(0);
  if (c0 === 32 || (c0 >= 9 && c0 <= 13)) return null;
  let i = 0;
  let negative = false;
  if (c0 === 43 || c0 === 45) {
    negative = c0 === 45;
    i = 1;
  }
  if (i === n) return null; // a lone sign: strtoul parses nothing and stops at the sign
  for (let j = i; j < n; j++) {
    const c = arg.charCodeAt(j);
    if (c < 48 || c > 57) return null;
  }
  const v = BigInt(arg.slice(i));
  if (v > UINT64_MAX) return null;
  return negative ? (UINT64_MAX + 1n - v) & UINT64_MAX : v;
}

/**
 * One SCAN step over an owner's elements: resumes (or starts, for cursor 0) the iteration,
 * passes up to `count` elements to `emit`, and returns the next cursor ("0" when done).
 * `cursor` must come from parseCursor.
 *
 * `size` is how many elements `makeIter()` would yield right now (the collection's size).
 * It makes a scan terminate even while new elements keep arriving faster than it consumes
 * them: a live iterator yields the surviving original elements first (insertion order; an
 * element updated in place keeps its place), then the newcomers, so once `size`-at-start
 * elements were consumed every element present throughout has been returned. Without it
 * (Infinity) the iteration runs until the iterator itself ends.
 */
export function scanStep<T>(
  owner: object,
  cursor: bigint,
  makeIter: () => Iterator<T>,
  count: number,
  emit: (item: T) => void,
  size = Infinity,
  registry: CursorRegistry = scanCursors,
): string {
  let iter: Iterator<T>;
  let position = 0;
  let remaining: number;
  const open = cursor === 0n ? undefined : registry.take(Number(cursor), owner);
  if (open !== undefined) {
    iter = open.iter as Iterator<T>;
    position = Math.floor(Number(cursor) / TAG_SPACE);
    remaining = open.remaining;
  } else {
    iter = makeIter();
    remaining = size;
    if (cursor !== 0n) {
      // Unknown cursor: restart and skip what the cursor says was already consumed.
      position = Math.floor(Number(cursor) / TAG_SPACE);
      for (let skipped = 0; skipped < position; skipped++) {
        if (iter.next().done === true) return '0';
      }
      remaining -= position;
    }
  }
  for (let taken = 0; taken < count; taken++) {
    if (remaining <= 0) return '0';
    const r = iter.next();
    if (r.done === true) return '0';
    position++;
    remaining--;
    emit(r.value);
  }
  if (remaining <= 0) return '0';
  return String(registry.put(position, owner, iter, remaining));
}

/** Options of SCAN/HSCAN/SSCAN/ZSCAN after the cursor. */
export interface ScanOptions {
  count: number;
  /** MATCH pattern, or null when absent or "*" (which matches everything). */
  pattern: string | null;
  /** TYPE filter (SCAN only), or null. */
  type: string | null;
}

/**
 * Parses `[MATCH pattern] [COUNT count] [TYPE type]` from argv[start…] as scanGenericCommand;
 * on error replies and returns null. TYPE is accepted only when `allowType` (plain SCAN).
 */
export function parseScanOptions(c: Client, start: number, allowType: boolean): ScanOptions | null {
  const argv = c.argv;
  const opts: ScanOptions = { count: 10, pattern: null, type: null };
  for (let i = start; i < argv.length; i += 2) {
    const arg = argv[i]!;
    const hasValue = i + 1 < argv.length;
    if (hasValue && is(arg, 'count')) {
      const n = parseInteger(argv[i + 1]!);
      if (n === null) {
        c.reply.error(NOT_INTEGER);
        return null;
      }
      if (n < 1) {
        c.reply.error(SYNTAX);
        return null;
      }
      opts.count = n;
    } else if (hasValue && is(arg, 'match')) {
      const p = argv[i + 1]!;
      opts.pattern = p === '*' ? null : p;
    } else if (hasValue && allowType && is(arg, 'type')) {
      opts.type = argv[i + 1]!;
    } else {
      c.reply.error(SYNTAX);
      return null;
    }
  }
  return opts;
}
