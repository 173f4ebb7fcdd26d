/**
 * DEBUG DIGEST / DIGEST-VALUE: a SHA1-based signature of the dataset, computed as Redis's
 * debug.c does, so that two servers holding the same data (a master and its replica, a server
 * before and after a reload) print the same 40 hex digits whatever order the keys and set-like
 * elements were inserted in:
 *   - unordered things (keys of a db, set members, hash fields, zset members) are XORed in;
 *   - ordered things (list items, stream entries, the parts of one element) are "mixed":
 *     digest = SHA1(digest xor SHA1(bytes)).
 */
import type { Database } from './db.js';
import { sha1Into } from './sha1.js';
import { isStringValue, stringOf, type DigestSink, type RedisValue } from '../types/value.js';

type Digest = Buffer; // 20 bytes

/** Scratch for one SHA-1 result (the digest is computed synchronously, one call at a time). */
const hashed = Buffer.alloc(20);

function xorDigest(digest: Digest, data: Buffer | string): void {
  sha1Into(data, hashed);
  for (let i = 0; i < 20; i++) digest[i]! ^= hashed[i]!;
}

function mixDigest(digest: Digest, data: Buffer | string): void {
  xorDigest(digest, data);
  sha1Into(digest, digest);
}

/** Redis's object type codes (OBJ_STRING …), mixed in first so types never collide. */
const TYPE_CODES: Record<string, number> = { string: 0, list: 1, set: 2, zset: 3, hash: 4, stream: 6 };

const word = Buffer.alloc(4);

/** `n` as 4 big-endian bytes, in a scratch buffer (hashed at once, never kept). */
function uint32be(n: number): Buffer {
  word.writeUInt32BE(n >>> 0);
  return word;
}

function partBytes(p: unknown): string {
  if (typeof p === 'string') return p;
  if (Buffer.isBuffer(p)) return p.latin1Slice(0, p.length);
  return String(p);
}

/** Digest of one key's value (xorObjectDigest), XORed into `digest`. */
export function xorObjectDigest(db: Database, key: string, digest: Digest, v: RedisValue): void {
  const typeName = isStringValue(v) ? 'string' : v.type;
  mixDigest(digest, uint32be(TYPE_CODES[typeName] ?? 7));
  if (isStringValue(v)) {
    mixDigest(digest, stringOf(v));
  } else {
    const sink: DigestSink = {
      ordered: (bytes) => mixDigest(digest, bytes),
      unordered: (...parts) => {
        if (parts.length === 1) {
          xorDigest(digest, parts[0]!);
          return;
        }
        const ele = Buffer.alloc(20);
        for (const p of parts) mixDigest(ele, p);
        xorDigest(digest, ele);
      },
    };
    if (typeof v.digest === 'function') {
      v.digest(sink);
    } else {
      // Fallback: iterate. Lists and streams are ordered; the rest are XORed element by element.
      const iter = (v as unknown as { [Symbol.iterator]?: () => Iterator<unknown> })[Symbol.iterator];
      if (typeof iter === 'function') {
        const ordered = v.type === 'list' || v.type === 'stream';
        const it = iter.call(v);
        for (let r = it.next(); !r.done; r = it.next()) {
          const e = r.value;
          const parts = Array.isArray(e) ? e.map(partBytes) : [partBytes(e)];
          if (ordered) for (const p of parts) sink.ordered(p);
          else sink.unordered(...parts);
        }
      } else {
        mixDigest(digest, `${v.encoding()}:${v.size()}`);
      }
    }
  }
  if (db.getExpire(key) !== -1) xorDigest(digest, '!!expire!!');
}

/** computeDatasetDigest over every database; 40 zeros for an empty dataset. */
export function datasetDigest(dbs: readonly Database[]): string {
  const final = Buffer.alloc(20);
  for (const db of dbs) {
    if (db.dict.size === 0) continue;
    mixDigest(final, uint32be(db.id));
    for (const [key, value] of db.dict.entries()) {
      const d = Buffer.alloc(20);
      mixDigest(d, key);
      xorObjectDigest(db, key, d, value);
      xorDigest(final, d);
    }
  }
  return final.toString('hex');
}

/** DEBUG DIGEST-VALUE for one key (ignoring expiry, as Redis does); zeros when missing. */
export function valueDigest(db: Database, key: string): string {
  const d = Buffer.alloc(20);
  const v = db.dict.get(key);
  if (v !== undefined) xorObjectDigest(db, key, d, v);
  return d.toString('hex');
}
