/**
 * The two points where replication meets the RDB format, both owned by persistence/:
 *  - master: a copy-on-write Snapshot of the dataset (persistence/snapshot.ts) produced in
 *    slices, one per event-loop turn, while clients keep being served; its replication AUX
 *    fields carry the id and offset of the instant it started.
 *  - replica: the received image is loaded with the same loader as dump.rdb.
 */
import type { Server } from '../server/server.js';
import { rdbOf, flushRdbFunctions, logLoadDone, type RdbPersistence, type RdbFilter } from '../persistence/rdb.js';
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
export async function loadRdbSliced(server: Server, image: Buffer): Promise<void> {
  startLoading(server, image.length);
  try {
    emptyData(server, -1);
    flushRdbFunctions(server);
    const { stats } = await runSliced(server, persistence(server).loadImageSteps(image, { allowDup: false, logAux: true }));
    logLoadDone(server.log, stats);
  } catch (e) {
    emptyData(server, -1);
    flushRdbFunctions(server);
    throw e;
  } finally {
    stopLoading(server);
  }
}
