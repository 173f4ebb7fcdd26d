/**
 * What scripts do to the rest of the server: where their writes propagate (redis.set_repl),
 * the random generator they share, the time they see, how their errors are counted, and how
 * a queued script's declared flags count for EXEC.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

/** The fields of one command's line in INFO commandstats. */
async function cmdstat(c: { call(...args: string[]): Promise<unknown> }, name: string): Promise<Record<string, number>> {
  const info = String(await c.call('info', 'commandstats'));
  const line = new RegExp(`^cmdstat_${name}:(.*)$`, 'm').exec(info);
  if (line === null) return {};
  return Object.fromEntries(line[1]!.split(',').map((kv) => kv.split('=') as [string, string]).map(([k, v]) => [k, Number(v)]));
}

describe('scripting: effects on the rest of the server', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ args: ['--enable-debug-command', 'yes'] });
  });
  after(stopAll);

  it('propagates each command where redis.set_repl() says (replicas, AOF, both or neither)', async () => {
    const master = await startServer({ args: ['--appendonly', 'yes', '--enable-debug-command', 'yes', '--repl-diskless-sync-delay', '0'] });
    const replica = await startServer({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
    await replica.waitForLog('MASTER <-> REPLICA sync: Finished with success');
    const m = master.client();
    const r = replica.client();
    await m.call(
      'eval',
      "redis.call('set','a','1') redis.set_repl(redis.REPL_NONE) redis.call('set','b','2') redis.set_repl(redis.REPL_AOF) redis.call('set','c','3') redis.set_repl(redis.REPL_REPLICA) redis.call('set','d','4') redis.set_repl(redis.REPL_ALL) redis.call('set','e','5')",
      '0',
    );
    assert.equal(await m.call('wait', '1', '5000'), 1);
    assert.deepEqual(await r.call('mget', 'a', 'b', 'c', 'd', 'e'), ['1', null, null, '4', '5']);
    assert.deepEqual(await m.call('mget', 'a', 'b', 'c', 'd', 'e'), ['1', '2', '3', '4', '5']);
    assert.equal(await m.call('debug', 'loadaof'), 'OK');
    assert.deepEqual(await m.call('mget', 'a', 'b', 'c', 'd', 'e'), ['1', null, '3', null, '5']);
    await assert.rejects(m.call('eval', 'redis.set_repl(12345)', '0'), /Invalid replication flags\. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE\./);
  });

  it('continues one random sequence across scripts; math.randomseed makes it repeatable', async () => {
    const c = s.client();
    const a = await c.call('eval', 'return tostring(math.random())', '0');
    const b = await c.call('eval', 'return tostring(math.random())', '0');
    assert.notEqual(a, b);
    const seeded = "math.randomseed(ARGV[1]) return tostring(math.random()) .. ' ' .. tostring(math.random(10))";
    const x = await c.call('eval', seeded, '0', '42');
    assert.equal(await c.call('eval', seeded, '0', '42'), x);
    assert.notEqual(await c.call('eval', seeded, '0', '43'), x);
  });

  it('sees the time frozen at the start of the script', async () => {
    const c = s.client();
    await c.call('debug', 'set-disable-deny-scripts', '1');
    try {
      // The key is set to expire 1 ms later, then the script sleeps 10 ms: it still exists
      // for the script, and is gone afterwards.
      assert.equal(await c.call('eval', "redis.call('set','k','v','px','1') redis.call('debug','sleep','0.01') return redis.call('exists','k')", '0'), 1);
      assert.equal(await c.call('exists', 'k'), 0);
    } finally {
      await c.call('debug', 'set-disable-deny-scripts', '0');
    }
  });

  it('sees keys whose PX TTL passed before the script as expired, the others not', async () => {
    // The script's time is the wall time of its command's start, taken from the executor's
    // monotonic read (Clock.wallAt): it must be the real time, not merely a monotonic one.
    const c = s.client();
    await c.call('set', 'gone', 'v', 'px', '5');
    await c.call('set', 'kept', 'v', 'px', '60000');
    await new Promise((r) => setTimeout(r, 30));
    const script = "return {redis.call('exists', KEYS[1]), redis.call('exists', KEYS[2]), redis.call('pttl', KEYS[2])}";
    const [gone, kept, pttl] = (await c.call('eval', script, '2', 'gone', 'kept')) as number[];
    assert.equal(gone, 0);
    assert.equal(kept, 1);
    assert.ok(pttl! > 0 && pttl! <= 60000, `pttl ${pttl}`);
    // The same inside MULTI/EXEC, whose commands share EXEC's start.
    await c.call('set', 'gone', 'v', 'px', '5');
    await new Promise((r) => setTimeout(r, 30));
    await c.call('multi');
    await c.call('exists', 'gone');
    await c.call('exists', 'kept');
    assert.deepEqual(await c.call('exec'), [0, 1]);
  });

  it('reads RESP3 attributes in command replies and ignores them', async () => {
    const c = s.client();
    await c.call('debug', 'set-disable-deny-scripts', '1');
    try {
      assert.equal(await c.call('eval', "redis.setresp(3) return redis.call('debug', 'protocol', 'attrib')", '0'), 'Some real reply following the attribute');
    } finally {
      await c.call('debug', 'set-disable-deny-scripts', '0');
    }
    await assert.rejects(c.call('eval', "return redis.call('debug', 'protocol', 'attrib')", '0'), /This Redis command is not allowed from script/);
  });

  it("counts a script that fails on its command's error once, as a failed call of the script", async () => {
    const c = s.client();
    await c.call('config', 'resetstat');
    await assert.rejects(c.call('eval', "return redis.call('select', 99)", '0'), /^ReplyError: ERR DB index is out of range script: \w{40}, on @user_script:1\.$/);
    const info = String(await c.call('info', 'errorstats'));
    assert.match(info, /errorstat_ERR:count=1\r\n/);
    assert.equal((await cmdstat(c, 'select')).failed_calls, 1);
    assert.equal((await cmdstat(c, 'eval')).failed_calls, 1);
    await c.call('config', 'resetstat');
    // Returning the error object is also a failure of the script, and still counted once.
    await assert.rejects(c.call('eval', "return redis.pcall('select', 99)", '0'), /^ReplyError: ERR DB index is out of range$/);
    assert.match(String(await c.call('info', 'errorstats')), /errorstat_ERR:count=1\r\n/);
    assert.equal((await cmdstat(c, 'eval')).failed_calls, 1);
  });

  it('makes EXEC of a queued write-flagged script fail on a read-only replica', async () => {
    const own = await startServer();
    const a = own.client();
    const b = own.client();
    const admin = own.client();
    await a.call('multi');
    assert.equal(await a.call('eval', '#!lua\nreturn 1', '0'), 'QUEUED');
    await b.call('multi');
    assert.equal(await b.call('eval', '#!lua flags=no-writes\nreturn 1', '0'), 'QUEUED');
    await admin.call('replicaof', '127.0.0.1', '1');
    await assert.rejects(a.call('exec'), /^ReplyError: EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica\.$/);
    assert.deepEqual(await b.call('exec'), [1]);
    await admin.call('replicaof', 'no', 'one');
  });
});
