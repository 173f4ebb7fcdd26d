/**
 * RDB persistence for a server (rdb.c's non-codec half): SAVE and BGSAVE, save points, the
 * save on SHUTDOWN and after FLUSHALL, loading dump.rdb at start-up, DEBUG RELOAD, the INFO
 * persistence fields, and the bridge the AOF uses for RDB preambles.
 *
 * Saving always goes through a Snapshot (snapshot.ts). SAVE runs one to completion; BGSAVE
 * runs it in slices of a few milliseconds between which clients are served, writing each
 * slice to the temp file with an asynchronous write. Either way the file is written as
 * `temp-<pid>.rdb`, fsynced, then renamed over dump.rdb, so a crash never leaves a partial
 * dump.rdb behind.
 *
 * Loading at start-up reads the whole file and parses it in slices (loading.ts) while clients
 * get -LOADING, before the server reports "Ready to accept connections"; a corrupt or
 * truncated file (any damage in any value, whatever sanitize-dump-payload says: see
 * rdb-decode.ts) aborts start-up with Redis's log lines. DEBUG RELOAD loads in one go. Function libraries (FUNCTION2 records) go through `setRdbFunctions`, which the
 * scripting module installs.
 */
import { idleMs, lfuCounter, restoredAccess } from '../keyspace/access.js';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Server } from '../server/server.js';
import type { Logger } from '../server/log.js';
import type { Client } from '../server/client.js';
import type { CommandSpec } from '../server/command-table.js';
import type { Database } from '../keyspace/db.js';
import type { RedisValue } from '../types/value.js';
import { Snapshot, type SnapshotOptions } from './snapshot.js';
import type { EncodeOptions } from './rdb-encode.js';
import { RdbFormatError } from './bytes.js';
import { parseRdbSteps, RdbLoadError, type LoadLimits, type RdbFeed } from './rdb-decode.js';
import { runSliced, runToEnd, startLoading, stopLoading } from './loading.js';
import { setInfoField } from '../server/info-fields.js';
import { debugHooks, debugTunables } from '../server/debug-hooks.js';
import { dumpPayload } from './rdb-encode.js';
import { invariantFailed } from '../server/executor.js';
import { setRdbBridge, aofOf, aofEnabledAtStartup } from './aof.js';
import { ChildHandle, SIGUSR1_NUMBER } from './child-handle.js';
import { JobPacer } from './job-pacer.js';

/** What the scripting module supplies so function libraries travel in RDB files. */
export interface RdbFunctions {
  /** Source code of every library (FUNCTION2 records, in order). */
  libraries(): string[];
  /** Loads one library from a file; returns an error text or null. */
  load(code: string, replace: boolean): string | null;
  /** Drops every library (emptyData without EMPTYDB_NOFUNCTIONS, e.g. DEBUG RELOAD). */
  flush?(): void;
}

const functionProviders = new WeakMap<Server, RdbFunctions>();

/** Installed by the scripting module: function libraries are saved and loaded with the RDB. */
export function setRdbFunctions(server: Server, provider: RdbFunctions): void {
  functionProviders.set(server, provider);
}

/** Drops every function library (emptyData without EMPTYDB_NOFUNCTIONS: a replica's full sync). */
export function flushRdbFunctions(server: Server): void {
  functionProviders.get(server)?.flush?.();
}

/** What replication stores in and reads from the RDB's AUX fields (rdbPopulateSaveInfo). */
export interface RdbReplicationInfo {
  /** repl-stream-db / repl-id / repl-offset to save, or null when there is nothing to save. */
  save(): [string, string][] | null;
  /** An AUX field of a file loaded at start-up or from a master. */
  loaded(name: string, value: string): void;
  /** A key a master skipped as already expired while loading at start-up (fed as a DEL). */
  expired?(dbId: number, key: string): void;
}

const replicationInfo = new WeakMap<Server, RdbReplicationInfo>();

/** Installed by the replication module (partial resync after a restart). */
export function setRdbReplicationInfo(server: Server, provider: RdbReplicationInfo): void {
  replicationInfo.set(server, provider);
}

/** Delay between retries of a failed automatic BGSAVE (CONFIG_BGSAVE_RETRY_DELAY). */
const BGSAVE_RETRY_DELAY_MS = 5000;
/** Bytes a snapshot gathers before one write (fewer, larger writes through the thread pool). */
const WRITE_MIN_BYTES = 256 * 1024;
/** Slice length of the final save of a shutdown (nothing else runs but signal handlers). */
const FINAL_SAVE_SLICE_MS = 50;
/** Slice length when rdb-key-save-delay paces a snapshot (the tests' slow saves). */
const DELAYED_SLICE_MS = 4;

interface BackgroundSave {
  snapshot: Snapshot;
  tmpPath: string;
  startedAt: number;
  aborted: boolean;
  /** The signal that ended an aborted job (SIGUSR1: stopped by the server itself). */
  signal: number;
  /** The fork child's stand-in (child-handle.ts). */
  child: ChildHandle;
  done: Promise<void>;
}

/** Writes the whole chunk (a write may take part of it). */
async function writeAll(fh: fs.promises.FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** A load's outcome, for INFO and the start-up log. */
export interface LoadStats {
  keysLoaded: number;
  keysExpired: number;
  /** Keys whose value loaded empty (skipped, as Redis does since #8453). */
  emptyKeysSkipped: number;
}

/** rdbLoadRio's closing line (a warning when empty keys were skipped). */
export function logLoadDone(log: Logger, stats: LoadStats): void {
  if (stats.emptyKeysSkipped > 0) {
    log.warning(`Done loading RDB, keys loaded: ${stats.keysLoaded}, keys expired: ${stats.keysExpired}, empty keys skipped: ${stats.emptyKeysSkipped}.`);
  } else {
    log.notice(`Done loading RDB, keys loaded: ${stats.keysLoaded}, keys expired: ${stats.keysExpired}.`);
  }
}

/** redis-check-rdb's names for object types (rdb_type_string). */
const RDB_TYPE_NAMES = [
  'string', 'list-linked', 'set-hashtable', 'zset-v1', 'hash-hashtable', 'zset-v2', 'module-value', '', '',
  'hash-zipmap', 'list-ziplist', 'set-intset', 'zset-ziplist', 'hash-ziplist', 'quicklist', 'stream',
  'hash-listpack', 'zset-listpack', 'quicklist-v2',
];

/** What rdbSaveKeyValuePair adds per key: IDLE under allkeys-lru/volatile-lru, FREQ under an LFU policy. */
/**
 * A load into databases that are not yet the server's (a replica's full sync parsed while the
 * image arrives, replication/rdb-transfer.ts): the image's feed, the databases the keys go to,
 * and what the image holds that touches the live server (AUX fields, function libraries), kept
 * in order for when the load is made live.
 */
export interface StagedLoad {
  readonly dbs: Database[];
  readonly feed: RdbFeed;
  readonly aux: [string, string][];
  readonly functions: string[];
}

function savedAccess(s: Server): SnapshotOptions['access'] {
  const policy = s.config.getString('maxmemory-policy');
  if (policy.endsWith('-lfu')) return { lfu: true, value: (r) => lfuCounter(s.access, r) };
  if (policy.endsWith('-lru')) return { lfu: false, value: (r) => Math.floor(idleMs(s.access, r) / 1000) };
  return undefined;
}

/** What a filtered snapshot leaves out (REPLCONF rdb-filter-only: redis-cli --functions-rdb). */
export interface RdbFilter {
  excludeData: boolean;
  excludeFunctions: boolean;
}

export class RdbPersistence {
  /** Save points from `save`: [seconds, changes]. */
  savePoints: [number, number][] = [];
  bgsave: BackgroundSave | null = null;
  /** Full-sync snapshots being streamed to replicas (Redis's RDB child for sockets). */
  replicationTransfers = 0;
  /** Their child handles, so FLUSHALL can stop them as Redis's killRDBChild does. */
  readonly transferChildren = new Set<ChildHandle>();
  /**
   * Background snapshots started (BGSAVE, AOF rewrite, full sync): what Redis counts as
   * total_forks, the number tools and tests watch to see a background job begin.
   */
  backgroundJobs = 0;
  private bgsaveSeq = 0;
  bgsaveScheduled = false;
  lastBgsaveOk = true;
  lastBgsaveTry = 0;
  lastBgsaveTimeSec = -1;
  saves = 0;
  /** Copy-on-write bytes of the last successful RDB job, BGSAVE or full sync (rdb_last_cow_size). */
  lastRdbCowBytes = 0;
  /** Copy-on-write bytes of the last successful AOF rewrite's snapshot (aof_last_cow_size). */
  lastAofCowBytes = 0;
  lastLoad: LoadStats = { keysLoaded: 0, keysExpired: 0, emptyKeysSkipped: 0 };
  /** Every snapshot in progress (BGSAVE, AOF rewrite, replicas' full syncs). */
  readonly snapshots = new Set<Snapshot>();

  constructor(readonly server: Server) {
    server.config.watch('save', (v) => {
      const words = String(v).split(/\s+/).filter((w) => w !== '');
      const points: [number, number][] = [];
      for (let i = 0; i + 1 < words.length; i += 2) points.push([Number(words[i]), Number(words[i + 1])]);
      this.savePoints = points;
    });
  }

  /** dbfilename in dir (the process's working directory: `dir` chdirs). */
  filePath(): string {
    return path.resolve(this.server.config.getString('dbfilename'));
  }

  encodeOptions(): EncodeOptions {
    const cfg = this.server.config;
    return {
      compress: cfg.getBool('rdbcompression'),
      listMaxListpackSize: cfg.getNumber('list-max-listpack-size'),
      packedThreshold: debugTunables.quicklistPackedThreshold,
    };
  }

  loadLimits(): LoadLimits {
    const limits = this.server.limits;
    return { hash: limits.hash, set: limits.set, zset: limits.zset, stream: limits.stream };
  }

  snapshotOptions(extraAux: [string, string][] = []): SnapshotOptions {
    const s = this.server;
    const aux: [string, string][] = [
      ['redis-ver', '7.0.15'],
      ['redis-bits', '64'],
      ['ctime', String(Math.floor(s.clock.now() / 1000))],
      ['used-mem', String(s.usedMemory())],
      ...(extraAux.some(([k]) => k === 'repl-id') ? [] : (replicationInfo.get(s)?.save() ?? [])),
      ...extraAux,
    ];
    if (!extraAux.some(([k]) => k === 'aof-base')) aux.push(['aof-base', '0']);
    return {
      encode: this.encodeOptions(),
      checksum: s.config.getBool('rdbchecksum'),
      aux,
      functions: functionProviders.get(s)?.libraries() ?? [],
      access: savedAccess(s),
    };
  }

  // ---- snapshots and copy-on-write -------------------------------------------------------------

  /** Starts a snapshot of the dataset now; it sees every later change only as copy-on-write. */
  startSnapshot(extraAux: [string, string][] = [], format: Pick<SnapshotOptions, 'format' | 'aofTimestamp'> = {}, filter: RdbFilter | null = null): Snapshot {
    const opts = { ...this.snapshotOptions(extraAux), ...format };
    if (filter?.excludeFunctions === true) opts.functions = [];
    const snap = new Snapshot(filter?.excludeData === true ? [] : this.server.dbs, opts);
    this.snapshots.add(snap);
    this.installHooks();
    return snap;
  }

  endSnapshot(snap: Snapshot): void {
    this.snapshots.delete(snap);
    if (this.snapshots.size === 0) this.removeHooks();
  }

  /**
   * INFO current_cow_size (and current_cow_peak): what the running jobs copied because writes
   * reached keys first (Snapshot.copiedBytes). It only grows during a job, like a fork child's
   * copied pages, so the peak is the same figure.
   */
  currentCowBytes(): number {
    let bytes = 0;
    for (const s of this.snapshots) bytes += s.copiedBytes;
    return bytes;
  }

  private readonly beforeChange = (db: Database, key: string): void => {
    for (const s of this.snapshots) s.beforeKeyChange(db, key);
  };

  private readonly beforeWrite = (c: Client, spec: CommandSpec): void => {
    // FLUSHALL kills a BGSAVE in Redis (the child would save data that no longer exists).
    if (spec.fullName === 'flushall' && this.bgsave !== null) this.abortBgsave('flushall');
    if (this.snapshots.size === 0) return;
    let keys: number[];
    try {
      keys = spec.getKeys(c.argv);
    } catch {
      return;
    }
    for (const i of keys) {
      const key = c.argv[i];
      if (key !== undefined) this.beforeChange(c.db, key);
    }
  };

  private hooksInstalled = false;

  /** After each change to a key while snapshots run: was it copied first? (verifyKeyChanged) */
  private readonly afterKeyChange = (dbId: number, key: string): void => {
    const db = this.server.dbs[dbId];
    if (db === undefined) return;
    for (const s of this.snapshots) {
      if (!s.verifyKeyChanged(db, key)) invariantFailed(this.server, `key '${key}' of db ${dbId} changed during a snapshot before it was copied; the snapshot is abandoned`);
    }
  };

  private installHooks(): void {
    if (this.hooksInstalled) return;
    this.hooksInstalled = true;
    for (const db of this.server.dbs) {
      db.beforeChange = this.beforeChange;
      // updateDictResizePolicy: Redis's tables avoid growing while a child runs.
      db.dict.resizeAllowed = db.expires.resizeAllowed = false;
    }
    this.server.hooks.beforeWrite = this.beforeWrite;
    this.server.hooks.keyModified.push(this.afterKeyChange);
  }

  private removeHooks(): void {
    if (!this.hooksInstalled) return;
    this.hooksInstalled = false;
    for (const db of this.server.dbs) {
      db.beforeChange = null;
      db.dict.resizeAllowed = db.expires.resizeAllowed = true;
    }
    const i = this.server.hooks.keyModified.indexOf(this.afterKeyChange);
    if (i >= 0) this.server.hooks.keyModified.splice(i, 1);
    // FLUSHALL must still abort a BGSAVE whose snapshot already finished producing.
    this.server.hooks.beforeWrite = null;
  }

  /** FLUSHDB/FLUSHALL are about to empty a database: snapshots write out what they still need. */
  beforeDbFlush(dbId: number): void {
    const db = this.server.dbs[dbId];
    if (db === undefined) return;
    for (const s of this.snapshots) s.beforeDbFlush(db);
  }

  // ---- SAVE ----------------------------------------------------------------------------------

  /** rdbSave: a foreground save. Returns false (and logs) on failure. */
  saveSync(): boolean {
    const file = this.filePath();
    const tmp = path.join(path.dirname(file), `temp-${process.pid}.rdb`);
    const snap = this.startSnapshot();
    let chunks: Buffer[];
    try {
      chunks = snap.runToEnd();
    } finally {
      this.endSnapshot(snap);
    }
    try {
      const fd = fs.openSync(tmp, 'w');
      try {
        for (const c of chunks) fs.writeSync(fd, c);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      this.server.log.warning(`Failed opening the temp RDB file ${path.basename(tmp)} (in server root dir ${process.cwd()}) for saving: ${err.message}`);
      try {
        fs.unlinkSync(tmp);
      } catch {
        // nothing to clean up
      }
      return false;
    }
    this.server.log.notice('DB saved on disk');
    this.server.dirtySaved(this.server.dirty);
    this.server.lastSave = this.server.clock.now();
    this.lastBgsaveOk = true;
    this.saves++;
    return true;
  }

  // ---- BGSAVE --------------------------------------------------------------------------------

  /** True when another snapshot user (an AOF rewrite) is running (hasActiveChildProcess). */
  otherChildActive(): boolean {
    return aofOf(this.server)?.rewriteInProgress === true;
  }

  /** rdbSaveBackground: starts a background save; returns false if it could not start. */
  startBgsave(): boolean {
    const server = this.server;
    if (this.bgsave !== null) return false;
    const file = this.filePath();
    this.lastBgsaveTry = server.clock.now();
    const dirtyAtStart = server.dirty;
    this.backgroundJobs++;
    const snap = this.startSnapshot();
    const job: BackgroundSave = { snapshot: snap, tmpPath: '', startedAt: server.clock.now(), aborted: false, signal: SIGUSR1_NUMBER, child: ChildHandle.start(server, 'rdb-bgsave', (signal) => this.childKilled(job, signal)), done: Promise.resolve() };
    // temp-<child pid>.rdb as Redis's child names it; one name per job either way, so an
    // aborted job's late cleanup never removes its successor's file.
    job.tmpPath = path.join(path.dirname(file), job.child.running ? `temp-${job.child.pid}.rdb` : `temp-bg-${process.pid}-${++this.bgsaveSeq}.rdb`);
    this.bgsave = job;
    server.log.notice(`Background saving started by pid ${job.child.pid}`);
    job.done = this.runBackground(job, file).then(
      (ok) => this.finishBgsave(job, ok, dirtyAtStart),
      () => this.finishBgsave(job, false, dirtyAtStart),
    );
    return true;
  }

  private async runBackground(job: BackgroundSave, file: string): Promise<boolean> {
    const snap = job.snapshot;
    let fh: fs.promises.FileHandle | null = null;
    try {
      fh = await fs.promises.open(job.tmpPath, 'w');
      const out = fh;
      if (!(await this.drive(snap, (chunk) => writeAll(out, chunk), () => job.aborted))) return false;
      this.endSnapshot(snap);
      await fh.sync();
      await fh.close();
      fh = null;
      if (job.aborted) return false;
      await fs.promises.rename(job.tmpPath, file);
      this.server.log.notice('DB saved on disk');
      return true;
    } catch (e) {
      this.server.log.warning(`Write error saving DB on disk: ${(e as Error).message}`);
      return false;
    } finally {
      this.endSnapshot(snap);
      if (fh !== null) await fh.close().catch(() => undefined);
      if (job.aborted) await fs.promises.unlink(job.tmpPath).catch(() => undefined);
    }
  }

  private finishBgsave(job: BackgroundSave, ok: boolean, dirtyAtStart: number): void {
    if (this.bgsave !== job) return;
    this.bgsave = null;
    job.child.end();
    const server = this.server;
    this.lastBgsaveTimeSec = Math.floor((server.clock.now() - job.startedAt) / 1000);
    if (ok) {
      this.lastRdbCowBytes = job.snapshot.copiedBytes;
      server.log.notice('Background saving terminated with success');
      server.dirtySaved(dirtyAtStart);
      server.lastSave = server.clock.now();
      this.lastBgsaveOk = true;
      this.saves++;
    } else {
      if (job.aborted) {
        // rdbRemoveTempFile: at once, so a SHUTDOWN that follows leaves nothing behind.
        try {
          fs.unlinkSync(job.tmpPath);
        } catch {
          // not created yet
        }
        server.log.warning(`Background saving terminated by signal ${job.signal}`);
        // SIGUSR1 (the server stopping its own save) is not an error for
        // stop-writes-on-bgsave-error; any other signal is (rdb_last_bgsave_status:err).
        if (job.signal !== SIGUSR1_NUMBER) this.lastBgsaveOk = false;
      } else {
        fs.promises.unlink(job.tmpPath).catch(() => undefined);
        server.log.warning('Background saving error');
        this.lastBgsaveOk = false;
      }
    }
    for (const w of this.bgsaveWaiters.splice(0)) w(ok);
  }

  /** Resolved when the running BGSAVE ends (true if it succeeded). */
  private readonly bgsaveWaiters: ((ok: boolean) => void)[] = [];

  waitBgsave(): Promise<boolean> {
    if (this.bgsave === null) return Promise.resolve(this.lastBgsaveOk);
    return new Promise((resolve) => this.bgsaveWaiters.push(resolve));
  }

  /** The job's child handle died by `signal` (kill -9 by an operator, the OOM killer). */
  private childKilled(job: BackgroundSave, signal: number): void {
    if (this.bgsave !== job) return;
    job.aborted = true;
    job.signal = signal;
    this.endSnapshot(job.snapshot);
    this.finishBgsave(job, false, 0);
  }

  /** killRDBChild: stops a BGSAVE; its temp file is removed. */
  abortBgsave(why: string): void {
    const job = this.bgsave;
    if (job === null) return;
    this.server.log.verbose(`Killing the background save (${why})`);
    job.aborted = true;
    this.endSnapshot(job.snapshot);
    this.finishBgsave(job, false, 0);
  }

  /** serverCron's part: save points and scheduled BGSAVEs. */
  cron(): void {
    const server = this.server;
    if (this.bgsave !== null || this.otherChildActive()) return;
    const now = server.clock.now();
    if (this.bgsaveScheduled) {
      this.bgsaveScheduled = false;
      this.startBgsave();
      return;
    }
    for (const [seconds, changes] of this.savePoints) {
      if (
        server.dirty >= changes &&
        now - server.lastSave > seconds * 1000 &&
        (now - this.lastBgsaveTry > BGSAVE_RETRY_DELAY_MS || this.lastBgsaveOk)
      ) {
        server.log.notice(`${changes} changes in ${seconds} seconds. Saving...`);
        this.startBgsave();
        return;
      }
    }
  }

  // ---- loading ---------------------------------------------------------------------------------

  /**
   * Loads an RDB image into the databases (which the caller emptied or merges into). With
   * `allowDup` a key already present is replaced (DEBUG RELOAD MERGE); otherwise a duplicate
   * is an error. Keys already expired are skipped on a master. Returns the bytes consumed.
   */
  loadImage(buf: Buffer, opts: { allowDup: boolean; logAux: boolean } = { allowDup: false, logAux: false }): { end: number; stats: LoadStats } {
    return runToEnd(this.loadImageSteps(buf, opts), this.server);
  }

  /**
   * loadImage one key per step (each yields the offset reached), for sliced loading. With
   * `staged` the keys go into its databases instead of the server's, the image is read from its
   * feed as it arrives (RDB_WAIT while it waits), and the AUX fields and function libraries are
   * held in it for the caller to apply (applyAux, applyFunction) when it makes the load live.
   */
  *loadImageSteps(
    buf: Buffer,
    opts: { allowDup: boolean; logAux: boolean },
    staged: StagedLoad | null = null,
  ): Generator<number, { end: number; stats: LoadStats }> {
    const server = this.server;
    const stats: LoadStats = { keysLoaded: 0, keysExpired: 0, emptyKeysSkipped: 0 };
    const isMaster = !server.role.isReplica();
    const now = server.clock.now();
    const dbs = staged?.dbs ?? server.dbs;
    const result = yield* parseRdbSteps(
      buf,
      {
        selectDb: (id) => {
          if (id >= dbs.length) {
            throw new RdbLoadError(`FATAL: Data file was created with a Redis server configured to handle more than ${dbs.length} databases. Exiting\n`);
          }
        },
        aux: (name, value) => {
          if (staged !== null) staged.aux.push([name, value]);
          else this.applyAux(name, value, opts.logAux, now);
        },
        functionCode: (code) => {
          if (staged !== null) staged.functions.push(code);
          else this.applyFunction(code, opts.allowDup);
        },
        key: (dbId, key, value: RedisValue, expireMs, lfuFreq, lruIdle) => {
          if (isMaster && expireMs !== -1 && expireMs < now) {
            stats.keysExpired++;
            if (opts.logAux) replicationInfo.get(server)?.expired?.(dbId, key);
            return;
          }
          const db = dbs[dbId]!;
          if (db.dict.has(key)) {
            if (!opts.allowDup) throw new RdbFormatError(`RDB has duplicated key '${key}' in DB ${dbId}`);
            db.delete(key);
          }
          db.load(key, value, expireMs, restoredAccess(server.access, lfuFreq, lruIdle) ?? undefined);
          stats.keysLoaded++;
        },
        emptyKey: (_dbId, key) => {
          if (stats.emptyKeysSkipped++ < 10) server.log.warning(`rdbLoadObject skipping empty key: ${key}`);
        },
      },
      this.loadLimits(),
      server.config.getBool('rdbchecksum') && !debugTunables.skipChecksumValidation,
      staged?.feed ?? null,
    );
    return { end: result.end, stats };
  }

  /** An AUX field of a loaded image: the replication metadata, and the log lines Redis prints. */
  applyAux(name: string, value: string, logAux: boolean, now = this.server.clock.now()): void {
    if (!logAux) return;
    const server = this.server;
    replicationInfo.get(server)?.loaded(name, value);
    if (name === 'redis-ver') server.log.notice(`Loading RDB produced by version ${value}`);
    else if (name === 'ctime') {
      const age = Math.floor(now / 1000) - Number(value);
      server.log.notice(`RDB age ${age < 0 ? 0 : age} seconds`);
    } else if (name === 'used-mem') server.log.notice(`RDB memory usage when created ${(Number(value) / (1024 * 1024)).toFixed(2)} Mb`);
  }

  /** A FUNCTION2 record of a loaded image: the library, loaded (a failure refuses the image). */
  applyFunction(code: string, allowDup: boolean): void {
    const functions = functionProviders.get(this.server);
    if (functions === undefined) {
      this.server.log.warning('The RDB file contains functions, which this server cannot load; skipping them');
      return;
    }
    const err = functions.load(code, allowDup);
    if (err !== null) throw new RdbFormatError(`Failed loading library: ${err}`);
  }

  /** Reads and loads dump.rdb; 'missing' when there is none. Throws RdbLoadError/RdbFormatError. */
  loadFile(file: string, allowDup: boolean, logAux: boolean): LoadStats | 'missing' {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw e;
    }
    const { stats } = this.loadImage(buf, { allowDup, logAux });
    this.lastLoad = stats;
    logLoadDone(this.server.log, stats);
    return stats;
  }

  /**
   * Start-up: load dump.rdb (unless the AOF is the source of truth); exit on corruption. The
   * load runs in slices: clients connect meanwhile and get -LOADING (loading.ts).
   */
  async loadAtStartup(): Promise<void> {
    const server = this.server;
    if (aofEnabledAtStartup(server)) return;
    const start = performance.now();
    const file = this.filePath();
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.reportLoadFailure(e);
      process.exit(1);
    }
    // LOADING from here on: clients served while the file is read already see it.
    startLoading(server, size);
    try {
      const buf = await fs.promises.readFile(file);
      const { stats } = await runSliced(server, this.loadImageSteps(buf, { allowDup: false, logAux: true }));
      this.lastLoad = stats;
      logLoadDone(server.log, stats);
      server.log.notice(`DB loaded from disk: ${((performance.now() - start) / 1000).toFixed(3)} seconds`);
      server.lastSave = server.clock.now();
    } catch (e) {
      this.reportLoadFailure(e);
      process.exit(1);
    } finally {
      stopLoading(server);
    }
  }

  /** Logs a failed load the way Redis does. */
  reportLoadFailure(e: unknown): void {
    const log = this.server.log;
    if (e instanceof RdbLoadError) {
      log.warning(e.message);
      if (e.corruption !== null) {
        log.warning(`Internal error in RDB reading offset 0, function at rdb.c:0 -> ${e.corruption}`);
        log.warning('Terminating server after rdb file reading failure.');
      }
      return;
    }
    if (e instanceof RdbFormatError) {
      if (e.message.startsWith('Unexpected EOF')) {
        log.warning('Short read or OOM loading DB. Unrecoverable error, aborting now.');
      }
      const line = `Internal error in RDB reading offset 0, function at rdb.c:0 -> ${e.message}`;
      log.warning(line);
      // What redis-check-rdb (which Redis runs on a corrupt file) reports about the failure.
      const ctx = e.context;
      if (ctx !== null) {
        log.raw(
          '--- RDB ERROR DETECTED ---\n' +
          `[offset ${ctx.offset}] ${line}\n` +
          '[additional info] While doing: read-object-value\n' +
          `[additional info] Reading key '${ctx.key}'\n` +
          `[additional info] Reading type ${ctx.type} (${RDB_TYPE_NAMES[ctx.type] ?? 'unknown'})\n`,
        );
      }
      log.warning('Terminating server after rdb file reading failure.');
      return;
    }
    const err = e as NodeJS.ErrnoException;
    log.warning(`Fatal error loading the DB: ${err.code === 'EACCES' ? 'Permission denied' : err.message}. Exiting.`);
  }

  /** DEBUG RELOAD: save (optionally), empty (optionally), load dump.rdb back. */
  debugReload(opts: { merge: boolean; flush: boolean; save: boolean }): string | null {
    const server = this.server;
    if (opts.save) {
      this.abortBgsave('debug reload');
      if (!this.saveSync()) return 'ERR Error trying to save the DB';
    }
    if (opts.flush) {
      this.abortBgsave('debug reload');
      for (const db of server.dbs) {
        server.signalDbTouched(db.id);
        db.clear();
      }
      functionProviders.get(server)?.flush?.();
      server.invalidateUsedMemory();
    }
    // LOADING for the other clients served between slices (runToEnd).
    let size = 0;
    try {
      size = fs.statSync(this.filePath()).size;
    } catch {
      // loadFile reports the missing file
    }
    startLoading(server, size);
    try {
      const r = this.loadFile(this.filePath(), opts.merge, false);
      if (r === 'missing') throw new Error('No such file or directory');
    } catch (e) {
      this.reportLoadFailure(e);
      return 'ERR Error trying to load the RDB dump, check server logs.';
    } finally {
      stopLoading(server);
    }
    return null;
  }

  /** SHUTDOWN's save (and killing a BGSAVE in progress). */
  onShutdown(opts: { save: boolean | null; force: boolean }): boolean | Promise<boolean> {
    if (this.bgsave !== null) {
      this.server.log.warning('There is a child saving an .rdb. Killing it!');
      this.abortBgsave('shutdown');
    }
    // Never save a half-loaded dataset (prepareForShutdown turns SAVE into NOSAVE).
    const save = !this.server.loading && (opts.save === true || (opts.save === null && this.savePoints.length > 0));
    if (!save) return true;
    this.server.log.notice('Saving the final RDB snapshot before exiting.');
    return this.saveBeforeExit().then((ok) => {
      if (!ok) this.server.log.warning('Error trying to save the DB, can\'t exit.');
      return ok;
    });
  }

  /**
   * The final save of a shutdown: a foreground save as Redis's (temp-<pid>.rdb, renamed over
   * dump.rdb), run in slices so the process still takes signals (a second SIGINT exits at once)
   * while no write can slip in: writes are paused until the process exits, or until the
   * shutdown fails and the server carries on.
   */
  private async saveBeforeExit(): Promise<boolean> {
    const server = this.server;
    const pausedHere = server.pause.mode === null;
    if (pausedHere) server.pauseClients('write', 2 ** 31 - 1);
    const file = this.filePath();
    const tmp = path.join(path.dirname(file), `temp-${process.pid}.rdb`);
    const snap = this.startSnapshot();
    let ok = false;
    try {
      let fh: fs.promises.FileHandle;
      try {
        fh = await fs.promises.open(tmp, 'w');
      } catch (e) {
        server.log.warning(`Failed opening the temp RDB file ${path.basename(tmp)} (in server root dir ${process.cwd()}) for saving: ${(e as Error).message}`);
        return false;
      }
      try {
        // Long slices: the server only waits for this save (writes are paused), but signals
        // still get a turn between slices.
        await this.drive(snap, (chunk) => writeAll(fh, chunk), () => false, FINAL_SAVE_SLICE_MS);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await fs.promises.rename(tmp, file);
      } catch (e) {
        server.log.warning(`Error moving temp DB file ${path.basename(tmp)} on the final destination ${path.basename(file)} (in server root dir ${process.cwd()}): ${(e as Error).message}`);
        await fs.promises.unlink(tmp).catch(() => undefined);
        return false;
      }
      ok = true;
    } catch (e) {
      server.log.warning(`Write error saving DB on disk: ${(e as Error).message}`);
      await fs.promises.unlink(tmp).catch(() => undefined);
      return false;
    } finally {
      this.endSnapshot(snap);
      if (pausedHere && !ok) server.unpauseClients();
    }
    server.log.notice('DB saved on disk');
    // Writes were paused for the whole save: everything counted so far is in the file.
    server.dirtySaved(server.dirty);
    server.lastSave = server.clock.now();
    this.lastBgsaveOk = true;
    this.saves++;
    return true;
  }

  /**
   * Runs a snapshot in slices sized by a JobPacer (or of `sliceMs`), handing each slice's bytes to `write`. While
   * one chunk's write (a promise) runs, the next chunk is produced; it is handed over once that
   * write is done (backpressure: at most one write in flight, two chunks in memory). Paced by rdb-key-save-delay (µs per
   * key, as the tests use it to make saves slow). Returns false if `stopped()` turned true.
   */
  async drive(snap: Snapshot, write: (chunk: Buffer) => Promise<unknown> | void, stopped: () => boolean, sliceMs: number | null = null): Promise<boolean> {
    const server = this.server;
    const stats = server.stats;
    // How long each slice is, or none this turn (clients first: job-pacer.ts).
    const pacer = new JobPacer(() => performance.now(), () => stats.totalCommands);
    let deferred = false;
    /** The chunk being written while the next slice runs (at most one). */
    let inflight: PromiseLike<unknown> | null = null;
    try {
      while (!snap.complete) {
        if (stopped()) return false;
        // Replies first: the flush of the commands served this turn is queued behind this
        // callback, so a slice now would hold every reply back by its length. Yield once (not
        // twice in a row, or a steady stream of commands would hold the job off for ever).
        if (!deferred && server.flushPending) {
          deferred = true;
          await yieldToLoop();
          continue;
        }
        deferred = false;
        const delayUs = this.server.config.getNumber('rdb-key-save-delay');
        let chunk: Buffer;
        if (delayUs > 0) {
          const keys = Math.max(1, Math.floor((DELAYED_SLICE_MS * 1000) / delayUs));
          chunk = snap.step(DELAYED_SLICE_MS, keys);
          await sleep(Math.max(1, (keys * delayUs) / 1000));
        } else {
          const budget = sliceMs ?? pacer.next();
          if (budget === 0) {
            // Clients have the thread this turn (over the job's share while they are active).
            if (pacer.restMs > 0) await nextFlushOrRest(server, pacer.restMs);
            else await yieldToLoop();
            continue;
          }
          const t0 = performance.now();
          chunk = snap.step(budget, Infinity, 8 << 20, WRITE_MIN_BYTES);
          pacer.spent(performance.now() - t0);
        }
        if (stopped()) return false;
        if (chunk.length > 0) {
          // One write at a time, in order: the previous chunk's must be done before this one's
          // starts (the sinks are sequential, and it bounds the memory to two chunks).
          if (inflight !== null) await inflight;
          inflight = null;
          if (stopped()) return false;
          const pending = write(chunk);
          if (pending !== undefined) {
            // Not awaited here: the next slice is produced while this chunk is written (on the
            // thread pool or into the socket), instead of the job idling for each write's round
            // trip (most of an idle BGSAVE's wall time). A failure surfaces at the next await.
            inflight = pending;
            pending.then(undefined, () => undefined);
          }
        }
        // The loop's turn for clients before the next slice. While clients are active and this
        // slice spent the job's share, that turn is the rest itself: yielding first only to be
        // told there is no slice cost a loop turn (a poll, an Immediate, a promise) per slice,
        // about one per command of a client sending one at a time (jobs7).
        if (pacer.shareSpent() && delayUs <= 0 && sliceMs === null && pacer.restMs > 0) await nextFlushOrRest(server, pacer.restMs);
        else await yieldToLoop();
      }
      if (inflight !== null) await inflight;
      inflight = null;
      return true;
    } finally {
      // A job that stopped or failed still lets its last write finish before the caller
      // closes or removes what it wrote to.
      if (inflight !== null) await inflight.then(undefined, () => undefined);
    }
  }

  /** The `#TS:` annotation an AOF-format BASE starts with (aof-timestamp-enabled), or null. */
  aofTimestamp(): number | null {
    return this.server.config.getBool('aof-timestamp-enabled') ? Math.floor(this.server.clock.now() / 1000) : null;
  }

  /**
   * For the AOF BASE: a snapshot taken now, streamed into `write` in slices, as an RDB image
   * (aof-use-rdb-preamble) or as AOF commands.
   */
  async writeSnapshot(
    write: (chunk: Buffer) => Promise<unknown> | void,
    format: 'rdb' | 'aof',
    stopped: () => boolean,
  ): Promise<boolean> {
    this.backgroundJobs++;
    const snap =
      format === 'rdb'
        ? this.startSnapshot([['aof-base', '1']])
        : this.startSnapshot([], {
            format: 'aof',
            aofTimestamp: this.aofTimestamp(),
          });
    try {
      const complete = await this.drive(snap, write, stopped);
      if (complete) this.lastAofCowBytes = snap.copiedBytes;
      return complete;
    } finally {
      this.endSnapshot(snap);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Resolves after the next turn that flushed replies, or after `ms`: the job waits for its share
 * with the thread asleep in the poll instead of spinning through setImmediate (each spin turn
 * allocated a promise and an Immediate: tens of MB/s of garbage, a scavenge every ~0.3 s, and
 * a core kept busy that the clients on a 2-core machine needed).
 */
function nextFlushOrRest(server: Server, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      withdraw();
      resolve();
    }, ms);
    const withdraw = server.afterNextFlush(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const instances = new WeakMap<Server, RdbPersistence>();

/** The RDB persistence of a server (after install). */
export function rdbOf(server: Server): RdbPersistence | undefined {
  return instances.get(server);
}

export function install(server: Server): RdbPersistence {
  const p = new RdbPersistence(server);
  instances.set(server, p);
  server.hooks.cron.push(() => p.cron());
  server.hooks.dbTouched.push((dbId, swappedWith) => {
    // Before FLUSHDB/FLUSHALL empties a db (no partner): write out what snapshots still need.
    if (swappedWith === undefined) p.beforeDbFlush(dbId);
  });
  server.hooks.flushedAll.push(() => {
    p.abortBgsave('flushall');
    // A full sync's RDB child too: its replicas are dropped and sync again (flushallCommand).
    for (const child of p.transferChildren) child.signal('SIGUSR1');
    // Like flushAllDataAndResetRDB: a save (when save points exist) resets dirty; no extra bump.
    if (p.savePoints.length > 0) p.saveSync();
  });
  server.hooks.shutdown.push((opts) => p.onShutdown(opts));
  // A command that threw after changing a key propagates the key's whole state (commandThrew).
  server.hooks.keyStateCommands = (key, value, expireAt) => {
    const payload = dumpPayload(value, p.encodeOptions());
    return [['RESTORE', key, expireAt === -1 ? '0' : String(expireAt), payload.latin1Slice(0, payload.length), 'REPLACE', 'ABSTTL']];
  };
  // stop-writes-on-bgsave-error: writes (and PING) are refused while the last BGSAVE failed
  // (server/admission.ts decides which commands the error applies to).
  const laterDiskError = server.hooks.diskWriteError;
  server.hooks.diskWriteError = () => {
    if (p.lastBgsaveOk || p.savePoints.length === 0 || !server.config.getBool('stop-writes-on-bgsave-error')) return laterDiskError?.() ?? null;
    return "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
  };
  server.startupTasks.push(() => p.loadAtStartup());
  debugHooks.reload = (_c, opts) => p.debugReload(opts);
  setRdbBridge(server, {
    loadRdb: function* (_srv, buf) {
      const { end, stats } = yield* p.loadImageSteps(buf, { allowDup: false, logAux: true });
      p.lastLoad = stats;
      return end;
    },
    writeSnapshot: (_srv, write, format, stopped) => p.writeSnapshot(write, format, stopped),
    snapshotNow: (_srv, format) => {
      const snap = p.startSnapshot(format === 'rdb' ? [['aof-base', '1']] : [], format === 'rdb' ? {} : { format: 'aof', aofTimestamp: p.aofTimestamp() });
      try {
        return snap.runToEnd();
      } finally {
        p.endSnapshot(snap);
      }
    },
    snapshotBusy: () => p.bgsave !== null,
  });

  const now = (): number => server.clock.now();
  setInfoField(server, 'loading', () => (server.loading && !server.asyncLoading ? 1 : 0));
  setInfoField(server, 'async_loading', () => (server.asyncLoading ? 1 : 0));
  setInfoField(server, 'rdb_changes_since_last_save', () => server.dirty);
  setInfoField(server, 'total_forks', () => p.backgroundJobs);
  setInfoField(server, 'rdb_bgsave_in_progress', () => (p.bgsave !== null || p.replicationTransfers > 0 ? 1 : 0));
  setInfoField(server, 'rdb_last_save_time', () => Math.floor(server.lastSave / 1000));
  setInfoField(server, 'rdb_last_bgsave_status', () => (p.lastBgsaveOk ? 'ok' : 'err'));
  setInfoField(server, 'rdb_last_bgsave_time_sec', () => p.lastBgsaveTimeSec);
  setInfoField(server, 'rdb_current_bgsave_time_sec', () => (p.bgsave !== null ? Math.floor((now() - p.bgsave.startedAt) / 1000) : -1));
  setInfoField(server, 'rdb_saves', () => p.saves);
  setInfoField(server, 'rdb_last_load_keys_expired', () => p.lastLoad.keysExpired);
  setInfoField(server, 'rdb_last_load_keys_loaded', () => p.lastLoad.keysLoaded);
  setInfoField(server, 'current_cow_peak', () => p.currentCowBytes());
  setInfoField(server, 'current_cow_size', () => p.currentCowBytes());
  setInfoField(server, 'rdb_last_cow_size', () => p.lastRdbCowBytes);
  setInfoField(server, 'aof_last_cow_size', () => p.lastAofCowBytes);
  setInfoField(server, 'current_save_keys_processed', () => (p.bgsave !== null ? p.bgsave.snapshot.keysProcessed : 0));
  setInfoField(server, 'current_save_keys_total', () => (p.bgsave !== null ? p.bgsave.snapshot.keysTotal : 0));
  setInfoField(server, 'current_fork_perc', () => {
    const b = p.bgsave;
    if (b === null || b.snapshot.keysTotal === 0) return '0.00';
    return ((b.snapshot.keysProcessed / b.snapshot.keysTotal) * 100).toFixed(2);
  });
  return p;
}
