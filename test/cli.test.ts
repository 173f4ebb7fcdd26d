/**
 * nodis-cli against the real redis-cli (Debian's redis-tools 7.0.15): the same sessions are run
 * through both, against the same server, and their stdout, stderr and exit codes must be
 * byte-identical — in tty-like (--no-raw) and --raw modes, for every RESP2/RESP3 reply type.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { fakeServer, NODIS_CLI, REDIS_CLI, runCli, type CliResult, type RunOptions } from './cli-harness.js';
import type { Redis } from 'ioredis';

after(stopAll);

const show = (r: CliResult): string =>
  `code=${r.code}\nstdout=${JSON.stringify(r.stdout.toString('latin1'))}\nstderr=${JSON.stringify(r.stderr.toString('latin1'))}`;

/**
 * Runs both CLIs and asserts identical bytes. `setup` restores the dataset before each run (for
 * commands that write); read-only runs share one setup so SCAN sees the same table order.
 */
async function same(
  args: string[],
  opts: RunOptions & { setup?: () => Promise<void>; readOnly?: boolean; scanOrder?: boolean } = {},
): Promise<CliResult> {
  await opts.setup?.();
  const real = await runCli(REDIS_CLI, args, opts);
  if (!opts.readOnly) await opts.setup?.();
  const ours = await runCli(NODIS_CLI, args, opts);
  const norm = opts.scanOrder ? sortScanLines : (r: CliResult): CliResult => r;
  assert.equal(show(norm(ours)), show(norm(real)), `nodis-cli ${args.join(' ')}`);
  return ours;
}

/**
 * SCAN's order changes while the server rehashes in the background, so for scan-driven output
 * the per-key lines are compared as a sorted block (the summary keeps its order).
 */
function sortScanLines(r: CliResult): CliResult {
  const text = r.stdout.toString('latin1');
  const cut = text.indexOf('\n-------- summary');
  const head = cut < 0 ? text : text.slice(0, cut);
  const tail = cut < 0 ? '' : text.slice(cut);
  const lines = head.split('\n');
  const sorted = [...lines].sort();
  return { ...r, stdout: Buffer.from(sorted.join('\n') + tail, 'latin1') };
}

const bulk = (s: string): string => `$${Buffer.byteLength(s, 'latin1')}\r\n${s}\r\n`;

/** Canned replies covering every type and the awkward layouts (index widths, nesting). */
const CANNED: Record<string, string> = {
  hello: '%1\r\n+server\r\n+fake\r\n',
  status: '+OK\r\n',
  error: '-READONLY You can\'t write against a read only replica.\r\n',
  integer: ':-9223372036854775808\r\n',
  binary: bulk('a\x00"\\\xff\xe9\n\r\t\x07\x08 ~\x7f'),
  emptybulk: bulk(''),
  nil: '$-1\r\n',
  nilarray: '*-1\r\n',
  null3: '_\r\n',
  emptyarray: '*0\r\n',
  emptymap: '%0\r\n',
  emptyset: '~0\r\n',
  long: '*12\r\n' + Array.from({ length: 12 }, (_, i) => (i === 10 ? '*2\r\n:1\r\n*2\r\n+x\r\n$-1\r\n' : bulk(`e${i}`))).join(''),
  nested: '*3\r\n*0\r\n*1\r\n*1\r\n:7\r\n*2\r\n-ERR inner\r\n' + bulk('v'),
  map: '%3\r\n' + bulk('k1') + bulk('v1') + bulk('k2') + '*2\r\n:1\r\n:2\r\n' + ':3\r\n%1\r\n+a\r\n*1\r\n+b\r\n',
  set: '~3\r\n' + bulk('a') + bulk('b') + ':3\r\n',
  double: ',3.14\r\n',
  inf: ',-inf\r\n',
  doubles: '*3\r\n,1.5\r\n,1e+300\r\n,-0.0\r\n',
  baddouble: ',nan\r\n',
  true: '#t\r\n',
  false: '#f\r\n',
  verbatim: '=15\r\ntxt:Some string\r\n',
  bignum: '(3492890328409238509324850943850943825024385\r\n',
  statusnul: '+a\x00b\r\n',
};

describe('nodis-cli formats every reply type like redis-cli', () => {
  let fake: Awaited<ReturnType<typeof fakeServer>>;
  before(async () => {
    fake = await fakeServer(CANNED);
  });
  after(() => fake.close());

  // Replies that end the session (protocol errors, unknown types) run alone; the rest in one
  // session per mode, fed on stdin (redis-cli's non-tty interactive mode).
  const fatal = new Set(['bignum', 'baddouble']);
  const batch = Object.keys(CANNED).filter((n) => n !== 'hello' && !fatal.has(n));
  const modes = [['--no-raw'], ['--raw'], ['--csv'], ['--json'], ['--quoted-json'], ['--no-raw', '-3'], ['--raw', '-3'], ['--raw', '-d', '|', '-D', '#\n']];
  for (const mode of modes) {
    it(`${mode.join(' ')}`, async () => {
      await same(['-p', String(fake.port), ...mode], { stdin: batch.join('\n') + '\n' });
      await same(['-p', String(fake.port), ...mode, 'long']);
      for (const name of fatal) await same(['-p', String(fake.port), ...mode, name]);
    });
  }
  it('-e turns an error reply into exit code 1', async () => {
    const r = await same(['-p', String(fake.port), '-e', 'error']);
    assert.equal(r.code, 1);
  });
});

describe('nodis-cli against a real redis-server', () => {
  let redis: RunningServer;
  let replica: RunningServer;
  let protectedServer: RunningServer;
  let c: Redis;
  before(async () => {
    redis = await startServer({ bin: '/usr/bin/redis-server', args: ['--enable-debug-command', 'yes'] });
    replica = await startServer({ bin: '/usr/bin/redis-server', args: ['--replicaof', '127.0.0.1', '1'] });
    protectedServer = await startServer({ bin: '/usr/bin/redis-server', args: ['--requirepass', 'sekret'] });
    c = redis.client();
  });
  const p = (): string[] => ['-p', String(redis.port)];
  const setup = async (): Promise<void> => {
    await c.flushall();
    await c.set('mykey', '123');
    await c.rpush('mylist', 'a', 'b', '\xe9t\xe9');
    await c.sadd('myset', 'x');
    await c.hset('myhash', 'f1', 'v1', 'f2', 'v2');
    await c.zadd('myzset', 1.5, 'one', 2, 'two');
  };

  /**
   * Redis grows its hash table incrementally; while a rehash is under way SCAN's batches (and so
   * --bigkeys' progress lines) differ from one run to the next. Wait until it is done.
   */
  const rehashSettled = async (): Promise<void> => {
    for (;;) {
      const stats = String(await c.call('debug', 'htstats', '0'));
      if (!stats.includes('rehashing target')) return;
      await new Promise((r) => setImmediate(r));
    }
  };

  it("reproduces the seed's sessions (keys *, set, READONLY)", async () => {
    for (const mode of [['--no-raw'], ['--raw'], []]) {
      await same([...p(), ...mode, 'keys', 'mylist'], { setup });
      await same([...p(), ...mode, 'set', 'name', 'hello'], { setup });
      await same([...p(), ...mode, 'get', 'name'], { setup });
      await same(['-p', String(replica.port), ...mode, 'set', 'mykey', '123']);
      await same(['-p', String(replica.port), ...mode, 'hset', 'user:1', 'username', 'guods']);
      await same(['-p', String(replica.port), ...mode, 'keys', '*']);
    }
  });

  it('prints data replies identically in tty-like and raw modes, RESP2 and RESP3', async () => {
    const commands = [
      ['lrange', 'mylist', '0', '-1'],
      ['smembers', 'myset'],
      ['hgetall', 'myhash'],
      ['zrange', 'myzset', '0', '-1', 'withscores'],
      ['zscore', 'myzset', 'one'],
      ['get', 'nosuchkey'],
      ['incr', 'mykey'],
      ['lpush', 'mykey', 'x'],
      ['nosuchcommand', 'arg'],
      ['eval', 'return {1,2,{3,"x"},true,false}', '0'],
      ['lrange', 'none', '0', '-1'],
      ['object', 'encoding', 'mylist'],
      ['exists', 'mykey', 'myset'],
    ];
    for (const mode of [['--no-raw'], ['--raw'], ['--no-raw', '-3'], ['--raw', '-3'], ['--csv'], ['--json']]) {
      for (const cmd of commands) await same([...p(), ...mode, ...cmd], { setup });
    }
  });

  it('handles -n, -r, -x, -u, --quoted-input, stdin commands and INFO-like raw replies', async () => {
    await same([...p(), '-n', '3', '--no-raw', 'set', 'k', 'v'], { setup });
    await same([...p(), '-r', '3', '--no-raw', 'incr', 'counter'], { setup });
    await same([...p(), '-x', 'set', 'fromstdin'], { setup, stdin: 'line1\nline2\xff\n' });
    await same([...p(), '-x', '--no-raw', 'get', 'fromstdin'], { setup, stdin: 'mykey' });
    await same(['-u', `redis://127.0.0.1:${redis.port}/2`, '--no-raw', 'dbsize'], { setup });
    await same([...p(), '--quoted-input', '--no-raw', 'set', '"a\\x00b"', "'c d'"], { setup });
    await same([...p(), '--quoted-input', 'set', '"unterminated'], { setup });
    await same([...p()], { setup, stdin: 'set a 1\nincr a\n  \nget a\nlrange mylist 0 -1\nset "bad\nhelp get\n3 ping\n0 ping\nselect 4\nset b 2\n' });
    await same([...p(), '--no-raw'], { setup, stdin: 'select 4\nset b 2\nmulti\nincr b\nexec\nnosuch\n' });
    await same([...p(), '--no-raw', 'help', 'set']);
    await same([...p(), '--no-raw', 'help', '@hyperloglog']);
    await same([...p(), 'help']);
  });

  it('reports bad input with the same message and exit code', async () => {
    await same(['--foo']);
    await same([...p(), '-p']);
    await same(['-p', '1', 'ping']);
    await same(['-p', '1'], { stdin: 'ping\n' });
    await same(['-s', '/nonexistent/socket', 'ping']);
    await same(['-u', 'http://x']);
    await same(['-2', '-3', 'ping']);
    // --version names nodis (and the redis-cli it matches) where redis-cli names itself.
    const version = await runCli(NODIS_CLI, ['-v']);
    assert.equal(version.code, 0);
    assert.match(version.stdout.toString(), /^nodis-cli \d+\.\d+\.\d+ \(redis-cli 7\.0\.15 compatible\)\n$/);
    await same(['--help']);
    await same(['-p', String(protectedServer.port), '-a', 'wrong', 'ping']);
    await same(['-p', String(protectedServer.port), '-a', 'wrong', '--no-auth-warning', '--no-raw', 'ping']);
    await same(['-p', String(protectedServer.port), '--user', 'nobody', '--pass', 'sekret', 'ping']);
    await same(['-p', String(protectedServer.port), '-a', 'sekret', 'ping']);
    await same(['-u', `redis://:sekret@127.0.0.1:${protectedServer.port}`, 'ping']);
    await same(['-p', String(protectedServer.port), 'ping'], { env: { REDISCLI_AUTH: 'sekret' } });
    await same(['-p', String(protectedServer.port), '--askpass', 'ping'], { stdin: 'sekret\n' });
    await same([...p(), '-n', '99', 'ping']);
  });

  it('--scan, --bigkeys and --memkeys print what redis-cli prints', async () => {
    await same([...p(), '--scan'], { setup, readOnly: true, scanOrder: true });
    await same([...p(), '--scan', '--pattern', 'my*'], { setup, readOnly: true, scanOrder: true });
    await same([...p(), '--no-raw', '--scan', '--pattern', 'my*'], { setup, readOnly: true, scanOrder: true });
    const bigSetup = async (): Promise<void> => {
      await setup();
      for (let i = 0; i < 30; i++) await c.set(`key:${i}`, 'x'.repeat(i));
      await c.xadd('mystream', '*', 'a', '1');
      await rehashSettled();
    };
    await same([...p(), '--bigkeys'], { setup: bigSetup, readOnly: true, scanOrder: true });
    await same([...p(), '--memkeys'], { setup: bigSetup, readOnly: true, scanOrder: true });
    await same([...p(), '--memkeys-samples', '5'], { setup: bigSetup, readOnly: true, scanOrder: true });
    await same([...p(), '--bigkeys', '--pattern', 'key:*'], { setup: bigSetup, readOnly: true, scanOrder: true });
  });

  it('--stat and --latency print the same layout', async () => {
    const header =
      '------- data ------ --------------------- load -------------------- - child -\n' +
      'keys       mem      clients blocked requests            connections          \n';
    const row = /^\d+ +\d+(\.\d\d)?[BKMG] +\d+ +\d+ +\d+ \(\+\d+\) +\d+ +\n$/;
    for (const bin of [REDIS_CLI, NODIS_CLI]) {
      const r = await runCli(bin, [...p(), '--stat', '-i', '0.05'], { until: /keys[^\n]*\n[^\n]*\n[^\n]*\n/ });
      const text = r.stdout.toString('latin1');
      assert.ok(text.startsWith(header), `${bin}: ${text}`);
      const lines = text.slice(header.length).split(/(?<=\n)/);
      assert.match(lines[0]!, row, `${bin}: ${text}`);
      const lat = await runCli(bin, [...p(), '--latency', '--raw', '-i', '0.2']);
      assert.match(lat.stdout.toString('latin1'), /^\d+ \d+ \d+\.\d\d \d+\n$/, bin);
      assert.equal(lat.code, 0);
      const csv = await runCli(bin, [...p(), '--latency', '--csv', '-i', '0.2']);
      assert.match(csv.stdout.toString('latin1'), /^\d+,\d+,\d+\.\d\d,\d+\n$/, bin);
      const hist = await runCli(bin, [...p(), '--latency-history', '--raw', '-i', '0.1'], { until: /seconds range\n/ });
      assert.match(hist.stdout.toString('latin1'), /^(\d+ \d+ \d+\.\d\d \d+\n)+ -- 0\.1\d seconds range\n/, bin);
    }
  });

  it('SUBSCRIBE prints messages as they arrive (RESP2 arrays and RESP3 pushes)', async () => {
    for (const mode of [['--no-raw'], ['--raw'], ['--no-raw', '-3'], ['--raw', '-3']]) {
      const outputs: string[] = [];
      for (const bin of [REDIS_CLI, NODIS_CLI]) {
        const running = runCli(bin, [...p(), ...mode, 'subscribe', 'news'], { until: /bye/ });
        // Publish until the subscriber has seen it (it may not be subscribed yet).
        const pub = redis.client();
        let result: CliResult | undefined;
        void running.then((r) => (result = r));
        while (result === undefined) {
          await pub.publish('news', 'bye');
          await new Promise((r) => setTimeout(r, 20));
        }
        pub.disconnect();
        // Everything up to the first message (extra publishes may follow).
        const text = result.stdout.toString('latin1');
        outputs.push(text.slice(0, text.indexOf('bye') + 3));
      }
      assert.equal(outputs[1], outputs[0], mode.join(' '));
    }
  });
});
