/**
 * What nodis-ha shows, as one snapshot: the data nodes (role, link, offset, lag, keys, ops/s,
 * memory), the sentinels (their view of the master: flags, epoch, leader, failover state), the
 * sentinels' event stream, offsets over time, and the measured failover duration.
 *
 * Everything is read the way an operator's tool would read it, so the same monitor watches a
 * topology nodis-ha started or any Sentinel-managed deployment (nodis or Redis): the sentinels
 * are the source of truth for who exists (SENTINEL MASTER / REPLICAS / SENTINELS, re-read every
 * poll), each node is asked INFO, and every sentinel's events arrive on a PSUBSCRIBE * link.
 * Polls are bounded by short deadlines, so a paused or dead node shows as down instead of
 * stalling the view.
 */
import { Connection } from '../cli/connection.js';
import { replyText, type Reply } from '../protocol/reply-parser.js';
import { command, records, texts } from '../api/control.js';

export interface DataNodeView {
  address: string;
  label: string;
  up: boolean;
  role: string;
  /** For a replica: host:port of its master and the link's state. */
  master: string;
  link: string;
  offset: number;
  /** For a replica: bytes behind the master's offset. */
  lagBytes: number;
  keys: number;
  opsPerSec: number;
  memory: string;
}

export interface SentinelView {
  address: string;
  label: string;
  up: boolean;
  /** The master as this sentinel names it now. */
  master: string;
  flags: string;
  configEpoch: number;
  failoverState: string;
  /** The leader this sentinel last saw elected (+elected-leader / +vote-for-leader). */
  leader: string;
  replicas: number;
  otherSentinels: number;
}

export interface HaEvent {
  /** 1, 2, 3… in arrival order. */
  seq: number;
  time: number;
  source: string;
  channel: string;
  message: string;
}

export interface FailoverRecord {
  lostAt: number;
  /** When clients could write again (the load's first acknowledged write, else +switch-master). */
  recoveredAt: number;
  durationMs: number;
  measuredBy: 'load' | 'switch-master';
  from: string;
  to: string;
}

export interface Snapshot {
  name: string;
  master: string;
  time: number;
  nodes: DataNodeView[];
  sentinels: SentinelView[];
  events: HaEvent[];
  /** Per node address: [time, offset] samples, oldest first. */
  offsets: Record<string, [number, number][]>;
  failovers: FailoverRecord[];
  /** A failover in progress: when the master was lost. */
  lostAt: number | null;
}

const EVENT_LIMIT = 300;
const SAMPLE_LIMIT = 240;

function fieldsOf(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** One sentinel's PSUBSCRIBE * link, reconnected while the monitor runs. */
class EventLink {
  private conn: Connection | null = null;
  private stopped = false;
  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly onEvent: (channel: string, message: string) => void,
  ) {
    void this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const conn = await Connection.open({ host: this.host, port: this.port });
      if (typeof conn !== 'string') {
        this.conn = conn;
        try {
          conn.send(['PSUBSCRIBE', '*']);
          for (;;) {
            const r: Reply = await conn.read();
            const parts = texts(r);
            if (parts[0] === 'pmessage' && parts.length === 4) this.onEvent(parts[2]!, parts[3]!);
          }
        } catch {
          conn.close();
        }
        this.conn = null;
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 500).unref());
    }
  }

  close(): void {
    this.stopped = true;
    this.conn?.close();
  }
}

export interface MonitorOptions {
  /** Sentinels to start from ("host:port"); more are discovered through them. */
  sentinels: string[];
  /** The master's name in Sentinel (default: the first one a sentinel reports). */
  name?: string;
  /** Labels for known addresses (nodis-ha up names its processes). */
  labels?: Map<string, string>;
  intervalMs?: number;
}

export class Monitor {
  private readonly sentinelAddrs = new Set<string>();
  private readonly nodeAddrs = new Set<string>();
  private readonly links = new Map<string, EventLink>();
  private readonly labels: Map<string, string>;
  private readonly listeners = new Set<(s: Snapshot) => void>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private name: string;
  /** The latest snapshot. */
  snapshot: Snapshot;
  /** Set by the load generator: the time of its last acknowledged write. */
  lastAckedWrite = 0;

  constructor(private readonly opts: MonitorOptions) {
    for (const s of opts.sentinels) this.sentinelAddrs.add(s);
    this.labels = opts.labels ?? new Map();
    this.name = opts.name ?? '';
    this.snapshot = { name: this.name, master: '', time: Date.now(), nodes: [], sentinels: [], events: [], offsets: {}, failovers: [], lostAt: null };
  }

  onUpdate(fn: (s: Snapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  start(): void {
    const tick = (): void => {
      if (this.polling) return;
      this.polling = true;
      this.poll()
        .catch(() => {})
        .finally(() => {
          this.polling = false;
        });
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 500);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }

  /** Marks the master as lost now (nodis-ha's own kill/pause): the failover clock starts. */
  masterLost(at = Date.now()): void {
    if (this.snapshot.lostAt !== null) return;
    this.snapshot.lostAt = at;
    this.lostMaster = this.snapshot.master;
    this.firstWriteAfterLoss = null;
  }

  labelOf(address: string, kind: 'node' | 'sentinel'): string {
    let l = this.labels.get(address);
    if (l === undefined) {
      const n = [...this.labels.values()].filter((x) => x.startsWith(kind)).length + 1;
      l = `${kind} ${n}`;
      this.labels.set(address, l);
    }
    return l;
  }

  private addEvent(source: string, channel: string, message: string): void {
    const ev: HaEvent = { seq: ++this.eventSeq, time: Date.now(), source, channel, message };
    const events = this.snapshot.events;
    events.push(ev);
    if (events.length > EVENT_LIMIT) events.splice(0, events.length - EVENT_LIMIT);
    // "<type> <name> <ip> <port> …": the master being flagged down starts the failover clock.
    const words = message.split(' ');
    if ((channel === '+sdown' || channel === '+odown') && words[0] === 'master') this.masterLost(ev.time);
    // The master came back before any failover (a short pause): nothing was lost after all.
    if (channel === '-sdown' && words[0] === 'master' && `${words[2]}:${words[3]}` === this.snapshot.master) this.snapshot.lostAt = null;
    if (channel === '+switch-master' && words.length >= 5) {
      const from = `${words[1]}:${words[2]}`;
      const to = `${words[3]}:${words[4]}`;
      // Every sentinel announces the same switch: the first one ends the failover.
      const last = this.snapshot.failovers[this.snapshot.failovers.length - 1];
      if (last === undefined || last.from !== from || last.to !== to || this.snapshot.lostAt !== null) {
        const lostAt = this.snapshot.lostAt ?? ev.time;
        const record: FailoverRecord = { lostAt, recoveredAt: ev.time, durationMs: ev.time - lostAt, measuredBy: 'switch-master', from, to };
        this.snapshot.failovers.push(record);
        this.awaitingWrite = record;
        if (this.firstWriteAfterLoss !== null) this.writeAcknowledged(this.firstWriteAfterLoss.at, this.firstWriteAfterLoss.master);
      }
      this.snapshot.lostAt = null;
      this.lostMaster = '';
      this.firstWriteAfterLoss = null;
    }
    this.emit();
  }

  /** The failover that ended without an acknowledged write yet (measured by the load). */
  private awaitingWrite: FailoverRecord | null = null;
  /** While the master is lost: the master it was, and the load's first write to another node. */
  private lostMaster = '';
  private firstWriteAfterLoss: { at: number; master: string } | null = null;
  private eventSeq = 0;

  /** The load generator had a write acknowledged by `master`: it measures the failover. */
  writeAcknowledged(at: number, master: string): void {
    this.lastAckedWrite = at;
    if (this.snapshot.lostAt !== null) {
      if (this.firstWriteAfterLoss === null && master !== this.lostMaster && at >= this.snapshot.lostAt) this.firstWriteAfterLoss = { at, master };
      return;
    }
    const f = this.awaitingWrite;
    if (f !== null && at >= f.lostAt) {
      f.recoveredAt = at;
      f.durationMs = at - f.lostAt;
      f.measuredBy = 'load';
      this.awaitingWrite = null;
    }
  }

  private emit(): void {
    this.snapshot.time = Date.now();
    for (const fn of this.listeners) fn(this.snapshot);
  }

  private async ask(address: string, argv: string[]): Promise<Reply | null> {
    const i = address.lastIndexOf(':');
    try {
      return await command(address.slice(0, i), Number(address.slice(i + 1)), argv, 400);
    } catch {
      return null;
    }
  }

  private async poll(): Promise<void> {
    // Sentinels: their view, and through them every node and sentinel of the master.
    const sentinels: SentinelView[] = [];
    for (const addr of this.sentinelAddrs) {
      const label = this.labelOf(addr, 'sentinel');
      if (!this.links.has(addr)) {
        const i = addr.lastIndexOf(':');
        this.links.set(addr, new EventLink(addr.slice(0, i), Number(addr.slice(i + 1)), (ch, msg) => this.sentinelEvent(label, ch, msg)));
      }
      const prev = this.snapshot.sentinels.find((s) => s.address === addr);
      const view: SentinelView = { address: addr, label, up: false, master: '', flags: '', configEpoch: 0, failoverState: '', leader: prev?.leader ?? '', replicas: 0, otherSentinels: 0 };
      sentinels.push(view);
      if (this.name === '') {
        const masters = await this.ask(addr, ['SENTINEL', 'MASTERS']);
        const first = masters === null ? undefined : records(masters)[0];
        if (first !== undefined) this.name = first.get('name') ?? '';
        this.snapshot.name = this.name;
      }
      const m = await this.ask(addr, ['SENTINEL', 'MASTER', this.name]);
      if (m === null || m.type !== 'array') continue;
      const f = records({ type: 'array', elements: [m] })[0]!;
      view.up = true;
      view.master = `${f.get('ip')}:${f.get('port')}`;
      view.flags = f.get('flags') ?? '';
      view.configEpoch = Number(f.get('config-epoch') ?? 0);
      view.failoverState = f.get('failover-state') ?? '';
      view.replicas = Number(f.get('num-slaves') ?? 0);
      view.otherSentinels = Number(f.get('num-other-sentinels') ?? 0);
      this.nodeAddrs.add(view.master);
      const reps = await this.ask(addr, ['SENTINEL', 'REPLICAS', this.name]);
      if (reps !== null) for (const r of records(reps)) this.nodeAddrs.add(`${r.get('ip')}:${r.get('port')}`);
      const others = await this.ask(addr, ['SENTINEL', 'SENTINELS', this.name]);
      if (others !== null) for (const s of records(others)) this.sentinelAddrs.add(`${s.get('ip')}:${s.get('port')}`);
    }
    // The master most sentinels name.
    const votes = new Map<string, number>();
    for (const s of sentinels) if (s.up) votes.set(s.master, (votes.get(s.master) ?? 0) + 1);
    const master = [...votes.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? this.snapshot.master;

    const now = Date.now();
    const nodes: DataNodeView[] = [];
    for (const addr of this.nodeAddrs) {
      const view: DataNodeView = { address: addr, label: this.labelOf(addr, 'node'), up: false, role: '?', master: '', link: '', offset: 0, lagBytes: 0, keys: 0, opsPerSec: 0, memory: '' };
      nodes.push(view);
      const reply = await this.ask(addr, ['INFO']);
      const text = reply === null ? null : replyText(reply);
      if (text === null || text === undefined || reply?.type === 'error') continue;
      const f = fieldsOf(text);
      view.up = true;
      view.role = f.get('role') ?? '?';
      view.offset = Number(f.get('master_repl_offset') ?? 0);
      if (view.role === 'slave') {
        view.master = `${f.get('master_host')}:${f.get('master_port')}`;
        view.link = f.get('master_link_status') ?? '';
        view.offset = Number(f.get('slave_repl_offset') ?? view.offset);
      }
      for (const [k, v] of f) if (/^db\d+$/.test(k)) view.keys += Number(/keys=(\d+)/.exec(v)?.[1] ?? 0);
      view.opsPerSec = Number(f.get('instantaneous_ops_per_sec') ?? 0);
      view.memory = f.get('used_memory_human') ?? '';
      const series = (this.snapshot.offsets[addr] ??= []);
      series.push([now, view.offset]);
      if (series.length > SAMPLE_LIMIT) series.splice(0, series.length - SAMPLE_LIMIT);
    }
    const masterView = nodes.find((n) => n.address === master && n.role === 'master');
    for (const n of nodes) if (n.role === 'slave' && masterView !== undefined) n.lagBytes = Math.max(0, masterView.offset - n.offset);
    this.snapshot.nodes = nodes;
    this.snapshot.sentinels = sentinels;
    this.snapshot.master = master;
    this.emit();
  }

  private sentinelEvent(label: string, channel: string, message: string): void {
    if (channel === '__sentinel__:hello') return;
    if (channel === '+elected-leader' || channel === '+vote-for-leader') {
      const s = this.snapshot.sentinels.find((x) => x.label === label);
      if (s !== undefined) s.leader = channel === '+elected-leader' ? label : (message.split(' ')[0] ?? '');
    }
    this.addEvent(label, channel, message);
  }
}
