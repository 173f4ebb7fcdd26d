/**
 * MIGRATE between real servers: nodis → nodis, nodis → redis-server, redis-server → nodis (RESTORE,
 * and RESTORE-ASKING from a cluster-mode redis-server). Replies, the KEYS/COPY/REPLACE/AUTH/AUTH2
 * options, errors from the target, IOERRs, the cached connection and its SELECT-once, the retry on
 * a connection the target dropped, propagation as DEL, and that nodis keeps serving other clients
 * while a MIGRATE waits on a slow target.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { startServer, stopAll, freePort, type RunningServer } from './helpers/server.js';

const REDIS = '/usr/bin/redis-server';

async function run(c: Redis, ...args: (string | number)[]): Promise<unknown> {
  try {
    return await c.call(String(args[0]), ...args.slice(1).map(String));
  } catch (e) {
    return (e as Error).message;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function infoField(c: Redis, section: string, field: string): Promise<string | undefined> {
  const text = String(await c.call('info', section));
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(text);
  return m === null ? undefined : m[1]!.trim();
}

/** Calls of a command on a server, from INFO commandstats. */
async function calls(c: Redis, name: string): Promise<number> {
  const v = await infoField(c, 'commandstats', `cmdstat_${name}`);
  return v === undefined ? 0 : Number(/calls=(\d+)/.exec(v)![1]);
}

/** Lines of CLIENT LIST whose last command was a RESTORE: MIGRATE's connections. */
async function migrateConnections(c: Redis): Promise<string[]> {
  return String(await c.call('client', 'list'))
    .split('\n')
    .filter((l) => /cmd=restore/.test(l));
}

/** A TCP server that accepts and reads but never answers. */
async function silentServer(): Promise<{ port: number; received: () => number; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let bytes = 0;
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => (bytes += d.length));
    s.on('error', () => {});
  });
  const port = await freePort();
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    received: () => bytes,
    open: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/**
 * A target that drops its first connection as soon as data arrives (a cached connection the
 * peer closed, as MIGRATE finds it), then relays later connections to `port`.
 */
async function droppingProxy(port: number): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const srv = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('error', () => {});
    if (connections === 1) {
      s.once('data', () => s.destroy());
      return;
    }
    const up = net.connect(port, '127.0.0.1');
    sockets.add(up);
    up.on('error', () => s.destroy());
    s.pipe(up).pipe(s);
  });
  const own = await freePort();
  await new Promise<void>((r) => srv.listen(own, '127.0.0.1', () => r()));
  return {
    port: own,
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const x of sockets) x.destroy();
        srv.close(() => r());
      }),
  };
}

describe('MIGRATE nodis → nodis', () => {
  let src: RunningServer;
  let dst: RunningServer;
  let a: Redis;
  let b: Redis;

  before(async () => {
    [src, dst] = await Promise.all([startServer(), startServer()]);
    a = src.client();
    b = dst.client();
    await b.call('select', '9');
  });
  after(stopAll);

  it('moves a key with its TTL and deletes it locally', async () => {
    await a.set('k', 'v1', 'EX', 100);
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'k', 9, 5000), 'OK');
    assert.equal(await a.exists('k'), 0);
    assert.equal(await b.get('k'), 'v1');
    const ttl = await b.ttl('k');
    assert.ok(ttl > 95 && ttl <= 100, `ttl ${ttl}`);
  });

  it('answers NOKEY when no key exists, and moves just the existing ones with KEYS', async () => {
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, '', 9, 5000, 'keys', 'no1', 'no2'), 'NOKEY');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'nokey', 9, 5000), 'NOKEY');
    await a.rpush('list', 'x', 'y');
    await a.hset('hash', 'f', 'v');
    await a.zadd('zset', 1, 'm');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, '', 9, 5000, 'keys', 'no1', 'list', 'hash', 'no2', 'zset'), 'OK');
    assert.equal(await a.exists('list', 'hash', 'zset'), 0);
    assert.deepEqual(await b.lrange('list', 0, -1), ['x', 'y']);
    assert.deepEqual(await b.hgetall('hash'), { f: 'v' });
    assert.deepEqual(await b.zrange('zset', 0, -1, 'WITHSCORES'), ['m', '1']);
  });

  it('checks its arguments as Redis does', async () => {
    assert.match(String(await run(a, 'migrate', '127.0.0.1', dst.port, 'k', 9, 5000, 'keys', 'a')), /must be set to the empty string/);
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'k', 9, 5000, 'bogus'), 'ERR syntax error');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'k', 9, 5000, 'auth'), 'ERR syntax error');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'k', 9, 'soon'), 'ERR value is not an integer or out of range');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'k', 'x', 5000), 'ERR value is not an integer or out of range');
  });

  it('COPY keeps the key here; REPLACE overwrites; otherwise the target refuses with BUSYKEY', async () => {
    await a.set('c', 'mine');
    await b.set('c', 'theirs');
    assert.equal(
      await run(a, 'migrate', '127.0.0.1', dst.port, 'c', 9, 5000, 'copy'),
      'ERR Target instance replied with error: BUSYKEY Target key name already exists.',
    );
    assert.equal(await a.get('c'), 'mine');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'c', 9, 5000, 'copy', 'replace'), 'OK');
    assert.equal(await a.get('c'), 'mine');
    assert.equal(await b.get('c'), 'mine');
    await a.set('c', 'again');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'c', 9, 5000, 'replace'), 'OK');
    assert.equal(await a.exists('c'), 0);
    assert.equal(await b.get('c'), 'again');
  });

  it('deletes only the keys the target acknowledged', async () => {
    await a.mset('p1', '1', 'p2', '2', 'p3', '3', 'p4', '4');
    await b.mset('p2', '_', 'p3', '_');
    assert.equal(
      await run(a, 'migrate', '127.0.0.1', dst.port, '', 9, 5000, 'keys', 'p1', 'p2', 'p3', 'p4'),
      'ERR Target instance replied with error: BUSYKEY Target key name already exists.',
    );
    assert.deepEqual(await a.mget('p1', 'p2', 'p3', 'p4'), [null, '2', '3', null]);
    assert.deepEqual(await b.mget('p1', 'p2', 'p3', 'p4'), ['1', '_', '_', '4']);
  });

  it('reuses one cached connection and SELECTs only when the db changes', async () => {
    const selectsBefore = await calls(b, 'select');
    for (let i = 0; i < 3; i++) {
      await a.set(`r${i}`, String(i));
      assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, `r${i}`, 9, 5000), 'OK');
    }
    assert.equal((await migrateConnections(b)).length, 1);
    assert.equal(await infoField(a, 'stats', 'migrate_cached_sockets'), '1');
    // The error of the previous test made the connection forget its db: one SELECT, then none.
    assert.equal((await calls(b, 'select')) - selectsBefore, 1);
    await a.set('r-db3', 'x');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'r-db3', 3, 5000), 'OK');
    await a.set('r-db3b', 'x');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'r-db3b', 3, 5000), 'OK');
    assert.equal((await calls(b, 'select')) - selectsBefore, 2);
    const b3 = dst.client({ db: 3 });
    assert.deepEqual(await b3.mget('r-db3', 'r-db3b'), ['x', 'x']);
  });

  it('retries once on a fresh connection when the cached one was closed by the target', async () => {
    const [line] = await migrateConnections(b);
    assert.ok(line !== undefined);
    const id = /id=(\d+)/.exec(line)![1]!;
    assert.equal(await run(b, 'client', 'kill', 'id', id), 1);
    await a.set('after-kill', 'v');
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'after-kill', 9, 5000), 'OK');
    assert.equal(await b.get('after-kill'), 'v');
    const conns = await migrateConnections(b);
    assert.equal(conns.length, 1);
    assert.notEqual(/id=(\d+)/.exec(conns[0]!)![1], id);
  });

  it('retries once when the target closes the connection before any reply', async () => {
    const proxy = await droppingProxy(dst.port);
    try {
      await a.set('via-proxy', 'v');
      assert.equal(await run(a, 'migrate', '127.0.0.1', proxy.port, 'via-proxy', 9, 5000), 'OK');
      assert.equal(proxy.connections(), 2);
      assert.equal(await a.exists('via-proxy'), 0);
      assert.equal(await b.get('via-proxy'), 'v');
    } finally {
      await proxy.close();
    }
  });

  it('serialises concurrent MIGRATEs to one target on its one connection', async () => {
    await a.mset('cc1', '1', 'cc2', '2');
    await b.call('client', 'pause', '5000', 'WRITE');
    try {
      const p1 = run(src.client(), 'migrate', '127.0.0.1', dst.port, 'cc1', 9, 10000);
      const p2 = run(src.client(), 'migrate', '127.0.0.1', dst.port, 'cc2', 9, 10000);
      await waitFor('both clients to wait', async () => (await infoField(a, 'clients', 'blocked_clients')) === '2');
      await b.call('client', 'unpause');
      assert.deepEqual(await Promise.all([p1, p2]), ['OK', 'OK']);
      assert.deepEqual(await b.mget('cc1', 'cc2'), ['1', '2']);
      assert.equal((await migrateConnections(b)).length, 1);
    } finally {
      await b.call('client', 'unpause');
    }
  });

  it('AUTH and AUTH2, and the target error for a wrong password', async () => {
    await b.call('acl', 'setuser', 'mover', 'on', '>pw2', '~*', '+@all');
    await b.call('config', 'set', 'requirepass', 'pw');
    try {
      await b.call('auth', 'pw');
      await a.rpush('al', 'a', 'b');
      assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'al', 9, 5000, 'auth', 'pw'), 'OK');
      assert.deepEqual(await b.lrange('al', 0, -1), ['a', 'b']);
      await a.set('a2', 'v');
      assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, 'a2', 9, 5000, 'auth2', 'mover', 'pw2'), 'OK');
      assert.equal(await b.get('a2'), 'v');
      await a.set('a3', 'v');
      assert.equal(
        await run(a, 'migrate', '127.0.0.1', dst.port, 'a3', 9, 5000, 'auth', 'wrong'),
        'ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.',
      );
      assert.equal(await a.get('a3'), 'v');
    } finally {
      await b.call('config', 'set', 'requirepass', '');
    }
  });

  it('redacts AUTH arguments from SLOWLOG', async () => {
    await a.call('config', 'set', 'slowlog-log-slower-than', '0');
    await a.call('slowlog', 'reset');
    await run(a, 'migrate', '127.0.0.1', dst.port, 'none', 9, 5000, 'auth2', 'user', 'secret');
    await a.call('config', 'set', 'slowlog-log-slower-than', '10000');
    const entries = (await a.call('slowlog', 'get')) as unknown[][];
    const logged = entries.map((e) => (e[3] as string[]).join(' '));
    assert.ok(logged.some((l) => l.endsWith('none 9 5000 auth2 (redacted) (redacted)')), logged.join('\n'));
    assert.ok(!logged.some((l) => l.includes('secret')));
  });

  it('answers IOERR when the target is down or its address does not resolve', async () => {
    await a.set('down', 'v');
    const port = await freePort();
    // As in Redis, a refused connection shows up as a failed write.
    assert.equal(await run(a, 'migrate', '127.0.0.1', port, 'down', 0, 1000), 'IOERR error or timeout writing to target instance');
    assert.equal(await run(a, 'migrate', '127.0.0.1', -5, 'down', 0, 1000), 'IOERR error or timeout connecting to the client');
    assert.equal(await a.get('down'), 'v');
  });

  it('times out on a target that never answers, serving other clients meanwhile', async () => {
    const silent = await silentServer();
    try {
      await a.set('slow', 'v');
      const started = Date.now();
      let done = false;
      const p = run(a, 'migrate', '127.0.0.1', silent.port, 'slow', 0, 700).finally(() => (done = true));
      await waitFor('the payload to reach the silent target', async () => silent.received() > 0);
      const other = src.client();
      assert.equal(await other.get('slow'), 'v');
      assert.equal(await other.ping(), 'PONG');
      assert.equal(done, false, 'MIGRATE answered before the timeout');
      assert.equal(await p, 'IOERR error or timeout reading to target instance');
      assert.ok(Date.now() - started >= 650);
      assert.equal(await a.get('slow'), 'v');
      // The timed-out connection is closed, not cached.
      await waitFor('the connection to close', async () => silent.open() === 0);
    } finally {
      await silent.close();
    }
  });

  it('waits on a paused target without blocking nodis; the pipelined commands of its client wait', async () => {
    await a.set('paused', 'v');
    await b.call('client', 'pause', '5000', 'WRITE');
    try {
      const m = src.client();
      const order: string[] = [];
      const pm = run(m, 'migrate', '127.0.0.1', dst.port, 'paused', 9, 10000).then((r) => (order.push('migrate'), r));
      const pg = run(m, 'get', 'paused').then((r) => (order.push('get'), r));
      await waitFor('the migrating client to wait', async () => (await infoField(a, 'clients', 'blocked_clients')) === '1');
      assert.equal(await a.get('paused'), 'v');
      assert.deepEqual(order, []);
      await b.call('client', 'unpause');
      assert.equal(await pm, 'OK');
      assert.equal(await pg, null);
      assert.deepEqual(order, ['migrate', 'get']);
    } finally {
      await b.call('client', 'unpause');
    }
  });

  it('moves the latest value of a key another client changed while the MIGRATE was in flight, and drops one deleted meanwhile', async () => {
    await a.set('raced', 'old');
    await a.set('dropped', 'v');
    await b.call('client', 'pause', '5000', 'WRITE');
    try {
      const pm = run(src.client(), 'migrate', '127.0.0.1', dst.port, '', 9, 10000, 'keys', 'raced', 'dropped');
      await waitFor('the migrating client to wait', async () => (await infoField(a, 'clients', 'blocked_clients')) === '1');
      // Redis's blocking MIGRATE would have held these until it was done; nodis served them, and
      // sends the keys again so that the target ends with what the clients were told.
      await a.append('raced', '+new');
      await a.del('dropped');
      await b.call('client', 'unpause');
      assert.equal(await pm, 'OK');
      assert.equal(await a.exists('raced', 'dropped'), 0);
      assert.equal(await b.get('raced'), 'old+new');
      assert.equal(await b.exists('dropped'), 0);
    } finally {
      await b.call('client', 'unpause');
    }
  });

  it('CLIENT UNBLOCK abandons a waiting MIGRATE and keeps the key', async () => {
    const silent = await silentServer();
    try {
      await a.set('ub', 'v');
      const m = src.client();
      const id = String(await m.call('client', 'id'));
      const pm = run(m, 'migrate', '127.0.0.1', silent.port, 'ub', 0, 60000);
      await waitFor('the payload to reach the silent target', async () => silent.received() > 0);
      assert.equal(await a.call('client', 'unblock', id, 'error'), 1);
      assert.equal(await pm, 'UNBLOCKED client unblocked via CLIENT UNBLOCK');
      assert.equal(await a.get('ub'), 'v');
      assert.equal(await m.ping(), 'PONG');
    } finally {
      await silent.close();
    }
  });

  it('refuses to wait inside MULTI/EXEC and scripts, but answers NOKEY there', async () => {
    await a.set('tx', 'v');
    const m = src.client();
    const res = (await m.multi().call('migrate', '127.0.0.1', String(dst.port), 'tx', '9', '5000').call('migrate', '127.0.0.1', String(dst.port), 'nope', '9', '5000').exec())!;
    assert.match(String(res[0]![0]), /MIGRATE cannot wait for the target instance inside MULTI\/EXEC or a script/);
    assert.deepEqual(res[1], [null, 'NOKEY']);
    assert.match(String(await run(a, 'eval', `return redis.call('migrate', '127.0.0.1', ARGV[1], 'tx', '9', '5000')`, 0, dst.port)), /cannot wait/);
    assert.equal(await a.get('tx'), 'v');
  });

  it('requires write access to the keys under ACL', async () => {
    await a.call('acl', 'setuser', 'reader', 'on', 'nopass', '+@all', '%R~*');
    const r = src.client({ username: 'reader', password: 'x' });
    assert.match(String(await run(r, 'migrate', '127.0.0.1', dst.port, 'k', 9, 5000)), /^NOPERM /);
    assert.match(String(await run(r, 'migrate', '127.0.0.1', dst.port, '', 9, 5000, 'auth', 'keys', 'keys', 'k')), /^NOPERM /);
  });

  it('propagates the move as DEL to replicas and fires the del keyspace event', async () => {
    await a.call('config', 'set', 'repl-diskless-sync-delay', '0');
    const rep = await startServer({ args: ['--replicaof', '127.0.0.1', String(src.port)] });
    const r = rep.client();
    await waitFor('replica link', async () => (await infoField(r, 'replication', 'master_link_status')) === 'up');
    await a.call('config', 'set', 'notify-keyspace-events', 'Eg');
    const sub = src.client();
    const events: string[] = [];
    sub.on('message', (_ch: string, key: string) => events.push(key));
    await sub.subscribe('__keyevent@0__:del');
    await a.mset('pr1', '1', 'pr2', '2');
    await waitFor('replica has the keys', async () => (await r.exists('pr1', 'pr2')) === 2);
    assert.equal(await run(a, 'migrate', '127.0.0.1', dst.port, '', 9, 5000, 'keys', 'pr1', 'pr2'), 'OK');
    await waitFor('replica lost the keys', async () => (await r.exists('pr1', 'pr2')) === 0);
    await waitFor('del events', async () => events.length === 2);
    assert.deepEqual(events.sort(), ['pr1', 'pr2']);
    assert.equal(await calls(r, 'del'), 1);
    assert.equal(await calls(r, 'migrate'), 0);
  });
});

describe('MIGRATE with redis-server', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  let n: Redis;
  let r: Redis;

  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startServer({ bin: REDIS })]);
    n = nodis.client();
    r = redis.client();
  });
  after(stopAll);

  it('nodis → redis-server: every type, TTL, BUSYKEY error text', async () => {
    await n.set('s', 'v', 'PX', 90000);
    await n.rpush('l', 'a', 'b', 'c');
    await n.sadd('set', 'x', 'y');
    await n.hset('h', 'f1', 'v1', 'f2', 'v2');
    await n.zadd('z', 1.5, 'm1', 2, 'm2');
    await n.xadd('st', '1-1', 'f', 'v');
    assert.equal(await run(n, 'migrate', '127.0.0.1', redis.port, '', 0, 5000, 'keys', 's', 'l', 'set', 'h', 'z', 'st'), 'OK');
    assert.equal(await n.dbsize(), 0);
    assert.equal(await r.get('s'), 'v');
    assert.ok((await r.pttl('s')) > 80000);
    assert.deepEqual(await r.lrange('l', 0, -1), ['a', 'b', 'c']);
    assert.deepEqual((await r.smembers('set')).sort(), ['x', 'y']);
    assert.deepEqual(await r.hgetall('h'), { f1: 'v1', f2: 'v2' });
    assert.deepEqual(await r.zrange('z', 0, -1, 'WITHSCORES'), ['m1', '1.5', 'm2', '2']);
    assert.deepEqual(await r.call('xrange', 'st', '-', '+'), [['1-1', ['f', 'v']]]);
    await n.set('s', 'again');
    assert.equal(await run(n, 'migrate', '127.0.0.1', redis.port, 's', 0, 5000), 'ERR Target instance replied with error: BUSYKEY Target key name already exists.');
    assert.equal(await n.get('s'), 'again');
  });

  it('nodis → redis-server with AUTH2 and a large value', async () => {
    await r.call('acl', 'setuser', 'mover', 'on', '>pw', '~*', '+@all');
    const big: string[] = [];
    for (let i = 0; i < 50000; i++) big.push(`item ${i}`);
    await n.rpush('big', ...big);
    assert.equal(await run(n, 'migrate', '127.0.0.1', redis.port, 'big', 0, 10000, 'auth2', 'mover', 'pw'), 'OK');
    assert.equal(await r.llen('big'), 50000);
    assert.equal(await r.lindex('big', 49999), 'item 49999');
  });

  it('redis-server → nodis: our RESTORE takes what Redis sends', async () => {
    await r.hset('from-redis', 'a', '1');
    await r.set('from-redis-ttl', 'v', 'EX', 100);
    assert.equal(await run(r, 'migrate', '127.0.0.1', nodis.port, '', 0, 5000, 'keys', 'from-redis', 'from-redis-ttl'), 'OK');
    assert.equal(await r.exists('from-redis', 'from-redis-ttl'), 0);
    assert.deepEqual(await n.hgetall('from-redis'), { a: '1' });
    assert.ok((await n.ttl('from-redis-ttl')) > 90);
    await r.set('from-redis', 'dup');
    assert.equal(await run(r, 'migrate', '127.0.0.1', nodis.port, 'from-redis', 0, 5000), 'ERR Target instance replied with error: BUSYKEY Target key name already exists.');
    assert.equal(await run(r, 'migrate', '127.0.0.1', nodis.port, 'from-redis', 0, 5000, 'replace'), 'OK');
    assert.equal(await n.get('from-redis'), 'dup');
  });

  it('cluster-mode redis-server → nodis: RESTORE-ASKING', async () => {
    const cluster = await startServer({ bin: REDIS, args: ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-config-file', 'nodes.conf'] });
    const c = cluster.client();
    await c.call('cluster', 'addslotsrange', '0', '16383');
    await waitFor('cluster state ok', async () => /cluster_state:ok/.test(String(await c.call('cluster', 'info'))));
    await c.set('asked', 'v');
    const before = await calls(n, 'restore-asking');
    assert.equal(await run(c, 'migrate', '127.0.0.1', nodis.port, 'asked', 0, 5000), 'OK');
    assert.equal(await n.get('asked'), 'v');
    assert.equal((await calls(n, 'restore-asking')) - before, 1);
  });
});
