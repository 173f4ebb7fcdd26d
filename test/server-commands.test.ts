import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';
import { compareServers } from './helpers/differential.js';

function infoField(info: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:(.*)\r?$`, 'm').exec(info);
  return m === null ? undefined : m[1]!.replace(/\r$/, '');
}

function cli(port: number, ...args: string[]): string {
  return execFileSync('/usr/bin/redis-cli', ['-p', String(port), ...args], { encoding: 'latin1' });
}

describe('server commands', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ args: ['--enable-debug-command', 'yes'] });
  });
  after(stopAll);

  it('FLUSHALL / FLUSHDB / DBSIZE', async () => {
    const c = s.client();
    await c.flushall();
    await c.set('a', '1');
    await c.set('b', '2');
    await c.select(1);
    await c.set('c', '3');
    assert.equal(await c.dbsize(), 1);
    assert.equal(await c.call('flushdb', 'async'), 'OK');
    assert.equal(await c.dbsize(), 0);
    await c.select(0);
    assert.equal(await c.dbsize(), 2);
    await assert.rejects(c.call('flushall', 'foo'), /^ReplyError: ERR syntax error$/);
    await assert.rejects(c.call('flushdb', 'sync', 'x'), /ERR syntax error/);
    assert.equal(await c.call('flushall', 'SYNC'), 'OK');
    assert.equal(await c.dbsize(), 0);
  });

  it('FLUSHALL adds the removed keys to rdb_changes_since_last_save', async () => {
    const c = s.client();
    await c.flushall();
    const before = Number(infoField(await c.info('persistence'), 'rdb_changes_since_last_save'));
    await c.set('x', '1');
    await c.set('y', '2');
    await c.set('z', '3');
    await c.flushall();
    const after = Number(infoField(await c.info('persistence'), 'rdb_changes_since_last_save'));
    // Three SETs, then FLUSHALL adds the number of keys it removed.
    assert.equal(after - before, 3 + 3);
  });

  it('TIME, LASTSAVE, ROLE', async () => {
    const c = s.client();
    const [secs, usecs] = (await c.call('time')) as [string, string];
    assert.ok(Math.abs(Number(secs) - Date.now() / 1000) < 5);
    assert.ok(Number(usecs) >= 0 && Number(usecs) < 1e6);
    const last = (await c.call('lastsave')) as number;
    assert.ok(last <= Date.now() / 1000 + 1 && last > Date.now() / 1000 - 3600);
    assert.deepEqual(await c.call('role'), ['master', 0, []]);
  });

  it('INFO has Redis 7.0 sections and fields in order', async () => {
    const c = s.client();
    const info = (await c.info()) as string;
    const titles = [...info.matchAll(/^# (\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(titles, ['Server', 'Clients', 'Memory', 'Persistence', 'Stats', 'Replication', 'CPU', 'Modules', 'Errorstats', 'Cluster', 'Keyspace']);
    assert.equal(infoField(info, 'redis_version'), '7.0.15');
    assert.match(infoField(info, 'nodis_version')!, /^\d+\.\d+\.\d+/);
    assert.equal(infoField(info, 'role'), 'master');
    assert.match(infoField(info, 'master_replid')!, /^[0-9a-f]{40}$/);
    assert.equal(infoField(info, 'master_replid2'), '0'.repeat(40));
    assert.equal(infoField(info, 'second_repl_offset'), '-1');
    assert.equal(infoField(info, 'repl_backlog_size'), '1048576');
    assert.match(infoField(info, 'used_memory_human')!, /^\d+(\.\d\d[KMGTP])?B?$/);
    assert.equal(infoField(info, 'loading'), '0');
    assert.equal(infoField(info, 'aof_enabled'), '0');
    assert.equal(infoField(info, 'cluster_enabled'), '0');
    assert.ok(!info.includes('cmdstat_'));
    // Field order in the server section, as genRedisInfoString prints it.
    const serverFields = info.split('\r\n\r\n')[0]!.split('\r\n').slice(1).map((l) => l.split(':')[0]);
    assert.deepEqual(serverFields.slice(0, 6), ['redis_version', 'redis_git_sha1', 'redis_git_dirty', 'redis_build_id', 'redis_mode', 'os']);
  });

  it('INFO with several sections, all, everything, and case-insensitive names', async () => {
    const c = s.client();
    const cpuOnly = (await c.call('info', 'CPU')) as string;
    assert.match(cpuOnly, /^# CPU\r\nused_cpu_sys:\d+\.\d{6}\r\n/);
    assert.ok(!cpuOnly.includes('used_memory'));
    const two = (await c.call('info', 'cpu', 'keyspace')) as string;
    assert.match(two, /# CPU[\s\S]*# Keyspace/);
    const all = (await c.call('info', 'all')) as string;
    assert.ok(all.includes('rejected_calls'));
    assert.ok(all.includes('# Latencystats'));
    const cpuAll = (await c.call('info', 'cpu', 'all')) as string;
    assert.equal(cpuAll.split('used_cpu_user_children').length, 2);
    const cmdstats = (await c.call('info', 'commandSTATS')) as string;
    assert.match(cmdstats, /cmdstat_info:calls=\d+,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0/);
  });

  it('INFO keyspace, commandstats for subcommands, errorstats', async () => {
    const c = s.client();
    await c.flushall();
    await c.set('k1', 'v');
    await c.set('k2', 'v', 'EX', 100);
    assert.match((await c.info('keyspace')) as string, /db0:keys=2,expires=1,avg_ttl=\d+/);
    await c.call('slowlog', 'len');
    assert.match((await c.info('commandstats')) as string, /cmdstat_slowlog\|len:calls=1,/);
    await assert.rejects(c.call('nosuchcommand'));
    assert.match((await c.info('errorstats')) as string, /errorstat_ERR:count=\d+/);
  });

  it('INFO is a verbatim string in RESP3', async () => {
    const r = await rawExchange(s.port, '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n', (g) => /=\d+\r\ntxt:# CPU[\s\S]*\r\n$/.test(g) && g.includes('used_cpu_user_main_thread'));
    assert.match(r, /=\d+\r\ntxt:# CPU\r\n/);
  });

  it('SLOWLOG GET / LEN / RESET / HELP', async () => {
    const c = s.client();
    await c.config('SET', 'slowlog-log-slower-than', '0').catch(() => undefined);
    await c.call('slowlog', 'reset');
    await c.call('hello', '2', 'setname', 'slowpoke');
    await c.set('foo', 'bar');
    const entries = (await c.call('slowlog', 'get', '-1')) as unknown[][];
    const setEntry = entries.find((e) => (e[3] as string[])[0] === 'set');
    if (setEntry !== undefined) {
      assert.equal(setEntry.length, 6);
      assert.deepEqual(setEntry[3], ['set', 'foo', 'bar']);
      assert.match(setEntry[4] as string, /^127\.0\.0\.1:\d+$/);
      assert.equal(setEntry[5], 'slowpoke');
    }
    assert.ok(((await c.call('slowlog', 'len')) as number) >= 0);
    await assert.rejects(c.call('slowlog', 'get', '-2'), /ERR count should be greater than or equal to -1/);
    const help = (await c.call('slowlog', 'help')) as string[];
    assert.equal(help[0], 'SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    assert.equal(help[help.length - 1], '    Prints this help.');
    assert.equal(await c.call('slowlog', 'reset'), 'OK');
    await c.config('SET', 'slowlog-log-slower-than', '10000').catch(() => undefined);
  });

  it('LATENCY records command events over the threshold and reports histograms', async () => {
    const c = s.client();
    assert.match((await c.call('latency', 'doctor')) as string, /Dave/);
    await c.call('debug', 'sleep', '0.02');
    const hist = (await c.call('latency', 'histogram', 'debug')) as unknown[];
    assert.equal(hist[0], 'debug');
    const details = hist[1] as unknown[];
    assert.equal(details[0], 'calls');
    assert.ok((details[1] as number) >= 1);
    assert.equal(details[2], 'histogram_usec');
    assert.deepEqual(await c.call('latency', 'histogram', 'nosuchcmd'), []);
    assert.deepEqual(await c.call('latency', 'history', 'command'), []);
    await assert.rejects(c.call('latency', 'graph', 'command'), /ERR No samples available for event 'command'/);
    assert.equal(await c.call('latency', 'reset'), 0);
    assert.match((await c.info('latencystats')) as string, /latency_percentiles_usec_debug:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}/);
  });

  it('LATENCY HISTOGRAM counts each call of a command and of a subcommand; CONFIG RESETSTAT drops them', async () => {
    const c = s.client();
    const calls = async (name: string): Promise<number | undefined> => {
      const h = (await c.call('latency', 'histogram', name)) as unknown[];
      return h.length === 0 ? undefined : ((h[1] as unknown[])[1] as number);
    };
    assert.equal(await c.call('config', 'resetstat'), 'OK');
    for (let i = 0; i < 3; i++) await c.call('echo', 'x');
    await c.call('config', 'get', 'maxmemory');
    await c.call('config', 'get', 'hz');
    assert.equal(await calls('echo'), 3);
    assert.equal(await calls('config|get'), 2);
    assert.equal(await c.call('config', 'resetstat'), 'OK');
    assert.equal(await calls('echo'), undefined);
    assert.equal(await calls('config|get'), undefined);
    await c.call('echo', 'y');
    assert.equal(await calls('echo'), 1);
    assert.doesNotMatch((await c.info('latencystats')) as string, /latency_percentiles_usec_config\|get/);
  });

  it('LATENCY LATEST / HISTORY / GRAPH with latency-monitor-threshold', async (t) => {
    const c = s.client();
    assert.equal(await c.config('SET', 'latency-monitor-threshold', '10'), 'OK');
    await c.call('debug', 'sleep', '0.02');
    const latest = (await c.call('latency', 'latest')) as unknown[][];
    const cmd = latest.find((e) => e[0] === 'command')!;
    assert.ok(cmd !== undefined);
    assert.ok((cmd[2] as number) >= 20 && (cmd[3] as number) >= 20);
    const history = (await c.call('latency', 'history', 'command')) as number[][];
    assert.equal(history.length, 1);
    const graph = (await c.call('latency', 'graph', 'command')) as string;
    assert.match(graph, /^command - high \d+ ms, low \d+ ms \(all time high \d+ ms\)\n-{80}\n/);
    assert.equal(await c.call('latency', 'reset', 'command'), 1);
    await c.config('SET', 'latency-monitor-threshold', '0');
  });

  it('MONITOR streams commands to the monitoring client', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const m = s.client();
      let got = '';
      m.monitor((err, monitor) => {
        if (err || monitor === undefined) return reject(err);
        monitor.on('monitor', (_time: string, args: string[]) => {
          got += args.join(' ') + '\n';
          if (got.includes('set monkey banana')) {
            void monitor.disconnect();
            resolve(got);
          }
        });
        void s.client().set('monkey', 'banana');
      });
    });
    assert.match(r, /set monkey banana/);
  });

  it('MONITOR output format on the wire', async () => {
    const raw = await new Promise<string>((resolve) => {
      let started = false;
      void rawExchange(s.port, 'MONITOR\r\n', (g) => {
        if (!started && g.startsWith('+OK\r\n')) {
          started = true;
          void s.client().call('echo', 'a"b\n');
        }
        return /\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "echo" "a\\"b\\n"\r\n/.test(g);
      }).then(resolve);
    });
    assert.match(raw, /^\+OK\r\n(\+\d+\.\d{6} \[0 [^\]]+\] .*\r\n)*\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "echo" "a\\"b\\n"\r\n/);
  });

  it('OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP', async () => {
    const c = s.client();
    await c.set('int', '12');
    await c.set('emb', 'hello');
    await c.set('raw', 'x'.repeat(100));
    assert.equal(await c.call('object', 'encoding', 'int'), 'int');
    assert.equal(await c.call('object', 'encoding', 'emb'), 'embstr');
    assert.equal(await c.call('object', 'encoding', 'raw'), 'raw');
    assert.equal(await c.call('object', 'encoding', 'missing'), null);
    assert.equal(await c.call('object', 'refcount', 'int'), 2147483647);
    assert.equal(await c.call('object', 'refcount', 'emb'), 1);
    assert.equal(typeof (await c.call('object', 'idletime', 'emb')), 'number');
    await assert.rejects(c.call('object', 'freq', 'emb'), /ERR An LFU maxmemory policy is not selected, access frequency not tracked/);
    await assert.rejects(c.call('object', 'nope', 'emb'), /ERR unknown subcommand 'nope'. Try OBJECT HELP./);
    const help = (await c.call('object', 'help')) as string[];
    assert.equal(help[1], 'ENCODING <key>');
  });

  it('MEMORY USAGE / STATS / DOCTOR / HELP', async () => {
    const c = s.client();
    await c.set('mem', 'x'.repeat(1000));
    const small = (await c.call('memory', 'usage', 'emb')) as number;
    const big = (await c.call('memory', 'usage', 'mem')) as number;
    assert.ok(big > 1000 && small < big);
    assert.equal(await c.call('memory', 'usage', 'missing'), null);
    await assert.rejects(c.call('memory', 'usage', 'mem', 'samples', '-1'), /ERR syntax error/);
    const stats = (await c.call('memory', 'stats')) as unknown[];
    assert.equal(stats[0], 'peak.allocated');
    assert.ok(stats.includes('keys.count'));
    assert.ok(stats.includes('db.0'));
    assert.match((await c.call('memory', 'doctor')) as string, /^Hi Sam/);
  });

  it('DEBUG: PROTOCOL in RESP2, OBJECT, DIGEST, DIGEST-VALUE, SET-ACTIVE-EXPIRE, POPULATE', async () => {
    const c = s.client();
    assert.equal(await c.call('debug', 'protocol', 'string'), 'Hello World');
    assert.equal(await c.call('debug', 'protocol', 'integer'), 12345);
    assert.equal(await c.call('debug', 'protocol', 'double'), '3.141');
    assert.equal(await c.call('debug', 'protocol', 'bignum'), '1234567999999999999999999999999999999');
    assert.equal(await c.call('debug', 'protocol', 'true'), 1);
    assert.deepEqual(await c.call('debug', 'protocol', 'map'), [0, 0, 1, 1, 2, 0]);
    await assert.rejects(c.call('debug', 'protocol', 'push'), /RESP2 is not supported/);
    await assert.rejects(c.call('debug', 'protocol', 'xyz'), /Wrong protocol type name/);
    await c.set('dbg', 'hello');
    assert.match((await c.call('debug', 'object', 'dbg')) as string, /^Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:6 lru:\d+ lru_seconds_idle:\d+$/);
    await assert.rejects(c.call('debug', 'object', 'nokey'), /ERR no such key/);
    await c.flushall();
    assert.equal(await c.call('debug', 'digest'), '0'.repeat(40));
    await c.set('a', '1');
    await c.set('b', '2');
    const d1 = await c.call('debug', 'digest');
    await c.flushall();
    await c.set('b', '2');
    await c.set('a', '1');
    assert.equal(await c.call('debug', 'digest'), d1);
    await c.set('a', '3');
    assert.notEqual(await c.call('debug', 'digest'), d1);
    const [va, vmissing] = (await c.call('debug', 'digest-value', 'a', 'missing')) as string[];
    assert.match(va!, /^[0-9a-f]{40}$/);
    assert.equal(vmissing, '0'.repeat(40));
    assert.equal(await c.call('debug', 'set-active-expire', '0'), 'OK');
    assert.equal(await c.call('debug', 'set-active-expire', '1'), 'OK');
    await c.flushall();
    assert.equal(await c.call('debug', 'populate', '100', 'p', '10'), 'OK');
    assert.equal(await c.dbsize(), 100);
    assert.equal(await c.get('p:7'), 'value:7\0\0\0');
    await assert.rejects(c.call('debug', 'nonsense'), /ERR unknown subcommand or wrong number of arguments for 'nonsense'. Try DEBUG HELP./);
  });

  it('DEBUG PROTOCOL in RESP3 (raw)', async () => {
    const hello = '*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n';
    const dbg = (t: string): string => `*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$${t.length}\r\n${t}\r\n`;
    const r = await rawExchange(s.port, hello + dbg('double') + dbg('attrib') + dbg('push') + dbg('verbatim') + dbg('false'), (g) => g.endsWith('#f\r\n'));
    assert.ok(r.includes(',3.141\r\n'));
    assert.ok(r.includes('|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n'));
    assert.ok(r.includes('>2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n'));
    assert.ok(r.includes('=29\r\ntxt:This is a verbatim\nstring\r\n'));
  });

  it('redis-cli reads INFO and DEBUG SLEEP blocks the server', () => {
    const out = cli(s.port, 'info', 'server');
    assert.match(out, /^# Server\r?\nredis_version:7\.0\.15\r?\n/);
    const t0 = Date.now();
    assert.equal(cli(s.port, 'debug', 'sleep', '0.2').trim(), 'OK');
    assert.ok(Date.now() - t0 >= 200);
  });
});

describe('absent features answer as redis-server does', () => {
  after(stopAll);

  it('cluster commands, MODULE and the HELP of FUNCTION/SCRIPT match byte for byte', async () => {
    const n = await startServer();
    const r = await startServer({ bin: '/usr/bin/redis-server' });
    const cmds = [
      ['CLUSTER', 'INFO'], ['CLUSTER', 'KEYSLOT', 'foo'], ['CLUSTER', 'HELP'], ['CLUSTER', 'NOSUCH'], ['CLUSTER'],
      ['READONLY'], ['READWRITE'], ['ASKING'], ['READONLY', 'extra'],
      ['MODULE', 'LIST'], ['MODULE', 'LOAD', '/nonexistent/module.so'], ['MODULE', 'LOADEX', '/nonexistent/module.so'],
      ['MODULE', 'UNLOAD', 'nosuch'], ['MODULE', 'HELP'], ['MODULE', 'NOSUCH'], ['MODULE', 'LIST', 'extra'],
      ['FUNCTION', 'HELP'], ['SCRIPT', 'HELP'],
    ];
    assert.deepEqual(await compareServers(n.client(), r.client(), cmds), []);
    // With MODULE allowed, loading fails as a failed dlopen does, and nothing is there to unload.
    const allow = ['--enable-module-command', 'yes'];
    const n2 = await startServer({ args: allow });
    const r2 = await startServer({ bin: '/usr/bin/redis-server', args: allow });
    const moduleCmds = [['MODULE', 'LOAD', '/nonexistent/module.so'], ['MODULE', 'LOADEX', '/nonexistent/module.so'], ['MODULE', 'UNLOAD', 'nosuch'], ['MODULE', 'LIST']];
    assert.deepEqual(await compareServers(n2.client(), r2.client(), moduleCmds), []);
  });
});

describe('DEBUG refused by default', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('answers Redis\'s message when enable-debug-command is no', async () => {
    await assert.rejects(
      s.client().call('debug', 'help'),
      /ERR DEBUG command not allowed. If the enable-debug-command option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server./,
    );
  });

  it('SHUTDOWN rejects bad flag combinations and then exits', async () => {
    const c = s.client();
    await assert.rejects(c.call('shutdown', 'save', 'nosave'), /ERR syntax error/);
    await assert.rejects(c.call('shutdown', 'abort', 'now'), /ERR syntax error/);
    await assert.rejects(c.call('shutdown', 'abort'), /ERR No shutdown in progress./);
    const exited = new Promise<number | null>((r) => s.proc.once('exit', (code) => r(code)));
    await c.call('shutdown', 'nosave').catch(() => undefined);
    assert.equal(await exited, 0);
  });
});
