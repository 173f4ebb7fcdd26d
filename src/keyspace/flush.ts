/**
 * emptyData (db.c): empties one database or all of them, for FLUSHDB/FLUSHALL, a replica's full
 * sync and DEBUG RELOAD. It lives in keyspace/ so that replication need not import commands/.
 */
import type { Server } from '../server/server.js';
import { releasedMemory } from '../server/gc.js';

/**
 * Empties one database (or all with -1) and returns the number of keys removed. WATCHers are
 * signalled first, while the keys are still there to be checked (signalFlushedDb).
 * The ASYNC form is the same here: dropping the dictionaries is O(1) for the event loop, and
 * the garbage collector reclaims the memory in the background; `async` only counts every key
 * as lazily freed, as emptyDbAsync does (INFO lazyfreed_objects).
 */
export function emptyData(server: Server, dbId: number, async = false): number {
  let removed = 0;
  const dbs = dbId === -1 ? server.dbs : [server.dbs[dbId]!];
  for (const db of dbs) {
    if (db.dict.size === 0 && db.expires.size === 0) {
      server.signalDbTouched(db.id);
      continue;
    }
    server.signalDbTouched(db.id);
    removed += db.dict.size;
    releasedMemory(db.memoryBytes());
    db.clear();
  }
  server.invalidateUsedMemory();
  if (async) server.stats.lazyfreedObjects += removed;
  return removed;
}
