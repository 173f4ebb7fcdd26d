/**
 * Replica migration (cluster.c's clusterHandleSlaveMigration) with real nodis processes: a master
 * left without working replicas gets one from the master with the most, and the replica that
 * moves holds its old master's keys — Redis migrates it all the same (the new master's full sync
 * replaces the dataset). As Redis's cluster suite's 07-replica-migration, after a write test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis, Cluster } from 'ioredis';
import { startCluster, type NodisClusterNode } from '../src/api/index.js';
import { waitFor } from './helpers/conditions.js';

async function ask<T>(node: NodisClusterNode, ...args: string[]): Promise<T> {
  const c = new Redis(node.port, node.host, { lazyConnect: true, retryStrategy: () => null });
  try {
    return (await c.call(args[0]!, ...args.slice(1))) as T;
  } finally {
    c.disconnect();
  }
}

/** The port of the master a replica follows (ROLE's third element), or 0 for a master. */
async function masterPort(node: NodisClusterNode): Promise<number> {
  const role = await ask<unknown[]>(node, 'ROLE');
  return role[0] === 'slave' ? Number(role[2]) : 0;
}

test('a replica holding keys migrates to an orphaned master (clusterHandleSlaveMigration needs no empty dataset)', { timeout: 300000 }, async () => {
  const cluster = await startCluster({ masters: 2, replicasPerMaster: 2, nodeTimeoutMs: 1000 });
  try {
    // Keys in every master's slots, so every replica holds some.
    const client = new Cluster([...cluster.nodes], { enableOfflineQueue: true });
    try {
      for (let i = 0; i < 200; i++) await client.set(`key:${i}`, String(i));
    } finally {
      client.disconnect();
    }
    const [a, b] = cluster.masters as [NodisClusterNode, NodisClusterNode];
    const replicasOf = async (m: NodisClusterNode): Promise<NodisClusterNode[]> => {
      const out: NodisClusterNode[] = [];
      for (const r of cluster.replicas) if ((await masterPort(r)) === m.port) out.push(r);
      return out;
    };
    await waitFor('both replicas of each master synced with keys', async () => {
      for (const r of cluster.replicas) if ((await ask<number>(r, 'DBSIZE')) === 0) return false;
      return (await replicasOf(a)).length === 2 && (await replicasOf(b)).length === 2;
    }, 90000);
    const fromA = await replicasOf(a);
    // B loses both its replicas: it is orphaned, and it had replicas (MIGRATE_TO).
    for (const r of await replicasOf(b)) await cluster.kill(r);
    // One of A's replicas (the one with the smallest node id) moves to B and syncs from it.
    await waitFor('a replica of A to follow B', async () => {
      const role = await ask<unknown[]>(b, 'ROLE');
      const slaves = role[2] as unknown[][];
      return slaves.some((s) => fromA.some((r) => Number(s[1]) === r.port));
    }, 90000);
    const moved = [...fromA].sort((x, y) => (x.id < y.id ? -1 : 1))[0]!;
    assert.equal(await masterPort(moved), b.port);
    // A keeps the other one (the migration barrier of 1).
    const stayed = fromA.find((r) => r !== moved)!;
    assert.equal(await masterPort(stayed), a.port);
  } finally {
    await cluster.stop();
  }
});
