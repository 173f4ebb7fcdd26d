/**
 * The seed's demo with nodis-server as the data nodes: one nodis-sentinel at quorum 1, then
 * three nodis-sentinels at quorum 2 (which must agree on one leader and one promoted replica).
 * Waits are on conditions (test/helpers/sentinel-cluster.ts), never fixed sleeps.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import { Group, seedDemo, waitFor } from './helpers/sentinel-cluster.js';
import { freePort } from './helpers/server.js';

const groups: Group[] = [];
after(async () => {
  for (const g of groups) await g.cleanup();
});

test('seed demo on nodis-server with one nodis-sentinel (quorum 1); ioredis, node-redis and redis-py follow the failover', async () => {
  const g = new Group();
  groups.push(g);
  let app: Redis | null = null;
  let nodeRedis: ReturnType<typeof createSentinel> | null = null;
  const r = await seedDemo(g, { data: 'nodis', sentinels: ['nodis'], quorum: 1, fast: true }, async (sentinels) => {
    // Applications connected through the sentinel before the failover: ioredis and node-redis.
    app = new Redis({ sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name: 'tedu', sentinelRetryStrategy: () => 50, retryStrategy: () => 50 });
    app.on('error', () => {});
    assert.equal(await app.set('before', '1'), 'OK');
    nodeRedis = createSentinel({ name: 'tedu', sentinelRootNodes: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })) });
    nodeRedis.on('error', () => {});
    await nodeRedis.connect();
    assert.equal(await nodeRedis.set('before-nr', '1'), 'OK');
  });
  try {
    // Both clients find the new master through the sentinel and writes succeed there.
    await waitFor('ioredis writes after failover', async () => (await app!.set('after', '2')) === 'OK');
    assert.equal(await g.client(r.current).get('after'), '2');
    await waitFor('node-redis writes after failover', async () => {
      try {
        return (await nodeRedis!.set('after-nr', '3')) === 'OK';
      } catch {
        return false;
      }
    });
    assert.equal(await g.client(r.current).get('after-nr'), '3');
  } finally {
    app!.disconnect();
    await nodeRedis!.close().catch(() => {});
  }
  // redis-py's Sentinel (Debian's python3-redis) finds the new master and a replica.
  const py = [
    'import sys, redis.sentinel as s',
    `st = s.Sentinel([('127.0.0.1', ${r.sentinels[0]!.port})], socket_timeout=5)`,
    "m = st.master_for('tedu', socket_timeout=5)",
    "m.set('py', 'ok')",
    "print(st.discover_master('tedu')[1], m.get('py').decode())",
  ].join('\n');
  const out = execFileSync('/usr/bin/python3', ['-c', py], { encoding: 'latin1' }).trim();
  assert.equal(out, `${r.current} ok`);
  assert.match(r.sentinels[0]!.log(), /\+switch-master tedu 127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+/);
  assert.match(r.sentinels[0]!.log(), /\+convert-to-slave slave 127\.0\.0\.1:\d+/);
});

test('seed demo on nodis-server with three nodis-sentinels (quorum 2)', async () => {
  const g = new Group();
  groups.push(g);
  const r = await seedDemo(g, { data: 'nodis', sentinels: ['nodis', 'nodis', 'nodis'], quorum: 2, fast: true });
  const logs = r.sentinels.map((s) => s.log());
  // One leader and one promotion per failover (normally exactly one failover; a loaded machine
  // can cause a second, legitimate one, which must be just as clean).
  const all = logs.join('\n');
  const failovers = all.match(/\+failover-end /g)?.length ?? 0;
  assert.ok(failovers >= 1, all);
  // A second failover may still be under way when the demo returns: count per failed master.
  // Each master that was failed over had exactly one leader and at most one promotion.
  const perMaster = (event: string): Map<string, number> => {
    const m = new Map<string, number>();
    for (const x of all.matchAll(new RegExp(`\\${event} .*@ tedu (127\\.0\\.0\\.1 \\d+)$|\\${event} master tedu (127\\.0\\.0\\.1 \\d+)$`, 'gm'))) {
      const key = x[1] ?? x[2]!;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
    return m;
  };
  const leaders = perMaster('+elected-leader');
  const promoted = perMaster('+promoted-slave');
  assert.ok(leaders.size >= failovers && leaders.size <= failovers + 1, all);
  for (const [master, n] of leaders) assert.equal(n, 1, `leaders for ${master}\n${all}`);
  for (const [master, n] of promoted) assert.equal(n, 1, `promotions for ${master}\n${all}`);
  assert.ok(promoted.size >= failovers, all);
  // Every sentinel saw the old master replaced (the first sentinel by the replica it named first;
  // another may have learned a second failover's result directly).
  assert.match(logs[0]!, new RegExp(`\\+switch-master tedu 127\\.0\\.0\\.1 ${r.oldMaster} 127\\.0\\.0\\.1 ${r.newMaster}`));
  for (const l of logs) assert.match(l, new RegExp(`\\+switch-master tedu 127\\.0\\.0\\.1 ${r.oldMaster} 127\\.0\\.0\\.1 \\d+`));
});

test('SENTINEL CONFIG GET/SET, DEBUG, INFO-CACHE; sentinel-pass authenticates sentinel-to-sentinel links', async () => {
  const g = new Group();
  groups.push(g);
  const mp = await freePort();
  await g.startData('nodis', mp, null);
  const auth = 'requirepass s3cret\nsentinel sentinel-pass s3cret\n';
  const a = await g.startSentinel('nodis', mp, 2, auth, 's3cret');
  const b = await g.startSentinel('nodis', mp, 2, auth, 's3cret');
  const sa = g.client(a.port);
  // The two sentinels find each other through hellos and talk over authenticated links: each
  // sees the other as a healthy sentinel and CKQUORUM reaches 2.
  await waitFor('peers discovered', async () => /^OK 2 usable/.test(String(await sa.call('sentinel', 'ckquorum', 'tedu'))));
  await waitFor('peer link healthy', async () => {
    const peers = (await g.client(b.port).call('sentinel', 'sentinels', 'tedu')) as string[][];
    return peers.length === 1 && peers[0]![peers[0]!.indexOf('flags') + 1] === 'sentinel';
  });

  assert.deepEqual(await sa.call('sentinel', 'config', 'get', 'sentinel-*'), ['sentinel-user', '', 'sentinel-pass', 's3cret']);
  assert.equal(await sa.call('sentinel', 'config', 'set', 'announce-port', '1234'), 'OK');
  assert.deepEqual(await sa.call('sentinel', 'config', 'get', 'announce-port'), ['announce-port', '1234']);
  assert.match(fs.readFileSync(a.conf, 'latin1'), /\nsentinel announce-port 1234\n/);
  assert.equal(await sa.call('sentinel', 'config', 'set', 'announce-port', '0'), 'OK');
  await assert.rejects(sa.call('sentinel', 'config', 'set', 'announce-port', '70000'), /^ReplyError: ERR Invalid value '70000' to SENTINEL CONFIG SET 'announce-port'/);
  await assert.rejects(sa.call('sentinel', 'config', 'set', 'nope', '1'), /ERR Invalid argument 'nope' to SENTINEL CONFIG SET/);
  await assert.rejects(sa.call('sentinel', 'config', 'rewrite'), /ERR Only SENTINEL CONFIG GET <option> \/ SET <option> <value> are supported\./);

  // Hostnames: with resolve-hostnames a master may be given by name; announce-hostnames says
  // whether the sentinel reports that name or the address it resolves to.
  await assert.rejects(sa.call('sentinel', 'monitor', 'byname', 'localhost', String(mp), '1'), /ERR Invalid IP address or hostname specified/);
  assert.equal(await sa.call('sentinel', 'config', 'set', 'resolve-hostnames', 'yes'), 'OK');
  assert.equal(await sa.call('sentinel', 'config', 'set', 'announce-hostnames', 'yes'), 'OK');
  assert.equal(await sa.call('sentinel', 'monitor', 'byname', 'localhost', String(mp), '1'), 'OK');
  assert.deepEqual(await sa.call('sentinel', 'get-master-addr-by-name', 'byname'), ['localhost', String(mp)]);
  assert.equal(await sa.call('sentinel', 'config', 'set', 'announce-hostnames', 'no'), 'OK');
  await waitFor('the resolved address', async () => {
    const [ip] = (await sa.call('sentinel', 'get-master-addr-by-name', 'byname')) as string[];
    return ip === '127.0.0.1' || ip === '::1';
  });
  assert.equal(await sa.call('sentinel', 'remove', 'byname'), 'OK');
  assert.equal(await sa.call('sentinel', 'config', 'set', 'resolve-hostnames', 'no'), 'OK');

  const debug = (await sa.call('sentinel', 'debug')) as string[];
  assert.equal(debug.length, 26);
  assert.deepEqual(debug.slice(0, 2), ['INFO-PERIOD', '10000']);
  assert.equal(await sa.call('sentinel', 'debug', 'info-period', '500', 'ping-period', '800'), 'OK');
  const after = (await sa.call('sentinel', 'debug')) as string[];
  assert.deepEqual(after.slice(0, 4), ['INFO-PERIOD', '500', 'PING-PERIOD', '800']);
  await assert.rejects(sa.call('sentinel', 'debug', 'info-period', '0'), /ERR Invalid argument '0' for SENTINEL DEBUG 'info-period'/);
  await assert.rejects(sa.call('sentinel', 'debug', 'bogus', '1'), /ERR Unknown option or number of arguments for SENTINEL DEBUG 'bogus'/);

  // SENTINEL SET quorum (no config directive of its own) and rename-command (two values).
  assert.equal(await sa.call('sentinel', 'set', 'tedu', 'quorum', '6', 'rename-command', 'CONFIG', 'MYCONFIG'), 'OK');
  const conf = fs.readFileSync(a.conf, 'latin1');
  assert.match(conf, new RegExp(`sentinel monitor tedu 127\\.0\\.0\\.1 ${mp} 6\n`));
  assert.match(conf, /\nsentinel rename-command tedu config MYCONFIG\n/);
  await assert.rejects(sa.call('sentinel', 'ckquorum', 'tedu'), /NOQUORUM 2 usable Sentinels/);

  // A small ACL: users with passwords, WHOAMI, AUTH as a named user.
  assert.equal(await sa.call('acl', 'setuser', 'app', 'on', '>pw', '+@all', 'allchannels'), 'OK');
  const appConn = new Redis({ port: a.port, host: '127.0.0.1', username: 'app', password: 'pw', maxRetriesPerRequest: 0 });
  try {
    assert.equal(await appConn.call('acl', 'whoami'), 'app');
    await assert.rejects(appConn.call('auth', 'app', 'wrong'), /WRONGPASS/);
    // Deleting the user it is logged in as: the reply arrives, then the connection closes.
    const closed = new Promise<void>((resolve) => appConn.once('close', () => resolve()));
    assert.equal(await appConn.call('acl', 'deluser', 'app'), 1);
    await closed;
  } finally {
    appConn.disconnect();
  }

  const cache = (await sa.call('sentinel', 'info-cache', 'tedu', 'nosuch')) as unknown[];
  assert.equal(cache.length, 2);
  assert.equal(cache[0], 'tedu');
  const [[age, info]] = cache[1] as [[number, string]];
  assert.ok(typeof age === 'number' && age >= 0);
  assert.match(info, /# Replication\r\nrole:master/);
});

test('SENTINEL SET errors (unknown option, config file not writable) leave the sentinel running; revoked credentials show the link disconnected', async () => {
  const g = new Group();
  groups.push(g);
  const mp = await freePort();
  await g.startData('nodis', mp, null);
  const s = await g.startSentinel('nodis', mp, 1);
  const sc = g.client(s.port);
  const flags = async (): Promise<string> => {
    const m = (await sc.call('sentinel', 'master', 'tedu')) as string[];
    return m[m.indexOf('flags') + 1]!;
  };
  await waitFor('link up', async () => !(await flags()).includes('disconnected'));
  await assert.rejects(sc.call('sentinel', 'set', 'tedu', 'fakeoption', 'fakevalue'), /^ReplyError: ERR Unknown option or number of arguments for SENTINEL SET 'fakeoption'$/);
  // The configuration file replaced by a directory: the change is refused, nothing crashes.
  fs.renameSync(s.conf, `${s.conf}.bak`);
  fs.mkdirSync(s.conf);
  await assert.rejects(sc.call('sentinel', 'set', 'tedu', 'quorum', '2'), /^ReplyError: ERR Failed to save config file\. Check server logs\.$/);
  assert.equal(await sc.ping(), 'PONG');
  assert.match(s.log(), /WARNING: Sentinel was not able to save the new configuration on disk!!!/);
  fs.rmdirSync(s.conf);
  fs.renameSync(`${s.conf}.bak`, s.conf);
  assert.equal(await sc.call('sentinel', 'set', 'tedu', 'quorum', '1'), 'OK');
  // The master stops accepting the sentinel (default user off, its connections killed): the
  // sentinel's SUBSCRIBE gets -NOAUTH, which drops the link as hiredis does in Redis.
  const admin = new Redis({ port: mp, host: '127.0.0.1' });
  await admin.call('acl', 'setuser', 'admin', 'on', '>pw', 'allchannels', 'allkeys', '+@all');
  await admin.call('auth', 'admin', 'pw');
  await admin.call('acl', 'setuser', 'default', 'off');
  await admin.call('client', 'kill', 'user', 'default', 'skipme', 'no');
  await waitFor('link shown disconnected', async () => (await flags()).includes('disconnected'));
  // Given the credentials, it connects again.
  assert.equal(await sc.call('sentinel', 'set', 'tedu', 'auth-user', 'admin', 'auth-pass', 'pw'), 'OK');
  await waitFor('link up again', async () => !(await flags()).includes('disconnected'));
  admin.disconnect();
});
