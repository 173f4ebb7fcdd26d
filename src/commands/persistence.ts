/**
 * Persistence commands: SAVE, BGSAVE [SCHEDULE], DUMP and RESTORE (rdb.c, cluster.c).
 * LASTSAVE lives with the server commands (it only reads `server.lastSave`, which saves set).
 *
 * DUMP's payload is Redis's: <type><value as in an RDB file><RDB version u16 LE><CRC64 LE>, so
 * a DUMP from redis-server RESTOREs here and back.
 */
import { restoredAccess } from '../keyspace/access.js';
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { NOT_INTEGER, SYNTAX } from '../protocol/errors.js';
import { parseInt64 } from '../protocol/args.js';
import { rdbOf, type RdbPersistence } from '../persistence/rdb.js';
import { dumpPayload } from '../persistence/rdb-encode.js';
import { verifyDumpPayload } from '../persistence/rdb-decode.js';
import { decodeRestorePayload } from '../persistence/sanitize.js';
import { debugTunables } from '../server/debug-hooks.js';
import type { RedisValue } from '../types/value.js';

const NO_PERSISTENCE = 'ERR persistence is not available on this server';

function persistence(c: Client): RdbPersistence | null {
  const p = rdbOf(c.server) ?? null;
  if (p === null) c.reply.error(NO_PERSISTENCE);
  return p;
}

function save(c: Client): void {
  const p = persistence(c);
  if (p === null) return;
  if (p.bgsave !== null) {
    c.reply.error('ERR Background save already in progress');
    return;
  }
  if (p.saveSync()) c.reply.ok();
  else c.reply.error('ERR');
}

function bgsave(c: Client): void {
  let schedule = false;
  if (c.argv.length > 1) {
    if (c.argv.length === 2 && c.argv[1]!.toLowerCase() === 'schedule') schedule = true;
    else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const p = persistence(c);
  if (p === null) return;
  const inExec = c.multi !== null;
  if (p.bgsave !== null) {
    c.reply.error('ERR Background save already in progress');
  } else if (p.otherChildActive() || inExec) {
    if (schedule || inExec) {
      p.bgsaveScheduled = true;
      c.reply.status('Background saving scheduled');
    } else {
      c.reply.error(
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
      );
    }
  } else if (p.startBgsave()) {
    c.reply.status('Background saving started');
  } else {
    c.reply.error('ERR');
  }
}

export { dumpPayload };

function dump(c: Client): void {
  const v = c.server.lookupRead(c.db, c.argv[1]!);
  if (v === undefined) {
    c.reply.nullBulk();
    return;
  }
  const cfg = c.server.config;
  const payload = dumpPayload(v, {
    compress: cfg.getBool('rdbcompression'),
    listMaxListpackSize: cfg.getNumber('list-max-listpack-size'),
    packedThreshold: debugTunables.quicklistPackedThreshold,
  });
  c.reply.bulk(payload.latin1Slice(0, payload.length));
}

export function restore(c: Client): void {
  const argv = c.argv;
  const key = argv[1]!;
  let replace = false;
  let absttl = false;
  let idle = -1;
  let freq = -1;
  for (let j = 4; j < argv.length; j++) {
    const opt = argv[j]!.toLowerCase();
    const additional = argv.length - j - 1;
    if (opt === 'replace') replace = true;
    else if (opt === 'absttl') absttl = true;
    else if (opt === 'idletime' && additional >= 1 && freq === -1) {
      const v = parseInt64(argv[j + 1]!);
      if (v === null) return c.reply.error(NOT_INTEGER);
      if (v < 0n) return c.reply.error('ERR Invalid IDLETIME value, must be >= 0');
      idle = Number(v);
      j++;
    } else if (opt === 'freq' && additional >= 1 && idle === -1) {
      const v = parseInt64(argv[j + 1]!);
      if (v === null) return c.reply.error(NOT_INTEGER);
      if (v < 0n || v > 255n) return c.reply.error('ERR Invalid FREQ value, must be >= 0 and <= 255');
      freq = Number(v);
      j++;
    } else {
      return c.reply.error(SYNTAX);
    }
  }
  const db = c.db;
  if (!replace && db.lookup(key) !== undefined) return c.reply.error('BUSYKEY Target key name already exists.');
  const ttlBig = parseInt64(argv[2]!);
  if (ttlBig === null) return c.reply.error(NOT_INTEGER);
  if (ttlBig < 0n) return c.reply.error('ERR Invalid TTL value, must be >= 0');
  const payload = Buffer.from(argv[3]!, 'latin1');
  if (!verifyDumpPayload(payload, debugTunables.skipChecksumValidation)) {
    return c.reply.error('ERR DUMP payload version or checksum are wrong');
  }
  const value = decodeRestorePayload(c, key, payload, c.server.limits);
  if (value === null) return c.reply.error('ERR Bad data format');
  const server = c.server;
  let deleted = false;
  if (replace) deleted = db.delete(key);
  let ttl = Number(ttlBig);
  const now = server.expiryNow();
  if (ttl !== 0 && !absttl) ttl += now;
  if (ttl !== 0 && ttl <= now && !server.role.isReplica()) {
    if (deleted) {
      const lazy = server.config.getBool('lazyfree-lazy-server-del');
      c.propagateArgv = [lazy ? 'UNLINK' : 'DEL', key];
      db.modified(key, 'g', 'del');
    }
    c.reply.ok();
    return;
  }
  db.set(key, value);
  if (ttl !== 0) {
    db.setExpire(key, ttl);
    if (!absttl) {
      const rewritten = argv.slice();
      rewritten[2] = String(ttl);
      rewritten.push('ABSTTL');
      c.propagateArgv = rewritten;
    }
  }
  const access = restoredAccess(server.access, freq, idle);
  if (access !== null) db.access.set(key, access);
  db.modified(key, 'g', 'restore');
  c.reply.ok();
}

export const commands: CommandHandlers = { save, bgsave, dump, restore };
