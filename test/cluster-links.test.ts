/**
 * DEBUG CLUSTERLINK KILL, as the main suite's unit/cluster/links uses it: a master's link to one
 * replica freed inside a MULTI, an SPUBLISH in the same transaction reaches the other replica
 * only, clusterCron reconnects, and the next SPUBLISH reaches both. Errors as debug.c's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startCluster } from '../src/api/index.js';
import { waitFor } from './helpers/conditions.js';

test('DEBUG CLUSTERLINK KILL TO frees the link; a shard message sent meanwhile is lost to that node only; the link comes back', { timeout: 180000 }, async () => {
  const cluster = await startCluster({ masters: 1, replicasPerMaster: 2, config: { 'enable-debug-command': 'yes' } });
  const clients: Redis[] = [];
  const open = (port: number): Redis => {
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    clients.push(c);
    return c;
  };
  try {
    const [master, r1, r2] = [cluster.masters[0]!, cluster.replicas[0]!, cluster.replicas[1]!];
    const primary = open(master.port);
    const links = async (): Promise<number> => ((await primary.call('CLUSTER', 'LINKS')) as unknown[]).length;
    await waitFor('both links to both replicas', async () => (await links()) === 4, 60000);
    const got1: string[] = [];
    const got2: string[] = [];
    const sub1 = open(r1.port);
    const sub2 = open(r2.port);
    sub1.on('smessage', (_ch: string, m: string) => got1.push(m));
    sub2.on('smessage', (_ch: string, m: string) => got2.push(m));
    await sub1.ssubscribe('ch3');
    await sub2.ssubscribe('ch3');
    const res = await primary.multi().call('DEBUG', 'CLUSTERLINK', 'KILL', 'TO', r1.id).call('SPUBLISH', 'ch3', 'hello').exec();
    assert.deepEqual(res, [[null, 'OK'], [null, 0]]);
    await waitFor('the links back', async () => (await links()) === 4, 60000);
    await primary.call('SPUBLISH', 'ch3', 'world');
    await waitFor('both messages at replica 2', async () => got2.length === 2, 30000);
    await waitFor('world at replica 1', async () => got1.length >= 1, 30000);
    assert.deepEqual(got2, ['hello', 'world']);
    assert.deepEqual(got1, ['world']);

    await assert.rejects(primary.call('DEBUG', 'CLUSTERLINK', 'KILL', 'TO', 'a'.repeat(40)), { message: `ERR Unknown node ${'a'.repeat(40)}` });
    await assert.rejects(primary.call('DEBUG', 'CLUSTERLINK', 'KILL', 'SIDEWAYS', r1.id), { message: 'ERR Unknown direction SIDEWAYS' });
    assert.equal(await primary.call('DEBUG', 'CLUSTERLINK', 'KILL', 'ALL', r2.id), 'OK');
    await waitFor('the links back after ALL', async () => (await links()) === 4, 60000);
  } finally {
    for (const c of clients) c.disconnect();
    await cluster.stop();
  }
});
