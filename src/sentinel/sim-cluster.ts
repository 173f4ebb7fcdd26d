/**
 * A whole Sentinel deployment inside the simulated network: data nodes, sentinels (each with
 * its own clock view, seeded randomness and config "file" kept in memory), a chaos schedule
 * (crashes, restarts, partitions, clock jumps) and the invariant checks that the simulation
 * tests assert. A crashed sentinel restarts from its last flushed config text, so config
 * persistence is part of what is being tested.
 */
import { Random } from '../core/clock.js';
import type { Reply } from '../protocol/reply-parser.js';
import { loadSentinelLines, rewriteSentinelConfig } from './config.js';
import { SRI_FAILOVER_IN_PROGRESS } from './instance.js';
import type { ScriptRunner } from './scripts.js';
import { HELLO_CHANNEL, Sentinel } from './sentinel.js';
import { NodeClock, SimClock, type SimConnection, SimDataNode, type SimEndpoint, SimNetwork } from './sim-network.js';
import { type Addr, addrKey, arrayReply, bulkReply, errorReply, intReply, status } from './transport.js';

export const MASTER_NAME = 'mymaster';

/** A sentinel process on the simulated network. */
export class SimSentinelNode implements SimEndpoint {
  alive = true;
  sentinel!: Sentinel;
  configText = '';
  readonly clock: NodeClock;

  constructor(
    readonly addr: Addr,
    readonly cluster: SimCluster,
    readonly index: number,
  ) {
    this.clock = new NodeClock(cluster.clock);
  }

  get key(): string {
    return addrKey(this.addr);
  }

  /** Boots a sentinel from the config text (first boot: the monitor lines). */
  boot(initialLines: string[] | null): void {
    const c = this.cluster;
    const s = new Sentinel({
      clock: this.clock,
      random: new Random(c.random.nextUint32()),
      transport: c.net.transportFor(this.addr),
      port: this.addr.port,
      announceIp: this.addr.host,
      scripts: c.opts.scripts?.(this.index),
      hooks: {
        event: (_level, type, message) => c.onEvent(this, type, message),
        flushConfig: () => {
          this.configText = rewriteSentinelConfig(`port ${this.addr.port}\n`, this.sentinel);
        },
      },
    });
    this.sentinel = s;
    loadSentinelLines(s, initialLines !== null ? initialLines.join('\n') : this.configText);
    this.configText = rewriteSentinelConfig(`port ${this.addr.port}\n`, s);
    s.start();
  }

  handle(argv: string[], conn: SimConnection): Reply {
    void conn;
    const cmd = argv[0]!.toUpperCase();
    if (cmd === 'PING') return status('PONG');
    if (cmd === 'PUBLISH') {
      if (argv[1] !== HELLO_CHANNEL) return errorReply('ERR Only HELLO messages are accepted by Sentinel instances.');
      this.sentinel.processHelloMessage(argv[2]!);
      return intReply(1);
    }
    if (cmd === 'SENTINEL' && argv[1]?.toLowerCase() === 'is-master-down-by-addr') {
      const r = this.sentinel.isMasterDownByAddr({ host: argv[2]!, port: Number(argv[3]) }, Number(argv[4]), argv[5]!);
      return arrayReply([intReply(r.down ? 1 : 0), bulkReply(r.leader), intReply(r.leaderEpoch)]);
    }
    if (cmd === 'CLIENT' || cmd === 'AUTH') return status('OK');
    return errorReply(`ERR unknown command '${argv[0]}'`);
  }
}

export interface SimOptions {
  seed: number;
  sentinels: number;
  quorum: number;
  replicas: number;
  downAfter?: number;
  failoverTimeout?: number;
  /** A script runner per sentinel (by index); none by default. */
  scripts?: (sentinelIndex: number) => ScriptRunner;
  /** More `sentinel …` lines for every sentinel's first boot (e.g. scripts). */
  extraConfig?: string[];
}

export class SimCluster {
  readonly clock = new SimClock();
  readonly random: Random;
  readonly net: SimNetwork;
  readonly data: SimDataNode[] = [];
  readonly sentinels: SimSentinelNode[] = [];
  readonly violations: string[] = [];
  readonly eventLog: string[] = [];
  /** epoch → runids elected leader in it. */
  readonly leaders = new Map<number, Set<string>>();
  /** `voter|epoch` → candidate voted for. */
  readonly votes = new Map<string, string>();
  /** config epoch → master address adopted with it. */
  readonly epochAddr = new Map<number, string>();
  stats = { elected: 0, promoted: 0, switches: 0, tilts: 0, aborts: 0 };

  constructor(readonly opts: SimOptions) {
    this.random = new Random(opts.seed);
    this.net = new SimNetwork(this.clock, new Random(opts.seed ^ 0x5eed));
    for (let i = 0; i <= opts.replicas; i++) {
      const n = new SimDataNode({ host: '10.0.0.1', port: 6379 + i }, this.net, this.random);
      if (i > 0) {
        n.role = 'slave';
        n.masterOf = { host: '10.0.0.1', port: 6379 };
      }
      this.data.push(n);
      this.net.add(n);
    }
    const tickData = (): void => {
      for (const d of this.data) d.step();
      this.clock.setTimer(100, tickData);
    };
    tickData();
    const lines = [
      `sentinel monitor ${MASTER_NAME} 10.0.0.1 6379 ${opts.quorum}`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${opts.downAfter ?? 1000}`,
      `sentinel failover-timeout ${MASTER_NAME} ${opts.failoverTimeout ?? 5000}`,
      ...(opts.extraConfig ?? []),
    ];
    for (let i = 0; i < opts.sentinels; i++) {
      const s = new SimSentinelNode({ host: '10.0.1.1', port: 26379 + i }, this, i);
      this.sentinels.push(s);
      this.net.add(s);
      s.boot(lines);
    }
  }

  get now(): number {
    return this.clock.monotonic;
  }

  run(ms: number): void {
    this.clock.advance(ms);
  }

  onEvent(node: SimSentinelNode, type: string, message: string): void {
    const s = node.sentinel;
    const master = s.masters.get(MASTER_NAME);
    if (this.eventLog.length < 5000) this.eventLog.push(`${this.now} s${node.index} ${type} ${message}`);
    switch (type) {
      case '+slave-reconf-sent-be': {
        // The replica just promoted must never be told to replicate (from itself): it would
        // leave the group without a master.
        const promoted = master?.promoted;
        if (promoted !== null && promoted !== undefined && message.startsWith(`slave ${promoted.name} `)) {
          this.violations.push(`s${node.index} sent SLAVEOF to the promoted replica ${promoted.name}`);
        }
        break;
      }
      case '+elected-leader': {
        this.stats.elected++;
        const epoch = master!.failoverEpoch;
        const set = this.leaders.get(epoch) ?? new Set<string>();
        set.add(s.myid);
        this.leaders.set(epoch, set);
        if (set.size > 1) this.violations.push(`two leaders in epoch ${epoch}: ${[...set].join(' ')}`);
        break;
      }
      case '+vote-for-leader': {
        const [candidate, epoch] = message.split(' ');
        const key = `${s.myid}|${epoch}`;
        const prev = this.votes.get(key);
        if (prev !== undefined && prev !== candidate) this.violations.push(`s${node.index} voted twice in epoch ${epoch}: ${prev} and ${candidate}`);
        this.votes.set(key, candidate!);
        break;
      }
      case '+selected-slave': {
        const parts = message.split(' ');
        const replicaKey = `${parts[2]}:${parts[3]}`;
        const last = this.net.lastReplyDelivered.get(`${node.key}|${replicaKey}`);
        if (last === undefined || this.now - last > 5000) {
          this.violations.push(`s${node.index} selected ${replicaKey}, which had not answered it for ${last === undefined ? 'ever' : this.now - last}ms`);
        }
        break;
      }
      case '+promoted-slave': {
        this.stats.promoted++;
        const parts = message.split(' ');
        this.recordEpochAddr(master!.configEpoch, `${parts[2]}:${parts[3]}`);
        break;
      }
      case '+switch-master': {
        this.stats.switches++;
        const parts = message.split(' ');
        const addr = `${parts[3]}:${parts[4]}`;
        this.recordEpochAddr(master!.configEpoch, addr);
        break;
      }
      case '+tilt':
        this.stats.tilts++;
        break;
      default:
        if (type.startsWith('-failover-abort')) this.stats.aborts++;
    }
  }

  /** Invariant: a config epoch, once given to a master address, never names another. */
  private recordEpochAddr(epoch: number, addr: string): void {
    if (epoch === 0) return;
    const prev = this.epochAddr.get(epoch);
    if (prev !== undefined && prev !== addr) this.violations.push(`config epoch ${epoch} names two masters: ${prev} and ${addr}`);
    this.epochAddr.set(epoch, addr);
  }

  crashData(i: number): void {
    const d = this.data[i]!;
    if (!d.alive) return;
    this.net.crash(d.key);
  }

  restartData(i: number): void {
    const d = this.data[i]!;
    if (d.alive) return;
    this.net.restart(d.key);
    d.restartAfterCrash(this.random);
  }

  crashSentinel(i: number): void {
    const s = this.sentinels[i]!;
    if (!s.alive) return;
    s.sentinel.stop();
    this.net.crash(s.key);
  }

  restartSentinel(i: number): void {
    const s = this.sentinels[i]!;
    if (s.alive) return;
    this.net.restart(s.key);
    s.boot(null);
  }

  /** One random disturbance. */
  chaosStep(): void {
    const r = this.random;
    const roll = r.below(100);
    if (roll < 25) {
      // Kill whoever is master right now, most of the time.
      const masters = this.data.map((d, i) => [d, i] as const).filter(([d]) => d.alive && d.role === 'master');
      const pick = masters.length > 0 && r.below(3) > 0 ? masters[r.below(masters.length)]![1] : r.below(this.data.length);
      this.crashData(pick);
    } else if (roll < 45) {
      this.restartData(r.below(this.data.length));
    } else if (roll < 55) {
      this.crashSentinel(r.below(this.sentinels.length));
    } else if (roll < 65) {
      this.restartSentinel(r.below(this.sentinels.length));
    } else if (roll < 80) {
      const all = [...this.data.map((d) => d.key), ...this.sentinels.map((s) => s.key)];
      const a: string[] = [];
      const b: string[] = [];
      for (const k of all) (r.below(2) === 0 ? a : b).push(k);
      this.net.partition([a, b]);
    } else if (roll < 90) {
      this.net.heal();
    } else {
      // A sentinel's wall clock jumps (NTP step, VM pause): forwards or backwards.
      const s = this.sentinels[r.below(this.sentinels.length)]!;
      s.clock.wallOffset += (r.below(2) === 0 ? -1 : 1) * (3000 + r.below(60000));
    }
  }

  /** Heals everything and restarts everyone. */
  healAll(): void {
    this.net.heal();
    for (let i = 0; i < this.data.length; i++) this.restartData(i);
    for (let i = 0; i < this.sentinels.length; i++) this.restartSentinel(i);
  }

  /** Null when converged, else why not. */
  convergence(): string | null {
    const addrs = new Set<string>();
    for (const s of this.sentinels) {
      const m = s.sentinel.masters.get(MASTER_NAME)!;
      this.recordEpochAddr(m.configEpoch, addrKey(s.sentinel.currentMasterAddr(m)));
      if (m.flags & SRI_FAILOVER_IN_PROGRESS) return `s${s.index} is failing over`;
      addrs.add(addrKey(m.addr));
    }
    if (addrs.size !== 1) return `sentinels disagree: ${[...addrs].join(' ')}`;
    const masterKey = [...addrs][0]!;
    for (const d of this.data) {
      if (d.key === masterKey) {
        if (d.role !== 'master') return `${d.key} is the sentinels' master but is a replica`;
      } else if (d.role !== 'slave' || d.masterOf === null || addrKey(d.masterOf) !== masterKey || !d.linkUp()) {
        return `${d.key} does not replicate from ${masterKey} (${d.role} of ${d.masterOf === null ? '-' : addrKey(d.masterOf)})`;
      }
    }
    return null;
  }
}

/** One seeded run: chaos for `chaosMs`, then heal and wait (up to `healMs`) for convergence. */
export function runScenario(opts: SimOptions & { chaosMs: number; healMs: number }): { cluster: SimCluster; convergedAfter: number | null; why: string | null } {
  const c = new SimCluster(opts);
  c.run(5000); // discovery: replicas from INFO, sentinels from hello
  const end = c.now + opts.chaosMs;
  while (c.now < end) {
    c.run(1000 + c.random.below(4000));
    c.chaosStep();
  }
  c.healAll();
  const healStart = c.now;
  let why: string | null = 'not checked';
  while (c.now - healStart < opts.healMs) {
    c.run(1000);
    why = c.convergence();
    if (why === null) return { cluster: c, convergedAfter: c.now - healStart, why };
  }
  return { cluster: c, convergedAfter: null, why };
}
