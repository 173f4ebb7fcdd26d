/**
 * The hash type: field → value, both binary-safe latin1 strings.
 *
 * Redis keeps small hashes in a listpack (insertion-ordered, compact) and converts them to a
 * dict once they hold more than hash-max-listpack-entries fields or any field/value longer than
 * hash-max-listpack-value bytes; the conversion is one-way. nodis follows the same split: a
 * listpack-encoded hash is a JS Map (insertion-ordered too, so small hashes reply in the same
 * order as Redis; OBJECT ENCODING and the encoding-sensitive behaviours, such as HSCAN of a
 * small hash answering in one call, follow the encoding tracked here), and the conversion
 * moves the fields, in order, to a FieldTable (field-table.ts): one string per field holding
 * field and value, ~25 bytes less per field than a Map's two strings and entry. No HSCAN
 * iterator is open across the conversion, since a listpack-encoded hash scans in one call.
 *
 * Random fields (HRANDFIELD) of a small hash come from a SampleIndex built on first use; a
 * FieldTable picks them by position.
 */
import type { DigestSink, TypedValue } from './value.js';
import type { Random } from '../core/clock.js';
import { SampleIndex } from './sampling.js';
import { FieldTable } from './field-table.js';

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
  /** The fields while listpack-encoded, else null. */
  private map: Map<string, string> | null;
  /** The fields once converted to 'hashtable' (never goes back, as in Redis), else null. */
  private table: FieldTable | null = null;
  private sampler: SampleIndex | null = null;

  constructor(
    private readonly limits: HashLimits = DEFAULT_HASH_LIMITS,
    map?: Map<string, string>,
    hashtable = false,
  ) {
    this.map = map ?? new Map();
    if (hashtable) this.convert();
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

  /** Moves the fields, in order, from the Map to a FieldTable ('hashtable' from now on). */
  private convert(): void {
    const map = this.map!;
    const table = new FieldTable(map.size);
    for (const [f, v] of map) table.set(f, v);
    this.table = table;
    this.map = null;
    this.sampler = null;
  }

  encoding(): string {
    return this.table !== null ? 'hashtable' : 'listpack';
  }

  size(): number {
    return this.table !== null ? this.table.size : this.map!.size;
  }

  clone(): HashValue {
    const copy = new HashValue(this.limits, this.map === null ? undefined : new Map(this.map));
    if (this.table !== null) {
      copy.table = this.table.clone();
      copy.map = null;
    }
    return copy;
  }

  get(field: string): string | undefined {
    return this.table !== null ? this.table.get(field) : this.map!.get(field);
  }

  /** The length of `field`'s value, 0 when absent (HSTRLEN). */
  valueLength(field: string): number {
    return this.table !== null ? this.table.valueLength(field) : (this.map!.get(field)?.length ?? 0);
  }

  has(field: string): boolean {
    return this.table !== null ? this.table.has(field) : this.map!.has(field);
  }

  /** Sets a field; returns true when the field is new. Converts the encoding as Redis does. */
  set(field: string, value: string): boolean {
    const table = this.table;
    if (table !== null) return table.set(field, value);
    const map = this.map!;
    const limits = this.limits;
    if (field.length > limits.maxListpackValue || value.length > limits.maxListpackValue) {
      this.convert();
      return this.table!.set(field, value);
    }
    // A short value equal to the last one set (in any hash) is stored as that same string:
    // strings are immutable, and the argument, a fresh string from the parser, then dies young
    // instead of being promoted by the collector (see ListValue.pushHead).
    if (value === lastValue) value = lastValue;
    else if (value.length <= SHARED_VALUE_MAX) lastValue = value;
    const before = map.size;
    map.set(field, value);
    if (map.size === before) return false;
    if (map.size > limits.maxListpackEntries) this.convert();
    else if (this.sampler !== null) this.sampler.added(field);
    return true;
  }

  /**
   * A number that moves whenever the field and value lengths of the first HEAD_ENTRIES fields
   * (field-table.ts) might have changed, while 'hashtable'-encoded; -1 while 'listpack' (no
   * such promise: its estimate reads the values themselves).
   */
  get headEpoch(): number {
    return this.table !== null ? this.table.headEpoch : -1;
  }

  /** Removes a field; returns true if it existed. */
  delete(field: string): boolean {
    if (this.table !== null) return this.table.delete(field);
    if (!this.map!.delete(field)) return false;
    if (this.sampler !== null) this.sampler.invalidate();
    return true;
  }

  /** Fields and values in the order Redis's listpack would list them (insertion order). */
  entries(): IterableIterator<[string, string]> {
    return this.table !== null ? this.table.entries() : this.map!.entries();
  }

  keys(): IterableIterator<string> {
    return this.table !== null ? this.table.keys() : this.map!.keys();
  }

  values(): IterableIterator<string> {
    return this.table !== null ? this.table.values() : this.map!.values();
  }

  /**
   * Calls `visit` with the field's and value's lengths of the first `count` fields of a
   * hashtable-encoded hash (the memory model's sample; no substrings made); returns how many.
   */
  sampleLengths(count: number, visit: (fieldLength: number, valueLength: number) => void): number {
    if (this.table !== null) return this.table.sampleLengths(count, visit);
    let seen = 0;
    for (const [f, v] of this.map!) {
      if (seen >= count) break;
      visit(f.length, v.length);
      seen++;
    }
    return seen;
  }

  /** DEBUG DIGEST: each field/value pair is one unordered element (xorObjectDigest). */
  digest(sink: DigestSink): void {
    for (const [f, v] of this.entries()) sink.unordered(f, v);
  }

  /** A uniformly random field (the hash must not be empty). */
  randomField(rng: Random): string {
    if (this.table !== null) return this.table.randomField(rng);
    const map = this.map!;
    const sampler = (this.sampler ??= new SampleIndex());
    return sampler.keyAt(sampler.pickSlot(rng, map.size, () => map.keys()));
  }
}
