/**
 * A simulated network for running many sentinels and Redis-like data nodes in one process under
 * a simulated clock: message latency, crashes (connections reset), partitions (messages silently
 * dropped, as a cut cable does to TCP), and per-node wall-clock jumps. Everything is seeded, so
 * a failing run replays exactly from its seed.
 *
 * The data nodes (`SimDataNode`) model just what Sentinel observes and changes: role, master,
 * link status, replication offset, run id, replica-priority, INFO replication text, SLAVEOF,
 * PUBLISH/SUBSCRIBE. Sentinel endpoints answer PING, PUBLISH (hello) and SENTINEL
 * is-master-down-by-addr by calling into their `Sentinel` core, exactly as the TCP server does.
 */
import { type Clock, Random, type TimerHandle } from '../core/clock.js';
import type { Reply } from '../protocol/reply-parser.js';
import { type Addr, type Connection, type ConnectionEvents, type Transport, addrKey, arrayReply, bulkReply, errorReply, intReply, status } from './transport.js';

/** A discrete-event clock: a binary heap of timers in deadline order. */
export class SimClock {
  private time = 0;
  private seq = 0;
  private heap: { at: number; seq: number; id: number; fn: () => void }[] = [];
  private cancelled = new Set<number>();
  private nextId = 1;

  get monotonic(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.push({ at: this.time + Math.max(0, ms), seq: this.seq++, id, fn });
    return { id };
  }

  clearTimer(h: TimerHandle): void {
    this.cancelled.add(h.id);
  }

  /** Runs every timer due up to now + ms, in order. */
  advance(ms: number): void {
    const target = this.time + ms;
    while (this.heap.length > 0 && this.heap[0]!.at <= target) {
      const t = this.pop();
      this.time = t.at;
      if (this.cancelled.delete(t.id)) continue;
      t.fn();
    }
    this.time = target;
  }

  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(e: { at: number; seq: number; id: number; fn: () => void }): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): { at: number; seq: number; id: number; fn: () => void } {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** One node's view of the simulated clock; its wall clock can jump independently. */
export class NodeClock implements Clock {
  wallOffset = 0;
  constructor(
    private readonly sim: SimClock,
    private readonly epoch = 1_700_000_000_000,
  ) {}
  now(): number {
    return this.epoch + this.sim.monotonic + this.wallOffset;
  }
  monotonic(): number {
    return this.sim.monotonic;
  }
  wallAt(mono: number): number {
    return this.epoch + mono + this.wallOffset;
  }
  resync(): void {}
  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.sim.setTimer(ms, fn);
  }
  clearTimer(h: TimerHandle): void {
    this.sim.clearTimer(h);
  }
}

/** Something reachable at an address on the simulated network. */
export interface SimEndpoint {
  readonly addr: Addr;
  alive: boolean;
  /** Handles one command; `conn` identifies the client connection (for SUBSCRIBE). */
  handle(argv: string[], conn: SimConnection): Reply;
}

export class SimConnection implements Connection {
  open = false;
  closed = false;
  subscribed = new Set<string>();
  /** TCP keeps order: nothing on this connection is delivered before what was sent earlier. */
  nextDelivery = 0;

  constructor(
    readonly net: SimNetwork,
    readonly from: string,
    readonly to: Addr,
    readonly events: ConnectionEvents,
  ) {}

  command(argv: string[], cb?: (reply: Reply) => void): void {
    if (!this.open || this.closed) return;
    this.net.deliverCommand(this, argv, cb);
  }

  close(): void {
    this.closed = true;
    this.open = false;
    this.net.forget(this);
  }

  localAddress(): string | null {
    return this.from.split(':')[0] ?? null;
  }
}

/** The network: endpoints by address, partitions, latency, and ground-truth records. */
export class SimNetwork {
  readonly endpoints = new Map<string, SimEndpoint>();
  /** Partition group per node; nodes talk only within a group. */
  readonly group = new Map<string, number>();
  private readonly conns = new Set<SimConnection>();
  /** Ground truth: when a reply from `to` last reached `from` (key `from|to`). */
  readonly lastReplyDelivered = new Map<string, number>();

  constructor(
    readonly clock: SimClock,
    readonly random: Random,
    readonly maxLatency = 5,
  ) {}

  add(e: SimEndpoint): void {
    this.endpoints.set(addrKey(e.addr), e);
  }

  /** Whether a packet can go from node `a` to node `b` now. */
  pathUp(a: string, b: string): boolean {
    const ea = this.endpoints.get(a);
    const eb = this.endpoints.get(b);
    if (ea !== undefined && !ea.alive) return false;
    if (eb === undefined || !eb.alive) return false;
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  private latency(): number {
    return 1 + this.random.below(this.maxLatency);
  }

  /** A Transport bound to one node (the source address of its connections). */
  transportFor(from: Addr): Transport {
    const fromKey = addrKey(from);
    return {
      connect: (addr: Addr, events: ConnectionEvents): Connection => {
        const conn = new SimConnection(this, fromKey, addr, events);
        this.conns.add(conn);
        const toKey = addrKey(addr);
        this.clock.setTimer(this.latency(), () => {
          if (conn.closed) return;
          const target = this.endpoints.get(toKey);
          if (target !== undefined && target.alive && this.pathUp(fromKey, toKey)) {
            conn.open = true;
            conn.events.onConnect();
          } else if (target === undefined || !target.alive) {
            // Connection refused comes back at once; a partition makes the connect hang
            // until the client's own timeout, which we model as a slower failure.
            this.fail(conn);
          } else {
            this.clock.setTimer(1000, () => this.fail(conn));
          }
        });
        return conn;
      },
    };
  }

  private fail(conn: SimConnection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.open = false;
    this.conns.delete(conn);
    conn.events.onClose();
  }

  forget(conn: SimConnection): void {
    this.conns.delete(conn);
  }

  /** A delay that keeps the connection's messages in order. */
  private ordered(conn: SimConnection): number {
    const at = Math.max(this.clock.monotonic + this.latency(), conn.nextDelivery);
    conn.nextDelivery = at;
    return at - this.clock.monotonic;
  }

  deliverCommand(conn: SimConnection, argv: string[], cb?: (reply: Reply) => void): void {
    const toKey = addrKey(conn.to);
    if (!this.pathUp(conn.from, toKey)) return;
    this.clock.setTimer(this.ordered(conn), () => {
      if (conn.closed || !this.pathUp(conn.from, toKey)) return;
      const target = this.endpoints.get(toKey)!;
      const reply = target.handle(argv, conn);
      this.clock.setTimer(this.ordered(conn), () => {
        if (conn.closed || !this.pathUp(toKey, conn.from)) return;
        this.lastReplyDelivered.set(`${conn.from}|${toKey}`, this.clock.monotonic);
        cb?.(reply);
      });
    });
  }

  /** PUBLISH: delivers to every open subscriber connection of `node` that can hear it. */
  publish(node: string, channel: string, payload: string): number {
    let n = 0;
    for (const c of this.conns) {
      if (!c.open || addrKey(c.to) !== node || !c.subscribed.has(channel)) continue;
      n++;
      if (!this.pathUp(node, c.from)) continue;
      this.clock.setTimer(this.ordered(c), () => {
        if (c.closed || !this.pathUp(node, c.from)) return;
        c.events.onMessage?.(channel, payload);
      });
    }
    return n;
  }

  /** A node dies: every connection to or from it is reset (peers see the close). */
  crash(node: string): void {
    const e = this.endpoints.get(node);
    if (e !== undefined) e.alive = false;
    for (const c of [...this.conns]) {
      if (addrKey(c.to) === node || c.from === node) this.clock.setTimer(this.latency(), () => this.fail(c));
    }
  }

  restart(node: string): void {
    const e = this.endpoints.get(node);
    if (e !== undefined) e.alive = true;
  }

  /** Splits the nodes into partition groups; `heal()` puts everyone back together. */
  partition(groups: string[][]): void {
    this.group.clear();
    groups.forEach((g, i) => {
      for (const n of g) this.group.set(n, i);
    });
  }

  heal(): void {
    this.group.clear();
  }
}

/** A Redis data node as far as Sentinel can tell. */
export class SimDataNode implements SimEndpoint {
  alive = true;
  role: 'master' | 'slave' = 'master';
  masterOf: Addr | null = null;
  runId: string;
  replOffset = 0;
  priority = 100;
  /** Replicas that attached successfully; INFO lists the reachable ones. */
  private linkDownSince = 0;

  constructor(
    readonly addr: Addr,
    readonly net: SimNetwork,
    rng: Random,
  ) {
    this.runId = rng.hex(40);
  }

  get key(): string {
    return addrKey(this.addr);
  }

  /** Simulated time passes: masters take writes; replicas copy the offset while linked. */
  step(): void {
    if (!this.alive) return;
    if (this.role === 'master') this.replOffset += 100;
    else if (this.linkUp()) {
      const m = this.master();
      if (m !== null) this.replOffset = m.replOffset;
      this.linkDownSince = 0;
    } else if (this.linkDownSince === 0) {
      this.linkDownSince = this.net.clock.monotonic;
    }
  }

  private master(): SimDataNode | null {
    if (this.masterOf === null) return null;
    const m = this.net.endpoints.get(addrKey(this.masterOf));
    return m instanceof SimDataNode ? m : null;
  }

  linkUp(): boolean {
    const m = this.master();
    return m !== null && m.alive && m.role === 'master' && this.net.pathUp(this.key, m.key);
  }

  restartAfterCrash(rng: Random): void {
    this.runId = rng.hex(40);
    this.linkDownSince = this.net.clock.monotonic;
  }

  info(): string {
    const lines = ['# Server', `run_id:${this.runId}`, '', '# Replication', `role:${this.role}`];
    if (this.role === 'master') {
      const replicas = [...this.net.endpoints.values()].filter(
        (e): e is SimDataNode => e instanceof SimDataNode && e.alive && e.role === 'slave' && e.masterOf !== null && addrKey(e.masterOf) === this.key && this.net.pathUp(e.key, this.key),
      );
      lines.push(`connected_slaves:${replicas.length}`);
      replicas.forEach((r, i) => lines.push(`slave${i}:ip=${r.addr.host},port=${r.addr.port},state=online,offset=${r.replOffset},lag=0`));
    } else {
      const up = this.linkUp();
      lines.push(`master_host:${this.masterOf!.host}`, `master_port:${this.masterOf!.port}`, `master_link_status:${up ? 'up' : 'down'}`);
      if (!up) lines.push(`master_link_down_since_seconds:${this.linkDownSince === 0 ? -1 : Math.floor((this.net.clock.monotonic - this.linkDownSince) / 1000)}`);
      lines.push(`slave_repl_offset:${this.replOffset}`, `slave_priority:${this.priority}`, 'slave_read_only:1', 'replica_announced:1');
    }
    lines.push(`master_repl_offset:${this.replOffset}`);
    return lines.join('\r\n') + '\r\n';
  }

  handle(argv: string[], conn: SimConnection): Reply {
    const cmd = argv[0]!.toUpperCase();
    switch (cmd) {
      case 'PING':
        return status('PONG');
      case 'INFO':
        return bulkReply(this.info());
      case 'SLAVEOF':
      case 'REPLICAOF':
        if (argv[1]!.toUpperCase() === 'NO' && argv[2]!.toUpperCase() === 'ONE') {
          this.role = 'master';
          this.masterOf = null;
        } else {
          this.role = 'slave';
          this.masterOf = { host: argv[1]!, port: Number(argv[2]) };
          this.linkDownSince = this.net.clock.monotonic;
        }
        return status('OK');
      case 'SUBSCRIBE':
        for (const ch of argv.slice(1)) conn.subscribed.add(ch);
        return arrayReply([bulkReply('subscribe'), bulkReply(argv[1]!), intReply(conn.subscribed.size)]);
      case 'PUBLISH':
        return intReply(this.net.publish(this.key, argv[1]!, argv[2]!));
      case 'MULTI':
      case 'CONFIG':
      case 'CLIENT':
      case 'AUTH':
        return status('OK');
      case 'EXEC':
        return arrayReply([]);
      default:
        return errorReply(`ERR unknown command '${argv[0]}'`);
    }
  }
}
