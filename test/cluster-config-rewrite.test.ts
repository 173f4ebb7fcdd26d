/**
 * CONFIG REWRITE on a cluster replica (Redis's cluster suite, 14-consistency-check, rewrites a
 * replica's config and restarts it): Redis leaves `replicaof` out of the file in cluster mode
 * (rewriteConfigReplicaOfOption), since the node's master is in nodes.conf and a `replicaof`
 * line would make the restart fail with "replicaof directive not allowed in cluster mode".
 * The restarted replica loads its dataset from disk before it connects to its master: connecting
 * first let a quick full sync land before the start-up load, which then found every key already
 * there ("RDB has duplicated key") and stopped the server.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopAll, freePort } from './helpers/server.js';
import { waitFor, info } from './helpers/conditions.js';

after(stopAll);

test('CONFIG REWRITE on a cluster replica writes no replicaof; the node restarts from it as the same replica, loading its RDB before it syncs', { timeout: 180000 }, async () => {
  const conf = 'cluster-enabled yes\ncluster-node-timeout 5000\n';
  const masterBus = await freePort();
  const master = await startServer({ config: conf, args: ['--cluster-port', String(masterBus)] });
  const replica = await startServer({ config: conf, args: ['--cluster-port', String(await freePort())] });
  const m = master.client();
  let r = replica.client();
  await m.call('cluster', 'addslotsrange', '0', '16383');
  await r.call('cluster', 'meet', '127.0.0.1', String(master.port), String(masterBus));
  const masterId = String(await m.call('cluster', 'myid'));
  await waitFor('the replica to know the master', async () => String(await r.call('cluster', 'nodes')).includes(masterId), 60000);
  assert.equal(await r.call('cluster', 'replicate', masterId), 'OK');
  await waitFor('the replica in sync', async () => (await info(r, 'replication')).master_link_status === 'up', 60000);
  for (let i = 0; i < 50; i++) await m.set(`key.${i}`, String(i));
  await waitFor('the keys on the replica', async () => (await r.dbsize()) === 50, 60000);
  assert.equal(await r.call('save'), 'OK');

  assert.equal(await r.call('config', 'rewrite'), 'OK');
  const file = path.join(replica.dir, 'test.conf');
  const text = fs.readFileSync(file, 'utf8');
  assert.doesNotMatch(text, /^(replicaof|slaveof) /m);
  assert.match(text, /^cluster-enabled yes$/m);

  // Restart from the rewritten file in the same dir (nodes.conf there says whose replica it is).
  replica.proc.kill('SIGKILL');
  await new Promise((res) => replica.proc.once('exit', res));
  const again = await startServer({ config: text, port: replica.port, args: ['--dir', replica.dir] });
  r = again.client();
  await waitFor('the restarted node to follow its master again', async () => {
    const role = (await r.call('role')) as unknown[];
    return role[0] === 'slave' && Number(role[2]) === master.port && role[3] === 'connected';
  }, 60000);
  assert.equal(await r.dbsize(), 50);
  const log = again.output();
  const loaded = log.indexOf('DB loaded from disk');
  assert.ok(loaded >= 0, log);
  assert.ok(log.indexOf('Connecting to MASTER') > loaded, log);
  assert.doesNotMatch(log, /duplicated key/);
});
