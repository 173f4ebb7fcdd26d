/**
 * A point-in-time snapshot of the dataset, produced as an RDB byte stream in slices, without
 * stopping the world and without a second copy of the data (Node cannot fork).
 *
 * How: each database's KeyDict is walked live (a DictWalker: it survives inserts, deletes and
 * table rebuilds, and allocates nothing per key), one slice at a time. Before any key changes
 * (a write command names it, or the Database sets/deletes/re-expires it), `beforeKeyChange`
 * runs: if the snapshot has not written that key yet, its *old* value is serialised right then
 * (copy-on-write per key) and the key is marked touched so the walk skips it later; a key that
 * did not exist is marked too, so a key created after the snapshot started never appears in
 * it. Records are grouped by database as the format requires: a change in the database being
 * written goes straight into the stream, one in a database not reached yet goes into that
 * database's pending buffer, which is emitted when its section starts.
 *
 * Bookkeeping per database, released as each database completes:
 * - `touched`: keys a change has reached since the start (serialised then if still unwritten,
 *   or born after the start). The walk skips them. It only grows with writes, so a
 *   read-only load keeps it empty. In front of it a bitmap of the touched keys' hashes
 *   (`touchedHashes`): the walk reads the hash its table stored for each entry and asks the
 *   Set only on a hit. Asking the Set for every key walked (hashing the string again, a probe
 *   into a table of up to millions) tripled the walk's CPU while `redis-benchmark -t incr`
 *   created 100k keys during the job (docs/PERFORMANCE.md, jobs4).
 * - whether the walk already wrote a key is asked of the walk itself (DictWalker.passed: the
 *   key's table and its position there against the walk's), so a later change to one is not
 *   written twice. It used to be a table of every key emitted (after a Set of a million keys,
 *   which stalled the loop each time V8 doubled it): ~0.2 µs and 16 bytes per key, half of the
 *   walk's CPU for 1M small keys; the position costs one lookup per write instead.
 * Plus whatever the consumer has not flushed yet.
 *
 * The same walk produces two formats: an RDB image (BGSAVE, the AOF's RDB preamble, a
 * replica's full sync) or AOF commands (the BASE of a rewrite with aof-use-rdb-preamble no:
 * SELECT per database, then the commands that rebuild each key, see aof-rewrite.ts).
 */
import { performance } from 'node:perf_hooks';
import { RdbEncoder, type EncodeOptions } from './rdb-encode.js';
import { Crc64 } from './crc64.js';
import { RDB_VERSION, RdbOpcode } from './rdb-format.js';
import type { Database } from '../keyspace/db.js';
import { DictWalker, NO_RECORD, keyHash, type KeyDict } from '../keyspace/dict.js';
import type { RedisValue } from '../types/value.js';
import { chargedValueBytes, keyOverheadBytes } from '../keyspace/memory.js';
import { ByteWriter } from './bytes.js';
import { rewriteKey, selectCommand, timestampAnnotation } from './aof-rewrite.js';

export interface SnapshotOptions {
  encode: EncodeOptions;
  /** rdbchecksum: append the CRC64 (else 8 zero bytes). */
  checksum: boolean;
  /** AUX fields, in order. */
  aux: [string, string][];
  /** Function libraries' source code (FUNCTION2 records). */
  functions: string[];
  /**
   * 'rdb' (default) or 'aof': commands instead of RDB records. For 'aof' only
   * `aofTimestamp` matters (a `#TS:` annotation first, with aof-timestamp-enabled).
   */
  format?: 'rdb' | 'aof';
  aofTimestamp?: number | null;
  /**
   * Per-key access information to save (rdbSaveKeyValuePair): under an LRU policy each key's
   * idle seconds (IDLE), under an LFU one its counter (FREQ); absent otherwise.
   */
  access?: { lfu: boolean; value(record: number | undefined): number };
}

/** Where records go: an RDB encoder, or the AOF command writer below. */
interface RecordWriter extends ByteWriter {
  keyValue(key: string, value: RedisValue, expireAt: number, idle?: number, freq?: number): void;
}

/** The AOF-format BASE: each key as the commands that rebuild it (rewriteAppendOnlyFileRio). */
class AofCommandWriter extends ByteWriter implements RecordWriter {
  keyValue(key: string, value: RedisValue, expireAt: number): void {
    const text = rewriteKey(key, value, expireAt);
    if (text === null) {
      const type = typeof value === 'object' && 'type' in value ? value.type : 'value';
      throw new Error(`cannot rewrite a ${type} into the AOF`);
    }
    this.latin1(text);
  }
}

/** One database as captured when the snapshot started. */
interface SnapDb {
  id: number;
  dict: KeyDict<RedisValue>;
  expires: KeyDict<number>;
  walker: DictWalker<RedisValue> | null;
  /** Keys a change reached since the start (see the file comment): the walk skips them. */
  touched: Set<string>;
  /** Bit `hash & TOUCHED_BITS_MASK` set for every key in `touched` (null while it is empty). */
  touchedHashes: Int32Array | null;
  /** Copy-on-write records for a database whose section has not started. */
  pending: RecordWriter | null;
  started: boolean;
  done: boolean;
}

export class Snapshot {
  private readonly dbs: SnapDb[] = [];
  private readonly byDict = new Map<KeyDict<RedisValue>, SnapDb>();
  private readonly out: RecordWriter;
  private readonly aofFormat: boolean;
  /** RDB records with no access information (IDLE/FREQ): step's fast path, see there. */
  private readonly plainRdb: boolean;
  private readonly crc = new Crc64();
  private cursor = 0;
  private finishedStream = false;
  /** Keys written so far (INFO current_save_keys_processed). */
  keysProcessed = 0;
  /** Keys at the start (INFO current_save_keys_total). */
  readonly keysTotal: number;
  /** Bytes handed out so far. */
  bytesProduced = 0;
  /**
   * Copy-on-write, measured in the memory model's bytes (keyspace/memory.ts, what Redis would
   * have allocated): the keys and values a write reached before the walk wrote them (and those
   * FLUSHDB made it write early). A fork child would have had to keep copies of at least those
   * allocations' pages; nodis serialises them on the spot instead. INFO current_cow_size,
   * rdb_last_cow_size, aof_last_cow_size.
   */
  copiedBytes = 0;

  constructor(
    databases: readonly Database[],
    private readonly opts: SnapshotOptions,
  ) {
    this.aofFormat = opts.format === 'aof';
    this.plainRdb = !this.aofFormat && opts.access === undefined;
    this.out = this.newWriter(256 * 1024);
    let total = 0;
    for (const db of databases) {
      total += db.dict.size;
      const snap: SnapDb = {
        id: db.id,
        dict: db.dict,
        expires: db.expires,
        walker: null,
        touched: new Set(),
        touchedHashes: null,
        pending: null,
        started: false,
        done: db.dict.size === 0,
      };
      this.dbs.push(snap);
      this.byDict.set(db.dict, snap);
    }
    this.keysTotal = total;
    this.writeHeader();
  }

  private newWriter(initial: number): RecordWriter {
    return this.aofFormat ? new AofCommandWriter(initial) : new RdbEncoder(this.opts.encode, initial);
  }

  private writeHeader(): void {
    const out = this.out;
    if (this.aofFormat) {
      if (this.opts.aofTimestamp != null) out.latin1(timestampAnnotation(this.opts.aofTimestamp));
      // rewriteFunctions: every library as FUNCTION LOAD, before the keys.
      for (const code of this.opts.functions) {
        out.latin1(`*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$${code.length}\r\n${code}\r\n`);
      }
      return;
    }
    const rdb = out as RdbEncoder;
    rdb.latin1(`REDIS${String(RDB_VERSION).padStart(4, '0')}`);
    for (const [k, v] of this.opts.aux) rdb.aux(k, v);
    for (const code of this.opts.functions) {
      rdb.byte(RdbOpcode.Function2);
      rdb.string(code);
    }
  }

  /** True once the whole image (EOF and checksum included) has been produced. */
  get complete(): boolean {
    return this.finishedStream && this.out.len === 0;
  }

  /**
   * Copy-on-write: call before `key` of `db` is modified, deleted, or has its TTL changed.
   */
  beforeKeyChange(db: Database, key: string): void {
    const snap = this.byDict.get(db.dict);
    if (snap === undefined || snap.done || snap.touched.has(key)) return;
    // Touched from now on: if deleted and re-created, the iterator must not emit it again.
    markTouched(snap, key);
    if (snap.started && snap.walker!.passed(key)) return;
    const value = snap.dict.get(key);
    if (value === undefined) return;
    this.keysProcessed++;
    this.writtenEarlyUnpaced++;
    const target = snap.started ? this.out : (snap.pending ??= this.newWriter(4096));
    // Runs inside a client's command: a value the format cannot hold fails the snapshot (at
    // its next step), never the command.
    this.copy(target, snap, key, value);
  }

  /** Serialises one key ahead of the walk, counting it as copied. */
  private copy(target: RecordWriter, snap: SnapDb, key: string, value: RedisValue): void {
    this.copiedBytes += keyOverheadBytes(key) + chargedValueBytes(value);
    try {
      this.record(target, snap, key, value);
    } catch (e) {
      this.failure ??= e as Error;
    }
  }

  /**
   * The invariant behind copy-on-write, checked after every change to a key (WATCH's signal):
   * a key that changed while this snapshot runs was handed to `beforeKeyChange` first (or the
   * walk had already written it, or its database is done). A change that skipped it may have
   * put a value into the image that never existed at the start: the snapshot fails instead
   * (a BGSAVE reports an error, a full sync is retried), and the violation is returned so the
   * caller can log it.
   */
  verifyKeyChanged(db: Database, key: string): boolean {
    const snap = this.byDict.get(db.dict);
    if (snap === undefined || snap.done || snap.touched.has(key)) return true;
    if (snap.started && snap.walker!.passed(key)) return true;
    // Not in the dictionary: nothing of it can reach the image (signalled before its creation).
    if (!snap.dict.has(key)) return true;
    this.failure ??= new Error(`key '${key}' of db ${db.id} changed before the snapshot copied it`);
    return false;
  }

  /** Writes one key with its expiry and, when the policy keeps them, its access information. */
  private record(target: RecordWriter, snap: SnapDb, key: string, value: RedisValue): void {
    const expireAt = snap.expires.size === 0 ? -1 : (snap.expires.get(key) ?? -1);
    const access = this.opts.access;
    if (access === undefined) {
      target.keyValue(key, value, expireAt);
      return;
    }
    const record = snap.dict.recordOf(key);
    const v = access.value(record === NO_RECORD ? undefined : record);
    if (access.lfu) target.keyValue(key, value, expireAt, -1, v);
    else target.keyValue(key, value, expireAt, v, -1);
  }

  /** Set when copy-on-write could not serialise a value; the next step throws it. */
  private failure: Error | null = null;

  /** Keys written early by copy-on-write that the walk has not yet counted for its pacing. */
  private writtenEarlyUnpaced = 0;

  /** A database is about to be emptied (FLUSHDB): everything not written yet is, now. */
  beforeDbFlush(db: Database): void {
    const snap = this.byDict.get(db.dict);
    if (snap === undefined || snap.done) return;
    for (const [key, value] of snap.dict.entries()) {
      if (snap.touched.has(key) || (snap.started && snap.walker!.passed(key))) continue;
      markTouched(snap, key);
      this.keysProcessed++;
      const target = snap.started ? this.out : (snap.pending ??= this.newWriter(4096));
      this.copy(target, snap, key, value);
    }
    // Its remaining section is now fully in the stream or the pending buffer.
    snap.walker = DictWalker.empty();
  }

  /**
   * Produces the next slice: iterates for about `budgetMs` (or at most `maxKeys` keys, or until
   * `maxBytes` are buffered) and returns the bytes ready so far (none while fewer than
   * `minBytes` are and the image is not finished); an empty buffer once complete.
   */
  step(budgetMs: number, maxKeys = Infinity, maxBytes = 8 << 20, minBytes = 0): Buffer {
    if (this.failure !== null) throw this.failure;
    const out = this.out;
    const deadline = performance.now() + budgetMs;
    let keys = 0;
    while (!this.finishedStream && keys < maxKeys && out.len < maxBytes) {
      const snap = this.dbs[this.cursor];
      if (snap === undefined) {
        if (this.aofFormat) {
          this.finishedStream = true;
          this.trailerWritten = true;
          break;
        }
        out.byte(RdbOpcode.Eof);
        this.finishedStream = true;
        break;
      }
      if (snap.done) {
        this.cursor++;
        continue;
      }
      if (!snap.started) {
        snap.started = true;
        if (this.aofFormat) {
          out.latin1(selectCommand(snap.id));
        } else {
          const rdb = out as RdbEncoder;
          rdb.byte(RdbOpcode.SelectDb);
          rdb.length(snap.id);
          rdb.byte(RdbOpcode.ResizeDb);
          rdb.length(snap.dict.size);
          rdb.length(snap.expires.size);
        }
        if (snap.pending !== null) {
          out.bytes(snap.pending.view());
          snap.pending = null;
        }
        snap.walker = snap.dict.walker();
      }
      const walker = snap.walker!;
      const touched = snap.touched;
      const touchedHashes = snap.touchedHashes;
      // No key of this database expires and no access information is saved (the commonest
      // case): each record straight to the encoder, without record()'s per-key lookups. Nothing
      // else runs during a step, so neither can change before it returns.
      const plain = this.plainRdb && snap.expires.size === 0 ? (out as RdbEncoder) : null;
      let exhausted = false;
      while (keys < maxKeys && out.len < maxBytes) {
        if (!walker.next()) {
          exhausted = true;
          break;
        }
        const key = walker.key;
        const value = walker.value!;
        // Skipped: written early by copy-on-write, or born after the start. A key written
        // early still counts as a key saved, so rdb-key-save-delay paces the keyspace of the
        // start as Redis's child does; keys born later do not (the child never sees them, and
        // counting them would let a client that keeps creating keys hold the job off forever).
        if (touchedHashes !== null && isMarked(touchedHashes, walker.hash) && touched.has(key)) {
          if (this.writtenEarlyUnpaced > 0) {
            this.writtenEarlyUnpaced--;
            keys++;
          }
          continue;
        }
        if (plain !== null) plain.keyValue(key, value, -1);
        else this.record(out, snap, key, value);
        this.keysProcessed++;
        // Reading the clock costs more than a small key: check it every 16 keys.
        if ((++keys & 15) === 0 && performance.now() >= deadline) break;
      }
      if (exhausted) {
        snap.done = true;
        snap.touched = new Set();
        snap.touchedHashes = null;
        snap.walker = null;
        this.cursor++;
      }
      if (performance.now() >= deadline) break;
    }
    if (!this.aofFormat) {
      // The checksum follows the bytes as each slice produces them, so its cost is spread
      // over the slices instead of landing on the one that hands out a chunk.
      // rdbchecksum no: 8 zero bytes and no CRC to compute (rioGenericUpdateChecksum unset).
      if (this.opts.checksum) this.crc.update(out.buf, this.crcPos, out.len);
      this.crcPos = out.len;
      if (this.finishedStream && !this.trailerWritten) {
        // The CRC covers everything up to and including the EOF opcode.
        out.bytes(this.opts.checksum ? this.crc.bytes() : Buffer.alloc(8));
        this.trailerWritten = true;
      }
    }
    if (out.len === 0 || (out.len < minBytes && !this.finishedStream)) return EMPTY;
    // The buffer itself, not a copy: the writer goes on in a new one.
    const chunk = out.handOver();
    this.crcPos = 0;
    this.bytesProduced += chunk.length;
    return chunk;
  }

  /** How much of the output buffer the checksum has covered. */
  private crcPos = 0;

  private trailerWritten = false;

  /** Runs to completion in one go (SAVE, DEBUG RELOAD, SHUTDOWN, DUMP-sized uses). */
  runToEnd(): Buffer[] {
    const chunks: Buffer[] = [];
    while (!this.complete) {
      const c = this.step(Infinity, Infinity, 16 << 20);
      if (c.length > 0) chunks.push(c);
    }
    return chunks;
  }
}

const EMPTY = Buffer.alloc(0);

/** 2^22 bits (512 KB, allocated on a database's first touched key): ~2.4% false hits at 100k keys. */
const TOUCHED_BITS = 1 << 22;
const TOUCHED_BITS_MASK = TOUCHED_BITS - 1;

function markTouched(snap: SnapDb, key: string): void {
  snap.touched.add(key);
  const bits = (snap.touchedHashes ??= new Int32Array(TOUCHED_BITS >>> 5));
  const b = keyHash(key) & TOUCHED_BITS_MASK;
  bits[b >>> 5]! |= 1 << (b & 31);
}

function isMarked(bits: Int32Array, hash: number): boolean {
  const b = hash & TOUCHED_BITS_MASK;
  return (bits[b >>> 5]! & (1 << (b & 31))) !== 0;
}
