/**
 * A slot leaving a node's shard ends its shard channel subscriptions there, each subscriber told
 * by a SUNSUBSCRIBE push (cluster.c clusterDelSlot → removeChannelsInSlot), as the cluster
 * suite's 25-pubsubshard-slot-migration expects after CLUSTER SETSLOT <slot> NODE <other>.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from 'ioredis';
import { startCluster } from '../src/api/index.js';
import { keyHashSlot } from '../src/cluster/slot.js';
import { waitFor } from './helpers/conditions.js';

test('CLUSTER SETSLOT <slot> NODE <other> on the owner: its subscribers of the slot\'s shard channels get sunsubscribe; other channels stay', { timeout: 180000 }, async () => {
  const cluster = await startCluster({ masters: 3 });
  const clients: Redis[] = [];
  const sock = new net.Socket();
  try {
    const slot = keyHashSlot('mychannel');
    const from = cluster.masterOf('mychannel');
    const to = cluster.masters.find((m) => m !== from)!;
    // ch-other: another slot of the same master, which stays.
    let other = 'x';
    for (let i = 0; keyHashSlot(other) === slot || cluster.masterOf(other) !== from; i++) other = `other${i}`;
    let received = '';
    sock.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await new Promise<void>((resolve) => sock.connect(from.port, '127.0.0.1', resolve));
    sock.write(`SSUBSCRIBE mychannel\r\nSSUBSCRIBE ${other}\r\n`);
    const subscribed = `*3\r\n$10\r\nssubscribe\r\n$9\r\nmychannel\r\n:1\r\n*3\r\n$10\r\nssubscribe\r\n$${other.length}\r\n${other}\r\n:2\r\n`;
    await waitFor('both subscriptions', async () => received === subscribed);
    const a = new Redis(from.port);
    const b = new Redis(to.port);
    clients.push(a, b);
    assert.equal(await a.call('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id), 'OK');
    assert.equal(await b.call('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id), 'OK');
    assert.equal(await a.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id), 'OK');
    const pushed = `*3\r\n$12\r\nsunsubscribe\r\n$9\r\nmychannel\r\n:1\r\n`;
    await waitFor('the sunsubscribe push', async () => received.length >= subscribed.length + pushed.length);
    assert.equal(received.slice(subscribed.length), pushed);
    assert.deepEqual(await a.call('PUBSUB', 'SHARDCHANNELS'), [other]);
    assert.equal(await b.call('CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id), 'OK');
  } finally {
    sock.destroy();
    for (const c of clients) c.disconnect();
    await cluster.stop();
  }
});
