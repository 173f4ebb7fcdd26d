/**
 * Routing in a running nodis with `cluster-enabled yes`, in-process, its cluster state replaced
 * by a ClusterView the test writes: what a client sees (MOVED, ASK, CROSSSLOT, TRYAGAIN,
 * CLUSTERDOWN), ASKING and READONLY, MULTI/EXEC, scripts, blocked clients, sharded Pub/Sub,
 * the per-slot key index behind CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT. Replies and error
 * texts are Redis 7.0.15's (checked against a redis-server cluster node).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { SystemClock, Random } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';
import { keyHashSlot } from '../src/cluster/slot.js';
import { freePort, rawExchange, startServer, stopAll } from './helpers/server.js';
import { waitFor } from './helpers/conditions.js';
import { TestClusterView, nodeRef } from './helpers/cluster-view.js';

const ME = nodeRef(1);
const OTHER = nodeRef(2);
const FOO = keyHashSlot('foo');
const BAR = keyHashSlot('bar');

let server: Server;
let view: TestClusterView;
let port: number;
let dir: string;
const clients: Redis[] = [];

function client(): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  clients.push(c);
  return c;
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

before(async () => {
  port = await freePort();
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cluster-routing-'));
  for (const [k, v] of [['port', String(port)], ['bind', '127.0.0.1'], ['save', ''], ['dir', dir], ['cluster-enabled', 'yes'], ['cluster-port', String(await freePort())]]) {
    config.set(k!, [v!], 'args');
  }
  server = new Server({ clock, random: new Random(1), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  await server.listen();
  view = new TestClusterView(ME);
  server.cluster = view;
});

after(async () => {
  await stopAll();
  for (const c of clients) c.disconnect();
  await server.shutdown({ save: false, now: true, force: true, signal: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Slots 0..8191 here, the rest on OTHER (foo → OTHER, bar and b → here). */
function splitSlots(): void {
  view.owners.clear();
  view.migrating.clear();
  view.importing.clear();
  view.master = null;
  view.up = true;
  view.assign(ME, 0, 8191).assign(OTHER, 8192, 16383);
}

test('CLUSTER KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT follow every write, from the per-slot index', async () => {
  view.assign(ME);
  const c = client();
  assert.equal(await c.call('CLUSTER', 'KEYSLOT', 'foo'), FOO);
  assert.equal(await c.call('CLUSTER', 'KEYSLOT', '{user1}:a'), 8106);
  await c.mset('{s}a', '1', '{s}b', '2', '{s}c', '3');
  const slot = keyHashSlot('{s}');
  assert.equal(await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), 3);
  assert.deepEqual(await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '2'), ['{s}a', '{s}b']);
  assert.deepEqual(await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '10'), ['{s}a', '{s}b', '{s}c']);
  await c.del('{s}b');
  await c.rename('{s}c', '{s}d');
  await c.set('{s}e', 'x', 'PX', 1);
  await waitFor('{s}e to expire', async () => (await c.exists('{s}e')) === 0);
  assert.deepEqual(await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '10'), ['{s}a', '{s}d']);
  await c.flushall();
  assert.equal(await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), 0);
  assert.equal(await errorOf(c.call('CLUSTER', 'COUNTKEYSINSLOT', '16384')), 'ERR Invalid slot');
  assert.equal(await errorOf(c.call('CLUSTER', 'COUNTKEYSINSLOT', 'x')), 'ERR value is not an integer or out of range');
  assert.equal(await errorOf(c.call('CLUSTER', 'GETKEYSINSLOT', '1', '-1')), 'ERR Invalid slot or number of keys');
  assert.equal(await errorOf(c.call('CLUSTER', 'GETKEYSINSLOT', '-1', '1')), 'ERR Invalid slot or number of keys');
  // DEBUG RELOAD-like reload paths go through Database.load: a restore keeps the index too.
  await c.set('{s}z', 'v');
  const dump = await c.dumpBuffer('{s}z');
  await c.del('{s}z');
  await c.restore('{s}z', 0, dump);
  assert.equal(await c.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)), 1);
});

test('MOVED, CROSSSLOT, CLUSTERDOWN as a client sees them; keyless commands always run', async () => {
  splitSlots();
  const c = client();
  assert.equal(await c.set('bar', '1'), 'OK');
  assert.equal(await errorOf(c.get('foo')), `MOVED ${FOO} 127.0.0.1:7002`);
  assert.equal(await errorOf(c.mset('bar', '1', 'b', '2')), "CROSSSLOT Keys in request don't hash to the same slot");
  assert.equal(await errorOf(c.call('MOVE', 'a', '1')), `MOVED ${keyHashSlot('a')} 127.0.0.1:7002`);
  assert.equal(await c.ping(), 'PONG');
  const keys = await c.dbsize();
  view.up = false;
  assert.equal(await errorOf(c.get('bar')), 'CLUSTERDOWN The cluster is down');
  assert.equal(await c.dbsize(), keys);
  await c.config('SET', 'cluster-allow-reads-when-down', 'yes');
  assert.equal(await c.get('bar'), '1');
  assert.equal(await errorOf(c.set('bar', '2')), 'CLUSTERDOWN The cluster is down and only accepts read commands');
  await c.config('SET', 'cluster-allow-reads-when-down', 'no');
  view.up = true;
  view.owners.delete(BAR);
  assert.equal(await errorOf(c.get('bar')), 'CLUSTERDOWN Hash slot not served');
  // The rejection is counted as Redis counts it.
  const stats = String(await c.info('errorstats'));
  assert.match(stats, /errorstat_MOVED:count=\d+/);
  assert.match(stats, /errorstat_CLUSTERDOWN:count=\d+/);
});

test('ASK while migrating; ASKING holds for one command only; TRYAGAIN for a partial multi-key read', async () => {
  splitSlots();
  const c = client();
  const slot = keyHashSlot('{t}a');
  view.assign(ME, slot, slot);
  await c.set('{t}a', '1');
  view.migrating.set(slot, OTHER);
  assert.equal(await c.get('{t}a'), '1');
  assert.equal(await errorOf(c.get('{t}b')), `ASK ${slot} 127.0.0.1:7002`);
  assert.equal(await errorOf(c.mget('{t}a', '{t}b')), 'TRYAGAIN Multiple keys request during rehashing of slot');
  // The importing side: MOVED without ASKING, served after it, and only for the next command.
  view.migrating.clear();
  view.assign(OTHER, slot, slot);
  view.importing.set(slot, OTHER);
  assert.equal(await errorOf(c.get('{t}a')), `MOVED ${slot} 127.0.0.1:7002`);
  assert.equal(await c.call('ASKING'), 'OK');
  assert.equal(await c.get('{t}a'), '1');
  assert.equal(await errorOf(c.get('{t}a')), `MOVED ${slot} 127.0.0.1:7002`);
  // Sent before MULTI the flag lasts until EXEC; queued inside it, it comes too late.
  assert.equal(await c.call('ASKING'), 'OK');
  assert.deepEqual(await c.multi().get('{t}a').get('{t}a').exec(), [[null, '1'], [null, '1']]);
  assert.match(await errorOf(c.multi().call('ASKING').get('{t}a').exec()), /EXECABORT/);
  assert.equal(await errorOf(c.get('{t}a')), `MOVED ${slot} 127.0.0.1:7002`);
});

test('READONLY: a replica serves reads of its master\'s slots, never writes; READWRITE ends it', async () => {
  splitSlots();
  const c = client();
  await c.set('bar', 'v');
  view.assign(OTHER);
  view.master = OTHER;
  assert.equal(await errorOf(c.get('bar')), `MOVED ${BAR} 127.0.0.1:7002`);
  assert.equal(await c.call('READONLY'), 'OK');
  assert.equal(await c.get('bar'), 'v');
  assert.equal(await errorOf(c.set('bar', 'w')), `MOVED ${BAR} 127.0.0.1:7002`);
  assert.equal(await c.call('READWRITE'), 'OK');
  assert.equal(await errorOf(c.get('bar')), `MOVED ${BAR} 127.0.0.1:7002`);
});

test('MULTI: a redirected command dooms EXEC; EXEC over keys gone elsewhere is discarded with the redirection', async () => {
  splitSlots();
  const c = client();
  const doomed = await errorOf(c.multi().set('bar', '1').set('foo', '1').exec());
  assert.match(doomed, /EXECABORT Transaction discarded because of previous errors/);
  // Queued while the slot was here, gone by EXEC.
  const m = c.multi();
  m.set('bar', 'queued');
  const queued = m.exec();
  // ioredis sends MULTI … EXEC in one write: move the slot in between with a raw pipeline instead.
  await queued;
  const raw = client();
  await raw.call('MULTI');
  await raw.call('SET', 'bar', 'late');
  view.assign(OTHER, BAR, BAR);
  assert.equal(await errorOf(raw.call('EXEC')), `MOVED ${BAR} 127.0.0.1:7002`);
  // The transaction is gone: EXEC again is an error outside MULTI.
  assert.equal(await errorOf(raw.call('EXEC')), 'ERR EXEC without MULTI');
  view.assign(ME, BAR, BAR);
  assert.equal(await raw.get('bar'), 'queued');
});

test('scripts: declared keys routed like a command; redis.call kept to local keys of one slot', async () => {
  splitSlots();
  const c = client();
  assert.equal(await errorOf(c.eval("return redis.call('get', KEYS[1])", 1, 'foo')), `MOVED ${FOO} 127.0.0.1:7002`);
  assert.match(await errorOf(c.eval("return redis.call('get','foo')", 0)), /^ERR Script attempted to access a non local key in a cluster node script: \w+, on @user_script:1\.$/);
  // Without a shebang (compatibility mode) a script may use several local slots.
  assert.equal(await c.eval("redis.call('set','bar','1'); return redis.call('get','b')", 0), null);
  assert.match(
    await errorOf(c.eval("#!lua\nredis.call('set','bar','1'); return redis.call('get','b')", 0)),
    /^ERR Script attempted to access keys that do not hash to the same slot script: \w+, on @user_script:2\.$/,
  );
  assert.match(await errorOf(c.eval("#!lua flags=no-writes\nreturn redis.call('get','b')", 1, 'bar')), /do not hash to the same slot/);
  assert.equal(await c.eval("#!lua flags=allow-cross-slot-keys\nredis.call('set','bar','1'); return redis.call('get','b')", 0), null);
  view.up = false;
  assert.equal(await errorOf(c.eval("return redis.call('get','bar')", 1, 'bar')), 'CLUSTERDOWN The cluster is down');
  view.up = true;
});

test("scripts and functions flagged no-cluster are refused on a cluster node, as Redis's 00-base", async () => {
  splitSlots();
  const c = client();
  const refused = "ERR Can not run script on cluster, 'no-cluster' flag is set.";
  assert.equal(await errorOf(c.eval('#!lua flags=no-cluster\nreturn 1', 0)), refused);
  await c.call('FUNCTION', 'LOAD', "#!lua name=nocluster\nredis.register_function{function_name='nc1', callback=function() return 'hello' end, flags={'no-cluster'}}");
  assert.equal(await errorOf(c.call('FCALL', 'nc1', '0')), refused);
  // Without a shebang (compatibility mode) no flags apply.
  assert.equal(await c.eval('return 1', 0), 1);
  await c.call('FUNCTION', 'DELETE', 'nocluster');
});

test('a client blocked on a key is redirected when the slot moves away', async () => {
  splitSlots();
  const c = client();
  const B = keyHashSlot('b');
  await c.del('b');
  const blocked = errorOf(c.blpop('b', 0));
  const watcher = client();
  await waitFor('BLPOP to block', async () => /blocked_clients:1/.test(String(await watcher.info('clients'))));
  view.assign(OTHER, B, B);
  assert.equal(await blocked, `MOVED ${B} 127.0.0.1:7002`);
  view.assign(ME, B, B);
  const downed = errorOf(c.blpop('b', 0));
  await waitFor('BLPOP to block', async () => /blocked_clients:1/.test(String(await watcher.info('clients'))));
  view.up = false;
  assert.equal(await downed, 'CLUSTERDOWN The cluster is down');
});

test('sharded Pub/Sub: channels routed by slot, SPUBLISH and PUBLISH sent over the cluster view', async () => {
  splitSlots();
  const sub = client();
  const raw = (cmd: string): Promise<string> => rawExchange(port, cmd, (r) => r.endsWith('\r\n'));
  assert.equal(await raw('SSUBSCRIBE foo\r\n'), `-MOVED ${FOO} 127.0.0.1:7002\r\n`);
  assert.equal(await raw('SSUBSCRIBE bar b\r\n'), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  const got: string[] = [];
  sub.on('smessage', (ch: string, msg: string) => got.push(`${ch}:${msg}`));
  await sub.ssubscribe('bar');
  const pub = client();
  assert.equal(await pub.call('SPUBLISH', 'bar', 'hello'), 1);
  assert.equal(await errorOf(pub.call('SPUBLISH', 'foo', 'x')), `MOVED ${FOO} 127.0.0.1:7002`);
  assert.equal(await pub.publish('anything', 'm'), 0);
  await waitFor('the message', async () => got.length === 1);
  assert.deepEqual(got, ['bar:hello']);
  assert.deepEqual(view.published, [
    { shard: true, channel: 'bar', message: 'hello' },
    { shard: false, channel: 'anything', message: 'm' },
  ]);
  assert.deepEqual(await pub.call('PUBSUB', 'SHARDCHANNELS'), ['bar']);
  assert.deepEqual(await pub.call('PUBSUB', 'SHARDNUMSUB', 'bar'), ['bar', 1]);
});

test('one database: SELECT, SWAPDB, MOVE and COPY to another db refused as Redis refuses them', async () => {
  view.assign(ME);
  const c = client();
  assert.equal(await errorOf(c.call('SELECT', '1')), 'ERR SELECT is not allowed in cluster mode');
  assert.equal(await c.call('SELECT', '0'), 'OK');
  assert.equal(await errorOf(c.call('SELECT', 'x')), 'ERR value is not an integer or out of range');
  assert.equal(await errorOf(c.swapdb(0, 1)), 'ERR SWAPDB is not allowed in cluster mode');
  assert.equal(await errorOf(c.move('bar', 1)), 'ERR MOVE is not allowed in cluster mode');
  assert.equal(await errorOf(c.copy('{x}a', '{x}b', 'DB', 1)), 'ERR Copying to another database is not allowed in cluster mode');
});

test('resharding: MIGRATE sends RESTORE-ASKING from a migrating slot; an importing node takes it, not a plain RESTORE', async () => {
  splitSlots();
  const c = client();
  const slot = keyHashSlot('{m}k');
  view.assign(ME, slot, slot);
  await c.set('{m}src', 'payload');
  const dump = await c.dumpBuffer('{m}src');
  // The receiving side: the slot is being imported from OTHER.
  view.assign(OTHER, slot, slot);
  view.importing.set(slot, OTHER);
  assert.equal(await errorOf(c.restore('{m}k', 0, dump)), `MOVED ${slot} 127.0.0.1:7002`);
  assert.equal(await c.call('RESTORE-ASKING', '{m}k', '0', dump), 'OK');
  // The sending side: the slot is here and migrating; MIGRATE runs whether or not keys are here.
  view.importing.clear();
  view.assign(ME, slot, slot);
  view.migrating.set(slot, OTHER);
  const target = await startServer({ bin: '/usr/bin/redis-server' });
  const t = target.client();
  const monitor = target.client();
  const seen: string[] = [];
  await monitor.monitor().then((m) => m.on('monitor', (_time: string, args: string[]) => seen.push(args[0]!.toUpperCase())));
  assert.equal(await c.migrate('127.0.0.1', target.port, '', 0, 5000, 'KEYS', '{m}k'), 'OK');
  assert.equal(await t.get('{m}k'), 'payload');
  assert.deepEqual(await c.call('CLUSTER', 'GETKEYSINSLOT', String(slot), '10'), ['{m}src']);
  await waitFor('MONITOR to show the RESTORE', async () => seen.includes('RESTORE-ASKING'));
  assert.ok(!seen.includes('RESTORE'));
  // Once the key left, reads of it are asked elsewhere.
  assert.equal(await errorOf(c.get('{m}k')), `ASK ${slot} 127.0.0.1:7002`);
  await target.stop();
});
