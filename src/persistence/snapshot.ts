/**
 * A point-in-time snapshot of the dataset, produced as an RDB byte stream in slices, without
 * stopping the world and without a second copy of the data (Node cannot fork).
 *
 * How: each database's KeyDict is iterated live (its iterators survive inserts and deletes),
 * one slice at a time. Before any key changes (a write command names it, or the Database
 * sets/deletes/re-expires it), `beforeKeyChange` runs: if the snapshot has not written that
 * key yet, its *old* value is serialised right then (copy-on-write per key) and the key is
 * marked written so the iterator skips it later; a key that did not exist is marked too, so a
 * key created after the snapshot started never appears in it. Records are grouped by database
 * as the format requires: a change in the database being written goes straight into the
 * stream, one in a database not reached yet goes into that database's pending buffer, which is
 * emitted when its section starts.
 *
 * Memory: the set of written keys per database (references to key strings already in the
 * dict), released as each database completes, plus whatever the consumer has not flushed.
 * The stream feeds any sink: a file (BGSAVE), the AOF BASE (rewrite with RDB preamble), or a
 * replica's socket (full sync).
 */
import { performance } from 'node:perf_hooks';
import { RdbEncoder, type EncodeOptions } from './rdb-encode.js';
import { Crc64 } from './crc64.js';
import { RDB_VERSION, RdbOpcode } from './rdb-format.js';
import type { Database } from '../keyspace/db.js';
import type { KeyDict } from '../keyspace/dict.js';
import type { RedisValue } from '../types/value.js';

export interface SnapshotOptions {
  encode: EncodeOptions;
  /** rdbchecksum: append the CRC64 (else 8 zero bytes). */
  checksum: boolean;
  /** AUX fields, in order. */
  aux: [string, string][];
  /** Function libraries' source code (FUNCTION2 records). */
  functions: string[];
}

/** One database as captured when the snapshot started. */
interface SnapDb {
  id: number;
  dict: KeyDict<RedisValue>;
  expires: KeyDict<number>;
  iterator: Iterator<[string, RedisValue]> | null;
  /** Keys already serialised (or born after the start): the iterator skips them. */
  written: Set<string>;
  /** Copy-on-write records for a database whose section has not started. */
  pending: RdbEncoder | null;
  started: boolean;
  done: boolean;
}

export class Snapshot {
  private readonly dbs: SnapDb[] = [];
  private readonly byDict = new Map<KeyDict<RedisValue>, SnapDb>();
  private readonly out: RdbEncoder;
  private readonly crc = new Crc64();
  private cursor = 0;
  private finishedStream = false;
  /** Keys written so far (INFO current_save_keys_processed). */
  keysProcessed = 0;
  /** Keys at the start (INFO current_save_keys_total). */
  readonly keysTotal: number;
  /** Bytes handed out so far. */
  bytesProduced = 0;

  constructor(
    databases: readonly Database[],
    private readonly opts: SnapshotOptions,
  ) {
    this.out = new RdbEncoder(opts.encode, 1 << 20);
    let total = 0;
    for (const db of databases) {
      total += db.dict.size;
      const snap: SnapDb = {
        id: db.id,
        dict: db.dict,
        expires: db.expires,
        iterator: null,
        written: new Set(),
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

  private writeHeader(): void {
    const out = this.out;
    out.latin1(`REDIS${String(RDB_VERSION).padStart(4, '0')}`);
    for (const [k, v] of this.opts.aux) out.aux(k, v);
    for (const code of this.opts.functions) {
      out.byte(RdbOpcode.Function2);
      out.string(code);
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
    if (snap === undefined || snap.done || snap.written.has(key)) return;
    snap.written.add(key);
    const value = snap.dict.get(key);
    if (value === undefined) return;
    this.keysProcessed++;
    const target = snap.started ? this.out : (snap.pending ??= new RdbEncoder(this.opts.encode, 4096));
    target.keyValue(key, value, snap.expires.get(key) ?? -1);
  }

  /** A database is about to be emptied (FLUSHDB): everything not written yet is, now. */
  beforeDbFlush(db: Database): void {
    const snap = this.byDict.get(db.dict);
    if (snap === undefined || snap.done) return;
    for (const [key, value] of snap.dict.entries()) {
      if (snap.written.has(key)) continue;
      snap.written.add(key);
      this.keysProcessed++;
      const target = snap.started ? this.out : (snap.pending ??= new RdbEncoder(this.opts.encode, 4096));
      target.keyValue(key, value, snap.expires.get(key) ?? -1);
    }
    // Its remaining section is now fully in the stream or the pending buffer.
    snap.iterator = emptyIterator();
  }

  /**
   * Produces the next slice: iterates for about `budgetMs` (or at most `maxKeys` keys, or until
   * `maxBytes` are buffered) and returns the bytes ready so far; an empty buffer once complete.
   */
  step(budgetMs: number, maxKeys = Infinity, maxBytes = 8 << 20): Buffer {
    const out = this.out;
    const deadline = performance.now() + budgetMs;
    let keys = 0;
    while (!this.finishedStream && keys < maxKeys && out.len < maxBytes) {
      const snap = this.dbs[this.cursor];
      if (snap === undefined) {
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
        out.byte(RdbOpcode.SelectDb);
        out.length(snap.id);
        out.byte(RdbOpcode.ResizeDb);
        out.length(snap.dict.size);
        out.length(snap.expires.size);
        if (snap.pending !== null) {
          out.bytes(snap.pending.view());
          snap.pending = null;
        }
        snap.iterator = snap.dict.entries();
      }
      const it = snap.iterator!;
      const written = snap.written;
      const expires = snap.expires;
      let exhausted = false;
      while (keys < maxKeys && out.len < maxBytes) {
        const next = it.next();
        if (next.done === true) {
          exhausted = true;
          break;
        }
        const [key, value] = next.value;
        if (written.has(key)) continue;
        written.add(key);
        out.keyValue(key, value, expires.size === 0 ? -1 : (expires.get(key) ?? -1));
        this.keysProcessed++;
        // Reading the clock costs more than a small key: check it every 64 keys.
        if ((++keys & 63) === 0 && performance.now() >= deadline) break;
      }
      if (exhausted) {
        snap.done = true;
        snap.written = new Set();
        snap.iterator = null;
        this.cursor++;
      }
      if (performance.now() >= deadline) break;
    }
    if (this.finishedStream && out.len > 0 && !this.trailerWritten) {
      // The CRC covers everything up to and including the EOF opcode.
      const body = out.take();
      this.crc.update(body);
      const trailer = this.opts.checksum ? this.crc.bytes() : Buffer.alloc(8);
      this.trailerWritten = true;
      this.bytesProduced += body.length + 8;
      return Buffer.concat([body, trailer]);
    }
    if (out.len === 0) return EMPTY;
    const chunk = out.take();
    this.crc.update(chunk);
    this.bytesProduced += chunk.length;
    return chunk;
  }

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

function emptyIterator(): Iterator<[string, RedisValue]> {
  return { next: () => ({ done: true, value: undefined }) };
}
