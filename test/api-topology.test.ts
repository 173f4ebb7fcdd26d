/**
 * startTopology() as a user's failover test would use it, through the public API only: a
 * master, two replicas and three sentinels; ioredis and node-redis Sentinel clients writing
 * through kill('master'); the old master restarted and rejoining as a replica.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import { startReplicaSet, startTopology } from '../src/api/index.js';

async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // Not yet (the client is between masters).
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('startReplicaSet: replicas linked on resolve; a write on the master reaches them', async () => {
  const set = await startReplicaSet({ replicas: 2 });
  try {
    assert.equal(set.replicas.length, 2);
    const m = new Redis(set.master.port);
    assert.equal(await m.set('k', 'v'), 'OK');
    assert.equal(await m.wait(2, 5000), 2);
    for (const r of set.replicas) {
      const c = new Redis(r.port);
      assert.equal(await c.get('k'), 'v');
      assert.match((await c.info('replication')) as string, /role:slave/);
      c.disconnect();
    }
    // pause() stops a node for a while: it answers nothing, then carries on where it was.
    const r = new Redis(set.replicas[0]!.port);
    const paused = set.pause(set.replicas[0]!, 1500);
    await eventually('the replica to be stopped', async () => {
      const answered = await Promise.race([r.ping().then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 300))]);
      return !answered;
    });
    await paused;
    assert.equal(await r.ping(), 'PONG');
    assert.equal(await r.get('k'), 'v');
    r.disconnect();
    m.disconnect();
  } finally {
    await set.stop();
  }
});

test('startTopology: three sentinels; ioredis and node-redis write through kill(master); the old master rejoins as a replica', async () => {
  const topo = await startTopology({ replicas: 2, sentinels: 3, name: 'app' });
  // The sentinels as the API gives them are what both clients take.
  const io = new Redis({ sentinels: [...topo.sentinels], name: topo.name, sentinelRetryStrategy: () => 50, retryStrategy: () => 50 });
  io.on('error', () => {});
  const nr = createSentinel({ name: topo.name, sentinelRootNodes: [...topo.sentinels] });
  nr.on('error', () => {});
  try {
    assert.equal(topo.sentinels.length, 3);
    assert.equal(topo.replicas.length, 2);
    // Every sentinel knows both replicas and the two other sentinels when startTopology resolves.
    for (const s of topo.sentinels) {
      const c = new Redis(s.port, s.host);
      assert.equal(((await c.call('sentinel', 'replicas', 'app')) as unknown[]).length, 2);
      assert.equal(((await c.call('sentinel', 'sentinels', 'app')) as unknown[]).length, 2);
      c.disconnect();
    }
    await nr.connect();
    assert.equal(await io.set('before', 'io'), 'OK');
    assert.equal(await nr.set('before-nr', 'nr'), 'OK');

    const old = await topo.kill('master');
    assert.equal(old.running, false);
    const promoted = await topo.waitForFailover({ timeoutMs: 60000 });
    assert.notEqual(promoted.port, old.port);
    assert.equal(topo.master, promoted);

    await eventually('ioredis writes on the new master', async () => (await io.set('after', 'io')) === 'OK');
    await eventually('node-redis writes on the new master', async () => (await nr.set('after-nr', 'nr')) === 'OK');
    const direct = new Redis(promoted.port);
    assert.equal(await direct.get('after'), 'io');
    assert.equal(await direct.get('after-nr'), 'nr');
    assert.equal(await direct.get('before'), 'io');

    // The old master comes back on its port and the sentinels make it a replica of the new one.
    await topo.restart(old);
    await topo.waitForReplicas({ timeoutMs: 60000 });
    const back = new Redis(old.port);
    const info = (await back.info('replication')) as string;
    assert.match(info, /role:slave/);
    assert.match(info, new RegExp(`master_port:${promoted.port}`));
    await eventually('the rejoined replica has the writes', async () => (await back.get('after')) === 'io');
    back.disconnect();
    direct.disconnect();
  } finally {
    io.disconnect();
    await nr.close().catch(() => {});
    await topo.stop();
  }
});
