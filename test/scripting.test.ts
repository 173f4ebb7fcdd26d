import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

describe('scripting: EVAL, SCRIPT, FUNCTION, busy scripts', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('converts Lua values to replies as Redis does', async () => {
    const c = s.client();
    assert.deepEqual(await c.call('eval', "return {1,2,3,'ciao',{1,2}}", '0'), [1, 2, 3, 'ciao', [1, 2]]);
    assert.equal(await c.call('eval', 'return 3.99', '0'), 3);
    assert.deepEqual(await c.call('eval', 'return {1,2,nil,4}', '0'), [1, 2]);
    assert.equal(await c.call('eval', 'return true', '0'), 1);
    assert.equal(await c.call('eval', 'return false', '0'), null);
    assert.equal(await c.call('eval', "return {ok='FINE'}", '0'), 'FINE');
    await assert.rejects(c.call('eval', "return {err='My Error'}", '0'), /^ReplyError: My Error$/);
  });

  it('runs commands with KEYS/ARGV, binary-safe', async () => {
    const c = s.client();
    const v = Buffer.from([0, 255, 13, 10, 128]);
    assert.equal(await c.call('eval', "return redis.call('set', KEYS[1], ARGV[1])", '1', 'bk', v), 'OK');
    assert.deepEqual(await c.callBuffer('eval', "return redis.call('get', KEYS[1])", '1', 'bk'), v);
    assert.equal(await c.call('eval', "return redis.call('get', 'nosuch') == false and 1 or 0", '0'), 1);
  });

  it('gives every EVAL its own KEYS and ARGV, whatever the previous script did to them', async () => {
    // The engine refills the previous EVAL's tables when that script left them untouched
    // (engine.ts refillGlobalArray); each of these changes must not reach the next script.
    const c = s.client();
    const ev = (body: string, ...args: string[]): Promise<unknown> => c.call('eval', body, ...args);
    assert.deepEqual(await ev('return {#KEYS, #ARGV, KEYS[1], ARGV[2]}', '1', 'k1', 'a1', 'a2'), [1, 2, 'k1', 'a2']);
    assert.equal(await ev("KEYS[3] = 'x'; KEYS.foo = 1; return #KEYS", '1', 'k'), 1);
    assert.deepEqual(await ev('return {#KEYS, tostring(KEYS[3]), tostring(KEYS.foo)}', '1', 'z'), [1, 'nil', 'nil']);
    assert.equal(await ev("setmetatable(ARGV, {__index = function() return 'dflt' end}); return ARGV[9]", '0', 'q'), 'dflt');
    assert.equal(await ev('return tostring(ARGV[9])', '0', 'q'), 'nil');
    assert.equal(await ev('table.remove(KEYS, 1); return #KEYS', '3', 'a', 'b', 'c'), 2);
    assert.deepEqual(await ev('return {#KEYS, KEYS[1], KEYS[2], KEYS[3]}', '3', 'x', 'y', 'z'), [3, 'x', 'y', 'z']);
    assert.equal(await ev("KEYS[1] = 'changed'; return 1", '1', 'orig'), 1);
    assert.equal(await ev('return KEYS[1]', '1', 'again'), 'again');
    assert.deepEqual(await ev('return {#KEYS, #ARGV}', '0'), [0, 0]);
    await c.call('script', 'flush');
    assert.deepEqual(await ev('return {KEYS[1], ARGV[1]}', '1', 'after', 'flush'), ['after', 'flush']);
  });

  it('reports errors with the script position', async () => {
    const c = s.client();
    await assert.rejects(c.call('eval', 'a = 1', '0'), /Attempt to modify a readonly table script: \w{40}, on @user_script:1\./);
    await assert.rejects(c.call('eval', 'return b', '0'), /nonexistent global variable 'b'.*@user_script:1\./);
    await assert.rejects(c.call('eval', "return redis.call('nosuch')", '0'), /Unknown Redis command called from script/);
    await assert.rejects(c.call('eval', "return redis.pcall('incr', KEYS[1])", '1', 'bk'), /^ReplyError: ERR value is not an integer or out of range$/);
    assert.equal(await c.call('eval', "local r = redis.pcall('incr', KEYS[1]); return type(r.err)", '1', 'bk'), 'string');
  });

  it('caches scripts for EVALSHA and answers NOSCRIPT', async () => {
    const c = s.client();
    const sha = String(await c.call('script', 'load', "return 'hello'"));
    assert.equal(sha, '1b936e3fe509bcbc9cd0664897bbe8fd0cac101b');
    assert.equal(await c.call('evalsha', sha, '0'), 'hello');
    assert.deepEqual(await c.call('script', 'exists', sha, 'ffff'), [1, 0]);
    await c.call('script', 'flush');
    await assert.rejects(c.call('evalsha', sha, '0'), /NOSCRIPT No matching script/);
  });

  it('finds an EVALSHA script by the sha as given or upper-case, from the last lookup too, and forgets it on SCRIPT FLUSH', async () => {
    // The engine keeps the last sha argument it found and compares the next one against it
    // (engine.ts findScript), for the admission flags and for the run alike.
    const c = s.client();
    const ro = '#!lua flags=no-writes\nreturn redis.call(ARGV[1], KEYS[1], unpack(ARGV, 2))';
    const sha = String(await c.call('script', 'load', ro));
    const up = sha.toUpperCase();
    for (const arg of [sha, sha, up, up, sha]) {
      assert.equal(await c.call('evalsha', arg, '1', 'fk', 'get'), null);
      await assert.rejects(c.call('evalsha', arg, '1', 'fk', 'set', 'v'), /^ReplyError: ERR Write commands are not allowed from read-only scripts\. script: /);
    }
    // The script's name in errors is its lower-case sha, whatever the argument's case.
    await assert.rejects(c.call('evalsha', up, '1', 'fk', 'nosuchcmd', 'v'), new RegExp(`script: ${sha}, on @user_script:2\\.$`));
    const other = String(await c.call('script', 'load', 'return ARGV[1]'));
    assert.equal(await c.call('evalsha', other, '0', 'o'), 'o');
    assert.equal(await c.call('evalsha', up, '1', 'fk', 'get'), null);
    assert.deepEqual(await c.call('multi'), 'OK');
    await c.call('evalsha', up, '1', 'fk', 'get');
    await c.call('evalsha', other, '0', 'in-exec');
    assert.deepEqual(await c.call('exec'), [null, 'in-exec']);
    await c.call('script', 'flush');
    await assert.rejects(c.call('evalsha', up, '1', 'fk', 'get'), /^ReplyError: NOSCRIPT No matching script/);
    await assert.rejects(c.call('evalsha', other, '0', 'o'), /^ReplyError: NOSCRIPT No matching script/);
    assert.equal(String(await c.call('script', 'load', ro)), sha);
    assert.equal(await c.call('evalsha', up, '1', 'fk', 'get'), null);
  });

  it('honours shebang flags and _RO variants', async () => {
    const c = s.client();
    await assert.rejects(c.call('eval', "#!lua flags=no-writes\nreturn redis.call('set','a','b')", '0'), /Write commands are not allowed from read-only scripts/);
    await assert.rejects(c.call('eval_ro', "#!lua\nreturn 1", '0'), /Can not execute a script with write flag using \*_ro command/);
    await assert.rejects(c.call('eval', '#!lua flags=bogus\nreturn 1', '0'), /Unexpected flag in script shebang: bogus/);
  });

  it('has cjson and bit', async () => {
    const c = s.client();
    assert.equal(await c.call('eval', 'return cjson.encode({1,2,{a=1}})', '0'), '[1,2,{"a":1}]');
    assert.equal(await c.call('eval', "return cjson.decode('[1,2,{\"a\":5}]')[3].a", '0'), 5);
    assert.equal(await c.call('eval', 'return bit.band(7,3) + bit.lshift(1,4)', '0'), 19);
  });

  it('loads and calls functions', async () => {
    const c = s.client();
    const code = "#!lua name=mylib\nredis.register_function('echo1', function(keys, args) return args[1] end)\nredis.register_function{function_name='ro', callback=function() return 1 end, flags={'no-writes'}}";
    assert.equal(await c.call('function', 'load', code), 'mylib');
    await assert.rejects(c.call('function', 'load', code), /Library 'mylib' already exists/);
    assert.equal(await c.call('fcall', 'echo1', '0', 'hi'), 'hi');
    assert.equal(await c.call('fcall_ro', 'ro', '0'), 1);
    await assert.rejects(c.call('fcall_ro', 'echo1', '0', 'x'), /Can not execute a script with write flag/);
    const list = (await c.call('function', 'list')) as unknown[];
    assert.equal(list.length, 1);
    assert.equal(await c.call('function', 'delete', 'mylib'), 'OK');
    await assert.rejects(c.call('fcall', 'echo1', '0'), /Function not found/);
  });

  it('answers BUSY while a script loops, and SCRIPT KILL stops it', async () => {
    const a = s.client();
    const b = s.client();
    await a.call('config', 'set', 'busy-reply-threshold', '100');
    await b.ping();
    const running = a.call('eval', 'while true do end', '0').catch((e: Error) => e.message);
    let reply = '';
    while (!reply.startsWith('BUSY')) reply = String(await b.ping().catch((e: Error) => e.message));
    assert.match(reply, /^BUSY Redis is busy running a script/);
    assert.equal(await b.call('script', 'kill'), 'OK');
    assert.match(String(await running), /Script killed by user with SCRIPT KILL/);
    assert.equal(await b.ping(), 'PONG');
    await a.call('config', 'set', 'busy-reply-threshold', '5000');
  });

  it('stops on SHUTDOWN NOSAVE while an unkillable script is busy (and only with NOSAVE)', async () => {
    const own = await startServer({ args: ['--busy-reply-threshold', '100'] });
    const a = own.client();
    const b = own.client();
    await b.ping();
    void a.call('eval', "redis.call('set','x','y') while true do end", '0').catch(() => null);
    let reply = '';
    while (!reply.startsWith('BUSY')) reply = String(await b.ping().catch((e: Error) => e.message));
    assert.match(String(await b.call('script', 'kill').catch((e: Error) => e.message)), /^UNKILLABLE /);
    assert.match(String(await b.call('shutdown').catch((e: Error) => e.message)), /^BUSY Redis is busy running a script\. You can only call SCRIPT KILL or SHUTDOWN NOSAVE\.$/);
    const exited = new Promise<number | null>((resolve) => own.proc.once('exit', (code) => resolve(code)));
    await b.call('shutdown', 'nosave').catch(() => null);
    assert.equal(await exited, 0);
    await own.waitForLog('nodis is now ready to exit, bye bye...');
  });
});
