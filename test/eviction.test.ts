/**
 * maxmemory eviction (server/evict.ts) and per-key access records (keyspace/access.ts).
 *
 * Policy behaviour is checked on an in-process server with a manual clock, a seeded random
 * source and a memory model (1,000 bytes per key), so which keys go is deterministic. A real
 * nodis-server process then shows that eviction keeps its measured memory under maxmemory while
 * far more data than fits is written, with its garbage collector in the loop.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { startServer, stopAll, freePort } from './helpers/server.js';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { ManualClock, Random } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';
import { setMemoryGauge } from '../src/server/evict.js';
import type { PropagationTarget } from '../src/server/propagate.js';

const BYTES_PER_KEY = 1000;

interface Harness {
  server: Server;
  clock: ManualClock;
  dir: string;
  r: Redis;
  fed: string[];
  /** Moves time on, with the cached LRU/LFU clocks (which cron refreshes in real time). */
  advance(ms: number): void;
  /** Runs a command, returning its reply or its error text. */
  run(...args: (string | number)[]): Promise<unknown>;
  info(field: string): Promise<string>;
}

const harnesses: Harness[] = [];

async function harness(seed = 7): Promise<Harness> {
  const port = await freePort();
  const clock = new ManualClock();
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  config.set('port', [String(port)], 'args');
  config.set('bind', ['127.0.0.1'], 'args');
  config.set('save', [''], 'args');
  config.set('enable-debug-command', ['yes'], 'args');
  config.set('loglevel', ['warning'], 'args');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-evict-'));
  config.set('dir', [dir], 'args');
  const server = new Server({ clock, random: new Random(seed), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  await server.listen();
  // The model: every key costs BYTES_PER_KEY, whatever the heap says.
  const keys = (): number => server.dbs.reduce((n, db) => n + db.size, 0);
  server.usedMemory = (): number => keys() * BYTES_PER_KEY;
  setMemoryGauge(server, { used: () => keys() * BYTES_PER_KEY, freedBy: () => BYTES_PER_KEY });
  const fed: string[] = [];
  const target: PropagationTarget = { feed: (db, argv) => fed.push(`${db}:${argv.join(' ')}`) };
  server.propagator.addTarget(target);
  const r = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
  const run = async (...args: (string | number)[]): Promise<unknown> => {
    try {
      return await r.call(String(args[0]), ...args.slice(1).map(String));
    } catch (e) {
      return (e as Error).message;
    }
  };
  const info = async (field: string): Promise<string> => {
    const m = new RegExp(`^${field}:(.*)$`, 'm').exec(String(await r.info()));
    return m === null ? '' : m[1]!.trim();
  };
  const advance = (ms: number): void => {
    clock.advance(ms);
    server.refreshAccessClock();
  };
  const h = { server, clock, dir, r, fed, advance, run, info };
  harnesses.push(h);
  return h;
}

after(async () => {
  for (const h of harnesses) {
    h.r.disconnect();
    await h.server.shutdown({ save: false, now: true, force: true, signal: true });
    fs.rmSync(h.dir, { recursive: true, force: true });
  }
  await stopAll();
});

async function fill(h: Harness, prefix: string, n: number, ttl = 0): Promise<void> {
  const p = h.r.pipeline();
  for (let i = 0; i < n; i++) {
    if (ttl > 0) p.call('set', `${prefix}${i}`, 'v', 'ex', String(ttl));
    else p.call('set', `${prefix}${i}`, 'v');
  }
  await p.exec();
}

async function surviving(h: Harness, prefix: string, n: number): Promise<number> {
  let k = 0;
  for (let i = 0; i < n; i++) if ((await h.r.exists(`${prefix}${i}`)) === 1) k++;
  return k;
}

describe('eviction policies (memory model: 1,000 bytes per key)', () => {
  it('allkeys-lru keeps recently used keys and evicts idle ones', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    await fill(h, 'cold', 40);
    await fill(h, 'hot', 10);
    h.advance(20_000);
    for (let i = 0; i < 10; i++) await h.r.get(`hot${i}`);
    h.advance(5_000);
    await h.run('config', 'set', 'maxmemory', 50 * BYTES_PER_KEY);
    await fill(h, 'new', 20);
    assert.equal(await h.r.dbsize(), 50);
    assert.equal(await h.info('evicted_keys'), '20');
    assert.equal(await surviving(h, 'hot', 10), 10, 'every recently read key survives');
    assert.equal(await surviving(h, 'new', 20), 20, 'every new key survives');
    assert.equal(await surviving(h, 'cold', 40), 20);
  });

  it('allkeys-lfu keeps frequently used keys', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lfu');
    await fill(h, 'rare', 40);
    await fill(h, 'freq', 10);
    for (let round = 0; round < 30; round++) for (let i = 0; i < 10; i++) await h.r.get(`freq${i}`);
    const f = Number(await h.run('object', 'freq', 'freq0'));
    assert.ok(f > 5, `counter grew past LFU_INIT_VAL (${f})`);
    assert.equal(await h.run('object', 'freq', 'rare0'), 5);
    await h.run('config', 'set', 'maxmemory', 50 * BYTES_PER_KEY);
    // Accessed right after creation, so their counters beat the (new, untouched) rare keys.
    const p = h.r.pipeline();
    for (let i = 0; i < 20; i++) p.call('set', `new${i}`, 'v').call('get', `new${i}`).call('get', `new${i}`);
    await p.exec();
    assert.equal(await h.r.dbsize(), 50);
    assert.equal(await surviving(h, 'freq', 10), 10);
  });

  it('allkeys-random evicts down to the limit across databases', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-random');
    await fill(h, 'a', 30);
    await h.run('select', 1);
    await fill(h, 'b', 30);
    await h.run('config', 'set', 'maxmemory', 40 * BYTES_PER_KEY);
    assert.equal(await h.run('set', 'trigger', 'x'), 'OK');
    const sizes = [Number(await h.run('dbsize'))];
    await h.run('select', 0);
    sizes.unshift(Number(await h.run('dbsize')));
    assert.equal(sizes[0]! + sizes[1]!, 40);
    assert.ok(sizes[0]! > 0 && sizes[0]! < 30 && sizes[1]! < 31, `both databases lost keys: ${sizes.join(', ')}`);
  });

  it('volatile-ttl evicts the keys that expire soonest, and never a key without TTL', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'volatile-ttl');
    await fill(h, 'plain', 20);
    const p = h.r.pipeline();
    for (let i = 0; i < 20; i++) p.call('set', `ttl${i}`, 'v', 'ex', String(1000 + i * 100));
    await p.exec();
    await h.run('config', 'set', 'maxmemory', 40 * BYTES_PER_KEY);
    await fill(h, 'more', 5);
    assert.equal(await surviving(h, 'plain', 20), 20);
    // The pool approximates: the evicted ones are among the soonest to expire.
    const gone: number[] = [];
    for (let i = 0; i < 20; i++) if ((await h.r.exists(`ttl${i}`)) === 0) gone.push(i);
    assert.equal(gone.length, 5);
    assert.ok(gone.every((i) => i < 12), `evicted ${gone.join(' ')}`);
  });

  for (const policy of ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl']) {
    it(`${policy} removes only volatile keys, then refuses writes with OOM`, async () => {
      const h = await harness();
      await h.run('config', 'set', 'maxmemory-policy', policy);
      await fill(h, 'plain', 10);
      await fill(h, 'vol', 10, 1000);
      await h.run('config', 'set', 'maxmemory', 15 * BYTES_PER_KEY);
      await fill(h, 'x', 5);
      assert.equal(await surviving(h, 'plain', 10), 10);
      assert.equal(await h.r.dbsize(), 15);
      // Writes go on evicting volatile keys until there are none, then fail.
      let err = '';
      for (let i = 0; i < 20 && err === ''; i++) {
        const reply = await h.run('set', `y${i}`, 'v');
        if (reply !== 'OK') err = String(reply);
      }
      assert.equal(err, "OOM command not allowed when used memory > 'maxmemory'.");
      assert.equal(await surviving(h, 'plain', 10), 10);
      assert.equal(await surviving(h, 'vol', 10), 0);
      // Reads are still served.
      assert.equal(await h.r.get('plain0'), 'v');
    });
  }

  it('noeviction refuses writes and keeps every key', async () => {
    const h = await harness();
    await fill(h, 'k', 10);
    await h.run('config', 'set', 'maxmemory', 5 * BYTES_PER_KEY);
    assert.equal(await h.run('set', 'more', 'v'), "OOM command not allowed when used memory > 'maxmemory'.");
    assert.equal(await h.r.dbsize(), 10);
    assert.equal(await h.info('evicted_keys'), '0');
  });
});

describe('how the LRU/LFU pool samples (server/evict.ts populatePool)', () => {
  it('keys written before tracking started (no access record) are sampled and evicted as idle', async () => {
    const h = await harness();
    // noeviction keeps no records: these 40 keys have none when allkeys-lru starts.
    await fill(h, 'old', 40);
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    h.advance(30_000);
    for (let i = 0; i < 10; i++) await h.r.get(`old${i}`); // now recent, with a record
    h.advance(5_000);
    const db = h.server.dbs[0]!;
    assert.equal(db.access.size, 10, 'only the keys read since have a record');
    await h.run('config', 'set', 'maxmemory', 50 * BYTES_PER_KEY);
    await fill(h, 'new', 20);
    assert.equal(await h.r.dbsize(), 50);
    assert.equal(await surviving(h, 'old', 10), 10, 'the keys read under LRU survive');
    assert.equal(await surviving(h, 'new', 20), 20);
    let unread = 0;
    for (let i = 10; i < 40; i++) if ((await h.r.exists(`old${i}`)) === 1) unread++;
    assert.equal(unread, 20, 'the 20 evicted keys are keys never read under LRU');
  });

  for (const policy of ['allkeys-lru', 'allkeys-lfu']) {
    it(`${policy} on a sharded keyspace (40,000 keys): every eviction takes an idle key`, async () => {
      const h = await harness(11);
      await h.run('config', 'set', 'maxmemory-policy', policy);
      const fillBig = async (prefix: string, n: number): Promise<void> => {
        for (let start = 0; start < n; start += 5000) {
          const p = h.r.pipeline();
          for (let i = start; i < Math.min(n, start + 5000); i++) p.call('set', `${prefix}${i}`, 'v');
          await p.exec();
        }
      };
      await fillBig('cold', 30_000);
      h.advance(120_000);
      await fillBig('hot', 10_000);
      if (policy === 'allkeys-lfu') {
        // Counters: a few reads each lift the hot keys above LFU_INIT_VAL's cold ones.
        for (let round = 0; round < 12; round++) {
          const p = h.r.pipeline();
          for (let i = 0; i < 10_000; i++) p.get(`hot${i}`);
          await p.exec();
        }
      }
      const db = h.server.dbs[0]!;
      assert.ok(db.dict.sharded, 'the keyspace is sharded');
      assert.equal(db.access.size, db.dict.size, 'every key has a record: the access dictionary is what is sampled');
      await h.run('config', 'set', 'maxmemory', 40_000 * BYTES_PER_KEY);
      const p = h.r.pipeline();
      for (let i = 0; i < 1000; i++) p.call('set', `new${i}`, 'v').call('get', `new${i}`);
      await p.exec();
      assert.equal(await h.r.dbsize(), 40_000);
      assert.equal(await h.info('evicted_keys'), '1000');
      let hotLost = 0;
      const q = h.r.pipeline();
      for (let i = 0; i < 10_000; i++) q.exists(`hot${i}`);
      for (const [, n] of (await q.exec())!) if (n === 0) hotLost++;
      assert.equal(hotLost, 0, 'no recently used (or, under LFU, frequently used) key was evicted');
    });
  }
});

describe('what an eviction does', () => {
  it('propagates DEL (UNLINK with lazyfree-lazy-eviction), fires `evicted`, counts, and breaks WATCH', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-random');
    await h.run('config', 'set', 'notify-keyspace-events', 'Ee');
    const sub = new Redis({ port: h.server.boundPort, host: '127.0.0.1' });
    const events: string[] = [];
    sub.on('message', (_ch: string, key: string) => events.push(key));
    await sub.subscribe('__keyevent@0__:evicted');
    await fill(h, 'k', 10);
    const watcher = new Redis({ port: h.server.boundPort, host: '127.0.0.1', enableReadyCheck: false });
    for (let i = 0; i < 10; i++) await watcher.watch(`k${i}`);
    h.fed.length = 0;
    // Eviction runs before every command, so each write brings the dataset one key over the
    // limit and the next command evicts one. CONFIG SET maxmemory also starts it at once.
    await h.run('config', 'set', 'maxmemory', 9 * BYTES_PER_KEY);
    assert.equal(await h.run('set', 'n1', 'v'), 'OK');
    await h.run('config', 'set', 'lazyfree-lazy-eviction', 'yes');
    assert.equal(await h.run('set', 'n2', 'v'), 'OK');
    assert.equal(await h.run('ping'), 'PONG');
    const shape = h.fed.map((l) => l.replace(/ k\d$/, ' k*'));
    assert.deepEqual(shape, ['0:DEL k*', '0:set n1 v', '0:DEL k*', '0:set n2 v', '0:UNLINK k*']);
    assert.equal(await h.info('evicted_keys'), '3');
    assert.equal(await h.r.dbsize(), 9);
    for (let i = 0; i < 50 && events.length < 3; i++) await sub.ping();
    assert.deepEqual(
      events.map((k) => k),
      h.fed.filter((l) => !l.includes(' n')).map((l) => l.split(' ')[1]),
    );
    const tx = await watcher.multi().set('w', '1').exec();
    assert.equal(tx, null, 'EXEC aborted: a watched key was evicted');
    sub.disconnect();
    watcher.disconnect();
  });

  it('evictions caused by a command inside MULTI follow its EXEC', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    h.fed.length = 0;
    const tx = await h.r.multi().incr('x').config('SET', 'maxmemory', '1').incr('x').exec();
    assert.deepEqual(tx?.map((e) => e[1]), [1, 'OK', 2]);
    for (let i = 0; i < 100 && (await h.r.dbsize()) !== 0; i++) await h.r.ping();
    assert.equal(await h.r.dbsize(), 0);
    assert.deepEqual(h.fed, ['0:MULTI', '0:INCRBY x 1', '0:INCRBY x 1', '0:EXEC', '0:DEL x'].map((l) => l.replace('INCRBY x 1', h.fed[1]!.slice(2))));
    await h.run('config', 'set', 'maxmemory', 0);
  });
});

describe('access records: OBJECT IDLETIME / FREQ, TOUCH, RESTORE', () => {
  it('IDLETIME counts seconds since the last access; TYPE/TTL/EXISTS/OBJECT do not count, GET and TOUCH do', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    await h.run('set', 'foo', 'bar');
    h.advance(3_000);
    await h.run('type', 'foo');
    await h.run('ttl', 'foo');
    await h.run('exists', 'foo');
    await h.run('object', 'encoding', 'foo');
    await h.run('memory', 'usage', 'foo');
    assert.equal(await h.run('object', 'idletime', 'foo'), 3);
    assert.match(String(await h.run('debug', 'object', 'foo')), / lru:\d+ lru_seconds_idle:3$/);
    await h.run('touch', 'foo');
    assert.equal(await h.run('object', 'idletime', 'foo'), 0);
    h.advance(2_000);
    await h.run('get', 'foo');
    assert.equal(await h.run('object', 'idletime', 'foo'), 0);
    h.advance(2_000);
    await h.run('set', 'foo', 'baz');
    assert.equal(await h.run('object', 'idletime', 'foo'), 0);
    assert.match(String(await h.run('object', 'freq', 'foo')), /^ERR An LFU maxmemory policy is not selected/);
  });

  it('LFU counters grow logarithmically and decay with lfu-decay-time', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lfu');
    await h.run('set', 'k', 'v');
    assert.equal(await h.run('object', 'freq', 'k'), 5);
    for (let i = 0; i < 200; i++) await h.r.get('k');
    const f = Number(await h.run('object', 'freq', 'k'));
    assert.ok(f >= 8 && f <= 14, `200 hits at lfu-log-factor 10 give a counter near 10 (${f})`);
    h.advance(3 * 60_000);
    assert.equal(await h.run('object', 'freq', 'k'), f - 3, 'one point per minute idle');
    await h.run('config', 'set', 'lfu-decay-time', 0);
    h.advance(60 * 60_000);
    assert.equal(await h.run('object', 'freq', 'k'), f, 'lfu-decay-time 0 never decays');
    assert.match(String(await h.run('object', 'idletime', 'k')), /^ERR An LFU maxmemory policy is selected/);
  });

  it('RESTORE IDLETIME and FREQ set the record for the policy in force', async () => {
    const h = await harness();
    await h.run('set', 'foo', 'bar');
    const payload = (await h.r.dumpBuffer('foo'))!;
    await h.run('del', 'foo');
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    assert.equal(await h.r.restore('foo', 0, payload, 'IDLETIME', '1000'), 'OK');
    assert.equal(await h.run('object', 'idletime', 'foo'), 1000);
    await h.run('del', 'foo');
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lfu');
    assert.equal(await h.r.restore('foo', 0, payload, 'FREQ', '100'), 'OK');
    assert.equal(await h.run('object', 'freq', 'foo'), 100);
  });

  it('without an LRU/LFU policy no records are kept: idle time counts from the policy change', async () => {
    const h = await harness();
    await h.run('set', 'a', '1');
    h.advance(4_000);
    await h.run('get', 'a');
    assert.equal(await h.run('object', 'idletime', 'a'), 4);
    for (const db of h.server.dbs) assert.equal(db.access.size, 0);
  });
});

describe('access records in RDB files (IDLE and FREQ opcodes)', () => {
  it('DEBUG RELOAD keeps idle times under LRU and counters under LFU', async () => {
    const h = await harness();
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lru');
    await h.run('set', 'old', 'v');
    h.advance(100_000);
    await h.run('set', 'young', 'v');
    assert.equal(await h.run('debug', 'reload'), 'OK');
    assert.equal(await h.run('object', 'idletime', 'old'), 100);
    assert.equal(await h.run('object', 'idletime', 'young'), 0);
    await h.run('config', 'set', 'maxmemory-policy', 'allkeys-lfu');
    await h.run('flushall');
    await h.run('set', 'f', 'v');
    const payload = (await h.r.dumpBuffer('f'))!;
    await h.r.restore('f', 0, payload, 'REPLACE', 'FREQ', '77');
    assert.equal(await h.run('debug', 'reload'), 'OK');
    assert.equal(await h.run('object', 'freq', 'f'), 77);
  });

  for (const [from, to] of [['nodis', 'redis'], ['redis', 'nodis']] as const) {
    it(`a dump.rdb written by ${from}-server carries them to ${to}-server`, async () => {
      const bin = (k: string): string | undefined => (k === 'redis' ? '/usr/bin/redis-server' : undefined);
      const a = await startServer({ bin: bin(from), args: ['--maxmemory-policy', 'allkeys-lru'] });
      const ca = a.client();
      await ca.set('k', 'v');
      const payload = (await ca.dumpBuffer('k'))!;
      await ca.restore('idle', 0, payload, 'IDLETIME', '5000');
      await ca.save();
      const b = await startServer({ bin: bin(to), args: ['--maxmemory-policy', 'allkeys-lru', '--dir', a.dir] });
      const cb = b.client();
      const idle = Number(await cb.call('object', 'idletime', 'idle'));
      assert.ok(idle >= 5000 && idle <= 5010, `idle ${idle}`);
      assert.ok(Number(await cb.call('object', 'idletime', 'k')) < 10);
      await b.stop();
      await ca.config('SET', 'maxmemory-policy', 'allkeys-lfu');
      await ca.restore('hot', 0, payload, 'FREQ', '200');
      await ca.save();
      const c = await startServer({ bin: bin(to), args: ['--maxmemory-policy', 'allkeys-lfu', '--dir', a.dir] });
      assert.equal(await c.client().call('object', 'freq', 'hot'), 200);
      await c.stop();
      await a.stop();
    });
  }
});

describe('a real nodis-server under maxmemory', () => {
  it('allkeys-lru holds measured memory under the limit while 3x the data is written', async () => {
    const max = 96 * 1024 * 1024;
    const s = await startServer({ args: ['--maxmemory', String(max), '--maxmemory-policy', 'allkeys-lru'] });
    const c = s.client();
    const value = 'x'.repeat(100_000);
    let errors = 0;
    const batches = 150;
    for (let batch = 0; batch < batches; batch++) {
      const p = c.pipeline();
      for (let i = 0; i < 20; i++) p.set(`k${batch}:${i}`, value);
      const res = (await p.exec()) ?? [];
      errors += res.filter((e) => e[0] !== null).length;
    }
    // One transaction, so that no eviction (which runs before each command) falls in between.
    const [[, keys], [, info]] = (await c.multi().dbsize().info().exec()) as [[null, number], [null, string]];
    const field = (f: string): number => Number(new RegExp(`^${f}:(\\d+)`, 'm').exec(info)![1]);
    assert.equal(errors, 0, 'no write was refused');
    assert.ok(field('evicted_keys') > 1500, `evicted ${field('evicted_keys')}`);
    assert.equal(field('evicted_keys') + keys, batches * 20);
    assert.ok(keys > 100 && keys < 960, `kept ${keys} keys of 100 KB`);
    assert.ok(field('used_memory') <= max * 1.05, `used_memory ${field('used_memory')}`);
    // The most recent writes are there.
    assert.equal((await c.get(`k${batches - 1}:19`))?.length, 100_000);
  });
});
