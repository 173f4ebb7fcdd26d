/**
 * The replication state every node has, whatever its role (replication.c's globals):
 * the replication ids (PSYNC2: `replid`, and `replid2` valid up to `secondReplOffset` after a
 * promotion), `masterReplOffset` (bytes fed to the stream so far), the backlog, the replicas
 * attached to us, and — when we are a replica — the link to our master.
 *
 * The stream is fed from two places only: the one propagation path (we are a master: commands
 * are encoded here with SELECT when the db changes) and, on a replica, the exact bytes applied
 * from our master (proxied verbatim, so sub-replicas and our backlog stay byte-identical to
 * the master's stream, which is what lets PSYNC continue anywhere in a chain).
 */
import type { Server } from '../server/server.js';
import type { Client } from '../server/client.js';
import { encodeCommand } from '../server/propagate.js';
import { ReplicationBacklog } from './backlog.js';
import type { MasterLink } from './replica.js';
import type { RdbFilter } from '../persistence/rdb.js';
import { NULL_REPLID, shiftReplIds } from './psync.js';

const GETACK = Buffer.from(encodeCommand(['REPLCONF', 'GETACK', '*']), 'latin1');

/** How much of the stream a replica that is behind is handed per socket write. */
const PUMP_SLICE_BYTES = 1 << 20;

export { NULL_REPLID };

/** The FAILOVER command's state (failover.ts drives it, roles.ts ends it). */
export type FailoverStateName = 'no-failover' | 'waiting-for-sync' | 'failover-in-progress';

export interface FailoverState {
  state: FailoverStateName;
  targetHost: string | null;
  targetPort: number;
  /** ms (wall clock) when it times out, 0 = never. */
  endTime: number;
  force: boolean;
}

export function newFailoverState(): FailoverState {
  return { state: 'no-failover', targetHost: null, targetPort: 0, endTime: 0, force: false };
}

/** A replica's IP: the one it announced (replica-announce-ip), else its connection's peer address. */
export function replicaIp(l: ReplicaLink): string {
  return l.announcedIp !== '' ? l.announcedIp : (l.client.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** A replica attached to us (slave client state in Redis). */
export interface ReplicaLink {
  client: Client;
  /**
   * wait_bgsave: waiting for a full-sync job to start; wait_bgsave_end: +FULLRESYNC sent, the
   * RDB is being produced and the stream is buffered in `pending`; send_bulk: RDB going out;
   * online: streaming.
   */
  state: 'wait_bgsave' | 'wait_bgsave_end' | 'send_bulk' | 'online';
  /**
   * Replication offset of the last stream byte handed to this replica's client (its output
   * buffer or socket). What follows, up to master_repl_offset, it is owed: those bytes stay in
   * the shared replication buffer (backlog.ts) until it can take them — while its full sync's
   * RDB is produced and sent, or while its socket does not drain.
   */
  sentTo: number;
  /** Waiting for its socket's 'drain' to be handed more of the stream. */
  pumping: boolean;
  /** REPLCONF rdb-filter-only: what its RDB leaves out (slave_req), or null for a whole one. */
  rdbFilter: RdbFilter | null;
  /**
   * After a diskless (`$EOF:`) transfer the stream waits for the replica's first ACK, so the
   * EOF mark ends the replica's read (repl_start_cmd_stream_on_ack).
   */
  streamOnAck: boolean;
  listeningPort: number;
  announcedIp: string;
  capaEof: boolean;
  capaPsync2: boolean;
  /** Sent plain SYNC (no +FULLRESYNC line). */
  oldSync: boolean;
  ackOffset: number;
  /** ms (wall clock) of the last REPLCONF ACK. */
  ackTime: number;
  /**
   * ms since the RDB stream to this replica has been waiting for its socket to drain, or 0
   * (repl_last_partial_write): a full sync stalled longer than repl-timeout is dropped.
   */
  stalledSince: number;
}

export class ReplicationState {
  replid: string;
  replid2 = NULL_REPLID;
  masterReplOffset = 0;
  secondReplOffset = -1;
  backlog: ReplicationBacklog | null = null;
  /** The db the stream last SELECTed (-1: the next command must SELECT). */
  selectedDb = -1;
  readonly replicas: ReplicaLink[] = [];
  /** `host port` we replicate from, or null when master. */
  masterHost: string | null = null;
  masterPort = 0;
  /** Replicas with lag ≤ min-replicas-max-lag (refreshed by cron). */
  goodReplicas = 0;
  /**
   * Set when a WAIT or a held durable write needs fresh ACKs: REPLCONF GETACK is fed once, just
   * before this loop turn's replies go out (feedPendingGetAck, Redis's get_ack_from_slaves in
   * beforeSleep), so it leaves in the same write as the stream it asks about.
   */
  getAckPending = false;
  /** Told each time a GETACK is fed (the durable mode's leases count from it). */
  onGetAckFed: (() => void) | null = null;
  /** Seconds counter of the once-per-second replication cron. */
  cronLoops = 0;
  /** The link to our master while we are a replica. */
  link: MasterLink | null = null;
  /** The master's stream db restored from our RDB at start-up (for the first PSYNC). */
  restoredStreamDb: number | null = null;
  /** FAILOVER command state (failover.ts). */
  failover: FailoverState = newFailoverState();
  /** INFO stats: sync_full, sync_partial_ok, sync_partial_err. */
  syncFull = 0;
  syncPartialOk = 0;
  syncPartialErr = 0;
  /** When the last replica left (for repl-backlog-ttl), ms. */
  noReplicasSince: number;

  constructor(readonly server: Server) {
    this.replid = server.rng.hex(40);
    this.noReplicasSince = server.clock.now();
  }

  get isReplica(): boolean {
    return this.masterHost !== null;
  }

  /**
   * The offset a replica reports of itself (replicationGetSlaveOffset): 0 while a full sync has
   * dropped the old history and not yet loaded the new one, so a cluster hides a loading replica
   * from CLUSTER SLOTS and shows it `loading` in CLUSTER SHARDS. A master reports its own.
   */
  get replicaOffset(): number {
    return this.link !== null && this.link.historyDiscarded ? 0 : this.masterReplOffset;
  }

  /** Creates the backlog (first replica, or a replica that synced), as createReplicationBacklog. */
  ensureBacklog(): ReplicationBacklog {
    if (this.backlog === null) {
      this.backlog = new ReplicationBacklog(this.server.config.getNumber('repl-backlog-size'), this.masterReplOffset);
    }
    return this.backlog;
  }

  /** A new history: fresh replid, previous one forgotten (changeReplicationId + clearReplicationId2). */
  newHistory(): void {
    this.replid = this.server.rng.hex(40);
    this.clearReplid2();
  }

  clearReplid2(): void {
    this.replid2 = NULL_REPLID;
    this.secondReplOffset = -1;
  }

  /**
   * Promotion (shiftReplicationId): the old id stays valid as replid2 up to the current
   * offset, so replicas of the old master can PSYNC with us and continue.
   */
  shiftReplid(): void {
    shiftReplIds(this, this.server.rng.hex(40));
    this.server.log.warning(
      `Setting secondary replication ID to ${this.replid2}, valid up to offset: ${this.secondReplOffset}. New replication ID is ${this.replid}`,
    );
  }

  /** Asks every replica for its offset at the end of this loop turn (once however often asked). */
  requestGetAck(): void {
    if (this.getAckPending) return;
    this.getAckPending = true;
    this.server.requestFlush();
  }

  /** The end-of-turn half of requestGetAck (a beforeReplies hook). */
  feedPendingGetAck(): void {
    if (!this.getAckPending) return;
    this.getAckPending = false;
    this.feedGetAck();
  }

  /** REPLCONF GETACK * into the stream; not while clients are paused (as Redis's beforeSleep). */
  feedGetAck(): void {
    if (this.replicas.length === 0 || this.isReplica || this.server.pause.mode !== null) return;
    this.feedBytes(GETACK);
    this.onGetAckFed?.();
  }

  /** Propagation target: a command from our own call() path (we are a master). */
  /** Whether feedCommand() would take a command now (a master with a backlog). */
  receivesCommands(): boolean {
    return this.backlog !== null && !this.isReplica;
  }

  feedCommand(db: number, argv: readonly string[]): void {
    // With no backlog nobody ever asked for the stream: the offset does not move (as Redis).
    const backlog = this.backlog;
    if (backlog === null || this.isReplica) return;
    const before = this.masterReplOffset;
    if (db === this.selectedDb) {
      // Encoded straight into the replication buffer's last block when it has room (no string,
      // no Buffer per command, no copy into the block).
      const view = backlog.appendCommand(argv, this.oldestNeeded());
      if (view !== null) {
        this.masterReplOffset += view.length;
        this.feedReplicas(view, before);
        return;
      }
    }
    let text = '';
    if (db !== this.selectedDb) {
      text = encodeCommand(['SELECT', String(db)]);
      this.selectedDb = db;
    }
    text += encodeCommand(argv);
    // With a SELECT, or past the block's room: one string, into the block when it fits.
    const view = backlog.appendLatin1(text, this.oldestNeeded());
    if (view === null) {
      this.feedBytes(Buffer.from(text, 'latin1'));
      return;
    }
    this.masterReplOffset += view.length;
    this.feedReplicas(view, before);
  }

  /**
   * Appends bytes to the stream: offset, the shared replication buffer, and the output of
   * every replica that is streaming and keeping up (feedReplicationBuffer). The others are
   * owed the bytes, which stay in the buffer; their output limits count them.
   */
  feedBytes(data: Buffer): void {
    if (data.length === 0) return;
    const before = this.masterReplOffset;
    const backlog = this.ensureBacklog();
    this.masterReplOffset += data.length;
    backlog.append(data, this.oldestNeeded());
    this.feedReplicas(data, before);
  }

  /** Hands bytes just appended to the buffer (from offset `before` + 1) to the replicas. */
  private feedReplicas(data: Buffer, before: number): void {
    // Backwards: a replica dropped for its output limit leaves the list.
    for (let i = this.replicas.length - 1; i >= 0; i--) {
      const r = this.replicas[i]!;
      if (r.state === 'wait_bgsave') continue;
      const c = r.client;
      // Copied into its output only while that stays small: a burst (a script, a big MULTI)
      // stays shared in the buffer and goes out as the socket drains.
      if (r.state === 'online' && !r.streamOnAck && r.sentTo === before && c.reply.len < PUMP_SLICE_BYTES && !(c.socket?.writableNeedDrain ?? false)) {
        c.reply.raw(data);
        r.sentTo = this.masterReplOffset;
        c.markPendingWrite();
        continue;
      }
      if (this.server.enforceOutputLimits(c)) continue;
      if (r.state === 'online' && !r.streamOnAck) this.pump(r);
    }
  }

  /**
   * A replica's applied bytes (replica.ts): our offset already moved past them command by
   * command, from `before`; now they join the buffer and go to our sub-replicas.
   */
  feedApplied(data: Buffer, before: number): void {
    this.masterReplOffset = before;
    this.feedBytes(data);
  }

  /**
   * The oldest stream offset a replica still needs from the shared buffer (Infinity: none),
   * so that trimming keeps it.
   */
  oldestNeeded(): number {
    let oldest = Infinity;
    for (const r of this.replicas) if (r.state !== 'wait_bgsave' && r.sentTo + 1 < oldest) oldest = r.sentTo + 1;
    return oldest;
  }

  /** Stream bytes owed to a replica client that still sit in the shared buffer. */
  owedTo(c: Client): number {
    const r = this.findReplica(c);
    return r === undefined || r.state === 'wait_bgsave' ? 0 : Math.max(0, this.masterReplOffset - r.sentTo);
  }

  /**
   * Hands a streaming replica what it is owed, as fast as its socket takes it (writeToSlave
   * reading the shared blocks): a slice at a time, then again on 'drain'.
   */
  pump(r: ReplicaLink): void {
    const c = r.client;
    const sock = c.socket;
    const backlog = this.backlog;
    if (sock === null || c.closed || backlog === null || r.state !== 'online' || r.streamOnAck) return;
    while (r.sentTo < this.masterReplOffset && !sock.writableNeedDrain && backlog.covers(r.sentTo + 1)) {
      for (const v of backlog.viewsFrom(r.sentTo + 1, PUMP_SLICE_BYTES)) {
        c.reply.raw(v);
        r.sentTo += v.length;
      }
      this.server.writeToClient(c);
      if (c.closed) return;
    }
    backlog.trim(this.oldestNeeded());
    if (r.sentTo < this.masterReplOffset && !r.pumping) {
      r.pumping = true;
      sock.once('drain', () => {
        r.pumping = false;
        this.pump(r);
      });
    }
  }

  /** Drops every replica (they reconnect and PSYNC to learn a new id or history). */
  disconnectReplicas(): void {
    for (const r of [...this.replicas]) this.server.freeClient(r.client);
  }

  /** Replication name of a replica for log lines (replicationGetSlaveName). */
  replicaName(r: ReplicaLink): string {
    const ip = replicaIp(r);
    if (r.listeningPort !== 0) return ip.includes(':') ? `[${ip}]:${r.listeningPort}` : `${ip}:${r.listeningPort}`;
    return r.client.addr;
  }

  findReplica(c: Client): ReplicaLink | undefined {
    for (const r of this.replicas) if (r.client === c) return r;
    return undefined;
  }
}

const states = new WeakMap<Server, ReplicationState>();

/** The replication state of a server (created on first use). */
export function replicationOf(server: Server): ReplicationState {
  let s = states.get(server);
  if (s === undefined) states.set(server, (s = new ReplicationState(server)));
  return s;
}
