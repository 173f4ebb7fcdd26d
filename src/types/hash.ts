/**
 * The hash type: field → value, both binary-safe latin1 strings, in a JS Map.
 *
 * Redis keeps small hashes in a listpack (insertion-ordered, compact) and converts them to a
 * dict once they hold more than hash-max-listpack-entries fields or any field/value longer than
 * hash-max-listpack-value bytes; the conversion is one-way. nodis always stores a Map (which is
 * insertion-ordered too, so small hashes reply in the same order as Redis) and tracks the
 * encoding Redis would have, so OBJECT ENCODING and the encoding-sensitive behaviours (HSCAN of
 * a small hash answering in one call) match.
 *
 * Random fields (HRANDFIELD) come from a SampleIndex built on first use.
 */
import type { DigestSink, TypedValue } from './value.js';
import type { Random } from '../core/clock.js';
import { SampleIndex } from './sampling.js';

/** The two directives that decide a hash's encoding (read live, so CONFIG SET applies). */
export interface HashLimits {
  maxListpackEntries: number;
  maxListpackValue: number;
}

/** Redis's defaults (each server keeps its own copy bound to its config: server/encoding-limits.ts). */
export const DEFAULT_HASH_LIMITS: Readonly<HashLimits> = Object.freeze({ maxListpackEntries: 128, maxListpackValue: 64 });

/** The last short value set, and the longest value kept there (HashValue.set). */
let lastValue = '';
const SHARED_VALUE_MAX = 64;

export class HashValue implements TypedValue {
  readonly type = 'hash';
  private readonly map: Map<string, string>;
  /** True once converted to 'hashtable' (never goes back, as in Redis). */
  private hashtable: boolean;
  private sampler: SampleIndex | null = null;

  constructor(
    private readonly limits: HashLimits = DEFAULT_HASH_LIMITS,
    map?: Map<string, string>,
    hashtable = false,
  ) {
    this.map = map ?? new Map();
    this.hashtable = hashtable;
  }

  /**
   * A hash built from loaded pairs (RDB, RESTORE), with the encoding Redis would choose when
   * creating it fresh.
   */
  static fromPairs(pairs: Iterable<readonly [string, string]>, limits: HashLimits = DEFAULT_HASH_LIMITS): HashValue {
    const h = new HashValue(limits);
    for (const [f, v] of pairs) h.set(f, v);
    return h;
  }

  encoding(): string {
    return this.hashtable ? 'hashtable' : 'listpack';
  }

  size(): number {
    return this.map.size;
  }

  clone(): HashValue {
    return new HashValue(this.limits, new Map(this.map), this.hashtable);
  }

  get(field: string): string | undefined {
    return this.map.get(field);
  }

  has(field: string): boolean {
    return this.map.has(field);
  }

  /** Sets a field; returns true when the field is new. Converts the encoding as Redis does. */
  set(field: string, value: string): boolean {
    const map = this.map;
    // A short value equal to the last one set (in any hash) is stored as that same string:
    // strings are immutable, and the argument, a fresh string from the parser, then dies young
    // instead of being promoted by the collector (see ListValue.pushHead).
    if (value === lastValue) value = lastValue;
    else if (value.length <= SHARED_VALUE_MAX) lastValue = value;
    if (!this.hashtable) {
      const maxValue = this.limits.maxListpackValue;
      if (field.length > maxValue || value.length > maxValue) this.hashtable = true;
    }
    const before = map.size;
    map.set(field, value);
    if (map.size === before) return false;
    if (!this.hashtable && map.size > this.limits.maxListpackEntries) this.hashtable = true;
    if (this.sampler !== null) this.sampler.added(field);
    return true;
  }

  /** Removes a field; returns true if it existed. */
  delete(field: string): boolean {
    if (!this.map.delete(field)) return false;
    if (this.sampler !== null) this.sampler.invalidate();
    return true;
  }

  /** Fields and values in the order Redis's listpack would list them (insertion order). */
  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  values(): IterableIterator<string> {
    return this.map.values();
  }

  /** DEBUG DIGEST: each field/value pair is one unordered element (xorObjectDigest). */
  digest(sink: DigestSink): void {
    for (const [f, v] of this.map) sink.unordered(f, v);
  }

  /** A uniformly random field (the hash must not be empty). */
  randomField(rng: Random): string {
    const sampler = (this.sampler ??= new SampleIndex());
    return sampler.keyAt(sampler.pickSlot(rng, this.map.size, () => this.map.keys()));
  }
}
