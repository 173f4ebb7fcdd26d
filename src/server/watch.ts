/**
 * WATCH bookkeeping (the CAS half of MULTI/EXEC, Redis 7.0.15 multi.c).
 *
 * Two indexes point at the same `WatchedKey` records: per database, key → watchers (so a write
 * finds the clients to flag in O(1)), and per client, its watched keys (so UNWATCH, EXEC,
 * DISCARD, RESET and disconnect can drop them). Touching a watched key sets the client's
 * `watchDirty` (CLIENT_DIRTY_CAS) and unwatches everything it watched: EXEC will answer null.
 *
 * Expiry follows 7.0: a key that was already logically expired when WATCHed is remembered as
 * such, and deleting it later (lazily, actively, by FLUSHDB …) is no logical change; a key alive
 * at WATCH time that expires before EXEC dooms the transaction, whether or not it was deleted.
 */
import type { Server } from './server.js';
import type { Client } from './client.js';
import type { Database } from '../keyspace/db.js';

interface WatchedKey {
  readonly client: Client;
  readonly db: number;
  readonly key: string;
  /** The key was already expired (but not deleted) when WATCH was called. */
  expired: boolean;
}

interface WatchState {
  /** db id → key → watchers. */
  readonly byDb: Map<number, Map<string, Set<WatchedKey>>>;
  /** Every client with at least one watched key, and its keys. */
  readonly byClient: Map<Client, WatchedKey[]>;
}

const states = new WeakMap<Server, WatchState>();

function stateOf(server: Server): WatchState {
  let s = states.get(server);
  if (s === undefined) {
    s = { byDb: new Map(), byClient: new Map() };
    states.set(server, s);
  }
  return s;
}

/** keyIsExpired: has a TTL in the past (whether or not it was deleted yet). */
function keyIsExpired(server: Server, db: Database, key: string): boolean {
  const when = db.expires.get(key);
  return when !== undefined && when <= server.expiryNow();
}

/** WATCH one key in the client's current database (watchForKey). */
export function watchKey(c: Client, key: string): void {
  const s = stateOf(c.server);
  const dbId = c.db.id;
  let mine = s.byClient.get(c);
  if (mine !== undefined) {
    for (const wk of mine) if (wk.db === dbId && wk.key === key) return;
  } else {
    mine = [];
    s.byClient.set(c, mine);
  }
  let keys = s.byDb.get(dbId);
  if (keys === undefined) {
    keys = new Map();
    s.byDb.set(dbId, keys);
  }
  let watchers = keys.get(key);
  if (watchers === undefined) {
    watchers = new Set();
    keys.set(key, watchers);
  }
  const wk: WatchedKey = { client: c, db: dbId, key, expired: keyIsExpired(c.server, c.db, key) };
  mine.push(wk);
  watchers.add(wk);
}

/** Forgets every key the client watches (the dirty flag is the caller's business). */
export function unwatchAllKeys(c: Client): void {
  const s = states.get(c.server);
  if (s === undefined) return;
  const mine = s.byClient.get(c);
  if (mine === undefined) return;
  s.byClient.delete(c);
  for (const wk of mine) {
    const keys = s.byDb.get(wk.db);
    const watchers = keys?.get(wk.key);
    if (keys === undefined || watchers === undefined) continue;
    watchers.delete(wk);
    if (watchers.size === 0) {
      keys.delete(wk.key);
      if (keys.size === 0) s.byDb.delete(wk.db);
    }
  }
}

/** Number of keys a client watches. */
export function watchedKeyCount(c: Client): number {
  return states.get(c.server)?.byClient.get(c)?.length ?? 0;
}

/** True when a key that was alive at WATCH time is now logically expired (checked by EXEC). */
export function isWatchedKeyExpired(c: Client): boolean {
  const mine = states.get(c.server)?.byClient.get(c);
  if (mine === undefined) return false;
  for (const wk of mine) {
    if (wk.expired) continue;
    const db = c.server.dbs[wk.db];
    if (db !== undefined && keyIsExpired(c.server, db, wk.key)) return true;
  }
  return false;
}

/** touchWatchedKey: a write to `key` dooms every transaction watching it. */
function touchWatchedKey(server: Server, s: WatchState, dbId: number, key: string): void {
  const watchers = s.byDb.get(dbId)?.get(key);
  if (watchers === undefined) return;
  for (const wk of [...watchers]) {
    if (wk.expired) {
      // The key was already expired at WATCH time: its deletion is no logical change, and
      // from then on it is watched as a missing key.
      if (!server.dbs[dbId]!.dict.has(key)) wk.expired = false;
      continue;
    }
    wk.client.watchDirty = true;
    // Once dirty, nothing more can happen to this transaction: stop tracking its keys.
    unwatchAllKeys(wk.client);
  }
}

/**
 * touchAllWatchedKeysInDb: FLUSHDB/FLUSHALL (called before the keys go) and SWAPDB (called
 * after the swap, with the partner db). A watched key is touched when it exists in the emptied
 * contents or in what replaces them; stale (expired) keys replaced by nothing or by another
 * stale key are no logical change.
 */
function touchAllWatchedKeysInDb(server: Server, s: WatchState, dbId: number, swappedWith: number | undefined): void {
  const keys = s.byDb.get(dbId);
  if (keys === undefined) return;
  // After SWAPDB the old contents of `dbId` live in the partner, the new ones in `dbId`.
  const emptied = swappedWith === undefined ? server.dbs[dbId]! : server.dbs[swappedWith]!;
  const replacedWith = swappedWith === undefined ? null : server.dbs[dbId]!;
  const dirtied: Client[] = [];
  for (const [key, watchers] of keys) {
    const existsInEmptied = emptied.dict.has(key);
    const existsInReplacement = replacedWith !== null && replacedWith.dict.has(key);
    if (!existsInEmptied && !existsInReplacement) continue;
    for (const wk of watchers) {
      if (wk.expired) {
        if (!existsInReplacement) {
          wk.expired = false;
          continue;
        } else if (keyIsExpired(server, replacedWith!, key)) {
          continue;
        }
      } else if (!existsInEmptied && keyIsExpired(server, replacedWith!, key)) {
        wk.expired = true;
        continue;
      }
      wk.client.watchDirty = true;
      dirtied.push(wk.client);
    }
  }
  for (const c of dirtied) unwatchAllKeys(c);
}

export function install(server: Server): void {
  const s = stateOf(server);
  server.hooks.keyModified.push((dbId, key) => {
    if (s.byDb.size !== 0) touchWatchedKey(server, s, dbId, key);
  });
  server.hooks.dbTouched.push((dbId, swappedWith) => {
    if (s.byDb.size !== 0) touchAllWatchedKeysInDb(server, s, dbId, swappedWith);
  });
  server.hooks.resetClient.push((c) => unwatchAllKeys(c));
  server.hooks.clientClosed.push((c) => unwatchAllKeys(c));
}
