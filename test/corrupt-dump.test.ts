/**
 * Corrupt input against a running server, as in Redis's integration/corrupt-dump(-fuzzer): a
 * corrupt RESTORE payload is refused with "Bad data format" in every sanitize-dump-payload mode
 * and for every user (nodis never keeps part of a damaged value), and the server, its other
 * keys and its clients carry on. DUMP payloads of every type are mutated by fast-check (footer
 * recomputed) and whatever RESTORE accepts must then answer every command of its type without
 * an internal error and DUMP back to a payload that restores to the same value. A corrupt RDB
 * file stops start-up with Redis's report whatever sanitize-dump-payload says, and a command
 * handler that throws costs its caller an error reply, not the server.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import './helpers/property.js';
import { corrupt, mutation, withFooter } from './helpers/payload-mutation.js';
import { NODIS_SERVER, freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { SystemClock } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';
import type { Client } from '../src/server/client.js';

after(stopAll);

const hex = (h: string): Buffer => Buffer.from(h, 'hex');

/** Runs a command, returning its reply or its error message. */
async function run(r: Redis, ...args: (string | number | Buffer)[]): Promise<unknown> {
  try {
    return await r.call(String(args[0]), ...args.slice(1));
  } catch (e) {
    return (e as Error).message;
  }
}

// Payloads from Redis's corrupt-dump.tcl (their checksums are valid unless noted).
const HASH_ZIPLIST_BAD_ENTRY_LEN = hex('0D1B1B00000016000000040000026100040262000414630004026400FF0900D910549215F55F52');
const QUICKLIST_ZIPLIST_WRONG_COUNT = hex('0E0113130000000E00000003000002610004026200FF09004DE20A2F0825DF91');
// "stream bad lp_count": checksum not valid (the suite skips checksum validation for it).
const STREAM_BAD_LP_COUNT = hex(
  '0F011000000173DEDF7D9B00000000000000004042420000001800030100010201846974656D058576616C75650600010201000100010101000156010201220100010101825F3103050102012C010001010102010501FF038100000173DEDF7DC70001076D7967726F75708100000173DEDF7D9B000100000173DEDF7D9B0000000000000000F97DDFDE73010000010105416C696365EB7DDFDE730100000100000173DEDF7D9B00000000000000000900B2A8A75F1B6172D5',
);

describe('RESTORE of corrupt payloads', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer({ args: ['--loglevel', 'verbose', '--enable-debug-command', 'yes'] });
    r = s.client();
    await r.set('bystander', 'still here');
  });

  it('refuses a corrupt ziplist in every sanitize mode and logs Redis’s reason', async () => {
    for (const mode of ['no', 'yes', 'clients']) {
      await r.config('SET', 'sanitize-dump-payload', mode);
      assert.equal(await run(r, 'RESTORE', 'k', 0, HASH_ZIPLIST_BAD_ENTRY_LEN), 'ERR Bad data format');
      assert.equal(await run(r, 'RESTORE', 'k', 0, QUICKLIST_ZIPLIST_WRONG_COUNT), 'ERR Bad data format');
    }
    await s.waitForLog('-> Hash ziplist integrity check failed.');
    await s.waitForLog('-> Ziplist integrity check failed.');
    assert.equal(await r.exists('k'), 0);
    assert.equal(await r.get('bystander'), 'still here');
  });

  it('checks the checksum unless DEBUG SET-SKIP-CHECKSUM-VALIDATION says otherwise', async () => {
    await r.config('SET', 'sanitize-dump-payload', 'yes');
    assert.equal(await run(r, 'RESTORE', 'st', 0, STREAM_BAD_LP_COUNT), 'ERR DUMP payload version or checksum are wrong');
    await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '1');
    try {
      assert.equal(await run(r, 'RESTORE', 'st', 0, STREAM_BAD_LP_COUNT), 'ERR Bad data format');
      await s.waitForLog('-> Stream listpack integrity check failed.');
    } finally {
      await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '0');
    }
  });

  it('refuses damage Redis finds only with deep validation, in every mode, and keeps the old value', async () => {
    await r.set('st', 'old value');
    await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '1');
    try {
      for (const mode of ['no', 'clients', 'yes']) {
        await r.config('SET', 'sanitize-dump-payload', mode);
        assert.equal(await run(r, 'RESTORE', 'st', 0, STREAM_BAD_LP_COUNT, 'REPLACE'), 'ERR Bad data format');
        // The setting stays what was set, even though validation is always full.
        assert.deepEqual(await r.config('GET', 'sanitize-dump-payload'), ['sanitize-dump-payload', mode]);
      }
    } finally {
      await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '0');
    }
    assert.equal(await r.get('st'), 'old value');
    assert.doesNotMatch(s.output(), /accepted a damaged payload/);
  });

  it('refuses damage for skip-sanitize-payload users too', async () => {
    await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '1');
    await r.call('ACL', 'SETUSER', 'loader', 'on', 'nopass', '+@all', '~*', 'skip-sanitize-payload');
    const loader = s.client({ username: 'loader', password: 'x' });
    try {
      for (const mode of ['no', 'clients']) {
        await r.config('SET', 'sanitize-dump-payload', mode);
        assert.equal(await run(loader, 'RESTORE', 'st2', 0, STREAM_BAD_LP_COUNT), 'ERR Bad data format');
      }
    } finally {
      await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '0');
      await r.config('SET', 'sanitize-dump-payload', 'no');
    }
    assert.equal(await r.exists('st2'), 0);
  });

  it('the server never logged an internal error', () => {
    assert.doesNotMatch(s.output(), /Internal error executing/);
  });
});

// ---- fast-check: mutated DUMPs of every type, then traffic on what RESTORE accepted -------------

/** Commands of every type a restored key must answer without an internal error. */
const TRAFFIC: Record<string, (string | number)[][]> = {
  string: [['GET'], ['STRLEN'], ['GETRANGE', 0, -1], ['APPEND', 'x'], ['SETRANGE', 3, 'yy'], ['INCR']],
  list: [['LLEN'], ['LRANGE', 0, -1], ['LINDEX', -1], ['LPOS', '_1'], ['LINSERT', 'BEFORE', '2', 'x'], ['LREM', 0, '_3'], ['LSET', 0, 'z'], ['RPOP'], ['LTRIM', 1, -2], ['LPUSH', 'a']],
  hash: [['HLEN'], ['HGETALL'], ['HSCAN', 0, 'COUNT', 100], ['HRANDFIELD', -5, 'WITHVALUES'], ['HGET', '1'], ['HSTRLEN', '2'], ['HINCRBY', '0', 1], ['HSETNX', 'zz', 'v'], ['HDEL', '3'], ['HSET', '_new', 'x']],
  set: [['SCARD'], ['SMEMBERS'], ['SSCAN', 0], ['SISMEMBER', '_1'], ['SRANDMEMBER', -4], ['SPOP'], ['SADD', 'x', '7'], ['SREM', '2']],
  zset: [['ZCARD'], ['ZRANGE', 0, -1, 'WITHSCORES'], ['ZREVRANGEBYSCORE', '+inf', '-inf'], ['ZRANGEBYLEX', '-', '+'], ['ZRANK', '_1'], ['ZSCORE', '2'], ['ZSCAN', 0], ['ZRANDMEMBER', -3, 'WITHSCORES'], ['ZINCRBY', 2, '_3'], ['ZPOPMIN'], ['ZREMRANGEBYRANK', 0, 0], ['ZADD', 1.5, 'x']],
  stream: [
    ['XLEN'], ['XRANGE', '-', '+'], ['XREVRANGE', '+', '-', 'COUNT', 3], ['XINFO', 'STREAM', '$KEY', 'FULL'], ['XINFO', 'GROUPS', '$KEY'],
    ['XINFO', 'CONSUMERS', '$KEY', 'mygroup'], ['XPENDING', '$KEY', 'mygroup'], ['XPENDING', '$KEY', 'mygroup', '-', '+', 10],
    ['XAUTOCLAIM', '$KEY', 'mygroup', 'bob', 0, '0-0'], ['XREADGROUP', 'GROUP', 'mygroup', 'carol', 'STREAMS', '$KEY', '>'],
    ['XREAD', 'STREAMS', '$KEY', '0-0'], ['XDEL', '$KEY', '1-1'], ['XADD', '$KEY', '*', 'item', 'x'], ['XTRIM', '$KEY', 'MAXLEN', 2],
    ['XGROUP', 'SETID', '$KEY', 'mygroup', '0'],
  ],
};

/** Runs a traffic command: keyed commands take the key first, stream ones name it as $KEY. */
function trafficArgs(type: string, key: string, cmd: (string | number)[]): (string | number)[] {
  if (type === 'stream') return cmd.map((a) => (a === '$KEY' ? key : a));
  return [cmd[0]!, key, ...cmd.slice(1)];
}

describe('RESTORE of mutated DUMP payloads (fast-check)', () => {
  let s: RunningServer;
  let r: Redis;
  const dumps = new Map<string, Buffer>();
  before(async () => {
    s = await startServer({ args: ['--enable-debug-command', 'yes', '--list-max-listpack-size', '5', '--hash-max-listpack-entries', '5', '--zset-max-listpack-entries', '5', '--stream-node-max-entries', '5'] });
    r = s.client();
    // The fuzzer's generate_types: small (listpack, intset) and big versions of each type.
    for (const [suffix, n] of [['', 3], ['big', 10]] as const) {
      for (let j = 0; j < n; j++) {
        const val = j % 2 === 0 ? String(j) : `_${j}`;
        await r.hset(`hash${suffix}`, String(j), val);
        await r.lpush(`list${suffix}`, val);
        await r.zadd(`zset${suffix}`, j, val);
        await r.sadd(`set${suffix}`, val);
        await r.sadd(`intset${suffix}`, String(j * 7));
        await r.xadd(`stream${suffix}`, '*', 'item', '1', 'value', val);
      }
      await r.xgroup('CREATE', `stream${suffix}`, 'mygroup', '0');
      await r.xreadgroup('GROUP', 'mygroup', 'Alice', 'COUNT', 2, 'STREAMS', `stream${suffix}`, '>');
    }
    await r.xadd('streambig', '*', 'item', '1', 'unique', 'value');
    await r.set('string', 'a string long enough for lzf compression: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    await r.set('int', '12345');
    for (const key of await r.keys('*')) dumps.set(key, (await r.dumpBuffer(key))!);
  });

  it('RESTORE refuses or accepts, and every command on an accepted key answers', async () => {
    await r.call('DEBUG', 'SET-SKIP-CHECKSUM-VALIDATION', '0');
    const keys = [...dumps.keys()].sort();
    const dbsize = await r.dbsize();
    const outcomes = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...keys), fc.array(mutation, { minLength: 1, maxLength: 2 }), fc.constantFrom('no', 'yes', 'clients'), async (key, muts, sanitize) => {
        await r.config('SET', 'sanitize-dump-payload', sanitize);
        const payload = corrupt(dumps.get(key)!, muts);
        const restored = await run(r, 'RESTORE', '_fuzz', 0, payload, 'REPLACE');
        if (restored !== 'OK') {
          assert.match(String(restored), /^ERR (Bad data format|DUMP payload version or checksum are wrong)$/);
          outcomes.refused++;
          return;
        }
        outcomes.accepted++;
        const type = String(await r.type('_fuzz'));
        for (const cmd of TRAFFIC[type] ?? []) {
          const reply = await run(r, ...trafficArgs(type, '_fuzz', cmd));
          assert.doesNotMatch(String(reply), /internal error/i, `${cmd.join(' ')} on a restored ${type}`);
        }
        // Whatever is left DUMPs and RESTOREs back to the same thing.
        const again = await r.dumpBuffer('_fuzz');
        if (again !== null) {
          assert.equal(await run(r, 'RESTORE', '_fuzz2', 0, again, 'REPLACE'), 'OK');
          assert.deepEqual(await r.dumpBuffer('_fuzz2'), again);
          await r.del('_fuzz2');
        }
        await r.del('_fuzz');
        assert.equal(await r.dbsize(), dbsize);
      }),
      { numRuns: 400 },
    );
    // Both outcomes happen (a mutation of a length or a listpack is usually refused).
    assert.ok(outcomes.accepted > 20 && outcomes.refused > 20, JSON.stringify(outcomes));
    assert.equal(await r.ping(), 'PONG');
    assert.doesNotMatch(s.output(), /Internal error executing/);
  });
});

// ---- corrupt RDB files ----------------------------------------------------------------------------

/** An RDB image: header, SELECTDB 0, the given records, EOF and a zero (unchecked) checksum. */
function rdbImage(records: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from('REDIS0010', 'latin1'), Buffer.of(0xfe, 0), ...records, Buffer.of(0xff), Buffer.alloc(8)]);
}

/** A key record: type byte, key as an RDB string, then the value's bytes. */
const record = (type: number, key: string, value: Buffer): Buffer => Buffer.concat([Buffer.of(type, key.length), Buffer.from(key, 'latin1'), value]);

/** Starts nodis on `image` and returns its output once it exits (or is ready, then stopped). */
async function loadImage(image: Buffer, extra: string[] = []): Promise<{ exitCode: number | null; output: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-corrupt-rdb-'));
  fs.writeFileSync(path.join(dir, 'dump.rdb'), image);
  const port = await freePort();
  const proc = spawn(NODIS_SERVER, ['--port', String(port), '--dir', dir, '--save', '', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d: Buffer): void => {
    output += d.toString('latin1');
    if (output.includes('Ready to accept connections')) proc.kill('SIGTERM');
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exitCode = await new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  fs.rmSync(dir, { recursive: true, force: true });
  return { exitCode, output };
}

describe('loading corrupt RDB files', () => {
  // A hash ziplist whose second entry claims 20 bytes (from "hash with valid zip list header").
  const badZiplist = HASH_ZIPLIST_BAD_ENTRY_LEN.subarray(1, HASH_ZIPLIST_BAD_ENTRY_LEN.length - 10);

  it('stops start-up with Redis’s reason and redis-check-rdb’s report', async () => {
    const { exitCode, output } = await loadImage(rdbImage([record(0, 'ok', Buffer.of(1, 0x41)), record(13, 'broken', badZiplist)]));
    assert.equal(exitCode, 1);
    assert.match(output, /# Internal error in RDB reading offset 0, function at rdb\.c:0 -> Hash ziplist integrity check failed\./);
    assert.match(output, /--- RDB ERROR DETECTED ---\n\[offset \d+\] Internal error .* Hash ziplist integrity check failed\.\n\[additional info\] While doing: read-object-value\n\[additional info\] Reading key 'broken'\n\[additional info\] Reading type 13 \(hash-ziplist\)/);
    assert.equal(output.split('Terminating server after rdb file reading failure.').length, 2);
  });

  it('skips empty keys with a warning each, as Redis does', async () => {
    const emptyZiplist = hex('0b0000000a00000000 00ff'.replace(/ /g, ''));
    const { output } = await loadImage(rdbImage([record(2, 'set', Buffer.of(0)), record(13, 'hash_ziplist', Buffer.concat([Buffer.of(emptyZiplist.length), emptyZiplist])), record(0, 'kept', Buffer.of(1, 0x41))]));
    assert.match(output, /rdbLoadObject skipping empty key: set\n/);
    assert.match(output, /rdbLoadObject skipping empty key: hash_ziplist\n/);
    assert.match(output, /# Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 2\./);
  });

  it('refuses a damaged listpack Redis would load under sanitize-dump-payload no, in every mode', async () => {
    // A hash listpack a=b, c=d whose last backlen is wrong.
    const lp = hex('13000000040081610281620281630281640' + '5ff');
    const image = rdbImage([record(0, 'ok', Buffer.of(1, 0x41)), record(16, 'h', Buffer.concat([Buffer.of(lp.length), lp]))]);
    for (const mode of ['no', 'clients', 'yes']) {
      const { exitCode, output } = await loadImage(image, ['--sanitize-dump-payload', mode]);
      assert.equal(exitCode, 1, mode);
      assert.match(output, /# Internal error in RDB reading offset 0, function at rdb\.c:0 -> Hash listpack integrity check failed\./);
      assert.match(output, /\[additional info\] Reading key 'h'\n\[additional info\] Reading type 16 \(hash-listpack\)/);
      assert.match(output, /Terminating server after rdb file reading failure\./);
    }
  });
});

// ---- a corrupt full sync ------------------------------------------------------------------------

/** Splits complete RESP arrays of bulk strings off the front of `buf`: [commands, rest]. */
function parseCommands(buf: Buffer): [string[][], Buffer] {
  const out: string[][] = [];
  let pos = 0;
  for (;;) {
    const start = pos;
    const line = (): string | null => {
      const end = buf.indexOf('\r\n', pos);
      if (end === -1) return null;
      const text = buf.latin1Slice(pos, end);
      pos = end + 2;
      return text;
    };
    const head = line();
    if (head === null || !head.startsWith('*')) return [out, buf.subarray(start)];
    const argv: string[] = [];
    for (let i = 0; i < Number(head.slice(1)); i++) {
      const len = line();
      if (len === null || pos + Number(len.slice(1)) + 2 > buf.length) return [out, buf.subarray(start)];
      argv.push(buf.latin1Slice(pos, pos + Number(len.slice(1))));
      pos += Number(len.slice(1)) + 2;
    }
    out.push(argv);
  }
}

describe('a replica sent a corrupt RDB in a full sync', () => {
  it('refuses it, keeps none of it, and retries the sync', async () => {
    // A master that answers the handshake and sends, on every PSYNC, an image whose second key
    // is a hash listpack with a bad backlen (Redis loads it under sanitize-dump-payload no).
    const lp = hex('13000000040081610281620281630281640' + '5ff');
    const image = rdbImage([record(0, 'ok', Buffer.of(1, 0x41)), record(16, 'h', Buffer.concat([Buffer.of(lp.length), lp]))]);
    let psyncs = 0;
    let retried!: () => void;
    const secondPsync = new Promise<void>((resolve) => (retried = resolve));
    const master = net.createServer((sock) => {
      let pending: Buffer = Buffer.alloc(0);
      sock.on('error', () => {});
      sock.on('data', (d) => {
        const [commands, rest] = parseCommands(Buffer.concat([pending, d]));
        pending = rest;
        for (const argv of commands) {
          const cmd = argv[0]!.toUpperCase();
          if (cmd === 'PING') sock.write('+PONG\r\n');
          else if (cmd === 'REPLCONF') sock.write('+OK\r\n');
          else if (cmd === 'PSYNC') {
            if (++psyncs === 2) retried();
            sock.write(`+FULLRESYNC ${'a'.repeat(40)} 0\r\n$${image.length}\r\n`);
            sock.write(image);
          }
        }
      });
    });
    await new Promise<void>((resolve) => master.listen(0, '127.0.0.1', resolve));
    const masterPort = (master.address() as net.AddressInfo).port;
    const s = await startServer({ args: ['--sanitize-dump-payload', 'no'] });
    try {
      const r = s.client();
      await r.set('before', 'x');
      await r.call('REPLICAOF', '127.0.0.1', masterPort);
      await s.waitForLog(/Failed trying to load the MASTER synchronization DB from socket: Hash listpack integrity check failed\./);
      // Nothing of the refused image is kept (nor the dataset the full sync replaced).
      assert.equal(await r.dbsize(), 0);
      assert.match(String(await r.info('replication')), /master_link_status:down/);
      // The sync is retried (the test times out if it is not).
      await secondPsync;
      await r.call('REPLICAOF', 'NO', 'ONE');
    } finally {
      await s.stop();
      await new Promise((resolve) => master.close(resolve));
    }
  });
});

// ---- a handler that throws ------------------------------------------------------------------------

/** A Logger that keeps its lines. */
class MemoryLogger extends Logger {
  lines = '';
  override raw(text: string): void {
    this.lines += text;
  }
}

describe('a command handler that throws', () => {
  let server: Server;
  let logger: MemoryLogger;
  let r: Redis;
  before(async () => {
    const port = await freePort();
    const clock = new SystemClock();
    logger = new MemoryLogger(() => clock.now());
    const config = new ConfigRegistry(DIRECTIVES);
    config.set('port', [String(port)], 'args');
    config.set('bind', ['127.0.0.1'], 'args');
    config.set('save', [''], 'args');
    // A bug stand-in: ECHO writes half a reply, then throws.
    const echo = (c: Client): void => {
      c.reply.array(2);
      c.reply.bulk('half');
      throw new TypeError('broken invariant');
    };
    server = new Server({ clock, config, commands: new CommandTable([...allCommandHandlers(), { echo }]), logger });
    installModules(server);
    await server.listen();
    r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  });
  after(async () => {
    r.disconnect();
    await server.shutdown({ save: false, now: true, force: true, signal: true });
  });

  it('fails that command with an error and the server carries on', async () => {
    await r.set('k', 'v');
    assert.equal(await run(r, 'ECHO', 'x'), "ERR internal error executing 'echo': broken invariant");
    // The half-written reply was dropped: the connection is still in step.
    assert.equal(await r.get('k'), 'v');
    const multi = await r.multi().set('k', 'w').echo('y').get('k').exec();
    assert.deepEqual(multi?.map(([e, v]) => (e === null ? v : e.message)), ['OK', "ERR internal error executing 'echo': broken invariant", 'w']);
    assert.match(logger.lines, /Internal error executing 'echo' \(the command was aborted\): TypeError: broken invariant\n\s+at /);
  });
});
