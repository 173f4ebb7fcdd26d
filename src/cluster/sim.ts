/**
 * The cluster's failure detector and election as a deterministic simulation: N nodes, each a
 * real `ClusterState` (the code the server runs), under one discrete-event clock, joined by a
 * simulated bus with latency, crashes (the process dies; peers see the connection reset),
 * partitions (messages silently dropped, as a cut cable does) and message loss. A crashed node
 * restarts from the nodes.conf text it last saved. Replication is modelled by offsets: a replica
 * follows its master's offset while it can reach it. Everything is seeded: a failing run
 * replays exactly from its seed.
 *
 * Invariants checked while running: at most one election winner per epoch, at most one vote per
 * master per epoch. Convergence once healed: every node up, cluster_state ok everywhere, every
 * slot owned by exactly one master that every node agrees on and that claims it itself.
 */
import { Random } from '../core/clock.js';
import { SimClock } from '../sentinel/sim-network.js';
import { ClusterState, type BusLink, type ClusterEnv, type ClusterNode, type ClusterSettings } from './state.js';
import { CLUSTER_SLOTS } from './slot.js';
import { Flag } from './codec.js';

const BASE_TIME = 1_700_000_000_000;
const IP = '127.0.0.1';

class SimLink implements BusLink {
  node: ClusterNode | null;
  peer: SimLink | null = null;
  closed = false;
  constructor(readonly owner: SimNode, readonly inbound: boolean, node: ClusterNode | null, readonly ctime: number) {
    this.node = node;
  }
  send(buf: Buffer): void {
    if (this.closed || this.peer === null) return;
    const peer = this.peer;
    const copy = Buffer.from(buf);
    this.owner.sim.deliver(this.owner, peer.owner, () => {
      if (!peer.closed && peer.owner.up) peer.owner.state!.processPacket(peer, copy);
    });
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reset();
  }
  /** The other end learns the connection is gone (unless the network eats the FIN/RST). */
  reset(): void {
    const peer = this.peer;
    if (peer === null) return;
    this.owner.sim.deliver(this.owner, peer.owner, () => {
      if (!peer.closed && peer.owner.up) {
        peer.closed = true;
        peer.owner.state!.linkLost(peer);
      }
    });
  }
  localIp(): string {
    return IP;
  }
  peerIp(): string {
    return IP;
  }
  pendingBytes(): number {
    return 0;
  }
}

export class SimNode {
  state: ClusterState | null = null;
  up = true;
  config = '';
  links = new Set<SimLink>();
  offset = 0;
  masterPort: number | null = null;
  lastMasterContact = 0;
  /** Writes paused until then (a manual failover's pause): the offset stands still. */
  pausedUntil = 0;
  readonly rng: Random;
  restarts = 0;
  /** This node's configuration where it differs from the cluster's (CONFIG SET on one node). */
  settings: Partial<ClusterSettings> = {};
  constructor(readonly sim: ClusterSim, readonly index: number, readonly port: number) {
    this.rng = new Random(sim.seed * 1000 + index);
  }
  get cport(): number {
    return this.port + 10000;
  }
}

export interface SimOptions {
  seed: number;
  masters: number;
  replicasPerMaster: number;
  nodeTimeout?: number;
  /** Probability that one bus message is lost, while chaos is on. */
  loss?: number;
}

export interface SimStats {
  elections: number;
  crashes: number;
  partitions: number;
  failoversSeen: number;
}

export class ClusterSim {
  readonly clock = new SimClock();
  readonly rng: Random;
  readonly nodes: SimNode[] = [];
  readonly violations: string[] = [];
  readonly stats: SimStats = { elections: 0, crashes: 0, partitions: 0, failoversSeen: 0 };
  /** Node index → the side of the partition it is on (0 = the majority side, all by default). */
  readonly side = new Map<number, number>();
  loss = 0;
  private readonly winners = new Map<string, string>();
  private readonly votes = new Set<string>();
  readonly nodeTimeout: number;

  constructor(readonly seed: number, readonly opts: SimOptions) {
    this.rng = new Random(seed);
    this.nodeTimeout = opts.nodeTimeout ?? 2000;
    const total = opts.masters * (1 + opts.replicasPerMaster);
    for (let i = 0; i < total; i++) this.nodes.push(new SimNode(this, i, 7000 + i));
    for (const n of this.nodes) this.boot(n, null);
    this.bootstrap();
  }

  now(): number {
    return BASE_TIME + this.clock.monotonic;
  }

  reachable(a: SimNode, b: SimNode): boolean {
    return a.up && b.up && (this.side.get(a.index) ?? 0) === (this.side.get(b.index) ?? 0);
  }

  /** Delivers after a latency of 1-20 ms, unless partitioned or lost. */
  deliver(from: SimNode, to: SimNode, fn: () => void): void {
    if (!this.reachable(from, to)) return;
    if (this.loss > 0 && this.rng.next() < this.loss) return;
    this.clock.setTimer(1 + Math.floor(this.rng.next() * 20), () => {
      if (this.reachable(from, to)) fn();
    });
  }

  private settings(): ClusterSettings {
    return {
      nodeTimeout: this.nodeTimeout, replicaValidityFactor: 10, migrationBarrier: 1, requireFullCoverage: true,
      allowReplicaMigration: true, replicaNoFailover: false, replPingPeriodMs: 10000, announceIp: '', announceHostname: '', linkSendbufLimit: 0,
      port: 0, pport: 0, cport: 0, preferredEndpoint: 'ip',
    };
  }

  private envFor(n: SimNode): ClusterEnv {
    const sim = this;
    const tag = `n${n.index}`;
    return {
      now: () => sim.now(),
      randomInt: (k) => Math.floor(n.rng.next() * k),
      randomHex: (k) => {
        let s = '';
        while (s.length < k) s += n.rng.nextUint32().toString(16).padStart(8, '0');
        return s.slice(0, k);
      },
      log: {
        debug: () => {},
        verbose: () => {},
        notice: () => {},
        warning: (m) => sim.observe(n, tag, m),
      },
      settings: () => ({ ...sim.settings(), ...n.settings, port: n.port, cport: n.cport }),
      connect: (node) => sim.connect(n, node),
      saveConfig: (text) => {
        n.config = text;
        return true;
      },
      die: (m) => sim.violations.push(`${tag} died: ${m}`),
      schedule: (fn) => {
        const gen = n.restarts;
        // The next turn of the event loop: 1 ms, so work that re-arms itself (a manual
        // failover waiting for the replication offset) lets time and replication move on.
        sim.clock.setTimer(1, () => {
          if (n.up && n.restarts === gen) fn();
        });
      },
      repl: {
        setMaster: (_ip, port) => {
          n.masterPort = port;
        },
        unsetMaster: () => {
          n.masterPort = null;
        },
        hasMaster: () => n.masterPort !== null,
        offset: () => n.offset,
        dataAge: () => sim.now() - n.lastMasterContact,
      },
      keys: { countKeysInSlot: () => 0, deleteKeysInSlot: () => 0, removeChannelsInSlot: () => {}, flushAll: () => {} },
      pauseWrites: (until) => {
        n.pausedUntil = until;
      },
      unpauseWrites: () => {
        n.pausedUntil = 0;
      },
      deliverPublish: () => {},
      hasSubscribers: () => false,
    };
  }

  private observe(n: SimNode, tag: string, m: string): void {
    const st = n.state!;
    if (m.startsWith('Failover election won')) {
      const epoch = String(st.failoverAuthEpoch);
      const prev = this.winners.get(epoch);
      if (prev !== undefined) this.violations.push(`two wins for epoch ${epoch}: ${prev} and ${st.myself.name}`);
      // A win must outrank the master it replaces, or no node moves the slots to the winner.
      const master = st.myself.slaveof;
      if (master !== null && st.failoverAuthEpoch <= master.configEpoch) {
        this.violations.push(`${tag} won epoch ${epoch}, not above its master's config epoch ${master.configEpoch}`);
      }
      this.winners.set(epoch, st.myself.name);
      this.stats.elections++;
    } else if (m.startsWith('Failover auth granted')) {
      const key = `${st.myself.name}@${st.currentEpoch}`;
      if (this.votes.has(key)) this.violations.push(`${tag} voted twice in epoch ${st.currentEpoch}`);
      this.votes.add(key);
    }
  }

  private connect(from: SimNode, node: ClusterNode): BusLink {
    const link = new SimLink(from, false, node, this.now());
    from.links.add(link);
    const target = this.nodes.find((t) => t.cport === node.cport && node.ip === IP);
    const gen = from.restarts;
    this.clock.setTimer(1 + Math.floor(this.rng.next() * 20), () => {
      if (!from.up || from.restarts !== gen || link.closed) return;
      if (target === undefined || !this.reachable(from, target)) {
        // Refused (crashed peer) at once; a partition looks like a connect timeout.
        this.clock.setTimer(target !== undefined && target.up ? 1000 : 0, () => {
          if (from.up && from.restarts === gen && !link.closed) {
            link.closed = true;
            from.state!.linkLost(link);
          }
        });
        return;
      }
      const inbound = new SimLink(target, true, null, this.now());
      target.links.add(inbound);
      inbound.peer = link;
      link.peer = inbound;
      from.state!.linkConnected(link);
    });
    return link;
  }

  private boot(n: SimNode, config: string | null): void {
    n.up = true;
    n.links = new Set();
    const st = new ClusterState(this.envFor(n));
    n.state = st;
    if (config === null || config === '') st.initFresh();
    else {
      const err = st.loadConfig(config);
      if (err !== null) this.violations.push(`n${n.index}: nodes.conf did not load: ${err}`);
      st.saveConfigOrDie(true);
      if (st.myself.isSlave && st.myself.slaveof !== null) n.masterPort = st.myself.slaveof.port;
    }
    const gen = n.restarts;
    const tick = (): void => {
      if (!n.up || n.restarts !== gen) return;
      this.replicate(n);
      st.cron();
      this.clock.setTimer(100, tick);
    };
    this.clock.setTimer(Math.floor(n.rng.next() * 100), tick);
  }

  private replicate(n: SimNode): void {
    if (n.masterPort === null) {
      if (this.now() >= n.pausedUntil) n.offset += Math.floor(n.rng.next() * 3);
      return;
    }
    const m = this.nodes.find((t) => t.port === n.masterPort);
    if (m !== undefined && this.reachable(n, m)) {
      n.offset = m.offset;
      n.lastMasterContact = this.now();
    }
  }

  /** What redis-cli --cluster create does: slots, distinct config epochs, MEET, REPLICATE. */
  private bootstrap(): void {
    const { masters } = this.opts;
    const per = Math.floor(CLUSTER_SLOTS / masters);
    for (let i = 0; i < masters; i++) {
      const st = this.nodes[i]!.state!;
      const end = i === masters - 1 ? CLUSTER_SLOTS - 1 : (i + 1) * per - 1;
      for (let s = i * per; s <= end; s++) st.addSlot(st.myself, s);
      st.myself.configEpoch = BigInt(i + 1);
      st.currentEpoch = BigInt(i + 1);
      st.myself.ip = IP;
    }
    const first = this.nodes[0]!.state!;
    for (const n of this.nodes.slice(1)) first.startHandshake(IP, n.port, n.cport);
    this.run(5000);
    for (let i = masters; i < this.nodes.length; i++) {
      const n = this.nodes[i]!;
      const masterId = this.nodes[(i - masters) % masters]!.state!.myself.name;
      const m = n.state!.lookup(masterId);
      if (m === null) {
        this.violations.push(`n${i} never learned its master ${masterId}`);
        continue;
      }
      n.state!.setMaster(m);
      n.state!.saveConfigOrDie(true);
    }
  }

  run(ms: number): void {
    this.clock.advance(ms);
  }

  /** Runs until `done` holds (checked every 10 ms), at most `ms`; false on the timeout. */
  runUntil(ms: number, done: () => boolean): boolean {
    for (let t = 0; t < ms; t += 10) {
      if (done()) return true;
      this.clock.advance(10);
    }
    return done();
  }

  /** CLUSTER FAILOVER on replica i (the command's checks are the caller's). */
  manualFailover(i: number, mode: 'default' | 'force' | 'takeover' = 'default'): void {
    this.nodes[i]!.state!.startManualFailover(mode);
  }

  crash(i: number): void {
    const n = this.nodes[i]!;
    if (!n.up) return;
    this.stats.crashes++;
    for (const l of n.links) {
      l.closed = true;
      l.reset();
    }
    n.up = false;
    n.restarts++;
    n.state = null;
  }

  restart(i: number): void {
    const n = this.nodes[i]!;
    if (n.up) return;
    n.masterPort = null;
    this.boot(n, n.config);
  }

  /** Puts `group` on its own side of a partition. */
  partition(group: number[]): void {
    this.stats.partitions++;
    for (const i of group) this.side.set(i, 1);
  }

  heal(): void {
    this.side.clear();
    this.loss = 0;
    for (let i = 0; i < this.nodes.length; i++) this.restart(i);
  }

  /** null when converged, else why not. */
  convergence(): string | null {
    const ups = this.nodes.filter((n) => n.up);
    if (ups.length !== this.nodes.length) return 'a node is down';
    const byName = new Map<string, SimNode>();
    for (const n of ups) byName.set(n.state!.myself.name, n);
    const ref = ups[0]!.state!;
    for (const n of ups) {
      const st = n.state!;
      if (st.state !== 'ok') return `n${n.index} cluster_state:${st.state}`;
      if (st.nodes.size !== this.nodes.length) return `n${n.index} knows ${st.nodes.size} nodes`;
      for (let j = 0; j < CLUSTER_SLOTS; j++) {
        const owner = st.slots[j];
        if (owner === null || owner === undefined) return `n${n.index}: slot ${j} unassigned`;
        if (owner.name !== ref.slots[j]!.name) return `n${n.index}: slot ${j} owned by ${owner.name}, n${ups[0]!.index} says ${ref.slots[j]!.name}`;
        if (!owner.isMaster || owner.flags & (Flag.FAIL | Flag.PFAIL)) return `n${n.index}: owner of slot ${j} not a healthy master`;
      }
    }
    for (let j = 0; j < CLUSTER_SLOTS; j += 97) {
      const owner = byName.get(ref.slots[j]!.name);
      if (owner === undefined) return `slot ${j} owned by an unknown node`;
      const me = owner.state!;
      if (!me.myself.isMaster || me.slots[j] !== me.myself) return `owner of slot ${j} (n${owner.index}) does not claim it`;
    }
    return null;
  }
}

export interface ScenarioOptions extends SimOptions {
  chaosMs: number;
  healMs: number;
}

/** A seeded run: chaos (crashes, restarts, partitions, loss), then heal and wait to converge. */
export function runScenario(o: ScenarioOptions): { sim: ClusterSim; convergedAfter: number | null; why: string | null } {
  const sim = new ClusterSim(o.seed, o);
  sim.run(10000);
  const bootWhy = sim.convergence();
  if (bootWhy !== null) return { sim, convergedAfter: null, why: `bootstrap: ${bootWhy}` };
  const rng = new Random(o.seed * 7 + 3);
  let t = 0;
  while (t < o.chaosMs) {
    const step = 500 + Math.floor(rng.next() * 4000);
    const r = rng.next();
    const i = Math.floor(rng.next() * sim.nodes.length);
    if (r < 0.3) sim.crash(i);
    else if (r < 0.55) sim.restart(i);
    else if (r < 0.7) sim.partition([i]);
    else if (r < 0.8) {
      sim.side.clear();
    } else if (r < 0.9) sim.loss = o.loss ?? 0.05;
    else sim.loss = 0;
    sim.run(step);
    t += step;
  }
  sim.heal();
  let waited = 0;
  let why: string | null = 'not checked';
  while (waited < o.healMs) {
    sim.run(1000);
    waited += 1000;
    why = sim.convergence();
    if (why === null) return { sim, convergedAfter: waited, why: null };
  }
  return { sim, convergedAfter: null, why };
}
