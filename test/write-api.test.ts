/**
 * The keyspace's write API (keyspace/db.ts: Database.modified / signalModified / notify /
 * counted): every handler signals its writes through it, and what the signals produce is
 * Redis's, command by command.
 *
 * - The sources: no command handler bumps `dirty` or calls the signals itself (a handler that
 *   did would escape the API), and `dirty` cannot be assigned from outside the server (a type
 *   error, checked by the compiler through `@ts-expect-error` below).
 * - The order of the signals of one write (dirty, then signalModifiedKey, then the event).
 * - Side by side with redis-server, one command at a time from every family that writes: the
 *   change in `rdb_changes_since_last_save` (dirty), and the exact bytes a RESP3 client that
 *   tracks every key (client-side caching: signalModifiedKey) and is subscribed to every
 *   keyspace event receives — invalidations and events interleaved in the order they happen.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, encodeCommand, replyEnd } from './helpers/redis-compare.js';
import type { Server } from '../src/server/server.js';
import { serverInProcess } from './helpers/in-process.js';
import { sourceFiles } from './helpers/source-files.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Source lines without comments (line comments and JSDoc/block lines). */
function codeLines(file: string): [number, string][] {
  const out: [number, string][] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      const t = line.trim();
      if (t.startsWith('//') || t.startsWith('*') || t.startsWith('/*')) return;
      out.push([i + 1, line.replace(/\/\/.*$/, '')]);
    });
  return out;
}

/** A server in this process, not listening: its keyspace and hooks, nothing else. */
function inProcessServer(): Server {
  return serverInProcess();
}

describe('the keyspace write API', () => {
  it('no handler, script, replication or persistence module signals a write by hand', () => {
    // Outside server/ (which implements the signals) and keyspace/ (which calls them), these
    // are the raw paths the write API replaces.
    const raw: [RegExp, string][] = [
      [/\bserver\.dirty\s*(\+\+|--|[-+]?=(?!=))/, 'writes dirty'],
      [/\bsignalModifiedKey\(/, 'calls signalModifiedKey'],
      [/\bhooks\.notify\(/, 'calls hooks.notify'],
      [/\bserver\.(notify|modified|keyWritten)\(/, 'signals through the server'],
    ];
    // Changes that belong to no key: function libraries (part of the RDB), FLUSHALL's keys.
    const datasetChangedAllowed = new Set(['commands/scripting.ts', 'commands/server.ts']);
    const bad: string[] = [];
    for (const dir of ['commands', 'scripting', 'replication', 'persistence', 'cluster']) {
      for (const file of sourceFiles(path.join(ROOT, 'src', dir))) {
        const rel = path.relative(path.join(ROOT, 'src'), file);
        for (const [n, line] of codeLines(file)) {
          for (const [re, what] of raw) if (re.test(line)) bad.push(`${rel}:${n} ${what}: ${line.trim()}`);
          if (/\bdatasetChanged\(/.test(line) && !datasetChangedAllowed.has(rel)) bad.push(`${rel}:${n} counts a change that is not a key's: ${line.trim()}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });

  it('dirty is read-only outside the server (a type error)', () => {
    const server = inProcessServer();
    // @ts-expect-error dirty has a getter only: the write API moves it
    assert.throws(() => (server.dirty = 5), TypeError);
    assert.equal(server.dirty, 0);
  });

  it('one write signals in Redis order: dirty, signalModifiedKey (WATCH, tracking), the event', () => {
    const server = inProcessServer();
    const db = server.dbs[0]!;
    const seen: string[] = [];
    server.hooks.keyModified.push((dbId, key) => seen.push(`signal ${dbId} ${key} dirty=${server.dirty}`));
    const notify = server.hooks.notify;
    server.hooks.notify = (cls, event, key, dbId) => {
      seen.push(`event ${cls} ${event} ${dbId} ${key} dirty=${server.dirty}`);
      notify(cls, event, key, dbId);
    };
    db.modified('k', '$', 'set');
    db.modified('k', 'l', 'lpush', 3);
    db.modified('k', 'g', 'rename_to', 0);
    db.signalModified('s');
    db.notify('t', 'xsetid', 'x');
    db.counted(2);
    assert.deepEqual(seen, [
      'signal 0 k dirty=1',
      'event $ set 0 k dirty=1',
      'signal 0 k dirty=4',
      'event l lpush 0 k dirty=4',
      'signal 0 k dirty=4',
      'event g rename_to 0 k dirty=4',
      'signal 0 s dirty=4',
      'event t xsetid 0 x dirty=4',
    ]);
    assert.equal(server.dirty, 6);
  });
});

/** A RESP connection: replies in order, RESP3 pushes collected apart. */
class Conn {
  private buf = '';
  private pos = 0;
  private waiting: ((r: string) => void)[] = [];
  pushes: string[] = [];
  private onPush: (() => void) | null = null;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      for (;;) {
        const end = replyEnd(this.buf, this.pos);
        if (end < 0) break;
        const r = this.buf.slice(this.pos, end);
        this.pos = end;
        if (r.startsWith('>')) {
          this.pushes.push(r);
          this.onPush?.();
        } else this.waiting.shift()!(r);
      }
      if (this.pos > 1 << 16) {
        this.buf = this.buf.slice(this.pos);
        this.pos = 0;
      }
    });
  }
  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  call(...argv: string[]): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.sock.write(Buffer.from(encodeCommand(argv), 'latin1'));
    });
  }
  /** Sends without waiting for a reply (a subscription's confirmation is a push in RESP3). */
  send(...argv: string[]): void {
    this.sock.write(Buffer.from(encodeCommand(argv), 'latin1'));
  }
  /** Waits for a push containing `text`; returns the pushes before it and drops them. */
  async pushesUntil(text: string): Promise<string[]> {
    const deadline = Date.now() + 20000;
    for (;;) {
      const i = this.pushes.findIndex((p) => p.includes(text));
      if (i >= 0) return this.pushes.splice(0, i + 1).slice(0, i);
      if (Date.now() > deadline) throw new Error(`no push with ${JSON.stringify(text)}; got ${JSON.stringify(this.pushes)}`);
      await new Promise<void>((r) => {
        this.onPush = r;
        setTimeout(r, 200);
      });
    }
  }
  close(): void {
    this.sock.destroy();
  }
}

/** The keys every step's observer reads first, so that tracking reports each change of them. */
const KEYS = ['w:rnd', 'w:s', 'w:n', 'w:l', 'w:l2', 'w:h', 'w:set', 'w:set2', 'w:z', 'w:z2', 'w:x', 'w:hll', 'w:hll2', 'w:dst', 'w:geo', 'w:bits'];

/** One write (or failed write) of every family, in an order where each changes something. */
const SCRIPT: string[][] = [
  ['SET', 'w:s', 'v'],
  ['SET', 'w:s', 'v2', 'EX', '100'],
  ['APPEND', 'w:s', 'xy'],
  ['SETRANGE', 'w:s', '1', 'ab'],
  ['GETEX', 'w:s', 'PERSIST'],
  ['SETNX', 'w:s', 'no'],
  ['GETSET', 'w:s', 'g'],
  ['SET', 'w:s', 'k', 'KEEPTTL', 'GET'],
  ['PSETEX', 'w:s', '100000', 'p'],
  ['SETEX', 'w:s', '100', 'x'],
  ['MSET', 'w:n', '1', 'w:bits', 'a'],
  ['INCR', 'w:n'],
  ['INCRBYFLOAT', 'w:n', '1.5'],
  ['DECRBY', 'w:n', '3'],
  ['SETBIT', 'w:bits', '7', '0'],
  ['BITFIELD', 'w:bits', 'SET', 'u8', '8', '255', 'INCRBY', 'u8', '8', '1'],
  ['BITOP', 'NOT', 'w:dst', 'w:bits'],
  ['GETDEL', 'w:dst'],
  ['EXPIRE', 'w:n', '100'],
  ['PERSIST', 'w:n'],
  ['EXPIREAT', 'w:n', '99999999999'],
  ['PEXPIRE', 'w:n', '100000000'],
  ['SET', 'w:dst', '1'],
  ['PEXPIRE', 'w:dst', '0'],
  ['RPUSH', 'w:l', 'a', 'b', 'c', 'd', 'e'],
  ['LPUSHX', 'w:l', 'z'],
  ['LSET', 'w:l', '0', 'y'],
  ['LINSERT', 'w:l', 'BEFORE', 'b', 'q'],
  ['LREM', 'w:l', '0', 'q'],
  ['LPOP', 'w:l'],
  ['RPOP', 'w:l', '1'],
  ['BLPOP', 'w:l', '1'],
  ['LMOVE', 'w:l', 'w:l2', 'LEFT', 'RIGHT'],
  ['BLMOVE', 'w:l', 'w:l2', 'RIGHT', 'LEFT', '1'],
  ['RPUSH', 'w:l', 'a', 'b', 'c', 'd', 'e'],
  ['LMPOP', '1', 'w:l', 'RIGHT', 'COUNT', '2'],
  ['LTRIM', 'w:l', '0', '0'],
  ['RPOPLPUSH', 'w:l', 'w:l2'],
  ['LMOVE', 'w:l2', 'w:l2', 'LEFT', 'LEFT'],
  ['HSET', 'w:h', 'a', '1', 'b', '2'],
  ['HSETNX', 'w:h', 'c', '3'],
  ['HINCRBY', 'w:h', 'a', '5'],
  ['HINCRBYFLOAT', 'w:h', 'b', '0.5'],
  ['HMSET', 'w:h', 'z', '1'],
  ['HDEL', 'w:h', 'z', 'nope'],
  ['HDEL', 'w:h', 'a', 'b', 'c'],
  ['SADD', 'w:set', 'a', 'b', 'c', 'd'],
  ['SREM', 'w:set', 'a'],
  ['SADD', 'w:rnd', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
  ['SPOP', 'w:rnd'],
  ['SPOP', 'w:rnd', '2'],
  ['SPOP', 'w:rnd', '6'],
  ['SPOP', 'w:rnd', '5'],
  ['SADD', 'w:rnd', 'a'],
  ['SPOP', 'w:rnd'],
  ['SMOVE', 'w:set', 'w:set2', 'b'],
  ['SINTERSTORE', 'w:dst', 'w:set', 'w:set'],
  ['SUNIONSTORE', 'w:dst', 'w:nothing'],
  ['SDIFFSTORE', 'w:dst', 'w:set', 'w:set2'],
  ['SMOVE', 'w:set2', 'w:set', 'b'],
  ['SPOP', 'w:set', '5'],
  ['ZADD', 'w:z', '1', 'a', '2', 'b', '3', 'c', '4', 'd'],
  ['ZINCRBY', 'w:z', '5', 'a'],
  ['ZREM', 'w:z', 'b'],
  ['ZPOPMIN', 'w:z'],
  ['ZADD', 'w:z', 'INCR', '1', 'd'],
  ['ZADD', 'w:z', '7', 'e', '8', 'f', '9', 'g'],
  ['ZPOPMAX', 'w:z'],
  ['BZPOPMIN', 'w:z', '1'],
  ['ZMPOP', '1', 'w:z', 'MAX'],
  ['ZREMRANGEBYRANK', 'w:z', '0', '0'],
  ['ZADD', 'w:z', '7', 'e', '8', 'f', '9', 'g', '3', 'c', '4', 'd'],
  ['ZUNIONSTORE', 'w:z2', '1', 'w:z'],
  ['ZRANGESTORE', 'w:dst', 'w:z', '0', '0'],
  ['ZINTERSTORE', 'w:dst', '2', 'w:z', 'w:z2'],
  ['ZDIFFSTORE', 'w:dst', '2', 'w:z', 'w:z2'],
  ['ZREMRANGEBYSCORE', 'w:z', '-inf', '+inf'],
  ['GEOADD', 'w:geo', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'],
  ['GEOSEARCHSTORE', 'w:dst', 'w:geo', 'FROMLONLAT', '15', '37', 'BYRADIUS', '200', 'km', 'ASC'],
  ['GEORADIUS', 'w:geo', '15', '37', '200', 'km', 'STORE', 'w:dst'],
  ['GEOSEARCHSTORE', 'w:dst', 'w:geo', 'FROMLONLAT', '0', '0', 'BYRADIUS', '1', 'km'],
  ['PFADD', 'w:hll', 'a', 'b', 'c'],
  ['PFCOUNT', 'w:hll'],
  ['PFCOUNT', 'w:hll'],
  ['PFMERGE', 'w:hll2', 'w:hll'],
  ['SORT', 'w:l2', 'ALPHA', 'STORE', 'w:dst'],
  ['XADD', 'w:x', '1-1', 'f', 'v'],
  ['XADD', 'w:x', 'MAXLEN', '5', '2-1', 'f', 'v'],
  ['XADD', 'w:x', '3-1', 'f', 'v'],
  ['XADD', 'w:x', '4-1', 'f', 'v'],
  ['XADD', 'w:x', 'MAXLEN', '3', '5-1', 'f', 'v'],
  ['XADD', 'w:x', '6-1', 'f', 'v'],
  ['XGROUP', 'CREATE', 'w:x', 'g', '0'],
  ['XGROUP', 'CREATE', 'w:x', 'g2', '0'],
  ['XGROUP', 'CREATECONSUMER', 'w:x', 'g', 'alice'],
  ['XREADGROUP', 'GROUP', 'g', 'bob', 'COUNT', '3', 'STREAMS', 'w:x', '>'],
  ['XACK', 'w:x', 'g', '1-1', '9-9'],
  ['XDEL', 'w:x', '2-1'],
  ['XCLAIM', 'w:x', 'g', 'alice', '0', '2-1', '3-1', 'JUSTID'],
  ['XAUTOCLAIM', 'w:x', 'g', 'carol', '0', '0', 'JUSTID'],
  ['XGROUP', 'SETID', 'w:x', 'g', '0'],
  ['XGROUP', 'DELCONSUMER', 'w:x', 'g', 'bob'],
  ['XGROUP', 'DESTROY', 'w:x', 'g2'],
  ['XTRIM', 'w:x', 'MAXLEN', '1'],
  ['XSETID', 'w:x', '10-1'],
  ['XGROUP', 'CREATE', 'w:newx', 'g', '$', 'MKSTREAM'],
  ['DEL', 'w:newx'],
  ['COPY', 'w:h', 'w:dst', 'REPLACE'],
  ['COPY', 'w:set2', 'w:dst', 'REPLACE'],
  ['SORT', 'w:nothing', 'STORE', 'w:dst'],
  ['SET', 'w:dst', 'r'],
  ['RENAME', 'w:dst', 'w:s'],
  ['MOVE', 'w:s', '1'],
  ['EXPIRE', 'w:z2', '0'],
  ['UNLINK', 'w:l2', 'w:hll2'],
  ['SWAPDB', '0', '1'],
  ['SWAPDB', '0', '1'],
  ['FUNCTION', 'LOAD', "#!lua name=wapi\nredis.register_function('f', function() return 1 end)"],
  ['FUNCTION', 'DELETE', 'wapi'],
  ['EVAL', "redis.call('SET', KEYS[1], 'e'); redis.call('LPUSH', KEYS[2], 'a', 'b'); return redis.call('DEL', KEYS[2])", '2', 'w:s', 'w:l'],
  ['MULTI'],
  ['INCR', 'w:n'],
  ['HSET', 'w:h', 'x', '1'],
  ['EXEC'],
  ['FLUSHDB'],
  ['FLUSHALL'],
];

/** Runs SCRIPT one command at a time; per step: the reply, the dirty delta, the observer's pushes. */
async function trace(port: number): Promise<string[]> {
  const observer = await Conn.open(port);
  const writer = await Conn.open(port);
  try {
    await writer.call('CONFIG', 'SET', 'notify-keyspace-events', 'KEA');
    await observer.call('HELLO', '3');
    await observer.call('CLIENT', 'TRACKING', 'ON');
    observer.send('PSUBSCRIBE', '__key*__:*');
    observer.send('SUBSCRIBE', 'fence');
    await observer.pushesUntil('fence');
    const dirty = async (): Promise<number> => {
      const info = await writer.call('INFO', 'persistence');
      const m = /rdb_changes_since_last_save:(\d+)/.exec(info);
      if (m === null) throw new Error(`no rdb_changes_since_last_save in ${JSON.stringify(info.slice(0, 200))}`);
      return Number(m[1]);
    };
    const out: string[] = [];
    let before = await dirty();
    for (let i = 0; i < SCRIPT.length; i++) {
      await observer.call('EXISTS', ...KEYS);
      // MULTI … EXEC is one step (INFO and PUBLISH would be queued inside it).
      const step = [SCRIPT[i]!];
      if (SCRIPT[i]![0] === 'MULTI') while (SCRIPT[i]![0] !== 'EXEC') step.push(SCRIPT[++i]!);
      let reply = '';
      for (const argv of step) reply += await writer.call(...argv);
      // Which members SPOP picks is random: their number is compared, not the members.
      if (step[0]![0] === 'SPOP') reply = reply.split('\r\n')[0]!;
      const after = await dirty();
      await writer.call('PUBLISH', 'fence', `step-${i}`);
      const pushes = await observer.pushesUntil(`step-${i}`);
      out.push(`${step.map((a) => a.join(' ').slice(0, 60)).join(' / ')} -> ${JSON.stringify(reply)} dirty+${after - before}\n    ${pushes.map((p) => JSON.stringify(p)).join('\n    ')}`);
      before = after;
    }
    return out;
  } finally {
    observer.close();
    writer.close();
  }
}

describe('write signals side by side with redis-server', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startRedis()]);
  });
  after(stopAll);

  it('dirty, tracking invalidations and keyspace events per command are Redis’s', async () => {
    const [mine, theirs] = await Promise.all([trace(nodis.port), trace(redis.port)]);
    assert.ok(mine.length > 80, `${mine.length} steps`);
    assert.equal(mine.length, theirs.length);
    const differ = mine.flatMap((m, i) => (m === theirs[i] ? [] : [`step ${i}\n  nodis: ${m}\n  redis: ${theirs[i]}`]));
    if (process.env.WRITE_API_DEBUG) console.log(differ.join("\n"));
    assert.deepEqual(differ, []);
  });
});
