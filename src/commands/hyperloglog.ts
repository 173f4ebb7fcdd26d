/**
 * HyperLogLog commands (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
 *
 * An HLL is a plain string value in Redis's own byte layout (types/hyperloglog.ts), so every
 * string path (GET, DUMP/RESTORE, RDB, AOF, replication) carries it untouched. Writes go to an
 * owned Buffer edited in place (types/string-ops.ts); a value that arrives any other way (SET,
 * RESTORE, an RDB file) is copied into one the first time it is written.
 *
 * Side effects follow 7.0.15 exactly: PFADD and PFMERGE fire the `pfadd` keyspace event;
 * PFCOUNT of one key with a stale cache rewrites the cached cardinality, which dirties the key
 * (WATCH, propagation of the PFCOUNT itself) without an event; PFDEBUG GETREG/TODENSE dirty the
 * dataset when they convert a sparse value to dense, so replicas convert too.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Database } from '../keyspace/db.js';
import { isStringValue, stringLength, type RedisValue, type StringValue } from '../types/value.js';
import { bytesOf, mutableBytes } from '../types/string-ops.js';
import { WRONGTYPE } from '../protocol/errors.js';
import {
  HLL_DENSE,
  HLL_REGISTERS,
  HLL_SPARSE,
  HllEditor,
  cacheIsValid,
  cardinalityReply,
  createHll,
  decodeSparse,
  denseRegisters,
  hllCount,
  hllCountRaw,
  hllEncoding,
  hllMerge,
  hllSelfTest,
  invalidateCache,
  isHllString,
  readCachedCardinality,
  writeCachedCardinality,
} from '../types/hyperloglog.js';

const NOT_HLL = 'WRONGTYPE Key is not a valid HyperLogLog string value.';
const CORRUPTED = 'INVALIDOBJ Corrupted HLL object detected';

function sparseMaxBytes(c: Client): number {
  return c.server.config.getNumber('hll-sparse-max-bytes');
}

/** isHLLObjectOrReply: narrows to an HLL string, or replies the error and returns false. */
function isHllOrReply(c: Client, v: RedisValue): v is StringValue {
  if (!isStringValue(v)) {
    c.reply.error(WRONGTYPE);
    return false;
  }
  if (!isHllString(v)) {
    c.reply.error(NOT_HLL);
    return false;
  }
  return true;
}

/**
 * dbUnshareStringValue: the key's HLL as a Buffer that may be edited in place (a copy, stored
 * under the key, unless it already is one).
 */
function writableHll(db: Database, key: string, v: StringValue): Buffer {
  const buf = mutableBytes(v, stringLength(v), false);
  if (buf !== v) db.replace(key, buf);
  return buf;
}

/** PFADD key [element …]: 1 when the key was created or a register changed, else 0. */
function pfadd(c: Client): void {
  const argv = c.argv;
  const key = argv[1]!;
  const db = c.db;
  const v = db.lookup(key);
  let updated = 0;
  let buf: Buffer;
  if (v === undefined) {
    buf = createHll();
    db.set(key, buf);
    updated++;
  } else {
    if (!isHllOrReply(c, v)) return;
    buf = writableHll(db, key, v);
  }
  const hll = new HllEditor(buf, sparseMaxBytes(c));
  let corrupted = false;
  for (let j = 2; j < argv.length; j++) {
    const r = hll.add(argv[j]!);
    if (r === 1) updated++;
    else if (r === -1) {
      corrupted = true;
      break;
    }
  }
  // Sparse growth or promotion may have moved the bytes (even on the way to an error, as in Redis).
  if (hll.bytes !== buf) db.replace(key, hll.bytes);
  if (corrupted) {
    c.reply.error(CORRUPTED);
    return;
  }
  if (updated) {
    invalidateCache(hll.bytes);
    db.modified(key, '$', 'pfadd', updated);
    c.reply.one();
  } else {
    c.reply.zero();
  }
}

/** PFCOUNT key [key …]: the estimate for one key (cached in the value) or for the union. */
function pfcount(c: Client): void {
  const argv = c.argv;
  const db = c.db;
  if (argv.length > 2) {
    // The union, built in raw one-byte registers and never cached.
    const registers = new Uint8Array(HLL_REGISTERS);
    for (let j = 1; j < argv.length; j++) {
      const v = c.server.lookupRead(db, argv[j]!);
      if (v === undefined) continue;
      if (!isHllOrReply(c, v)) return;
      if (!hllMerge(registers, bytesOf(v))) {
        c.reply.error(CORRUPTED);
        return;
      }
    }
    c.reply.integer(cardinalityReply(hllCountRaw(registers)));
    return;
  }

  const key = argv[1]!;
  const v = c.server.lookupRead(db, key);
  if (v === undefined) {
    c.reply.zero();
    return;
  }
  if (!isHllOrReply(c, v)) return;
  const current = bytesOf(v);
  if (cacheIsValid(current)) {
    c.reply.integer(readCachedCardinality(current));
    return;
  }
  const estimate = hllCount(current);
  if (estimate < 0) {
    c.reply.error(CORRUPTED);
    return;
  }
  // Caching the result changes the string, so it dirties the key and propagates (no event).
  const buf = writableHll(db, key, v);
  // PFCOUNT is not a write command, so no hook has let a running snapshot save the old bytes
  // yet: `replace` does.
  db.replace(key, buf);
  writeCachedCardinality(buf, estimate);
  db.signalModified(key);
  db.counted();
  c.reply.integer(readCachedCardinality(buf));
}

/** PFMERGE destkey [sourcekey …]: destkey becomes the union of itself and the sources. */
function pfmerge(c: Client): void {
  const argv = c.argv;
  const db = c.db;
  const registers = new Uint8Array(HLL_REGISTERS);
  let useDense = false;
  // The destination is one of the inputs (argv[1] onwards).
  for (let j = 1; j < argv.length; j++) {
    const v = c.server.lookupRead(db, argv[j]!);
    if (v === undefined) continue;
    if (!isHllOrReply(c, v)) return;
    const bytes = bytesOf(v);
    // A dense input makes the result dense straight away (no sparse detour).
    if (hllEncoding(bytes) === HLL_DENSE) useDense = true;
    if (!hllMerge(registers, bytes)) {
      c.reply.error(CORRUPTED);
      return;
    }
  }

  const key = argv[1]!;
  const existing = db.lookup(key);
  let buf: Buffer;
  if (existing === undefined) {
    buf = createHll();
    db.set(key, buf);
  } else {
    // Already checked as an input above.
    buf = writableHll(db, key, existing as StringValue);
  }
  const hll = new HllEditor(buf, sparseMaxBytes(c));
  if (useDense && !hll.toDense()) {
    c.reply.error(CORRUPTED);
    return;
  }
  for (let j = 0; j < HLL_REGISTERS; j++) {
    if (registers[j] !== 0) hll.set(j, registers[j]!);
  }
  invalidateCache(hll.bytes);
  if (hll.bytes !== buf) db.replace(key, hll.bytes);
  // Redis fires `pfadd` for PFMERGE too: in effect it is a mass add.
  db.modified(key, '$', 'pfadd');
  c.reply.ok();
}

/** PFSELFTEST: Redis's internal consistency and accuracy test. */
function pfselftest(c: Client): void {
  const rng = c.server.rng;
  // rand() gives 31 bits.
  const failure = hllSelfTest(() => rng.nextUint32() >>> 1, sparseMaxBytes(c));
  if (failure === null) c.reply.ok();
  else c.reply.error(failure);
}

/** PFDEBUG GETREG|DECODE|ENCODING|TODENSE key. */
function pfdebug(c: Client): void {
  const sub = c.argv[1]!;
  const key = c.argv[2]!;
  const db = c.db;
  const v = db.lookup(key);
  if (v === undefined) {
    c.reply.error('ERR The specified key does not exist');
    return;
  }
  if (!isHllOrReply(c, v)) return;
  const buf = writableHll(db, key, v);
  const hll = new HllEditor(buf, sparseMaxBytes(c));

  /** Converts a sparse value to dense and stores it; false after replying the error. */
  const convert = (): boolean => {
    if (!hll.toDense()) {
      c.reply.error(CORRUPTED);
      return false;
    }
    db.replace(key, hll.bytes);
    // The encoding change must reach replicas and the AOF.
    db.counted();
    return true;
  };

  switch (sub.toLowerCase()) {
    case 'getreg': {
      if (hllEncoding(buf) === HLL_SPARSE && !convert()) return;
      const registers = denseRegisters(hll.bytes);
      c.reply.array(HLL_REGISTERS);
      for (let j = 0; j < HLL_REGISTERS; j++) c.reply.integer(registers[j]!);
      return;
    }
    case 'decode':
      if (hllEncoding(buf) !== HLL_SPARSE) {
        c.reply.error('ERR HLL encoding is not sparse');
        return;
      }
      c.reply.bulk(decodeSparse(buf));
      return;
    case 'encoding':
      c.reply.status(hllEncoding(buf) === HLL_DENSE ? 'dense' : 'sparse');
      return;
    case 'todense': {
      const sparse = hllEncoding(buf) === HLL_SPARSE;
      if (sparse && !convert()) return;
      if (sparse) c.reply.one();
      else c.reply.zero();
      return;
    }
    default:
      c.reply.error(`ERR Unknown PFDEBUG subcommand '${sub}'`);
  }
}

export const commands: CommandHandlers = { pfadd, pfcount, pfmerge, pfselftest, pfdebug };
