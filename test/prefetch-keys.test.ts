/**
 * The keys of a pipelined read are read ahead (Server.prefetchKeys): the parser reports where
 * each waiting command's second argument lies (RespParser.scanSecondArgs) without moving, the
 * database hashes those bytes (keyHashOfBytes, which must equal keyHash of the string) and
 * touches their table entries. It must change nothing: the same commands come out of the
 * parser, a key is found under the hash computed from its bytes, and a pipeline that switches
 * databases or mixes in other commands replies as before.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Database } from '../src/keyspace/db.js';
import { keyHash, keyHashOfBytes } from '../src/keyspace/dict.js';
import { RespParser } from '../src/protocol/parser.js';
import { encodeCommand } from './helpers/redis-compare.js';
import { RawConnection } from './helpers/raw-connection.js';
import { standaloneOwner } from './helpers/in-process.js';
import { startServer, stopAll } from './helpers/server.js';

after(stopAll);

const parser = (): RespParser => new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });

describe('keyHashOfBytes', () => {
  it('equals keyHash of the latin1 string, at every length to 200 bytes and for bytes ≥ 0x80', () => {
    for (let n = 0; n <= 200; n++) {
      const b = Buffer.alloc(n + 7);
      for (let i = 0; i < b.length; i++) b[i] = (n * 131 + i * 29 + 7) & 0xff;
      assert.equal(keyHashOfBytes(b, 3, n), keyHash(b.latin1Slice(3, 3 + n)), `length ${n}`);
    }
  });
});

describe('RespParser.scanSecondArgs', () => {
  const starts = new Int32Array(16);
  const lens = new Int32Array(16);

  it('finds each complete command’s second argument and leaves the parser where it was', () => {
    const cmds = [['GET', 'a'], ['SET', 'key:2', 'v'], ['HSET', 'h', 'f', 'v', 'g', 'w'], ['INCR', 'counter:\xff']];
    const bytes = Buffer.from(cmds.map(encodeCommand).join(''), 'latin1');
    const p = parser();
    p.feed(bytes);
    const n = p.scanSecondArgs(starts, lens);
    assert.equal(n, 4);
    for (let i = 0; i < n; i++) assert.equal(p.buffered.latin1Slice(starts[i]!, starts[i]! + lens[i]!), cmds[i]![1]);
    for (const c of cmds) assert.deepEqual(p.next(), c);
    assert.equal(p.next(), null);
  });

  it('stops at an incomplete command, an inline one, one of one argument or of more than 8', () => {
    const whole = encodeCommand(['GET', 'k1']) + encodeCommand(['GET', 'k2']);
    const cases: [string, number][] = [
      [whole + encodeCommand(['GET', 'k3']).slice(0, -3), 2],
      [whole + 'GET k3\r\n' + encodeCommand(['GET', 'k4']), 2],
      [whole + encodeCommand(['PING']) + encodeCommand(['GET', 'k4']), 2],
      [whole + encodeCommand(['MSET', 'a', '1', 'b', '2', 'c', '3', 'd', '4']) + encodeCommand(['GET', 'k4']), 2],
      ['*2\r\n$3\r\nGET\r\n$-1\r\n' + whole, 0],
    ];
    for (const [text, want] of cases) {
      const p = parser();
      p.feed(Buffer.from(text, 'latin1'));
      assert.equal(p.scanSecondArgs(starts, lens), want, JSON.stringify(text));
    }
  });

  it('answers at most as many commands as it has room for, and nothing mid-command', () => {
    const p = parser();
    p.feed(Buffer.from(Array.from({ length: 40 }, (_, i) => encodeCommand(['GET', `k${i}`])).join(''), 'latin1'));
    assert.equal(p.scanSecondArgs(starts, lens), 16);
    p.next();
    assert.equal(p.scanSecondArgs(starts, lens), 16);
    assert.equal(p.buffered.latin1Slice(starts[0]!, starts[0]! + lens[0]!), 'k1');
    const q = parser();
    q.feed(Buffer.from('*2\r\n$3\r\nGET\r\n$5\r\nab', 'latin1'));
    assert.equal(q.next(), null);
    q.feed(Buffer.from('cde\r\n' + encodeCommand(['GET', 'x']), 'latin1'));
    assert.deepEqual(q.next(), ['GET', 'abcde']);
    assert.equal(q.scanSecondArgs(starts, lens), 1);
  });

  it('says whether the commands it found were all the buffer held (a short read: prefetchKeys skips it)', () => {
    const setWait = encodeCommand(['SET', 'key:1', 'x'.repeat(64)]) + encodeCommand(['WAIT', '1', '1000']);
    const cases: [string, number, boolean][] = [
      [setWait, 2, true],
      [setWait + encodeCommand(['GET', 'k']).slice(0, -3), 2, false],
      [setWait + 'PING\r\n', 2, false],
      [setWait + encodeCommand(['PING']), 2, false],
      [encodeCommand(['GET', 'a']), 1, true],
    ];
    for (const [text, n, end] of cases) {
      const p = parser();
      p.feed(Buffer.from(text, 'latin1'));
      assert.equal(p.scanSecondArgs(starts, lens), n, JSON.stringify(text));
      assert.equal(p.scanReachedEnd, end, JSON.stringify(text));
    }
    // From the parser's position after a command was read, with a command cut by the read's end.
    const q = parser();
    q.feed(Buffer.from(encodeCommand(['GET', 'a']) + encodeCommand(['GET', 'b']) + '*2\r\n$3\r\nGET\r\n$5\r\nab', 'latin1'));
    assert.deepEqual(q.next(), ['GET', 'a']);
    assert.equal(q.scanSecondArgs(starts, lens), 1);
    assert.equal(q.scanReachedEnd, false);
  });
});

describe('Database.warmBytes', () => {
  it('reads ahead keys of a batch, and says when the batch named one key only', () => {
    const db = new Database(0, standaloneOwner({ track: false, lruClock: 0 }));
    for (let i = 0; i < 1000; i++) db.set(`k${i}`, `v${i}`);
    const p = parser();
    const starts = new Int32Array(16);
    const lens = new Int32Array(16);
    const batch = (keys: string[]): boolean => {
      p.feed(Buffer.from(keys.map((k) => encodeCommand(['RPUSH', k, 'x'])).join(''), 'latin1'));
      const n = p.scanSecondArgs(starts, lens);
      assert.equal(n, keys.length);
      const differ = db.warmBytes(p.buffered, starts, lens, n);
      while (p.next() !== null);
      return differ;
    };
    assert.equal(batch(['mylist', 'mylist', 'mylist']), false);
    assert.equal(batch(['mylist', 'mylist', 'k7']), true);
    assert.equal(batch(['k1', 'k2', 'k1']), true);
    assert.equal(db.size, 1000);
    assert.equal(db.peek('k7'), 'v7');
  });
});

describe('a pipelined read with its keys read ahead', () => {
  it('replies as one command at a time would: across SELECT, MULTI and keys of other databases', async () => {
    const srv = await startServer();
    const r = srv.client();
    await r.mset('a', 'db0-a', 'b', 'db0-b');
    await r.select(1);
    await r.mset('a', 'db1-a', 'c', 'db1-c');
    const conn = new RawConnection(srv.port);
    const cmds = [
      ['GET', 'a'], ['GET', 'b'], ['SELECT', '1'], ['GET', 'a'], ['GET', 'b'], ['GET', 'c'],
      ['MULTI'], ['INCR', 'n'], ['GET', 'a'], ['EXEC'], ['SELECT', '0'], ['SET', 'b', 'new'], ['GET', 'b'],
      ['HSET', 'h', 'f', 'v'], ['GET', 'h'], ['DEL', 'h', 'a'], ['GET', 'a'],
    ];
    conn.send(cmds.map(encodeCommand).join(''));
    const want =
      '$5\r\ndb0-a\r\n$5\r\ndb0-b\r\n+OK\r\n$5\r\ndb1-a\r\n$-1\r\n$5\r\ndb1-c\r\n' +
      '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n$5\r\ndb1-a\r\n+OK\r\n+OK\r\n$3\r\nnew\r\n' +
      ':1\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:2\r\n$-1\r\n';
    assert.equal(await conn.until((g) => g.length >= want.length), want);
    conn.close();
  });
});

describe('a client that sends one command per read', () => {
  it('is scanned once per PREFETCH_IDLE + 1 lone reads of that size, and again as soon as a read holds a pipeline', async () => {
    const { startInProcess } = await import('./helpers/in-process.js');
    const { SystemClock } = await import('../src/core/clock.js');
    const { r, port, stop } = await startInProcess(new SystemClock(), {});
    // The helper's own client has sent its greeting (CLIENT SETINFO ×2, 110 bytes) before.
    await r.ping();
    const scans: number[] = [];
    const scan = RespParser.prototype.scanSecondArgs;
    RespParser.prototype.scanSecondArgs = function (this: RespParser, s: Int32Array, l: Int32Array): number {
      const n = scan.call(this, s, l);
      scans.push(n);
      return n;
    };
    const conn = new RawConnection(port);
    try {
      // 95 bytes, past PREFETCH_MIN_BYTES (64): an EVALSHA of one key and one argument.
      const lone = encodeCommand(['SET', 'lockkey:0123456789abcdef0123456789abcdef', 'token:0123456789abcdefghij']);
      assert.ok(lone.length >= 64 && lone.length < 128, String(lone.length));
      let replies = '';
      for (let i = 0; i < 20; i++) {
        conn.send(lone);
        replies = await conn.until((g) => g.length >= 5 * (i + 1));
      }
      assert.equal(replies, '+OK\r\n'.repeat(20));
      // One scan (finding one command), 15 reads passed over, one scan again, 3 passed over.
      assert.deepEqual(scans, [1, 1]);
      // A pipeline in one read (twice the lone read's bytes or more) is scanned at once.
      scans.length = 0;
      conn.send(Array.from({ length: 6 }, (_, i) => encodeCommand(['GET', `k${i}:0123456789abcdef0123456789`])).join(''));
      await conn.until((g) => g.length >= 20 * 5 + 6 * 5);
      assert.deepEqual(scans, [6]);
    } finally {
      RespParser.prototype.scanSecondArgs = scan;
      conn.close();
      await stop();
    }
  });
});
