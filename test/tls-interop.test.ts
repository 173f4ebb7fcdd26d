/**
 * TLS between processes, mixed with Debian's Redis 7.0.15: replication both ways with
 * tls-replication (a redis-server replica of a nodis master and a nodis replica of a
 * redis-server master), a real redis-sentinel monitoring nodis over TLS next to a nodis-sentinel
 * that listens on tls-port (sentinel to sentinel over TLS too), and MIGRATE with tls-cluster.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { NODIS_SENTINEL, freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { makeTestCerts, tlsServerArgs, type TestCerts } from './helpers/tls-certs.js';

let certs: TestCerts;
const clients: Redis[] = [];

before(() => {
  certs = makeTestCerts();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await stopAll();
  certs.remove();
});

function tlsClient(port: number): Redis {
  const c = new Redis({
    port,
    host: '127.0.0.1',
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    tls: { ca: fs.readFileSync(certs.ca), cert: fs.readFileSync(certs.clientCert), key: fs.readFileSync(certs.clientKey), checkServerIdentity: () => undefined },
  });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** A TLS-only node (nodis or redis-server) whose links to other nodes are TLS too. */
async function startNode(bin: 'nodis' | 'redis', extra: string[] = []): Promise<{ server: RunningServer; tlsPort: number; client: Redis }> {
  const tlsPort = await freePort();
  const server = await startServer({
    ...(bin === 'redis' ? { bin: '/usr/bin/redis-server' } : {}),
    args: ['--port', '0', ...tlsServerArgs(certs, tlsPort), '--tls-replication', 'yes', ...extra],
  });
  return { server, tlsPort, client: tlsClient(tlsPort) };
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const linkUp = (c: Redis) => async (): Promise<boolean> => /master_link_status:up/.test((await c.info('replication')) as string);

describe('replication over TLS', () => {
  it('a redis-server replica follows a nodis master over TLS', async () => {
    const master = await startNode('nodis');
    await master.client.set('before', 'sync');
    const replica = await startNode('redis', ['--replicaof', '127.0.0.1', String(master.tlsPort)]);
    await waitFor('the redis-server replica to sync', linkUp(replica.client));
    assert.equal(await replica.client.get('before'), 'sync');
    await master.client.set('after', 'stream');
    await master.client.incr('counter');
    await waitFor('the stream to arrive', async () => (await replica.client.get('counter')) === '1');
    assert.equal(await replica.client.get('after'), 'stream');
    // The replica announced its TLS port (tls-replication with tls-port), as Redis does.
    const info = (await master.client.info('replication')) as string;
    assert.match(info, new RegExp(`slave0:ip=127\\.0\\.0\\.1,port=${replica.tlsPort},state=online`));
    assert.equal(await master.client.call('WAIT', '1', '5000'), 1);
  });

  it('a nodis replica follows a redis-server master over TLS, with tls-cert-file as its client certificate', async () => {
    const master = await startNode('redis');
    await master.client.set('from', 'redis');
    // Like Redis's "tls-cert-file is also used as a client cert": a generic cert, no client pair.
    const tlsPort = await freePort();
    const server = await startServer({
      args: ['--port', '0', '--tls-port', String(tlsPort), '--tls-cert-file', certs.redisCert, '--tls-key-file', certs.redisKey,
        '--tls-ca-cert-file', certs.ca, '--tls-replication', 'yes', '--replicaof', '127.0.0.1', String(master.tlsPort)],
    });
    const replica = tlsClient(tlsPort);
    await waitFor('the nodis replica to sync', linkUp(replica));
    assert.equal(await replica.get('from'), 'redis');
    await master.client.rpush('list', 'a', 'b', 'c');
    await waitFor('the stream to arrive', async () => (await replica.llen('list')) === 3);
    assert.match(server.output(), /MASTER <-> REPLICA sync: Finished with success/);
  });

  it('a replica without tls-replication cannot sync from a TLS-only master', async () => {
    const master = await startNode('nodis');
    const tlsPort = await freePort();
    const server = await startServer({ args: ['--port', '0', ...tlsServerArgs(certs, tlsPort), '--replicaof', '127.0.0.1', String(master.tlsPort)] });
    await master.server.waitForLog('Error accepting a client connection: error:0A00010B:SSL routines::wrong version number');
    assert.doesNotMatch((await tlsClient(tlsPort).info('replication')) as string, /master_link_status:up/);
    await server.stop();
  });
});

describe('sentinels over TLS', () => {
  it("Debian's redis-sentinel and a nodis-sentinel monitor nodis over TLS, see each other, and fail over", async () => {
    const master = await startNode('nodis');
    const replica = await startNode('nodis', ['--replicaof', '127.0.0.1', String(master.tlsPort)]);
    await waitFor('the replica to sync', linkUp(replica.client));
    const sentinelConf = (tlsPort: number): string =>
      [
        'port 0',
        `tls-port ${tlsPort}`,
        `tls-cert-file ${certs.redisCert}`,
        `tls-key-file ${certs.redisKey}`,
        `tls-ca-cert-file ${certs.ca}`,
        'tls-replication yes',
        `sentinel monitor tls-master 127.0.0.1 ${master.tlsPort} 1`,
        'sentinel down-after-milliseconds tls-master 2000',
        'sentinel failover-timeout tls-master 10000',
        '',
      ].join('\n');
    const redisPort = await freePort();
    const nodisPort = await freePort();
    const ready = /Sentinel ID is/;
    await startServer({ bin: '/usr/bin/redis-sentinel', config: sentinelConf(redisPort), port: redisPort, args: ['--port', '0'], ready });
    await startServer({ bin: NODIS_SENTINEL, config: sentinelConf(nodisPort), port: nodisPort, args: ['--port', '0'], ready });
    const redisSentinel = tlsClient(redisPort);
    const nodisSentinel = tlsClient(nodisPort);
    // Both found the replica through INFO over TLS, and each other through hello messages that
    // announce the TLS port; neither thinks the other is down (PINGs over TLS succeed).
    for (const [name, s, other] of [['redis-sentinel', redisSentinel, nodisPort], ['nodis-sentinel', nodisSentinel, redisPort]] as const) {
      await waitFor(`${name} to see the replica`, async () => {
        const rs = (await s.call('SENTINEL', 'REPLICAS', 'tls-master')) as string[][];
        return rs.some((r) => r[r.indexOf('port') + 1] === String(replica.tlsPort) && r[r.indexOf('flags') + 1] === 'slave');
      });
      await waitFor(`${name} to see the other sentinel`, async () => {
        const ss = (await s.call('SENTINEL', 'SENTINELS', 'tls-master')) as string[][];
        return ss.some((r) => r[r.indexOf('port') + 1] === String(other) && r[r.indexOf('flags') + 1] === 'sentinel');
      });
    }
    // A failover ordered through redis-sentinel reconfigures the nodis nodes over TLS.
    assert.equal(await redisSentinel.call('SENTINEL', 'FAILOVER', 'tls-master'), 'OK');
    const promoted = async (s: Redis): Promise<boolean> => ((await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'tls-master')) as string[])[1] === String(replica.tlsPort);
    await waitFor('redis-sentinel to switch the master', () => promoted(redisSentinel));
    await waitFor('the nodis-sentinel to learn it', () => promoted(nodisSentinel));
    // The sentinels kill the normal clients of the nodes they reconfigure (CLIENT KILL TYPE
    // normal), each at a moment of its own: a poll cut off that way is asked again.
    const cutOff = (check: () => Promise<boolean>) => (): Promise<boolean> =>
      check().catch((e: Error) => {
        if (/Connection is closed/.test(e.message)) return false;
        throw e;
      });
    await waitFor('the old master to follow the new one', cutOff(async () => linkUp(tlsClient(master.tlsPort))()));
    let replication = '';
    await waitFor('the new master to answer INFO', cutOff(async () => {
      replication = (await tlsClient(replica.tlsPort).info('replication')) as string;
      return true;
    }));
    assert.match(replication, /role:master/);
  });
});

describe('MIGRATE over TLS', () => {
  it('tls-cluster makes MIGRATE dial its target over TLS', async () => {
    const target = await startNode('nodis');
    const source = await startNode('nodis', ['--tls-cluster', 'yes']);
    await source.client.set('moving', 'over tls');
    assert.equal(await source.client.call('MIGRATE', '127.0.0.1', String(target.tlsPort), 'moving', '0', '5000'), 'OK');
    assert.equal(await target.client.get('moving'), 'over tls');
    assert.equal(await source.client.exists('moving'), 0);
  });
});
