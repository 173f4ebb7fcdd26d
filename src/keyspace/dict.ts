/**
 * A key → value dictionary without V8's per-Map ceiling.
 *
 * A single V8 `Map` holds at most 2^24 entries, and Redis users keep 100M keys. `KeyDict` keeps
 * a chain of Maps: new keys go into the last one, and a new Map is started when it reaches
 * `SEGMENT_LIMIT`. Below that size (nearly every real dataset) there is exactly one Map and
 * lookups cost one probe; beyond it a miss costs one probe per segment.
 *
 * Iteration is in insertion order, segment after segment. A live iterator survives concurrent
 * inserts and deletes (a property of JS Map iterators): every key present for the whole
 * iteration is visited exactly once. SCAN cursors and the non-blocking snapshot rely on it.
 */

/** Entries per segment: well under V8's 2^24 cap, and small enough that one Map's growth
 * (a stop-the-world rehash in V8) stays short. */
export const SEGMENT_LIMIT = 1 << 23;

export class KeyDict<V> {
  private segments: Map<string, V>[] = [new Map()];
  private total = 0;
  /**
   * Segment → the segment after it. Iterators follow these links rather than array indexes,
   * and a segment removed from the chain keeps its link, so an iterator standing in a segment
   * that was emptied and dropped still finds the rest of the chain.
   */
  private readonly nextSegment = new WeakMap<Map<string, V>, Map<string, V>>();

  constructor(private readonly segmentLimit = SEGMENT_LIMIT) {}

  get size(): number {
    return this.total;
  }

  get(key: string): V | undefined {
    const segs = this.segments;
    if (segs.length === 1) return segs[0]!.get(key);
    for (let i = segs.length - 1; i >= 0; i--) {
      const v = segs[i]!.get(key);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  has(key: string): boolean {
    const segs = this.segments;
    if (segs.length === 1) return segs[0]!.has(key);
    for (let i = segs.length - 1; i >= 0; i--) if (segs[i]!.has(key)) return true;
    return false;
  }

  /** Sets key → value; returns true if the key is new. */
  set(key: string, value: V): boolean {
    const segs = this.segments;
    if (segs.length === 1) {
      const m = segs[0]!;
      const before = m.size;
      m.set(key, value);
      if (m.size === before) return false;
      this.total++;
      if (m.size >= this.segmentLimit) this.startSegment();
      return true;
    }
    for (let i = segs.length - 1; i >= 0; i--) {
      const m = segs[i]!;
      if (m.has(key)) {
        m.set(key, value);
        return false;
      }
    }
    const last = segs[segs.length - 1]!;
    last.set(key, value);
    this.total++;
    if (last.size >= this.segmentLimit) this.startSegment();
    return true;
  }

  delete(key: string): boolean {
    const segs = this.segments;
    for (let i = segs.length - 1; i >= 0; i--) {
      if (segs[i]!.delete(key)) {
        this.total--;
        if (segs[i]!.size === 0 && segs.length > 1 && i < segs.length - 1) {
          if (i > 0) this.nextSegment.set(segs[i - 1]!, segs[i + 1]!);
          segs.splice(i, 1);
        }
        return true;
      }
    }
    return false;
  }

  private startSegment(): void {
    const fresh = new Map<string, V>();
    this.nextSegment.set(this.segments[this.segments.length - 1]!, fresh);
    this.segments.push(fresh);
  }

  /** Number of Maps in the chain (for tests and INFO-style introspection). */
  get segmentCount(): number {
    return this.segments.length;
  }

  clear(): void {
    this.segments = [new Map()];
    this.total = 0;
    this.rover = null;
    this.roverSegment = null;
  }

  /** Live iteration over all entries; see the file comment for its guarantees. */
  *entries(): IterableIterator<[string, V]> {
    // Segments are followed link by link so that one started or dropped meanwhile is handled.
    for (let m: Map<string, V> | undefined = this.segments[0]; m !== undefined; m = this.nextSegment.get(m)) {
      yield* m.entries();
    }
  }

  *keys(): IterableIterator<string> {
    for (let m: Map<string, V> | undefined = this.segments[0]; m !== undefined; m = this.nextSegment.get(m)) {
      yield* m.keys();
    }
  }

  /** The segment the rover walks, and its native key iterator (no generator per step). */
  private roverSegment: Map<string, V> | null = null;
  private rover: Iterator<string> | null = null;

  /** The rover's next key, moving on to the next segment and wrapping at the end. */
  private roverNext(): string | undefined {
    for (let wraps = 0; wraps < 2; ) {
      if (this.rover === null || this.roverSegment === null) {
        this.roverSegment = this.segments[0]!;
        this.rover = this.roverSegment.keys();
      }
      const next = this.rover.next();
      if (!next.done) return next.value;
      const following = this.nextSegment.get(this.roverSegment);
      if (following !== undefined) {
        this.roverSegment = following;
        this.rover = following.keys();
      } else {
        this.rover = null;
        wraps++;
      }
    }
    return undefined;
  }

  /**
   * A random key in O(1) amortised: a persistent "roving" iterator is advanced by a random
   * number of steps (< 64), wrapping at the end. Not perfectly uniform — neither is Redis's
   * dictGetRandomKey — but every key can come up and no call walks the whole dictionary.
   * `r` is in [0, 1).
   */
  randomKey(r: number): string | undefined {
    if (this.total === 0) return undefined;
    let steps = Math.floor(r * Math.min(this.total, 64));
    for (;;) {
      const k = this.roverNext();
      if (k === undefined || steps-- <= 0) return k;
    }
  }

  /**
   * Up to `count` random keys (dictGetSomeKeys), each an independent random jump of the rover:
   * consecutive keys would be too alike, since insertion order follows creation time (Redis's
   * consecutive buckets are in hash order). A key may repeat.
   */
  sampleKeys(r: () => number, count: number, out: string[]): void {
    out.length = 0;
    const n = Math.min(count, this.total);
    for (let i = 0; i < n; i++) {
      const k = this.randomKey(r());
      if (k === undefined) return;
      out.push(k);
    }
  }
}
