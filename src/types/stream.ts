/**
 * The stream type (Redis's stream.h / t_stream.c data structure).
 *
 * IDs are `<ms>-<seq>` pairs of unsigned 64-bit integers; nodis packs one into a single bigint
 * (ms << 64 | seq) so comparing IDs is comparing bigints.
 *
 * Entries live in "nodes" mirroring Redis's listpack nodes in the rax: each node holds up to
 * stream-node-max-entries entries (or stream-node-max-bytes bytes of listpack), sorted by ID,
 * with a master ID and master fields. Keeping Redis's node boundaries (and a byte-exact estimate
 * of each node's listpack size) matters because approximate trimming (`MAXLEN ~`, `MINID ~`)
 * only drops whole nodes, so XLEN after an approximate trim matches Redis. Deleted entries are
 * removed from the node's arrays at once but still counted (`deleted`, `bytes`) as Redis keeps
 * them flagged in the listpack. Seeking is a binary search over nodes then inside one node:
 * O(log n).
 *
 * Consumer groups hold their pending entries lists (PEL) in IdMaps: sorted maps keyed by ID in
 * chunked sorted arrays (O(log n) seek, ordered iteration), shared NACK objects between the
 * group PEL and the owning consumer's PEL, exactly as Redis shares streamNACK structs.
 */
import type { DigestSink, TypedValue } from './value.js';
import { listpackEntryBytes } from './listpack-size.js';

export type StreamID = bigint;

const U64 = (1n << 64n) - 1n;
export const ID_ZERO: StreamID = 0n;
export const ID_MAX: StreamID = (1n << 128n) - 1n;
export const UINT64_MAX = U64;

export function makeId(ms: bigint, seq: bigint): StreamID {
  return (ms << 64n) | seq;
}
export function idMs(id: StreamID): bigint {
  return id >> 64n;
}
export function idSeq(id: StreamID): bigint {
  return id & U64;
}
export function formatId(id: StreamID): string {
  return `${id >> 64n}-${id & U64}`;
}

/** Node limits (stream-node-max-entries / -bytes); each server's are bound to its config. */
export interface StreamLimits {
  nodeMaxEntries: number;
  nodeMaxBytes: number;
}
/** Redis's defaults (each server keeps its own copy: server/encoding-limits.ts). */
export const DEFAULT_STREAM_LIMITS: Readonly<StreamLimits> = Object.freeze({ nodeMaxEntries: 100, nodeMaxBytes: 4096 });

/** STREAM_LISTPACK_MAX_SIZE: a node never grows past 1GB; also the max entry size. */
export const STREAM_LISTPACK_MAX_SIZE = 1 << 30;

/** One listpack node: entries sorted by ID. */
export interface StreamNode {
  master: StreamID;
  masterFields: string[];
  ids: StreamID[];
  /** Per entry: field, value, field, value … */
  fields: string[][];
  /** Entries flagged deleted that Redis would still keep in the listpack. */
  deleted: number;
  /** Bytes of listpack entries other than the count/deleted header (which changes size). */
  bodyBytes: number;
}

/** Listpack bytes of an integer element (a bigint is taken as int64, as lpAppendInteger does). */
function lpInt(n: number | bigint): number {
  if (typeof n === 'number') return listpackEntryBytes(n);
  const v = BigInt.asIntN(64, n);
  return listpackEntryBytes(v >= -2147483648n && v <= 2147483647n ? Number(v) : v);
}

/** Total listpack bytes of a node, as lpBytes() would report in Redis. */
export function nodeBytes(n: StreamNode): number {
  return 7 + lpInt(n.ids.length) + lpInt(n.deleted) + n.bodyBytes;
}

function sameFields(master: readonly string[], fv: readonly string[]): boolean {
  if (master.length * 2 !== fv.length) return false;
  for (let i = 0; i < master.length; i++) if (master[i] !== fv[i * 2]) return false;
  return true;
}

/** Listpack bytes one entry takes in a node with `master`. */
function entryBytes(master: StreamID, masterFields: readonly string[], id: StreamID, fv: readonly string[]): number {
  const same = sameFields(masterFields, fv);
  const nf = fv.length / 2;
  let b = lpInt(same ? 2 : 0) + lpInt(idMs(id) - idMs(master)) + lpInt(idSeq(id) - idSeq(master));
  if (!same) b += lpInt(nf);
  for (let i = 0; i < fv.length; i++) if (!same || i % 2 === 1) b += listpackEntryBytes(fv[i]!);
  b += lpInt(same ? nf + 3 : nf * 2 + 4);
  return b;
}

// ---- IdMap: a sorted map keyed by stream ID ---------------------------------------------------------

const CHUNK = 128;

/** Sorted map from ID to V, in chunks of sorted arrays. */
export class IdMap<V> {
  private keys: StreamID[][] = [];
  private vals: V[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the first chunk whose last key is ≥ id (keys.length when none). */
  private chunkFor(id: StreamID): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const ks = this.keys[mid]!;
      if (ks[ks.length - 1]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static lowerBound(ks: readonly StreamID[], id: StreamID): number {
    let lo = 0;
    let hi = ks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ks[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(id: StreamID): V | undefined {
    const ci = this.chunkFor(id);
    const ks = this.keys[ci];
    if (ks === undefined) return undefined;
    const i = IdMap.lowerBound(ks, id);
    return ks[i] === id ? this.vals[ci]![i] : undefined;
  }

  has(id: StreamID): boolean {
    return this.get(id) !== undefined;
  }

  /** Inserts or replaces. */
  set(id: StreamID, v: V): void {
    if (this.keys.length === 0) {
      this.keys.push([id]);
      this.vals.push([v]);
      this.count = 1;
      return;
    }
    let ci = this.chunkFor(id);
    if (ci === this.keys.length) ci--;
    const ks = this.keys[ci]!;
    const vs = this.vals[ci]!;
    const i = IdMap.lowerBound(ks, id);
    if (ks[i] === id) {
      vs[i] = v;
      return;
    }
    ks.splice(i, 0, id);
    vs.splice(i, 0, v);
    this.count++;
    if (ks.length > CHUNK * 2) {
      this.keys.splice(ci + 1, 0, ks.splice(CHUNK));
      this.vals.splice(ci + 1, 0, vs.splice(CHUNK));
    }
  }

  delete(id: StreamID): boolean {
    const ci = this.chunkFor(id);
    const ks = this.keys[ci];
    if (ks === undefined) return false;
    const i = IdMap.lowerBound(ks, id);
    if (ks[i] !== id) return false;
    ks.splice(i, 1);
    this.vals[ci]!.splice(i, 1);
    this.count--;
    if (ks.length === 0) {
      this.keys.splice(ci, 1);
      this.vals.splice(ci, 1);
    }
    return true;
  }

  firstKey(): StreamID | undefined {
    return this.keys[0]?.[0];
  }

  lastKey(): StreamID | undefined {
    const ks = this.keys[this.keys.length - 1];
    return ks?.[ks.length - 1];
  }

  /** Entries with key ≥ from, ascending. Safe against deleting the yielded key. */
  *from(from: StreamID = 0n): Generator<[StreamID, V]> {
    let cur = from;
    for (;;) {
      const ci = this.chunkFor(cur);
      const ks = this.keys[ci];
      if (ks === undefined) return;
      const i = IdMap.lowerBound(ks, cur);
      const k = ks[i]!;
      yield [k, this.vals[ci]![i]!];
      if (k === ID_MAX) return;
      cur = k + 1n;
    }
  }

  clear(): void {
    this.keys = [];
    this.vals = [];
    this.count = 0;
  }
}

// ---- consumer groups -----------------------------------------------------------------------------

export interface StreamNack {
  consumer: StreamConsumer | null;
  deliveryTime: number;
  deliveryCount: number;
}

export interface StreamConsumer {
  name: string;
  seenTime: number;
  pel: IdMap<StreamNack>;
}

export const INVALID_ENTRIES_READ = -1;

export class ConsumerGroup {
  readonly pel = new IdMap<StreamNack>();
  readonly consumers = new Map<string, StreamConsumer>();
  constructor(
    public lastId: StreamID,
    public entriesRead: number,
  ) {}

  /** Consumers in name (byte) order, as Redis's rax iterates them. */
  sortedConsumers(): StreamConsumer[] {
    return [...this.consumers.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  createConsumer(name: string, now: number): StreamConsumer | null {
    if (this.consumers.has(name)) return null;
    const c: StreamConsumer = { name, seenTime: now, pel: new IdMap() };
    this.consumers.set(name, c);
    return c;
  }

  /** Removes a consumer and its pending entries from the group PEL; returns how many. */
  deleteConsumer(c: StreamConsumer): number {
    const n = c.pel.size;
    for (const [id] of c.pel.from()) this.pel.delete(id);
    this.consumers.delete(c.name);
    return n;
  }
}

// ---- the stream ------------------------------------------------------------------------------------

export interface StreamEntry {
  id: StreamID;
  fields: string[];
}

export class StreamValue implements TypedValue {
  readonly type = 'stream';
  nodes: StreamNode[] = [];
  length = 0;
  lastId: StreamID = 0n;
  firstId: StreamID = 0n;
  maxDeletedId: StreamID = 0n;
  entriesAdded = 0;
  groups: Map<string, ConsumerGroup> | null = null;

  constructor(readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS) {}

  encoding(): string {
    return 'stream';
  }

  size(): number {
    return this.length;
  }

  clone(): StreamValue {
    const s = new StreamValue(this.limits);
    s.nodes = this.nodes.map((n) => ({ ...n, masterFields: n.masterFields, ids: [...n.ids], fields: [...n.fields] }));
    s.length = this.length;
    s.lastId = this.lastId;
    s.firstId = this.firstId;
    s.maxDeletedId = this.maxDeletedId;
    s.entriesAdded = this.entriesAdded;
    if (this.groups !== null) {
      s.groups = new Map();
      for (const [name, g] of this.groups) {
        const ng = new ConsumerGroup(g.lastId, g.entriesRead);
        for (const c of g.consumers.values()) {
          const nc: StreamConsumer = { name: c.name, seenTime: c.seenTime, pel: new IdMap() };
          ng.consumers.set(c.name, nc);
        }
        for (const [id, nack] of g.pel.from()) {
          const owner = nack.consumer === null ? null : ng.consumers.get(nack.consumer.name) ?? null;
          const nn: StreamNack = { consumer: owner, deliveryTime: nack.deliveryTime, deliveryCount: nack.deliveryCount };
          ng.pel.set(id, nn);
          owner?.pel.set(id, nn);
        }
        s.groups.set(name, ng);
      }
    }
    return s;
  }

  /** xorObjectDigest for streams: each entry's ID then its fields and values, in order. */
  digest(sink: DigestSink): void {
    for (const e of this.range(0n, ID_MAX, false)) {
      sink.ordered(`${idMs(e.id)}.${idSeq(e.id)}`);
      for (const f of e.fields) sink.ordered(f);
    }
  }

  *[Symbol.iterator](): Generator<StreamEntry> {
    yield* this.range(0n, ID_MAX, false);
  }

  // ---- groups --------------------------------------------------------------------------------------

  group(name: string): ConsumerGroup | undefined {
    return this.groups?.get(name);
  }

  createGroup(name: string, lastId: StreamID, entriesRead: number): ConsumerGroup | null {
    if (this.groups === null) this.groups = new Map();
    if (this.groups.has(name)) return null;
    const g = new ConsumerGroup(lastId, entriesRead);
    this.groups.set(name, g);
    return g;
  }

  /** Groups in name order (rax order). */
  sortedGroups(): [string, ConsumerGroup][] {
    if (this.groups === null) return [];
    return [...this.groups].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  // ---- entries -------------------------------------------------------------------------------------

  /**
   * streamAppendItem with an already validated ID (> lastId): appends to the last node or
   * starts a new one as Redis would.
   */
  append(id: StreamID, fv: string[]): void {
    let node: StreamNode | undefined = this.nodes[this.nodes.length - 1];
    if (node !== undefined) {
      let maxBytes = this.limits.nodeMaxBytes;
      if (maxBytes === 0 || maxBytes > STREAM_LISTPACK_MAX_SIZE) maxBytes = STREAM_LISTPACK_MAX_SIZE;
      let total = 0;
      for (const s of fv) total += s.length;
      if (nodeBytes(node) + total >= maxBytes) node = undefined;
      else if (this.limits.nodeMaxEntries !== 0 && node.ids.length + node.deleted >= this.limits.nodeMaxEntries) node = undefined;
    }
    if (node === undefined) {
      const masterFields: string[] = [];
      for (let i = 0; i < fv.length; i += 2) masterFields.push(fv[i]!);
      let body = lpInt(masterFields.length) + lpInt(0);
      for (const f of masterFields) body += listpackEntryBytes(f);
      node = { master: id, masterFields, ids: [], fields: [], deleted: 0, bodyBytes: body };
      this.nodes.push(node);
    }
    node.bodyBytes += entryBytes(node.master, node.masterFields, id, fv);
    node.ids.push(id);
    node.fields.push(fv);
    this.length++;
    this.entriesAdded++;
    this.lastId = id;
    if (this.length === 1) this.firstId = id;
  }

  /** Appends a loaded node as is (RDB, RESTORE): the caller sets the metadata. */
  appendLoadedNode(node: StreamNode): void {
    this.nodes.push(node);
    this.length += node.ids.length;
  }

  /** Node index holding the first entry ≥ id, and the position in it; null if none. */
  private seek(id: StreamID): [number, number] | null {
    const nodes = this.nodes;
    let lo = 0;
    let hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const ids = nodes[mid]!.ids;
      if (ids[ids.length - 1]! < id) lo = mid + 1;
      else hi = mid;
    }
    if (lo === nodes.length) return null;
    const ids = nodes[lo]!.ids;
    let a = 0;
    let b = ids.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (ids[m]! < id) a = m + 1;
      else b = m;
    }
    return [lo, a];
  }

  /** Node index and position of the last entry ≤ id; null if none. */
  private seekRev(id: StreamID): [number, number] | null {
    if (id === ID_MAX) {
      const ni = this.nodes.length - 1;
      return ni < 0 ? null : [ni, this.nodes[ni]!.ids.length - 1];
    }
    const p = this.seek(id + 1n);
    if (p === null) {
      const ni = this.nodes.length - 1;
      return ni < 0 ? null : [ni, this.nodes[ni]!.ids.length - 1];
    }
    let [ni, i] = p;
    i--;
    if (i < 0) {
      ni--;
      if (ni < 0) return null;
      i = this.nodes[ni]!.ids.length - 1;
    }
    return [ni, i];
  }

  /** Entries with start ≤ id ≤ end, ascending (or descending with rev). */
  *range(start: StreamID, end: StreamID, rev: boolean): Generator<StreamEntry> {
    if (start > end) return;
    if (!rev) {
      const p = this.seek(start);
      if (p === null) return;
      let [ni, i] = p;
      while (ni < this.nodes.length) {
        const n = this.nodes[ni]!;
        for (; i < n.ids.length; i++) {
          const id = n.ids[i]!;
          if (id > end) return;
          yield { id, fields: n.fields[i]! };
        }
        ni++;
        i = 0;
      }
    } else {
      const p = this.seekRev(end);
      if (p === null) return;
      let [ni, i] = p;
      while (ni >= 0) {
        const n = this.nodes[ni]!;
        for (; i >= 0; i--) {
          const id = n.ids[i]!;
          if (id < start) return;
          yield { id, fields: n.fields[i]! };
        }
        ni--;
        if (ni >= 0) i = this.nodes[ni]!.ids.length - 1;
      }
    }
  }

  get(id: StreamID): string[] | undefined {
    const p = this.seek(id);
    if (p === null) return undefined;
    const n = this.nodes[p[0]]!;
    return n.ids[p[1]] === id ? n.fields[p[1]] : undefined;
  }

  has(id: StreamID): boolean {
    return this.get(id) !== undefined;
  }

  /** The last live entry's ID (streamLastValidID); 0 when empty. */
  lastValidId(): StreamID {
    const n = this.nodes[this.nodes.length - 1];
    return n === undefined ? 0n : n.ids[n.ids.length - 1]!;
  }

  /** The first live entry's ID; 0 when empty. */
  firstValidId(): StreamID {
    return this.nodes[0]?.ids[0] ?? 0n;
  }

  /** streamDeleteItem (without the first/max-deleted bookkeeping XDEL does). */
  deleteEntry(id: StreamID): boolean {
    const p = this.seek(id);
    if (p === null) return false;
    const [ni, i] = p;
    const n = this.nodes[ni]!;
    if (n.ids[i] !== id) return false;
    n.ids.splice(i, 1);
    n.fields.splice(i, 1);
    n.deleted++;
    this.length--;
    if (n.ids.length === 0) this.nodes.splice(ni, 1);
    return true;
  }

  /** streamTrim: returns the number of entries removed. `limit` 0 = unlimited. */
  trim(strategy: 'maxlen' | 'minid', maxlen: number, minid: StreamID, approx: boolean, limit: number): number {
    let deleted = 0;
    while (this.nodes.length > 0) {
      if (strategy === 'maxlen' && this.length <= maxlen) break;
      const n = this.nodes[0]!;
      const entries = n.ids.length;
      if (limit !== 0 && deleted + entries > limit) break;
      const removeNode = strategy === 'maxlen' ? this.length - entries >= maxlen : n.ids[entries - 1]! < minid;
      if (removeNode) {
        this.nodes.shift();
        this.length -= entries;
        deleted += entries;
        continue;
      }
      if (approx) break;
      let k = 0;
      if (strategy === 'maxlen') k = Math.min(entries, this.length - maxlen);
      else while (k < entries && n.ids[k]! < minid) k++;
      if (k > 0) {
        n.ids.splice(0, k);
        n.fields.splice(0, k);
        n.deleted += k;
        this.length -= k;
        deleted += k;
      }
      break;
    }
    if (this.length === 0) this.firstId = 0n;
    else if (deleted !== 0) this.firstId = this.firstValidId();
    return deleted;
  }

  /** streamRangeHasTombstones. */
  rangeHasTombstones(start: StreamID, end: StreamID): boolean {
    if (this.length === 0 || this.maxDeletedId === 0n) return false;
    if (this.firstId > this.maxDeletedId) return false;
    return start <= this.maxDeletedId && this.maxDeletedId <= end;
  }

  /** streamEstimateDistanceFromFirstEverEntry; INVALID_ENTRIES_READ when unknown. */
  estimateDistanceFromFirstEverEntry(id: StreamID): number {
    if (this.entriesAdded === 0) return 0;
    if (this.length === 0 && id <= this.lastId) return this.entriesAdded;
    if (id === this.lastId) return this.entriesAdded;
    if (id > this.lastId) return INVALID_ENTRIES_READ;
    if (this.maxDeletedId === 0n || this.maxDeletedId < this.firstId) {
      if (id < this.firstId) return this.entriesAdded - this.length;
      if (id === this.firstId) return this.entriesAdded - this.length + 1;
    }
    return INVALID_ENTRIES_READ;
  }

  /** The consumer group lag XINFO reports; null when it cannot be known. */
  groupLag(g: ConsumerGroup): number | null {
    if (this.entriesAdded === 0) return 0;
    if (g.entriesRead !== INVALID_ENTRIES_READ && !this.rangeHasTombstones(g.lastId, ID_MAX)) return this.entriesAdded - g.entriesRead;
    const read = this.estimateDistanceFromFirstEverEntry(g.lastId);
    return read === INVALID_ENTRIES_READ ? null : this.entriesAdded - read;
  }
}
