/**
 * The set type: binary-safe latin1 members in a JS Set.
 *
 * Redis 7.0 has two set encodings: an intset (a sorted array of int64s) while every member is
 * an integer in canonical form and there are at most set-max-intset-entries of them, and a dict
 * otherwise; the conversion is one-way. nodis always stores a Set and tracks the encoding Redis
 * would have. Intset-encoded sets iterate in ascending numeric order, as Redis replies for them
 * (SMEMBERS of a small integer set is sorted); the sorted order is cached until the next change.
 * Hashtable-encoded sets iterate in insertion order (Redis's dict order is arbitrary).
 *
 * Random members (SPOP, SRANDMEMBER) come from a SampleIndex built on first use.
 */
import type { DigestSink, TypedValue } from './value.js';
import type { Random } from '../core/clock.js';
import { isCanonicalSafeInteger } from './value.js';
import { parseInt64 } from '../protocol/args.js';
import { SampleIndex } from './sampling.js';
import { HEAD_ENTRIES } from './field-table.js';

/** set-max-intset-entries, read live so CONFIG SET applies. */
export interface SetLimits {
  maxIntsetEntries: number;
}

/** Redis's default (each server keeps its own copy bound to its config: server/encoding-limits.ts). */
export const DEFAULT_SET_LIMITS: Readonly<SetLimits> = Object.freeze({ maxIntsetEntries: 512 });

/** Redis caps intsets at 2^30 entries whatever the configuration says. */
const INTSET_HARD_LIMIT = 1 << 30;

/** True when Redis would store `s` in an intset (string2ll accepts it: canonical int64). */
export function isIntsetMember(s: string): boolean {
  if (isCanonicalSafeInteger(s)) return true;
  return s.length >= 16 && s.length <= 20 && parseInt64(s) !== null;
}

/** Numeric order of two canonical integer strings (no bigint needed). */
export function compareIntStrings(a: string, b: string): number {
  const negA = a.charCodeAt(0) === 45;
  const negB = b.charCodeAt(0) === 45;
  if (negA !== negB) return negA ? -1 : 1;
  let r: number;
  if (a.length !== b.length) r = a.length < b.length ? -1 : 1;
  else if (a === b) return 0;
  else r = a < b ? -1 : 1;
  return negA ? -r : r;
}

export class SetValue implements TypedValue {
  readonly type = 'set';
  private readonly members: Set<string>;
  /** True once converted to 'hashtable' (never goes back, as in Redis). */
  private hashtable: boolean;
  private sorted: string[] | null = null;
  private sampler: SampleIndex | null = null;
  /**
   * Moves whenever the first HEAD_ENTRIES members in storage order (liveValues) might have
   * changed: any delete, an add while fewer were there, a change of encoding. Adds behind them
   * leave it, so a sample of those members (the memory model's estimate of every write) can be
   * kept until it moves (field-table.ts has the same for hashes).
   */
  headEpoch = 0;

  constructor(
    private readonly limits: SetLimits = DEFAULT_SET_LIMITS,
    members?: Set<string>,
    hashtable = false,
  ) {
    this.members = members ?? new Set();
    this.hashtable = hashtable;
  }

  /**
   * An empty set whose encoding is chosen by its first member, as setTypeCreate does (SADD on
   * a new key, SMOVE to a new destination).
   */
  static forFirstMember(first: string, limits: SetLimits = DEFAULT_SET_LIMITS): SetValue {
    return new SetValue(limits, undefined, !isIntsetMember(first));
  }

  /** A set built from loaded members (RDB, RESTORE), encoded as Redis would create it. */
  static fromMembers(members: Iterable<string>, limits: SetLimits = DEFAULT_SET_LIMITS): SetValue {
    const s = new SetValue(limits);
    for (const m of members) s.add(m);
    return s;
  }

  encoding(): string {
    return this.hashtable ? 'hashtable' : 'intset';
  }

  size(): number {
    return this.members.size;
  }

  clone(): SetValue {
    return new SetValue(this.limits, new Set(this.members), this.hashtable);
  }

  has(member: string): boolean {
    return this.members.has(member);
  }

  /** Adds a member; returns true if it is new. Converts the encoding as Redis does. */
  add(member: string): boolean {
    const members = this.members;
    const before = members.size;
    members.add(member);
    if (members.size === before) return false;
    if (before < HEAD_ENTRIES) this.headEpoch++;
    if (!this.hashtable) {
      this.headEpoch++;
      if (!isIntsetMember(member)) this.hashtable = true;
      else if (members.size > Math.min(this.limits.maxIntsetEntries, INTSET_HARD_LIMIT)) this.hashtable = true;
      this.sorted = null;
    }
    if (this.sampler !== null) this.sampler.added(member);
    return true;
  }

  /** Removes a member; returns true if it was there. */
  delete(member: string): boolean {
    if (!this.members.delete(member)) return false;
    this.headEpoch++;
    this.sorted = null;
    if (this.sampler !== null) this.sampler.invalidate();
    return true;
  }

  /** Members in the order Redis would reply them for this encoding. */
  values(): Iterable<string> {
    if (this.hashtable) return this.members;
    return (this.sorted ??= Array.from(this.members).sort(compareIntStrings));
  }

  /**
   * Members in storage order, for iterations that must survive concurrent changes (SSCAN over
   * a hashtable-encoded set keeps one of these alive across calls).
   */
  liveValues(): IterableIterator<string> {
    return this.members.values();
  }

  /** DEBUG DIGEST: members are unordered elements (xorObjectDigest). */
  digest(sink: DigestSink): void {
    for (const m of this.members) sink.unordered(m);
  }

  /** A uniformly random member (the set must not be empty). */
  randomMember(rng: Random): string {
    const sampler = (this.sampler ??= new SampleIndex());
    return sampler.keyAt(sampler.pickSlot(rng, this.members.size, () => this.members));
  }

  /** Removes and returns a uniformly random member (the set must not be empty). */
  popRandom(rng: Random): string {
    const sampler = (this.sampler ??= new SampleIndex());
    const slot = sampler.pickSlot(rng, this.members.size, () => this.members);
    const member = sampler.keyAt(slot);
    this.members.delete(member);
    this.headEpoch++;
    sampler.removeSlot(slot);
    this.sorted = null;
    return member;
  }
}
