/**
 * The master side of replication (syncCommand, replconfCommand, replicationCron's master
 * duties and WAIT in Redis's replication.c):
 *
 *  - PSYNC <replid> <offset>: `+CONTINUE` and the backlog from that offset when the id is
 *    ours (or our previous one, up to `secondReplOffset`) and the backlog still holds it;
 *    otherwise a full resync. SYNC is the pre-PSYNC form (no +FULLRESYNC line).
 *  - Full resync: replicas wait for a job (repl-diskless-sync-delay lets several share one);
 *    when it starts each gets `+FULLRESYNC <replid> <offset>` with the offset of that instant,
 *    the RDB image of that instant follows (`$EOF:<mark>` diskless to replicas with capa eof,
 *    `$<len>` otherwise), and the stream fed meanwhile is held per replica and sent after it.
 *  - Replica clients are ordinary clients of kind 'replica', so their output goes through the
 *    client-output-buffer-limit `replica` class like any other reply.
 *  - Cron (once a second): PING every repl-ping-replica-period, "\n" to replicas waiting for an
 *    RDB, repl-timeout, repl-backlog-ttl, and the count of good replicas for min-replicas.
 *  - WAIT blocks until enough replicas ACKed the offset of the client's own last command
 *    (c->woff); REPLCONF GETACK is sent through the stream before the loop sleeps.
 */
import crypto from 'node:crypto';
import type net from 'node:net';
import type { Server } from '../server/server.js';
import type { Client, BlockedState } from '../server/client.js';
import { encodeCommand } from '../server/propagate.js';
import { blockClient, unblockClient } from '../server/blocking.js';
import { replicationOf, type ReplicaLink, type ReplicationState } from './state.js';
import { streamRdb, TransferChildKilled } from './rdb-transfer.js';
import { psyncFailover, updateFailoverStatus } from './failover.js';
import { checkShutdown } from './shutdown.js';
import { countDirectCall } from '../server/executor.js';
import { psyncVerdict } from './psync.js';
import type { RdbFilter } from '../persistence/rdb.js';
import { durableOf } from './durable.js';
import { parseInt64, parseInteger } from '../protocol/args.js';
import { NOT_INTEGER } from '../protocol/errors.js';

/** Replicas waiting for the next full-sync job, and its start timer. */
interface SyncQueue {
  waiting: ReplicaLink[];
  timer: ReturnType<typeof setTimeout> | null;
}

const queues = new WeakMap<ReplicationState, SyncQueue>();

/**
 * The running full sync with target disk, which a replica asking now can join (syncCommand's
 * "CASE 1" in Redis): the image is of the instant `offset`, and the stream since is still held
 * for its replicas, so a newcomer gets `+FULLRESYNC <replid> <offset>`, the same image and
 * that stream — one snapshot for all, where a job per replica would multiply the master's work
 * and copy-on-write while writes keep coming.
 */
interface DiskSyncJob {
  links: ReplicaLink[];
  replid: string;
  offset: number;
}

const diskJobs = new WeakMap<ReplicationState, DiskSyncJob>();

function queueOf(st: ReplicationState): SyncQueue {
  let q = queues.get(st);
  if (q === undefined) queues.set(st, (q = { waiting: [], timer: null }));
  return q;
}

/** SYNC and PSYNC (syncCommand). */
export function syncCommand(c: Client): void {
  const server = c.server;
  const st = replicationOf(server);
  if (c.kind === 'replica') return;
  const psync = c.argv[0]!.toLowerCase() === 'psync';
  if (psync && c.argv.length > 3 && c.argv[3]!.toLowerCase() === 'failover') {
    const err = psyncFailover(st, c);
    if (err !== null) {
      c.reply.error(err);
      return;
    }
  }
  if (st.failover.state !== 'no-failover') {
    c.reply.error("NOMASTERLINK Can't SYNC while failing over");
    return;
  }
  if (st.isReplica && (st.link === null || st.link.state !== 'connected')) {
    c.reply.error("NOMASTERLINK Can't SYNC while not connected with my master");
    return;
  }
  if (c.reply.len > 0) {
    c.reply.error('ERR SYNC and PSYNC are invalid with pending output');
    return;
  }
  const link = pendingLinks.get(c) ?? newLink(c);
  // Filtered RDBs only go over a socket, never through the dump file.
  if (link.rdbFilter !== null && !link.capaEof) {
    c.reply.error('ERR Filtered replica requires EOF capability');
    return;
  }
  pendingLinks.delete(c);
  server.log.notice(`Replica ${st.replicaName(link)} asked for synchronization`);
  if (psync) {
    if (parseInt64(c.argv[2]!) === null) {
      c.reply.error(NOT_INTEGER);
      server.log.warning(`Replica ${st.replicaName(link)} asks for synchronization but with a wrong offset`);
      return;
    }
    if (tryPartialResync(st, link, c.argv[1]!, c.argv[2]!)) return;
  } else {
    link.oldSync = true;
  }
  st.syncFull++;
  if (psync && c.argv[1] !== '?') st.syncPartialErr++;
  attachReplica(st, link);
  // The first replica creates the backlog, and with it a new history (createReplicationBacklog).
  if (st.backlog === null) {
    st.newHistory();
    st.ensureBacklog();
    server.log.notice(`Replication backlog created, my new replication IDs are '${st.replid}' and '${st.replid2}'`);
  }
  queueFullSync(st, link);
}

/** REPLCONF settings sent before SYNC are kept here until the client becomes a replica. */
const pendingLinks = new WeakMap<Client, ReplicaLink>();

function newLink(c: Client): ReplicaLink {
  return {
    client: c,
    state: 'wait_bgsave',
    sentTo: 0,
    pumping: false,
    rdbFilter: null,
    streamOnAck: false,
    listeningPort: 0,
    announcedIp: '',
    capaEof: false,
    capaPsync2: false,
    oldSync: false,
    ackOffset: 0,
    ackTime: c.server.clock.now(),
    stalledSince: 0,
  };
}

function attachReplica(st: ReplicationState, link: ReplicaLink): void {
  const c = link.client;
  c.kind = 'replica';
  if (!st.replicas.includes(link)) st.replicas.push(link);
  link.ackTime = st.server.clock.now();
}

/** PSYNC's partial path (masterTryPartialResynchronization). */
function tryPartialResync(st: ReplicationState, link: ReplicaLink, replid: string, offsetArg: string): boolean {
  const log = st.server.log;
  const name = st.replicaName(link);
  const verdict = psyncVerdict(st, st.backlog, replid, offsetArg);
  const offset = verdict.offset;
  if (verdict.kind === 'full') {
    if (verdict.reason === 'requested') {
      log.notice(`Full resync requested by replica ${name}`);
    } else if (verdict.reason === 'id-mismatch') {
      log.notice(
        `Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '${replid}', my replication IDs are '${st.replid}' and '${st.replid2}')`,
      );
    } else if (verdict.reason === 'beyond-replid2') {
      log.notice(
        `Partial resynchronization not accepted: Requested offset for second ID was ${offset}, but I can reply up to ${st.secondReplOffset}`,
      );
    } else {
      log.notice(`Unable to partial resync with replica ${name} for lack of backlog (Replica request was: ${offset}).`);
      if (st.backlog !== null && offset > st.masterReplOffset) {
        log.warning(`Warning: replica ${name} tried to PSYNC with an offset that is greater than the master replication offset.`);
      }
    }
    return false;
  }
  const backlog = st.backlog!;
  attachReplica(st, link);
  link.state = 'online';
  link.ackTime = st.server.clock.now();
  refreshGoodReplicas(st);
  const c = link.client;
  c.reply.rawString(link.capaPsync2 ? `+CONTINUE ${st.replid}\r\n` : '+CONTINUE\r\n');
  // The backlog from `offset` is owed to the replica and goes out from the shared buffer.
  link.sentTo = offset - 1;
  st.pump(link);
  c.markPendingWrite();
  st.syncPartialOk++;
  log.notice(
    `Partial resynchronization request from ${name} accepted. Sending ${st.masterReplOffset + 1 - offset} bytes of backlog starting from offset ${offset}.`,
  );
  return true;
}

function queueFullSync(st: ReplicationState, link: ReplicaLink): void {
  // A filtered RDB is a job of its own (replicas share a BGSAVE only with the same slave_req).
  if (link.rdbFilter !== null) {
    setImmediate(() => startFullSync(st, [link]));
    return;
  }
  const server = st.server;
  const diskless = server.config.getBool('repl-diskless-sync');
  if (!diskless && joinDiskSync(st, link)) return;
  const q = queueOf(st);
  q.waiting.push(link);
  const max = server.config.getNumber('repl-diskless-sync-max-replicas');
  const delayMs = diskless ? server.config.getNumber('repl-diskless-sync-delay') * 1000 : 0;
  if (delayMs === 0 || (max > 0 && q.waiting.length >= max)) {
    if (q.timer !== null) clearTimeout(q.timer);
    q.timer = null;
    // Next turn: the replica's pending replies (and other SYNCs in this read) go first.
    setImmediate(() => startFullSync(st));
  } else if (q.timer === null) {
    q.timer = setTimeout(() => {
      q.timer = null;
      startFullSync(st);
    }, delayMs);
  }
}

/** Joins `link` to the running disk-target job if one still waits for its image. */
function joinDiskSync(st: ReplicationState, link: ReplicaLink): boolean {
  const job = diskJobs.get(st);
  if (job === undefined || job.replid !== st.replid) return false;
  // Its stream since `offset` is held only while one of its replicas still waits for it.
  if (!job.links.some((l) => !l.client.closed && l.state === 'wait_bgsave_end' && st.replicas.includes(l))) return false;
  link.state = 'wait_bgsave_end';
  link.sentTo = job.offset;
  if (!link.oldSync) link.client.reply.rawString(`+FULLRESYNC ${job.replid} ${job.offset}\r\n`);
  st.server.writeToClient(link.client);
  job.links.push(link);
  st.server.log.notice('Waiting for end of BGSAVE for SYNC');
  return true;
}

/**
 * Starts a full-sync job for every waiting replica: +FULLRESYNC with the offset of this
 * instant, the RDB of this instant (a copy-on-write snapshot produced in slices while clients
 * keep being served), then the stream held since. The RDB bytes go straight to the socket, as
 * Redis's rdb pipe does: they do not count against the replica output buffer limit.
 */
function startFullSync(st: ReplicationState, only: ReplicaLink[] | null = null): void {
  const links = (only ?? queueOf(st).waiting.splice(0)).filter((l) => !l.client.closed && st.replicas.includes(l));
  if (links.length === 0) return;
  const server = st.server;
  const filter = links[0]!.rdbFilter;
  const diskless = server.config.getBool('repl-diskless-sync') || filter !== null;
  server.log.notice(`Starting BGSAVE for SYNC with target: ${diskless ? 'replicas sockets' : 'disk'}`);
  const offset = st.masterReplOffset;
  const streamDb = st.selectedDb === -1 ? 0 : st.selectedDb;
  // Force a SELECT before the next command: the replica's db is unknown to the stream now.
  st.selectedDb = -1;
  const marks = new Map<ReplicaLink, string>();
  for (const l of links) {
    l.state = 'wait_bgsave_end';
    // Owed the stream from this instant on: the shared buffer keeps it until the RDB is out.
    l.sentTo = offset;
    const c = l.client;
    if (!l.oldSync) c.reply.rawString(`+FULLRESYNC ${st.replid} ${offset}\r\n`);
    if (diskless && l.capaEof) {
      const mark = crypto.randomBytes(20).toString('hex');
      marks.set(l, mark);
      c.reply.rawString(`$EOF:${mark}\r\n`);
      // The RDB starts now: no keep-alive newline may be written into it.
      l.state = 'send_bulk';
    }
    server.writeToClient(c);
  }
  const held: Buffer[] = [];
  const alive = (): boolean => links.some((l) => !l.client.closed);
  // Replicas asking while it runs join it (joinDiskSync), and so `links` grows.
  const job: DiskSyncJob | null = diskless ? null : { links, replid: st.replid, offset };
  if (job !== null) diskJobs.set(st, job);
  const ended = (): void => {
    if (job !== null && diskJobs.get(st) === job) diskJobs.delete(st);
  };
  streamRdb(
    server,
    { replid: st.replid, offset, streamDb },
    (chunk) => {
      // Like Redis's rdb pipe, the snapshot goes at the pace of the slowest replica socket:
      // nothing piles up in memory behind a replica that reads slowly.
      let stalled: Promise<unknown>[] | null = null;
      for (const l of links) {
        const sock = l.client.socket;
        if (!marks.has(l) || l.client.closed || sock === null) continue;
        if (!sock.write(chunk)) {
          if (l.stalledSince === 0) l.stalledSince = server.clock.now();
          (stalled ??= []).push(drained(sock).then(() => (l.stalledSince = 0)));
        }
      }
      if (marks.size < links.length) held.push(chunk);
      return stalled === null ? undefined : Promise.all(stalled);
    },
    () => !alive(),
    filter,
  ).then(
    () => {
      ended();
      if (marks.size > 0) {
        const up = links.filter((l) => marks.has(l) && !l.client.closed).length;
        if (up === 0) server.log.warning('Diskless rdb transfer, last replica dropped, killing fork child.');
        else server.log.notice(`Diskless rdb transfer, done reading from pipe, ${up} replicas still up.`);
      }
      const image = marks.size < links.length ? Buffer.concat(held) : null;
      for (const l of links) finishTransfer(st, l, marks.get(l), image);
    },
    (e: unknown) => {
      ended();
      if (e instanceof TransferChildKilled) {
        // backgroundSaveDoneHandlerSocket + updateSlavesWaitingBgsave(C_ERR).
        server.log.warning(e.message);
        for (const l of links) if (!l.client.closed) server.log.warning('SYNC failed. BGSAVE child returned an error');
      } else {
        server.log.warning(`Can't save in background: ${(e as Error).message}`);
      }
      for (const l of links) server.freeClient(l.client);
    },
  );
}

/** Resolves when `sock` can take more data, or is gone. */
function drained(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

/** The RDB is out (or ready to go out as `$<len>`): the replica goes online. */
function finishTransfer(st: ReplicationState, l: ReplicaLink, mark: string | undefined, image: Buffer | null): void {
  const c = l.client;
  if (c.closed) return;
  const server = st.server;
  const name = st.replicaName(l);
  if (mark !== undefined) {
    c.socket?.write(mark);
    // The stream waits for the replica's first ACK, so the mark ends the replica's read.
    l.streamOnAck = true;
    server.log.notice(`Streamed RDB transfer with replica ${name} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming`);
  } else {
    c.socket?.write(`$${image!.length}\r\n`);
    c.socket?.write(image!);
  }
  l.state = 'online';
  st.pump(l);
  l.ackTime = server.clock.now();
  refreshGoodReplicas(st);
  server.log.notice(`Synchronization with replica ${name} succeeded`);
}

/** REPLCONF <option> <value> … (replconfCommand). */
export function replconfCommand(c: Client): void {
  const argv = c.argv;
  if (argv.length % 2 === 0) {
    c.reply.error('ERR syntax error');
    return;
  }
  const server = c.server;
  const st = replicationOf(server);
  // The streaming exchange (an ACK per read of the stream on a master, a GETACK per turn on a
  // replica) needs no link of its own: handled before one is looked up or made.
  if (argv.length === 3) {
    const opt = argv[1]!;
    if (opt.length === 3 && opt.toLowerCase() === 'ack') {
      const r = st.findReplica(c);
      if (r !== undefined) replicaAcked(st, r, argv[2]!);
      return;
    }
    if (opt.length === 6 && opt.toLowerCase() === 'getack') {
      if (c.isMaster) st.link?.sendAck();
      return;
    }
  }
  const link = st.findReplica(c) ?? pendingLinks.get(c) ?? newLink(c);
  for (let i = 1; i < argv.length; i += 2) {
    const opt = argv[i]!.toLowerCase();
    const val = argv[i + 1]!;
    if (opt === 'listening-port') {
      const port = /^-?\d+$/.test(val) ? Number(val) : NaN;
      if (!Number.isSafeInteger(port)) {
        c.reply.error('ERR value is not an integer or out of range');
        return;
      }
      link.listeningPort = port;
    } else if (opt === 'ip-address') {
      if (val.length >= 46) {
        c.reply.error(`ERR REPLCONF ip-address provided by replica instance is too long: ${val.length} bytes`);
        return;
      }
      link.announcedIp = val;
    } else if (opt === 'capa') {
      if (val.toLowerCase() === 'eof') link.capaEof = true;
      else if (val.toLowerCase() === 'psync2') link.capaPsync2 = true;
    } else if (opt === 'ack') {
      // Replicas send ACKs with no reply expected; from anyone else they are ignored.
      const r = st.findReplica(c);
      if (r !== undefined) replicaAcked(st, r, val);
      return;
    } else if (opt === 'getack') {
      // Our master asks for our offset: answered on the link even though the master's
      // client otherwise gets no replies.
      if (c.isMaster) st.link?.sendAck();
      return;
    } else if (opt === 'rdb-only') {
      // redis-cli --rdb: the replica closes after the RDB, so the stream that follows is moot.
      if (!/^-?\d+$/.test(val) || !Number.isSafeInteger(Number(val))) {
        c.reply.error('ERR value is not an integer or out of range');
        return;
      }
      if (Number(val) < 0 || Number(val) > 1) {
        c.reply.error('ERR value is out of range, value must between 0 and 1');
        return;
      }
    } else if (opt === 'rdb-filter-only') {
      // Include filters: by default the RDB leaves out everything; "functions" keeps those.
      const filter: RdbFilter = { excludeData: true, excludeFunctions: true };
      for (const f of val.split(/\s+/).filter(Boolean)) {
        if (f.toLowerCase() !== 'functions') {
          c.reply.error(`ERR Unsupported rdb-filter-only option: ${f}`);
          return;
        }
        filter.excludeFunctions = false;
      }
      link.rdbFilter = filter;
    } else if (opt === 'durable-fence') {
      // nodis's durable failover (docs/CONSISTENCY.md): a sentinel fences this replica — its
      // link to the master goes down and stays down until it is re-pointed (any value > 0), or
      // lifts the fence (0) — and learns the offset it holds and its replid.
      const on = /^\d+$/.test(val) ? Number(val) : NaN;
      if (!Number.isSafeInteger(on)) {
        c.reply.error('ERR value is not an integer or out of range');
        return;
      }
      if (st.link === null) {
        c.reply.error('ERR DURABLE-FENCE is for replicas');
        return;
      }
      if (on > 0) st.link.fence();
      else st.link.unfence();
      // The offset, and the history it belongs to: offsets compare only within one replid.
      c.reply.array(2);
      c.reply.integer(st.masterReplOffset);
      c.reply.bulk(st.replid);
      return;
    } else {
      c.reply.error(`ERR Unrecognized REPLCONF option: ${argv[i]}`);
      return;
    }
  }
  if (!st.replicas.includes(link)) pendingLinks.set(c, link);
  c.reply.ok();
}

/**
 * A replica's `REPLCONF ACK <offset>` served in its client's input loop (server.hooks.replicaAck)
 * without the generic command path: ~0.3 ACKs per SET + WAIT 1 (one command in eight of the
 * master's). What processCommand and call() do for it is kept — the ACL check (the replica's user may
 * lose the command), cmdstat_replconf and the rest of call()'s counting (countDirectCall) — and
 * it answers nothing, as before. False: not an ACK of a streaming replica, run as any command.
 */
export function directReplicaAck(c: Client, argv: string[]): boolean {
  const server = c.server;
  const spec = server.commands.lookup(argv[0]!);
  if (spec === undefined || spec.fullName !== 'replconf' || c.multi !== null) return false;
  const opt = argv[1]!;
  if (opt !== 'ACK' && (opt.length !== 3 || opt.toLowerCase() !== 'ack')) return false;
  const st = replicationOf(server);
  const r = st.findReplica(c);
  if (r === undefined) return false;
  const acl = server.hooks.aclCheck;
  if (acl !== null && acl(c, spec, argv, 'toplevel') !== null) return false;
  const start = server.clock.monotonic();
  replicaAcked(st, r, argv[2]!);
  countDirectCall(server, c, spec, argv, start);
  return true;
}

/** REPLCONF ACK <offset> from replica `r`. */
function replicaAcked(st: ReplicationState, r: ReplicaLink, val: string): void {
  const off = Number(val);
  if (Number.isSafeInteger(off) && off > r.ackOffset) r.ackOffset = off;
  r.ackTime = st.server.clock.now();
  if (r.streamOnAck) {
    r.streamOnAck = false;
    st.pump(r);
  }
  checkWaitingClients(st);
  durableOf(st).onAck(r);
  updateFailoverStatus(st);
  checkShutdown(st);
}

/** Drops a replica that disconnected (freeClient of a slave). */
export function replicaClosed(st: ReplicationState, c: Client): void {
  const i = st.replicas.findIndex((r) => r.client === c);
  if (i < 0) return;
  const r = st.replicas[i]!;
  st.replicas.splice(i, 1);
  // What only this replica still needed leaves the shared buffer now.
  st.backlog?.trim(st.oldestNeeded());
  st.server.log.notice(`Connection with replica ${st.replicaName(r)} lost.`);
  if (st.replicas.length === 0) st.noReplicasSince = st.server.clock.now();
  refreshGoodReplicas(st);
  checkShutdown(st);
}

/** The master's once-per-second duties (replicationCron). */
export function masterCron(st: ReplicationState): void {
  const server = st.server;
  const now = server.clock.now();
  const period = server.config.getNumber('repl-ping-replica-period');
  // While writes are paused (FAILOVER, CLIENT PAUSE) the offset must not move.
  if (st.replicas.length > 0 && !st.isReplica && st.cronLoops % period === 0 && server.pause.mode === null) {
    // Sent in the current db (no SELECT), so it only moves offsets.
    st.feedBytes(Buffer.from(encodeCommand(['PING']), 'latin1'));
  }
  // Replicas waiting for their RDB to start get a newline so their read timeout does not fire.
  for (const r of st.replicas) {
    if (r.state === 'wait_bgsave' || r.state === 'wait_bgsave_end') {
      r.client.socket?.write('\n');
    }
  }
  const timeout = server.config.getNumber('repl-timeout') * 1000;
  for (const r of [...st.replicas]) {
    if (r.state === 'send_bulk' && r.stalledSince !== 0 && now - r.stalledSince > timeout) {
      server.log.warning(`Disconnecting timedout replica (full sync): ${st.replicaName(r)}`);
      server.freeClient(r.client);
      continue;
    }
    if (r.state !== 'online' || r.oldSync) continue;
    if (now - r.ackTime > timeout) {
      server.log.warning(`Disconnecting timedout replica (streaming sync): ${st.replicaName(r)}`);
      server.freeClient(r.client);
    }
  }
  const ttl = server.config.getNumber('repl-backlog-ttl') * 1000;
  if (!st.isReplica && st.replicas.length === 0 && ttl > 0 && st.backlog !== null && now - st.noReplicasSince > ttl) {
    // A new id: whoever PSYNCs later must not continue with a history we dropped.
    st.newHistory();
    st.backlog = null;
    server.log.notice(`Replication backlog freed after ${ttl / 1000} seconds without connected replicas.`);
  }
  st.backlog?.trim(st.oldestNeeded());
  refreshGoodReplicas(st);
  updateFailoverStatus(st);
}

/** min-replicas: replicas online whose last ACK is at most min-replicas-max-lag old. */
export function refreshGoodReplicas(st: ReplicationState): void {
  const server = st.server;
  const maxLag = server.config.getNumber('min-replicas-max-lag');
  const now = server.clock.now();
  let good = 0;
  for (const r of st.replicas) {
    if (r.state === 'online' && Math.floor((now - r.ackTime) / 1000) <= maxLag) good++;
  }
  st.goodReplicas = good;
}

// ---- WAIT ------------------------------------------------------------------------------------------

/**
 * A blocked WAIT: its entry in the waiter list and its blocked state in one object (one
 * allocation per WAIT, no closures); the blocking module calls onTimeout/onCancel as methods.
 */
class Waiter implements BlockedState {
  readonly kind = 'wait' as const;
  constructor(
    private readonly st: ReplicationState,
    private readonly list: Waiter[],
    readonly client: Client,
    readonly offset: number,
    readonly numReplicas: number,
    readonly deadline: number,
  ) {}

  private remove(): void {
    const i = this.list.indexOf(this);
    if (i >= 0) this.list.splice(i, 1);
  }

  onTimeout(): void {
    this.remove();
    this.client.reply.integer(countAcks(this.st, this.offset));
  }

  onCancel(reason: 'unblock-error' | 'unblock-timeout' | 'disconnect'): void {
    this.remove();
    const c = this.client;
    // freeClient clears `blocked` before cancelling; the blocking module needs it to release.
    c.blocked = this;
    if (reason === 'unblock-error') c.reply.error('UNBLOCKED client unblocked via CLIENT UNBLOCK');
    else if (reason === 'unblock-timeout') c.reply.integer(countAcks(this.st, this.offset));
    unblockClient(c);
  }
}

const waiters = new WeakMap<ReplicationState, Waiter[]>();

function waitersOf(st: ReplicationState): Waiter[] {
  let w = waiters.get(st);
  if (w === undefined) waiters.set(st, (w = []));
  return w;
}

/** Replicas that acknowledged at least `offset` (replicationCountAcksByOffset). */
export function countAcks(st: ReplicationState, offset: number): number {
  let n = 0;
  for (const r of st.replicas) if (r.state === 'online' && r.ackOffset >= offset) n++;
  return n;
}

/**
 * After every top-level command (processCommand: `c->woff = server.master_repl_offset`): the
 * stream offset right after the client's last command, which its WAIT waits for — not the
 * current offset, which may already hold other clients' writes, PINGs and the GETACK of an
 * earlier WAIT (which replicas only cover with their next periodic ACK).
 */
export function recordWriteOffset(st: ReplicationState, c: Client): void {
  // Without a backlog the offset never moves and no replica can ACK anything: skip it; so for
  // our master's client (every command of the stream a replica applies), which never WAITs.
  if (st.backlog !== null && !c.isMaster) c.woff = st.masterReplOffset;
}

const TIMEOUT_NOT_INT = 'ERR timeout is not an integer or out of range';

/** WAIT numreplicas timeout. */
export function waitCommand(c: Client): void {
  const server = c.server;
  const st = replicationOf(server);
  if (st.isReplica) {
    c.reply.error(
      'ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.',
    );
    return;
  }
  // string2ll's rules, as getLongFromObjectOrReply / getTimeoutFromObjectOrReply.
  const numReplicas = parseInteger(c.argv[1]!);
  if (numReplicas === null) {
    c.reply.error('ERR value is not an integer or out of range');
    return;
  }
  const timeout = parseInteger(c.argv[2]!);
  if (timeout === null) {
    c.reply.error(TIMEOUT_NOT_INT);
    return;
  }
  if (timeout < 0) {
    c.reply.error('ERR timeout is negative');
    return;
  }
  const offset = c.woff;
  const acked = countAcks(st, offset);
  if (acked >= numReplicas || c.multi !== null || c.fake || server.executionNesting > 1) {
    c.reply.integer(acked);
    return;
  }
  const list = waitersOf(st);
  // The deadline counts from the command's start (the executor's clock reading for it: one
  // clock read less per WAIT; Redis takes the time as the command runs, too).
  const w = new Waiter(st, list, c, offset, numReplicas, timeout === 0 ? 0 : c.invocation.start + timeout);
  list.push(w);
  blockClient(c, w);
  st.requestGetAck();
}

/**
 * Serves WAITs whose replicas caught up (processClientsWaitingReplicas), in the order they
 * blocked; the others stay, in that order. One pass, the list compacted in place. As in Redis,
 * a waiter whose offset is at or below one already counted, asking for no more replicas than
 * it had, is answered that count without counting again.
 */
export function checkWaitingClients(st: ReplicationState): void {
  const list = waiters.get(st);
  if (list === undefined || list.length === 0) return;
  let lastOffset = -1;
  let lastCount = 0;
  let kept = 0;
  const n = list.length;
  for (let i = 0; i < n; i++) {
    const w = list[i]!;
    let acked: number;
    if (lastOffset >= w.offset && lastCount >= w.numReplicas) acked = lastCount;
    else {
      acked = countAcks(st, w.offset);
      if (acked < w.numReplicas) {
        list[kept++] = w;
        continue;
      }
      lastOffset = w.offset;
      lastCount = acked;
    }
    w.client.reply.integer(acked);
    // Writes the reply's flush and queues the client's resumption; nothing here runs its input
    // or touches this list (asserted below).
    unblockClient(w.client);
  }
  if (list.length !== n) throw new Error('checkWaitingClients: the waiter list changed while it was served');
  list.length = kept;
}
