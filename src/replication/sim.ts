/**
 * Replication under a simulated clock and network, seeded and replayable (the Sentinel
 * simulation's counterpart: src/sentinel/sim-*.ts). Nodes run the replication code that does
 * not need a socket — the PSYNC rules, the id bookkeeping and the stream accounting of
 * psync.ts, the real ReplicationBacklog ring buffer, the real RESP parser and command encoder —
 * wired as nodis-server wires them (master.ts / replica.ts): a master feeds every write to its
 * backlog and its online replicas; a replica PSYNCs with its id and offset + 1, takes
 * +CONTINUE (adopting a new id) or +FULLRESYNC and an image, applies the stream command by
 * command and feeds exactly the consumed bytes to its own stream (so chains work and a
 * promoted replica can serve PSYNC from its backlog); REPLCONF ACK every second; repl-timeout
 * on both sides; a promotion keeps the old id as replid2.
 *
 * The network keeps each connection in order (TCP), splits every write into random pieces
 * (partial writes), gives each connection its own random latency (so streams to different
 * replicas and the failover orders overtake each other), holds bytes during a partition and
 * delivers them after it if the connection survived (TCP retransmission), resets connections on
 * a crash or a random disconnect, and refuses or times out connects.
 *
 * Ground truth, invisible to the code under test, is checked after every event:
 *  I1 one dataset per (replid, offset): every node whose stream reached a given offset under a
 *     given id holds the same data there (so a replica equals its master at the same offset);
 *  I2 +CONTINUE only when the backlog covers the gap: the bytes sent equal the master's real
 *     stream from the requested offset (checked against a separate full log), and the requested
 *     offset is within the backlog's size;
 *  I3 every applied command is the next one: the stream offset the network knows the bytes
 *     came from equals the replica's offset + 1 (no offset applied twice, none skipped);
 *  I4 after healing: one master, every other node attached to it with its offset and data.
 *
 * With `durable: true` the nodes run nodis's durable acknowledgment (durable.ts) and the
 * failover operator follows nodis-sentinel's durable rule: a master takes a write only while
 * its lease holds (⌊n/2⌋ replicas ACKed a GETACK fed in the last 500 ms), feeds REPLCONF GETACK
 * after each write and every 100 ms, replicas ACK right after applying it, and a write counts
 * as acknowledged once ⌊n/2⌋ replicas ACKed its offset (within 1 s; then it is abandoned, its
 * outcome unknown). A failover fences every replica it reaches (its link to the master goes
 * down until it is re-pointed or the fence lifted, REPLCONF DURABLE-FENCE; each fence arrives
 * after its own delay and only when the node is reachable), needs answers from
 * n − 1 − ⌊n/2⌋ + 1 of them, and promotes the highest offset; its REPLICAOF orders may arrive
 * late (one in four up to 12 s). An aborted failover lifts its fences unless its operator
 * dies first; a stale fence (30 s) on a replica of the current master is lifted as
 * nodis-sentinel's liftStaleFence does. A fence survives a restart (durable-fenced). Crashes keep the data (persistence; losing a replica's data and the master
 * at once is two failures of three). Then:
 *  I5 every acknowledged write is in the dataset of every later master: checked when a node is
 *     promoted (every write acknowledged before is in its data) and at the end.
 */
import { Random } from '../core/clock.js';
import { RespParser } from '../protocol/parser.js';
import { encodeCommand } from '../protocol/reply-parser.js';
import { SimClock } from '../sentinel/sim-network.js';
import { ReplicationBacklog } from './backlog.js';
import { NULL_REPLID, type ReplIds, StreamConsumer, adoptContinueId, adoptFullSync, psyncRequest, psyncVerdict, shiftReplIds } from './psync.js';

const REPL_TIMEOUT = 3000;

/** A piece of bytes on the wire; `at` is the true stream offset of its first byte, or null. */
interface Piece {
  bytes: Buffer;
  at: number | null;
  due: number;
}

/** One direction of a connection: in-order delivery, held while the path is down. */
class Pipe {
  queue: Piece[] = [];
  pumping = false;
  lastDue = 0;
  constructor(
    readonly sim: ReplSim,
    readonly conn: SimLink,
    readonly from: SimReplNode,
    readonly to: SimReplNode,
    readonly deliver: (bytes: Buffer, at: number | null) => void,
  ) {}

  send(bytes: Buffer, at: number | null): void {
    if (this.conn.closed || bytes.length === 0) return;
    const r = this.sim.random;
    // Partial writes: the bytes arrive in up to four pieces.
    let off = 0;
    const cuts = r.below(4);
    for (let i = 0; i <= cuts && off < bytes.length; i++) {
      const len = i === cuts ? bytes.length - off : 1 + r.below(Math.max(1, bytes.length - off));
      const due = Math.max(this.sim.clock.monotonic + this.conn.latency + r.below(3), this.lastDue);
      this.lastDue = due;
      this.queue.push({ bytes: bytes.subarray(off, off + len), at: at === null ? null : at + off, due });
      off += len;
    }
    this.pump();
  }

  private pump(): void {
    if (this.pumping || this.queue.length === 0) return;
    this.pumping = true;
    this.sim.clock.setTimer(Math.max(0, this.queue[0]!.due - this.sim.clock.monotonic), () => {
      this.pumping = false;
      if (this.conn.closed) return;
      if (!this.sim.pathUp(this.from, this.to)) {
        // TCP retransmits: the bytes wait for the path (or for a timeout to close the link).
        this.queue[0]!.due = this.sim.clock.monotonic + 100;
        this.pump();
        return;
      }
      const p = this.queue.shift()!;
      this.deliver(p.bytes, p.at);
      this.pump();
    });
  }
}

/** A replication connection from `replica` to `master`. */
class SimLink {
  closed = false;
  readonly latency: number;
  readonly up: Pipe;
  readonly down: Pipe;
  /** Master side. */
  readonly masterParser = new RespParser({ maxBulkLen: 0, authRequired: false, fromMaster: true });
  online = false;
  masterLastIo: number;
  /** Durable mode, master side: the replica's ACKed offset and its lease renewal time. */
  ackOffset = 0;
  renewedAt = -Infinity;
  /** Replica side. */
  state: 'connecting' | 'handshake' | 'transfer' | 'connected' = 'connecting';
  inbuf: Buffer = Buffer.alloc(0);
  consumer: StreamConsumer | null = null;
  /** True stream offsets: of the first byte not yet applied, and just past the last byte fed. */
  trueNext = -1;
  fedEnd = -1;
  fullReplid = '';
  fullOffset = 0;
  transferLen = -1;
  replicaLastIo: number;

  constructor(
    readonly sim: ReplSim,
    readonly replica: SimReplNode,
    readonly master: SimReplNode,
  ) {
    this.latency = 1 + sim.random.below(20);
    this.up = new Pipe(sim, this, replica, master, (b) => master.onReplicaBytes(this, b));
    this.down = new Pipe(sim, this, master, replica, (b, at) => replica.onMasterBytes(this, b, at));
    this.masterLastIo = this.replicaLastIo = sim.clock.monotonic;
  }

  /**
   * Closes the connection. The replica's side, when the master closed it, hears of it once the
   * FIN gets through (retransmitted while the path is down), unless it gave up on it first.
   */
  close(by: SimReplNode | null): void {
    if (this.replica.link === this && by !== this.master) this.replica.link = null;
    if (this.closed) return;
    this.closed = true;
    this.master.replicaLinks.delete(this);
    if (by === this.master) {
      const notify = (): void => {
        if (this.replica.link !== this) return;
        if (this.sim.pathUp(this.master, this.replica) || !this.master.alive) this.replica.link = null;
        else this.sim.clock.setTimer(100, notify);
      };
      this.sim.clock.setTimer(this.latency, notify);
    }
  }
}

export class SimReplNode implements ReplIds {
  replid: string;
  replid2 = NULL_REPLID;
  masterReplOffset = 0;
  secondReplOffset = -1;
  backlog: ReplicationBacklog;
  data = new Map<string, string>();
  alive = true;
  /** The node we replicate from (null: we are a master). */
  masterOf: SimReplNode | null = null;
  link: SimLink | null = null;
  readonly replicaLinks = new Set<SimLink>();
  /** Ground truth: every byte this node fed to its stream since its history began, from logStart. */
  log: Buffer[] = [];
  logLen = 0;
  logStart = 1;
  /** Durable mode: (offset after a GETACK, time it was fed); when fenced (ms, 0: not fenced). */
  getacks: { off: number; t: number }[] = [];
  fencedSince = 0;
  constructor(
    readonly sim: ReplSim,
    readonly name: string,
  ) {
    this.replid = sim.random.hex(40);
    this.backlog = new ReplicationBacklog(sim.backlogSize(), 0);
  }

  get isMaster(): boolean {
    return this.masterOf === null;
  }

  digest(): string {
    return JSON.stringify([...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
  }

  /** Appends bytes to our stream: offset, backlog, ground-truth log, online replicas. */
  feedBytes(bytes: Buffer): void {
    const at = this.masterReplOffset + 1;
    this.masterReplOffset += bytes.length;
    this.backlog.append(bytes);
    this.log.push(bytes);
    this.logLen += bytes.length;
    for (const l of this.replicaLinks) if (l.online) l.down.send(bytes, at);
    this.sim.observe(this, 'stream');
  }

  resetLog(offset: number): void {
    this.log = [];
    this.logLen = 0;
    this.logStart = offset + 1;
  }

  logSlice(from: number): Buffer {
    return Buffer.concat(this.log).subarray(from - this.logStart);
  }

  apply(argv: string[]): void {
    const [cmd, key, val] = argv;
    switch (cmd) {
      case 'SET':
        this.data.set(key!, val!);
        break;
      case 'APPEND':
        this.data.set(key!, (this.data.get(key!) ?? '') + val!);
        break;
      case 'INCR':
        this.data.set(key!, String(Number(this.data.get(key!) ?? '0') + 1));
        break;
      case 'DEL':
        this.data.delete(key!);
        break;
      default:
        // PING and REPLCONF GETACK keep the link alive; they change no data.
        break;
    }
  }

  /**
   * Durable mode: the link is fenced — until re-pointed or lifted (nodis's rule), or, with the
   * `fenceMs` option, only for that long (the earlier rule; the tests check I5 catches it).
   */
  fenced(): boolean {
    if (this.fencedSince === 0) return false;
    const ms = this.sim.opts.fenceMs;
    if (ms === undefined || this.sim.clock.monotonic - this.fencedSince < ms) return true;
    this.fencedSince = 0;
    return false;
  }

  /** Durable mode: REPLCONF DURABLE-FENCE 1 (the link goes down and stays down). */
  fence(): void {
    if (this.fencedSince === 0) this.fencedSince = Math.max(1, this.sim.clock.monotonic);
    this.link?.close(this);
    this.link = null;
  }

  /** Durable mode: REPLCONF DURABLE-FENCE 0. */
  unfence(): void {
    if (this.fencedSince === 0) return;
    this.fencedSince = 0;
    this.sim.stats.fencesLifted++;
    this.connect();
  }

  /** Durable mode: the lease holds (⌊n/2⌋ replicas renewed it in the last 500 ms). */
  leaseHolds(): boolean {
    const now = this.sim.clock.monotonic;
    let n = 0;
    for (const l of this.replicaLinks) if (l.online && l.renewedAt > now - 500) n++;
    return n >= this.sim.replicasNeeded;
  }

  /** Durable mode: REPLCONF GETACK * into the stream, remembering when. */
  getAck(): void {
    if (this.replicaLinks.size === 0) return;
    this.feedBytes(encodeCommand(['REPLCONF', 'GETACK', '*']));
    this.getacks.push({ off: this.masterReplOffset, t: this.sim.clock.monotonic });
    if (this.getacks.length > 64) this.getacks.splice(0, this.getacks.length - 64);
  }

  /** A client write (only a master takes them). */
  write(): void {
    const r = this.sim.random;
    if (this.sim.opts.durable === true) {
      // Refused without a lease; otherwise an append of a unique id to L, awaiting its ACKs.
      if (!this.leaseHolds()) {
        this.sim.stats.refused++;
        return;
      }
      const id = `w${this.sim.stats.writes};`;
      const argv = ['APPEND', 'L', id];
      this.apply(argv);
      this.sim.stats.writes++;
      this.feedBytes(encodeCommand(argv));
      this.sim.pending.push({ node: this, id, off: this.masterReplOffset, deadline: this.sim.clock.monotonic + 1000 });
      this.getAck();
      return;
    }
    const key = `k${r.below(6)}`;
    const kinds = ['SET', 'APPEND', 'INCR', 'DEL'];
    const cmd = kinds[r.below(kinds.length)]!;
    const argv = cmd === 'INCR' ? ['INCR', 'n'] : cmd === 'DEL' ? ['DEL', key] : [cmd, key, r.hex(1 + r.below(12))];
    this.apply(argv);
    this.sim.stats.writes++;
    this.feedBytes(encodeCommand(argv));
  }

  // ---- master side

  onReplicaBytes(link: SimLink, bytes: Buffer): void {
    if (link.closed || !this.alive) return;
    link.masterLastIo = this.sim.clock.monotonic;
    link.masterParser.feed(bytes);
    for (let argv = link.masterParser.next(); argv !== null; argv = link.masterParser.next()) {
      if (argv[0] === 'PSYNC') this.psync(link, argv[1]!, argv[2]!);
      else if (argv[0] === 'REPLCONF' && argv[1] === 'ACK') this.onAck(link, Number(argv[2]));
    }
  }

  /** Durable mode: an ACK renews the lease from the last GETACK it covers and may acknowledge writes. */
  private onAck(link: SimLink, off: number): void {
    if (off > link.ackOffset) link.ackOffset = off;
    for (let i = this.getacks.length - 1; i >= 0; i--) {
      if (this.getacks[i]!.off <= link.ackOffset) {
        link.renewedAt = Math.max(link.renewedAt, this.getacks[i]!.t);
        break;
      }
    }
    this.sim.settleWrites(this);
  }

  private psync(link: SimLink, replid: string, offset: string): void {
    // A replica that is not streaming from its own master cannot serve (NOMASTERLINK).
    if (!this.isMaster && (this.link === null || this.link.state !== 'connected')) {
      link.down.send(Buffer.from("-NOMASTERLINK Can't SYNC while not connected with my master\r\n"), null);
      return;
    }
    const v = (this.sim.opts.verdict ?? psyncVerdict)(this, this.backlog, replid, offset);
    this.replicaLinks.add(link);
    if (v.kind === 'continue') {
      const data = this.backlog.copyFrom(v.offset);
      // I2: the backlog's bytes are the real stream from that offset, and it could hold them.
      const truth = this.logSlice(v.offset);
      if (v.offset < this.logStart || !data.equals(truth)) this.sim.violation(`${this.name}: +CONTINUE at ${v.offset} sent bytes that are not the stream from there`);
      if (this.masterReplOffset + 1 - v.offset > this.backlog.size) this.sim.violation(`${this.name}: +CONTINUE at ${v.offset} beyond the backlog's size`);
      this.sim.stats.partial++;
      if (replid === this.replid2 && replid !== this.replid) this.sim.stats.partialOnReplid2++;
      link.down.send(Buffer.from(`+CONTINUE ${this.replid}\r\n`), null);
      link.down.send(data, v.offset);
      link.online = true;
      return;
    }
    this.sim.stats.full++;
    if (v.reason === 'no-backlog') this.sim.stats.backlogMiss++;
    if (v.reason === 'id-mismatch') this.sim.stats.idMiss++;
    if (v.reason === 'beyond-replid2') this.sim.stats.beyondReplid2++;
    const image = Buffer.from(JSON.stringify([...this.data.entries()]), 'latin1');
    link.down.send(Buffer.from(`+FULLRESYNC ${this.replid} ${this.masterReplOffset}\r\n`), null);
    link.down.send(Buffer.from(`$${image.length}\r\n`), null);
    link.down.send(image, null);
    link.online = true;
  }

  // ---- replica side

  connect(): void {
    const m = this.masterOf;
    if (m === null || this.link !== null || !this.alive || this.fenced()) return;
    const link = new SimLink(this.sim, this, m);
    this.link = link;
    this.sim.clock.setTimer(link.latency, () => {
      if (link.closed || this.link !== link) return;
      if (!m.alive) return link.close(null);
      if (!this.sim.pathUp(this, m)) {
        this.sim.clock.setTimer(1000, () => link.close(this));
        return;
      }
      link.state = 'handshake';
      link.replicaLastIo = this.sim.clock.monotonic;
      const req = psyncRequest(this, true);
      link.up.send(encodeCommand(['PSYNC', req.replid, String(req.offset)]), null);
    });
  }

  onMasterBytes(link: SimLink, bytes: Buffer, at: number | null): void {
    if (link.closed || this.link !== link || !this.alive) return;
    link.replicaLastIo = this.sim.clock.monotonic;
    if (link.state === 'connected') return this.feedStream(link, bytes, at);
    link.inbuf = Buffer.concat([link.inbuf, bytes]);
    if (link.state === 'handshake') {
      const nl = link.inbuf.indexOf('\r\n');
      if (nl < 0) return;
      const line = link.inbuf.latin1Slice(0, nl);
      link.inbuf = link.inbuf.subarray(nl + 2);
      if (line.startsWith('+CONTINUE')) {
        if (adoptContinueId(this, line.slice('+CONTINUE'.length).trim())) this.dropReplicas();
        this.startStream(link);
      } else if (line.startsWith('+FULLRESYNC')) {
        const parts = line.split(' ');
        link.fullReplid = parts[1]!;
        link.fullOffset = Number(parts[2]);
        link.state = 'transfer';
      } else {
        link.close(this);
      }
      return;
    }
    // transfer: "$<len>\r\n" then the image.
    if (link.transferLen < 0) {
      const nl = link.inbuf.indexOf('\r\n');
      if (nl < 0) return;
      link.transferLen = Number(link.inbuf.latin1Slice(1, nl));
      link.inbuf = link.inbuf.subarray(nl + 2);
    }
    if (link.inbuf.length < link.transferLen) return;
    const image = JSON.parse(link.inbuf.subarray(0, link.transferLen).toString('latin1')) as [string, string][];
    link.inbuf = link.inbuf.subarray(link.transferLen);
    this.dropReplicas();
    this.data = new Map(image);
    adoptFullSync(this, link.fullReplid, link.fullOffset);
    this.backlog = new ReplicationBacklog(this.backlog.size, this.masterReplOffset);
    this.resetLog(this.masterReplOffset);
    this.sim.observe(this, 'full sync');
    this.startStream(link);
  }

  private startStream(link: SimLink): void {
    link.state = 'connected';
    link.consumer = new StreamConsumer(new RespParser({ maxBulkLen: 0, authRequired: false, fromMaster: true }));
    link.trueNext = -1;
    link.fedEnd = -1;
  }

  private feedStream(link: SimLink, bytes: Buffer, at: number | null): void {
    const c = link.consumer!;
    if (at === null) return this.sim.violation(`${this.name}: non-stream bytes after the sync point`);
    if (link.fedEnd === -1) link.trueNext = at;
    else if (at !== link.fedEnd) this.sim.violation(`${this.name}: stream bytes out of order on one connection`);
    link.fedEnd = at + bytes.length;
    c.feed(bytes);
    for (let argv = c.parser.next(); argv !== null; argv = c.parser.next()) {
      this.apply(argv);
      const used = c.takeConsumed()!;
      // I3: the bytes applied now start right after everything applied before.
      if (link.trueNext !== this.masterReplOffset + 1) {
        this.sim.violation(`${this.name}: applied stream bytes from offset ${link.trueNext} at local offset ${this.masterReplOffset}`);
      }
      link.trueNext += used.length;
      this.feedBytes(used);
      if (this.sim.opts.durable === true && argv[0] === 'REPLCONF' && argv[1] === 'GETACK') {
        link.up.send(encodeCommand(['REPLCONF', 'ACK', String(this.masterReplOffset)]), null);
      }
    }
  }

  /** Replicas of ours must reconnect (our history changed or was replaced). */
  dropReplicas(): void {
    for (const l of [...this.replicaLinks]) l.close(this);
  }

  /** replicationSetMaster. */
  setMaster(m: SimReplNode): void {
    if (this.masterOf === m) return;
    this.fencedSince = 0;
    this.link?.close(this);
    this.link = null;
    this.masterOf = m;
    this.connect();
  }

  /** replicationUnsetMaster: promotion keeps the data and continues the history under a new id. */
  promote(): void {
    if (this.masterOf === null) return;
    this.masterOf = null;
    this.link?.close(this);
    this.link = null;
    shiftReplIds(this, this.sim.random.hex(40));
    this.dropReplicas();
    this.fencedSince = 0;
    this.sim.observe(this, 'promotion');
    this.sim.checkAcknowledged(this, 'promoted');
  }

  /** Once a second: PING into the stream (master), ACK / timeout / reconnect (replica). */
  cron(): void {
    if (!this.alive) return;
    const now = this.sim.clock.monotonic;
    for (const l of [...this.replicaLinks]) if (now - l.masterLastIo > REPL_TIMEOUT) l.close(this);
    if (this.isMaster) {
      if (this.replicaLinks.size > 0) this.feedBytes(encodeCommand(['PING']));
      return;
    }
    const l = this.link;
    if (l !== null && now - l.replicaLastIo > REPL_TIMEOUT) l.close(this);
    if (this.link === null) this.connect();
    else if (this.link.state === 'connected') this.link.up.send(encodeCommand(['REPLCONF', 'ACK', String(this.masterReplOffset)]), null);
  }

  crash(): void {
    this.alive = false;
    this.link?.close(this);
    this.link = null;
    for (const l of [...this.replicaLinks]) l.close(this);
  }

  /**
   * Restart: with its RDB (data, replid and offset as saved at the crash, as Redis keeps them in
   * the RDB's aux fields, so it can PSYNC) or empty (a new history from offset 0).
   */
  restart(keepRdb: boolean): void {
    if (this.alive) return;
    this.alive = true;
    if (!keepRdb) {
      this.data = new Map();
      this.replid = this.sim.random.hex(40);
      this.masterReplOffset = 0;
    }
    this.replid2 = NULL_REPLID;
    this.secondReplOffset = -1;
    // The fence survives (durable-fenced, written to the config file by the operator's CONFIG
    // REWRITE); its age counts from the restart, as INFO's durable_fenced_ms does.
    if (this.fencedSince !== 0) this.fencedSince = this.sim.clock.monotonic;
    this.backlog = new ReplicationBacklog(this.backlog.size, this.masterReplOffset);
    this.resetLog(this.masterReplOffset);
    this.sim.observe(this, 'restart');
    this.connect();
  }
}

export interface ReplSimOptions {
  seed: number;
  nodes?: number;
  chaosMs?: number;
  /** Replaces the master's PSYNC rule (the tests check that a wrong rule is caught). */
  verdict?: typeof psyncVerdict;
  /** Durable acknowledgment and nodis-sentinel's durable failover (I5). */
  durable?: boolean;
  /** Durable mode: promote a random fenced replica instead of the highest offset (the tests check I5 catches it). */
  careless?: boolean;
  /** Durable mode: fences expire after this many ms (the earlier rule; the tests check I5 catches it). */
  fenceMs?: number;
  /** Every REPLICAOF order of a failover arrives this many ms late (default: random). */
  reconfMs?: number;
}

export class ReplSim {
  readonly clock = new SimClock();
  readonly random: Random;
  readonly nodes: SimReplNode[] = [];
  /** Who the failover "operator" (Sentinel's role here) last promoted. */
  leader: SimReplNode;
  readonly violations: string[] = [];
  readonly stats = {
    writes: 0, partial: 0, partialOnReplid2: 0, full: 0, backlogMiss: 0, idMiss: 0, beyondReplid2: 0, promotions: 0, crashes: 0, disconnects: 0, partitions: 0, resizes: 0, events: 0,
    acknowledged: 0, abandoned: 0, refused: 0, fences: 0, failoversRefused: 0, checksI5: 0, slowReconf: 0, fencesLifted: 0, staleLifts: 0, pairPartitions: 0,
  };
  /** Durable mode: writes waiting for their ACKs, and the acknowledged ones (I5's ground truth). */
  pending: { node: SimReplNode; id: string; off: number; deadline: number }[] = [];
  readonly acknowledged: string[] = [];
  /** Ground truth I1: (replid, offset) → dataset digest. */
  private readonly truth = new Map<string, string>();
  private isolated = new Set<SimReplNode>();

  constructor(readonly opts: ReplSimOptions) {
    this.random = new Random(opts.seed);
    const n = opts.nodes ?? 3;
    for (let i = 0; i < n; i++) this.nodes.push(new SimReplNode(this, `n${i}`));
    this.leader = this.nodes[0]!;
    for (const node of this.nodes.slice(1)) node.setMaster(this.leader);
  }

  /** Durable mode: replica ACKs a write needs (a majority of the n nodes, the master included). */
  get replicasNeeded(): number {
    return Math.floor(this.nodes.length / 2);
  }

  /** Durable mode: acknowledges the writes of `m` that enough replicas ACKed; abandons late ones. */
  settleWrites(m: SimReplNode | null): void {
    const now = this.clock.monotonic;
    this.pending = this.pending.filter((w) => {
      if (m !== null && w.node === m && m.isMaster && m.alive) {
        let n = 0;
        for (const l of m.replicaLinks) if (l.online && l.ackOffset >= w.off) n++;
        if (n >= this.replicasNeeded) {
          this.acknowledged.push(w.id);
          this.stats.acknowledged++;
          return false;
        }
      }
      if (w.deadline <= now || !w.node.isMaster) {
        this.stats.abandoned++;
        return false;
      }
      return true;
    });
  }

  /** I5: every write acknowledged so far is in the dataset of `node`, a master now. */
  checkAcknowledged(node: SimReplNode, why: string): void {
    if (this.opts.durable !== true) return;
    this.stats.checksI5++;
    const have = new Set((node.data.get('L') ?? '').split(';'));
    for (const id of this.acknowledged) {
      if (!have.has(id.slice(0, -1))) {
        this.violation(`I5: ${node.name} (${why}) lacks acknowledged write ${id}`);
        return;
      }
    }
  }

  backlogSize(): number {
    return 64 + this.random.below(1500);
  }

  pathUp(a: SimReplNode, b: SimReplNode): boolean {
    return a.alive && b.alive && this.isolated.has(a) === this.isolated.has(b);
  }

  violation(what: string): void {
    if (this.violations.length < 20) this.violations.push(`t=${this.clock.monotonic} ${what}`);
  }

  /** I1: the dataset at (replid, offset) is the same wherever that point of history is seen. */
  observe(node: SimReplNode, why: string): void {
    const k = `${node.replid}:${node.masterReplOffset}`;
    const d = node.digest();
    const known = this.truth.get(k);
    if (known === undefined) this.truth.set(k, d);
    else if (known !== d) this.violation(`${node.name} (${why}): dataset at ${k} differs from the one recorded there`);
  }

  private every(ms: number, fn: () => void): void {
    const tick = (): void => {
      fn();
      this.clock.setTimer(ms, tick);
    };
    this.clock.setTimer(ms, tick);
  }

  /** One chaos event. */
  private chaos(): void {
    const r = this.random;
    this.stats.events++;
    const pick = (): SimReplNode => this.nodes[r.below(this.nodes.length)]!;
    const k = r.below(100);
    if (k < 25) {
      // A connection reset.
      const n = pick();
      if (n.link !== null) {
        this.stats.disconnects++;
        n.link.close(null);
        n.link = null;
      }
    } else if (k < 40) {
      // A node cut off for a while (bytes held; links time out if it lasts).
      const n = pick();
      this.isolated = new Set([n]);
      // Durable mode: also two nodes cut off together (the master with a replica).
      if (this.opts.durable === true && r.below(2) === 0) {
        const n2 = pick();
        if (n2 !== n) {
          this.isolated.add(n2);
          this.stats.pairPartitions++;
        }
      }
      this.stats.partitions++;
      this.clock.setTimer(200 + r.below(6000), () => (this.isolated = new Set()));
    } else if (k < 55) {
      const n = pick();
      if (!n.alive) return;
      this.stats.crashes++;
      n.crash();
      this.clock.setTimer(300 + r.below(4000), () => n.restart(this.opts.durable === true || r.below(2) === 0));
    } else if (k < 75) {
      // A failover: promote a live replica, point the others at it (orders may arrive late).
      if (this.opts.durable === true) return this.durableFailover();
      const candidates = this.nodes.filter((n) => n.alive && !n.isMaster);
      if (candidates.length === 0) return;
      this.failover(candidates[r.below(candidates.length)]!);
    } else if (k < 80) {
      const n = pick();
      this.stats.resizes++;
      const keep = n.backlog;
      // CONFIG SET repl-backlog-size keeps the newest history that fits.
      keep.resize(this.backlogSize());
    }
  }

  /** A REPLICAOF order from the failover operator; it waits while the node is unreachable. */
  private order(n: SimReplNode, m: SimReplNode, delay = this.orderDelay()): void {
    this.clock.setTimer(delay, () => {
      if (this.leader !== m) return;
      if (!n.alive || this.isolated.has(n)) return this.order(n, m, 1 + this.random.below(300));
      n.setMaster(m);
    });
  }

  /** A REPLICAOF order's delay: in durable mode, one in four is slow (Sentinel under load). */
  private orderDelay(): number {
    if (this.opts.reconfMs !== undefined) return this.opts.reconfMs;
    if (this.opts.durable === true && this.random.below(4) === 0) {
      this.stats.slowReconf++;
      return 1 + this.random.below(12000);
    }
    return 1 + this.random.below(300);
  }

  private failoverBusy = false;

  /**
   * nodis-sentinel's liftStaleFence, once a second: a fence older than 5 × the failover timeout
   * on a reachable replica of the current master, with no failover in progress, is lifted (its
   * operator gave up without lifting it: a sentinel that died mid-failover).
   */
  private liftStaleFences(): void {
    const m = this.leader;
    if (this.failoverBusy || !m.isMaster || !m.alive || this.isolated.has(m)) return;
    for (const n of this.nodes) {
      if (n.fencedSince === 0 || n.masterOf !== m || !n.alive || this.isolated.has(n)) continue;
      if (this.clock.monotonic - n.fencedSince <= 5 * 6000) continue;
      this.stats.staleLifts++;
      n.unfence();
    }
  }

  /**
   * nodis-sentinel's durable failover: fence the replicas of the current master (each fence
   * after its own delay, only if the node is alive and reachable then), and once enough have
   * answered, promote the highest offset; give up after 6 s.
   */
  durableFailover(): void {
    if (this.failoverBusy) return;
    this.failoverBusy = true;
    const old = this.leader;
    const required = this.nodes.length - 1 - this.replicasNeeded + 1;
    const answers = new Map<SimReplNode, number>();
    const start = this.clock.monotonic;
    for (const n of this.nodes) {
      if (n === old) continue;
      this.clock.setTimer(1 + this.random.below(300), () => {
        // Only a replica on the old master's history counts (nodis-sentinel compares replids).
        if (!n.alive || this.isolated.has(n) || n.masterOf !== old || n.replid !== old.replid) return;
        this.stats.fences++;
        n.fence();
        answers.set(n, n.masterReplOffset);
      });
    }
    const decide = (): void => {
      if (this.leader !== old) {
        this.failoverBusy = false;
        return;
      }
      if (answers.size < required) {
        if (this.clock.monotonic - start > 6000) {
          this.stats.failoversRefused++;
          this.failoverBusy = false;
          this.liftFences(answers.keys());
          return;
        }
        this.clock.setTimer(100, decide);
        return;
      }
      const fenced = [...answers.entries()];
      let pick = fenced[0]!;
      if (this.opts.careless === true) pick = fenced[this.random.below(fenced.length)]!;
      else for (const a of fenced) if (a[1] > pick[1]) pick = a;
      this.failoverBusy = false;
      // A fenced node may have crashed since: promote it when it is back (its data is kept).
      if (!pick[0].alive) {
        this.stats.failoversRefused++;
        this.liftFences(answers.keys());
        return;
      }
      this.failover(pick[0]);
    };
    this.clock.setTimer(350, decide);
  }

  /**
   * An aborted failover lifts the fences it set (each after its own delay, if the node is
   * reachable then) — unless its operator "dies" first (one in three): then only the stale-fence
   * rule frees them.
   */
  private liftFences(nodes: Iterable<SimReplNode>): void {
    if (this.random.below(3) === 0) return;
    for (const n of nodes) {
      this.clock.setTimer(1 + this.random.below(300), () => {
        if (n.alive && !this.isolated.has(n)) n.unfence();
      });
    }
  }

  private writing = false;

  /** Starts the crons and the client writes (on every node that believes it is a master). */
  start(): void {
    const r = this.random;
    for (const n of this.nodes) this.every(1000, () => n.cron());
    if (this.opts.durable === true) {
      this.every(100, () => {
        for (const n of this.nodes) if (n.alive && n.isMaster) n.getAck();
        this.settleWrites(null);
      });
      this.every(1000, () => this.liftStaleFences());
    }
    this.writing = true;
    const writeLoop = (): void => {
      if (!this.writing) return;
      for (const n of this.nodes) if (n.alive && n.isMaster && r.below(3) === 0) n.write();
      this.clock.setTimer(1 + r.below(40), writeLoop);
    };
    writeLoop();
  }

  /** A failover: `p` is promoted and every other node is told to replicate from it. */
  failover(p: SimReplNode): void {
    this.stats.promotions++;
    this.leader = p;
    p.promote();
    for (const n of this.nodes) if (n !== p) this.order(n, p);
  }

  /** Stops the writes and waits (up to 15 s, 45 s in durable mode) for I4; returns null when converged, or why not. */
  settle(): string | null {
    this.writing = false;
    // PINGs keep coming, so look between them.
    let why = this.convergence();
    // Durable mode: a fence its operator left behind is lifted only once stale (30 s).
    const wait = this.opts.durable === true ? 45000 : 15000;
    for (let t = 0; t < wait && why !== null; t += 5) {
      this.clock.advance(5);
      why = this.convergence();
    }
    this.checkAcknowledged(this.leader, 'final master');
    return why;
  }

  /** Runs the chaos, heals, lets it settle; returns null when converged, or why not. */
  run(): string | null {
    const chaosMs = this.opts.chaosMs ?? 20000;
    const r = this.random;
    this.start();
    let chaosOn = true;
    const chaosLoop = (): void => {
      if (!chaosOn) return;
      this.chaos();
      this.clock.setTimer(100 + r.below(1500), chaosLoop);
    };
    this.clock.setTimer(500, chaosLoop);
    this.clock.advance(chaosMs);
    chaosOn = false;
    // Heal: everyone up and reachable, everyone told who the master is.
    this.clock.advance(8000);
    this.isolated = new Set();
    for (const n of this.nodes) if (!n.alive) n.restart(true);
    if (!this.leader.isMaster) this.leader.promote();
    for (const n of this.nodes) if (n !== this.leader) n.setMaster(this.leader);
    this.clock.advance(5000);
    return this.settle();
  }

  /** I4: one master, every other node streaming from it with its offset and data. */
  convergence(): string | null {
    const m = this.leader;
    for (const n of this.nodes) {
      if (n === m) continue;
      if (n.isMaster) return `${n.name} is a master too`;
      if (n.link === null || n.link.state !== 'connected' || n.masterOf !== m) return `${n.name} not streaming from ${m.name}`;
      if (n.masterReplOffset !== m.masterReplOffset) return `${n.name} at offset ${n.masterReplOffset}, master at ${m.masterReplOffset}`;
      if (n.digest() !== m.digest()) return `${n.name}'s dataset differs from the master's`;
      if (n.replid !== m.replid) return `${n.name} has id ${n.replid}, master ${m.replid}`;
    }
    return null;
  }
}
