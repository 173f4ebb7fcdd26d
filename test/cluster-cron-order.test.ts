/**
 * clusterCron runs after the loop turn's reads, as Redis runs time events after file events: a
 * node that was blocked (here DEBUG SLEEP) first reads the PONG that arrived meanwhile, so it
 * does not flag the node that answered as PFAIL (and gossip it to the others) on waking.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startCluster, type NodisClusterNode } from '../src/api/index.js';
import { waitFor } from './helpers/conditions.js';

/** The ping-sent field of `about`'s line in `c`'s CLUSTER NODES. */
async function pingSent(c: Redis, about: NodisClusterNode): Promise<number> {
  const text = (await c.call('CLUSTER', 'NODES')) as string;
  const line = text.split('\n').find((l) => l.startsWith(`${about.id} `));
  assert.ok(line !== undefined, `no line for ${about.id}`);
  return Number(line.split(' ')[4]);
}

test('a node blocked while a PONG arrived reads it before its cron judges the ping delay', { timeout: 180000 }, async () => {
  const cluster = await startCluster({ masters: 3, nodeTimeoutMs: 2000, config: { loglevel: 'debug', 'enable-debug-command': 'yes' } });
  const [a, b] = cluster.masters as [NodisClusterNode, NodisClusterNode];
  const ca = new Redis(a.port, a.host);
  const probe = new Redis(a.port, a.host);
  let stopped = false;
  try {
    // B stops answering; wait until A has a ping to B outstanding (it pings when B's PONG is
    // older than half the node timeout).
    process.kill(b.pid, 'SIGSTOP');
    stopped = true;
    await waitFor('A to ping B', async () => (await pingSent(ca, b)) !== 0, 30000);
    const logFrom = a.log().length;
    // A blocks for longer than the node timeout...
    const sleeping = ca.call('DEBUG', 'SLEEP', '4');
    await waitFor('A to be blocked', async () => {
      const answered = await Promise.race([probe.ping().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
      return !answered;
    });
    // ...and B answers the ping meanwhile: its PONG waits in A's socket.
    process.kill(b.pid, 'SIGCONT');
    stopped = false;
    await sleeping;
    await waitFor('A to take B\'s PONG', async () => (await pingSent(ca, b)) === 0, 30000);
    assert.doesNotMatch(a.log().slice(logFrom), new RegExp(`NODE ${b.id} possibly failing`));
  } finally {
    if (stopped) process.kill(b.pid, 'SIGCONT');
    ca.disconnect();
    probe.disconnect();
    await cluster.stop();
  }
});
