/**
 * startReplicaSet() and startTopology(): a master, its replicas and (for a topology) the
 * sentinels that watch them, each a process of its own on a kernel-chosen port, resolved only
 * when the set is whole: every replica linked and in sync, every sentinel knowing every
 * replica and every other sentinel. Then fault injection for tests of a client's failover
 * handling (kill, pause, restart) and waits on the outcomes (failover, replicas back in sync).
 *
 * For speed every process starts at once, then is wired at runtime as an operator would:
 * REPLICAOF + CONFIG REWRITE on the replicas (so a restart keeps the role), SENTINEL MONITOR +
 * SENTINEL SET on the sentinels (which save it in their config files). Until the set is whole,
 * sentinels ask INFO and publish hellos every 100 ms (SENTINEL DEBUG), then go back to Redis's
 * periods (10 s, 2 s).
 */
import { command, info, records, texts, waitUntil } from './control.js';
import { confWord, dataNode, startNode, type Directives, type NodeKind, type NodisServer, type ServerOptions, type ServerProcess } from './server.js';

export interface ReplicaSetOptions {
  /** Number of replicas (default 1 for a replica set, 2 for a topology). */
  replicas?: number;
  /** Directives for every data node (master and replicas). */
  config?: Directives;
  /** The address every process listens on (default 127.0.0.1). */
  host?: string;
  /** How long to wait for the whole set to be ready (default 30000 ms). */
  startTimeoutMs?: number;
  /** Extra environment for every process. */
  env?: NodeJS.ProcessEnv;
}

export interface TopologyOptions extends ReplicaSetOptions {
  /** Number of sentinels (default 3). */
  sentinels?: number;
  /** Sentinels that must agree the master is down (default: a majority). */
  quorum?: number;
  /** The master's name in Sentinel (default "mymaster"). */
  name?: string;
  /** `sentinel down-after-milliseconds` (default 1000). */
  downAfterMs?: number;
  /** `sentinel failover-timeout` (default 10000). */
  failoverTimeoutMs?: number;
  /** More SENTINEL SET options for the master, e.g. `{ 'parallel-syncs': 2 }`. */
  sentinelSet?: Record<string, string | number>;
}

/** A sentinel process: `{ host, port }` is what ioredis and node-redis take. */
export type NodisSentinel = Omit<NodisServer, 'url'>;

/** A node of a set: one of its processes, or 'master' for whichever node is master now. */
export type NodeRef = 'master' | NodisServer | NodisSentinel;

export interface WaitOptions {
  /** Default 30000 ms. */
  timeoutMs?: number;
}

export interface ReplicaSet {
  /** The current master (as of the last start, failover or waitForFailover()). */
  readonly master: NodisServer;
  /** The data nodes other than the master. */
  readonly replicas: NodisServer[];
  /** Every data node, master first at start. */
  readonly nodes: readonly NodisServer[];
  /** Kills a node (default SIGKILL) and waits for it to exit; resolves with the node. */
  kill(node: NodeRef, signal?: NodeJS.Signals): Promise<NodisServer | NodisSentinel>;
  /** Stops a node's process for `ms` milliseconds (SIGSTOP/SIGCONT), resolves when it runs again. */
  pause(node: NodeRef, ms: number): Promise<void>;
  /** Starts a node again: same port, same directory, same config file as the node left it. */
  restart(node: NodeRef): Promise<void>;
  /** Resolves when every running replica is linked to the master and in sync. */
  waitForReplicas(opts?: WaitOptions): Promise<void>;
  /** Stops every process and removes every temporary directory. */
  stop(): Promise<void>;
}

export interface Topology extends ReplicaSet {
  /** The master's name in Sentinel. */
  readonly name: string;
  /** The sentinels: pass `sentinels` and `name` to ioredis / node-redis / redis-py. */
  readonly sentinels: readonly NodisSentinel[];
  /** Resolves with the new master once every running sentinel names a node other than the master of when it was called. */
  waitForFailover(opts?: WaitOptions): Promise<NodisServer>;
}

class ReplicaSetImpl implements ReplicaSet {
  protected current: ServerProcess;

  constructor(
    readonly nodes: readonly ServerProcess[],
    readonly sentinelNodes: readonly ServerProcess[],
  ) {
    this.current = nodes[0]!;
  }

  get master(): NodisServer {
    return this.current;
  }

  get replicas(): NodisServer[] {
    return this.nodes.filter((n) => n !== this.current);
  }

  protected resolve(node: NodeRef): ServerProcess {
    if (node === 'master') return this.current;
    const found = [...this.nodes, ...this.sentinelNodes].find((n) => n === node);
    if (found === undefined) throw new Error('nodis: not a node of this set');
    return found;
  }

  async kill(node: NodeRef, signal: NodeJS.Signals = 'SIGKILL'): Promise<NodisServer | NodisSentinel> {
    const n = this.resolve(node);
    await n.kill(signal);
    return n;
  }

  async pause(node: NodeRef, ms: number): Promise<void> {
    const n = this.resolve(node);
    if (process.platform === 'win32') {
      // No SIGSTOP on Windows: a data node blocks itself as long (DEBUG SLEEP).
      if (this.sentinelNodes.includes(n)) throw new Error('nodis: pausing a sentinel needs SIGSTOP (not on Windows)');
      await command(n.host, n.port, ['DEBUG', 'SLEEP', String(ms / 1000)], ms + 10000);
      return;
    }
    process.kill(n.pid, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, ms));
    if (n.running) process.kill(n.pid, 'SIGCONT');
  }

  async restart(node: NodeRef): Promise<void> {
    await this.resolve(node).restart();
  }

  async waitForReplicas(opts: WaitOptions = {}): Promise<void> {
    await waitUntil('the replicas to be in sync', opts.timeoutMs ?? 30000, async () => {
      const master = this.current;
      const running = this.nodes.filter((n) => n !== master && n.running);
      const m = await info(master.host, master.port);
      if (m.get('role') !== 'master') return false;
      const online = new Set<number>();
      for (const [k, v] of m) {
        if (/^slave\d+$/.test(k) && v.includes('state=online')) online.add(Number(/port=(\d+)/.exec(v)?.[1]));
      }
      for (const r of running) {
        if (!online.has(r.port)) return false;
        const ri = await info(r.host, r.port);
        if (ri.get('master_link_status') !== 'up' || Number(ri.get('master_port')) !== master.port) return false;
      }
      return true;
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.sentinelNodes.map((s) => s.stop()));
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

class TopologyImpl extends ReplicaSetImpl implements Topology {
  constructor(
    nodes: readonly ServerProcess[],
    sentinelNodes: readonly ServerProcess[],
    readonly name: string,
  ) {
    super(nodes, sentinelNodes);
  }

  get sentinels(): readonly NodisSentinel[] {
    return this.sentinelNodes;
  }

  async waitForFailover(opts: WaitOptions = {}): Promise<NodisServer> {
    const before = this.current;
    const next = await waitUntil('a failover', opts.timeoutMs ?? 30000, async () => {
      let agreed: ServerProcess | null = null;
      for (const s of this.sentinelNodes.filter((x) => x.running)) {
        const port = Number(texts(await command(s.host, s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name]))[1]);
        const node = this.nodes.find((n) => n.port === port) ?? null;
        if (node === null || node === before || (agreed !== null && node !== agreed)) return false;
        agreed = node;
      }
      if (agreed === null) return false;
      return (await info(agreed.host, agreed.port)).get('role') === 'master' ? agreed : false;
    });
    this.current = next;
    return next;
  }
}

function defaults(opts: ReplicaSetOptions): { host: string; timeoutMs: number; base: ServerOptions } {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.startTimeoutMs ?? 30000;
  return { host, timeoutMs, base: { host, env: opts.env, startTimeoutMs: timeoutMs } };
}

/** Starts the data nodes (a master and `replicas` replicas), all at once. */
async function startAll(base: ServerOptions, kinds: NodeKind[]): Promise<ServerProcess[]> {
  const results = await Promise.allSettled(kinds.map((k) => startNode(base, k)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((n) => n.stop()));
    throw failed.reason;
  }
  return started;
}

/** Makes nodes[1..] replicas of nodes[0], kept in their config files. */
async function linkReplicas(nodes: readonly ServerProcess[]): Promise<void> {
  const master = nodes[0]!;
  await Promise.all(
    nodes.slice(1).map(async (r) => {
      await command(r.host, r.port, ['REPLICAOF', master.host, String(master.port)]);
      await command(r.host, r.port, ['CONFIG', 'REWRITE']);
    }),
  );
}

/** A master and `replicas` replicas (default 1), resolved when every replica is in sync. */
export async function startReplicaSet(opts: ReplicaSetOptions = {}): Promise<ReplicaSet> {
  const { base, timeoutMs } = defaults(opts);
  const nodes = await startAll(base, Array.from({ length: 1 + (opts.replicas ?? 1) }, () => dataNode(opts.config)));
  const set = new ReplicaSetImpl(nodes, []);
  try {
    await linkReplicas(nodes);
    await set.waitForReplicas({ timeoutMs });
  } catch (e) {
    await set.stop();
    throw e;
  }
  return set;
}

/** A master, replicas (default 2) and sentinels (default 3), resolved when all know each other. */
export async function startTopology(opts: TopologyOptions = {}): Promise<Topology> {
  const replicas = opts.replicas ?? 2;
  const count = opts.sentinels ?? 3;
  const name = opts.name ?? 'mymaster';
  const quorum = opts.quorum ?? Math.floor(count / 2) + 1;
  const { base, timeoutMs } = defaults(opts);
  if (count < 1) throw new Error('nodis: a topology needs at least one sentinel');
  const sentinelConf = (port: number, host: string, dir: string): string => `port ${port}\nbind ${host}\ndir ${confWord(dir)}\n`;
  const sentinelKind: NodeKind = { confName: 'sentinel.conf', confText: sentinelConf, extraArgs: ['--sentinel'], sizeHeap: false, writesOwnConfig: true };
  const kinds = [...Array.from({ length: 1 + replicas }, () => dataNode(opts.config)), ...Array.from({ length: count }, () => sentinelKind)];
  const all = await startAll(base, kinds);
  const nodes = all.slice(0, 1 + replicas);
  const sentinels = all.slice(1 + replicas);
  const master = nodes[0]!;
  const topology = new TopologyImpl(nodes, sentinels, name);
  const debug = (s: ServerProcess, info: number, publish: number): Promise<unknown> =>
    command(s.host, s.port, ['SENTINEL', 'DEBUG', 'info-period', String(info), 'publish-period', String(publish)]);
  try {
    await linkReplicas(nodes);
    const settings: Record<string, string | number> = {
      'down-after-milliseconds': opts.downAfterMs ?? 1000,
      'failover-timeout': opts.failoverTimeoutMs ?? 10000,
      ...opts.sentinelSet,
    };
    await Promise.all(
      sentinels.map(async (s) => {
        await debug(s, 100, 100);
        await command(s.host, s.port, ['SENTINEL', 'MONITOR', name, master.host, String(master.port), String(quorum)]);
        await command(s.host, s.port, ['SENTINEL', 'SET', name, ...Object.entries(settings).flatMap(([k, v]) => [k, String(v)])]);
      }),
    );
    await topology.waitForReplicas({ timeoutMs });
    await waitUntil('the sentinels to know every node', timeoutMs, async () => {
      for (const s of sentinels) {
        const others = records(await command(s.host, s.port, ['SENTINEL', 'SENTINELS', name]));
        if (others.length !== count - 1) return false;
        const known = records(await command(s.host, s.port, ['SENTINEL', 'REPLICAS', name]));
        for (const r of nodes.slice(1)) {
          const entry = known.find((k) => Number(k.get('port')) === r.port);
          if (entry === undefined || /s_down|disconnected/.test(entry.get('flags') ?? '')) return false;
        }
      }
      return true;
    });
    // Redis's own periods from here on: the topology behaves as a deployment would.
    await Promise.all(sentinels.map((s) => debug(s, 10000, 2000)));
  } catch (e) {
    await topology.stop();
    throw e;
  }
  return topology;
}
