/**
 * startCluster() as a user's test would use it, through the public API only: a 3-master cluster
 * for node-redis's createCluster; a 3 × (master + replica) cluster for ioredis's Cluster writing
 * through a master's death (kill, waitForFailover), the old master restarted and back as a
 * replica; stop() leaving no process and no directory behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Redis, Cluster } from 'ioredis';
import { createCluster } from 'redis';
import { startCluster, type NodisClusterNode } from '../src/api/index.js';

async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // Not yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function field(node: NodisClusterNode, section: string, name: string): Promise<string> {
  const c = new Redis(node.port, node.host, { lazyConnect: true, retryStrategy: () => null });
  try {
    const text = (await c.info(section)) as string;
    return new RegExp(`^${name}:(.*)\\r$`, 'm').exec(text)?.[1] ?? '';
  } finally {
    c.disconnect();
  }
}

function gone(servers: readonly NodisClusterNode[]): void {
  for (const s of servers) {
    assert.equal(s.running, false);
    assert.equal(fs.existsSync(s.dir), false, `${s.dir} left behind`);
  }
}

test('startCluster(): three masters, every slot covered, node-redis createCluster({ rootNodes }) reads and writes', async () => {
  const cluster = await startCluster();
  try {
    assert.equal(cluster.servers.length, 3);
    assert.equal(cluster.masters.length, 3);
    assert.equal(cluster.replicas.length, 0);
    assert.deepEqual(cluster.nodes, cluster.servers.map((s) => ({ host: '127.0.0.1', port: s.port })));
    // Every node: ok, the same slot ranges as redis-cli --cluster create gives three masters.
    for (const s of cluster.servers) {
      assert.equal(await field(s, 'cluster', 'cluster_enabled'), '1');
      const c = new Redis(s.port);
      assert.match((await c.call('CLUSTER', 'INFO')) as string, /cluster_state:ok\r\ncluster_slots_assigned:16384\r\n/);
      const slots = ((await c.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][]).map(([a, b, m]) => [a, b, m[1]]).sort((x, y) => x[0]! - y[0]!);
      assert.deepEqual(slots, [
        [0, 5460, cluster.masters[0]!.port],
        [5461, 10922, cluster.masters[1]!.port],
        [10923, 16383, cluster.masters[2]!.port],
      ]);
      assert.equal(await c.call('CLUSTER', 'MYID'), s.id);
      c.disconnect();
    }
    const nr = createCluster({ rootNodes: [...cluster.rootNodes] });
    await nr.connect();
    for (let i = 0; i < 300; i++) await nr.set(`key:${i}`, String(i));
    for (let i = 0; i < 300; i++) assert.equal(await nr.get(`key:${i}`), String(i));
    // Every key is where masterOf() says, and the keys are spread over the three masters.
    const counts = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      const m = cluster.masterOf(`key:${i}`);
      counts.set(m.port, (counts.get(m.port) ?? 0) + 1);
    }
    for (const m of cluster.masters) {
      const c = new Redis(m.port);
      assert.equal(await c.dbsize(), counts.get(m.port));
      c.disconnect();
    }
    await nr.quit();
  } finally {
    await cluster.stop();
  }
  gone(cluster.servers);
});

test('startCluster({ replicasPerMaster: 1 }): ioredis Cluster writes through kill(master) + waitForFailover(); the old master returns as a replica', async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const io = new Cluster([...cluster.nodes], { clusterRetryStrategy: () => 100 });
  io.on('error', () => {});
  try {
    assert.equal(cluster.servers.length, 6);
    assert.equal(cluster.masters.length, 3);
    for (const r of cluster.replicas) assert.equal(await field(r, 'replication', 'role'), 'slave');
    for (let i = 0; i < 200; i++) assert.equal(await io.set(`k${i}`, String(i)), 'OK');
    const victim = cluster.masterOf('k0');
    const replica = cluster.replicas.find((r) => cluster.servers.indexOf(r) === cluster.masters.indexOf(victim) + 3)!;
    // Every acknowledged write has reached the victim's replica before the victim dies.
    await eventually('the replica to catch up', async () => (await field(replica, 'replication', 'master_repl_offset')) === (await field(victim, 'replication', 'master_repl_offset')));
    await cluster.kill(victim);
    assert.equal(victim.running, false);
    const promoted = await cluster.waitForFailover({ timeoutMs: 60000 });
    assert.equal(promoted, replica);
    assert.equal(cluster.masterOf('k0'), replica);
    assert.equal(cluster.masters.includes(victim), false);
    // The client finds the new master through MOVED / its slot refresh; nothing was lost.
    await eventually('ioredis to reach the new master', async () => (await io.get('k0')) === '0');
    for (let i = 0; i < 200; i++) assert.equal(await io.get(`k${i}`), String(i));
    assert.equal(await io.set('after', 'failover'), 'OK');
    // Back from its nodes.conf on the same ports: a replica of the node that replaced it.
    await cluster.restart(victim);
    await eventually('the old master to rejoin as a replica', async () => (await field(victim, 'replication', 'master_port')) === String(replica.port) && (await field(victim, 'replication', 'master_link_status')) === 'up');
    await cluster.waitForAgreement();
    assert.equal(cluster.masterOf('k0'), replica);
  } finally {
    io.disconnect();
    await cluster.stop();
  }
  gone(cluster.servers);
});

test("a replica loading a full sync gossips offset 0: hidden from its master's CLUSTER SLOTS, `loading` in CLUSTER SHARDS, back once loaded (cluster suite 22)", async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const clients: Redis[] = [];
  try {
    const masterNode = cluster.masterOf('{0}');
    const master = new Redis(masterNode.port);
    const replicaNode = cluster.servers[cluster.servers.indexOf(masterNode) + 3]!;
    const replica = new Redis(replicaNode.port);
    clients.push(master, replica);
    const myId = (await replica.call('CLUSTER', 'MYID')) as string;
    type SlotRow = [number, number, ...[string, number, string][]];
    const listed = async (): Promise<boolean> =>
      ((await master.call('CLUSTER', 'SLOTS')) as SlotRow[]).some((row) => row.slice(2).some((n) => (n as [string, number, string])[2] === myId));
    const health = async (): Promise<string> => {
      const shards = (await master.call('CLUSTER', 'SHARDS')) as unknown[][];
      for (const shard of shards) {
        for (const node of shard[3] as unknown[][]) {
          const f = new Map<unknown, unknown>();
          for (let i = 0; i < node.length; i += 2) f.set(node[i], node[i + 1]);
          if (f.get('id') === myId) return String(f.get('health'));
        }
      }
      return 'absent';
    };
    await eventually('the replica to be online', async () => (await field(replicaNode, 'replication', 'master_link_status')) === 'up' && (await listed()));
    assert.equal(await health(), 'online');
    // A full sync whose load takes seconds: the backlog cannot bridge 100 KB of writes.
    await master.config('SET', 'repl-backlog-size', '100');
    await replica.config('SET', 'key-load-delay', '40000');
    await replica.config('SET', 'loading-process-events-interval-bytes', '1024');
    const value = 'A'.repeat(1024);
    const multi = master.multi();
    multi.call('CLIENT', 'KILL', 'TYPE', 'replica');
    for (let j = 0; j < 100; j++) multi.set(`{0}${j}`, value);
    await multi.exec();
    await eventually('the replica to load', async () => /^loading:1\r$/m.test(await replica.info('persistence')));
    // The master is the last to know, by the replica's next ping (CLUSTER SLOTS is refused while loading).
    await eventually('the master to hide the loading replica', async () => !(await listed()));
    assert.equal(await health(), 'loading');
    assert.match(await replica.info('persistence'), /^loading:1\r$/m);
    await replica.config('SET', 'key-load-delay', '0');
    await eventually('the replica to finish loading', async () => (await field(replicaNode, 'replication', 'master_link_status')) === 'up');
    // Again the master learns it from the replica's next ping, not at once.
    await eventually('the master to list the replica again', async () => await listed());
    await eventually('the replica to be online again', async () => (await health()) === 'online');
  } finally {
    for (const c of clients) c.disconnect();
    await cluster.stop();
  }
  gone(cluster.servers);
});

test('startCluster(): bad sizes are refused before any process starts', async () => {
  await assert.rejects(startCluster({ masters: 0 }), /at least one master/);
  await assert.rejects(startCluster({ replicasPerMaster: -1 }), /replicasPerMaster/);
});
