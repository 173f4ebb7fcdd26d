/**
 * Stream commands: replies compared byte for byte with the real redis-server for deterministic
 * scripts (explicit IDs; nothing that prints times), keyspace events, blocking XREAD /
 * XREADGROUP, and propagation of the non-deterministic forms.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, diffAgainstRedis, keyEventsOf, runRaw } from './helpers/redis-compare.js';

type Script = string[][];

const fill = (key: string, n: number, from = 1): Script => {
  const out: Script = [];
  for (let i = from; i < from + n; i++) out.push(['XADD', key, `${i}-0`, 'f', `v${i}`, 'g', String(i)]);
  return out;
};

const scripts: Record<string, Script> = {
  'XADD explicit ids and errors': [
    ['XADD', '@s', '1-1', 'a', '1'],
    ['XADD', '@s', '1-1', 'a', '1'],
    ['XADD', '@s', '0-0', 'a', '1'],
    ['XADD', '@s', '1-*', 'b', '2'],
    ['XADD', '@s', '5-*', 'b', '2'],
    ['XADD', '@s', '3', 'c', '3'],
    ['XADD', '@s', '7', 'c', '3'],
    ['XADD', '@s', '8-x', 'c', '3'],
    ['XADD', '@s', '9-1', 'c'],
    ['XADD', '@s', 'NOMKSTREAM', '10-1', 'c', '1'],
    ['XADD', '@missing', 'NOMKSTREAM', '10-1', 'c', '1'],
    ['XADD', '@s', 'MAXLEN', '-1', '11-1', 'c', '1'],
    ['XADD', '@s', 'MAXLEN', '2', 'MINID', '1', '11-1', 'c', '1'],
    ['XADD', '@s', 'LIMIT', '2', '11-1', 'c', '1'],
    ['XADD', '@s', 'MAXLEN', '2', 'LIMIT', '2', '11-1', 'c', '1'],
    ['XADD', '@s', '-', 'c', '1'],
    ['XADD', '@s', '18446744073709551615-18446744073709551615', 'c', '1'],
    ['XADD', '@s', '*', 'c', '1'],
    ['XADD', '@s', '18446744073709551615-*', 'c', '1'],
    ['XLEN', '@s'],
    ['XRANGE', '@s', '-', '+'],
    ['SET', '@str', 'x'],
    ['XADD', '@str', '1-1', 'a', '1'],
    ['XLEN', '@str'],
    ['TYPE', '@s'],
    ['OBJECT', 'ENCODING', '@s'],
  ],
  'XRANGE / XREVRANGE': [
    ...fill('@s', 12),
    ['XRANGE', '@s', '-', '+', 'COUNT', '3'],
    ['XRANGE', '@s', '(3', '+', 'COUNT', '2'],
    ['XRANGE', '@s', '(3-0', '(6-0'],
    ['XREVRANGE', '@s', '+', '-', 'COUNT', '4'],
    ['XREVRANGE', '@s', '(10', '(2'],
    ['XRANGE', '@s', '5', '5'],
    ['XRANGE', '@s', '-', '+', 'COUNT', '0'],
    ['XRANGE', '@s', '-', '+', 'COUNT', '-1'],
    ['XRANGE', '@s', '-', '+', 'COUNT'],
    ['XRANGE', '@s', '(-', '+'],
    ['XRANGE', '@s', '(18446744073709551615-18446744073709551615', '+'],
    ['XRANGE', '@s', '-', '(0-0'],
    ['XRANGE', '@s', 'x', '+'],
    ['XRANGE', '@nokey', '-', '+'],
    ['XREVRANGE', '@s', '3', '5'],
  ],
  'XDEL / XTRIM / XLEN': [
    ...fill('@s', 30),
    ['XDEL', '@s', '3-0', '4-0', '100-0'],
    ['XDEL', '@s', '3-0'],
    ['XDEL', '@s', 'bad'],
    ['XLEN', '@s'],
    ['XTRIM', '@s', 'MAXLEN', '20'],
    ['XTRIM', '@s', 'MINID', '15'],
    ['XTRIM', '@s', 'MAXLEN', '~', '2'],
    ['XTRIM', '@s', 'MINID', '=', '20'],
    ['XTRIM', '@s'],
    ['XTRIM', '@s', 'LIMIT', '10'],
    ['XTRIM', '@s', 'MAXLEN', '5', 'LIMIT', '10'],
    ['XTRIM', '@nokey', 'MAXLEN', '5'],
    ['XRANGE', '@s', '-', '+'],
    ['XINFO', 'STREAM', '@s'],
    ['XDEL', '@s', '20-0'],
    ['XINFO', 'STREAM', '@s', 'FULL'],
  ],
  'approximate trimming drops whole nodes': [
    ['CONFIG', 'SET', 'stream-node-max-entries', '10'],
    ...fill('@s', 95),
    ['XTRIM', '@s', 'MAXLEN', '~', '50'],
    ['XLEN', '@s'],
    ['XTRIM', '@s', 'MINID', '~', '77'],
    ['XLEN', '@s'],
    ['XADD', '@s', 'MAXLEN', '~', '5', 'LIMIT', '10', '200-0', 'f', 'v'],
    ['XLEN', '@s'],
    ['XINFO', 'STREAM', '@s'],
    ['CONFIG', 'SET', 'stream-node-max-entries', '100'],
  ],
  'XREAD': [
    ...fill('@s', 5),
    ['XREAD', 'COUNT', '2', 'STREAMS', '@s', '0'],
    ['XREAD', 'STREAMS', '@s', '@nokey', '3-0', '0'],
    ['XREAD', 'STREAMS', '@s', '$'],
    ['XREAD', 'STREAMS', '@s'],
    ['XREAD', 'STREAMS', '@s', '@s', '0', '4'],
    ['XREAD', 'GROUP', 'g', 'c', 'STREAMS', '@s', '0'],
    ['XREAD', 'NOACK', 'STREAMS', '@s', '0'],
    ['XREAD', 'STREAMS', '@s', '>'],
    ['XREAD', 'COUNT', 'x', 'STREAMS', '@s', '0'],
    ['XREAD', 'BLOCK', '-1', 'STREAMS', '@s', '0'],
    ['XREAD', 'FOO', 'STREAMS', '@s', '0'],
    ['MULTI'],
    ['XREAD', 'BLOCK', '0', 'STREAMS', '@s', '$'],
    ['EXEC'],
  ],
  'consumer groups': [
    ...fill('@s', 6),
    ['XGROUP', 'CREATE', '@s', 'g', '0'],
    ['XGROUP', 'CREATE', '@s', 'g', '0'],
    ['XGROUP', 'CREATE', '@nokey', 'g', '0'],
    ['XGROUP', 'CREATE', '@new', 'g', '$', 'MKSTREAM'],
    ['XGROUP', 'CREATE', '@s', 'g2', '$', 'ENTRIESREAD', '6'],
    ['XGROUP', 'CREATE', '@s', 'g3', '0', 'ENTRIESREAD', '-5'],
    ['XGROUP', 'CREATE', '@s', 'g3', '0', 'BOGUS'],
    ['XREADGROUP', 'GROUP', 'g', 'alice', 'COUNT', '2', 'STREAMS', '@s', '>'],
    ['XREADGROUP', 'GROUP', 'g', 'bob', 'COUNT', '1', 'STREAMS', '@s', '>'],
    ['XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', '@s', '0'],
    ['XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', '@s', '$'],
    ['XREADGROUP', 'GROUP', 'nog', 'alice', 'STREAMS', '@s', '>'],
    ['XREADGROUP', 'STREAMS', '@s', '>'],
    ['XPENDING', '@s', 'g'],
    ['XPENDING', '@s', 'nog'],
    ['XPENDING', '@s', 'g', '-', '+', '10', 'nobody'],
    ['XACK', '@s', 'g', '1-0', '9-0'],
    ['XACK', '@s', 'g', 'bad'],
    ['XACK', '@s', 'nog', '1-0'],
    ['XPENDING', '@s', 'g'],
    ['XREADGROUP', 'GROUP', 'g', 'carol', 'NOACK', 'STREAMS', '@s', '>'],
    ['XPENDING', '@s', 'g'],
    ['XINFO', 'GROUPS', '@s'],
    ['XGROUP', 'SETID', '@s', 'g', '2-0'],
    ['XGROUP', 'SETID', '@s', 'g', '$', 'ENTRIESREAD', '3'],
    ['XGROUP', 'SETID', '@s', 'nog', '0'],
    ['XINFO', 'GROUPS', '@s'],
    ['XGROUP', 'CREATECONSUMER', '@s', 'g', 'dave'],
    ['XGROUP', 'CREATECONSUMER', '@s', 'g', 'dave'],
    ['XGROUP', 'DELCONSUMER', '@s', 'g', 'alice'],
    ['XGROUP', 'DELCONSUMER', '@s', 'g', 'zed'],
    ['XPENDING', '@s', 'g'],
    ['XGROUP', 'DESTROY', '@s', 'g2'],
    ['XGROUP', 'DESTROY', '@s', 'g2'],
    ['XINFO', 'GROUPS', '@s'],
    ['XINFO', 'CONSUMERS', '@s', 'nog'],
    ['XINFO', 'STREAM', '@nokey'],
    ['XINFO', 'STREAM', '@s', 'FULL', 'COUNT'],
    ['XGROUP', 'HELP'],
    ['XINFO', 'HELP'],
    ['XGROUP', 'FOO', '@s'],
  ],
  'XCLAIM and XAUTOCLAIM with JUSTID': [
    ...fill('@s', 6),
    ['XGROUP', 'CREATE', '@s', 'g', '0'],
    ['XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', '@s', '>'],
    ['XDEL', '@s', '2-0'],
    ['XCLAIM', '@s', 'g', 'bob', '0', '1-0', '2-0', '3-0', 'JUSTID'],
    ['XCLAIM', '@s', 'g', 'bob', '0', '1-0', 'BOGUS'],
    ['XCLAIM', '@s', 'g', 'bob', 'x', '1-0'],
    ['XCLAIM', '@s', 'nog', 'bob', '0', '1-0'],
    ['XAUTOCLAIM', '@s', 'g', 'carol', '0', '0', 'COUNT', '2', 'JUSTID'],
    ['XAUTOCLAIM', '@s', 'g', 'carol', '0', '(3-0', 'COUNT', '10', 'JUSTID'],
    ['XAUTOCLAIM', '@s', 'g', 'carol', '0', '0', 'COUNT', '0'],
    ['XAUTOCLAIM', '@s', 'nog', 'carol', '0', '0'],
    ['XPENDING', '@s', 'g'],
    ['XCLAIM', '@s', 'g', 'dave', '0', '9-0', 'FORCE', 'JUSTID'],
    ['XCLAIM', '@s', 'g', 'dave', '0', '6-0', 'FORCE', 'JUSTID', 'LASTID', '7-0'],
    ['XINFO', 'GROUPS', '@s'],
  ],
  'XSETID': [
    ...fill('@s', 3),
    ['XSETID', '@s', '2-0'],
    ['XSETID', '@s', '5-0', 'ENTRIESADDED', '2'],
    ['XSETID', '@s', '5-0', 'ENTRIESADDED', '10', 'MAXDELETEDID', '6-0'],
    ['XSETID', '@s', '5-0', 'ENTRIESADDED', '10', 'MAXDELETEDID', '4-0'],
    ['XSETID', '@nokey', '5-0'],
    ['XSETID', '@s', '+'],
    ['XINFO', 'STREAM', '@s'],
    ['XADD', '@s', '5-0', 'a', 'b'],
    ['XADD', '@s', '5-*', 'a', 'b'],
  ],
};

const eventScript: Script = [
  ...fill('@s', 4),
  ['XADD', '@s', 'MAXLEN', '3', '10-0', 'a', 'b'],
  ['XDEL', '@s', '3-0'],
  ['XTRIM', '@s', 'MAXLEN', '1'],
  ['XGROUP', 'CREATE', '@s', 'g', '0'],
  ['XGROUP', 'CREATECONSUMER', '@s', 'g', 'c'],
  ['XGROUP', 'DELCONSUMER', '@s', 'g', 'c'],
  ['XGROUP', 'SETID', '@s', 'g', '0'],
  ['XGROUP', 'DESTROY', '@s', 'g'],
  ['XSETID', '@s', '20-0'],
];

describe('stream commands', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  describe('compared with redis-server', () => {
    let r: RunningServer;
    before(async () => {
      r = await startRedis();
    });
    let n = 0;
    for (const [name, script] of Object.entries(scripts)) {
      for (const proto of [2, 3] as const) {
        it(`${name} (RESP${proto})`, async () => {
          const diff = await diffAgainstRedis(s.port, r.port, `t${n++}`, script, proto);
          assert.equal(diff, null, diff ?? '');
        });
      }
    }

    it('emits the same keyspace events as redis-server', async () => {
      const args = ['--notify-keyspace-events', 'KEA'];
      const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
      const got = await keyEventsOf(mine.port, 'ev', eventScript);
      assert.notEqual(got, null);
      assert.deepEqual(got, await keyEventsOf(theirs.port, 'ev', eventScript));
    });
  });

  it('XADD * generates increasing IDs from the clock', async () => {
    const c = s.client();
    const a = (await c.call('xadd', 'auto', '*', 'f', 'v')) as string;
    const b = (await c.call('xadd', 'auto', '*', 'f', 'v')) as string;
    assert.match(a, /^\d+-\d+$/);
    const [ams, aseq] = a.split('-').map(BigInt) as [bigint, bigint];
    const [bms, bseq] = b.split('-').map(BigInt) as [bigint, bigint];
    assert.ok(bms > ams || (bms === ams && bseq > aseq));
    assert.ok(Math.abs(Number(ams) - Date.now()) < 60_000);
  });

  it('blocking XREAD is served by a later XADD', async () => {
    const reader = s.client();
    const writer = s.client();
    await writer.call('xadd', 'blk', '1-0', 'a', '1');
    const pending = reader.call('xread', 'block', '0', 'streams', 'blk', '$');
    while (((await writer.call('client', 'list')) as string).indexOf('cmd=xread') < 0) await new Promise((res) => setTimeout(res, 5));
    await writer.call('xadd', 'blk', '2-0', 'b', '2');
    assert.deepEqual(await pending, [['blk', [['2-0', ['b', '2']]]]]);
  });

  it('blocking XREAD times out with a null reply', async () => {
    const c = s.client();
    assert.equal(await c.call('xread', 'block', '20', 'streams', 'nothing-here', '$'), null);
  });

  it('blocking XREADGROUP delivers new entries and fills the PEL', async () => {
    const reader = s.client();
    const writer = s.client();
    await writer.call('xgroup', 'create', 'blkg', 'g', '$', 'mkstream');
    const pending = reader.call('xreadgroup', 'group', 'g', 'alice', 'block', '0', 'streams', 'blkg', '>');
    while (((await writer.call('client', 'list')) as string).indexOf('cmd=xreadgroup') < 0) await new Promise((res) => setTimeout(res, 5));
    await writer.call('xadd', 'blkg', '5-0', 'k', 'v');
    assert.deepEqual(await pending, [['blkg', [['5-0', ['k', 'v']]]]]);
    const summary = (await writer.call('xpending', 'blkg', 'g')) as unknown[];
    assert.deepEqual(summary, [1, '5-0', '5-0', [['alice', '1']]]);
  });

  it('a blocked XREADGROUP gets NOGROUP when its group is destroyed', async () => {
    const reader = s.client();
    const writer = s.client();
    await writer.call('xgroup', 'create', 'blkd', 'g', '$', 'mkstream');
    const pending = reader.call('xreadgroup', 'group', 'g', 'alice', 'block', '0', 'streams', 'blkd', '>').then(
      () => 'ok',
      (e: Error) => e.message,
    );
    while (((await writer.call('client', 'list')) as string).indexOf('cmd=xreadgroup') < 0) await new Promise((res) => setTimeout(res, 5));
    await writer.call('xgroup', 'destroy', 'blkd', 'g');
    assert.match(await pending, /^NOGROUP/);
  });

  it('COPY and DEBUG DIGEST-VALUE see the same stream', async () => {
    const d = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const c = d.client();
    await c.call('xadd', 'orig', '1-0', 'a', '1');
    await c.call('xgroup', 'create', 'orig', 'g', '0');
    await c.call('xreadgroup', 'group', 'g', 'x', 'streams', 'orig', '>');
    assert.equal(await c.call('copy', 'orig', 'dup'), 1);
    await c.call('xadd', 'orig', '2-0', 'b', '2');
    assert.equal(await c.call('xlen', 'dup'), 1);
    assert.deepEqual(await c.call('xpending', 'dup', 'g'), [1, '1-0', '1-0', [['x', '1']]]);
    await c.call('xdel', 'orig', '2-0');
    assert.deepEqual(await c.call('debug', 'digest-value', 'orig'), await c.call('debug', 'digest-value', 'dup'));
  });

  it('stream digests match redis-server', async () => {
    const args = ['--enable-debug-command', 'yes'];
    const [mine, r] = await Promise.all([startServer({ args }), startRedis(args)]);
    const script = [...fill('dig', 5), ['XDEL', 'dig', '2-0'], ['DEBUG', 'DIGEST-VALUE', 'dig']];
    const diff = await diffAgainstRedis(mine.port, r.port, 'dg', script.map((a) => a.map((x) => (x === 'dig' ? '@dig' : x))), 2);
    assert.equal(diff, null, diff ?? '');
  });

  it('DUMP payloads cross between nodis and redis-server, and DEBUG RELOAD keeps streams', async () => {
    const args = ['--enable-debug-command', 'yes', '--stream-node-max-entries', '4'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const n = mine.client();
    const r = theirs.client();
    for (const c of [n, r]) {
      for (let i = 1; i <= 11; i++) await c.call('xadd', 's', `${i}-${i}`, 'f', `v${i}`, 'g', '12345');
      await c.call('xadd', 's', '20-1', 'other', '1');
      await c.call('xdel', 's', '3-3');
      await c.call('xgroup', 'create', 's', 'g', '0');
      await c.call('xgroup', 'create', 's', 'g2', '$');
      await c.call('xreadgroup', 'group', 'g', 'alice', 'count', '3', 'streams', 's', '>');
      await c.call('xgroup', 'createconsumer', 's', 'g', 'carol');
    }
    // Everything but times and the rax's internal node count must agree.
    const shape = async (c: typeof n, key: string): Promise<string> =>
      JSON.stringify(await c.call('xinfo', 'stream', key, 'full')).replace(/"radix-tree-nodes",\d+,/, '').replace(/1\d{12}/g, 'T');
    const reference = await shape(r, 's');
    assert.equal(await shape(n, 's'), reference);
    assert.equal(await r.call('restore', 'fromnodis', '0', (await n.callBuffer('dump', 's')) as Buffer), 'OK');
    assert.equal(await n.call('restore', 'fromredis', '0', (await r.callBuffer('dump', 's')) as Buffer), 'OK');
    assert.equal(await shape(r, 'fromnodis'), reference);
    assert.equal(await shape(n, 'fromredis'), reference);
    assert.deepEqual(await n.call('debug', 'digest-value', 'fromredis'), await r.call('debug', 'digest-value', 's'));
    assert.equal(await n.call('debug', 'reload'), 'OK');
    assert.equal(await shape(n, 's'), reference);
  });

  it('propagates to the AOF exactly as redis-server does', async () => {
    const args = ['--appendonly', 'yes'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const script: Script = [
      ['XADD', 's', '1-1', 'a', '1'],
      ['XADD', 's', '2-*', 'a', '2'],
      ['XADD', 's', 'MAXLEN', '~', '1', '3-1', 'a', '3'],
      ['XGROUP', 'CREATE', 's', 'g', '0'],
      ['XREADGROUP', 'GROUP', 'g', 'alice', 'STREAMS', 's', '>'],
      ['XREADGROUP', 'GROUP', 'g', 'bob', 'NOACK', 'STREAMS', 's', '0'],
      ['XADD', 's', '4-1', 'a', '4'],
      ['XREADGROUP', 'GROUP', 'g', 'carol', 'NOACK', 'STREAMS', 's', '>'],
      ['XCLAIM', 's', 'g', 'dave', '0', '1-1', 'JUSTID'],
      ['XCLAIM', 's', 'g', 'dave', '0', '9-9', 'LASTID', '5-0'],
      ['XAUTOCLAIM', 's', 'g', 'eve', '0', '0'],
      ['XACK', 's', 'g', '2-1'],
      ['XDEL', 's', '4-1'],
      ['XTRIM', 's', 'MINID', '~', '5'],
      ['XSETID', 's', '10-1'],
      ['SET', 'end', 'x'],
    ];
    const aofOf = async (srv: RunningServer): Promise<string> => {
      await runRaw(srv.port, script);
      const dir = path.join(srv.dir, 'appendonlydir');
      for (;;) {
        const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.incr.aof')) : [];
        const text = files.map((f) => fs.readFileSync(path.join(dir, f), 'latin1')).join('');
        if (text.includes('$3\r\nend\r\n')) return text.replace(/\$13\r\n1\d{12}\r\n/g, '$13\r\nT\r\n');
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const [got, want] = await Promise.all([aofOf(mine), aofOf(theirs)]);
    assert.equal(got, want);
  });

  it('blocked XREADGROUP clients served later propagate like redis-server', async () => {
    const args = ['--appendonly', 'yes'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const blockedClients = async (c: ReturnType<RunningServer['client']>): Promise<number> =>
      Number(/blocked_clients:(\d+)/.exec((await c.call('info', 'clients')) as string)![1]);
    const run = async (srv: RunningServer): Promise<string> => {
      const c = srv.client();
      await c.call('xgroup', 'create', 'b', 'g', '$', 'mkstream');
      const readers = [
        srv.client().call('xreadgroup', 'group', 'g', 'alice', 'block', '0', 'streams', 'b', '>'),
      ];
      while ((await blockedClients(c)) < 1) await new Promise((res) => setTimeout(res, 5));
      readers.push(srv.client().call('xreadgroup', 'group', 'g', 'bob', 'noack', 'block', '0', 'streams', 'b', '>'));
      while ((await blockedClients(c)) < 2) await new Promise((res) => setTimeout(res, 5));
      await c.call('xadd', 'b', '1-1', 'a', '1');
      await c.call('xadd', 'b', '2-1', 'a', '2');
      assert.deepEqual(await Promise.all(readers), [[['b', [['1-1', ['a', '1']]]]], [['b', [['2-1', ['a', '2']]]]]]);
      await c.call('set', 'end', 'x');
      const dir = path.join(srv.dir, 'appendonlydir');
      for (;;) {
        const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.incr.aof')) : [];
        const text = files.map((f) => fs.readFileSync(path.join(dir, f), 'latin1')).join('');
        if (text.includes('$3\r\nend\r\n')) return text.replace(/\$13\r\n1\d{12}\r\n/g, '$13\r\nT\r\n');
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const [got, want] = await Promise.all([run(mine), run(theirs)]);
    assert.equal(got, want);
  });
});
