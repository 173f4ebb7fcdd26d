/**
 * One logical database (SELECT n): the main dictionary and the expires dictionary.
 *
 * Expiry is lazy on access plus an active cycle (keyspace/expire.ts). A master that finds an
 * expired key deletes it and propagates a DEL through the one write path; a replica never
 * deletes on its own (its master will send the DEL) but hides logically expired keys from reads,
 * as Redis does.
 */
import { arena, freeValue } from '../types/value-arena.js';
import { KEEP_RECORD, KeyDict, NO_RECORD, keyHash, keyHashOfBytes } from './dict.js';
import { type AccessPolicy, initialAccess, lfuTouched } from './access.js';
import type { RedisValue } from '../types/value.js';
import { chargedValueBytes, dictBucketBytes, keyOverheadBytes, rechargeValue } from './memory.js';
import { SlotIndex } from './slot-index.js';

/** warmBytes()'s hashes (it warms at most this many keys at once). */
const WARM_HASHES = new Int32Array(64);

/** Keyspace-event classes, by the flag characters of notify-keyspace-events. */
export type NotifyClass = 'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 't' | 'm' | 'd' | 'n';

/** What a database needs from the server around it. */
export interface KeyspaceOwner {
  /** Current time in ms for expiry decisions (frozen during a script or MULTI, as in Redis). */
  expiryNow(): number;
  /** True when keys must not be expired here (we are a replica; our master expires them). */
  expiryIsMastersJob(): boolean;
  /** While loading from disk nothing expires (keyIsExpired in Redis). */
  readonly loading?: boolean;
  /** While a replica runs its master's commands nothing is expired (the master sends DELs). */
  readonly applyingMasterStream?: boolean;
  /** A key was found expired and removed: propagate DEL, notify `expired`, count it. */
  onKeyExpired(db: Database, key: string): void;
  /** Random source in [0,1). */
  random(): number;
  /** A key was created (dbAdd): the `new` keyspace event. */
  onKeyAdded(db: Database, key: string): void;
  /** How key accesses are recorded (LRU clock or LFU counter, keyspace/access.ts). */
  readonly access: AccessPolicy;
  /** The signals of the write API below: dirty += changes, signalModifiedKey, then the event. */
  keyWritten(db: Database, key: string, cls: NotifyClass, event: string, changes: number): void;
  /** signalModifiedKey: WATCH, client-side caching invalidation, the memory model's recharge. */
  signalModifiedKey(db: Database, key: string): void;
  /** notifyKeyspaceEvent (published only when notify-keyspace-events enables `cls`). */
  notify(cls: NotifyClass, event: string, key: string, dbId: number): void;
  /** server.dirty += changes (INFO rdb_changes_since_last_save; the executor propagates a command that moved it). */
  datasetChanged(changes: number): void;
  /**
   * dictExpandAllowed: may the main dict's bucket table grow by `moreBytes` at this fill ratio?
   * (No when that would pass maxmemory, unless the table is over-full.) Absent: always.
   */
  dictExpandAllowed?(moreBytes: number, usedRatio: number): boolean;
}

export class Database {
  dict = new KeyDict<RedisValue>();
  expires = new KeyDict<number>();
  /**
   * Per-key access record, for eviction and OBJECT IDLETIME/FREQ: the LRU clock of the last
   * access, or the LFU counter and its decrement time (keyspace/access.ts). Kept while the
   * maxmemory-policy is an LRU/LFU one (AccessPolicy.track); then every key has one, as every
   * Redis object carries its 24-bit `lru` field. The records live in the main dictionary's
   * entries (KeyDict.put's records, an Int32Array beside the keys' hashes): a new key's record
   * costs no second table insert, an evicted key's no second delete, and eviction samples them
   * with the keys. This is a view of them by key.
   */
  readonly access = new AccessRecords(this);
  /** Average TTL estimate and other stats for INFO keyspace. */
  avgTtl = 0;
  /**
   * Bytes this database's keys and values are charged (keyspace/memory.ts), kept up to date by
   * every write below — the one place the memory model hooks into the keyspace — and by
   * `resized()` after an in-place change. Dict buckets and expires come on top (memoryBytes()).
   */
  memory = 0;
  /**
   * Called before a key is set, replaced, deleted or has its TTL changed, while a snapshot is
   * being written (persistence/snapshot.ts serialises the old value first: copy-on-write).
   */
  beforeChange: ((db: Database, key: string) => void) | null = null;
  /** The keys by hash slot (keyspace/slot-index.ts); null unless the cluster is on. */
  slots: SlotIndex | null = null;

  constructor(
    readonly id: number,
    private readonly owner: KeyspaceOwner,
  ) {}

  get size(): number {
    return this.dict.size;
  }

  /** Starts keeping the keys by hash slot (cluster-enabled), indexing those already here. */
  indexSlots(): SlotIndex {
    if (this.slots === null) {
      this.slots = new SlotIndex();
      for (const key of this.dict.keys()) this.slots.added(key);
    }
    return this.slots;
  }

  /**
   * Looks a key up for reading or writing, applying lazy expiry. Returns undefined for a
   * missing or (logically) expired key.
   */
  lookup(key: string): RedisValue | undefined {
    // The key looked up or set last again (a pipeline of writes to one collection: RPUSH, SADD,
    // HSET … on one key): its hash and value are the ones kept, no hash and no probe. Every
    // change to `dict` updates or forgets lastKey/lastValue/lastH (forget()), so the value kept
    // is the table's; an absent key's (take()) is kept as undefined and probed again.
    let h: number;
    let v: RedisValue | undefined;
    if (key === this.lastKey && this.lastValue !== undefined) {
      h = this.lastH;
      v = this.lastValue;
    } else {
      h = keyHash(key);
      v = this.dict.getHashed(key, h);
      if (v === undefined) {
        this.hashedKey = key;
        this.hashedH = h;
        return undefined;
      }
    }
    this.hashedKey = key;
    this.hashedH = h;
    if (this.expires.size !== 0 && this.expireIfNeeded(key)) return undefined;
    this.touch(key, h);
    this.lastKey = key;
    this.lastValue = v;
    this.lastH = h;
    return v;
  }

  /**
   * The key last looked up or set here and its value, so that `resized()` — which every write
   * reaches through signalModifiedKey, right after the handler looked the key up or set it —
   * needs no third lookup. Every change to `dict` goes through this class and updates or
   * forgets it (forget()).
   */
  private lastKey: string | null = null;
  private lastValue: RedisValue | undefined = undefined;
  /** keyHash(lastKey) while lastValue is defined. */
  private lastH = 0;

  /**
   * The key lookup() hashed last and its keyHash, so that the set() or replace() of the same key
   * that follows (INCR, APPEND … look a key up, then store it) does not hash it again. set()
   * and replace() clear it, so a write without a lookup before it compares against null.
   */
  private hashedKey: string | null = null;
  private hashedH = 0;

  /** keyHash(key), taken from the last lookup when it was of this key. */
  private hashOf(key: string): number {
    const h = key === this.hashedKey ? this.hashedH : keyHash(key);
    this.hashedKey = null;
    return h;
  }

  /**
   * Reads, for each key, what setting or looking it up will read first (its slot in the table,
   * the entry there, that entry's key and value), before any of them is written: the cache
   * misses of several keys then overlap instead of coming one after another (MSET's keys are
   * argv[from], argv[from + step] …). Their hashes are left in `hashes` for set()'s `h`.
   */
  warm(keys: readonly string[], from: number, step: number, hashes: number[]): void {
    const dict = this.dict;
    let n = 0;
    for (let j = from; j < keys.length; j += step) hashes[n++] = keyHash(keys[j]!);
    let sink = 0;
    for (let i = 0; i < n; i++) sink += dict.touch(hashes[i]!);
    this.warmSink = sink;
  }

  /**
   * warm() for keys still in a read buffer (`buf[starts[i] …]`, `lens[i]` bytes, i < n): the
   * commands of one pipelined read, before they run (Server.prefetchKeys). A pure read.
   * Answers false when every key hashed alike (one key again and again: nothing to overlap).
   */
  warmBytes(buf: Uint8Array, starts: Int32Array, lens: Int32Array, n: number): boolean {
    const dict = this.dict;
    const hashes = WARM_HASHES;
    if (n > hashes.length) n = hashes.length;
    let differ = 0;
    for (let i = 0; i < n; i++) differ |= (hashes[i] = keyHashOfBytes(buf, starts[i]!, lens[i]!)) ^ hashes[0]!;
    if (differ === 0) return false;
    let sink = 0;
    for (let i = 0; i < n; i++) sink += dict.touch(hashes[i]!);
    this.warmSink = sink;
    return true;
  }

  /** What warm() read, kept so the reads are not optimised away. */
  private warmSink = 0;

  private forget(): void {
    this.lastKey = null;
    this.lastValue = undefined;
  }

  /**
   * Like lookup() but leaves the key's access record alone (LOOKUP_NOTOUCH: TYPE, TTL, EXISTS,
   * OBJECT, MEMORY USAGE do not count as accesses).
   */
  lookupNoTouch(key: string): RedisValue | undefined {
    const v = this.dict.get(key);
    if (v === undefined) return undefined;
    if (this.expires.size !== 0 && this.expireIfNeeded(key)) return undefined;
    return v;
  }

  /** Records an access to an existing key (its LRU clock, or an LFU counter increment). */
  touch(key: string, h = keyHash(key)): void {
    const a = this.owner.access;
    if (!a.track) return;
    if (a.lfu) {
      const record = this.dict.recordOf(key, h);
      this.dict.setRecord(key, lfuTouched(a, record === NO_RECORD ? initialAccess(a) : record), h);
    } else this.dict.setRecord(key, a.lruClock, h);
  }

  /** Lookup that ignores expiry (for commands that must see the raw state, e.g. the snapshot). */
  peek(key: string): RedisValue | undefined {
    return this.dict.get(key);
  }

  /** True when the key exists and is not expired. */
  exists(key: string): boolean {
    return this.lookup(key) !== undefined;
  }

  /**
   * Returns true if the key is (logically) expired. On a master it is also deleted.
   */
  expireIfNeeded(key: string): boolean {
    const when = this.expires.get(key);
    if (when === undefined) return false;
    if (when > this.owner.expiryNow() || this.owner.loading === true || this.owner.applyingMasterStream === true) return false;
    if (this.owner.expiryIsMastersJob()) return true;
    this.delete(key);
    this.owner.onKeyExpired(this, key);
    return true;
  }

  /**
   * Adds or overwrites a key. The TTL is dropped unless `keepTtl`. `h` is keyHash(key) when the
   * caller has it (warm()).
   */
  set(key: string, value: RedisValue, keepTtl = false, h = this.hashOf(key)): void {
    if (this.beforeChange !== null) this.beforeChange(this, key);
    const a = this.owner.access;
    // The access record goes with the entry: a new key's initial one; on overwrite a fresh LRU
    // clock (a new object), while LFU keeps the old counter (dbSetValue).
    const recNew = a.track ? initialAccess(a) : NO_RECORD;
    const old = this.dict.put(key, value, h, recNew, a.track && !a.lfu ? recNew : KEEP_RECORD);
    this.memory += chargedValueBytes(value) - (old === undefined ? -keyOverheadBytes(key) : chargedValueBytes(old));
    if (old !== value) freeValue(old);
    this.lastKey = key;
    this.lastValue = value;
    this.lastH = h;
    if (old === undefined) {
      if (this.slots !== null) this.slots.added(key);
      // Redis tries to expand when the table is full (the key count was a power of two, or a capped table's size).
      const used = this.dict.size - 1;
      if (used >= this.bucketCap || (used > 0 && used < 2 ** 30 && (used & (used - 1)) === 0)) this.expandBuckets();
      this.owner.onKeyAdded(this, key);
    }
    if (!keepTtl && this.expires.size !== 0) this.expires.delete(key, h);
  }

  /** Adds a key while loading a dataset (RDB, replication), with its access record. */
  load(key: string, value: RedisValue, expireMs: number, access?: number): void {
    this.forget();
    // One hash and one probe of the main table per key (a replica's full sync loads millions).
    const h = keyHash(key);
    const a = this.owner.access;
    const record = access ?? (a.track ? initialAccess(a) : NO_RECORD);
    const old = this.dict.put(key, value, h, record, record === NO_RECORD ? KEEP_RECORD : record);
    this.memory += chargedValueBytes(value) - (old === undefined ? -keyOverheadBytes(key) : chargedValueBytes(old));
    if (old !== value) freeValue(old);
    if (old === undefined && this.slots !== null) this.slots.added(key);
    if (expireMs !== -1) this.expires.set(key, expireMs, h);
  }

  /** Replaces the value of an existing key in place, keeping its TTL (one lookup, as set()). */
  replace(key: string, value: RedisValue): void {
    const h = this.hashOf(key);
    if (this.beforeChange !== null) this.beforeChange(this, key);
    const old = this.dict.put(key, value, h);
    this.memory += chargedValueBytes(value) - (old === undefined ? -keyOverheadBytes(key) : chargedValueBytes(old));
    if (old !== value) freeValue(old);
    this.lastKey = key;
    this.lastValue = value;
    this.lastH = h;
  }

  /** The value of `key` changed in place (a push, an add, SETRANGE on a Buffer): recharge it. */
  resized(key: string): void {
    const v = key === this.lastKey ? this.lastValue : this.dict.get(key);
    if (v !== undefined && typeof v === 'object') this.memory += rechargeValue(v);
  }

  /**
   * The main dict's bucket table as charged, when Redis would have kept it from growing
   * (Infinity: a power of two at least the key count, dictBucketBytes).
   */
  private bucketCap = Infinity;

  /**
   * A new key took the dict past its charged table: Redis's _dictExpandIfNeeded doubles it unless
   * dictExpandAllowed refuses (the new table would pass maxmemory while the fill ratio is at
   * most 1.618), and then the keys share the old buckets.
   */
  private expandBuckets(): void {
    const used = this.dict.size - 1;
    const buckets = Math.min(dictBucketBytes(used), this.bucketCap * 8) / 8;
    const allowed = this.owner.dictExpandAllowed?.(dictBucketBytes(used + 1), used / buckets) ?? true;
    this.bucketCap = allowed ? Infinity : buckets;
  }

  /** Bytes charged for this database: keys, values, expires entries and both dicts' buckets. */
  memoryBytes(): number {
    const main = Math.min(dictBucketBytes(this.dict.size), this.bucketCap * 8);
    return this.memory + main + dictBucketBytes(this.expires.size) + this.expires.size * 24;
  }

  delete(key: string): boolean {
    const old = this.take(key);
    if (old === undefined) return false;
    freeValue(old);
    return true;
  }

  /**
   * Deletes a key and answers the value it had (undefined: there was none), in one probe. `h`
   * is keyHash(key) when the caller has it (eviction takes it from the sampled entry).
   */
  take(key: string, h = keyHash(key)): RedisValue | undefined {
    if (this.beforeChange !== null) this.beforeChange(this, key);
    const old = this.dict.remove(key, h);
    if (old === undefined) return undefined;
    // The key is known absent now: the signals' resized(key) that follows needs no lookup.
    this.lastKey = key;
    this.lastValue = undefined;
    this.memory -= chargedValueBytes(old) + keyOverheadBytes(key);
    if (this.slots !== null) this.slots.removed(key);
    if (this.expires.size !== 0) this.expires.delete(key, h);
    return old;
  }

  /** Absolute expiry time in ms, or -1 when the key has none. */
  getExpire(key: string): number {
    return this.expires.get(key) ?? -1;
  }

  setExpire(key: string, whenMs: number): void {
    if (this.beforeChange !== null) this.beforeChange(this, key);
    this.expires.set(key, whenMs);
  }

  /** Removes a TTL; returns true if there was one. */
  persist(key: string): boolean {
    if (this.beforeChange !== null) this.beforeChange(this, key);
    return this.expires.delete(key);
  }

  clear(): void {
    this.forget();
    // The arena's chunks go back with the keys, unless a snapshot still walks the old tables
    // (then they are left to it: a leak of those bytes, never a chunk reused under a reader).
    if (arena.live > 0 && this.beforeChange === null) {
      const w = this.dict.walker();
      while (w.next()) freeValue(w.value);
    }
    this.dict.clear();
    if (this.slots !== null) this.slots.clear();
    this.expires.clear();
    this.avgTtl = 0;
    this.memory = 0;
    this.bucketCap = Infinity;
  }

  /** A random non-expired key, or undefined (gives up after a bounded number of tries). */
  randomKey(): string | undefined {
    for (let tries = 0; tries < 100; tries++) {
      const k = this.dict.randomKey(this.owner.random());
      if (k === undefined) return undefined;
      const when = this.expires.get(k);
      if (when !== undefined && when <= this.owner.expiryNow()) {
        if (this.owner.expiryIsMastersJob()) {
          // A replica may keep returning logically expired keys; after enough tries Redis
          // returns one anyway rather than loop forever.
          if (tries >= 99) return k;
          continue;
        }
        this.expireIfNeeded(k);
        continue;
      }
      return k;
    }
    return undefined;
  }

  // ---- The write API's signals ------------------------------------------------------------------
  //
  // A command that changed the keyspace tells it here, and the signals follow from it: dirty
  // (which makes the executor propagate the command and counts toward `save`), WATCH
  // invalidation and client-side caching invalidation (signalModifiedKey, which also recharges
  // the key in the memory model), and the keyspace event. Handlers never bump `dirty` or call
  // the signals themselves (test/write-api.test.ts checks the sources). The primitives exist
  // separately because Redis signals unevenly and nodis reproduces it: XACK counts a change but
  // touches no WATCH and publishes no event, XSETID counts and publishes but does not signal,
  // LMOVE signals both keys and counts one change. The copy-on-write of running snapshots is
  // not here: set/replace/delete/setExpire/persist and the executor's prelude do it before the
  // change, while these run after it.

  /**
   * `key` was written: dirty += changes, signalModifiedKey(key), then the keyspace event
   * `event` of class `cls` — Redis's order after a change (a client tracking the key gets the
   * invalidation before the event). `changes` 0 signals and publishes without counting.
   */
  modified(key: string, cls: NotifyClass, event: string, changes = 1): void {
    this.owner.keyWritten(this, key, cls, event, changes);
  }

  /**
   * Elements left `key` (a pop, ZREM, LTRIM, SMOVE's source) and, when `keyRemoved`, the key
   * itself (already deleted by the caller): the event first, then `del`, then
   * signalModifiedKey and dirty += changes — Redis's order for these (listElementsRemoved,
   * zremCommand, genericZpopCommand, spopCommand), unlike modified()'s.
   */
  removed(key: string, cls: NotifyClass, event: string, changes: number, keyRemoved: boolean): void {
    const owner = this.owner;
    owner.notify(cls, event, key, this.id);
    if (keyRemoved) owner.notify('g', 'del', key, this.id);
    owner.signalModifiedKey(this, key);
    owner.datasetChanged(changes);
  }

  /** signalModifiedKey alone: the key changed, counted (or not) and announced elsewhere. */
  signalModified(key: string): void {
    this.owner.signalModifiedKey(this, key);
  }

  /** A keyspace event alone: a second event of one write (`del` once the last element left). */
  notify(cls: NotifyClass, event: string, key: string): void {
    this.owner.notify(cls, event, key, this.id);
  }

  /** dirty += changes alone: a change Redis counts without signalling its key (XACK, SWAPDB, FLUSHDB's keys). */
  counted(changes = 1): void {
    this.owner.datasetChanged(changes);
  }

  /** Swaps contents with another database (SWAPDB). */
  swapWith(other: Database): void {
    this.forget();
    other.forget();
    [this.dict, other.dict] = [other.dict, this.dict];
    [this.expires, other.expires] = [other.expires, this.expires];
    [this.avgTtl, other.avgTtl] = [other.avgTtl, this.avgTtl];
    [this.memory, other.memory] = [other.memory, this.memory];
    [this.slots, other.slots] = [other.slots, this.slots];
  }
}

/**
 * A database's access records by key (Database.access): OBJECT IDLETIME/FREQ, DEBUG OBJECT,
 * RESTORE's IDLETIME/FREQ, the snapshot. They live in the main dictionary's entries, so a record
 * exists only for a key that does, and goes with it.
 */
export class AccessRecords {
  constructor(private readonly db: Database) {}

  /** Keys that have a record. */
  get size(): number {
    return this.db.dict.recordCount;
  }

  /** The key's record, or undefined when it has none (or does not exist). */
  get(key: string): number | undefined {
    const record = this.db.dict.recordOf(key);
    return record === NO_RECORD ? undefined : record;
  }

  /** Sets an existing key's record (≥ 0); nothing for a missing key. */
  set(key: string, record: number): void {
    this.db.dict.setRecord(key, record);
  }
}
