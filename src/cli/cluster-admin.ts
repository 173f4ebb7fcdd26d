/**
 * `nodis-cli --cluster set-timeout | import | backup` (redis-cli.c
 * clusterManagerCommandSetTimeout, clusterManagerCommandImport, clusterManagerCommandBackup),
 * with redis-cli's output:
 * - set-timeout: CONFIG SET cluster-node-timeout + CONFIG REWRITE on every node;
 * - import: every key of a standalone node's db 0 (SCAN) MIGRATEd to the master of its slot;
 * - backup: nodes.json (each node as redis-cli describes it) and one RDB per master, fetched
 *   with SYNC as `--rdb` does, named redis-node-<ip>-<port>-<id>.rdb.
 */
import fs from 'node:fs';
import { ClusterManager, INVALID_HOST_ARG, Level, type ManagedNode } from './cluster-manager.js';
import { Connection } from './connection.js';
import { err, out } from './io.js';
import { atoi } from './options.js';
import { syncToFile } from './transfer.js';
import { slotRanges } from './cluster-repair.js';
import { keyHashSlot, CLUSTER_SLOTS } from '../cluster/slot.js';
import type { Reply } from '../protocol/reply-parser.js';

const text = (r: Reply | null | undefined): string => (r === null || r === undefined ? '' : r.type === 'string' || r.type === 'verbatim' ? r.value.toString('latin1') : r.type === 'status' || r.type === 'error' ? r.value : '');

/** clusterManagerCommandSetTimeout. */
export async function clusterSetTimeout(m: ClusterManager, args: string[]): Promise<boolean> {
  const host = ClusterManager.hostArgs(args.slice(0, 1));
  if (host === null) {
    err(INVALID_HOST_ARG);
    return false;
  }
  const timeout = atoi(args[1]!);
  if (timeout < 100) {
    err('Setting a node timeout of less than 100 milliseconds is a bad idea.\n');
    return false;
  }
  if (!(await m.loadFromNode(host.ip, host.port))) return false;
  let okCount = 0;
  let errCount = 0;
  m.log(Level.Info, '>>> Reconfiguring node timeout in every cluster node...\n');
  for (const n of m.nodes) {
    let failure: string | null = null;
    for (const argv of [['CONFIG', 'SET', 'cluster-node-timeout', String(timeout)], ['CONFIG', 'REWRITE']]) {
      const reply = await m.command(n, argv);
      if (reply === null || reply.type === 'error') {
        failure = reply === null ? '' : reply.value;
        break;
      }
    }
    if (failure === null) {
      m.log(Level.Warn, `*** New timeout set for ${n.ip}:${n.port}\n`);
      okCount++;
    } else {
      m.log(Level.Err, `ERR setting node-timeout for ${n.ip}:${n.port}: ${failure}\n`);
      errCount++;
    }
  }
  m.log(Level.Info, `>>> New node timeout set. ${okCount} OK, ${errCount} ERR.\n`);
  return true;
}

/** clusterManagerCommandImport: db 0 of a standalone node into the cluster, key by key. */
export async function clusterImport(m: ClusterManager, args: string[]): Promise<boolean> {
  const host = ClusterManager.hostArgs(args);
  if (host === null) {
    err(INVALID_HOST_ARG);
    return false;
  }
  const flags = m.flags;
  if (flags.from === null) {
    err("[ERR] Option '--cluster-from' is required for subcommand 'import'.\n");
    return false;
  }
  const src = ClusterManager.hostArgs([flags.from]);
  if (src === null) {
    err('[ERR] Invalid --cluster-from host. You need to pass a valid address (ie. 120.0.0.1:7000).\n');
    return false;
  }
  m.log(Level.Info, `>>> Importing data from ${src.ip}:${src.port} to cluster ${host.ip}:${host.port}\n`);
  if (!(await m.loadFromNode(host.ip, host.port))) return false;
  if (!(await m.checkCluster())) return false;
  // redisConnect: the source is reached without TLS even under --tls, as redis-cli does.
  const conn = await Connection.open({ host: src.ip, port: src.port });
  if (typeof conn === 'string') {
    err(`Could not connect to Redis at ${src.ip}:${src.port}: ${conn}.\n`);
    return false;
  }
  const replyError = (e: string): false => {
    m.log(Level.Err, `Source ${src.ip}:${src.port} replied with error:\n${e}\n`);
    return false;
  };
  const command = async (argv: string[]): Promise<Reply | null> => {
    try {
      return await conn.command(argv);
    } catch {
      return null;
    }
  };
  try {
    // cliAuth: only when a password was given.
    if (flags.fromPass !== null) {
      const auth = await command(flags.fromUser === null ? ['AUTH', flags.fromPass] : ['AUTH', flags.fromUser, flags.fromPass]);
      if (auth === null) {
        err('\nI/O error\n');
        return false;
      }
      if (auth.type === 'error') {
        err(`AUTH failed: ${auth.value}\n`);
        return false;
      }
    }
    const info = await command(['INFO']);
    if (info === null || info.type === 'error') return info === null ? false : replyError(info.value);
    const enabled = /(?:^|\r\n)cluster_enabled:([^\r\n]*)/.exec(text(info));
    if (enabled !== null && atoi(enabled[1]!) !== 0) {
      m.log(Level.Err, '[ERR] The source node should not be a cluster node.\n');
      return false;
    }
    const size = await command(['DBSIZE']);
    if (size === null || size.type === 'error') return size === null ? false : replyError(size.value);
    m.log(Level.Warn, `*** Importing ${size.type === 'integer' ? Number(size.value) : 0} keys from DB 0\n`);
    // Slot → the first master (in the loaded order) that serves it.
    const owners: (ManagedNode | undefined)[] = new Array(CLUSTER_SLOTS);
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
      owners[slot] = m.nodes.find((n) => !n.flags.includes('slave') && n.slotsCount > 0 && n.slots[slot] === 1);
    }
    const extra: string[] = [];
    const { auth, user } = m.config;
    if (auth !== null) extra.push(...(user !== null ? ['AUTH2', user, auth] : ['AUTH', auth]));
    if (flags.copy) extra.push('COPY');
    if (flags.replace) extra.push('REPLACE');
    let cursor = -999;
    while (cursor !== 0) {
      if (cursor < 0) cursor = 0;
      const page = await command(['SCAN', String(cursor), 'COUNT', '1000']);
      if (page === null || page.type === 'error') return page === null ? false : replyError(page.value);
      if (page.type !== 'array' || page.elements.length < 2) return false;
      const [next, keys] = page.elements as [Reply, Reply];
      cursor = next.type === 'integer' ? Number(next.value) : atoi(text(next));
      for (const key of keys.type === 'array' ? keys.elements : []) {
        const name = text(key);
        const target = owners[keyHashSlot(name)]!;
        out(`Migrating ${name} to ${target.ip}:${target.port}: `);
        const r = await command(['MIGRATE', target.ip, String(target.port), name, '0', String(flags.timeout), ...extra]);
        if (r === null) return false;
        if (r.type === 'error') return replyError(r.value);
        m.log(Level.Success, 'OK\n');
      }
    }
    return true;
  } finally {
    conn.close();
  }
}

/** clusterManagerNodeGetJSON. */
function nodeJson(node: ManagedNode, errorCount: number): string {
  const flags = node.flags.filter((f) => f !== 'myself').join(',');
  let json =
    '  {\n' +
    `    "name": "${node.name}",\n` +
    `    "host": "${node.ip}",\n` +
    `    "port": ${node.port},\n` +
    `    "replicate": ${node.replicate === null ? 'null' : `"${node.replicate}"`},\n` +
    `    "slots": [${slotRanges(node.slots).replaceAll('-', ',')}],\n` +
    `    "slots_count": ${node.slotsCount},\n` +
    `    "flags": "${flags}",\n` +
    `    "current_epoch": ${node.configEpoch}`;
  if (errorCount > 0) json += `,\n    "cluster_errors": ${errorCount}`;
  const pairs = (list: [string, string][]): string => list.map(([slot, other]) => `"${slot}": "${other}"`).join(',');
  if (node.migrating.length > 0) json += `,\n    "migrating": {${pairs(node.migrating)}}`;
  if (node.importing.length > 0) json += `,\n    "importing": {${pairs(node.importing)}}`;
  return `${json}\n  }`;
}

/** clusterManagerCommandBackup: nodes.json and an RDB per master into the directory. */
export async function clusterBackup(m: ClusterManager, args: string[]): Promise<boolean> {
  const host = ClusterManager.hostArgs(args.slice(0, 1));
  if (host === null) {
    err(INVALID_HOST_ARG);
    return false;
  }
  if (!(await m.loadFromNode(host.ip, host.port))) return false;
  const noIssues = await m.checkCluster();
  const errorCount = noIssues ? 0 : m.errors.length;
  const dir = args[1]!;
  const inDir = (name: string): string => (dir.endsWith('/') ? dir : `${dir}/`) + name;
  const parts: string[] = [];
  for (const node of m.nodes) {
    parts.push(nodeJson(node, errorCount));
    if (node.replicate !== null) continue;
    m.log(Level.Info, `>>> Node ${node.ip}:${node.port} -> Saving RDB...\n`);
    // getRDB: SYNC on the node's own connection, which the transfer uses up.
    const conn = node.conn!;
    node.conn = null;
    await syncToFile(conn.detach(), inDir(`redis-node-${node.ip}-${node.port}-${node.name}.rdb`));
  }
  const jsonPath = inDir('nodes.json');
  m.log(Level.Info, `Saving cluster configuration to: ${jsonPath}\n`);
  try {
    fs.writeFileSync(jsonPath, Buffer.from(`[\n${parts.join(',\n')}\n]`, 'latin1'));
  } catch {
    m.log(Level.Err, `Could not save nodes to: ${jsonPath}\n`);
    m.log(Level.Success, '[ERR] Failed to back cluster!\n');
    return false;
  }
  if (!noIssues) m.log(Level.Warn, "*** Cluster seems to have some problems, please be aware of it if you're going to restore this backup.\n");
  m.log(Level.Success, `[OK] Backup created into: ${dir}\n`);
  return true;
}
