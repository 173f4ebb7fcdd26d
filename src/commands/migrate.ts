/**
 * MIGRATE and RESTORE-ASKING (cluster.c's migrateCommand / restoreCommand).
 *
 * MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
 *         [AUTH2 username password] [KEYS key ...]
 *
 * Redis runs MIGRATE with blocking socket I/O, freezing the server until the target answered.
 * nodis keeps serving everyone else instead:
 *
 *  1. The handler parses the arguments, looks the keys up and serialises them right away (DUMP
 *     payloads and remaining TTLs: a snapshot of what it moves), then suspends the client with
 *     `blockClient` (its pipelined commands wait, as with WAIT).
 *  2. The transfer runs on a cached outbound connection (server/migrate-conn.ts): optional AUTH,
 *     SELECT only when the target's db differs from the last one used on that connection, one
 *     RESTORE key ttl payload [REPLACE] per key, all pipelined, then every reply read. A socket
 *     error before any RESTORE reply is retried once on a fresh connection (unless it was a
 *     timeout), as Redis does for a cached connection the peer closed meanwhile.
 *  3. When the replies are in, keys the target accepted are deleted locally (unless COPY), through
 *     the usual path: `db.modified` (dirty, WATCH, tracking, the `del` keyspace event) and one
 *     `DEL key ...` propagated to the AOF and replicas, as Redis rewrites MIGRATE into. Every
 *     change to a key is seen through `hooks.keyModified`/`dbTouched`: a key another client
 *     wrote or deleted while the MIGRATE was in flight is sent again first (see transfer()), so
 *     the target ends with what clients were told, as after Redis's blocking MIGRATE; a key
 *     still changing after several rounds stays here.
 *
 * Replies are Redis's: +OK, +NOKEY, -IOERR error or timeout connecting to the client (the address
 * does not resolve; a refused connection is reported as a failed write, as Redis does),
 * -IOERR error or timeout writing|reading to target instance, -ERR Target instance replied with
 * error: <first error>. AUTH/AUTH2 arguments are shown as "(redacted)" in SLOWLOG and MONITOR.
 *
 * Inside MULTI/EXEC, scripts and other contexts that cannot wait (`canBlock`), a MIGRATE that
 * would have to reach the network is refused with an error; argument errors and +NOKEY are
 * answered there as in Redis. A CLIENT PAUSE in force when the replies arrive holds the local
 * deletion and the reply until it ends. CLIENT UNBLOCK abandons the MIGRATE as a timeout would:
 * the connection is closed and no key is deleted here.
 *
 * With `cluster-enabled yes` the keys travel as RESTORE-ASKING, as Redis sends them: the target
 * is importing the slot and serves them only when asked (its `asking` command flag, honoured
 * by cluster routing). RESTORE-ASKING is otherwise RESTORE.
 */
import { ArenaValue } from '../types/value-arena.js';
import type { CommandHandlers } from '../server/command-table.js';
import type { Client, BlockedState } from '../server/client.js';
import type { Server } from '../server/server.js';
import type { Database } from '../keyspace/db.js';
import type { RedisValue } from '../types/value.js';
import type { Reply } from '../protocol/reply-parser.js';
import { NOT_INTEGER, SYNTAX } from '../protocol/errors.js';
import { parseInteger } from '../protocol/args.js';
import { dumpPayload, restore } from './persistence.js';
import { debugTunables } from '../server/debug-hooks.js';
import { setInfoField } from '../server/info-fields.js';
import { blockClient, canBlock, unblockClient } from '../server/blocking.js';
import { MigrateConnection, MigrateSocketCache } from '../server/migrate-conn.js';

const REDACTED = '(redacted)';
const KEYS_NEED_EMPTY_KEY = 'ERR When using MIGRATE KEYS option, the key argument must be set to the empty string';
const IOERR_CONNECT = 'IOERR error or timeout connecting to the client';
const IOERR_WRITING = 'IOERR error or timeout writing to target instance';
const IOERR_READING = 'IOERR error or timeout reading to target instance';
const TARGET_ERROR = 'ERR Target instance replied with error: ';
const CANNOT_WAIT = 'ERR MIGRATE cannot wait for the target instance inside MULTI/EXEC or a script';
const UNBLOCKED_BY_CLIENT = 'UNBLOCKED client unblocked via CLIENT UNBLOCK';
/** How often a held completion re-checks whether CLIENT PAUSE ended. */
const PAUSE_POLL_MS = 50;

/** One key as snapshotted when MIGRATE started. */
interface MovedKey {
  key: string;
  value: RedisValue;
  /** Remaining TTL in ms, 0 for none (RESTORE's ttl argument). */
  ttl: number;
  payload: Buffer;
  /** Deleted here while in flight: sent as an already expired RESTORE … REPLACE, which removes the target's copy. */
  gone?: boolean;
}

/** A MIGRATE in flight. */
interface MigrateJob {
  client: Client;
  db: Database;
  host: string;
  port: number;
  /** "host:port" as given: the connection cache's key. */
  target: string;
  dbId: number;
  timeoutMs: number;
  copy: boolean;
  replace: boolean;
  username: string | null;
  password: string | null;
  keys: MovedKey[];
  /** Key → the value object serialised (what a later deletion must still find). */
  values: Map<string, RedisValue>;
  /** Keys modified since the snapshot: never deleted here. */
  touched: Set<string>;
  /** The argv for SLOWLOG (AUTH arguments already redacted). */
  argv: string[];
  startedAt: number;
  state: BlockedState;
  /** The connection this job is currently exchanging on (so CLIENT UNBLOCK can cut it). */
  conn: MigrateConnection | null;
  /** CLIENT UNBLOCK gave up on it: the transfer stops and nothing is deleted. */
  abandoned: boolean;
  /** The client disconnected: the transfer completes, no reply is written. */
  clientGone: boolean;
}

/** What a finished transfer asks of the local side. */
interface Outcome {
  /** Keys the target acknowledged and that are to be deleted here (empty with COPY). */
  acked: string[];
  /** The reply: a status (OK) or an error text. */
  reply: { status: string } | { error: string };
}

interface MigrateState {
  cache: MigrateSocketCache;
  jobs: Set<MigrateJob>;
}

const states = new WeakMap<Server, MigrateState>();

/** The per-server state, installing the hooks on first use (servers that never MIGRATE pay nothing). */
function stateOf(server: Server): MigrateState {
  let st = states.get(server);
  if (st !== undefined) return st;
  const state: MigrateState = { cache: new MigrateSocketCache(server.clock, () => server.rng.next()), jobs: new Set() };
  st = state;
  states.set(server, state);
  server.hooks.keyModified.push((dbId, key) => {
    if (state.jobs.size === 0) return;
    for (const job of state.jobs) if (job.db.id === dbId && job.values.has(key)) job.touched.add(key);
  });
  server.hooks.dbTouched.push((dbId, swappedWith) => {
    if (state.jobs.size === 0) return;
    for (const job of state.jobs) {
      if (job.db.id === dbId || job.db.id === swappedWith) for (const k of job.keys) job.touched.add(k.key);
    }
  });
  // migrateCloseTimedoutSockets runs once a second from serverCron.
  let lastSweep = server.clock.monotonic();
  server.hooks.cron.push(() => {
    const now = server.clock.monotonic();
    if (now - lastSweep < 1000) return;
    lastSweep = now;
    state.cache.sweep();
  });
  server.hooks.shutdown.push(() => {
    state.cache.closeAll();
    return true;
  });
  setInfoField(server, 'migrate_cached_sockets', () => state.cache.size);
  return state;
}

/** atoi(): leading digits after optional blanks and sign; 0 when there are none. */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number.parseInt(m[1]!, 10);
}

function migrate(c: Client): void {
  const argv = c.argv;
  let copy = false;
  let replace = false;
  let username: string | null = null;
  let password: string | null = null;
  let firstKey = 3;
  let numKeys = 1;
  for (let j = 6; j < argv.length; j++) {
    const more = argv.length - 1 - j;
    const opt = argv[j]!.toLowerCase();
    if (opt === 'copy') copy = true;
    else if (opt === 'replace') replace = true;
    else if (opt === 'auth') {
      if (more === 0) return c.reply.error(SYNTAX);
      password = argv[++j]!;
      argv[j] = REDACTED;
    } else if (opt === 'auth2') {
      if (more < 2) return c.reply.error(SYNTAX);
      username = argv[++j]!;
      argv[j] = REDACTED;
      password = argv[++j]!;
      argv[j] = REDACTED;
    } else if (opt === 'keys') {
      if (argv[3]!.length !== 0) return c.reply.error(KEYS_NEED_EMPTY_KEY);
      firstKey = j + 1;
      numKeys = argv.length - j - 1;
      break;
    } else {
      return c.reply.error(SYNTAX);
    }
  }
  const timeoutArg = parseInteger(argv[5]!);
  const dbId = parseInteger(argv[4]!);
  if (timeoutArg === null || dbId === null) return c.reply.error(NOT_INTEGER);
  const timeoutMs = timeoutArg <= 0 ? 1000 : timeoutArg;

  const server = c.server;
  const db = c.db;
  const found: { key: string; value: RedisValue }[] = [];
  for (let j = 0; j < numKeys; j++) {
    const key = argv[firstKey + j]!;
    const value = server.lookupRead(db, key);
    if (value !== undefined) found.push({ key, value });
  }
  if (found.length === 0) return c.reply.status('NOKEY');
  if (!canBlock(c)) return c.reply.error(CANNOT_WAIT);

  // The snapshot: serialise now, so later writes by other clients cannot tear what is sent.
  const keys: MovedKey[] = [];
  for (const { key, value } of found) {
    const k = snapshotKey(server, db, key, value);
    if (k !== null) keys.push(k);
  }

  const st = stateOf(server);
  const job: MigrateJob = {
    client: c,
    db,
    host: argv[1]!,
    port: atoi(argv[2]!),
    target: `${argv[1]!}:${argv[2]!}`,
    dbId,
    timeoutMs,
    copy,
    replace,
    username,
    password,
    keys,
    values: new Map(keys.map((k) => [k.key, k.value])),
    touched: new Set(),
    argv: argv.slice(),
    startedAt: server.clock.monotonic(),
    state: { kind: 'other', deadline: 0, onTimeout: () => {} },
    conn: null,
    abandoned: false,
    clientGone: false,
  };
  job.state.onCancel = (reason) => cancel(st, job, reason);
  st.jobs.add(job);
  blockClient(c, job.state);
  transfer(st, job)
    .then(
      (outcome) => {
        if (outcome !== null) complete(st, job, outcome);
      },
      (err: unknown) => {
        server.log.warning(`MIGRATE to ${job.target} failed unexpectedly: ${String(err)}`);
        complete(st, job, { acked: [], reply: { error: IOERR_READING } });
      },
    )
    .catch((err: unknown) => server.log.warning(`MIGRATE completion failed: ${String(err)}`));
}

/** A key's DUMP payload and remaining TTL as of now; null when it has already expired. */
function snapshotKey(server: Server, db: Database, key: string, value: RedisValue): MovedKey | null {
  let ttl = 0;
  const expireAt = db.getExpire(key);
  if (expireAt !== -1) {
    ttl = expireAt - server.expiryNow();
    if (ttl < 0) return null;
    if (ttl < 1) ttl = 1;
  }
  return { key, value, ttl, payload: dumpOf(server, value) };
}

function dumpOf(server: Server, value: RedisValue): Buffer {
  const cfg = server.config;
  return dumpPayload(value, {
    compress: cfg.getBool('rdbcompression'),
    listMaxListpackSize: cfg.getNumber('list-max-listpack-size'),
    packedThreshold: debugTunables.quicklistPackedThreshold,
  });
}

/** The pipeline of one attempt: [AUTH], [SELECT], RESTORE (RESTORE-ASKING in a cluster) per key. */
function buildPipeline(job: MigrateJob, select: boolean, cluster: boolean): Buffer {
  const parts: Buffer[] = [];
  const pushCommand = (args: (string | Buffer)[]): void => {
    let head = `*${args.length}\r\n`;
    for (const a of args) {
      if (typeof a === 'string') {
        head += `$${a.length}\r\n${a}\r\n`;
      } else {
        head += `$${a.length}\r\n`;
        parts.push(Buffer.from(head, 'latin1'), a);
        head = '\r\n';
      }
    }
    parts.push(Buffer.from(head, 'latin1'));
  };
  if (job.password !== null) pushCommand(job.username !== null ? ['AUTH', job.username, job.password] : ['AUTH', job.password]);
  if (select) pushCommand(['SELECT', String(job.dbId)]);
  for (const k of job.keys) {
    const args: (string | Buffer)[] = [cluster ? 'RESTORE-ASKING' : 'RESTORE', k.key, k.gone === true ? '1' : String(k.ttl), k.payload];
    if (k.gone === true) args.push('REPLACE', 'ABSTTL');
    else if (job.replace) args.push('REPLACE');
    pushCommand(args);
  }
  return Buffer.concat(parts);
}

/** How many times keys changed in flight are sent again before they are left here. */
const MAX_RESENDS = 16;

/**
 * Runs the network side of a MIGRATE; null when it was abandoned.
 *
 * Redis's MIGRATE blocks its server, so no write lands between the snapshot and the deletion;
 * nodis serves other clients meanwhile. Keys they changed (or deleted) in flight are sent again
 * with REPLACE (a deleted one as an expired RESTORE, which removes the target's copy) until a
 * round finds none changed: the deletion that follows, in the same turn of the event loop as
 * the last round's replies, leaves the target with every acknowledged write, as Redis would. A
 * key still changing after MAX_RESENDS rounds, or whose resend failed, stays here.
 */
async function transfer(st: MigrateState, job: MigrateJob): Promise<Outcome | null> {
  const release = await st.cache.lock(job.target);
  const all = job.keys;
  const replace = job.replace;
  try {
    const outcome = await attempt(st, job);
    if (outcome === null || !('status' in outcome.reply) || job.copy) return outcome;
    for (let round = 0; round < MAX_RESENDS && job.touched.size > 0; round++) {
      const again = resnapshot(job, outcome.acked);
      if (again.length === 0) break;
      job.keys = again;
      job.replace = true;
      const more = await attempt(st, job);
      if (more === null) return null;
      if (!('status' in more.reply)) {
        for (const k of again) job.touched.add(k.key);
        break;
      }
    }
    return outcome;
  } finally {
    job.keys = all;
    job.replace = replace;
    job.conn = null;
    release();
  }
}

/** The acknowledged keys changed since they were sent, snapshotted again (their change marks cleared). */
function resnapshot(job: MigrateJob, acked: readonly string[]): MovedKey[] {
  const server = job.client.server;
  const again: MovedKey[] = [];
  for (const key of acked) {
    if (!job.touched.has(key)) continue;
    job.touched.delete(key);
    const current = job.db.peek(key);
    const previous = job.values.get(key)!;
    const k = current === undefined ? null : snapshotKey(server, job.db, key, current);
    if (k === null) {
      // Deleted (or expired) here: the target must drop the copy it took.
      // An arena value's chunk went back with the key: its bytes are not read again.
      const stale = previous instanceof ArenaValue ? '' : previous;
      again.push({ key, value: stale, ttl: 1, payload: dumpOf(server, stale), gone: true });
      continue;
    }
    job.values.set(key, current!);
    again.push(k);
  }
  return again;
}

async function attempt(st: MigrateState, job: MigrateJob): Promise<Outcome | null> {
  const server = job.client.server;
  let mayRetry = true;
  for (;;) {
    if (job.abandoned) return null;
    let conn = st.cache.get(job.target);
    if (conn === undefined) {
      // tls-cluster: MIGRATE speaks TLS to its target, as Redis's migrateGetSocket does.
      const dialTls = server.config.getBool('tls-cluster') ? (o: { host: string; port: number }) => server.tls.dial(o) : undefined;
      const fresh = await MigrateConnection.connect(job.host, job.port, job.timeoutMs, server.clock, dialTls);
      if (job.abandoned) {
        if (fresh instanceof MigrateConnection) fresh.close();
        return null;
      }
      if (!(fresh instanceof MigrateConnection)) {
        if (fresh.error === 'resolve') return { acked: [], reply: { error: IOERR_CONNECT } };
        // Redis's connect "succeeds" and the failure shows on the first write: retried once.
        if (!fresh.timedOut && mayRetry) {
          mayRetry = false;
          continue;
        }
        return { acked: [], reply: { error: IOERR_WRITING } };
      }
      st.cache.add(job.target, fresh);
      conn = fresh;
    }
    job.conn = conn;
    const select = conn.lastDbId !== job.dbId;
    const prefix = (job.password !== null ? 1 : 0) + (select ? 1 : 0);
    const expected = prefix + job.keys.length;
    const result = await conn.exchange(buildPipeline(job, select, server.cluster !== null), expected, job.timeoutMs);
    job.conn = null;
    if (job.abandoned) return null;

    const { replies, failure } = result;
    const authReply = job.password !== null ? replies[0] : undefined;
    const selectReply = select ? replies[job.password !== null ? 1 : 0] : undefined;
    const restoreReplies = replies.length > prefix ? replies.slice(prefix) : [];
    // An AUTH or SELECT error fails every key (each reply is checked against them, as in Redis).
    const firstError = errorText(authReply) ?? errorText(selectReply);
    let targetError: string | null = null;
    const acked: string[] = [];
    for (let j = 0; j < restoreReplies.length; j++) {
      const err = firstError ?? errorText(restoreReplies[j]);
      if (err !== null) {
        if (targetError === null) {
          conn.lastDbId = -1;
          targetError = err;
        }
      } else if (!job.copy) {
        acked.push(job.keys[j]!.key);
      }
    }
    if (failure !== null) {
      // Nothing was acknowledged: a cached connection the target had closed, most likely. Try a
      // fresh one, once, unless the target was merely slow.
      if (targetError === null && restoreReplies.length === 0 && mayRetry && !failure.timedOut) {
        mayRetry = false;
        conn.close();
        continue;
      }
      conn.close();
      if (targetError === null) return { acked, reply: { error: failure.whileWriting ? IOERR_WRITING : IOERR_READING } };
      return { acked, reply: { error: TARGET_ERROR + targetError } };
    }
    if (targetError !== null) return { acked, reply: { error: TARGET_ERROR + targetError } };
    conn.lastDbId = job.dbId;
    return { acked, reply: { status: 'OK' } };
  }
}

/** The text of an error reply (without its '-'), else null. */
function errorText(r: Reply | undefined): string | null {
  return r !== undefined && r.type === 'error' ? r.value : null;
}

/** Applies the outcome here: deletes the acknowledged keys, answers the client. */
function complete(st: MigrateState, job: MigrateJob, outcome: Outcome): void {
  const server = job.client.server;
  if (job.abandoned) return;
  // A paused server accepts no writes: hold the deletion (and the reply) until the pause ends.
  if (outcome.acked.length > 0 && server.pause.mode !== null && !server.shuttingDown) {
    const wait = Math.max(1, Math.min(PAUSE_POLL_MS, Math.ceil(server.pause.until - server.clock.monotonic())));
    server.clock.setTimer(wait, () => complete(st, job, outcome));
    return;
  }
  st.jobs.delete(job);
  const db = job.db;
  // A replica's dataset is its master's: a master turned replica meanwhile deletes nothing.
  if (outcome.acked.length > 0 && !server.role.isReplica()) {
    const deleted: string[] = [];
    for (const key of outcome.acked) {
      if (job.touched.has(key) || db.peek(key) !== job.values.get(key)) continue;
      db.delete(key);
      job.touched.add(key);
      deleted.push(key);
      db.modified(key, 'g', 'del');
    }
    if (deleted.length > 0) {
      server.propagator.also(db.id, ['DEL', ...deleted]);
      server.propagator.flush();
    }
  }
  reply(job, outcome.reply);
}

/** Writes the reply if the client still waits for it, records SLOWLOG, resumes the client. */
function reply(job: MigrateJob, r: Outcome['reply']): void {
  const c = job.client;
  if (job.clientGone || c.blocked !== job.state) return;
  const server = c.server;
  const spec = c.lastCmd;
  if ('status' in r) {
    c.reply.status(r.status);
  } else {
    c.reply.error(r.error);
    if (spec !== null) spec.stats.failedCalls++;
  }
  // The whole wait counts, as Redis's blocking MIGRATE would have taken that long.
  const durationUs = Math.floor((server.clock.monotonic() - job.startedAt) * 1000);
  const threshold = server.settings.slowlogSlowerThan;
  if (threshold >= 0 && durationUs >= threshold && (spec === null || !spec.skipSlowlog)) {
    server.slowlog.record(job.argv, durationUs, server.clock.now(), c.addr, c.name, server.settings.slowlogMaxLen);
  }
  unblockClient(c);
}

/**
 * The blocked client went away or was unblocked. A disconnect lets the transfer finish (keys
 * the target took are still deleted here); CLIENT UNBLOCK abandons it like a timeout.
 */
function cancel(st: MigrateState, job: MigrateJob, reason: 'unblock-error' | 'unblock-timeout' | 'disconnect'): void {
  const c = job.client;
  // freeClient clears `blocked` before cancelling; the blocking module needs it to release.
  c.blocked = job.state;
  if (reason === 'disconnect') {
    job.clientGone = true;
    unblockClient(c);
    return;
  }
  job.abandoned = true;
  st.jobs.delete(job);
  job.conn?.close();
  c.reply.error(reason === 'unblock-error' ? UNBLOCKED_BY_CLIENT : IOERR_READING);
  unblockClient(c);
}

export const commands: CommandHandlers = {
  migrate: { handler: migrate, getKeys: migrateKeys },
  'restore-asking': restore,
};

/**
 * migrateGetKeys: the key argument, or with KEYS every argument after it (none when the key
 * argument is not empty: that is a syntax error left for the command to report).
 */
function migrateKeys(argv: readonly string[]): number[] {
  let first = 3;
  let num = 1;
  for (let i = 6; i < argv.length; i++) {
    const a = argv[i]!.toLowerCase();
    if (a === 'keys') {
      if (argv[3]!.length > 0) num = 0;
      else {
        first = i + 1;
        num = argv.length - first;
      }
      break;
    }
    if (a === 'auth') i += 1;
    else if (a === 'auth2') i += 2;
  }
  const out: number[] = [];
  for (let i = 0; i < num; i++) out.push(first + i);
  return out;
}
