/**
 * Introspection and operations behaviour, checked from a user's side and, where the exact
 * reply matters, side by side with the real redis-server 7.0.15:
 *  MONITOR (scripts shown before their commands, redacted passwords), SLOWLOG (redaction,
 *  served blocking commands, SLOWLOG RESET queued in MULTI), COMMAND GETKEYSANDFLAGS / INFO
 *  edge cases, CONFIG SET bind to its own value, DEBUG CONFIG-REWRITE-FORCE-ALL, CLIENT PAUSE
 *  WRITE and script flags, protected mode, bind-source-addr, SHUTDOWN waiting for a replica
 *  (INFO shutdown_in_milliseconds, joined SHUTDOWNs), crash reports, expire-cycle latency.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { RawConnection } from './helpers/raw-connection.js';
import { startRedis, runRaw } from './helpers/redis-compare.js';



/** Starts MONITOR on a raw connection; returns it once +OK arrived. */
async function monitor(port: number): Promise<RawConnection> {
  const m = new RawConnection(port);
  m.command('MONITOR');
  await m.until((g) => g.startsWith('+OK\r\n'));
  return m;
}

/** MONITOR lines without their timestamp and peer: `[db] "cmd" "arg"…`. */
function monitorLines(got: string): string[] {
  return got
    .split('\r\n')
    .slice(1)
    .filter((l) => l.startsWith('+'))
    .map((l) => l.replace(/^\+\d+\.\d+ \[(\d+) [^\]]+\]/, '[$1]'));
}

/** Runs `action` while MONITOR watches and returns the `count` lines it saw. */
async function monitored(port: number, count: number, action: () => Promise<void>): Promise<string[]> {
  const m = await monitor(port);
  await action();
  const got = await m.until((g) => monitorLines(g).length >= count);
  m.close();
  return monitorLines(got);
}

function infoField(info: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return m === null ? undefined : m[1]!.replace(/\r$/, '');
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | false | undefined>, ms = 15000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== false && v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both servers, for replies that must be byte-identical. */
describe('introspection replies compared with redis-server', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startRedis()]);
  });
  after(stopAll);

  async function same(commands: string[][]): Promise<string[]> {
    const [mine, theirs] = await Promise.all([runRaw(nodis.port, commands), runRaw(redis.port, commands)]);
    assert.deepEqual(mine, theirs);
    return mine;
  }

  it('COMMAND GETKEYSANDFLAGS gives SORT … STORE its destination flags', async () => {
    const [r] = await same([['COMMAND', 'GETKEYSANDFLAGS', 'sort', 'k1', 'store', 'k2']]);
    assert.match(r!, /OW/);
    await same([['COMMAND', 'GETKEYSANDFLAGS', 'sort', 'k1', 'limit', '0', '1', 'get', '#', 'store', 'a', 'store', 'b']]);
  });

  it('COMMAND INFO of a subcommand of a subcommand is null', async () => {
    const [r] = await same([['COMMAND', 'INFO', 'config|get|key', 'get|key', 'config|get']]);
    assert.ok(r!.startsWith('*3\r\n$-1\r\n$-1\r\n*'));
  });

  it('SLOWLOG RESET and LATENCY RESET are queued inside MULTI', async () => {
    const r = await same([['MULTI'], ['SLOWLOG', 'RESET'], ['LATENCY', 'RESET'], ['EXEC']]);
    assert.deepEqual(r.slice(1, 3), ['+QUEUED\r\n', '+QUEUED\r\n']);
  });

  it('SLOWLOG shows passwords as (redacted), as Redis does', async () => {
    const script = [
      ['CONFIG', 'SET', 'slowlog-log-slower-than', '0'],
      ['SLOWLOG', 'RESET'],
      ['CONFIG', 'SET', 'masterauth', 'secret'],
      ['ACL', 'SETUSER', 'slow-user', '>pw', '+get'],
      ['AUTH', 'nobody', 'wrong'],
      ['AUTH', 'wrong'],
      ['HELLO', '2', 'AUTH', 'nobody', 'wrong'],
      ['CONFIG', 'SET', 'masterauth', ''],
      ['CONFIG', 'SET', 'slowlog-log-slower-than', '-1'],
    ];
    const argvsOf = async (port: number): Promise<string[]> => {
      await runRaw(port, script);
      const c = port === nodis.port ? nodis.client() : redis.client();
      const entries = (await c.call('SLOWLOG', 'GET', '-1')) as [number, number, number, string[], string, string][];
      return entries.map((e) => e[3].join(' '));
    };
    const mine = await argvsOf(nodis.port);
    assert.deepEqual(mine, await argvsOf(redis.port));
    assert.ok(mine.includes('CONFIG SET masterauth (redacted)'));
    assert.ok(mine.includes('ACL SETUSER (redacted) (redacted) (redacted)'));
    assert.ok(mine.includes('AUTH (redacted) (redacted)'));
    assert.ok(mine.includes('HELLO 2 AUTH (redacted) (redacted)'));
  });

  it('MONITOR shows EVAL and FCALL before the commands their scripts run, and redacts AUTH/HELLO', async () => {
    const lib = '#!lua name=mon\nredis.register_function("monf", function() return redis.call("set", "mk", "v2") end)';
    const run = async (s: RunningServer): Promise<string[]> => {
      const c = s.client();
      await c.call('FUNCTION', 'LOAD', 'REPLACE', lib);
      return monitored(s.port, 7, async () => {
        await c.call('EVAL', "return redis.call('set', KEYS[1], ARGV[1])", '1', 'mk', 'v1');
        await c.call('FCALL', 'monf', '0');
        await c.call('AUTH', 'not-real').catch(() => {});
        await c.call('AUTH', 'not-real', 'not-a-password').catch(() => {});
        await c.call('HELLO', '2', 'AUTH', 'not-real', 'not-a-password').catch(() => {});
      });
    };
    const mine = await run(nodis);
    assert.deepEqual(mine, await run(redis));
    assert.deepEqual(mine, [
      `[0] "EVAL" "return redis.call('set', KEYS[1], ARGV[1])" "1" "mk" "v1"`,
      '[0] "set" "mk" "v1"',
      '[0] "FCALL" "monf" "0"',
      '[0] "set" "mk" "v2"',
      '[0] "AUTH" "(redacted)"',
      '[0] "AUTH" "(redacted)" "(redacted)"',
      '[0] "HELLO" "2" "AUTH" "(redacted)" "(redacted)"',
    ]);
  });

  it('protected mode refuses a non-loopback peer whatever bind says', async () => {
    // 127.0.0.2 is a loopback interface but not "local" to islocalClient (only 127.0.0.1, ::1).
    const hello = async (port: number): Promise<string> => {
      const r = new RawConnection(port, '127.0.0.2');
      r.command('PING');
      const got = await r.until((g) => g.includes('\r\n'));
      r.close();
      return got;
    };
    const mine = await hello(nodis.port);
    assert.equal(mine, await hello(redis.port));
    assert.match(mine, /^-DENIED Redis is running in protected mode/);
    for (const s of [nodis, redis]) await s.client().call('CONFIG', 'SET', 'bind', '* -::*');
    assert.match(await hello(nodis.port), /^-DENIED/);
    for (const s of [nodis, redis]) await s.client().call('CONFIG', 'SET', 'protected-mode', 'no');
    assert.equal(await hello(nodis.port), '+PONG\r\n');
    for (const s of [nodis, redis]) await s.client().call('CONFIG', 'SET', 'protected-mode', 'yes');
  });
});

describe('introspection on nodis', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ config: 'enable-debug-command yes\n' });
  });
  after(stopAll);

  it('CONFIG SET bind to the address already bound keeps serving', async () => {
    const c = s.client();
    const bind = (await c.call('CONFIG', 'GET', 'bind')) as string[];
    assert.equal(await c.call('CONFIG', 'SET', 'bind', bind[1]!), 'OK');
    const fresh = s.client();
    assert.equal(await fresh.ping(), 'PONG');
    // Every CONFIG GET value can be set back unchanged (the suite's "CONFIG sanity").
    assert.equal(await c.call('CONFIG', 'SET', 'bind', '127.0.0.1'), 'OK');
    assert.equal(await s.client().ping(), 'PONG');
    assert.equal(await c.call('CONFIG', 'SET', 'bind', bind[1]!), 'OK');
  });

  it('DEBUG CONFIG-REWRITE-FORCE-ALL writes every directive, defaults included', async () => {
    const c = s.client();
    assert.equal(await c.call('DEBUG', 'CONFIG-REWRITE-FORCE-ALL'), 'OK');
    const text = fs.readFileSync(path.join(s.dir, 'test.conf'), 'latin1');
    assert.match(text, /^hz 10$/m);
    assert.match(text, /^maxmemory-policy noeviction$/m);
    assert.match(text, /^enable-debug-command yes$/m);
  });

  it('a BLPOP served later is logged in SLOWLOG under its own arguments', async () => {
    const c = s.client();
    await c.call('CONFIG', 'SET', 'slowlog-log-slower-than', '0');
    const waiter = s.client();
    const popped = waiter.call('BLPOP', 'slow-l', '0');
    await waitFor('blocked', async () => infoField((await c.info('clients')) as string, 'blocked_clients') === '1');
    await c.multi().lpush('slow-l', 'foo').call('SLOWLOG', 'RESET').exec();
    assert.deepEqual(await popped, ['slow-l', 'foo']);
    const entries = (await c.call('SLOWLOG', 'GET')) as [number, number, number, string[]][];
    assert.deepEqual(entries[0]![3], ['BLPOP', 'slow-l', '0']);
    await c.call('CONFIG', 'SET', 'slowlog-log-slower-than', '10000');
  });

  it('CLIENT PAUSE WRITE holds scripts that may write, not no-writes scripts', async () => {
    const c = s.client();
    await c.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=ro\nredis.register_function{function_name='rof', callback=function() return 'ro' end, flags={'no-writes'}}");
    await c.call('CLIENT', 'PAUSE', '100000', 'WRITE');
    try {
      const other = s.client();
      assert.equal(await other.call('EVAL', '#!lua flags=no-writes\nreturn 1', '0'), 1);
      assert.equal(await other.call('FCALL', 'rof', '0'), 'ro');
      const sha = (await other.call('SCRIPT', 'LOAD', '#!lua flags=no-writes\nreturn 2')) as string;
      assert.equal(await other.call('EVALSHA', sha, '0'), 2);
      // Declared flags without no-writes, and plain EVAL (may replicate), wait for the unpause.
      const held = s.client();
      const a = held.call('EVAL', '#!lua\nreturn 3', '0');
      const b = s.client().call('EVAL', 'return 4', '0');
      await waitFor('paused', async () => infoField((await c.info('clients')) as string, 'blocked_clients') === '2');
      await c.call('CLIENT', 'UNPAUSE');
      assert.deepEqual(await Promise.all([a, b]), [3, 4]);
    } finally {
      await c.call('CLIENT', 'UNPAUSE');
    }
  });

  it('LATENCY records the expire-cycle event', async () => {
    const c = s.client();
    await c.call('CONFIG', 'SET', 'latency-monitor-threshold', '1');
    await c.call('DEBUG', 'POPULATE', '100000', 'exp');
    let p = c.pipeline();
    for (let i = 0; i < 100000; i++) {
      p.pexpire(`exp:${i}`, 1);
      if (i % 10000 === 9999) {
        await p.exec();
        p = c.pipeline();
      }
    }
    await waitFor('keys expired', async () => (await c.dbsize()) < 1000);
    const latest = (await c.call('LATENCY', 'LATEST')) as [string, number, number, number][];
    assert.ok(latest.some((e) => e[0] === 'expire-cycle'), JSON.stringify(latest));
    await c.call('CONFIG', 'SET', 'latency-monitor-threshold', '0');
  });
});

describe('replication-facing introspection', () => {
  after(stopAll);

  it('bind-source-addr is the address a replica connects from', async () => {
    const master = await startServer({ args: ['--protected-mode', 'no'] });
    const replica = await startServer({ args: ['--bind-source-addr', '127.0.0.2'] });
    await replica.client().call('REPLICAOF', '127.0.0.1', String(master.port));
    const slave0 = await waitFor('replica online', async () => {
      const v = infoField((await master.client().info('replication')) as string, 'slave0');
      return v !== undefined && v.includes('state=online') ? v : null;
    });
    assert.match(slave0, /^ip=127\.0\.0\.2,/);
    await Promise.all([master.stop(), replica.stop()]);
  });

  it('SHUTDOWN waiting for a lagging replica: INFO shows the countdown, a second SHUTDOWN joins, ABORT answers both', async () => {
    const master = await startServer({ args: ['--shutdown-timeout', '60', '--repl-diskless-sync', 'no'] });
    const c = master.client();
    // A replica that never ACKs: it takes the full sync and then stays silent.
    const fake = new RawConnection(master.port);
    fake.command('REPLCONF', 'listening-port', '1');
    await fake.until((g) => g === '+OK\r\n');
    fake.command('PSYNC', '?', '-1');
    await fake.until((g) => g.includes('+FULLRESYNC') && /\$\d+\r\n/.test(g));
    await waitFor('replica online', async () => /slave0:.*state=online/.test((await c.info('replication')) as string));
    await c.set('k', 'v');
    assert.ok(Number(infoField((await c.info('memory')) as string, 'mem_total_replication_buffers')) > 0);
    const first = new RawConnection(master.port);
    first.command('SHUTDOWN');
    const shutdownIn = await waitFor('shutdown_in_milliseconds', async () => infoField((await c.info('server')) as string, 'shutdown_in_milliseconds') ?? null);
    assert.ok(Number(shutdownIn) > 0 && Number(shutdownIn) <= 60000, shutdownIn);
    const second = new RawConnection(master.port);
    second.command('SHUTDOWN', 'NOSAVE');
    await waitFor('both blocked', async () => infoField((await c.info('clients')) as string, 'blocked_clients') === '2');
    assert.equal(await c.call('SHUTDOWN', 'ABORT'), 'OK');
    const err = '-ERR Errors trying to SHUTDOWN. Check logs.\r\n';
    assert.equal(await first.until((g) => g.length > 0), err);
    assert.equal(await second.until((g) => g.length > 0), err);
    assert.equal(infoField((await c.info('server')) as string, 'shutdown_in_milliseconds'), undefined);
    assert.equal(await c.ping(), 'PONG');
    for (const r of [fake, first, second]) r.close();
    await master.stop();
  });
});

describe('SHUTDOWN while the first AOF is being written', () => {
  after(stopAll);

  it('refuses to exit (the dataset would be lost) unless FORCE', async () => {
    const s = await startServer({ args: ['--rdb-key-save-delay', '1000000'] });
    const c = s.client();
    await c.mset('a', '1', 'b', '2', 'c', '3');
    assert.equal(await c.call('CONFIG', 'SET', 'appendonly', 'yes'), 'OK');
    await waitFor('AOF rewrite started', async () => infoField((await c.info('persistence')) as string, 'aof_rewrite_in_progress') === '1');
    await assert.rejects(c.call('SHUTDOWN'), /ERR Errors trying to SHUTDOWN\. Check logs\./);
    await s.waitForLog("Writing initial AOF, can't exit.");
    assert.equal(await c.ping(), 'PONG');
    await c.call('SHUTDOWN', 'NOSAVE', 'FORCE').catch(() => {});
    await s.waitForLog('Writing initial AOF. Exit anyway.');
    await s.waitForLog('ready to exit, bye bye');
  });
});

describe('crash reports', () => {
  after(stopAll);

  const exited = (s: RunningServer): Promise<NodeJS.Signals | null> =>
    new Promise((resolve) => {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) resolve(s.proc.signalCode);
      else s.proc.once('exit', (_code, signal) => resolve(signal));
    });

  it('a fatal signal logs the bug report and the process dies by that signal', async () => {
    const s = await startServer();
    const gone = exited(s);
    s.proc.kill('SIGABRT');
    assert.equal(await gone, 'SIGABRT');
    await s.waitForLog('REDIS BUG REPORT END');
    const log = s.output();
    assert.match(log, /=== REDIS BUG REPORT START: Cut & paste starting from here ===/);
    assert.match(log, /# nodis \d+\.\d+\.\d+ \(Redis 7\.0\.15 compatible\) crashed by signal: 6, si_code: 0/);
    assert.match(log, /------ INFO OUTPUT ------\n# Server\r\nredis_version:7\.0\.15/);
    assert.match(log, /=== REDIS BUG REPORT END\. Make sure to include from START to END\. ===/);
  });

  it('DEBUG SEGFAULT reports the current client and dies by SIGSEGV', async () => {
    const s = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const gone = exited(s);
    await s.client().call('DEBUG', 'SEGFAULT').catch(() => {});
    assert.equal(await gone, 'SIGSEGV');
    await s.waitForLog('REDIS BUG REPORT END');
    const log = s.output();
    assert.match(log, /crashed by signal: 11/);
    assert.match(log, /------ CURRENT CLIENT INFO ------\nid=\d+ .* cmd=debug /);
    assert.match(log, /argv\[1\]: '"SEGFAULT"'/);
  });

  it('DEBUG PANIC logs a Guru Meditation and aborts', async () => {
    const s = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const gone = exited(s);
    await s.client().call('DEBUG', 'PANIC').catch(() => {});
    assert.equal(await gone, 'SIGABRT');
    await s.waitForLog('REDIS BUG REPORT END');
    assert.match(s.output(), /# Guru Meditation: DEBUG PANIC called at Unix time \d+ #[\w-]+\.js:\d+/);
    assert.doesNotMatch(s.output(), /crashed by signal/);
  });
});
