/**
 * nodis-cli --cluster: redis-cli's cluster manager (redis-cli.c clusterManager*), with its output
 * byte for byte. Commands: create, add-node, del-node, reshard, rebalance, info, check, fix, call,
 * set-timeout, import, backup (fix's repairs are in cluster-repair.ts, set-timeout, import and
 * backup in cluster-admin.ts).
 *
 * The model is redis-cli's: load the cluster from one node's CLUSTER NODES (its "friends"),
 * connect to each reachable one and load its own view of itself (slots, migrating and importing
 * slots, flags), then act on that list in that order. Colours only when TERM names an xterm
 * (isColorTerm), as redis-cli.
 */
import { Connection, cliTlsContext, type CliTls } from './connection.js';
import { formatRaw } from './format.js';
import type { CliConfig, ClusterFlags } from './options.js';
import { out, err, exit, fixed, StdinReader } from './io.js';
import { atof, atoi } from './options.js';
import { allocateSlots } from '../cluster/slot.js';
import { RedisDictOrder } from './redis-dict-order.js';
import { ClusterRepair, slotRanges } from './cluster-repair.js';
import { clusterSetTimeout, clusterImport, clusterBackup } from './cluster-admin.js';
import type { Reply } from '../protocol/reply-parser.js';

const SLOTS = 16384;
/** clusterManagerSetSlot's error when the command got no reply at all. */
const SETSLOT_FAILED = 'CLUSTER SETSLOT failed to run';
export const INVALID_HOST_ARG =
  '[ERR] Invalid arguments: you need to pass either a valid address (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)\n';

export const enum Level {
  Info,
  Warn,
  Err,
  Success,
}
const COLORS = ['29;1m', '33;1m', '31;1m', '32;1m'];

export interface ManagedNode {
  ip: string;
  port: number;
  /** The bus port from the node's own CLUSTER NODES line (0 if not given). */
  busPort: number;
  name: string;
  flags: string[];
  /** The config epoch of the node's own CLUSTER NODES line (backup's "current_epoch"). */
  configEpoch: number;
  replicate: string | null;
  slots: Uint8Array;
  slotsCount: number;
  replicasCount: number;
  migrating: [string, string][];
  importing: [string, string][];
  conn: Connection | null;
  /** Slots or a master assigned here and not yet sent to the node (create). */
  dirty: boolean;
}

export interface ClusterManagerOptions {
  onlyMasters: boolean;
  onlyReplicas: boolean;
}

function newNode(ip: string, port: number): ManagedNode {
  return { ip, port, busPort: 0, name: '', flags: [], configEpoch: 0, replicate: null, slots: new Uint8Array(SLOTS), slotsCount: 0, replicasCount: 0, migrating: [], importing: [], conn: null, dirty: false };
}

/** "ip:port[@cport][,hostname]" → ip and port (parseClusterNodeAddress), null when malformed. */
function parseAddress(addr: string): { ip: string; port: number; busPort: number } | null {
  const comma = addr.indexOf(',');
  if (comma >= 0) addr = addr.slice(0, comma);
  const at = addr.indexOf('@');
  const busPort = at >= 0 ? atoi(addr.slice(at + 1)) : 0;
  if (at >= 0) addr = addr.slice(0, at);
  const colon = addr.lastIndexOf(':');
  if (colon < 0) return null;
  return { ip: addr.slice(0, colon), port: atoi(addr.slice(colon + 1)), busPort };
}

export class ClusterManager {
  nodes: ManagedNode[] = [];
  readonly errors: string[] = [];
  /** Masters the first node knows that could not be loaded (clusterManagerLoadInfoFromNode). */
  unreachableMasters = 0;
  private readonly colors = (process.env.TERM ?? '').includes('xterm');
  private readonly stdin = new StdinReader();
  private tlsContext: CliTls | null = null;
  /** --cluster fix: the check repairs what it finds. */
  private fixing = false;

  constructor(
    readonly config: CliConfig,
    private readonly options: ClusterManagerOptions,
  ) {}

  log(level: Level, text: string): void {
    if (this.colors) out(`\x1b[${COLORS[level]}${text}\x1b[0m`);
    else out(text);
  }

  private onError(text: string): void {
    this.errors.push(text);
    this.log(Level.Err, `${text}\n`);
  }

  /** cliSecureConnection's context for --tls (made once), null without --tls. */
  tls(): CliTls | null {
    if (!this.config.tls) return null;
    if (this.tlsContext === null) {
      const ctx = cliTlsContext(this.config.sslconfig);
      if (typeof ctx === 'string') {
        err(`TLS Error: ${ctx}\n`);
        exit(1);
      }
      this.tlsContext = { context: ctx, sni: this.config.sslconfig.sni, insecure: this.config.sslconfig.insecure };
    }
    return this.tlsContext;
  }

  /** clusterManagerNodeConnect: TLS under --tls, then the session's AUTH. */
  async connect(node: ManagedNode): Promise<boolean> {
    const conn = await Connection.open({ host: node.ip, port: node.port }, this.tls());
    if (typeof conn === 'string') {
      err(`Could not connect to Redis at ${node.ip}:${node.port}: ${conn}\n`);
      return false;
    }
    node.conn = conn;
    if (this.config.auth !== null) {
      const args = this.config.user !== null ? ['AUTH', this.config.user, this.config.auth] : ['AUTH', this.config.auth];
      if (!this.ok(node, await this.command(node, args))) return false;
    }
    return true;
  }

  async command(node: ManagedNode, argv: string[]): Promise<Reply | null> {
    if (node.conn === null) return null;
    try {
      return await node.conn.command(argv);
    } catch {
      return null;
    }
  }

  /** clusterManagerNodeLoadInfo: the node's own line (and, with `friends`, the others'). */
  private async loadInfo(node: ManagedNode, friends: ManagedNode[] | null): Promise<string | null> {
    const reply = await this.command(node, ['CLUSTER', 'NODES']);
    if (reply === null) return 'Connection error';
    if (reply.type === 'error') return reply.value;
    const text = reply.type === 'string' || reply.type === 'verbatim' ? reply.value.toString('latin1') : '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const fields = line.split(' ');
      if (fields.length < 8) continue;
      const [name, addr, flags, masterId] = fields as [string, string, string, string];
      const parsed = parseAddress(addr);
      if (parsed === null) return 'invalid CLUSTER NODES reply';
      const flagList = flags.split(',').filter((f) => f !== '');
      let current: ManagedNode;
      if (flagList.includes('myself')) {
        current = node;
        node.busPort = parsed.busPort;
        node.slots.fill(0);
        node.slotsCount = 0;
        node.migrating = [];
        node.importing = [];
        for (const def of fields.slice(8)) {
          if (def.startsWith('[')) {
            const inner = def.slice(1).replace(/\]$/, '');
            let p = inner.indexOf('->-');
            if (p >= 0) node.migrating.push([inner.slice(0, p), inner.slice(p + 3)]);
            else if ((p = inner.indexOf('-<-')) >= 0) node.importing.push([inner.slice(0, p), inner.slice(p + 3)]);
          } else if (def.includes('-')) {
            const [a, b] = def.split('-') as [string, string];
            for (let s = atoi(a); s <= atoi(b); s++) node.slots[s] = 1;
            node.slotsCount += atoi(b) - atoi(a) + 1;
          } else if (def !== '') {
            node.slots[atoi(def)] = 1;
            node.slotsCount++;
          }
        }
      } else if (friends === null) {
        continue;
      } else {
        current = newNode(parsed.ip, parsed.port);
        friends.push(current);
      }
      current.name = name;
      current.flags = flagList;
      current.configEpoch = atoi(fields[6]!);
      if (flagList.includes('slave') && masterId !== '-') current.replicate = masterId;
      if (friends === null) break;
    }
    return null;
  }

  /** A friend of the first node, connected and with its own view loaded; false when unusable. */
  private async loadFriend(friend: ManagedNode): Promise<boolean> {
    if (friend.ip === '' || friend.port === 0) return false;
    if (!(await this.connect(friend))) return false;
    if ((await this.loadInfo(friend, null)) !== null) {
      this.log(Level.Err, `[ERR] Unable to load info for node ${friend.ip}:${friend.port}\n`);
      return false;
    }
    return !friend.flags.some((f) => f === 'noaddr' || f === 'disconnected' || f === 'fail');
  }

  /** clusterManagerLoadInfoFromNode. */
  async loadFromNode(ip: string, port: number): Promise<boolean> {
    const node = newNode(ip, port);
    if (!(await this.connect(node))) return false;
    const info = await this.command(node, ['INFO']);
    if (info === null || info.type === 'error') {
      this.log(Level.Err, `[ERR] Node ${ip}:${port} ${info?.type === 'error' ? info.value : 'is not configured as a cluster node.'}\n`);
      return false;
    }
    const infoText = info.type === 'string' || info.type === 'verbatim' ? info.value.toString('latin1') : '';
    if (!/^cluster_enabled:1\r?$/m.test(infoText)) {
      this.log(Level.Err, `[ERR] Node ${ip}:${port} is not configured as a cluster node.\n`);
      return false;
    }
    const friends: ManagedNode[] = [];
    const e = await this.loadInfo(node, friends);
    if (e !== null) {
      this.log(Level.Err, `Node ${ip}:${port} replied with error:\n${e}\n`);
      return false;
    }
    this.nodes = [node];
    for (const friend of friends) {
      if (await this.loadFriend(friend)) {
        this.nodes.push(friend);
        continue;
      }
      friend.conn?.close();
      // A master left out: fix refuses to run unless told to (--cluster-fix-with-unreachable-masters).
      if (!friend.flags.includes('slave')) this.unreachableMasters++;
    }
    for (const n of this.nodes) {
      if (n.replicate === null) continue;
      const master = this.nodes.find((m) => m.name === n.replicate);
      if (master === undefined) this.log(Level.Warn, `*** WARNING: ${n.ip}:${n.port} claims to be slave of unknown node ID ${n.replicate}.\n`);
      else master.replicasCount++;
    }
    return true;
  }

  private close(): void {
    for (const n of this.nodes) n.conn?.close();
  }

  /** "[0-8191],[9000]" (clusterManagerNodeSlotsString). */
  static slotsString(node: ManagedNode): string {
    return slotRanges(node.slots);
  }

  /** clusterManagerNodeInfo. */
  private static nodeInfo(node: ManagedNode, indent = 0): string {
    const spaces = ' '.repeat(indent);
    const master = !node.flags.includes('slave');
    let info: string;
    if (node.dirty && node.replicate !== null) {
      info = `${spaces}S: ${node.name} ${node.ip}:${node.port}`;
    } else {
      const flags = node.flags.filter((f) => f !== 'myself').join(',');
      info = `${spaces}${master ? 'M' : 'S'}: ${node.name} ${node.ip}:${node.port}\n${spaces}   slots:${ClusterManager.slotsString(node)} (${node.slotsCount} slots) ${flags}`;
    }
    if (node.replicate !== null) info += `\n${spaces}   replicates ${node.replicate}`;
    else if (node.replicasCount > 0) info += `\n${spaces}   ${node.replicasCount} additional replica(s)`;
    return info;
  }

  /** clusterManagerShowClusterInfo. */
  private async showClusterInfo(): Promise<void> {
    let masters = 0;
    let keys = 0;
    for (const node of this.nodes) {
      if (node.flags.includes('slave') || node.name === '') continue;
      const replicas = this.nodes.filter((n) => n !== node && n.flags.includes('slave') && n.replicate === node.name).length;
      const reply = await this.command(node, ['DBSIZE']);
      if (reply === null || reply.type !== 'integer') {
        this.log(Level.Err, `Node ${node.ip}:${node.port} replied with error:\n${reply?.type === 'error' ? reply.value : ''}\n`);
        return;
      }
      const dbsize = Number(reply.value);
      out(`${node.ip}:${node.port} (${node.name.slice(0, 8)}...) -> ${dbsize} keys | ${node.slotsCount} slots | ${replicas} slaves.\n`);
      masters++;
      keys += dbsize;
    }
    this.log(Level.Success, `[OK] ${keys} keys in ${masters} masters.\n`);
    out(`${(keys / SLOTS).toFixed(2)} keys per slot on average.\n`);
  }

  /** clusterManagerGetConfigSignature: the nodes' slot assignments as this node sees them. */
  private async configSignature(node: ManagedNode): Promise<string | null> {
    const reply = await this.command(node, ['CLUSTER', 'NODES']);
    if (reply === null || reply.type === 'error') return null;
    const text = reply.type === 'string' || reply.type === 'verbatim' ? reply.value.toString('latin1') : '';
    const configs: string[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const fields = line.split(' ');
      if (fields.length < 9) continue;
      const slots = fields.slice(8).filter((s) => s !== '' && !s.startsWith('['));
      if (slots.length === 0) continue;
      slots.sort(cmp);
      configs.push(`${fields[0]}:${slots.join(',')}`);
    }
    if (configs.length === 0) return null;
    return configs.sort(cmp).join('|');
  }

  private async isConfigConsistent(): Promise<boolean> {
    if (this.nodes.length <= 1) return true;
    let first: string | null = null;
    for (const node of this.nodes) {
      const cfg = await this.configSignature(node);
      if (cfg === null) return false;
      if (first === null) first = cfg;
      else if (cfg !== first) return false;
    }
    return true;
  }

  /**
   * clusterManagerCheckCluster: true when no issue was found. Under `--cluster fix` it repairs
   * open slots, uncovered slots and (with --cluster-search-multiple-owners) slots with several
   * owners as it finds them (cluster-repair.ts).
   */
  async checkCluster(quiet = false): Promise<boolean> {
    const first = this.nodes[0];
    if (first === undefined) return false;
    this.log(Level.Info, `>>> Performing Cluster Check (using node ${first.ip}:${first.port})\n`);
    const repair = this.fixing ? new ClusterRepair(this) : null;
    let result = true;
    if (!quiet) for (const node of this.nodes) out(`${ClusterManager.nodeInfo(node)}\n`);
    if (!(await this.isConfigConsistent())) {
      this.onError("[ERR] Nodes don't agree about configuration!");
      result = false;
    } else {
      this.log(Level.Success, '[OK] All nodes agree about slots configuration.\n');
    }
    this.log(Level.Info, '>>> Check for open slots...\n');
    // redis-cli keeps them in a dict: listed and fixed in its order.
    const open = new RedisDictOrder();
    for (const n of this.nodes) {
      for (const [list, state] of [[n.migrating, 'migrating'], [n.importing, 'importing']] as const) {
        if (list.length === 0) continue;
        for (const [slot] of list) open.add(slot);
        this.onError(`[WARNING] Node ${n.ip}:${n.port} has slots in ${state} state ${list.map(([s]) => s).join(',')}.`);
      }
    }
    const openSlots = open.keys();
    if (openSlots.length > 0) {
      result = false;
      this.log(Level.Err, `[WARNING] The following slots are open: ${openSlots.join(',')}.\n`);
      if (repair !== null) {
        for (const slot of openSlots) {
          result = await repair.fixOpenSlot(atoi(slot));
          if (!result) break;
        }
      }
    }
    this.log(Level.Info, '>>> Check slots coverage...\n');
    const covered = new Uint8Array(SLOTS);
    let total = 0;
    for (const n of this.nodes) {
      for (let i = 0; i < SLOTS; i++) {
        if (n.slots[i] === 1 && covered[i] === 0) {
          covered[i] = 1;
          total++;
        }
      }
    }
    if (total === SLOTS) {
      this.log(Level.Success, `[OK] All ${SLOTS} slots covered.\n`);
    } else {
      this.onError(`[ERR] Not all ${SLOTS} slots are covered by nodes.\n`);
      result = false;
      if (repair !== null && (await repair.fixSlotsCoverage(covered)) > 0) result = true;
    }
    if (this.flags.searchMultipleOwners) {
      this.log(Level.Info, '>>> Check for multiple slot owners...\n');
      let multiple = 0;
      for (let slot = 0; slot < SLOTS; slot++) {
        const owners: ManagedNode[] = [];
        for (const n of this.nodes) {
          if (n.flags.includes('slave')) continue;
          if (n.slots[slot] === 1 || (await this.countKeysInSlot(n, slot)) > 0) owners.push(n);
        }
        if (owners.length <= 1) continue;
        result = false;
        this.log(Level.Err, `[WARNING] Slot ${slot} has ${owners.length} owners:\n`);
        for (const n of owners) this.log(Level.Err, `    ${n.ip}:${n.port}\n`);
        multiple++;
        if (repair !== null) {
          result = await repair.fixMultipleSlotOwners(slot, owners);
          if (!result) {
            this.log(Level.Err, `Failed to fix multiple owners for slot ${slot}\n`);
            break;
          }
          multiple--;
        }
      }
      if (multiple === 0) this.log(Level.Success, '[OK] No multiple owners found.\n');
    }
    return result;
  }

  /** clusterManagerCountKeysInSlot: -1 when the node failed (an error reply is printed). */
  async countKeysInSlot(node: ManagedNode, slot: number): Promise<number> {
    const reply = await this.command(node, ['CLUSTER', 'COUNTKEYSINSLOT', String(slot)]);
    return this.ok(node, reply) && reply!.type === 'integer' ? Number(reply!.value) : -1;
  }

  get flags(): ClusterFlags {
    return this.config.clusterFlags;
  }

  printReplyError(node: ManagedNode, text: string): void {
    this.log(Level.Err, `Node ${node.ip}:${node.port} replied with error:\n${text}\n`);
  }

  /** clusterManagerCheckRedisReply without an err pointer: an error reply is printed. */
  ok(node: ManagedNode, reply: Reply | null): boolean {
    if (reply === null) return false;
    if (reply.type === 'error') {
      this.printReplyError(node, reply.value);
      return false;
    }
    return true;
  }

  /** A reply's error text, or null when it is not an error (a lost connection is "" ). */
  private static errorOf(reply: Reply | null): string | null {
    if (reply === null) return '';
    return reply.type === 'error' ? reply.value : null;
  }

  /** A line typed at a prompt, at most `max - 1` characters (redis-cli reads into a buffer). */
  private async answer(max: number): Promise<string | null> {
    const line = await this.stdin.line();
    return line === null ? null : line.slice(0, max - 1);
  }

  /** confirmWithYes; fix asks even under --cluster-yes (`ignoreForce`). */
  async confirm(msg: string, ignoreForce = false): Promise<boolean> {
    if (!ignoreForce && this.flags.yes) return true;
    out(`${msg} (type 'yes' to accept): `);
    return ((await this.answer(4)) ?? '').slice(0, 3) === 'yes';
  }

  async infoText(node: ManagedNode, argv: string[]): Promise<string | null> {
    const reply = await this.command(node, argv);
    if (reply === null) return null;
    if (reply.type === 'error') return null;
    return reply.type === 'string' || reply.type === 'verbatim' ? reply.value.toString('latin1') : '';
  }

  /** clusterManagerNodeIsCluster, printing redis-cli's error when it is not. */
  private async isCluster(node: ManagedNode): Promise<boolean> {
    const text = await this.infoText(node, ['INFO']);
    if (text !== null && /^cluster_enabled:1\r?$/m.test(text)) return true;
    this.log(Level.Err, `[ERR] Node ${node.ip}:${node.port} is not configured as a cluster node.\n`);
    return false;
  }

  /** clusterManagerNodeIsEmpty: no key in db0 and no other known node; prints the error. */
  private async isEmpty(node: ManagedNode): Promise<boolean> {
    const info = await this.infoText(node, ['INFO']);
    const cluster = info !== null && !info.includes('db0:') ? await this.infoText(node, ['CLUSTER', 'INFO']) : null;
    if (cluster !== null && /^cluster_known_nodes:1\r?$/m.test(cluster)) return true;
    this.log(Level.Err, `[ERR] Node ${node.ip}:${node.port} is not empty. Either the node already knows other nodes (check with CLUSTER NODES) or contains some key in database 0.\n`);
    return false;
  }

  /** A node for create or add-node: a cluster node, its own view loaded, empty; else redis-cli's error. */
  private async isUsableNew(node: ManagedNode): Promise<boolean> {
    if (!(await this.isCluster(node))) return false;
    const e = await this.loadInfo(node, null);
    if (e !== null) {
      this.printReplyError(node, e);
      return false;
    }
    return this.isEmpty(node);
  }

  byName(name: string): ManagedNode | undefined {
    const lc = name.toLowerCase();
    return this.nodes.find((n) => n.name !== '' && n.name === lc);
  }

  /** clusterManagerNodeWithLeastReplicas. */
  private leastReplicas(): ManagedNode {
    let best: ManagedNode | null = null;
    for (const n of this.nodes) {
      if (n.flags.includes('slave')) continue;
      if (best === null || n.replicasCount < best.replicasCount) best = n;
    }
    return best!;
  }

  /** clusterManagerFlushNodeConfig: CLUSTER REPLICATE for a replica, ADDSLOTS for a master. Resolves with an error text or null. */
  private async flushNodeConfig(node: ManagedNode): Promise<{ flushed: boolean; error: string | null }> {
    if (!node.dirty) return { flushed: false, error: null };
    if (node.replicate !== null) {
      const reply = await this.command(node, ['CLUSTER', 'REPLICATE', node.replicate]);
      const e = ClusterManager.errorOf(reply);
      // Not yet joined: the replica may not know its master yet; stays dirty for later.
      if (e !== null) return { flushed: false, error: e === '' ? null : e };
    } else {
      const slots: string[] = [];
      for (let i = 0; i < SLOTS; i++) if (node.slots[i] === 1) slots.push(String(i));
      if (slots.length === 0) return { flushed: false, error: null };
      const e = ClusterManager.errorOf(await this.command(node, ['CLUSTER', 'ADDSLOTS', ...slots]));
      node.dirty = false;
      if (e !== null) return { flushed: false, error: e === '' ? null : e };
      return { flushed: true, error: null };
    }
    node.dirty = false;
    return { flushed: true, error: null };
  }

  /** clusterManagerWaitForClusterJoin: a dot a second until every node agrees. */
  private async waitForClusterJoin(): Promise<void> {
    out('Waiting for the cluster to join\n');
    while (!(await this.isConfigConsistent())) {
      out('.');
      await sleep(1000);
    }
    out('\n');
  }

  /** clusterManagerGetAntiAffinityScore over the nodes grouped by IP; with `offenders`, collects them. */
  private antiAffinityScore(ipNodes: ManagedNode[][], offenders: ManagedNode[] | null): number {
    let score = 0;
    for (const group of ipNodes) {
      const related = new Map<string, string>();
      const ip = group[0]?.ip ?? '';
      for (const node of group) {
        const key = node.replicate ?? node.name;
        const types = related.get(key) ?? '';
        related.set(key, node.replicate !== null ? types + 's' : 'm' + types);
      }
      for (const [name, types] of related) {
        if (types.length < 2) continue;
        score += types[0] === 'm' ? 10000 * (types.length - 1) : types.length;
        if (offenders === null) continue;
        const n = this.nodes.find((x) => x.replicate !== null && x.replicate === name && x.ip === ip);
        if (n !== undefined) offenders.push(n);
      }
    }
    return score;
  }

  /** clusterManagerOptimizeAntiAffinity: random swaps of replicas' masters that do not make the score worse. */
  private optimizeAntiAffinity(ipNodes: ManagedNode[][]): void {
    if (this.antiAffinityScore(ipNodes, null) === 0) return;
    this.log(Level.Info, '>>> Trying to optimize slaves allocation for anti-affinity\n');
    const random = (n: number): number => Math.floor(Math.random() * n);
    for (let maxiter = 500 * this.nodes.length; maxiter > 0; maxiter--) {
      const offenders: ManagedNode[] = [];
      const score = this.antiAffinityScore(ipNodes, offenders);
      if (score === 0 || offenders.length === 0) break;
      const first = offenders[random(offenders.length)]!;
      const others = this.nodes.filter((n) => n !== first && n.replicate !== null);
      if (others.length === 0) break;
      const second = others[random(others.length)]!;
      const [a, b] = [first.replicate, second.replicate];
      first.replicate = b;
      second.replicate = a;
      first.dirty = second.dirty = true;
      if (this.antiAffinityScore(ipNodes, null) > score) {
        first.replicate = a;
        second.replicate = b;
      }
    }
    const score = this.antiAffinityScore(ipNodes, null);
    if (score === 0) this.log(Level.Success, '[OK] Perfect anti-affinity obtained!\n');
    else if (score >= 10000) this.log(Level.Warn, '[WARNING] Some slaves are in the same host as their master\n');
    else this.log(Level.Warn, '[WARNING] Some slaves of the same master are in the same host\n');
  }

  /** The CLUSTER MEET that makes `node` join `first` (the bus port only when not port + 10000). */
  private meet(node: ManagedNode, first: ManagedNode): Promise<Reply | null> {
    const argv = ['CLUSTER', 'MEET', first.ip, String(first.port)];
    if (first.busPort !== 0 && first.busPort !== first.port + 10000) argv.push(String(first.busPort));
    return this.command(node, argv);
  }

  /** clusterManagerCommandCreate. */
  private async create(args: string[]): Promise<boolean> {
    this.nodes = [];
    for (const addr of args) {
      const parsed = parseAddress(addr);
      if (parsed === null) {
        err(`Invalid address format: ${addr}\n`);
        return false;
      }
      const node = newNode(parsed.ip, parsed.port);
      if (!(await this.connect(node))) return false;
      this.nodes.push(node);
      if (!(await this.isUsableNew(node))) return false;
    }
    const replicas = this.flags.replicas;
    const mastersCount = Math.trunc(this.nodes.length / (replicas + 1));
    if (mastersCount < 3) {
      this.log(Level.Err, `*** ERROR: Invalid configuration for cluster creation.\n*** Redis Cluster requires at least 3 master nodes.\n*** This is not possible with ${this.nodes.length} nodes and ${replicas} replicas per node.`);
      this.log(Level.Err, `\n*** At least ${3 * (replicas + 1)} nodes are required.\n`);
      return false;
    }
    this.log(Level.Info, `>>> Performing hash slots allocation on ${this.nodes.length} nodes...\n`);
    // Interleave the nodes by IP so that masters land on different hosts.
    const ips: string[] = [];
    const ipNodes: ManagedNode[][] = [];
    for (const n of this.nodes) {
      let i = ips.indexOf(n.ip);
      if (i < 0) {
        i = ips.length;
        ips.push(n.ip);
        ipNodes.push([]);
      }
      ipNodes[i]!.push(n);
    }
    const queues = ipNodes.map((g) => [...g]);
    const interleavedAll: ManagedNode[] = [];
    while (interleavedAll.length < this.nodes.length) {
      for (const q of queues) if (q.length > 0) interleavedAll.push(q.shift()!);
    }
    const masters = interleavedAll.slice(0, mastersCount);
    let interleaved: (ManagedNode | null)[] = interleavedAll.slice(mastersCount);
    allocateSlots(mastersCount).forEach(([first, last], i) => {
      const master = masters[i]!;
      out(`Master[${i}] -> Slots ${first} - ${last}\n`);
      master.slots.fill(0);
      master.slots.fill(1, first, last + 1);
      master.slotsCount = last - first + 1;
      master.dirty = true;
    });
    // Rotating the list sometimes helps the anti-affinity before the optimizer runs.
    if (interleaved.length > 0) interleaved = [...interleaved.slice(1), interleaved[0]!];
    let assignUnused = false;
    let available = interleaved.length;
    for (;;) {
      for (const master of masters) {
        let assigned = 0;
        while (assigned < replicas) {
          if (available === 0) break;
          let slave: ManagedNode | null = null;
          let firstIdx = -1;
          for (let j = 0; j < interleaved.length; j++) {
            const n = interleaved[j];
            if (n === null || n === undefined) continue;
            if (n.ip !== master.ip) {
              slave = n;
              interleaved[j] = null;
              break;
            }
            if (firstIdx < 0) firstIdx = j;
          }
          if (slave === null && firstIdx >= 0) {
            slave = interleaved[firstIdx]!;
            interleaved = interleaved.slice(firstIdx + 1);
          }
          if (slave === null) break;
          assigned++;
          available--;
          slave.replicate = master.name;
          slave.dirty = true;
          out(`Adding replica ${slave.ip}:${slave.port} to ${master.ip}:${master.port}\n`);
          if (assignUnused) break;
        }
      }
      if (assignUnused || available <= 0) break;
      assignUnused = true;
      out('Adding extra replicas...\n');
    }
    this.optimizeAntiAffinity(ipNodes);
    for (const node of this.nodes) out(`${ClusterManager.nodeInfo(node)}\n`);
    if (!(await this.confirm('Can I set the above configuration?'))) return true;
    for (const node of this.nodes) {
      const { flushed, error } = await this.flushNodeConfig(node);
      if (!flushed && node.dirty && node.replicate === null) {
        if (error !== null) this.printReplyError(node, error);
        return false;
      }
    }
    this.log(Level.Info, '>>> Nodes configuration updated\n');
    this.log(Level.Info, '>>> Assign a different config epoch to each node\n');
    let epoch = 1;
    for (const node of this.nodes) await this.command(node, ['CLUSTER', 'SET-CONFIG-EPOCH', String(epoch++)]);
    this.log(Level.Info, '>>> Sending CLUSTER MEET messages to join the cluster\n');
    const first = this.nodes[0]!;
    for (const node of this.nodes.slice(1)) {
      const reply = await this.meet(node, first);
      if (reply === null) {
        err('Failed to send CLUSTER MEET command.\n');
        return false;
      }
      if (!this.ok(node, reply)) return false;
    }
    // A second for the join to start: empty nodes would agree at once.
    await sleep(1000);
    await this.waitForClusterJoin();
    for (const node of this.nodes) {
      if (!node.dirty) continue;
      const { flushed, error } = await this.flushNodeConfig(node);
      if (!flushed && node.replicate === null) {
        if (error !== null) this.printReplyError(node, error);
        return false;
      }
    }
    this.close();
    if (!(await this.loadFromNode(first.ip, first.port))) return false;
    await this.checkCluster();
    return true;
  }

  /** clusterManagerCommandAddNode. */
  private async addNode(args: string[]): Promise<boolean> {
    const target = ClusterManager.hostArgs(args.slice(0, 1));
    const ref = ClusterManager.hostArgs(args.slice(1));
    if (target === null || ref === null) {
      err(INVALID_HOST_ARG);
      return false;
    }
    this.log(Level.Info, `>>> Adding node ${target.ip}:${target.port} to cluster ${ref.ip}:${ref.port}\n`);
    if (!(await this.loadFromNode(ref.ip, ref.port))) return false;
    const refNode = this.nodes[0]!;
    if (!(await this.checkCluster())) return false;
    let master: ManagedNode | null = null;
    if (this.flags.slave) {
      if (this.flags.masterId !== null) {
        master = this.byName(this.flags.masterId) ?? null;
        if (master === null) {
          this.log(Level.Err, `[ERR] No such master ID ${this.flags.masterId}\n`);
          return false;
        }
      } else {
        master = this.leastReplicas();
        out(`Automatically selected master ${master.ip}:${master.port}\n`);
      }
    }
    const node = newNode(target.ip, target.port);
    if (!(await this.connect(node))) {
      this.log(Level.Err, `[ERR] Sorry, can't connect to node ${target.ip}:${target.port}\n`);
      return false;
    }
    const first = this.nodes[0]!;
    this.nodes.push(node);
    if (!(await this.isUsableNew(node))) return false;
    if (master === null) {
      // A new master gets the cluster's functions (a replica gets them from its master).
      this.log(Level.Info, '>>> Getting functions from cluster\n');
      const dump = await this.command(refNode, ['FUNCTION', 'DUMP']);
      if (dump === null || dump.type !== 'string') {
        const text = dump?.type === 'error' ? dump.value : 'NULL reply';
        this.log(Level.Info, `>>> Failed retrieving Functions from the cluster, skip this step as Redis version do not support function command (error = '${text}')\n`);
      } else {
        this.log(Level.Info, `>>> Send FUNCTION LIST to ${target.ip}:${target.port} to verify there is no functions in it\n`);
        const list = await this.command(node, ['FUNCTION', 'LIST']);
        if (list === null || list.type === 'error') {
          this.log(Level.Err, `>>> Failed on CLUSTER LIST (error = '${list?.type === 'error' ? list.value : 'NULL reply'}')\r\n`);
          return false;
        }
        if (list.type === 'array' && list.elements.length > 0) {
          this.log(Level.Err, '>>> New node already contains functions and can not be added to the cluster. Use FUNCTION FLUSH and try again.\r\n');
          return false;
        }
        this.log(Level.Info, `>>> Send FUNCTION RESTORE to ${target.ip}:${target.port}\n`);
        const restored = await this.command(node, ['FUNCTION', 'RESTORE', dump.value.toString('latin1')]);
        if (restored === null || restored.type === 'error') {
          this.log(Level.Err, `>>> Failed loading functions to the new node (error = '${restored?.type === 'error' ? restored.value : 'NULL reply'}')\r\n`);
          return false;
        }
      }
    }
    this.log(Level.Info, `>>> Send CLUSTER MEET to node ${target.ip}:${target.port} to make it join the cluster.\n`);
    if (!this.ok(node, await this.meet(node, first))) return false;
    if (master !== null) {
      await sleep(1000);
      await this.waitForClusterJoin();
      this.log(Level.Info, `>>> Configure node as replica of ${master.ip}:${master.port}.\n`);
      if (!this.ok(node, await this.command(node, ['CLUSTER', 'REPLICATE', master.name]))) return false;
    }
    this.log(Level.Success, '[OK] New node added correctly.\n');
    return true;
  }

  /** clusterManagerCommandDeleteNode. */
  private async delNode(args: string[]): Promise<boolean> {
    const host = ClusterManager.hostArgs(args.slice(0, 1));
    if (host === null || args.length < 2) {
      err(INVALID_HOST_ARG);
      return false;
    }
    const id = args[1]!;
    this.log(Level.Info, `>>> Removing node ${id} from cluster ${host.ip}:${host.port}\n`);
    if (!(await this.loadFromNode(host.ip, host.port))) return false;
    const node = this.byName(id);
    if (node === undefined) {
      this.log(Level.Err, `[ERR] No such node ID ${id}\n`);
      return false;
    }
    if (node.slotsCount !== 0) {
      this.log(Level.Err, `[ERR] Node ${node.ip}:${node.port} is not empty! Reshard data away and try again.\n`);
      return false;
    }
    this.log(Level.Info, '>>> Sending CLUSTER FORGET messages to the cluster...\n');
    for (const n of this.nodes) {
      if (n === node) continue;
      if (n.replicate !== null && n.replicate.toLowerCase() === id.toLowerCase()) {
        const master = this.leastReplicas();
        this.log(Level.Info, `>>> ${n.ip}:${n.port} as replica of ${master.ip}:${master.port}\n`);
        if (!this.ok(n, await this.command(n, ['CLUSTER', 'REPLICATE', master.name]))) return false;
      }
      if (!this.ok(n, await this.command(n, ['CLUSTER', 'FORGET', id]))) return false;
    }
    this.log(Level.Info, '>>> Sending CLUSTER RESET SOFT to the deleted node.\n');
    return this.ok(node, await this.command(node, ['CLUSTER', 'RESET', 'SOFT']));
  }

  /** clusterNodeForResharding: a known master other than the target, else redis-cli's error. */
  private nodeForResharding(id: string, target: ManagedNode | null): { node: ManagedNode | null; raise: boolean } {
    const node = this.byName(id);
    if (node === undefined || node.flags.includes('slave')) {
      this.log(Level.Err, `*** The specified node (${id}) is not known or not a master, please retry.\n`);
      return { node: null, raise: true };
    }
    if (target !== null && node.name === target.name) {
      this.log(Level.Err, '*** It is not possible to use the target node as source node.\n');
      return { node: null, raise: false };
    }
    return { node, raise: false };
  }

  /** clusterManagerComputeReshardTable: from each source (most slots first) its share, the first rounded up. */
  private static reshardTable(sources: ManagedNode[], numSlots: number): { source: ManagedNode; slot: number }[] {
    const moved: { source: ManagedNode; slot: number }[] = [];
    const total = sources.reduce((a, n) => a + n.slotsCount, 0);
    const sorted = [...sources].sort((a, b) => b.slotsCount - a.slotsCount);
    sorted.forEach((node, i) => {
      const share = Math.fround(Math.fround(numSlots / total) * node.slotsCount);
      const max = i === 0 ? Math.ceil(share) : Math.floor(share);
      let count = 0;
      for (let j = 0; j < SLOTS; j++) {
        if (node.slots[j] !== 1) continue;
        if (count >= max || moved.length >= numSlots) break;
        moved.push({ source: node, slot: j });
        count++;
      }
    });
    return moved;
  }

  /** clusterManagerSetSlot: CLUSTER SETSLOT <slot> <status> <node2's id>; resolves with the error text or null. */
  async setSlot(node: ManagedNode, other: ManagedNode, slot: number, status: string): Promise<string | null> {
    const reply = await this.command(node, ['CLUSTER', 'SETSLOT', String(slot), status, other.name]);
    if (reply === null) return SETSLOT_FAILED;
    return reply.type === 'error' ? reply.value : null;
  }

  private migrate(source: ManagedNode, target: ManagedNode, keys: string[], replace: boolean): Promise<Reply | null> {
    const argv = ['MIGRATE', target.ip, String(target.port), '', '0', String(this.flags.timeout)];
    if (replace) argv.push('REPLACE');
    if (this.config.auth !== null) {
      if (this.config.user !== null) argv.push('AUTH2', this.config.user, this.config.auth);
      else argv.push('AUTH', this.config.auth);
    }
    return this.command(source, [...argv, 'KEYS', ...keys]);
  }

  /** clusterManagerCompareKeysValues: keys present on both nodes with different DEBUG DIGEST-VALUE. */
  private async differingKeys(source: ManagedNode, target: ManagedNode, keys: string[]): Promise<string[] | null> {
    const zero = '0'.repeat(40);
    const r1 = await this.command(source, ['DEBUG', 'DIGEST-VALUE', ...keys]);
    const r2 = await this.command(target, ['DEBUG', 'DIGEST-VALUE', ...keys]);
    if (r1 === null || r2 === null) return null;
    let fine = true;
    if (r1.type === 'error') {
      this.printReplyError(source, r1.value);
      fine = false;
    }
    if (r2.type === 'error') {
      this.printReplyError(target, r2.value);
      fine = false;
    }
    if (!fine || r1.type !== 'array' || r2.type !== 'array') return null;
    const text = (r: Reply | undefined): string => (r === undefined ? '' : r.type === 'string' ? r.value.toString('latin1') : r.type === 'status' ? r.value : '');
    return keys.filter((_, i) => {
      const [h1, h2] = [text(r1.elements[i]), text(r2.elements[i])];
      return h1 !== zero && h2 !== zero && h1 !== h2;
    });
  }

  /**
   * clusterManagerGetSlotOwner: the known node that CLUSTER SLOTS (as `node` sees it) names for
   * the slot; `error` is the error reply's text, if any.
   */
  async slotOwner(node: ManagedNode, slot: number): Promise<{ owner: ManagedNode | null; error: string | null }> {
    const reply = await this.command(node, ['CLUSTER', 'SLOTS']);
    if (reply === null) return { owner: null, error: null };
    if (reply.type === 'error') return { owner: null, error: reply.value };
    if (reply.type !== 'array') return { owner: null, error: null };
    for (const range of reply.elements) {
      if (range.type !== 'array' || range.elements.length < 3) continue;
      const [from, to, master] = range.elements as [Reply, Reply, Reply];
      if (from.type !== 'integer' || to.type !== 'integer' || slot < Number(from.value) || slot > Number(to.value)) continue;
      if (master.type !== 'array' || master.elements.length < 2) continue;
      const text = (r: Reply | undefined): string => (r?.type === 'string' ? r.value.toString('latin1') : '');
      let owner: ManagedNode | undefined;
      if (master.elements.length >= 3) owner = this.byName(text(master.elements[2]));
      else {
        const port = master.elements[1]!;
        owner = this.nodes.find((n) => n.ip === text(master.elements[0]) && port.type === 'integer' && n.port === Number(port.value));
      }
      if (owner !== undefined) return { owner, error: null };
    }
    return { owner: null, error: null };
  }

  /**
   * clusterManagerMigrateKeysInSlot: GETKEYSINSLOT + MIGRATE, `pipeline` keys at a time. Resolves
   * with an error text (possibly "") or null. `reportErrors` is redis-cli's err pointer: without
   * it a GETKEYSINSLOT error goes unprinted (as redis-cli's fix leaves it).
   */
  private async migrateKeysInSlot(source: ManagedNode, target: ManagedNode, slot: number, verbose: boolean, reportErrors: boolean): Promise<string | null> {
    for (;;) {
      const reply = await this.command(source, ['CLUSTER', 'GETKEYSINSLOT', String(slot), String(this.flags.pipeline)]);
      if (reply === null) return '';
      if (reply.type === 'error') {
        if (reportErrors) this.printReplyError(source, reply.value);
        return reply.value;
      }
      const keys = reply.type === 'array' ? reply.elements.map((e) => (e.type === 'string' ? e.value.toString('latin1') : '')) : [];
      if (keys.length === 0) return null;
      let migrated = await this.migrate(source, target, keys, false);
      if (migrated === null) return '';
      if (migrated.type === 'error') {
        const busy = migrated.value.includes('BUSYKEY');
        let notServed = false;
        if (!busy) {
          // A slot the source does not serve any more is given to the target (fix) and retried.
          const { owner, error } = await this.slotOwner(source, slot);
          if (owner === null) {
            if (error === null) notServed = true;
            else this.printReplyError(source, error);
          }
        }
        if (!busy && !notServed) {
          out('\n');
          this.printReplyError(source, migrated.value);
          return migrated.value;
        }
        if (this.fixing && notServed) {
          this.log(Level.Warn, `*** Slot was not served, setting owner to node ${target.ip}:${target.port}.\n`);
          const e = await this.setSlot(source, target, slot, 'node');
          if (e !== null && e !== SETSLOT_FAILED) this.printReplyError(source, e);
        }
        if (busy) {
          this.log(Level.Warn, '\n*** Target key exists\n');
          if (!this.flags.replace) {
            this.log(Level.Warn, '*** Checking key values on both nodes...\n');
            const diffs = await this.differingKeys(source, target, keys);
            if (diffs === null) {
              this.log(Level.Err, '*** Value check failed!\n');
              return '';
            }
            if (diffs.length > 0) {
              this.log(
                Level.Err,
                `*** Found ${diffs.length} key(s) in both source node and target node having different values.\n    Source node: ${source.ip}:${source.port}\n    Target node: ${target.ip}:${target.port}\n    Keys(s):\n`,
              );
              for (const k of diffs) this.log(Level.Err, `    - ${k}\n`);
              this.log(Level.Err, 'Please fix the above key(s) manually and try again or relaunch the command \nwith --cluster-replace option to force key overriding.\n');
              return '';
            }
          }
          this.log(Level.Warn, '*** Replacing target keys...\n');
        }
        migrated = await this.migrate(source, target, keys, busy);
        if (migrated === null) return '';
        if (migrated.type === 'error') {
          out('\n');
          this.printReplyError(source, migrated.value);
          return migrated.value;
        }
      }
      if (verbose) out('.'.repeat(keys.length));
    }
  }

  /**
   * clusterManagerMoveSlot: importing, migrating, the keys, then the new owner everywhere (only
   * the keys when `cold`). Dots for the keys when `verbose`. With `reportErrors` (redis-cli's err
   * pointer) an error ends the move and is returned; without it (fix) SETSLOT errors are printed
   * and the source's own SETSLOT NODE failing does not stop the move.
   */
  async moveSlot(
    source: ManagedNode,
    target: ManagedNode,
    slot: number,
    opts: { quiet: boolean; update: boolean; verbose?: boolean; cold?: boolean; reportErrors?: boolean },
  ): Promise<string | null> {
    const reportErrors = opts.reportErrors ?? true;
    const setSlot = async (node: ManagedNode, other: ManagedNode, status: string): Promise<string | null> => {
      const e = await this.setSlot(node, other, slot, status);
      if (e !== null && !reportErrors && e !== SETSLOT_FAILED) this.printReplyError(node, e);
      return e;
    };
    if (!opts.quiet) out(`Moving slot ${slot} from ${source.ip}:${source.port} to ${target.ip}:${target.port}: `);
    let e: string | null;
    if (opts.cold !== true) {
      e = await setSlot(target, source, 'importing');
      if (e !== null) return e;
      e = await setSlot(source, target, 'migrating');
      if (e !== null) return e;
    }
    e = await this.migrateKeysInSlot(source, target, slot, opts.verbose ?? !opts.quiet, reportErrors);
    if (!opts.quiet) out('\n');
    if (e !== null) return e;
    if (opts.cold !== true) {
      // The target first (it propagates the change), then the source, then every other master.
      e = await setSlot(target, target, 'node');
      if (e !== null) return e;
      e = await setSlot(source, target, 'node');
      // A source that just lost its last slot may already be a replica: not an error.
      if (e !== null && reportErrors && !e.startsWith('ERR Please use SETSLOT only with masters.')) return e;
      for (const n of this.nodes) {
        if (n === target || n === source || n.flags.includes('slave')) continue;
        e = await setSlot(n, target, 'node');
        if (e !== null) return e;
      }
    }
    if (opts.update) {
      source.slots[slot] = 0;
      target.slots[slot] = 1;
    }
    return null;
  }

  /** clusterManagerCommandReshard. */
  private async reshard(args: string[]): Promise<boolean> {
    const host = ClusterManager.hostArgs(args);
    if (host === null) {
      err(INVALID_HOST_ARG);
      return false;
    }
    if (!(await this.loadFromNode(host.ip, host.port))) return false;
    await this.checkCluster();
    if (this.errors.length > 0) {
      err('*** Please fix your cluster problems before resharding\n');
      return false;
    }
    let slots = this.flags.slots;
    while (slots <= 0 || slots > SLOTS) {
      out(`How many slots do you want to move (from 1 to ${SLOTS})? `);
      const a = await this.answer(6);
      if (a === null) return false;
      slots = atoi(a);
    }
    let to = this.flags.to;
    while (to === null) {
      out('What is the receiving node ID? ');
      const a = await this.answer(255);
      if (a === null) return false;
      if (a.length > 0) to = a;
    }
    const target = this.nodeForResharding(to, null).node;
    if (target === null) return false;
    let sources: ManagedNode[] = [];
    let all = false;
    const addSource = (id: string): boolean => {
      const { node, raise } = this.nodeForResharding(id, target);
      if (node !== null) sources.push(node);
      return !raise;
    };
    if (this.flags.from === null) {
      out("Please enter all the source node IDs.\n  Type 'all' to use all the nodes as source nodes for the hash slots.\n  Type 'done' once you entered all the source nodes IDs.\n");
      for (;;) {
        out(`Source node #${sources.length + 1}: `);
        const a = await this.answer(255);
        if (a === null || a === 'done') break;
        if (a === 'all') {
          all = true;
          break;
        }
        if (!addSource(a)) return false;
      }
    } else {
      for (const id of this.flags.from.split(',')) {
        if (id === 'all') {
          all = true;
          break;
        }
        if (id !== '' && !addSource(id)) return false;
      }
    }
    if (all) sources = this.nodes.filter((n) => !n.flags.includes('slave') && n.replicate === null && n.name !== target.name);
    if (sources.length === 0) {
      err('*** No source nodes given, operation aborted.\n');
      return false;
    }
    out(`\nReady to move ${slots} slots.\n  Source nodes:\n`);
    for (const s of sources) out(`${ClusterManager.nodeInfo(s, 4)}\n`);
    out(`  Destination node:\n${ClusterManager.nodeInfo(target, 4)}\n`);
    const table = ClusterManager.reshardTable(sources, slots);
    out('  Resharding plan:\n');
    for (const item of table) out(`    Moving slot ${item.slot} from ${item.source.name}\n`);
    if (!this.flags.yes) {
      out('Do you want to proceed with the proposed reshard plan (yes/no)? ');
      if (((await this.answer(4)) ?? '').slice(0, 3) !== 'yes') return false;
    }
    for (const item of table) {
      const e = await this.moveSlot(item.source, target, item.slot, { quiet: false, update: false });
      if (e !== null) {
        if (e !== '') this.log(Level.Err, `clusterManagerMoveSlot failed: ${e}\n`);
        return false;
      }
    }
    return true;
  }

  /** clusterManagerCommandRebalance: every master (or, with --cluster-use-empty-masters, also empty ones) to its weighted share. */
  private async rebalance(args: string[]): Promise<boolean> {
    const host = ClusterManager.hostArgs(args);
    if (host === null) {
      err(INVALID_HOST_ARG);
      return false;
    }
    if (!(await this.loadFromNode(host.ip, host.port))) return false;
    const weight = new Map<ManagedNode, number>(this.nodes.map((n) => [n, 1]));
    for (const w of this.flags.weights) {
      const eq = w.indexOf('=');
      if (eq < 0) {
        this.log(Level.Err, `*** invalid input ${w}\n`);
        return false;
      }
      const prefix = w.slice(0, eq).toLowerCase();
      const n = this.nodes.find((x) => x.name !== '' && x.name.startsWith(prefix));
      if (n === undefined) {
        this.log(Level.Err, `*** No such master node ${w.slice(0, eq)}\n`);
        return false;
      }
      weight.set(n, Math.fround(atof(w.slice(eq + 1))));
    }
    let totalWeight = 0;
    const involved: ManagedNode[] = [];
    for (const n of this.nodes) {
      if (n.flags.includes('slave') || n.replicate !== null) continue;
      if (!this.flags.useEmptyMasters && n.slotsCount === 0) {
        weight.set(n, 0);
        continue;
      }
      totalWeight = Math.fround(totalWeight + weight.get(n)!);
      involved.push(n);
    }
    await this.checkCluster(true);
    if (this.errors.length > 0) {
      this.log(Level.Err, '*** Please fix your cluster problems before rebalancing\n');
      return false;
    }
    // Balance: the slots a node should give (positive) or take (negative).
    const balance = new Map<ManagedNode, number>();
    const threshold = Math.fround(this.flags.threshold);
    let reached = false;
    let total = 0;
    for (const n of involved) {
      const expected = Math.trunc(Math.fround(Math.fround(SLOTS / totalWeight) * weight.get(n)!));
      balance.set(n, n.slotsCount - expected);
      total += n.slotsCount - expected;
      if (threshold > 0) {
        if (n.slotsCount > 0) {
          if (Math.fround(Math.abs(100 - (100.0 * expected) / n.slotsCount)) > threshold) reached = true;
        } else if (expected > 1) {
          reached = true;
        }
      }
    }
    if (!reached) {
      this.log(Level.Warn, `*** No rebalancing needed! All nodes are within the ${fixed(this.flags.threshold, 2)}% threshold.\n`);
      return true;
    }
    // Rounding: whatever is given must be taken.
    while (total > 0) {
      for (const n of involved) {
        if (balance.get(n)! <= 0 && total > 0) {
          balance.set(n, balance.get(n)! - 1);
          total--;
        }
      }
    }
    const sorted = [...involved].sort((a, b) => balance.get(a)! - balance.get(b)!);
    this.log(Level.Info, `>>> Rebalancing across ${involved.length} nodes. Total weight = ${fixed(totalWeight, 2)}\n`);
    if (this.config.verbose) for (const n of sorted) out(`${n.ip}:${n.port} balance is ${balance.get(n)!} slots\n`);
    let dstIdx = 0;
    let srcIdx = sorted.length - 1;
    while (dstIdx < srcIdx) {
      const dst = sorted[dstIdx]!;
      const src = sorted[srcIdx]!;
      const numSlots = Math.min(Math.abs(balance.get(dst)!), Math.abs(balance.get(src)!));
      if (numSlots > 0) {
        out(`Moving ${numSlots} slots from ${src.ip}:${src.port} to ${dst.ip}:${dst.port}\n`);
        const table = ClusterManager.reshardTable([src], numSlots);
        if (table.length !== numSlots) {
          this.log(Level.Err, '*** Assertion failed: Reshard table != number of slots');
          return false;
        }
        if (this.flags.simulate) {
          out('#'.repeat(table.length));
        } else {
          for (const item of table) {
            const e = await this.moveSlot(item.source, dst, item.slot, { quiet: true, update: true });
            if (e !== null) {
              this.log(Level.Err, `*** clusterManagerMoveSlot: ${e}\n`);
              return false;
            }
            out('#');
          }
        }
        out('\n');
      }
      balance.set(dst, balance.get(dst)! + numSlots);
      balance.set(src, balance.get(src)! - numSlots);
      if (balance.get(dst) === 0) dstIdx++;
      if (balance.get(src) === 0) srcIdx--;
    }
    return true;
  }

  static hostArgs(args: string[]): { ip: string; port: number } | null {
    let ip: string;
    let port: number;
    if (args.length === 1) {
      const parsed = parseAddress(args[0]!);
      if (parsed === null) return null;
      ({ ip, port } = parsed);
    } else {
      ip = args[0] ?? '';
      port = atoi(args[1] ?? '');
    }
    return ip === '' || port === 0 ? null : { ip, port };
  }

  /** Runs `--cluster <name> args…`; resolves to redis-cli's exit status. */
  async run(name: string, args: string[]): Promise<number> {
    // validateClusterManagerCommand: the name as typed, and its arity.
    const arity = ARITY[name];
    if (arity === undefined) {
      err('Unknown --cluster subcommand\n');
      return 1;
    }
    if ((arity > 0 && args.length !== arity) || (arity < 0 && args.length < -arity)) {
      err('[ERR] Wrong number of arguments for specified --cluster sub command\n');
      return 1;
    }
    try {
      // fix is check with repairs.
      this.fixing = name === 'fix';
      switch (name) {
        case 'fix':
        case 'info':
        case 'check': {
          const host = args.length >= 1 ? ClusterManager.hostArgs(args) : null;
          if (host === null) {
            err(INVALID_HOST_ARG);
            return 1;
          }
          if (!(await this.loadFromNode(host.ip, host.port))) return 1;
          await this.showClusterInfo();
          if (name === 'info') return 0;
          return (await this.checkCluster()) ? 0 : 1;
        }
        case 'call':
          return await this.call(args);
        case 'create':
          return (await this.create(args)) ? 0 : 1;
        case 'add-node':
          return (await this.addNode(args)) ? 0 : 1;
        case 'del-node':
          return (await this.delNode(args)) ? 0 : 1;
        case 'reshard':
          return (await this.reshard(args)) ? 0 : 1;
        case 'rebalance':
          return (await this.rebalance(args)) ? 0 : 1;
        case 'set-timeout':
          return (await clusterSetTimeout(this, args)) ? 0 : 1;
        case 'import':
          return (await clusterImport(this, args)) ? 0 : 1;
        case 'backup':
          return (await clusterBackup(this, args)) ? 0 : 1;
        default:
          // help: redis-cli's help returns 0, the mode's failure (exit status 1).
          clusterHelp();
          return 1;
      }
    } finally {
      this.close();
    }
  }

  /** clusterManagerCommandCall: the command on every node, each reply raw. */
  private async call(args: string[]): Promise<number> {
    const host = args.length >= 2 ? ClusterManager.hostArgs(args.slice(0, 1)) : null;
    if (host === null) {
      err(INVALID_HOST_ARG);
      return 1;
    }
    if (!(await this.loadFromNode(host.ip, host.port))) return 1;
    const argv = args.slice(1);
    this.log(Level.Info, '>>> Calling');
    out(`${argv.map((a) => ` ${a}`).join('')}\n`);
    for (const n of this.nodes) {
      if (this.options.onlyMasters && n.replicate !== null) continue;
      if (this.options.onlyReplicas && n.replicate === null) continue;
      if (n.conn === null && !(await this.connect(n))) continue;
      const reply = await this.command(n, argv);
      if (reply === null) out(`${n.ip}:${n.port}: Failed!\n`);
      else out(`${n.ip}:${n.port}: ${formatRaw(reply, { multiBulkDelimiter: this.config.multiBulkDelimiter, commandDelimiter: this.config.commandDelimiter })}\n`);
    }
    return 0;
  }
}

const HOST_ARG = '<host:port> or <host> <port> - separated by either colon or space';

/** clusterManagerCommands: name, arity (negative: at least that many arguments), usage, options. */
const COMMANDS: [name: string, arity: number, args: string | null, options: string | null][] = [
  ['create', -2, 'host1:port1 ... hostN:portN', 'replicas <arg>'],
  ['check', -1, HOST_ARG, 'search-multiple-owners'],
  ['info', -1, HOST_ARG, null],
  ['fix', -1, HOST_ARG, 'search-multiple-owners,fix-with-unreachable-masters'],
  ['reshard', -1, HOST_ARG, 'from <arg>,to <arg>,slots <arg>,yes,timeout <arg>,pipeline <arg>,replace'],
  ['rebalance', -1, HOST_ARG, 'weight <node1=w1...nodeN=wN>,use-empty-masters,timeout <arg>,simulate,pipeline <arg>,threshold <arg>,replace'],
  ['add-node', 2, 'new_host:new_port existing_host:existing_port', 'slave,master-id <arg>'],
  ['del-node', 2, 'host:port node_id', null],
  ['call', -2, 'host:port command arg arg .. arg', 'only-masters,only-replicas'],
  ['set-timeout', 2, 'host:port milliseconds', null],
  ['import', 1, 'host:port', 'from <arg>,from-user <arg>,from-pass <arg>,from-askpass,copy,replace'],
  ['backup', 2, 'host:port backup_directory', null],
  ['help', 0, null, null],
];
const ARITY: Record<string, number> = Object.fromEntries(COMMANDS.map(([name, arity]) => [name, arity]));

/** clusterManagerCommandHelp. */
function clusterHelp(): void {
  const pad = 15;
  let text = 'Cluster Manager Commands:\n';
  for (const [name, , args, options] of COMMANDS) {
    text += `  ${name}${' '.repeat(Math.max(0, pad - name.length))}${args ?? ''}\n`;
    for (const option of options?.split(',') ?? []) text += `${' '.repeat(pad)}  --cluster-${option}\n`;
  }
  text += '\nFor check, fix, reshard, del-node, set-timeout, info, rebalance, call, import, backup you can specify the host and port of any working node in the cluster.\n';
  text += `\nCluster Manager Options:\n  --cluster-yes${' '.repeat(pad - 13)}Automatic yes to cluster commands prompts\n\n`;
  out(text);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
