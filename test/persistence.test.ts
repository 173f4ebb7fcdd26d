/**
 * RDB persistence end to end, against Debian's redis-server 7.0.15 where it matters:
 * files written by either server load into the other with every value and TTL intact (equal
 * DEBUG DIGEST), nodis's files pass redis-check-rdb, DUMP payloads travel both ways, BGSAVE is
 * a point-in-time snapshot while clients keep writing, and a corrupt file is refused.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import type { Redis } from 'ioredis';

const REDIS_SERVER = '/usr/bin/redis-server';

function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-rdb-'));
}

/** Fills a server with every type in its compact and big encodings, with and without TTLs. */
async function populate(c: Redis): Promise<void> {
  await c.set('str', 'hello');
  await c.set('int', '123456789');
  await c.set('bigint', '-9223372036854775808');
  await c.set('compressible', 'a'.repeat(500));
  await c.set('bin', Buffer.from([0, 255, 13, 10, 128]));
  await c.set('ttl', 'v', 'PX', 3600_000);
  // Sixteen-digit integers beyond 2^53 must not pass through a double.
  await c.rpush('list', 'a', 'b', '1', '-2', '300000', 'x'.repeat(100), '9110178456371417', '-9007199254740993');
  for (let i = 0; i < 1000; i++) await c.rpush('biglist', String(i), `item:${i}`);
  await c.sadd('intset', '1', '2', '-3', '4000000000', '9110178456371417', '-9007199254740993');
  await c.sadd('set', 'a', 'b', 'c');
  for (let i = 0; i < 600; i++) await c.sadd('bigintset', String(i * 7));
  await c.hset('hash', 'f1', 'v1', 'f2', '22', '9110178456371417', '-9007199254740993');
  for (let i = 0; i < 600; i++) await c.hset('bighash', `field:${i}`, `value:${i}`);
  await c.zadd('zset', '1', 'a', '2.5', 'b', '-3', 'c', 'inf', 'top');
  for (let i = 0; i < 300; i++) await c.zadd('bigzset', String(i / 3), `m${i}`);
  await c.expire('bighash', 7200);
  await c.select(3);
  await c.set('in-db-3', 'yes');
  await c.select(0);
}

async function digest(c: Redis): Promise<string> {
  return (await c.call('DEBUG', 'DIGEST')) as string;
}

describe('rdb persistence', () => {
  after(stopAll);

  it('a nodis dump.rdb passes redis-check-rdb and loads into redis-server intact', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    await populate(c);
    const d = await digest(c);
    assert.equal(await c.call('SAVE'), 'OK');
    const dir = scratchDir();
    fs.copyFileSync(path.join(n.dir, 'dump.rdb'), path.join(dir, 'dump.rdb'));
    const check = execFileSync('/usr/bin/redis-check-rdb', [path.join(dir, 'dump.rdb')]).toString();
    assert.match(check, /RDB looks OK/);
    const r = await startServer({ bin: REDIS_SERVER, args: ['--dir', dir, '--enable-debug-command', 'yes'] });
    const rc = r.client();
    assert.equal(await digest(rc), d);
    assert.ok((await rc.pttl('ttl')) > 3000_000);
    assert.equal(await rc.call('OBJECT', 'ENCODING', 'bighash'), 'hashtable');
    assert.equal(await rc.call('OBJECT', 'ENCODING', 'intset'), 'intset');
  });

  it('a redis-server dump.rdb loads into nodis with every value, encoding and TTL', async () => {
    const dir = scratchDir();
    const r = await startServer({ bin: REDIS_SERVER, args: ['--dir', dir, '--enable-debug-command', 'yes'] });
    const rc = r.client();
    await populate(rc);
    const d = await digest(rc);
    await rc.call('SAVE');
    const n = await startServer({ args: ['--dir', dir, '--enable-debug-command', 'yes'] });
    await n.waitForLog(/Done loading RDB, keys loaded: 16, keys expired: 0\./);
    const c = n.client();
    assert.equal(await digest(c), d);
    assert.ok((await c.pttl('ttl')) > 3000_000);
    for (const key of ['hash', 'bighash', 'zset', 'bigzset', 'intset', 'set', 'bigintset']) {
      assert.equal(await c.call('OBJECT', 'ENCODING', key), await rc.call('OBJECT', 'ENCODING', key), key);
    }
    assert.deepEqual(await c.getBuffer('bin'), Buffer.from([0, 255, 13, 10, 128]));
  });

  it('DUMP payloads RESTORE across redis-server and nodis both ways', async () => {
    const r = await startServer({ bin: REDIS_SERVER });
    const n = await startServer();
    const rc = r.client();
    const c = n.client();
    await populate(rc);
    await populate(c);
    for (const key of ['str', 'int', 'compressible', 'list', 'biglist', 'intset', 'set', 'hash', 'bighash', 'zset', 'bigzset']) {
      const fromRedis = (await rc.dumpBuffer(key))!;
      assert.equal(await c.call('RESTORE', `${key}:r`, '0', fromRedis), 'OK');
      const fromNodis = (await c.dumpBuffer(key))!;
      assert.equal(await rc.call('RESTORE', `${key}:n`, '0', fromNodis), 'OK');
    }
    assert.deepEqual(await c.lrange('biglist:r', 0, -1), await c.lrange('biglist', 0, -1));
    assert.deepEqual(await rc.zrange('bigzset:n', 0, -1, 'WITHSCORES'), await c.zrange('bigzset', 0, -1, 'WITHSCORES'));
    assert.deepEqual(await rc.hgetall('bighash:n'), await c.hgetall('bighash'));
    const payload = (await c.dumpBuffer('str'))!;
    payload[payload.length - 1] ^= 1;
    await assert.rejects(c.call('RESTORE', 'bad', '0', payload), /DUMP payload version or checksum are wrong/);
    await assert.rejects(c.call('RESTORE', 'str', '0', (await c.dumpBuffer('int'))!), /BUSYKEY/);
  });

  it('DEBUG RELOAD keeps the dataset digest', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    await populate(c);
    const d = await digest(c);
    assert.equal(await c.call('DEBUG', 'RELOAD'), 'OK');
    assert.equal(await digest(c), d);
  });

  it('BGSAVE is a point-in-time snapshot while clients write', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    await c.call('DEBUG', 'POPULATE', '3000', 'k', '10');
    await c.rpush('list', 'original');
    const d = await digest(c);
    // Slow the save down (≈ 0.3 s) so the writes below land while it runs.
    await c.call('CONFIG', 'SET', 'rdb-key-save-delay', '100');
    // total_forks counts background jobs, as tools watching for one to start expect.
    assert.match(await c.info('stats'), /\r\ntotal_forks:0\r\n/);
    assert.equal(await c.call('BGSAVE'), 'Background saving started');
    assert.match(await c.info('stats'), /\r\ntotal_forks:1\r\n/);
    for (let i = 0; i < 3000; i += 7) await c.set(`k:${i}`, 'changed');
    await c.rpush('list', 'appended');
    await c.del('k:1');
    await c.set('newkey', 'x');
    await c.flushdb();
    while ((await c.info('persistence')).includes('rdb_bgsave_in_progress:1')) await new Promise((r) => setTimeout(r, 20));
    assert.match(await c.info('persistence'), /rdb_last_bgsave_status:ok/);
    assert.equal(await c.call('DEBUG', 'RELOAD', 'NOSAVE'), 'OK');
    assert.equal(await digest(c), d);
    assert.deepEqual(await c.lrange('list', 0, -1), ['original']);
  });

  it('INFO reports the copy-on-write that writes during a BGSAVE cost (current_cow_size, rdb_last_cow_size)', async () => {
    const n = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = n.client();
    const persistence = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const line of (await c.info('persistence')).split('\r\n')) {
        const [k, v] = line.split(':');
        if (k !== undefined && v !== undefined) out[k] = Number(v);
      }
      return out;
    };
    await c.call('DEBUG', 'POPULATE', '2000', 'key', '500');
    assert.equal((await persistence()).current_cow_size, 0);
    // 2,000 keys at 5 ms each: the walk reaches the last keys after ~10 s, far later than the
    // steps below touch them.
    await c.call('CONFIG', 'SET', 'rdb-key-save-delay', '5000');
    assert.equal(await c.call('BGSAVE'), 'Background saving started');
    // Reads copy nothing.
    for (let i = 1950; i < 1960; i++) await c.get(`key:${i}`);
    assert.equal((await persistence()).current_cow_size, 0);
    // Overwriting 16 keys the walk has not reached copies their old 500-byte values first.
    for (let i = 1980; i < 1996; i++) await c.setrange(`key:${i}`, 0, 'B'.repeat(500));
    const during = await persistence();
    assert.equal(during.rdb_bgsave_in_progress, 1);
    assert.ok(during.current_cow_size >= 16 * 500, `current_cow_size ${during.current_cow_size}`);
    assert.equal(during.current_cow_peak, during.current_cow_size);
    // A key copied once is not copied again.
    for (let i = 1980; i < 1996; i++) await c.setrange(`key:${i}`, 0, 'C'.repeat(500));
    assert.equal((await persistence()).current_cow_size, during.current_cow_size);
    await c.call('CONFIG', 'SET', 'rdb-key-save-delay', '0');
    while ((await persistence()).rdb_bgsave_in_progress === 1) await new Promise((r) => setTimeout(r, 20));
    const after = await persistence();
    assert.match(await c.info('persistence'), /rdb_last_bgsave_status:ok/);
    assert.equal(after.current_cow_size, 0);
    assert.equal(after.rdb_last_cow_size, during.current_cow_size);
  });

  it('refuses a corrupt dump.rdb at start-up with a clear log line', async () => {
    const n = await startServer();
    const c = n.client();
    await c.set('a', 'b');
    await c.call('SAVE');
    const dir = scratchDir();
    const file = path.join(dir, 'dump.rdb');
    const buf = fs.readFileSync(path.join(n.dir, 'dump.rdb'));
    buf.write('foobar00', buf.length - 8, 'latin1');
    fs.writeFileSync(file, buf);
    await assert.rejects(startServer({ args: ['--dir', dir] }), /Wrong RDB checksum[\s\S]*RDB CRC error/);
    fs.writeFileSync(file, buf.subarray(0, buf.length - 12));
    await assert.rejects(startServer({ args: ['--dir', dir] }), /Short read or OOM loading DB/);
  });

  it('saves on SHUTDOWN when save points are set, and SHUTDOWN NOSAVE does not', async () => {
    const n: RunningServer = await startServer({ args: ['--save', '3600 1'] });
    const c = n.client();
    await c.set('persisted', '1');
    await c.call('SHUTDOWN').catch(() => undefined);
    await new Promise<void>((r) => (n.proc.exitCode !== null ? r() : n.proc.once('exit', () => r())));
    assert.ok(fs.existsSync(path.join(n.dir, 'dump.rdb')));
    assert.match(n.output(), /Saving the final RDB snapshot before exiting/);
  });
});
