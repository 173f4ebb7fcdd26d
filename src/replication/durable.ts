/**
 * Durable acknowledgment (`durable-writes yes`, off by default; docs/CONSISTENCY.md): a write's
 * reply leaves the master only once a majority of the replica set — the master and
 * `durable-replicas` replicas, so ⌊(durable-replicas + 1) / 2⌋ replica ACKs — holds it.
 *
 * - Held replies. After each top-level command that moved the stream offset, the bytes the
 *   command wrote to the client are cut out of its output and queued with that offset; every
 *   later reply of the same client queues behind them (pipelining keeps its order, and the
 *   commands behind still run, so a pipeline of N writes costs one round trip to the replicas,
 *   not N). MULTI/EXEC and scripts are one command, so one entry; a blocked command served
 *   later (BLPOP…) and pushes are held by the output gate with the offset at that moment.
 *   REPLCONF GETACK goes into the stream once per loop turn after writes, so replicas (nodis or
 *   redis-server alike) ACK right after applying them; entries are released as ACKs arrive. An
 *   entry not acknowledged within `durable-timeout` ms is answered with -NOREPLICAS instead (the
 *   write was applied here and may or may not survive: its outcome is unknown to the client).
 * - Lease. Each ACK of offset X renews that replica's lease from the moment the master fed the
 *   last GETACK at or before X (so a delayed ACK never extends it past what it proves). With
 *   fewer than the needed replicas renewed within `durable-lease` ms the master refuses writes
 *   before running them (-NOREPLICAS Not enough good replicas to write.). GETACK is also fed
 *   every lease/4 ms so an idle master keeps its lease. With `durable-lease` below Sentinel's
 *   down-after-milliseconds, a master cut off from its replicas has stopped acknowledging
 *   before any sentinel can consider it down.
 * - A master that turns into a replica answers every held entry with the error at once.
 */
import type { Server } from '../server/server.js';
import type { Client } from '../server/client.js';
import type { ReplicationState, ReplicaLink } from './state.js';

export const NOREPLICAS_TIMEOUT = 'NOREPLICAS Not enough replicas acknowledged the write in time (its outcome is unknown).';

interface Held {
  /** Stream offset the bytes wait for; 0 = wait only for the entries ahead. */
  offset: number;
  bytes: Buffer;
  deadline: number;
  /** The entry is a command's reply that can be turned into the timeout error. */
  write: boolean;
}


export class DurableState {
  enabled = false;
  /** (offset right after a GETACK, monotonic ms it was fed), oldest first. */
  private readonly getacks: { off: number; t: number }[] = [];
  private readonly renewedAt = new WeakMap<ReplicaLink, number>();
  /** Replies held per client, in order. */
  readonly holds = new Map<Client, Held[]>();
  /** Bytes at the head of a client's output that are free to go (released or never held). */
  private readonly marks = new WeakMap<Client, number>();
  private timer: NodeJS.Timeout | null = null;
  private offsetBefore = 0;
  writesHeld = 0;
  writesAcked = 0;
  writesTimedOut = 0;
  writesRefused = 0;

  constructor(
    readonly st: ReplicationState,
    readonly server: Server,
  ) {}

  get replicasNeeded(): number {
    return Math.floor((this.server.config.getNumber('durable-replicas') + 1) / 2);
  }

  get leaseMs(): number {
    return this.server.config.getNumber('durable-lease');
  }

  /** Active: enabled and we are a master. */
  get active(): boolean {
    return this.enabled && !this.st.isReplica;
  }

  /** The highest offset a majority holds (the needed-th highest replica ACK). */
  ackedOffset(): number {
    const need = this.replicasNeeded;
    if (need === 0) return this.st.masterReplOffset;
    const acks: number[] = [];
    for (const r of this.st.replicas) if (r.state === 'online') acks.push(r.ackOffset);
    if (acks.length < need) return 0;
    acks.sort((a, b) => b - a);
    return acks[need - 1]!;
  }

  /** Milliseconds left on the lease (0: lapsed; writes are refused). */
  leaseLeft(): number {
    const need = this.replicasNeeded;
    if (need === 0) return this.leaseMs;
    const now = this.server.clock.monotonic();
    const times: number[] = [];
    for (const r of this.st.replicas) {
      if (r.state !== 'online') continue;
      const t = this.renewedAt.get(r);
      if (t !== undefined) times.push(t);
    }
    if (times.length < need) return 0;
    times.sort((a, b) => b - a);
    return Math.max(0, times[need - 1]! + this.leaseMs - now);
  }

  /** Admission: a write on a master whose lease lapsed is refused before it runs. */
  refusesWrites(): boolean {
    if (!this.active) return false;
    if (this.leaseLeft() > 0) return false;
    this.writesRefused++;
    return true;
  }

  /** REPLCONF GETACK * into the stream, remembering when (the lease is counted from here). */
  noteGetAck(): void {
    if (!this.enabled) return;
    const now = this.server.clock.monotonic();
    this.getacks.push({ off: this.st.masterReplOffset, t: now });
    // Records older than two leases can no longer renew anything.
    const horizon = now - 2 * Math.max(this.leaseMs, 1000);
    let drop = 0;
    while (drop < this.getacks.length - 1 && this.getacks[drop]!.t < horizon) drop++;
    if (drop > 0) this.getacks.splice(0, drop);
  }

  /** A replica ACKed `r.ackOffset`: renew its lease, release what a majority now holds. */
  onAck(r: ReplicaLink): void {
    if (!this.enabled) return;
    let t: number | undefined;
    for (let i = this.getacks.length - 1; i >= 0; i--) {
      if (this.getacks[i]!.off <= r.ackOffset) {
        t = this.getacks[i]!.t;
        break;
      }
    }
    if (t !== undefined && t > (this.renewedAt.get(r) ?? -Infinity)) this.renewedAt.set(r, t);
    this.release();
  }

  beforeCommand(): void {
    this.offsetBefore = this.st.masterReplOffset;
  }

  private deadline(): number {
    return this.server.clock.monotonic() + this.server.config.getNumber('durable-timeout');
  }

  /** After a top-level command of `c` that wrote its reply from `mark` on. */
  afterCommand(c: Client, mark: number): void {
    if (!this.active || c.fake || c.isMaster || c.kind !== 'normal') return;
    const moved = this.st.masterReplOffset > this.offsetBefore;
    const out = c.reply;
    let q = this.holds.get(c);
    if (q === undefined) {
      if (!moved) {
        this.marks.set(c, out.len);
        return;
      }
      this.holds.set(c, (q = []));
    }
    let m = this.marks.get(c) ?? 0;
    if (q.length > 0 && mark > m) {
      // Bytes written between commands (pushes) keep their place, behind the held ones.
      q.push({ offset: 0, bytes: Buffer.from(out.pending().subarray(m, mark)), deadline: this.deadline(), write: false });
    } else if (q.length === 0) {
      m = mark;
    }
    q.push({ offset: moved ? this.st.masterReplOffset : 0, bytes: Buffer.from(out.pending().subarray(mark)), deadline: this.deadline(), write: moved });
    out.truncate(m);
    this.marks.set(c, m);
    if (moved) {
      this.writesHeld++;
      this.st.requestGetAck();
    }
    this.ensureTimer();
    if (this.replicasNeeded === 0) this.release();
  }

  /** Output gate, before a client's output is written to its socket. */
  gate(c: Client): void {
    const out = c.reply;
    const m = this.marks.get(c) ?? 0;
    this.marks.delete(c);
    if (out.len <= m) return;
    const q = this.holds.get(c);
    const queued = q !== undefined && q.length > 0;
    // A blocked write served outside processInput (BLPOP…) is held with the current offset.
    const served =
      !queued && this.active && c.kind === 'normal' && c.lastCmd !== null && c.lastCmd.isWrite && this.ackedOffset() < this.st.masterReplOffset;
    if (!queued && !served) return;
    const entry = { offset: served ? this.st.masterReplOffset : 0, bytes: Buffer.from(out.pending().subarray(m)), deadline: this.deadline(), write: served };
    if (q === undefined) this.holds.set(c, [entry]);
    else q.push(entry);
    out.truncate(m);
    this.ensureTimer();
  }

  /** Moves every entry a majority holds (or that timed out) into its client's output. */
  release(): void {
    if (this.holds.size === 0) return;
    const acked = this.ackedOffset();
    const now = this.server.clock.monotonic();
    const demoted = this.st.isReplica || !this.enabled;
    for (const [c, q] of this.holds) {
      if (c.closed) {
        this.holds.delete(c);
        continue;
      }
      let n = 0;
      while (q.length > 0) {
        const e = q[0]!;
        if (e.offset !== 0 && e.offset > acked) {
          if (!demoted && e.deadline > now) break;
          // Not acknowledged by a majority in time: the client learns it is not durable.
          if (e.write) {
            this.writesTimedOut++;
            c.reply.error(NOREPLICAS_TIMEOUT);
          } else {
            c.reply.raw(e.bytes);
          }
        } else {
          if (e.write) this.writesAcked++;
          c.reply.raw(e.bytes);
        }
        q.shift();
        n++;
      }
      if (n > 0) {
        this.marks.set(c, c.reply.len);
        c.markPendingWrite();
      }
      if (q.length === 0) this.holds.delete(c);
    }
  }

  private ensureTimer(): void {
    if (this.timer !== null || !this.enabled) return;
    const period = Math.max(10, Math.min(100, Math.floor(this.leaseMs / 4)));
    this.timer = setInterval(() => {
      if (!this.enabled) {
        this.stop();
        return;
      }
      // Keeps the lease renewed while idle, and answers the entries whose time ran out.
      if (this.active) this.st.feedGetAck();
      this.release();
    }, period);
    this.timer.unref();
  }

  start(): void {
    this.enabled = true;
    this.ensureTimer();
  }

  stop(): void {
    this.enabled = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.release();
  }

  /** INFO replication fields (only while the mode is on). */
  info(out: string[]): void {
    if (!this.enabled) return;
    out.push('durable_writes:1');
    out.push(`durable_replicas:${this.server.config.getNumber('durable-replicas')}`);
    out.push(`durable_replicas_needed:${this.replicasNeeded}`);
    out.push(`durable_acked_offset:${this.st.isReplica ? 0 : this.ackedOffset()}`);
    out.push(`durable_lease_ms_left:${this.st.isReplica ? 0 : Math.round(this.leaseLeft())}`);
    let held = 0;
    for (const q of this.holds.values()) held += q.length;
    out.push(`durable_replies_held:${held}`);
    out.push(`durable_writes_acked:${this.writesAcked}`);
    out.push(`durable_writes_timedout:${this.writesTimedOut}`);
    out.push(`durable_writes_refused:${this.writesRefused}`);
  }
}

const states = new WeakMap<ReplicationState, DurableState>();

export function durableOf(st: ReplicationState): DurableState {
  let d = states.get(st);
  if (d === undefined) states.set(st, (d = new DurableState(st, st.server)));
  return d;
}
