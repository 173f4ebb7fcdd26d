/**
 * The two points where replication meets the RDB format, both owned by persistence/:
 *  - master: a copy-on-write Snapshot of the dataset (persistence/snapshot.ts) produced in
 *    slices, one per event-loop turn, while clients keep being served; its replication AUX
 *    fields carry the id and offset of the instant it started.
 *  - replica: the received image is loaded with the same loader as dump.rdb.
 */
import type { Server } from '../server/server.js';
import { performance } from 'node:perf_hooks';
import { rdbOf, flushRdbFunctions, logLoadDone, type LoadStats, type RdbPersistence, type RdbFilter, type StagedLoad } from '../persistence/rdb.js';
import { RDB_WAIT, type RdbFeed } from '../persistence/rdb-decode.js';
import { Database } from '../keyspace/db.js';
import { runSliced, startLoading, stopLoading } from '../persistence/loading.js';
import { emptyData } from '../keyspace/flush.js';
import { ChildHandle } from '../persistence/child-handle.js';

/** The transfer's child handle was killed (by an operator, the OOM killer): the job failed. */
export class TransferChildKilled extends Error {
  constructor(readonly signal: number) {
    super(`Background transfer terminated by signal ${signal}`);
  }
}

/** The replication metadata stored in the RDB's AUX fields. */
export interface RdbReplInfo {
  replid: string;
  offset: number;
  streamDb: number;
}

function persistence(server: Server): RdbPersistence {
  const p = rdbOf(server);
  if (p === undefined) throw new Error('RDB persistence is not installed');
  return p;
}

/**
 * Streams a snapshot of the dataset taken now into `sink`, a slice per loop turn, paced like a
 * BGSAVE (rdb-key-save-delay); when `sink` returns a promise (a socket to drain) the snapshot
 * waits for it. Resolves when the image is complete (checksum included);
 * `cancelled()` stops it early. INFO shows it as rdb_bgsave_in_progress, as Redis's child,
 * and a child handle stands for that child (child-handle.ts): killing it rejects the transfer
 * at once with TransferChildKilled, even while a slow replica's socket holds it.
 */
export async function streamRdb(
  server: Server,
  repl: RdbReplInfo,
  sink: (chunk: Buffer) => Promise<unknown> | void,
  cancelled: () => boolean,
  filter: RdbFilter | null = null,
): Promise<void> {
  const p = persistence(server);
  const snap = p.startSnapshot(
    [
      ['repl-stream-db', String(repl.streamDb)],
      ['repl-id', repl.replid],
      ['repl-offset', String(repl.offset)],
    ],
    {},
    filter,
  );
  p.replicationTransfers++;
  p.backgroundJobs++;
  let killedBy: number | null = null;
  let killed: (signal: number) => void = () => undefined;
  const childDied = new Promise<never>((_resolve, reject) => {
    killed = (signal) => reject(new TransferChildKilled(signal));
  });
  childDied.catch(() => undefined);
  const child = ChildHandle.start(server, 'rdb-to-slaves', (signal) => {
    killedBy = signal;
    killed(signal);
  });
  server.log.notice(`Background RDB transfer started by pid ${child.pid}`);
  p.transferChildren.add(child);
  try {
    const complete = await Promise.race([p.drive(snap, sink, () => killedBy !== null || cancelled()), childDied]);
    // Redis's child for replicas reports its copy-on-write as an RDB job's (rdb_last_cow_size).
    if (complete) p.lastRdbCowBytes = snap.copiedBytes;
  } finally {
    p.transferChildren.delete(child);
    child.end();
    p.replicationTransfers--;
    p.endSnapshot(snap);
  }
}

/**
 * Replaces the dataset with a received RDB image (the replica after a full sync). Throws on
 * a corrupt image; the dataset is then empty, as in Redis after a failed load.
 */
export function loadRdb(server: Server, image: Buffer): void {
  emptyData(server, -1);
  // The master's image carries its libraries: ours go with the old data (emptyData in Redis).
  flushRdbFunctions(server);
  const p = persistence(server);
  try {
    const { stats } = p.loadImage(image, { allowDup: false, logAux: true });
    logLoadDone(server.log, stats);
  } catch (e) {
    // Nothing of a refused image stays: drop the keys loaded before the damage.
    emptyData(server, -1);
    flushRdbFunctions(server);
    throw e;
  }
}

/**
 * loadRdb in slices (loading.ts): the server shows LOADING — clients get `-LOADING` for commands
 * without the `loading` flag, INFO's loading_* fields progress — and keeps answering between
 * slices, as Redis's processEventsWhileBlocked during a load. Same failure rule as loadRdb.
 */
export function loadRdbSliced(server: Server, image: Buffer): Promise<void> {
  return asSyncLoad(server, image.length, async () => {
    emptyData(server, -1);
    flushRdbFunctions(server);
    const { stats } = await runSliced(server, persistence(server).loadImageSteps(image, { allowDup: false, logAux: true }));
    return stats;
  });
}

/** A full sync's `load` while the server shows LOADING; a failed one leaves the dataset empty, as in Redis. */
async function asSyncLoad(server: Server, totalBytes: number, load: () => Promise<LoadStats>): Promise<void> {
  startLoading(server, totalBytes);
  try {
    logLoadDone(server.log, await load());
  } catch (e) {
    emptyData(server, -1);
    flushRdbFunctions(server);
    throw e;
  } finally {
    stopLoading(server);
  }
}

/** Longest a parse of received bytes runs before the replica's loop gets a turn. */
const RECEIVE_SLICE_MS = 5;

/**
 * May a full sync's image be loaded while it arrives (StreamedRdbLoad)? Where Redis itself
 * loads from the socket as the bytes come (repl-diskless-load on-empty-db or swapdb), and only
 * into an empty dataset: the staged databases then hold the only copy of any data, never the
 * old dataset and the new one side by side. Not with key-load-delay (a test knob that slows
 * the load, which its tests time). With `disabled` (the default) Redis writes the image to
 * disk and loads it after the transfer; nodis keeps that order too: overlapping the replica's
 * parse with the master's walk shortens the sync, but on a machine that runs both (2 cores)
 * it took the master's write p99 from ~0.2 ms to ~2 ms (docs/PERFORMANCE.md, "jobs9").
 */
export function canLoadWhileReceiving(server: Server): boolean {
  return (
    server.config.getString('repl-diskless-load') !== 'disabled' &&
    server.config.getNumber('key-load-delay') === 0 &&
    server.dbs.every((db) => db.dict.size === 0 && db.expires.size === 0)
  );
}

/**
 * A replica's full sync parsed while the master sends it, instead of after the last byte:
 * the keys go into databases of their own (invisible to clients, who keep Redis's view of a
 * disk-based sync: the old dataset, or -LOADING in a diskless mode), the image's bytes are
 * appended to one growing buffer, and what has arrived is parsed in slices of a few ms as
 * each read lands. When the transfer ends, finish() parses the rest in loadRdbSliced's slices
 * (LOADING), then makes the load live at once: the old dataset emptied, the function
 * libraries loaded, each staged database swapped in (Database.swapWith). A damaged image is
 * refused then, with the same error and the same empty dataset as loadRdbSliced (parse
 * errors before the end are held until then); a transfer cut short is dropped with abort(),
 * leaving the dataset as it was. The master's walk and the replica's load overlap, so a full
 * sync takes about the longer of the two instead of their sum.
 */
export class StreamedRdbLoad implements RdbFeed {
  private readonly staged: StagedLoad;
  private readonly steps: Generator<number, { end: number; stats: LoadStats }>;
  private result: { end: number; stats: LoadStats } | null = null;
  /** A parse error met before the transfer ended: thrown by finish(). */
  private error: unknown = null;
  private scheduled = false;
  private stopped = false;
  /** The received bytes from `segmentStart` on not yet handed to the parser: `segment`, then `pending`. */
  private segment: Buffer = Buffer.alloc(0);
  private segmentStart = 0;
  private pending: Buffer[] = [];
  /** Bytes appended so far. */
  received = 0;
  /** RdbFeed: the image's bytes that may be parsed (those that cannot be the EOF mark). */
  end = 0;
  complete = false;

  /** `holdBack`: bytes at the end of what arrived that may be the EOF mark rather than the image. */
  constructor(
    private readonly server: Server,
    private readonly holdBack: number,
  ) {
    const dbs = server.dbs.map((live) => {
      const db = new Database(live.id, server);
      if (live.slots !== null) db.indexSlots();
      return db;
    });
    this.staged = { dbs, feed: this, aux: [], functions: [] };
    this.steps = persistence(server).loadImageSteps(this.segment, { allowDup: false, logAux: true }, this.staged);
  }

  /** Appends received bytes of the image (held, not copied: `chunk` must not be reused) and parses what they complete. */
  append(chunk: Buffer): void {
    this.pending.push(chunk);
    this.received += chunk.length;
    this.end = Math.max(0, this.received - this.holdBack);
    this.pump();
  }

  /** RdbFeed: the bytes [from, end) in one Buffer; those before `from` are let go. */
  bytesFrom(from: number): Buffer {
    const rest = this.segment.subarray(from - this.segmentStart);
    this.segment = this.pending.length === 0 ? rest : Buffer.concat([rest, ...this.pending]);
    this.segmentStart = from;
    this.pending = [];
    return this.segment.subarray(0, Math.max(0, this.end - from));
  }

  /** The last `n` bytes received, as latin1 ('' if fewer arrived). */
  tail(n: number): string {
    if (this.received < n) return '';
    let s = '';
    const parts = [this.segment, ...this.pending];
    for (let i = parts.length - 1; i >= 0 && s.length < n; i--) {
      const part = parts[i]!;
      s = part.latin1Slice(Math.max(0, part.length - (n - s.length)), part.length) + s;
    }
    return s;
  }

  private pump(): void {
    if (this.scheduled || this.stopped || this.error !== null || this.result !== null) return;
    const deadline = performance.now() + RECEIVE_SLICE_MS;
    try {
      for (let n = 1; ; n++) {
        const next = this.steps.next();
        if (next.done === true) {
          this.result = next.value;
          return;
        }
        if (next.value === RDB_WAIT) return;
        if ((n & 31) === 0 && performance.now() >= deadline) break;
      }
    } catch (e) {
      this.error = e;
      return;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  /** The transfer was cut short, or the link replaced: drop what was loaded. */
  abort(): void {
    this.stopped = true;
  }

  /**
   * The last byte arrived (`holdBack` bytes past the image are the EOF mark): parse the rest
   * while the server shows LOADING, then make the load live. Throws, leaving the dataset empty,
   * on a damaged image.
   */
  finish(): Promise<void> {
    const server = this.server;
    const p = persistence(server);
    this.stopped = true;
    this.complete = true;
    return asSyncLoad(server, this.end, async () => {
      if (this.error !== null) throw this.error;
      this.applyAux(p);
      const { stats } = this.result ?? (await runSliced(server, this.steps));
      this.applyAux(p);
      emptyData(server, -1);
      // The master's image carries its libraries: ours go with the old data (emptyData in Redis).
      flushRdbFunctions(server);
      for (const code of this.staged.functions) p.applyFunction(code, false);
      for (const db of server.dbs) db.swapWith(this.staged.dbs[db.id]!);
      server.invalidateUsedMemory();
      return stats;
    });
  }

  /** The AUX fields parsed so far (their log lines), in order. */
  private applyAux(p: RdbPersistence): void {
    for (const [name, value] of this.staged.aux) p.applyAux(name, value, true);
    this.staged.aux.length = 0;
  }
}
