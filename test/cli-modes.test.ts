/**
 * nodis-cli's bulk, replication, measuring and cluster options side by side with redis-cli
 * 7.0.15: the same invocation against the same server must print the same bytes wherever
 * redis-cli's output is deterministic (--pipe, --rdb, --functions-rdb, --replica, -c, the REPL's
 * argument hints); for the measuring modes (--intrinsic-latency, --latency-dist, --lru-test)
 * the fixed text must be equal and the numbers must have redis-cli's layout.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { NODIS_CLI, REDIS_CLI, runCli, tempHome, TmuxSession, type CliResult } from './cli-harness.js';
import { waitFor } from './helpers/sentinel-cluster.js';

after(stopAll);

const BINS = [REDIS_CLI, NODIS_CLI] as const;
const show = (r: CliResult): string => `code=${r.code}\nstdout:\n${r.stdout.toString('latin1')}\nstderr:\n${r.stderr.toString('latin1')}`;

/** Mass-insertion input: RESP for n SETs, one INCR on a non-number (an error), one more SET. */
function pipeInput(n: number): Buffer {
  const cmd = (...a: string[]): string => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`;
  let s = '';
  for (let i = 0; i < n; i++) s += cmd('SET', `key:${i}`, `value:${i}`);
  s += cmd('INCR', 'key:1') + cmd('SET', 'last', 'one');
  return Buffer.from(s, 'latin1');
}

describe('nodis-cli --pipe', () => {
  it('prints what redis-cli prints (summary, errors, exit code) against redis-server and nodis-server', async () => {
    const servers = [await startServer({ bin: '/usr/bin/redis-server' }), await startServer()];
    const input = pipeInput(5000);
    for (const server of servers) {
      const results: string[] = [];
      for (const bin of BINS) {
        await server.client().flushall();
        const r = await runCli(bin, ['-p', String(server.port), '--pipe'], { stdin: input, timeoutMs: 60000 });
        results.push(`${show(r)}\ndbsize=${await server.client().dbsize()}`);
      }
      assert.equal(results[1], results[0]);
      assert.match(results[0]!, /^code=1\nstdout:\nAll data transferred\. Waiting for the last reply\.\.\.\nLast reply received from server\.\nerrors: 1, replies: 5002\n\nstderr:\nERR value is not an integer or out of range\n\ndbsize=5001$/);
    }
    // Nothing to send at all, and no server to send it to.
    const empty = await Promise.all(BINS.map((b) => runCli(b, ['-p', String(servers[0]!.port), '--pipe'], { stdin: '' })));
    assert.equal(show(empty[1]!), show(empty[0]!));
    const port = await freePort();
    const refused = await Promise.all(BINS.map((b) => runCli(b, ['-p', String(port), '--pipe'], { stdin: 'PING\r\n' })));
    assert.equal(show(refused[1]!), show(refused[0]!));
  });
});

/**
 * The RDB bytes with the values of the aux fields that differ from one dump to the next
 * (creation time, memory in use) and the trailing checksum blanked.
 */
function withoutCtime(b: Buffer): Buffer {
  const c = Buffer.from(b);
  for (const field of ['ctime', 'used-mem']) {
    const at = c.indexOf(`\xfa${String.fromCharCode(field.length)}${field}`, 0, 'latin1');
    if (at < 0) continue;
    const v = at + 2 + field.length;
    // An integer-encoded value (0xC0/0xC1/0xC2: 1, 2 or 4 bytes), else a short string.
    const len = (c[v]! & 0xc0) === 0xc0 ? [1, 2, 4][c[v]! & 0x3f]! : c[v]! & 0x3f;
    c.fill(0, v + 1, v + 1 + len);
  }
  c.fill(0, c.length - 8);
  return c;
}

describe('nodis-cli --rdb / --functions-rdb', () => {
  let dir: string;
  let redis: RunningServer;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cli-rdb-'));
    redis = await startServer({ bin: '/usr/bin/redis-server', args: ['--repl-diskless-sync-delay', '0'] });
    const c = redis.client();
    for (let i = 0; i < 200; i++) await c.set(`k${i}`, `v${i}`);
    await c.call('FUNCTION', 'LOAD', "#!lua name=mylib\nredis.register_function('f1', function() return 1 end)");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [option, name] of [['--rdb', 'dump'], ['--functions-rdb', 'functions']] as const) {
    it(`${option} writes the same file and prints the same lines as redis-cli`, async () => {
      const got: { r: CliResult; file: Buffer }[] = [];
      for (const bin of BINS) {
        const file = path.join(dir, `${name}-${path.basename(bin)}.rdb`);
        const r = await runCli(bin, ['-p', String(redis.port), option, file]);
        // The file name is part of the output; make it the same for the comparison.
        r.stderr = Buffer.from(r.stderr.toString('latin1').replaceAll(file, 'FILE'), 'latin1');
        got.push({ r, file: fs.readFileSync(file) });
      }
      assert.equal(show(got[1]!.r), show(got[0]!.r));
      assert.ok(withoutCtime(got[1]!.file).equals(withoutCtime(got[0]!.file)), 'same RDB bytes');
      assert.equal(got[0]!.file.subarray(0, 5).toString(), 'REDIS');
      if (option === '--functions-rdb') assert.ok(!got[1]!.file.includes('k199'), 'functions only, no keys');
      else assert.ok(got[1]!.file.includes('k199'));
    });
  }

  it('--rdb to stdout ("-"), and the two options together, as redis-cli', async () => {
    const toStdout = await Promise.all(BINS.map((b) => runCli(b, ['-p', String(redis.port), '--rdb', '-'])));
    assert.equal(toStdout[1]!.stderr.toString(), toStdout[0]!.stderr.toString());
    // On stdout the EOF mark (40 random bytes) stays at the end, as redis-cli leaves it.
    const [a, b] = [toStdout[0]!.stdout, toStdout[1]!.stdout];
    assert.equal(b.length, a.length);
    assert.ok(withoutCtime(b.subarray(0, -40)).equals(withoutCtime(a.subarray(0, -40))));
    const both = await Promise.all(BINS.map((b) => runCli(b, ['-p', String(redis.port), '--rdb', 'a', '--functions-rdb', 'b'])));
    assert.equal(show(both[1]!), show(both[0]!));
  });
});

describe('nodis-cli --replica', () => {
  it('shows the master\'s stream as redis-cli does', async () => {
    // No PINGs from the master in the middle of the stream (they come every 10 s by default).
    const server = await startServer({ bin: '/usr/bin/redis-server', args: ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '3600'] });
    const outs: string[] = [];
    for (const bin of BINS) {
      const p = spawn(bin, ['-p', String(server.port), '--replica'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
      try {
        await waitFor('sync done', async () => stderr.includes('Logging commands from master.'), 20000);
        // The replica is online once the master has its first ACK (a second after the transfer).
        await waitFor('replica online', async () => (await server.client().info('replication')).includes('state=online'), 20000);
        const c = server.client();
        await c.set('a', '1');
        await c.rpush('list', 'x', 'y');
        await c.incr('a');
        await waitFor('stream shown', async () => stdout.includes('"incr","a"'), 20000);
      } finally {
        p.kill('SIGKILL');
      }
      outs.push(`stdout:\n${stdout}\nstderr:\n${stderr}`);
    }
    assert.equal(outs[1], outs[0]);
    assert.match(outs[0]!, /"set","a","1"\n"rpush","list","x","y"\n"incr","a"\n/);
  });
});

/** Three redis-server processes with cluster-enabled, joined by `redis-cli --cluster create`. */
async function startCluster(): Promise<{ ports: number[]; dir: string; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cli-cluster-'));
  const servers: RunningServer[] = [];
  for (let i = 0; i < 3; i++) {
    const d = path.join(dir, String(i));
    fs.mkdirSync(d);
    // The bus port is a free port of its own (the default, port + 10000, may be taken).
    const bus = String(await freePort());
    servers.push(await startServer({ bin: '/usr/bin/redis-server', args: ['--cluster-enabled', 'yes', '--cluster-port', bus, '--cluster-config-file', path.join(d, 'nodes.conf'), '--dir', d] }));
  }
  const ports = servers.map((s) => s.port);
  const create = spawnSync(REDIS_CLI, ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'], { encoding: 'latin1' });
  if (create.status !== 0) throw new Error(`cluster create failed:\n${create.stdout}\n${create.stderr}`);
  for (const s of servers) await waitFor('cluster_state:ok', async () => ((await s.client().call('CLUSTER', 'INFO')) as string).includes('cluster_state:ok'));
  return {
    ports,
    dir,
    stop: async () => {
      for (const s of servers) await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('nodis-cli -c against a Redis Cluster of three redis-servers', () => {
  it('follows MOVED and ASK redirections as redis-cli does', async () => {
    const cluster = await startCluster();
    try {
      const [p0, p1] = cluster.ports.map(String);
      // Keys spread over the three nodes, from the first node.
      const oneShots = [['-c', '-p', p0!, 'set', 'foo', 'bar'], ['-c', '-p', p0!, 'get', 'foo'], ['-p', p0!, 'get', 'foo'], ['-c', '-p', p0!, 'mget', 'foo', 'nokey']];
      for (const args of oneShots) {
        const rs = await Promise.all(BINS.map((b) => runCli(b, args)));
        assert.equal(show(rs[1]!), show(rs[0]!), args.join(' '));
      }
      const session = 'set a 1\nget a\nset b 2\nincr a\nget foo\nset c 3\nget c\n';
      const repls = await Promise.all(BINS.map((b) => runCli(b, ['-c', '-p', p0!], { stdin: session })));
      assert.equal(show(repls[1]!), show(repls[0]!));
      assert.match(repls[1]!.stdout.toString(), /-> Redirected to slot \[\d+\] located at 127\.0\.0\.1:\d+/);

      // ASK: slot of "askme" is migrating from its owner to another node; the key is not on the
      // owner, so the owner answers -ASK and the command goes to the importing node after ASKING.
      const slot = Number(spawnSync(REDIS_CLI, ['-p', p0!, 'cluster', 'keyslot', 'askme'], { encoding: 'latin1' }).stdout.trim());
      const owner = Number(/MOVED \d+ 127\.0\.0\.1:(\d+)/.exec(spawnSync(REDIS_CLI, ['-p', p0!, 'get', 'askme'], { encoding: 'latin1' }).stdout)?.[1] ?? p0);
      const target = cluster.ports.find((p) => p !== owner)!;
      const id = (port: number): string => spawnSync(REDIS_CLI, ['-p', String(port), 'cluster', 'myid'], { encoding: 'latin1' }).stdout.trim();
      spawnSync(REDIS_CLI, ['-p', String(target), 'cluster', 'setslot', String(slot), 'importing', id(owner)]);
      spawnSync(REDIS_CLI, ['-p', String(owner), 'cluster', 'setslot', String(slot), 'migrating', id(target)]);
      for (const args of [['-c', '-p', String(owner), 'set', 'askme', 'v'], ['-p', String(owner), 'get', 'askme'], ['-c', '-p', p1!, 'get', 'askme']]) {
        const rs: CliResult[] = [];
        for (const b of BINS) {
          spawnSync(REDIS_CLI, ['-p', String(target), 'asking'], { encoding: 'latin1' });
          rs.push(await runCli(b, args));
        }
        assert.equal(show(rs[1]!), show(rs[0]!), args.join(' '));
      }
      const asked = await Promise.all(BINS.map((b) => runCli(b, ['-c', '-p', String(owner)], { stdin: 'set askme w\nget askme\n' })));
      assert.equal(show(asked[1]!), show(asked[0]!));
      assert.match(asked[1]!.stdout.toString(), new RegExp(`-> Redirected to slot \\[${slot}\\] located at 127\\.0\\.0\\.1:${target}\nOK\n`));
    } finally {
      await cluster.stop();
    }
  });
});

describe('nodis-cli REPL argument hints', () => {
  it('shows the same hints as redis-cli while a command is typed', async () => {
    const server = await startServer();
    const steps: [string, string[]][] = [
      ['set ', []],
      ['k', []],
      [' v ', []],
      ['', ['BSpace', 'BSpace', 'BSpace']],
      ['x', ['C-u']],
      ['', ['C-u']],
      ['client kill ', []],
      ['', ['C-u']],
      ['config get', []],
      ['', ['C-u']],
      ['zadd z nx 1 m ', []],
      ['', ['Enter']],
      [':set nohints', ['Enter']],
      ['set ', []],
    ];
    const screens: string[][] = [];
    for (const bin of BINS) {
      const home = tempHome();
      await server.client().flushall();
      const t = TmuxSession.start([bin, '-p', String(server.port)], { HOME: home, TERM: 'xterm' }, 100, 30);
      try {
        await t.waitFor((s) => s.endsWith('>'), 'prompt');
        const seen: string[] = [];
        for (const [i, [text, keys]] of steps.entries()) {
          if (text !== '') spawnSync('tmux', ['send-keys', '-t', t.name, '-l', text]);
          if (keys.length > 0) t.keys(...keys);
          if (screens.length === 0) {
            // redis-cli: wait until the screen stops changing.
            let last = '';
            await t.waitFor((s) => {
              const same = s === last;
              last = s;
              return same && s.length > 0;
            }, `step ${i}`);
            seen.push(t.screen());
          } else {
            const want = screens[0]![i]!;
            seen.push(await t.waitFor((s) => s === want, `step ${i} like redis-cli`).catch(() => t.screen()));
          }
        }
        screens.push(seen);
      } finally {
        t.kill();
        fs.rmSync(home, { recursive: true, force: true });
      }
    }
    assert.deepEqual(screens[1], screens[0]);
    assert.match(screens[0]![0]!, /> set key value \[NX\|XX\] \[GET\]/);
  });
});

describe('nodis-cli measuring modes', () => {
  it('--intrinsic-latency prints redis-cli\'s report', async () => {
    const shape = /^(Max latency so far: \d+ microseconds\.\n)+\n\d+ total runs \(avg latency: \d+\.\d{4} microseconds \/ \d+\.\d{2} nanoseconds per run\)\.\nWorst run took \d+x longer than the average latency\.\n$/;
    for (const bin of BINS) {
      const r = await runCli(bin, ['--intrinsic-latency', '1'], { timeoutMs: 20000 });
      assert.equal(r.code, 0);
      assert.match(r.stdout.toString(), shape, bin);
    }
  });

  it('--latency-dist draws the same legend and spectrum lines', async () => {
    const server = await startServer();
    const outs: string[] = [];
    for (const bin of BINS) {
      for (const mono of [[], ['--mono']]) {
        const r = await runCli(bin, ['-p', String(server.port), '--latency-dist', '-i', '0.3', ...mono], { until: /\x1b\[38;5;0m.*\x1b\[0m\n/s, timeoutMs: 20000 });
        outs.push(r.stdout.toString('latin1'));
      }
    }
    const legend = (s: string): string => s.slice(0, s.lastIndexOf('---------------------------------------------\n') + 46);
    assert.equal(legend(outs[2]!), legend(outs[0]!));
    assert.equal(legend(outs[3]!), legend(outs[1]!));
    assert.notEqual(legend(outs[0]!), legend(outs[1]!), 'colour and mono palettes differ');
    const line = /\x1b\[38;5;0m(\x1b\[48;5;\d+m[.\-*#1-9A-Q?]){31}\x1b\[0m\n$/;
    for (const o of outs) assert.match(o.slice(legend(o).length), line);
  });

  it('--lru-test prints redis-cli\'s statistics line', async () => {
    const server = await startServer();
    for (const bin of BINS) {
      // redis-cli does not flush this line on a pipe: make its stdout line-buffered.
      const [cmd, pre] = bin === REDIS_CLI ? ['stdbuf', ['-oL', bin]] : [bin, []];
      const r = await runCli(cmd, [...pre, '-p', String(server.port), '--lru-test', '1000'], { until: 'Gets/sec', timeoutMs: 20000 });
      assert.match(r.stdout.toString(), /^\d+ Gets\/sec \| Hits: \d+ \(\d+\.\d{2}%\) \| Misses: \d+ \(\d+\.\d{2}%\)\n/, bin);
    }
    assert.ok((await server.client().dbsize()) > 100, 'the test wrote lru:* keys');
  });
});
