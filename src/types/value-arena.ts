/**
 * Long string values as bytes in slabs the keyspace owns (issue #15, evict6).
 *
 * Why. A SET of a 1 KB value used to make a 1 KB latin1 JS string out of the read buffer. Every
 * such value outlives its first scavenge, so V8 copied it twice (to-space, then old space) and
 * later marked and swept it: most of what a 1 KB SET cost beyond a 3-byte one
 * (docs/PERFORMANCE.md, eviction). Here the parser leaves a plain SET's long value in the read
 * buffer (protocol/parser.ts LONG_ARG), SET copies it once into a chunk of a slab, and the key
 * holds an `ArenaValue`: a handle, a length and where the chunk is, 56 bytes for the scavenger
 * to move instead of ~1 KB — and under eviction none, as a dropped value's object is reused. GET copies the chunk into the reply buffer; every other reader materializes the
 * string through `arena.latin1()` (types/value.ts stringOf, types/string-ops.ts latin1Of,
 * bytesOf), so commands see a string value as before.
 *
 * Ownership. The keyspace frees a chunk when it drops the value: overwrite (Database.set,
 * replace, load), deletion (Database.delete; RENAME and MOVE move the value with take()),
 * eviction, and FLUSHDB/FLUSHALL (unless a snapshot still walks the old tables: those chunks
 * are then left unreclaimed rather than reused under a reader). A value dropped any other way
 * is a leak of its chunk, never a use after free. Snapshots serialise a value before the
 * write that drops it (copy-on-write), and COPY makes a string.
 *
 * Layout. Size classes of four per doubling from 512 bytes to 64 KB (jemalloc's spacing: at
 * most 25% of a chunk unused), each class carving 1 MB slabs (`Buffer.allocUnsafeSlow`, outside
 * V8's heap) into chunks, with a free list per class. A handle is an index into a typed array
 * of (slab, offset, length), so a chunk can move without the keyspace knowing: when more than
 * half of a class's chunks are free (and at least two slabs' worth), `compact` moves the live
 * chunks of its emptiest slab into free chunks of the others and lets the slab go — the
 * keyspace, not the GC, compacts (a slab referenced by values could otherwise never be freed).
 *
 * `NODIS_VALUE_ARENA=0` turns it off (the parser then makes strings as before).
 */
import { Buffer } from 'node:buffer';

/** Values of at least this many bytes go to the arena (parser.ts LONG_ARG_MIN). */
export const ARENA_MIN = 512;
/** And at most this many (larger ones stay strings: a chunk never spans slabs). */
export const ARENA_MAX = 64 * 1024;
/** Slab size. */
export const SLAB = 1 << 20;

/**
 * A string value whose bytes are in the arena. Its fields change only when a freed value is
 * handed out again (`arenaValue`): nothing may read a value after the keyspace dropped it.
 */
export class ArenaValue {
  constructor(
    public handle: number,
    public length: number,
    /**
     * Where the chunk was when the value was made (slab * SLAB + offset), valid while `epoch` is
     * the arena's (a compaction bumps it): freeing the value then needs not read the handle's
     * table entry, a cache miss per evicted key (evict9). The handle stays the truth.
     */
    public at: number,
    public epoch: number,
  ) {}
}

/** Chunk sizes: 512, 640, 768, 896, 1024, 1280, … up to ARENA_MAX. */
const CLASS_SIZES: number[] = [];
for (let base = ARENA_MIN; base < ARENA_MAX; base *= 2) for (let q = 0; q < 4; q++) CLASS_SIZES.push(base + (q * base) / 4);
CLASS_SIZES.push(ARENA_MAX);
/** By (len − 1) >> 7: the class of a length. */
const CLASS_OF = new Uint8Array(ARENA_MAX >> 7);
for (let i = 0, c = 0; i < CLASS_OF.length; i++) {
  const len = (i + 1) << 7;
  while (CLASS_SIZES[c]! < len) c++;
  CLASS_OF[i] = c;
}

function classOf(len: number): number {
  return CLASS_OF[(len - 1) >> 7]!;
}

function grown(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

export class ValueArena {
  /** By slab id; null once released (its id is reused). */
  private slabs: (Buffer | null)[] = [];
  /** By slab id: its class, its live chunks, and by chunk the handle in it (−1: free). */
  private slabClass: number[] = [];
  private slabLive: number[] = [];
  private slabOwner: (Int32Array | null)[] = [];
  private freeSlabIds: number[] = [];
  /** By class: its slabs. */
  private classSlabs: number[][] = CLASS_SIZES.map(() => []);
  /** By handle h: slab id, offset and length at 4h, 4h + 1, 4h + 2 (one cache line's part). */
  private meta = new Int32Array(4 * 1024);
  private handles = 0;
  private freeHandles: number[] = [];
  /** By class: free chunks as slab * SLAB + offset. */
  private freeChunks: number[][] = CLASS_SIZES.map(() => []);
  /** By class: the slab being carved (−1: none) and its next offset. */
  private carving = new Int32Array(CLASS_SIZES.length).fill(-1);
  private carvedTo = new Int32Array(CLASS_SIZES.length);
  /** Bytes of slabs held. */
  slabBytes = 0;
  /** Values held. */
  live = 0;
  /** Bytes of values held. */
  liveBytes = 0;
  /** Slabs released by compaction, and chunks moved (tests, INFO). */
  slabsReleased = 0;
  chunksMoved = 0;

  /**
   * Bumped by every compaction: a location remembered before (ArenaValue.at) may be stale.
   */
  epoch = 0;
  /** Where alloc() put the last value (slab * SLAB + offset). */
  lastAt = 0;

  /** Copies src[start, start + len) (ARENA_MIN ≤ len ≤ ARENA_MAX) into a chunk; its handle. */
  alloc(src: Buffer, start: number, len: number): number {
    const cls = classOf(len);
    const at = this.chunk(cls);
    this.lastAt = at;
    const slab = Math.floor(at / SLAB);
    const off = at - slab * SLAB;
    // What Buffer.copy() does after its argument checks (evict9: those were ~1% of an evicting
    // SET); one view of the source range, as copy() makes too.
    this.slabs[slab]!.set(new Uint8Array(src.buffer, src.byteOffset + start, len), off);
    let h: number;
    if (this.freeHandles.length > 0) h = this.freeHandles.pop()!;
    else {
      h = this.handles++;
      if (4 * h >= this.meta.length) this.meta = grown(this.meta, 2 * this.meta.length);
    }
    const meta = this.meta;
    meta[4 * h] = slab;
    meta[4 * h + 1] = off;
    meta[4 * h + 2] = len;
    this.slabOwner[slab]![off / CLASS_SIZES[cls]!] = h;
    this.slabLive[slab]!++;
    this.live++;
    this.liveBytes += len;
    return h;
  }

  /** A free chunk of class `cls` (slab * SLAB + offset): from the free list, else carved. */
  private chunk(cls: number): number {
    const free = this.freeChunks[cls]!;
    if (free.length > 0) return free.pop()!;
    const size = CLASS_SIZES[cls]!;
    let slab = this.carving[cls]!;
    let off = this.carvedTo[cls]!;
    if (slab < 0 || off + size > SLAB) {
      slab = this.newSlab(cls);
      this.carving[cls] = slab;
      off = 0;
    }
    this.carvedTo[cls] = off + size;
    return slab * SLAB + off;
  }

  private newSlab(cls: number): number {
    const id = this.freeSlabIds.length > 0 ? this.freeSlabIds.pop()! : this.slabs.length;
    this.slabs[id] = Buffer.allocUnsafeSlow(SLAB);
    this.slabClass[id] = cls;
    this.slabLive[id] = 0;
    this.slabOwner[id] = new Int32Array(Math.floor(SLAB / CLASS_SIZES[cls]!)).fill(-1);
    this.classSlabs[cls]!.push(id);
    this.slabBytes += SLAB;
    return id;
  }

  free(h: number): void {
    const meta = this.meta;
    this.freeAt(h, meta[4 * h]! * SLAB + meta[4 * h + 1]!, meta[4 * h + 2]!);
  }

  /**
   * free() of a value whose chunk is known to be at `at` (slab * SLAB + offset, no compaction
   * since: the caller checked `epoch`) and `len` long: the handle's entry is not read.
   */
  freeAt(h: number, at: number, len: number): void {
    const slab = Math.floor(at / SLAB);
    const off = at - slab * SLAB;
    const cls = classOf(len);
    this.freeChunks[cls]!.push(slab * SLAB + off);
    this.slabOwner[slab]![off / CLASS_SIZES[cls]!] = -1;
    this.slabLive[slab]!--;
    this.freeHandles.push(h);
    this.live--;
    this.liveBytes -= len;
    const free = this.freeChunks[cls]!.length;
    if (free * CLASS_SIZES[cls]! >= 2 * SLAB && 2 * free > this.capacity(cls)) this.compact(cls);
  }

  /** Chunks of class `cls` handed out or free (the carving slab's uncarved tail excluded). */
  private capacity(cls: number): number {
    const size = CLASS_SIZES[cls]!;
    const perSlab = Math.floor(SLAB / size);
    const slabs = this.classSlabs[cls]!.length;
    if (slabs === 0) return 0;
    const carving = this.carving[cls]!;
    return carving < 0 ? slabs * perSlab : (slabs - 1) * perSlab + this.carvedTo[cls]! / size;
  }

  /**
   * Releases the emptiest slab of class `cls`: its live chunks move into free chunks of the
   * class's other slabs (their handles follow), then the slab goes. Copies at most one slab.
   */
  compact(cls: number): void {
    const slabs = this.classSlabs[cls]!;
    if (slabs.length < 2) return;
    this.epoch++;
    let victim = slabs[0]!;
    for (const s of slabs) if (this.slabLive[s]! < this.slabLive[victim]!) victim = s;
    const free = this.freeChunks[cls]!;
    const others = free.filter((at) => Math.floor(at / SLAB) !== victim);
    if (others.length < this.slabLive[victim]!) return;
    const size = CLASS_SIZES[cls]!;
    const from = this.slabs[victim]!;
    const owner = this.slabOwner[victim]!;
    for (let i = 0; i < owner.length; i++) {
      const h = owner[i]!;
      if (h < 0) continue;
      const at = others.pop()!;
      const slab = Math.floor(at / SLAB);
      const off = at - slab * SLAB;
      from.copy(this.slabs[slab]!, off, i * size, i * size + this.meta[4 * h + 2]!);
      this.meta[4 * h] = slab;
      this.meta[4 * h + 1] = off;
      this.slabOwner[slab]![off / size] = h;
      this.slabLive[slab]!++;
      this.chunksMoved++;
    }
    this.freeChunks[cls] = others;
    if (this.carving[cls] === victim) this.carving[cls] = -1;
    slabs.splice(slabs.indexOf(victim), 1);
    this.slabs[victim] = null;
    this.slabOwner[victim] = null;
    this.slabLive[victim] = 0;
    this.freeSlabIds.push(victim);
    this.slabBytes -= SLAB;
    this.slabsReleased++;
  }

  /** Length of the value `h`. */
  length(h: number): number {
    return this.meta[4 * h + 2]!;
  }

  /** The bytes of `h`: a view into its slab, valid until the next alloc or free. */
  view(h: number): Buffer {
    const meta = this.meta;
    const off = meta[4 * h + 1]!;
    return this.slabs[meta[4 * h]!]!.subarray(off, off + meta[4 * h + 2]!);
  }

  /** Copies the bytes of `h` into `dst` at `at`. */
  copyTo(h: number, dst: Uint8Array, at: number): void {
    const meta = this.meta;
    const off = meta[4 * h + 1]!;
    this.slabs[meta[4 * h]!]!.copy(dst, at, off, off + meta[4 * h + 2]!);
  }

  /** The bytes of `h` as a latin1 string (the one accessor for every other reader). */
  latin1(h: number): string {
    const meta = this.meta;
    const off = meta[4 * h + 1]!;
    return this.slabs[meta[4 * h]!]!.latin1Slice(off, off + meta[4 * h + 2]!);
  }
}

/** The process's arena (one keyspace per server process). */
export const arena = new ValueArena();

/**
 * Freed `ArenaValue` objects, handed out again by `arenaValue` (evict9). Under eviction every
 * SET frees a victim's value and makes a new one: reusing the victim's object, long promoted
 * to old space, means no young object for the scavenger to copy twice, and storing it into the
 * (old) table is an old-to-old store, the write barrier's fast path. Safe because a dropped
 * value is never read again (its chunk is reused at once too): the keyspace frees a value only
 * where it lets go of its last reference. Bounded: a mass deletion keeps at most this many.
 */
const spareValues: ArenaValue[] = [];
const SPARE_VALUES_MAX = 256;

/** A value holding a copy of src[start, start + len) (ARENA_MIN ≤ len ≤ ARENA_MAX). */
export function arenaValue(src: Buffer, start: number, len: number): ArenaValue {
  const h = arena.alloc(src, start, len);
  const v = spareValues.pop();
  if (v === undefined) return new ArenaValue(h, len, arena.lastAt, arena.epoch);
  v.handle = h;
  v.length = len;
  v.at = arena.lastAt;
  v.epoch = arena.epoch;
  return v;
}

/** Returns an arena value's chunk (a value the keyspace dropped); anything else is the GC's. */
export function freeValue(v: unknown): void {
  if (v instanceof ArenaValue) {
    if (v.epoch === arena.epoch) arena.freeAt(v.handle, v.at, v.length);
    else arena.free(v.handle);
    v.handle = -1;
    if (spareValues.length < SPARE_VALUES_MAX) spareValues.push(v);
  }
}
