/**
 * ACL as Redis 7.0.15: deterministic replies (ACL LIST / GETUSER / DRYRUN / error texts) are
 * compared with the real redis-server on the same commands; enforcement (NOPERM at top level,
 * in MULTI/EXEC and in scripts), AUTH with ACL users, ACL LOG, DELUSER disconnecting clients,
 * requirepass mapping onto the default user, config `user` lines and ACL SAVE/LOAD.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import type { Redis } from 'ioredis';
import { runRaw } from './helpers/redis-compare.js';

const REDIS = '/usr/bin/redis-server';

async function attempt(c: Redis, ...args: (string | number)[]): Promise<unknown> {
  try {
    return await c.call(String(args[0]), ...args.slice(1).map(String));
  } catch (e) {
    return `ERR:${(e as Error).message}`;
  }
}

/** Scripts of commands whose replies must match real Redis byte for byte. */
const SCRIPT: string[][] = [
  ['acl', 'list'],
  ['acl', 'setuser', 'u1', 'on', '>pw', '~foo*', '%R~bar*', '%W~w*', '&chan*', '-@all', '+@string', '-set'],
  ['acl', 'getuser', 'u1'],
  ['acl', 'setuser', 'u2'],
  ['acl', 'setuser', 'u3', '+@all', '-@dangerous', 'allkeys', 'nopass', 'on'],
  ['acl', 'getuser', 'u3'],
  ['acl', 'setuser', 'u4', 'reset', '(~x* +get)', '(%R~y* +@read)'],
  ['acl', 'getuser', 'u4'],
  ['acl', 'list'],
  ['acl', 'users'],
  ['acl', 'setuser', 'bad', 'bogus'],
  ['acl', 'setuser', 'bad', '+nosuchcommand'],
  ['acl', 'setuser', 'bad', '~*', '~foo'],
  ['acl', 'setuser', 'bad', '&*', '&foo'],
  ['acl', 'setuser', 'bad', '(~x', '+get'],
  ['acl', 'setuser', 'bad', '#abc'],
  ['acl', 'setuser', 'bad', '<nope'],
  ['acl', 'setuser', 'bad', '+config|get|x'],
  ['acl', 'setuser', 'has space'],
  ['acl', 'dryrun', 'u1', 'get', 'foo1'],
  ['acl', 'dryrun', 'u1', 'get', 'zzz'],
  ['acl', 'dryrun', 'u1', 'set', 'foo', '1'],
  ['acl', 'dryrun', 'u1', 'append', 'bar1', 'x'],
  ['acl', 'dryrun', 'u1', 'append', 'w1', 'x'],
  ['acl', 'dryrun', 'u4', 'get', 'x1'],
  ['acl', 'dryrun', 'u4', 'get', 'y1'],
  ['acl', 'dryrun', 'nouser', 'get', 'x'],
  ['acl', 'dryrun', 'u1', 'nocommand'],
  ['acl', 'dryrun', 'u1', 'get'],
  ['acl', 'cat'],
  ['acl', 'cat', 'nosuchcat'],
  ['acl', 'genpass', '0'],
  ['acl', 'genpass', 'x'],
  ['acl', 'deluser', 'default'],
  ['acl', 'deluser', 'u2', 'nosuch'],
  ['acl', 'whoami'],
  ['acl', 'load'],
  ['acl', 'save'],
  ['acl', 'log', 'x'],
];

describe('ACL replies match redis-server', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startServer({ bin: REDIS, args: ['--save', ''] })]);
  });
  after(stopAll);

  it('gives the same replies for the script', async () => {
    const a = nodis.client();
    const b = redis.client();
    for (const cmd of SCRIPT) {
      assert.deepEqual(await attempt(a, ...cmd), await attempt(b, ...cmd), cmd.join(' '));
    }
  });

  it('GENPASS has the requested length', async () => {
    const a = nodis.client();
    assert.match(String(await a.call('acl', 'genpass')), /^[0-9a-f]{64}$/);
    assert.equal(String(await a.call('acl', 'genpass', '5')).length, 2);
  });
});

describe('ACL enforcement', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('refuses commands, keys and channels with NOPERM and logs them', async () => {
    const admin = s.client();
    await admin.call('acl', 'setuser', 'alice', 'on', '>pw', '~foo*', '&news', '+get', '+set', '+publish', '+multi', '+exec', '+eval');
    const c = s.client();
    assert.equal(await c.call('auth', 'alice', 'pw'), 'OK');
    assert.equal(await attempt(c, 'get', 'foo1'), null);
    assert.equal(await attempt(c, 'hset', 'foo1', 'a', 'b'), "ERR:NOPERM this user has no permissions to run the 'hset' command");
    assert.equal(await attempt(c, 'get', 'bar'), 'ERR:NOPERM this user has no permissions to access one of the keys used as arguments');
    assert.equal(await attempt(c, 'publish', 'other', 'x'), 'ERR:NOPERM this user has no permissions to access one of the channels used as arguments');
    assert.equal(await attempt(c, 'publish', 'news', 'x'), 0);
    assert.match(
      String(await attempt(c, 'eval', "return redis.call('set','bar','1')", '0')),
      /^ERR:ERR The user executing the script can't access at least one of the keys mentioned in the command arguments script: \w+, on @user_script:1\.$/,
    );
    const log = (await admin.call('acl', 'log', '100')) as unknown[][];
    const first = log[0]!;
    assert.deepEqual(first.slice(0, 10), ['count', 1, 'reason', 'key', 'context', 'lua', 'object', 'bar', 'username', 'alice']);
    assert.equal(await admin.call('acl', 'log', 'reset'), 'OK');
  });

  it('re-checks queued commands at EXEC', async () => {
    const admin = s.client();
    await admin.call('acl', 'setuser', 'bob', 'on', 'nopass', '~*', '+multi', '+exec', '+set');
    const c = s.client();
    await c.call('auth', 'bob', 'x');
    await c.call('multi');
    await c.call('set', 'k', 'v');
    await admin.call('acl', 'setuser', 'bob', '-set');
    const res = (await c.call('exec')) as unknown[];
    assert.match(String(res[0]), /ACLs rules changed between the moment the transaction was accumulated and the EXEC call.*no permission to execute the command or subcommand/);
  });

  it('WRONGPASS for wrong passwords and disabled users; DELUSER disconnects', async () => {
    const admin = s.client();
    await admin.call('acl', 'setuser', 'carol', 'on', '>secret', '+@all', '~*');
    const c = s.client();
    assert.equal(await attempt(c, 'auth', 'carol', 'nope'), 'ERR:WRONGPASS invalid username-password pair or user is disabled.');
    await admin.call('acl', 'setuser', 'carol', 'off');
    assert.equal(await attempt(c, 'auth', 'carol', 'secret'), 'ERR:WRONGPASS invalid username-password pair or user is disabled.');
    await admin.call('acl', 'setuser', 'carol', 'on');
    const d = s.client({ lazyConnect: true, retryStrategy: () => null });
    await d.connect();
    assert.equal(await d.call('auth', 'carol', 'secret'), 'OK');
    assert.equal(await d.call('acl', 'whoami'), 'carol');
    const closed = new Promise<void>((resolve) => d.once('end', () => resolve()));
    assert.equal(await admin.call('acl', 'deluser', 'carol'), 1);
    await closed;
  });

  it('requirepass is the default user password', async () => {
    const admin = s.client();
    await admin.call('config', 'set', 'requirepass', 'pass1');
    const list = (await admin.call('acl', 'list')) as string[];
    assert.ok(list.some((l) => l.startsWith('user default on #') && !l.includes('nopass')));
    const c = s.client({ enableReadyCheck: false, lazyConnect: true });
    await c.connect();
    assert.equal(await attempt(c, 'get', 'x'), 'ERR:NOAUTH Authentication required.');
    assert.equal(await c.call('auth', 'pass1'), 'OK');
    await admin.call('config', 'set', 'requirepass', '');
    assert.ok(((await admin.call('acl', 'list')) as string[]).includes('user default on nopass ~* &* +@all'));
  });
});

describe('ACL files and config users', () => {
  after(stopAll);

  it('loads user lines from the config file', async () => {
    const s = await startServer({ config: 'user alice on >pw ~a* +get\nuser default on nopass ~* +@all\n' });
    const c = s.client();
    assert.deepEqual(await c.call('acl', 'list'), [
      'user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all +get',
      'user default on nopass sanitize-payload ~* resetchannels +@all',
    ]);
  });

  it('ACL SAVE then ACL LOAD round-trips and replaces users', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-acl-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'users.acl');
    fs.writeFileSync(file, 'user bob on nopass ~* +@all\n');
    const s = await startServer({ args: ['--aclfile', file] });
    const c = s.client();
    assert.deepEqual(await c.call('acl', 'users'), ['bob', 'default']);
    await c.call('acl', 'setuser', 'zed', 'on', 'nopass');
    assert.equal(await c.call('acl', 'save'), 'OK');
    assert.match(fs.readFileSync(file, 'latin1'), /^user bob on nopass ~\* resetchannels \+@all\nuser default on nopass ~\* &\* \+@all\nuser zed on nopass resetchannels -@all\n$/);
    fs.writeFileSync(file, 'user carl on nopass\n');
    assert.equal(await c.call('acl', 'load'), 'OK');
    assert.deepEqual(await c.call('acl', 'users'), ['carl', 'default']);
    fs.writeFileSync(file, 'user carl on bogus\n');
    assert.match(String(await attempt(c, 'acl', 'load')), /Syntax error/);
  });
});

describe('SORT BY/GET patterns need access to every key (as redis-server)', () => {
  after(stopAll);

  // Users whose key patterns do or do not cover every key; the selector user gains full access
  // only through its second selector.
  const USERS: [string, string[]][] = [
    ['s', ['+sort', '+sort_ro', '+eval', '+multi', '+exec', '~foo*']],
    ['r', ['+sort', '+eval', '%R~*']],
    ['w', ['+sort', '%W~*', '~foo*']],
    ['a', ['+sort', 'allkeys']],
    ['sel', ['+sort', '~foo*', '(+sort ~*)']],
    ['selw', ['+sort', '~foo*', '(+sort %W~*)']],
  ];
  const CALLS: string[][] = [
    ['sort', 'foolist', 'by', 'nosort', 'get', 'secret_*'],
    ['sort', 'foolist', 'by', 'nosort', 'get', 'secret_*', 'store', 'foocopy'],
    ['sort', 'foolist', 'by', 'bar_*'],
    ['sort', 'foolist', 'by', 'nosort'],
    ['sort', 'foolist', 'get', '#'],
    ['sort', 'foolist', 'alpha', 'get', '#', 'limit', '0', 'x'],
    ['sort', 'foolist', 'bogus', 'get', 'secret_*'],
    ['sort_ro', 'foolist', 'by', 'nosort', 'get', 'secret_*'],
    ['sort', 'foolist', 'by', 'x_*->f'],
    ['sort', 'secret_list', 'by', 'nosort'],
  ];

  it('denies the same calls with the same errors, in plain calls, MULTI and scripts', async () => {
    const [nodis, redis] = await Promise.all([startServer(), startServer({ bin: REDIS, args: ['--save', ''] })]);
    const run = async (srv: RunningServer): Promise<unknown[]> => {
      const admin = srv.client();
      await admin.set('secret_x', 's3cr3t');
      await admin.rpush('foolist', 'x');
      await admin.rpush('secret_list', 'y');
      for (const [name, rules] of USERS) await admin.call('acl', 'setuser', name, 'on', '>p', ...rules);
      const out: unknown[] = [];
      for (const [name] of USERS) {
        const c = srv.client();
        await c.call('auth', name, 'p');
        for (const call of CALLS) {
          out.push([name, call.join(' '), await attempt(c, ...call)]);
          await admin.del('foocopy');
        }
        if (name === 's') {
          // In a transaction the same check applies at EXEC; in a script, as the caller's user.
          await c.call('multi');
          await attempt(c, 'sort', 'foolist', 'by', 'nosort', 'get', 'secret_*');
          out.push([name, 'exec', await attempt(c, 'exec')]);
          out.push([name, 'eval', await attempt(c, 'eval', "return redis.pcall('sort','foolist','by','nosort','get','secret_*')", '0')]);
          out.push([name, 'eval-by', await attempt(c, 'eval', "return redis.pcall('sort','foolist','by','x_*')", '0')]);
        }
        c.disconnect();
      }
      out.push(['foocopy', await admin.exists('foocopy')]);
      out.push(['log', ((await admin.call('acl', 'log')) as unknown[]).length]);
      return out;
    };
    const [got, want] = await Promise.all([run(nodis), run(redis)]);
    assert.deepEqual(got, want);
    // The hole itself: a user limited to foo* never reads secret_x through SORT.
    assert.ok(!JSON.stringify(got.filter((r) => Array.isArray(r) && r[0] === 's')).includes('s3cr3t'));
    assert.ok(JSON.stringify(got).includes('GET option of SORT denied due to insufficient ACL permissions.'));
  });
});

describe('ACL LOG grouping and the PROTECTED refusal order (as redis-server)', () => {
  after(stopAll);

  it('groups a denial only with the ten newest entries; DEBUG and MODULE are refused before auth and ACL', async () => {
    const [nodis, redis] = await Promise.all([startServer(), startServer({ bin: REDIS, args: ['--save', ''] })]);
    const run = async (srv: RunningServer): Promise<unknown[]> => {
      const admin = srv.client();
      await admin.call('acl', 'setuser', 'u', 'on', '>p', '-@all', '+get', '~*');
      const c = srv.client();
      await c.call('auth', 'u', 'p');
      const out: unknown[] = [];
      // One denial, eleven others, the first again: too old to be grouped with (addACLLogEntry
      // looks at the ten newest entries only).
      const denied = ['set', 'incr', 'decr', 'append', 'strlen', 'type', 'ttl', 'pttl', 'persist', 'lpush', 'rpush'];
      out.push(await attempt(c, 'del', 'k'));
      for (const cmd of denied) out.push(await attempt(c, cmd, 'k', ...(cmd === 'set' || cmd === 'append' || cmd.endsWith('push') ? ['v'] : [])));
      out.push(await attempt(c, 'del', 'k'));
      out.push(await attempt(c, 'set', 'k', 'v'));
      const log = (await admin.call('acl', 'log', '100')) as unknown[][];
      out.push(log.map((e) => [e[1], e[5], e[7]]));
      // PROTECTED comes right after the arity check: before NOAUTH and NOPERM.
      out.push(await attempt(c, 'debug', 'sleep', '0'));
      out.push(await attempt(c, 'module', 'load', '/nonexistent.so'));
      await admin.call('config', 'set', 'requirepass', 'secret');
      // A raw connection: ioredis's ready check would fail first without a password.
      out.push(...(await runRaw(srv.port, [['debug', 'sleep', '0'], ['get', 'k']])));
      c.disconnect();
      return out;
    };
    const [got, want] = await Promise.all([run(nodis), run(redis)]);
    assert.deepEqual(got, want);
    const log = want[want.length - 5] as unknown[][];
    assert.deepEqual(log.filter((e) => e[2] === 'del').map((e) => e[0]), [1, 1], 'the two DEL denials are separate entries');
    assert.match(String(want[want.length - 2]), /^-ERR DEBUG command not allowed/);
    assert.equal(want[want.length - 1], '-NOAUTH Authentication required.\r\n');
  });
});
