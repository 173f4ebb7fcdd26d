/**
 * Redis Cluster from the user's side, with real processes: the real `redis-cli --cluster create`
 * over three nodis and three redis-server 7.0.15 nodes with a replica each, `--cluster check`
 * clean, CLUSTER NODES/SLOTS/SHARDS agreeing on every node; then in a shard of one nodis and one
 * redis-server node: manual CLUSTER FAILOVER both ways, the nodis master killed and its
 * redis-server replica elected, the nodis node back from its nodes.conf as a replica, the
 * redis-server master killed and the nodis replica elected. nodis's nodes.conf is then loaded
 * by redis-server itself.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import type { Redis } from 'ioredis';
import { startServer, stopAll, freePort, type RunningServer } from './helpers/server.js';

after(stopAll);

const REDIS = '/usr/bin/redis-server';
const TIMEOUT = '2000';

interface Node {
  kind: 'nodis' | 'redis';
  port: number;
  busPort: number;
  dir: string;
  server: RunningServer;
  client: Redis;
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function start(kind: 'nodis' | 'redis', port?: number, busPort?: number, dir?: string): Promise<Node> {
  const p = port ?? (await freePort());
  const bp = busPort ?? (await freePort());
  let d = dir;
  if (d === undefined) {
    d = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cluster-'));
    dirs.push(d);
  }
  const server = await startServer({
    bin: kind === 'redis' ? REDIS : undefined,
    port: p,
    args: ['--dir', d, '--cluster-enabled', 'yes', '--cluster-port', String(bp), '--cluster-node-timeout', TIMEOUT, '--repl-diskless-sync-delay', '0', '--appendonly', 'no'],
  });
  return { kind, port: p, busPort: bp, dir: d, server, client: server.client() };
}

function cli(args: string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('redis-cli', args, { timeout: 120000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
    child.stdin!.end(input);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function clusterInfo(c: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const text = (await c.call('CLUSTER', 'INFO')) as string;
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** CLUSTER NODES without what differs legitimately between nodes (myself, ping/pong times). */
async function normalizedNodes(c: Redis): Promise<string> {
  const text = (await c.call('CLUSTER', 'NODES')) as string;
  return text.trim().split('\n').map((line) => {
    const f = line.split(' ');
    f[2] = f[2]!.replace('myself,', '');
    return [f[0], f[1], f[2], f[3], f[6], f[7], ...f.slice(8)].join(' ');
  }).sort().join('\n');
}

async function role(c: Redis): Promise<string> {
  return ((await c.call('ROLE')) as unknown[])[0] as string;
}

test('mixed cluster of 3 nodis and 3 redis-server nodes: create, check, manual failovers both ways, masters killed both ways', { timeout: 600000 }, async () => {
  const nodes: Node[] = [];
  for (const kind of ['nodis', 'redis', 'nodis', 'redis', 'nodis', 'redis'] as const) nodes.push(await start(kind));
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  const created = await cli(['--cluster', 'create', ...addrs, '--cluster-replicas', '1', '--cluster-yes']);
  assert.match(created, /\[OK\] All 16384 slots covered/);

  await waitFor('cluster_state:ok on every node', async () => {
    for (const n of nodes) if ((await clusterInfo(n.client)).cluster_state !== 'ok') return false;
    return true;
  });
  await waitFor('CLUSTER NODES agreeing on every node', async () => {
    const views = await Promise.all(nodes.map((n) => normalizedNodes(n.client)));
    return views.every((v) => v === views[0] && !v.includes('handshake') && !v.includes('disconnected'));
  });
  const view = await normalizedNodes(nodes[0]!.client);
  assert.equal(view.split('\n').length, 6);
  assert.equal(view.split('\n').filter((l) => l.split(' ')[2] === 'master').length, 3);
  // SLOTS and SHARDS: the same on every node once the replicas report their offsets.
  await waitFor('CLUSTER SLOTS/SHARDS agreeing', async () => {
    const slots = await Promise.all(nodes.map((n) => n.client.call('CLUSTER', 'SLOTS').then((r) => JSON.stringify(r))));
    const shards = await Promise.all(nodes.map(async (n) => {
      const r = (await n.client.call('CLUSTER', 'SHARDS')) as unknown[][];
      // replication-offset moves; compare everything else.
      return JSON.stringify(r.map((s) => JSON.stringify(s).replace(/"replication-offset",\d+/g, '')).sort());
    }));
    const sorted = (s: string): string => JSON.stringify((JSON.parse(s) as unknown[]).map((x) => JSON.stringify(x)).sort());
    return slots.every((s) => sorted(s) === sorted(slots[0]!)) && shards.every((s) => s === shards[0]) &&
      (JSON.parse(slots[0]!) as unknown[][]).every((r) => r.length === 4);
  });
  const check = await cli(['--cluster', 'check', addrs[0]!]);
  assert.match(check, /\[OK\] All nodes agree about slots configuration/);
  assert.match(check, /\[OK\] All 16384 slots covered/);
  assert.doesNotMatch(check, /\[ERR\]|\[WARNING\]/);

  // A shard with one nodis and one redis-server node (there is one: 3 nodis in shards of 2).
  const ids = new Map<string, Node>();
  for (const n of nodes) ids.set((await n.client.call('CLUSTER', 'MYID')) as string, n);
  const lines = ((await nodes[0]!.client.call('CLUSTER', 'NODES')) as string).trim().split('\n').map((l) => l.split(' '));
  let pair: [Node, Node] | null = null;
  for (const l of lines) {
    if (!l[2]!.includes('slave')) continue;
    const replica = ids.get(l[0]!)!;
    const master = ids.get(l[3]!)!;
    if (replica.kind !== master.kind) pair = replica.kind === 'nodis' ? [replica, master] : [master, replica];
  }
  assert.ok(pair !== null, 'a mixed shard');
  let [nodis, redis] = pair;
  const others = nodes.filter((n) => n !== nodis && n !== redis);

  const becomesMaster = (n: Node, what: string): Promise<void> =>
    waitFor(what, async () => (await role(n.client)) === 'master' && (await clusterInfo(n.client)).cluster_state === 'ok').catch((e: Error) => {
      throw new Error(`${e.message}\n--- nodis log:\n${nodis.server.output().slice(-6000)}\n--- redis log:\n${redis.server.output().slice(-4000)}`);
    });
  const seenAsMasterBy = (n: Node, by: Node[]): Promise<void> =>
    waitFor('every node seeing the new master', async () => {
      for (const o of by) {
        const line = ((await o.client.call('CLUSTER', 'NODES')) as string).split('\n').find((l) => l.includes(`:${n.port}@`))!;
        if (!/ (myself,)?master /.test(line) || !/ \d+-\d+/.test(line)) return false;
        if ((await clusterInfo(o.client)).cluster_state !== 'ok') return false;
      }
      return true;
    }).catch(async (e: Error) => {
      const views: string[] = [];
      for (const o of by) views.push(`--- ${o.kind} :${o.port} ${(await clusterInfo(o.client)).cluster_state}\n${(await o.client.call('CLUSTER', 'NODES')) as string}`);
      throw new Error(`${e.message} (:${n.port})\n${views.join('\n')}\n--- nodis log:\n${nodis.server.output().slice(-6000)}\n--- redis log:\n${redis.server.output().slice(-6000)}`);
    });
  /** The replica's link is up and its master knows it as its replica (MFSTART is refused before). */
  const linkUp = (replica: Node): Promise<void> =>
    waitFor('replication link up', async () => {
      if (!(await replica.client.info('replication')).includes('master_link_status:up')) return false;
      const master = replica === nodis ? redis : nodis;
      const id = (await replica.client.call('CLUSTER', 'MYID')) as string;
      const mid = (await master.client.call('CLUSTER', 'MYID')) as string;
      if (!((await master.client.call('CLUSTER', 'REPLICAS', mid)) as string[]).some((l) => l.startsWith(id))) return false;
      // Every other node knows it as that master's replica: a voter that still sees the
      // requester as a master denies it its vote (clusterSendFailoverAuthIfNeeded), in Redis too.
      for (const o of others) {
        const line = ((await o.client.call('CLUSTER', 'NODES')) as string).split('\n').find((l) => l.startsWith(id));
        if (line === undefined || !line.includes(' slave ' + mid)) return false;
      }
      return true;
    });

  // Redis 7.0.15's election timing, which the redis-server nodes here follow (cluster.c): a
  // master votes about one master's replicas at most once per 2 × node timeout, and a replica
  // keeps its last election's state for 4 × node timeout (within 2 × of them it would "win"
  // again with its old votes and an old epoch, the cluster then down for good; within the rest
  // it waits). So a failover waits until both have passed for the shard's nodes.
  const nodeTimeout = Number(TIMEOUT);
  const votedAbout = new Map<Node, number>();
  const electedAt = new Map<Node, number>();
  const promoted = (replica: Node, master: Node): void => {
    votedAbout.set(master, Date.now());
    electedAt.set(replica, Date.now());
  };
  const electionsSettled = (replica: Node, master: Node): Promise<void> =>
    waitFor('Redis\'s election timers to pass', async () =>
      Date.now() - (votedAbout.get(master) ?? 0) > 2 * nodeTimeout && Date.now() - (electedAt.get(replica) ?? 0) > 4 * nodeTimeout);

  // Manual failover: the nodis node becomes the shard's master (whichever role it had).
  if ((await role(nodis.client)) !== 'master') {
    await linkUp(nodis);
    assert.equal(await nodis.client.call('CLUSTER', 'FAILOVER'), 'OK');
    await becomesMaster(nodis, 'nodis promoted by CLUSTER FAILOVER (redis-server master)');
    promoted(nodis, redis);
    await seenAsMasterBy(nodis, [redis, ...others]);
  }
  await linkUp(redis);
  // Manual failover the other way: the redis-server replica of the nodis master.
  await electionsSettled(redis, nodis);
  assert.equal(await redis.client.call('CLUSTER', 'FAILOVER'), 'OK');
  await becomesMaster(redis, 'redis-server promoted by CLUSTER FAILOVER (nodis master)');
  promoted(redis, nodis);
  await seenAsMasterBy(redis, [nodis, ...others]);
  await waitFor('nodis a replica', async () => (await role(nodis.client)) === 'slave');
  await linkUp(nodis);
  await electionsSettled(nodis, redis);
  assert.equal(await nodis.client.call('CLUSTER', 'FAILOVER'), 'OK');
  await becomesMaster(nodis, 'nodis promoted again');
  promoted(nodis, redis);
  await seenAsMasterBy(nodis, [redis, ...others]);
  await linkUp(redis);

  const nodisId = (await nodis.client.call('CLUSTER', 'MYID')) as string;
  // The nodis master dies: its redis-server replica is elected by the other masters.
  await electionsSettled(redis, nodis);
  nodis.client.disconnect();
  await nodis.server.stop('SIGKILL');
  await becomesMaster(redis, 'redis-server replica elected after the nodis master died');
  promoted(redis, nodis);
  await seenAsMasterBy(redis, others);
  await waitFor('the dead nodis master flagged fail', async () =>
    ((await others[0]!.client.call('CLUSTER', 'NODES')) as string).split('\n').some((l) => l.startsWith(nodisId) && l.includes('master,fail')));

  // It comes back from its nodes.conf, learns it lost its slots and replicates the winner.
  nodis = await start('nodis', nodis.port, nodis.busPort, nodis.dir);
  assert.equal(await nodis.client.call('CLUSTER', 'MYID'), nodisId);
  await waitFor('nodis back as a replica', async () => (await role(nodis.client)) === 'slave');
  await linkUp(nodis);

  // The redis-server master dies: the nodis replica is elected.
  await electionsSettled(nodis, redis);
  redis.client.disconnect();
  await redis.server.stop('SIGKILL');
  await becomesMaster(nodis, 'nodis replica elected after the redis-server master died');
  await seenAsMasterBy(nodis, others);

  // nodis's nodes.conf is one redis-server loads.
  const conf = fs.readFileSync(path.join(nodis.dir, 'nodes.conf'), 'latin1');
  assert.match(conf, /^vars currentEpoch \d+ lastVoteEpoch \d+$/m);
  const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cluster-copy-'));
  dirs.push(copyDir);
  fs.writeFileSync(path.join(copyDir, 'nodes.conf'), conf);
  const loaded = await start('redis', undefined, undefined, copyDir);
  assert.equal(await loaded.client.call('CLUSTER', 'MYID'), nodisId);
  const mine = ((await loaded.client.call('CLUSTER', 'NODES')) as string).split('\n').find((l) => l.startsWith(nodisId))!;
  assert.match(mine, /myself,master/);
  redis = loaded;
});

test('an unknown node id gets the same error from nodis and redis-server in every subcommand that names a node', { timeout: 120000 }, async () => {
  const pair = [await start('nodis'), await start('redis')];
  const unknown = 'e'.repeat(40);
  const commands = [
    ['FORGET', unknown], ['REPLICATE', unknown], ['REPLICAS', unknown], ['SLAVES', unknown],
    ['COUNT-FAILURE-REPORTS', unknown], ['SETSLOT', '100', 'NODE', unknown], ['FORGET', 'short-id'],
  ];
  for (const args of commands) {
    const replies = await Promise.all(pair.map((n) => n.client.call('CLUSTER', ...args).then((r) => `ok ${String(r)}`, (e: Error) => `err ${e.message}`)));
    assert.equal(replies[0], replies[1], `CLUSTER ${args.join(' ')}`);
    assert.match(replies[0]!, /^err ERR Unknown node /);
  }
  for (const n of pair) await n.server.stop();
});
