/**
 * nodis-cli --cluster: redis-cli's cluster manager (redis-cli.c clusterManager*), with its output
 * byte for byte. Commands: info, check, call (help lists redis-cli's).
 *
 * The model is redis-cli's: load the cluster from one node's CLUSTER NODES (its "friends"),
 * connect to each reachable one and load its own view of itself (slots, migrating and importing
 * slots, flags), then act on that list in that order. Colours only when TERM names an xterm
 * (isColorTerm), as redis-cli.
 */
import { Connection } from './connection.js';
import { formatRaw } from './format.js';
import type { CliConfig } from './options.js';
import { out, err } from './io.js';
import type { Reply } from '../protocol/reply-parser.js';

const SLOTS = 16384;
const INVALID_HOST_ARG =
  '[ERR] Invalid arguments: you need to pass either a valid address (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)\n';

const enum Level {
  Info,
  Warn,
  Err,
  Success,
}
const COLORS = ['29;1m', '33;1m', '31;1m', '32;1m'];

interface ManagedNode {
  ip: string;
  port: number;
  name: string;
  flags: string[];
  replicate: string | null;
  slots: Uint8Array;
  slotsCount: number;
  replicasCount: number;
  migrating: [string, string][];
  importing: [string, string][];
  conn: Connection | null;
}

export interface ClusterManagerOptions {
  onlyMasters: boolean;
  onlyReplicas: boolean;
}

function newNode(ip: string, port: number): ManagedNode {
  return { ip, port, name: '', flags: [], replicate: null, slots: new Uint8Array(SLOTS), slotsCount: 0, replicasCount: 0, migrating: [], importing: [], conn: null };
}

/** "ip:port[@cport][,hostname]" → ip and port (parseClusterNodeAddress), null when malformed. */
function parseAddress(addr: string): { ip: string; port: number } | null {
  const comma = addr.indexOf(',');
  if (comma >= 0) addr = addr.slice(0, comma);
  const at = addr.indexOf('@');
  if (at >= 0) addr = addr.slice(0, at);
  const colon = addr.lastIndexOf(':');
  if (colon < 0) return null;
  return { ip: addr.slice(0, colon), port: atoi(addr.slice(colon + 1)) };
}

function atoi(s: string): number {
  const m = /^\s*[+-]?\d+/.exec(s);
  return m === null ? 0 : Number.parseInt(m[0], 10);
}

export class ClusterManager {
  private nodes: ManagedNode[] = [];
  private readonly errors: string[] = [];
  private readonly colors = (process.env.TERM ?? '').includes('xterm');

  constructor(
    private readonly config: CliConfig,
    private readonly options: ClusterManagerOptions,
  ) {}

  private log(level: Level, text: string): void {
    if (this.colors) out(`\x1b[${COLORS[level]}${text}\x1b[0m`);
    else out(text);
  }

  private onError(text: string): void {
    this.errors.push(text);
    this.log(Level.Err, `${text}\n`);
  }

  /** clusterManagerNodeConnect, with the session's AUTH. */
  private async connect(node: ManagedNode): Promise<boolean> {
    const conn = await Connection.open({ host: node.ip, port: node.port });
    if (typeof conn === 'string') {
      err(`Could not connect to Redis at ${node.ip}:${node.port}: ${conn}\n`);
      return false;
    }
    if (this.config.auth !== null) {
      const args = this.config.user !== null ? ['AUTH', this.config.user, this.config.auth] : ['AUTH', this.config.auth];
      await conn.command(args).catch(() => undefined);
    }
    node.conn = conn;
    return true;
  }

  private async command(node: ManagedNode, argv: string[]): Promise<Reply | null> {
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
      if (flagList.includes('slave') && masterId !== '-') current.replicate = masterId;
      if (friends === null) break;
    }
    return null;
  }

  /** clusterManagerLoadInfoFromNode. */
  private async loadFromNode(ip: string, port: number): Promise<boolean> {
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
      if (friend.ip === '' || friend.port === 0) continue;
      if (!(await this.connect(friend))) continue;
      if ((await this.loadInfo(friend, null)) !== null) {
        this.log(Level.Err, `[ERR] Unable to load info for node ${friend.ip}:${friend.port}\n`);
        friend.conn?.close();
        continue;
      }
      if (friend.flags.some((f) => f === 'noaddr' || f === 'disconnected' || f === 'fail')) {
        friend.conn?.close();
        continue;
      }
      this.nodes.push(friend);
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
  private static slotsString(node: ManagedNode): string {
    const ranges: string[] = [];
    let first = -1;
    for (let i = 0; i <= SLOTS; i++) {
      const has = i < SLOTS && node.slots[i] === 1;
      if (has && first < 0) first = i;
      if (!has && first >= 0) {
        ranges.push(first === i - 1 ? `[${first}]` : `[${first}-${i - 1}]`);
        first = -1;
      }
    }
    return ranges.join(',');
  }

  /** clusterManagerNodeInfo at indent 0. */
  private static nodeInfo(node: ManagedNode): string {
    const master = !node.flags.includes('slave');
    const flags = node.flags.filter((f) => f !== 'myself').join(',');
    let info = `${master ? 'M' : 'S'}: ${node.name} ${node.ip}:${node.port}\n   slots:${ClusterManager.slotsString(node)} (${node.slotsCount} slots) ${flags}`;
    if (node.replicate !== null) info += `\n   replicates ${node.replicate}`;
    else if (node.replicasCount > 0) info += `\n   ${node.replicasCount} additional replica(s)`;
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

  /** clusterManagerCheckCluster (without --cluster fix): true when no issue was found. */
  private async checkCluster(): Promise<boolean> {
    const first = this.nodes[0];
    if (first === undefined) return false;
    this.log(Level.Info, `>>> Performing Cluster Check (using node ${first.ip}:${first.port})\n`);
    let result = true;
    for (const node of this.nodes) out(`${ClusterManager.nodeInfo(node)}\n`);
    if (!(await this.isConfigConsistent())) {
      this.onError("[ERR] Nodes don't agree about configuration!");
      result = false;
    } else {
      this.log(Level.Success, '[OK] All nodes agree about slots configuration.\n');
    }
    this.log(Level.Info, '>>> Check for open slots...\n');
    const open: string[] = [];
    for (const n of this.nodes) {
      for (const [list, state] of [[n.migrating, 'migrating'], [n.importing, 'importing']] as const) {
        if (list.length === 0) continue;
        for (const [slot] of list) if (!open.includes(slot)) open.push(slot);
        this.onError(`[WARNING] Node ${n.ip}:${n.port} has slots in ${state} state ${list.map(([s]) => s).join(',')}.`);
      }
    }
    if (open.length > 0) {
      result = false;
      this.log(Level.Err, `[WARNING] The following slots are open: ${open.join(',')}.\n`);
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
    }
    return result;
  }

  private static hostArgs(args: string[]): { ip: string; port: number } | null {
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
    try {
      switch (name.toLowerCase()) {
        case 'info':
        case 'check': {
          const host = args.length >= 1 ? ClusterManager.hostArgs(args) : null;
          if (host === null) {
            err(INVALID_HOST_ARG);
            return 1;
          }
          if (!(await this.loadFromNode(host.ip, host.port))) return 1;
          await this.showClusterInfo();
          if (name.toLowerCase() === 'info') return 0;
          return (await this.checkCluster()) ? 0 : 1;
        }
        case 'call':
          return await this.call(args);
        default:
          err(`Unknown --cluster subcommand\n`);
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

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
