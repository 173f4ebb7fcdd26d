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

test('cluster-link-sendbuf-limit: a link whose unsent bytes pass the limit is freed and made again; the inbound one stays', { timeout: 180000 }, async () => {
  // As the cluster suite's 24-links: the peer is stopped, so PUBLISH messages pile up on the link to it.
  const cluster = await startCluster({ masters: 2, replicasPerMaster: 0 });
  const [m1, m2] = [cluster.masters[0]!, cluster.masters[1]!];
  const primary = new Redis({ port: m1.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  let stopped = false;
  try {
    type Link = Record<string, string | number>;
    const linkTo = async (dir: string): Promise<Link | undefined> => {
      const all = (await primary.call('CLUSTER', 'LINKS')) as unknown[][];
      for (const flat of all) {
        const l: Link = {};
        for (let i = 0; i < flat.length; i += 2) l[String(flat[i])] = flat[i + 1] as string | number;
        if (l.node === m2.id && l.direction === dir) return l;
      }
      return undefined;
    };
    const exceeded = async (): Promise<number> => Number(/total_cluster_links_buffer_limit_exceeded:(\d+)/.exec(String(await primary.call('CLUSTER', 'INFO')))![1]);
    await waitFor('both links to the peer', async () => (await linkTo('to')) !== undefined && (await linkTo('from')) !== undefined, 60000);
    const to0 = (await linkTo('to'))!;
    const from0 = (await linkTo('from'))!;
    await primary.config('SET', 'cluster-node-timeout', String(3600 * 1000));
    await primary.config('SET', 'cluster-link-sendbuf-limit', String(256 * 1024));
    assert.equal(await exceeded(), 0);
    process.kill(m2.pid, 'SIGSTOP');
    stopped = true;
    const payload = 'x'.repeat(128 * 1024);
    let sent = 0;
    await waitFor('the link freed over the limit', async () => {
      await primary.publish('channel', payload);
      sent++;
      return (await exceeded()) >= 1;
    }, 120000);
    assert.ok(sent > 2, `freed after ${sent} messages: more than the limit's worth`);
    const to1 = await linkTo('to');
    assert.ok(to1 !== undefined && Number(to1['create-time']) > Number(to0['create-time']), 'a new link to the peer');
    assert.equal((await linkTo('from'))?.['create-time'], from0['create-time'], 'the link from the peer untouched');
    assert.match(m1.log(), new RegExp(`Freeing cluster link\\(to node ${m2.id}, used memory: \\d+\\) due to exceeding send buffer memory limit\\.`));
  } finally {
    if (stopped) process.kill(m2.pid, 'SIGCONT');
    primary.disconnect();
    await cluster.stop();
  }
});
