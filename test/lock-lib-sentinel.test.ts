/**
 * nodis/lock with Sentinel-managed clients (ioredis `sentinels`, node-redis `createSentinel`)
 * against nodis-server + nodis-sentinel: grants are made durable on both replicas by WAIT, a
 * grant survives a SIGKILL failover, its holder finds out its lease ran out while the master
 * was gone, and the fencing token after the failover is larger than every token before it.
 * (The full fault run is scripts/lock-harness.mjs; this is its bounded slice for CI.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import { Lock, LockError, closeLockConnections } from '../src/lock/index.js';
import { Group, redisCli, waitFor, type SentinelProc } from './helpers/sentinel-cluster.js';
import { freePort } from './helpers/server.js';

describe('nodis/lock with Sentinel-managed clients, across a failover', () => {
  const g = new Group();
  let ports: number[] = [];
  let master: ChildProcess;
  let sentinel: SentinelProc;
  let io: Redis;

  before(async () => {
    ports = [await freePort(), await freePort(), await freePort()];
    master = await g.startData('nodis', ports[0]!, null);
    for (const p of ports.slice(1)) {
      await g.startData('nodis', p, null);
      redisCli(p, 'replicaof', '127.0.0.1', String(ports[0]));
    }
    await waitFor('replicas in sync', async () => {
      for (const p of ports.slice(1)) if (!(await g.info(p)).includes('master_link_status:up')) return false;
      return (await g.info(ports[0]!)).includes('connected_slaves:2');
    });
    sentinel = await g.startSentinel('nodis', ports[0]!, 1);
    await waitFor('sentinel sees both replicas', async () => {
      const m = (await g.client(sentinel.port).call('sentinel', 'master', 'tedu')) as string[];
      return m[m.indexOf('num-slaves') + 1] === '2';
    });
    io = new Redis({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], name: 'tedu', retryStrategy: () => 100, sentinelRetryStrategy: () => 100 });
    io.on('error', () => {});
  });
  after(async () => {
    closeLockConnections(io);
    io.disconnect();
    await g.cleanup();
  });

  it('node-redis createSentinel: acquire (WAIT on both replicas), exclude, release', async () => {
    const nr = createSentinel({ name: 'tedu', sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.port }] });
    nr.on('error', () => {});
    await nr.connect();
    try {
      const lock = new Lock(nr, 'sentinel:nr', { ttl: 10000 });
      const held = await lock.acquire({ wait: 0 });
      for (const p of ports.slice(1)) assert.equal(await g.client(p).get('sentinel:nr'), held.owner, `replica ${p} has the grant`);
      await assert.rejects(lock.acquire({ wait: 0 }), (e: unknown) => e instanceof LockError && e.code === 'TIMEOUT');
      await held.release();
      closeLockConnections(nr);
    } finally {
      nr.destroy();
    }
  });

  it('a durable grant survives SIGKILL of the master; tokens keep growing on the new master', async () => {
    const ttl = 8000;
    const lock = new Lock(io, 'sentinel:orders', { ttl });
    const before: number[] = [];
    for (let i = 0; i < 3; i++) {
      const h = await lock.acquire({ wait: 0 });
      before.push(h.token);
      await h.release();
    }
    const held = await lock.acquire({ wait: 0 });
    const grantedAt = Date.now();
    for (const p of ports.slice(1)) assert.equal(await g.client(p).get('sentinel:orders'), held.owner);
    master.kill('SIGKILL');
    const promoted = await waitFor('failover', async () => {
      const p = await g.masterAddr(sentinel.port);
      return p !== ports[0] ? p : null;
    });
    await waitFor('promoted replica is master', async () => ((await g.client(promoted).call('role')) as unknown[])[0] === 'master');
    // The grant was on both replicas (WAIT), so the promoted one still has it until its TTL
    // runs out (a slow failover on a loaded machine may take longer than that).
    const onNew = await g.client(promoted).get('sentinel:orders');
    if (Date.now() < grantedAt + ttl - 500) assert.equal(onNew, held.owner, 'the grant survived the failover');
    // The holder could not renew while the master was gone: its lease clock ran out.
    await new Promise<void>((r) => (held.signal.aborted ? r() : held.signal.addEventListener('abort', () => r())));
    // A new holder gets in on the new master once the lease ends, with a larger token.
    const next = await new Lock(io, 'sentinel:orders', { ttl, durability: { replicas: 1 } }).acquire({ wait: 30000 });
    assert.ok(next.token > held.token && held.token > before[2]!, `tokens ${before.join(',')} → ${held.token} → ${next.token}`);
    assert.equal(await g.client(promoted).get('sentinel:orders'), next.owner);
    await next.release();
  });
});
