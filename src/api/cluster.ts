/**
 * startCluster(): a Redis Cluster of nodis-server processes, each on a kernel-chosen port with a
 * kernel-chosen bus port, formed as `redis-cli --cluster create` forms one (the same slot
 * ranges, one config epoch per node, every node meeting the first, then CLUSTER REPLICATE),
 * resolved only when every node reports cluster_state:ok and every node's CLUSTER NODES agrees
 * (same nodes, same roles, same slot owners, no handshake or failure flag). Then fault injection
 * for tests of a cluster client's failover handling (kill, restart) and a wait on the failover.
 *
 * A node's config file gets its bus port once the kernel has chosen it, so restart() brings it
 * back on the same client and bus ports with its nodes.conf: it rejoins as it left.
 */
import fs from 'node:fs';
import { command, texts, waitUntil } from './control.js';
import { replyText } from '../protocol/reply-parser.js';
import { allocateSlots, keyHashSlot } from '../cluster/slot.js';
import { dataNode, type Directives, type NodeKind, type NodisServer, type ServerOptions, type ServerProcess, startNode } from './server.js';
import type { WaitOptions } from './topology.js';

export interface ClusterOptions {
  /** Number of masters, each serving a contiguous range of the 16384 slots (default 3). */
  masters?: number;
  /** Replicas of each master (default 0). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout` in ms: how long until a silent node is failed over (default 3000). */
  nodeTimeoutMs?: number;
  /** Directives for every node. */
  config?: Directives;
  /** The address every node listens on (default 127.0.0.1). */
  host?: string;
  /** How long to wait for the whole cluster to be ready (default 60000 ms). */
  startTimeoutMs?: number;
  /** Extra environment for every process. */
  env?: NodeJS.ProcessEnv;
}

/** A node of a cluster: a server handle with its cluster node id and bus port. */
export interface NodisClusterNode extends NodisServer {
  /** The node's id in the cluster (CLUSTER MYID). */
  readonly id: string;
  /** The cluster bus port (kernel-chosen, kept across restart()). */
  readonly busPort: number;
}

export interface NodisCluster {
  /** `{ host, port }` of every node: what `new Redis.Cluster(nodes)` (ioredis) and redis-py take. */
  readonly nodes: readonly { host: string; port: number }[];
  /** `{ url }` of every node: what node-redis's `createCluster({ rootNodes })` takes. */
  readonly rootNodes: readonly { url: string }[];
  /** Every node's handle, masters first (in slot order) then replicas, as started. */
  readonly servers: readonly NodisClusterNode[];
  /** The masters serving slots (as of the start or the last waitForFailover()), in slot order. */
  readonly masters: readonly NodisClusterNode[];
  /** The other nodes. */
  readonly replicas: readonly NodisClusterNode[];
  /** The master serving a key's slot (as of the start or the last waitForFailover()). */
  masterOf(key: string): NodisClusterNode;
  /** Kills a node (default SIGKILL) and waits for the process to exit. */
  kill(node: NodisClusterNode, signal?: NodeJS.Signals): Promise<NodisClusterNode>;
  /** Starts a node again: same ports, same directory, same nodes.conf. */
  restart(node: NodisClusterNode): Promise<void>;
  /**
   * Resolves with a new master once a replica has taken over a master's slots: every running node
   * reports cluster_state:ok and names the same owners for all slots, one of them not a master
   * of when it was called. Needs replicasPerMaster ≥ 1.
   */
  waitForFailover(opts?: WaitOptions): Promise<NodisClusterNode>;
  /** Resolves when every running node reports cluster_state:ok and all agree on the slot map. */
  waitForAgreement(opts?: WaitOptions): Promise<void>;
  /** Stops every node and removes every temporary directory. */
  stop(): Promise<void>;
}

type Member = ServerProcess & { id: string; busPort: number };

/** One CLUSTER NODES line, as every node should see it once the cluster agrees. */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  master: string;
  slots: string[];
}

function parseNodes(text: string): NodeLine[] {
  return text.trim().split('\n').map((line) => {
    const f = line.trim().split(' ');
    const addr = f[1]!.split(',')[0]!.split('@')[0]!;
    return {
      id: f[0]!,
      port: Number(addr.slice(addr.lastIndexOf(':') + 1)),
      flags: f[2]!.split(',').filter((x) => x !== 'myself'),
      master: f[3]!,
      slots: f.slice(8).filter((s) => !s.startsWith('[')),
    };
  });
}

/** The slot map of a view: "ranges owner" for every master serving slots, in order. */
function slotMap(view: NodeLine[]): string {
  return view.filter((n) => n.slots.length > 0).map((n) => `${n.slots.join(' ')} ${n.id}`).sort().join('\n');
}

async function clusterNodes(n: ServerProcess): Promise<NodeLine[]> {
  return parseNodes(replyText(await command(n.host, n.port, ['CLUSTER', 'NODES'])) ?? '');
}

async function clusterState(n: ServerProcess): Promise<string> {
  return /cluster_state:(\w+)/.exec(replyText(await command(n.host, n.port, ['CLUSTER', 'INFO'])) ?? '')?.[1] ?? '';
}

class ClusterImpl implements NodisCluster {
  private owners: string[] = [];

  constructor(readonly servers: readonly Member[]) {}

  get nodes(): { host: string; port: number }[] {
    return this.servers.map((s) => ({ host: s.host, port: s.port }));
  }

  get rootNodes(): { url: string }[] {
    return this.servers.map((s) => ({ url: s.url }));
  }

  get masters(): Member[] {
    const ids = [...new Set(this.owners)];
    return ids.map((id) => this.byId(id));
  }

  get replicas(): Member[] {
    const masters = this.masters;
    return this.servers.filter((s) => !masters.includes(s));
  }

  private byId(id: string): Member {
    const m = this.servers.find((s) => s.id === id);
    if (m === undefined) throw new Error(`nodis: node ${id} is not one of this cluster's nodes`);
    return m;
  }

  private member(node: NodisClusterNode): Member {
    const m = this.servers.find((s) => s === node);
    if (m === undefined) throw new Error('nodis: not a node of this cluster');
    return m;
  }

  masterOf(key: string): Member {
    return this.byId(this.owners[keyHashSlot(Buffer.from(key, 'utf8').toString('latin1'))]!);
  }

  /** Slot owners (id per slot) from one view. */
  private static ownersOf(view: NodeLine[]): string[] {
    const owners = new Array<string>(16384).fill('');
    for (const n of view) {
      for (const s of n.slots) {
        const [a, b] = s.split('-');
        for (let i = Number(a); i <= Number(b ?? a); i++) owners[i] = n.id;
      }
    }
    return owners;
  }

  /** The running nodes' common slot map, once all are ok and agree; else false. */
  private async agreed(): Promise<NodeLine[] | false> {
    const running = this.servers.filter((s) => s.running);
    let first: string | null = null;
    let view: NodeLine[] = [];
    for (const s of running) {
      if ((await clusterState(s)) !== 'ok') return false;
      const v = await clusterNodes(s);
      const map = slotMap(v);
      if (first !== null && map !== first) return false;
      first = map;
      view = v;
    }
    // Every slot served by a running node.
    const ids = new Set(running.map((s) => s.id));
    if (ClusterImpl.ownersOf(view).some((id) => !ids.has(id))) return false;
    return view;
  }

  async waitForAgreement(opts: WaitOptions = {}): Promise<void> {
    const view = await waitUntil('the cluster to agree on its slot map', opts.timeoutMs ?? 30000, () => this.agreed());
    this.owners = ClusterImpl.ownersOf(view);
  }

  async kill(node: NodisClusterNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<NodisClusterNode> {
    const m = this.member(node);
    await m.kill(signal);
    return m;
  }

  async restart(node: NodisClusterNode): Promise<void> {
    await this.member(node).restart();
  }

  async waitForFailover(opts: WaitOptions = {}): Promise<NodisClusterNode> {
    const before = new Set(this.owners);
    const view = await waitUntil('a cluster failover', opts.timeoutMs ?? 30000, async () => {
      const v = await this.agreed();
      if (v === false) return false;
      return ClusterImpl.ownersOf(v).some((id) => !before.has(id)) ? v : false;
    });
    this.owners = ClusterImpl.ownersOf(view);
    return this.masters.find((m) => !before.has(m.id))!;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  /** Formation (redis-cli --cluster create's steps), then the wait for a whole, agreeing cluster. */
  async form(masters: number, perMaster: number, timeoutMs: number): Promise<void> {
    const ranges = allocateSlots(masters);
    const run = (n: Member, ...argv: (string | number)[]): Promise<unknown> => command(n.host, n.port, argv.map(String), 10000);
    await Promise.all(
      this.servers.map(async (n, i) => {
        if (i < masters) await run(n, 'CLUSTER', 'ADDSLOTSRANGE', ranges[i]![0], ranges[i]![1]);
        await run(n, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      }),
    );
    const first = this.servers[0]!;
    await Promise.all(this.servers.slice(1).map((n) => run(n, 'CLUSTER', 'MEET', first.host, first.port, first.busPort)));
    const total = this.servers.length;
    await waitUntil('every node to know every other node', timeoutMs, async () => {
      for (const s of this.servers) {
        const v = await clusterNodes(s);
        if (v.length !== total || v.some((n) => n.flags.some((f) => f === 'handshake' || f === 'noaddr'))) return false;
      }
      return true;
    });
    // Replica j of master i: node masters + i * perMaster + j.
    const masterOfReplica = (k: number): Member => this.servers[Math.floor((k - masters) / perMaster)]!;
    await Promise.all(this.servers.slice(masters).map((r, k) => run(r, 'CLUSTER', 'REPLICATE', masterOfReplica(k + masters).id)));
    await waitUntil('every node to report cluster_state:ok and the same view', timeoutMs, async () => {
      let expected: string | null = null;
      for (const s of this.servers) {
        if ((await clusterState(s)) !== 'ok') return false;
        const v = await clusterNodes(s);
        if (v.length !== total || v.some((n) => n.flags.some((f) => /handshake|noaddr|fail/.test(f)))) return false;
        const shape = v.map((n) => `${n.id} ${n.port} ${n.flags.join(',')} ${n.master} ${n.slots.join(' ')}`).sort().join('\n');
        if (expected !== null && shape !== expected) return false;
        expected = shape;
      }
      const view = parseNodes(replyText(await command(first.host, first.port, ['CLUSTER', 'NODES'])) ?? '');
      return this.servers.slice(masters).every((r, k) => view.find((n) => n.id === r.id)?.master === masterOfReplica(k + masters).id);
    });
    await this.waitForAgreement({ timeoutMs });
  }
}

/**
 * A Redis Cluster of `masters` masters (default 3) with `replicasPerMaster` replicas each
 * (default 0), resolved when every node reports cluster_state:ok and all agree on the slot map.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<NodisCluster> {
  const masters = opts.masters ?? 3;
  const perMaster = opts.replicasPerMaster ?? 0;
  if (!Number.isInteger(masters) || masters < 1) throw new Error('nodis: a cluster needs at least one master');
  if (!Number.isInteger(perMaster) || perMaster < 0) throw new Error('nodis: replicasPerMaster must be a whole number ≥ 0');
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.startTimeoutMs ?? 60000;
  const base: ServerOptions = { host, env: opts.env, startTimeoutMs: timeoutMs };
  const directives: Directives = {
    appendonly: 'no',
    ...opts.config,
    'cluster-enabled': 'yes',
    'cluster-config-file': 'nodes.conf',
    'cluster-node-timeout': opts.nodeTimeoutMs ?? 3000,
  };
  const count = masters * (1 + perMaster);
  const started = await Promise.allSettled(
    Array.from({ length: count }, async () => {
      const data = dataNode(directives);
      let busPort = 0;
      // Once known, the bus port is written to the config file too (restart() keeps it).
      const kind: NodeKind = { ...data, confText: (port, h, dir) => data.confText(port, h, dir) + (busPort !== 0 ? `cluster-port ${busPort}\n` : '') };
      const node = await startNode(base, kind);
      try {
        busPort = Number(texts(await command(node.host, node.port, ['CONFIG', 'GET', 'cluster-port']))[1]);
        fs.writeFileSync(node.configFile, kind.confText(node.port, node.host, node.dir));
        const id = replyText(await command(node.host, node.port, ['CLUSTER', 'MYID'])) ?? '';
        return Object.assign(node, { id, busPort });
      } catch (e) {
        await node.stop();
        throw e;
      }
    }),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const cluster = new ClusterImpl(nodes);
  try {
    if (failed !== undefined) throw failed.reason;
    await cluster.form(masters, perMaster, timeoutMs);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
