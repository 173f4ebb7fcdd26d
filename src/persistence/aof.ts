/**
 * The append-only file (Redis 7's multi-part AOF, aof.c).
 *
 * - Writes: the AOF is one PropagationTarget of the server's single propagation path, so it
 *   receives exactly the stream replicas get (minus replication-only commands), encoded as RESP
 *   with a SELECT whenever the database changes. Commands collect in `buffer` and are written
 *   with one write(2) just before the loop turn's replies go out (`hooks.beforeReplies`, Redis's
 *   beforeSleep → flushAppendOnlyFile). With `appendfsync always` the file is also fsynced
 *   there, so a reply is never sent for a write that is not on disk; `everysec` fsyncs from a
 *   timer without blocking the loop; `no` leaves it to the kernel.
 * - Files: `appenddirname` holds a BASE (snapshot) file, INCR files, and the manifest naming
 *   them (manifest.ts). A rewrite (BGREWRITEAOF, auto-rewrite, turning AOF on) first switches
 *   writes to a fresh INCR file, then writes a new BASE from a point-in-time snapshot of the
 *   dataset, and finally swaps the manifest atomically; the BASE and INCRs it replaced become
 *   HISTORY and are deleted.
 * - Snapshots come from the RDB module (`rdbBridge`): the BASE is its copy-on-write snapshot,
 *   produced in slices so clients keep running, as an RDB byte stream (aof-use-rdb-preamble)
 *   or as the commands that rebuild each key; writes meanwhile go to the new INCR file.
 * - Loading (start-up and DEBUG LOADAOF) is aof-loader.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from '../server/server.js';
import type { Client } from '../server/client.js';
import type { PropagationTarget } from '../server/propagate.js';
import { setInfoField } from '../server/info-fields.js';
import { debugHooks, debugTunables } from '../server/debug-hooks.js';
import { strerror } from '../config/directives.js';
import {
  AofManifest,
  ManifestError,
  loadManifest,
  persistManifest,
  tempIncrFileName,
} from './manifest.js';
import { AofStatus, loadAppendOnlyFiles, type RdbPrefixLoader } from './aof-loader.js';
import { loadingInfoLines, runSliced, runToEnd, startLoading, stopLoading } from './loading.js';
import { selectCommand, timestampAnnotation } from './aof-rewrite.js';
import { ChildHandle, SIGUSR1_NUMBER } from './child-handle.js';

/** What the AOF needs from the RDB module. Installed by it with `setRdbBridge`. */
export interface RdbBridge {
  /** Loads an RDB image at the start of `buf`; returns the bytes it used; throws if invalid. */
  loadRdb: RdbPrefixLoader;
  /**
   * Takes a point-in-time snapshot now and streams it into `write` (awaited: backpressure) in
   * slices between which clients are served, as an RDB image or as AOF commands. Resolves
   * true when complete, false if `stopped()` turned true first.
   */
  writeSnapshot(
    server: Server,
    write: (chunk: Buffer) => Promise<void>,
    format: 'rdb' | 'aof',
    stopped: () => boolean,
  ): Promise<boolean>;
  /** A whole snapshot produced at once (small datasets only: it blocks). */
  snapshotNow(server: Server, format: 'rdb' | 'aof'): Buffer[];
  /** True while a BGSAVE (or another snapshot user) is running: rewrites are then scheduled. */
  snapshotBusy(server: Server): boolean;
}

type AofState = 'off' | 'on' | 'wait_rewrite';

/** REDIS_AUTOSYNC_BYTES. */
const AUTOSYNC_BYTES = 4 * 1024 * 1024;

const bridges = new WeakMap<Server, RdbBridge>();
const instances = new WeakMap<Server, Aof>();

/** The RDB module registers its loader and snapshot writer here. */
export function setRdbBridge(server: Server, bridge: RdbBridge): void {
  bridges.set(server, bridge);
}

/** The AOF of a server (after install), for the BGREWRITEAOF command and tests. */
export function aofOf(server: Server): Aof | undefined {
  return instances.get(server);
}

/** True when `appendonly yes` is configured: the AOF, not dump.rdb, is loaded at start-up. */
export function aofEnabledAtStartup(server: Server): boolean {
  return server.config.getBool('appendonly');
}

export class Aof implements PropagationTarget {
  readonly kind = 'aof' as const;
  state: AofState = 'off';
  manifest = new AofManifest();
  private fd = -1;
  private buffer: string[] = [];
  private bufferLength = 0;
  private selectedDb = -1;
  /** ms of the last fsync, and whether an async one is running (everysec). */
  private lastFsync = 0;
  private fsyncInFlight = false;
  private writtenSinceFsync = false;
  /**
   * Group commit under `appendfsync always`: bytes written to the AOF so far (over every file)
   * and how many of them an fdatasync has covered; an fdatasync running in the thread pool; the
   * output held until the fdatasync covering it returns, per client in order (`upTo`: bytes
   * written when it was taken); the clients whose commands fed this loop turn (the last one, and
   * how many changes of feeder).
   */
  private writtenBytes = 0;
  private syncedBytes = 0;
  private groupSyncInFlight = false;
  /** Bumped when the file changes: a group sync of the previous descriptor counts for nothing. */
  private fdGeneration = 0;
  private readonly held = new Map<Client, { upTo: number; bytes: Buffer }[]>();
  private turnFeeder: Client | null = null;
  private turnFeeders = 0;
  private lastTimestamp = 0;
  /** Size of the INCR file being written, and of the whole AOF (INFO, auto-rewrite). */
  private lastIncrSize = 0;
  currentSize = 0;
  private rewriteBaseSize = 0;
  lastWriteOk = true;
  /** strerror() of the last failed write (ENOSPC's for a short one): MISCONF's text. */
  private lastWriteError = '';
  /** When a write error was last logged (Redis logs one per 30 s). */
  private lastWriteErrorLog = -Infinity;
  /** An everysec fdatasync failed and none has succeeded since (aof_bio_fsync_status). */
  private fsyncError = '';
  // Rewrite state (INFO persistence aof_* fields).
  rewriteInProgress = false;
  rewriteScheduled = false;
  private rewriteStartMs = -1;
  private lastRewriteSecs = -1;
  rewrites = 0;
  consecutiveFailures = 0;
  lastBgrewriteOk = true;
  /** Bumped to abandon a running rewrite (AOF turned off meanwhile). */
  private rewriteGeneration = 0;
  /** aofRewriteLimited's back-off: minutes of the current delay, and when it ends (s). */
  private limitDelayMinutes = 0;
  private limitUntilSec = 0;
  /** The running rewrite's fork-child stand-in (child-handle.ts) and its temp BASE file. */
  private rewriteChild: ChildHandle | null = null;
  private rewriteTmp = '';

  /** appendfsync and aof-timestamp-enabled, read on every command and flush: kept, not looked up. */
  private policy = 'everysec';
  private timestamps = false;

  constructor(private readonly server: Server) {
    server.config.watch('appendfsync', (v) => (this.policy = v as string));
    server.config.watch('aof-timestamp-enabled', (v) => (this.timestamps = v === true));
  }

  private get dir(): string {
    return this.server.config.getString('appenddirname');
  }

  private get filename(): string {
    return this.server.config.getString('appendfilename');
  }

  private get fsyncPolicy(): string {
    return this.policy;
  }

  // ---- Feeding and flushing ------------------------------------------------------------------

  /** PropagationTarget: one command in database `db` (feedAppendOnlyFile). */
  feed(db: number, argv: readonly string[]): void {
    if (this.server.loading) return;
    if (!(this.state === 'on' || (this.state === 'wait_rewrite' && this.rewriteInProgress))) return;
    let s = '';
    if (this.timestamps) {
      const now = Math.floor(this.server.clock.now() / 1000);
      if (now > this.lastTimestamp) {
        this.lastTimestamp = now;
        s += timestampAnnotation(now);
      }
    }
    if (db !== this.selectedDb) {
      s += selectCommand(db);
      this.selectedDb = db;
    }
    s += `*${argv.length}\r\n`;
    for (const a of argv) s += `$${a.length}\r\n${a}\r\n`;
    const feeder = this.server.currentClient;
    if (this.turnFeeders === 0 || feeder !== this.turnFeeder) {
      this.turnFeeder = feeder;
      this.turnFeeders++;
    }
    this.buffer.push(s);
    this.bufferLength += s.length;
    // Written by the server's end-of-turn flush, whose beforeReplies hook runs this.flush ahead
    // of every reply; requested here too for writes that have no reply (cron, CLIENT REPLY OFF).
    // One Immediate per turn, not a second one of the AOF's own (docs/PERFORMANCE.md, aof3).
    this.server.requestFlush();
  }

  /** flushAppendOnlyFile: one write of the buffer, then the fsync policy. */
  flush(force: boolean): void {
    if (this.bufferLength === 0) {
      if (force && this.fd >= 0 && this.fsyncPolicy === 'always' && this.writtenSinceFsync) this.fsyncNow();
      return;
    }
    if (this.fd < 0) {
      this.buffer = [];
      this.bufferLength = 0;
      return;
    }
    if (debugTunables.aofFlushSleepUs > 0) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, debugTunables.aofFlushSleepUs / 1000);
    }
    // The string goes to write(2) as it is (Node encodes it into its own memory, on the stack
    // when small: no Buffer object per flush); a short write or an error turns it into a Buffer.
    const text = this.buffer.length === 1 ? this.buffer[0]! : this.buffer.join('');
    const length = this.bufferLength;
    let data: Buffer | null = null;
    let off = 0;
    try {
      off = fs.writeSync(this.fd, text, null, 'latin1');
      if (off < length) {
        data = Buffer.from(text, 'latin1');
        while (off < length) off += fs.writeSync(this.fd, data, off, length - off);
      }
    } catch (e) {
      this.writeFailed(data ?? Buffer.from(text, 'latin1'), off, e);
      return;
    }
    if (!this.lastWriteOk) this.server.log.warning('AOF write error looks solved, nodis can write again.');
    this.lastWriteOk = true;
    this.buffer = [];
    this.bufferLength = 0;
    this.lastIncrSize += length;
    this.currentSize += length;
    this.writtenBytes += length;
    this.writtenSinceFsync = true;
    const feeders = this.turnFeeders;
    this.turnFeeders = 0;
    this.turnFeeder = null;
    if (this.fsyncPolicy !== 'always') return;
    // Several clients' writes in one turn, or a group sync already running: the fdatasync goes
    // to the thread pool and the loop carries on; one client alone waits for it here (no
    // thread hand-off on its round trip), as Redis's beforeSleep does.
    if (!force && (feeders > 1 || this.groupSyncInFlight || this.held.size > 0)) this.groupSync();
    else this.fsyncNow();
  }

  /**
   * flushAppendOnlyFile's error path. A short write is cut off the file (ftruncate to the INCR
   * file's size before it) so a retry does not write its bytes twice; if that fails they stay,
   * and leave the buffer. Under `always` the server exits: this turn's replies and reads would
   * otherwise show writes that are not on disk. Otherwise the buffer is kept for the next flush
   * (cron retries it) and writes are refused with MISCONF until one succeeds.
   */
  private writeFailed(data: Buffer, written: number, e: unknown): void {
    const now = this.server.clock.now();
    const canLog = now - this.lastWriteErrorLog > 30_000;
    if (canLog) this.lastWriteErrorLog = now;
    let kept = written;
    if (written === 0) {
      if (canLog) this.server.log.warning(`Error writing to the AOF file: ${strerror(e)}`);
      this.lastWriteError = strerror(e);
    } else {
      if (canLog) this.server.log.warning(`Short write while writing to the AOF file: (nwritten=${written}, expected=${data.length})`);
      try {
        fs.ftruncateSync(this.fd, this.lastIncrSize);
        kept = 0;
      } catch (te) {
        if (canLog) this.server.log.warning(`Could not remove short write from the append-only file.  Redis may refuse to load the AOF the next time it starts.  ftruncate: ${strerror(te)}`);
      }
      this.lastWriteError = 'No space left on device';
    }
    if (this.fsyncPolicy === 'always') {
      this.server.log.warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
      process.exit(1);
    }
    this.lastWriteOk = false;
    if (kept > 0) {
      this.buffer = [data.latin1Slice(kept, data.length)];
      this.bufferLength = data.length - kept;
      this.lastIncrSize += kept;
      this.currentSize += kept;
      this.writtenBytes += kept;
      this.writtenSinceFsync = true;
    }
  }

  /** writeCommandsDeniedByDiskError's AOF half: the MISCONF error while the AOF cannot be written. */
  diskError(): string | null {
    if (this.state === 'off') return null;
    if (!this.lastWriteOk) return `MISCONF Errors writing to the AOF file: ${this.lastWriteError}`;
    if (this.fsyncError !== '') return `MISCONF Errors writing to the AOF file: ${this.fsyncError}`;
    return null;
  }

  /**
   * appendfsync always, group commit: fdatasync in the thread pool covering everything written
   * so far. Meanwhile the loop runs the next commands and writes them to the file; no output
   * leaves for any client until the fdatasync covering the bytes written when it was produced
   * has returned (`gateOutput`): a reply never precedes the fsync of its write, and a read
   * never shows a write that is not on disk yet. When it returns, what was written meanwhile
   * gets the next one.
   */
  private groupSync(): void {
    this.server.hooks.outputGate = this.gateOutput;
    if (this.groupSyncInFlight) return;
    this.groupSyncInFlight = true;
    const upTo = this.writtenBytes;
    const generation = this.fdGeneration;
    fs.fdatasync(this.fd, (err) => {
      this.groupSyncInFlight = false;
      // A new file was opened meanwhile: the old one was synced before it was let go.
      if (generation === this.fdGeneration) {
        if (err !== null) {
          this.server.log.warning(`Can't persist AOF for fsync error when the AOF fsync policy is 'always': ${err.message}. Exiting...`);
          process.exit(1);
        }
        if (upTo > this.syncedBytes) this.syncedBytes = upTo;
        if (this.syncedBytes === this.writtenBytes) this.writtenSinceFsync = false;
        this.lastFsync = this.server.clock.now();
      }
      // appendfsync changed meanwhile: nothing is promised beyond what the new policy does.
      if (this.fsyncPolicy !== 'always') this.syncedBytes = this.writtenBytes;
      if (this.syncedBytes < this.writtenBytes && this.fd >= 0) this.groupSync();
      this.releaseHeld();
    });
  }

  /**
   * The output gate while a group sync runs (server.hooks.outputGate): a client's pending output
   * joins its queue, tagged with the bytes written so far; what an fdatasync covers goes back
   * to its output, in order. True when nothing may be written now. Replicas are not held: the
   * stream is not an acknowledgment (WAIT's own reply is).
   */
  private readonly gateOutput = (c: Client): boolean => {
    if (c.kind === 'replica' || c.isMaster) return false;
    let q = this.held.get(c);
    // Under always, bytes written and not yet synced always have a group sync running for them.
    if (q === undefined && (!this.groupSyncInFlight || c.reply.len === 0)) return false;
    if (c.reply.len > 0) {
      const entry = { upTo: this.writtenBytes, bytes: Buffer.from(c.reply.pending()) };
      c.reply.truncate(0);
      if (q === undefined) this.held.set(c, (q = []));
      q.push(entry);
    }
    while (q!.length > 0 && q![0]!.upTo <= this.syncedBytes) c.reply.raw(q!.shift()!.bytes);
    if (q!.length === 0) {
      this.held.delete(c);
      if (this.held.size === 0 && !this.groupSyncInFlight) this.server.hooks.outputGate = null;
    }
    return c.reply.len === 0;
  };

  /** Clients whose output waits for a group sync (tests; INFO aof_pending_bio_fsync shows the sync). */
  get clientsHeld(): number {
    return this.held.size;
  }

  /** An fdatasync returned: the clients with output it covers are written in this turn. */
  private releaseHeld(): void {
    for (const [c, q] of this.held) {
      if (c.closed) this.held.delete(c);
      else if (q[0]!.upTo <= this.syncedBytes) c.markPendingWrite();
    }
    if (this.held.size === 0 && !this.groupSyncInFlight) this.server.hooks.outputGate = null;
  }

  private fsyncNow(): void {
    try {
      fs.fdatasyncSync(this.fd);
      this.writtenSinceFsync = false;
      this.syncedBytes = this.writtenBytes;
      if (this.held.size > 0) this.releaseHeld();
      this.lastFsync = this.server.clock.now();
    } catch (e) {
      // Redis exits here: an acknowledged write could otherwise be lost.
      this.server.log.warning(`Can't persist AOF for fsync error when the AOF fsync policy is 'always': ${(e as Error).message}. Exiting...`);
      process.exit(1);
    }
  }

  /** everysec: an asynchronous fdatasync at most once a second, never two at once. */
  private fsyncEverySec(): void {
    if (this.fd < 0 || this.fsyncPolicy !== 'everysec' || !this.writtenSinceFsync || this.fsyncInFlight) return;
    const now = this.server.clock.now();
    if (now - this.lastFsync < 1000) return;
    this.fsyncInFlight = true;
    this.writtenSinceFsync = false;
    this.lastFsync = now;
    fs.fdatasync(this.fd, (err) => {
      this.fsyncInFlight = false;
      // bio.c: a failed background fsync refuses writes until one succeeds (EBADF/EINVAL aside).
      if (err === null) this.fsyncError = '';
      else if (err.code !== 'EBADF' && err.code !== 'EINVAL') {
        if (this.fsyncError === '') this.server.log.warning(`Fail to fsync the AOF file: ${strerror(err)}`);
        this.fsyncError = strerror(err);
      }
    });
  }

  private closeFd(): void {
    if (this.fd < 0) return;
    // Output held for a group sync waits on this descriptor's data: sync it now, before it goes.
    if (this.syncedBytes < this.writtenBytes && (this.groupSyncInFlight || this.held.size > 0)) this.fsyncNow();
    this.fdGeneration++;
    const fd = this.fd;
    this.fd = -1;
    // Like aof_background_fsync_and_close: sync then close without blocking the loop.
    fs.fdatasync(fd, () => fs.close(fd, () => {}));
  }

  // ---- Start-up ------------------------------------------------------------------------------

  /** Reads the manifest (aofLoadManifestFromDisk); exits on a corrupt one, as Redis does. */
  loadManifestOrExit(): void {
    try {
      this.manifest = loadManifest(this.dir, this.filename);
    } catch (e) {
      if (e instanceof ManifestError) {
        this.server.log.warning(e.message);
        process.exit(1);
      }
      throw e;
    }
  }

  /**
   * Loads the dataset from the AOF (loadDataFromDisk's AOF branch), in slices: clients are
   * served meanwhile and get -LOADING. Exits on fatal errors.
   */
  async loadAtStartup(): Promise<void> {
    this.upgradeOldStyleIfNeeded();
    const start = process.hrtime.bigint();
    const res = await this.loadFiles(true);
    if (res === AofStatus.Failed || res === AofStatus.OpenErr) process.exit(1);
    if (res === AofStatus.Ok || res === AofStatus.Truncated) {
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      this.server.log.notice(`DB loaded from append only file: ${secs.toFixed(3)} seconds`);
    }
  }

  /** Loads the manifest's files, sliced (start-up) or in one go (DEBUG LOADAOF). */
  private loadFiles(sliced: true): Promise<AofStatus>;
  private loadFiles(sliced: false): AofStatus;
  private loadFiles(sliced: boolean): AofStatus | Promise<AofStatus> {
    const server = this.server;
    startLoading(server, 0);
    const steps = loadAppendOnlyFiles(
      server,
      this.manifest,
      {
        dir: this.dir,
        aofFilename: this.filename,
        loadTruncated: server.config.getBool('aof-load-truncated'),
        loadRdb: bridges.get(server)?.loadRdb ?? null,
      },
      (total) => startLoading(server, total),
    );
    const finish = (r: { status: AofStatus; totalSize: number; baseSize: number }): AofStatus => {
      if (r.status === AofStatus.Ok || r.status === AofStatus.Truncated) {
        this.currentSize = r.totalSize;
        this.rewriteBaseSize = r.baseSize;
      }
      return r.status;
    };
    if (!sliced) {
      try {
        return finish(runToEnd(steps, server));
      } finally {
        stopLoading(server);
      }
    }
    return runSliced(server, steps).then(
      (r) => {
        stopLoading(server);
        return finish(r);
      },
      (e: unknown) => {
        stopLoading(server);
        throw e;
      },
    );
  }

  /** aofUpgradePrepare: a pre-7.0 `appendonly.aof` in `dir` becomes the BASE in the AOF dir. */
  private upgradeOldStyleIfNeeded(): void {
    const name = this.filename;
    if (!fs.existsSync(name)) return;
    const m = this.manifest;
    const dirExists = fs.existsSync(this.dir);
    const baseOnlyOldName = m.base !== null && m.incr.length === 0 && m.base.name === name && !fs.existsSync(path.join(this.dir, name));
    if (dirExists && !m.isEmpty && !baseOnlyOldName) return;
    fs.mkdirSync(this.dir, { recursive: true });
    const fresh = new AofManifest();
    fresh.base = { name, seq: 1, type: 'b' };
    fresh.currBaseSeq = 1;
    fresh.dirty = true;
    this.persistOrExit(fresh);
    fs.renameSync(name, path.join(this.dir, name));
    this.manifest = fresh;
    this.server.log.notice(`Successfully migrated an old-style AOF file (${name}) into the AOF directory (${this.dir}).`);
  }

  private persistOrExit(m: AofManifest): void {
    try {
      persistManifest(this.dir, this.filename, m);
    } catch (e) {
      this.server.log.warning(`Can't persist the AOF manifest file: ${(e as Error).message}`);
      process.exit(1);
    }
  }

  /** aofOpenIfNeededOnServerStart + aofDelHistoryFiles. */
  async openOnStartup(): Promise<void> {
    if (this.state !== 'on') return;
    this.server.propagator.addTarget(this);
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      this.server.log.warning(`Can't open or create append-only dir ${this.dir}: ${(e as Error).message}`);
      process.exit(1);
    }
    const hadIncr = this.manifest.incr.length > 0;
    if (this.manifest.base === null && !hadIncr) {
      const baseName = this.manifest.newBase(this.filename, this.rdbBase());
      const tmp = `temp-rewriteaof-${process.pid}.aof`;
      try {
        // In one go, as Redis does before serving anyone: the dataset is empty here (no BASE
        // and no INCR to load), and clients must not see the server before the file exists.
        const bridge = bridges.get(this.server);
        if (bridge === undefined) throw new Error('no snapshot writer installed');
        const fd = fs.openSync(tmp, 'w', 0o644);
        try {
          for (const chunk of bridge.snapshotNow(this.server, this.rdbBase() ? 'rdb' : 'aof')) fs.writeSync(fd, chunk);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, path.join(this.dir, baseName));
      } catch (e) {
        this.server.log.warning(`Write error writing append only file on disk: ${(e as Error).message}`);
        fs.rmSync(tmp, { force: true });
        process.exit(1);
      }
      this.server.log.notice(`Creating AOF base file ${baseName} on server start`);
    }
    const incr = this.manifest.lastIncr(this.filename);
    try {
      this.fd = fs.openSync(path.join(this.dir, incr), 'a', 0o644);
    } catch (e) {
      this.server.log.warning(`Can't open the append-only file ${incr}: ${(e as Error).message}`);
      process.exit(1);
    }
    this.persistOrExit(this.manifest);
    this.lastIncrSize = fs.fstatSync(this.fd).size;
    this.server.log.notice(`${hadIncr ? 'Opening' : 'Creating'} AOF incr file ${incr} on server start`);
    this.deleteHistoryFiles();
  }

  // ---- Rewrite -------------------------------------------------------------------------------

  /** BGREWRITEAOF's reply; also used by auto-rewrite and CONFIG SET appendonly yes. */
  bgrewriteCommand(inExec: boolean): { ok: true; text: string } | { ok: false; text: string } {
    if (this.rewriteInProgress) return { ok: false, text: 'ERR Background append only file rewriting already in progress' };
    if (this.snapshotBusy() || inExec) {
      this.rewriteScheduled = true;
      this.consecutiveFailures = 0;
      return { ok: true, text: 'Background append only file rewriting scheduled' };
    }
    if (this.startRewrite()) return { ok: true, text: 'Background append only file rewriting started' };
    return { ok: false, text: 'ERR Can\'t execute an AOF background rewriting. Please check the server logs for more information.' };
  }

  /** The BASE is an RDB image (aof-use-rdb-preamble, and an RDB writer is available). */
  private rdbBase(): boolean {
    return this.server.config.getBool('aof-use-rdb-preamble') && bridges.has(this.server);
  }

  private snapshotBusy(): boolean {
    return bridges.get(this.server)?.snapshotBusy(this.server) ?? false;
  }

  /** rewriteAppendOnlyFileBackground. */
  startRewrite(): boolean {
    const log = this.server.log;
    if (this.rewriteInProgress || this.snapshotBusy()) return false;
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      log.warning(`Can't open or create append-only dir ${this.dir}: ${(e as Error).message}`);
      this.lastBgrewriteOk = false;
      return false;
    }
    this.selectedDb = -1;
    this.flush(true);
    if (!this.openNewIncrForAppend()) {
      this.lastBgrewriteOk = false;
      return false;
    }
    this.rewrites++;
    this.rewriteInProgress = true;
    this.rewriteScheduled = false;
    this.rewriteStartMs = this.server.clock.now();
    const generation = ++this.rewriteGeneration;
    const child = ChildHandle.start(this.server, 'aof-rewrite', (signal) => {
      if (generation === this.rewriteGeneration && this.rewriteInProgress) this.rewriteChildKilled(signal);
    });
    this.rewriteChild = child;
    const tmp = `temp-rewriteaof-bg-${child.pid}.aof`;
    this.rewriteTmp = tmp;
    log.notice(`Background append only file rewriting started by pid ${child.pid}`);
    void this.writeBase(tmp, () => generation !== this.rewriteGeneration).then(
      () => {
        if (generation !== this.rewriteGeneration) {
          // Abandoned or killed meanwhile: whatever reached the disk goes too.
          fs.unlink(tmp, () => {});
          return;
        }
        log.notice(`Successfully created the temporary AOF base file ${tmp}`);
        this.rewriteDone(true, tmp);
      },
      (e: unknown) => {
        if (generation !== this.rewriteGeneration) {
          fs.unlink(tmp, () => {});
          return;
        }
        log.warning(`Write error writing append only file on disk: ${(e as Error).message}`);
        this.rewriteDone(false, tmp);
      },
    );
    return true;
  }

  /** openNewIncrAofForAppend. */
  private openNewIncrForAppend(): boolean {
    if (this.state === 'off') return true;
    let temp: AofManifest | null = null;
    let name: string;
    if (this.state === 'wait_rewrite') {
      name = tempIncrFileName(this.filename);
    } else {
      temp = this.manifest.clone();
      name = temp.newIncr(this.filename);
    }
    let fd: number;
    try {
      fd = fs.openSync(path.join(this.dir, name), 'w', 0o644);
    } catch (e) {
      this.server.log.warning(`Can't open the append-only file ${name}: ${(e as Error).message}`);
      return false;
    }
    if (temp !== null) {
      try {
        persistManifest(this.dir, this.filename, temp);
      } catch (e) {
        this.server.log.warning(`Can't persist the AOF manifest file: ${(e as Error).message}`);
        fs.closeSync(fd);
        return false;
      }
    }
    this.server.log.notice(`Creating AOF incr file ${name} on background rewrite`);
    this.closeFd();
    this.fd = fd;
    this.lastIncrSize = 0;
    if (temp !== null) this.manifest = temp;
    return true;
  }

  /**
   * Writes the BASE of a snapshot taken now into `tmp` (rewriteAppendOnlyFile): an RDB image
   * or AOF commands, produced in slices with asynchronous writes so clients keep running.
   * Rejects if the rewrite was abandoned meanwhile (`stopped`).
   */
  private async writeBase(tmp: string, stopped: () => boolean = () => false): Promise<void> {
    const rdb = bridges.get(this.server);
    if (rdb === undefined) throw new Error('no snapshot writer installed');
    // The snapshot is taken by the call below, synchronously, as Redis's fork takes it when the
    // rewrite starts: every write from here on goes to the new INCR file only. Opening the file
    // first (a thread-pool round trip, long under load) let writes made meanwhile into both the
    // BASE and the INCR (an INCR then counted twice on load), and total_forks lag the start.
    const opening = fs.promises.open(tmp, 'w', 0o644);
    opening.catch(() => undefined); // awaited below; a failure surfaces there
    let fh: fs.promises.FileHandle | null = null;
    // aof-rewrite-incremental-fsync: fsync every 4 MB so the final fsync has little to do.
    const incremental = this.server.config.getBool('aof-rewrite-incremental-fsync');
    let unsynced = 0;
    const write = async (chunk: Buffer): Promise<void> => {
      fh ??= await opening;
      await writeFully(fh, chunk);
      unsynced += chunk.length;
      if (incremental && unsynced >= AUTOSYNC_BYTES) {
        await fh.datasync();
        unsynced = 0;
      }
    };
    try {
      const complete = await rdb.writeSnapshot(this.server, write, this.rdbBase() ? 'rdb' : 'aof', stopped);
      if (!complete) throw new Error('rewrite abandoned');
      fh ??= await opening;
      await fh.sync();
    } finally {
      const opened = await opening.catch(() => null);
      await opened?.close();
    }
  }

  /** The rewrite's child handle died by `signal`: the rewrite ends as Redis's killed child. */
  private rewriteChildKilled(signal: number): void {
    this.rewriteGeneration++;
    this.rewriteDone(false, this.rewriteTmp, signal);
  }

  /** backgroundRewriteDoneHandler (`signal`: the child was killed by it). */
  private rewriteDone(ok: boolean, tmp: string, signal: number | null = null): void {
    const log = this.server.log;
    this.rewriteInProgress = false;
    this.rewriteChild?.end();
    this.rewriteChild = null;
    if (signal !== null) {
      // SIGUSR1 is whitelisted: the server's own way to stop a child without an error.
      if (signal !== SIGUSR1_NUMBER) {
        this.lastBgrewriteOk = false;
        this.consecutiveFailures++;
      }
      log.warning(`Background AOF rewrite terminated by signal ${signal}`);
    } else if (ok) {
      log.notice('Background AOF rewrite terminated with success');
      ok = this.installRewrite(tmp);
      if (ok) {
        this.lastBgrewriteOk = true;
        this.consecutiveFailures = 0;
        log.notice('Background AOF rewrite finished successfully');
        if (this.state === 'wait_rewrite') this.state = 'on';
      }
    } else {
      log.warning('Background AOF rewrite terminated with error');
    }
    if (!ok && signal === null) {
      this.lastBgrewriteOk = false;
      this.consecutiveFailures++;
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      // renamed into place, or never created
    }
    if (this.state === 'wait_rewrite') {
      this.buffer = [];
      this.bufferLength = 0;
      const tempIncr = tempIncrFileName(this.filename);
      log.notice(`Removing the temp incr aof file ${tempIncr} in the background`);
      this.closeFd();
      unlinkInBackground(path.join(this.dir, tempIncr));
      this.rewriteScheduled = true;
    }
    this.lastRewriteSecs = Math.floor((this.server.clock.now() - this.rewriteStartMs) / 1000);
    this.rewriteStartMs = -1;
  }

  /** Renames the new BASE (and the temp INCR) into place and swaps the manifest. */
  private installRewrite(tmp: string): boolean {
    const log = this.server.log;
    const temp = this.manifest.clone();
    const baseName = temp.newBase(this.filename, this.rdbBase());
    const basePath = path.join(this.dir, baseName);
    try {
      fs.renameSync(tmp, basePath);
    } catch (e) {
      log.warning(`Error trying to rename the temporary AOF base file ${tmp} into ${basePath}: ${(e as Error).message}`);
      return false;
    }
    log.notice(`Successfully renamed the temporary AOF base file ${tmp} into ${baseName}`);
    let incrPath: string | null = null;
    if (this.state === 'wait_rewrite') {
      const tempIncr = tempIncrFileName(this.filename);
      const incrName = temp.newIncr(this.filename);
      incrPath = path.join(this.dir, incrName);
      try {
        fs.renameSync(path.join(this.dir, tempIncr), incrPath);
      } catch (e) {
        log.warning(`Error trying to rename the temporary AOF incr file ${path.join(this.dir, tempIncr)} into ${incrPath}: ${(e as Error).message}`);
        unlinkInBackground(basePath);
        return false;
      }
      log.notice(`Successfully renamed the temporary AOF incr file ${tempIncr} into ${incrName}`);
    }
    temp.markRewrittenIncrAsHistory(this.fd >= 0);
    try {
      persistManifest(this.dir, this.filename, temp);
    } catch (e) {
      log.warning(`Can't persist the AOF manifest file: ${(e as Error).message}`);
      unlinkInBackground(basePath);
      if (incrPath !== null) unlinkInBackground(incrPath);
      return false;
    }
    this.manifest = temp;
    if (this.state !== 'off') {
      this.currentSize = fs.statSync(basePath).size + this.lastIncrSize;
      this.rewriteBaseSize = this.currentSize;
    }
    this.deleteHistoryFiles();
    return true;
  }

  /** aofDelHistoryFiles (unless aof-disable-auto-gc). */
  deleteHistoryFiles(): void {
    if (this.server.config.getBool('aof-disable-auto-gc') || this.manifest.history.length === 0) return;
    for (const f of this.manifest.history) {
      this.server.log.notice(`Removing the history file ${f.name} in the background`);
      unlinkInBackground(path.join(this.dir, f.name));
    }
    this.manifest.history = [];
    this.manifest.dirty = true;
    try {
      persistManifest(this.dir, this.filename, this.manifest);
    } catch (e) {
      this.server.log.warning(`Can't persist the AOF manifest file: ${(e as Error).message}`);
    }
  }

  // ---- Turning AOF on and off at runtime -----------------------------------------------------

  /** startAppendOnly (CONFIG SET appendonly yes). */
  start(): boolean {
    this.state = 'wait_rewrite';
    this.server.propagator.addTarget(this);
    if (this.snapshotBusy()) {
      this.rewriteScheduled = true;
      this.server.log.warning('AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.');
    } else if (this.server.executionNesting > 1) {
      this.rewriteScheduled = true;
      this.server.log.warning('AOF was enabled during a transaction. An AOF background was scheduled to start when possible.');
    } else {
      if (this.rewriteInProgress) {
        this.server.log.warning('AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.');
        this.abandonRewrite();
      }
      if (!this.startRewrite()) {
        this.state = 'off';
        this.server.propagator.removeTarget(this);
        this.server.log.warning("nodis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        return false;
      }
    }
    this.lastFsync = this.server.clock.now();
    if (!this.lastWriteOk) {
      this.server.log.warning('AOF reopen, just ignore the last error.');
      this.lastWriteOk = true;
    }
    return true;
  }

  /** stopAppendOnly (CONFIG SET appendonly no). */
  stop(): void {
    this.flush(true);
    if (this.fd >= 0) {
      try {
        fs.fsyncSync(this.fd);
        this.lastFsync = this.server.clock.now();
      } catch (e) {
        this.server.log.warning(`Fail to fsync the AOF file: ${(e as Error).message}`);
      }
      fs.closeSync(this.fd);
      this.fd = -1;
      this.fdGeneration++;
    }
    this.selectedDb = -1;
    this.state = 'off';
    this.server.propagator.removeTarget(this);
    this.rewriteScheduled = false;
    this.lastIncrSize = 0;
    this.abandonRewrite();
    this.buffer = [];
    this.bufferLength = 0;
  }

  /** killAppendOnlyChild: forget a running rewrite; its temp file is removed. */
  private abandonRewrite(): void {
    if (!this.rewriteInProgress) return;
    this.server.log.notice(`Killing running AOF rewrite child: ${this.rewriteChild?.pid ?? process.pid}`);
    this.rewriteGeneration++;
    this.rewriteInProgress = false;
    this.rewriteStartMs = -1;
    this.rewriteChild?.end();
    this.rewriteChild = null;
    fs.unlink(this.rewriteTmp, () => {});
  }

  // ---- Cron, shutdown, DEBUG LOADAOF ---------------------------------------------------------

  /** serverCron's AOF duties: scheduled and automatic rewrites, everysec fsync. */
  cron(): void {
    if (!this.rewriteInProgress && this.rewriteScheduled && !this.snapshotBusy() && !this.rewriteLimited()) {
      this.startRewrite();
    }
    if (this.state === 'on' && !this.rewriteInProgress && !this.snapshotBusy()) {
      const perc = this.server.config.getNumber('auto-aof-rewrite-percentage');
      const minSize = this.server.config.getNumber('auto-aof-rewrite-min-size');
      if (perc > 0 && this.currentSize > minSize) {
        const base = this.rewriteBaseSize > 0 ? this.rewriteBaseSize : 1;
        const growth = Math.floor((this.currentSize * 100) / base) - 100;
        if (growth >= perc && !this.rewriteLimited()) {
          this.server.log.notice(`Starting automatic rewriting of AOF on ${growth}% growth`);
          this.startRewrite();
        }
      }
    }
    if (this.bufferLength > 0) this.flush(false);
    this.fsyncEverySec();
  }

  /**
   * aofRewriteLimited: after 3 consecutive failed rewrites, automatic and scheduled rewrites
   * wait 1 minute, then 2, 4 … up to 60 between tries (BGREWRITEAOF is never limited).
   */
  private rewriteLimited(): boolean {
    if (this.consecutiveFailures < 3) {
      this.limitDelayMinutes = 0;
      this.limitUntilSec = 0;
      return false;
    }
    const nowSec = Math.floor(this.server.clock.now() / 1000);
    if (this.limitUntilSec !== 0) {
      if (nowSec < this.limitUntilSec) return true;
      this.limitUntilSec = 0;
      return false;
    }
    this.limitDelayMinutes = Math.min(this.limitDelayMinutes === 0 ? 1 : this.limitDelayMinutes * 2, 60);
    this.limitUntilSec = nowSec + this.limitDelayMinutes * 60;
    this.server.log.warning(`Background AOF rewrite has repeatedly failed and triggered the limit, will retry in ${this.limitDelayMinutes} minutes`);
    return true;
  }

  /** SHUTDOWN: write and fsync what is buffered (Redis does this in prepareForShutdown). */
  /** finishShutdown's AOF part; false when the initial AOF is still being written (no FORCE). */
  shutdown(force: boolean): boolean {
    if (this.state === 'off') return true;
    if (this.rewriteInProgress) {
      // Exiting before the first AOF exists would lose the dataset.
      if (this.state === 'wait_rewrite') {
        if (!force) {
          this.server.log.warning("Writing initial AOF, can't exit.");
          return false;
        }
        this.server.log.warning('Writing initial AOF. Exit anyway.');
      }
      this.server.log.warning('There is a child rewriting the AOF. Killing it!');
      this.abandonRewrite();
    }
    this.server.log.notice('Calling fsync() on the AOF file.');
    this.flush(true);
    if (this.fd >= 0) {
      try {
        fs.fsyncSync(this.fd);
      } catch {
        // nothing more can be done at exit
      }
    }
    return true;
  }

  /** DEBUG LOADAOF: flush, empty the dataset, and load the AOF back. */
  debugLoadAof(): string | null {
    if (this.state === 'on') this.flush(true);
    this.loadManifestOrExit();
    for (const db of this.server.dbs) db.clear();
    const res = this.loadFiles(false);
    if (res !== AofStatus.Ok && res !== AofStatus.Empty && res !== AofStatus.Truncated) {
      return 'ERR Error loading the AOF file';
    }
    return null;
  }

  /** INFO persistence's AOF fields. */
  installInfo(): void {
    const s = this.server;
    setInfoField(s, 'aof_enabled', () => (this.state !== 'off' ? 1 : 0));
    setInfoField(s, 'aof_rewrite_in_progress', () => (this.rewriteInProgress ? 1 : 0));
    setInfoField(s, 'aof_rewrite_scheduled', () => (this.rewriteScheduled ? 1 : 0));
    setInfoField(s, 'aof_last_rewrite_time_sec', () => this.lastRewriteSecs);
    setInfoField(s, 'aof_current_rewrite_time_sec', () =>
      this.rewriteStartMs < 0 ? -1 : Math.floor((s.clock.now() - this.rewriteStartMs) / 1000),
    );
    setInfoField(s, 'aof_last_bgrewrite_status', () => (this.lastBgrewriteOk ? 'ok' : 'err'));
    setInfoField(s, 'aof_rewrites', () => this.rewrites);
    setInfoField(s, 'aof_rewrites_consecutive_failures', () => this.consecutiveFailures);
    setInfoField(s, 'aof_last_write_status', () => (this.lastWriteOk && this.fsyncError === '' ? 'ok' : 'err'));
    // With AOF on Redis prints six more fields after module_fork_last_cow_size, and while
    // loading the loading_* fields; the field hook yields one value, so they ride along as
    // extra lines of that value.
    setInfoField(s, 'module_fork_last_cow_size', () => {
      const loading = loadingInfoLines(s);
      if (this.state === 'off') return ['0', ...loading].join('\r\n');
      return [
        '0',
        `aof_current_size:${this.currentSize}`,
        `aof_base_size:${this.rewriteBaseSize}`,
        `aof_pending_rewrite:${this.rewriteScheduled ? 1 : 0}`,
        `aof_buffer_length:${this.bufferLength}`,
        `aof_pending_bio_fsync:${this.fsyncInFlight || this.groupSyncInFlight ? 1 : 0}`,
        'aof_delayed_fsync:0',
        ...loading,
      ].join('\r\n');
    });
  }
}

/**
 * bg_unlink: the name goes now, synchronously, so a file of the same name made right after
 * (the next rewrite's temp INCR, a retried BASE) is never removed by a late unlink; only the
 * freeing of the contents (the last close of a big file) is left to the thread pool.
 */
function unlinkInBackground(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    try {
      fs.unlinkSync(file);
    } catch {
      // already gone
    }
    return;
  }
  try {
    fs.unlinkSync(file);
  } catch {
    // already gone
  }
  fs.close(fd, () => {});
}

/** Writes all of `chunk` (a write may be partial). */
async function writeFully(fh: fs.promises.FileHandle, chunk: Buffer): Promise<void> {
  let off = 0;
  while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
}

/** Wires the AOF into the server: start-up loading, propagation, flushing, config, INFO, DEBUG. */
export function install(server: Server): void {
  const aof = new Aof(server);
  instances.set(server, aof);
  aof.installInfo();
  server.hooks.beforeReplies.push(() => aof.flush(false));
  server.hooks.cron.push(() => aof.cron());
  // After an RDB error (server.c checks stop-writes-on-bgsave-error first), whichever installs first.
  const previousDiskError = server.hooks.diskWriteError;
  server.hooks.diskWriteError = () => previousDiskError?.() ?? aof.diskError();
  // Before the RDB's final save (finishShutdown: the AOF child and fsync, then rdbSave), so an
  // initial rewrite that forbids exiting fails the shutdown before a save is spent on it.
  server.hooks.shutdown.unshift((opts) => aof.shutdown(opts.force));
  server.startupTasks.push(async () => {
    aof.loadManifestOrExit();
    if (aofEnabledAtStartup(server)) {
      aof.state = 'on';
      await aof.loadAtStartup();
    }
    await aof.openOnStartup();
  });
  debugHooks.loadAof = () => aof.debugLoadAof();
  server.config.onApply('appendonly', () => {
    const on = server.config.getBool('appendonly');
    if (on && aof.state === 'off') return aof.start() ? null : 'Unable to turn on AOF. Check server logs.';
    if (!on && aof.state !== 'off') aof.stop();
    return null;
  });
  // updateAofAutoGCEnabled: turning the gc back on removes the history kept meanwhile.
  server.config.onApply('aof-disable-auto-gc', () => {
    aof.deleteHistoryFiles();
    return null;
  });
}
