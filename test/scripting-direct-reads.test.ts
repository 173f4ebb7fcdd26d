/**
 * The script path's direct reads of Lua's memory (lua-wasm.ts `direct`: redis.call's arguments
 * from the stack, KEYS/ARGV reuse decided from the tables' own fields, a script's scalar result)
 * must give exactly what the C API path gives and what redis-server gives. The same pipelined
 * scripts run, in one connection each (so every script meets the KEYS/ARGV tables the previous
 * one left), on nodis with direct reads, on nodis with them off (NODIS_LUA_DIRECT_READS=0) and
 * on redis-server 7.0.15; the replies are compared byte for byte.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { REDIS_SERVER, runRaw } from './helpers/redis-compare.js';
import { LuaVM } from '../src/scripting/lua-wasm.js';

const eval_ = (body: string, keys: string[] = [], args: string[] = []): string[] => ['EVAL', body, String(keys.length), ...keys, ...args];

/** Every byte value, and strings around the lengths the conversions switch at (8, 16 bytes). */
const ALL_BYTES = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
const LENGTHS = [0, 1, 7, 8, 9, 15, 16, 17, 100, 5000].map((n) => 'x\u00ff\u0000\r\n'.repeat(n).slice(0, n));

/** redis.call's arguments: numbers, bytes, lengths, bad types, many arguments, coroutines. */
const CALL_ARGS: string[][] = [
  ['DEL', 'k', 'l', 'n'],
  eval_("return redis.call('set', KEYS[1], 3.0)", ['k']),
  eval_("return redis.call('get', KEYS[1])", ['k']),
  ...['1/3', '-0.0', '1e300', '2^53+1', '-2^63', 'math.huge', '-math.huge', '0/0', '123456789012', '0.1', '-7'].flatMap((n) => [
    eval_(`return redis.call('set', KEYS[1], ${n})`, ['n']),
    eval_("return redis.call('get', KEYS[1])", ['n']),
  ]),
  eval_("redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])", ['k'], [ALL_BYTES]),
  eval_("return redis.call('strlen', KEYS[1])", ['k']),
  ...LENGTHS.map((s) => eval_("redis.call('set', KEYS[1], ARGV[1]); return {redis.call('get', KEYS[1]), redis.call('strlen', KEYS[1])}", [s.length === 0 ? 'e' : s], [s])),
  ...LENGTHS.map((s) => eval_('return redis.call(ARGV[1], ARGV[2])', [], ['echo', s])),
  eval_("return redis.call('get', {})", ['k']),
  eval_("return redis.call('get', nil)", ['k']),
  eval_("return redis.call('get', true)", ['k']),
  eval_("return redis.call('get', KEYS[1], function() end)", ['k']),
  eval_('return redis.call()'),
  eval_("return redis.pcall('get', {})", ['k']),
  eval_("local r = redis.pcall('get', {}); return type(r) == 'table' and r.err or 'not a table'", ['k']),
  eval_('return redis.pcall()'),
  eval_("return redis.call('GeT', KEYS[1])", ['k']),
  eval_("return redis.call('nosuchcommand', KEYS[1])", ['k']),
  eval_("return redis.pcall('incr', KEYS[1])", ['k']),
  eval_("return redis.call('get', KEYS[1], 'extra')", ['k']),
  // Many arguments: the reply is pushed above them (LUA_MINSTACK free slots above a C call).
  eval_("redis.call('rpush', KEYS[1], unpack(ARGV)); return redis.call('lrange', KEYS[1], 0, -1)", ['l'], Array.from({ length: 300 }, (_, i) => `v${i}\u00e9`)),
  eval_("local t = {} for i = 1, 7000 do t[i] = tostring(i) end redis.call('del', KEYS[1]) return redis.call('rpush', KEYS[1], unpack(t))", ['l']),
  // Another Lua thread calls: its own stack (lua_State) is read.
  eval_("local co = coroutine.create(function(k, v) redis.call('set', k, v) return redis.call('get', k) end) local ok, r = coroutine.resume(co, KEYS[1], ARGV[1]) return {tostring(ok), r}", ['k'], ['from a coroutine']),
  eval_("return {coroutine.wrap(function() return redis.pcall('get', {}) end)()}", ['k']),
  eval_("local f = function(...) return redis.pcall(...) end return {f('incr', KEYS[1]), f('set', KEYS[1], 1.5), f('get', KEYS[1])}", ['k']),
  // Lua's pcall hands a script the error's message, not Redis 7's error table (luaRedisPcall).
  eval_("return {coroutine.wrap(function() return pcall(redis.call, 'get', {}) end)()}", ['k']),
  eval_("local f = function(...) return redis.call(...) end return {pcall(f, 'incr', KEYS[1])}", ['k']),
  eval_("local ok, e = pcall(error, {err='x'}) return {tostring(ok), type(e), e}"),
  eval_("local ok, e = pcall(error, {err=5}) return {tostring(ok), type(e), e}"),
  eval_("local ok, e = pcall(error, {other='x'}) return {tostring(ok), type(e), tostring(e.other)}"),
  eval_("local ok, e = pcall(error, 'plain') return {tostring(ok), e}"),
  eval_("return {pcall(function() return 1, nil, 3 end)}"),
  eval_("return select('#', pcall(function() return 1, nil, 3, nil end))"),
  eval_("return redis.call('echo', redis.call('echo', redis.call('get', KEYS[1])))", ['k']),
  // Replies pushed straight into the stack's memory (integers, nulls): as values, in tables
  // (MGET's missing keys), inside Lua arithmetic and type(), and in a table of 6000 (its
  // lua_createtable may grow the WASM memory under the pushes that follow).
  eval_("redis.call('del', KEYS[1]) return {redis.call('incrby', KEYS[1], -7), redis.call('incrby', KEYS[1], 2^40), redis.call('exists', KEYS[1], 'nosuchkey'), redis.call('exists', 'nosuchkey')}", ['i']),
  eval_("local n = redis.call('incr', KEYS[1]) local g = redis.call('get', 'nosuchkey') return {type(n), n + 0.5 > n and 1 or 0, type(g), tostring(g), tostring(not g)}", ['i']),
  eval_("redis.call('mset', 'm1', 'a', 'm3', 'c') return redis.call('mget', 'm1', 'm2', 'm3', 'm4')"),
  eval_("redis.setresp(3) local g = redis.call('get', 'nosuchkey') return type(g)"),
  // RESP3's null inside an aggregate is nil to a script, not false: a hole in MGET's table
  // (its length stops before it), an absent field in a map (redisProtocolToLuaType_Null).
  eval_("redis.setresp(3) redis.call('mset', 'm1', 'a', 'm3', 'c') local r = redis.call('mget', 'm1', 'm2', 'm3') return {type(r[1]), type(r[2]), type(r[3]), #r}"),
  eval_("redis.setresp(3) return redis.call('mget', 'm1', 'm2', 'm3')"),
  eval_("redis.setresp(2) local r = redis.call('mget', 'm1', 'm2', 'm3') return {type(r[2]), #r}"),
  eval_("redis.setresp(3) local r = redis.call('hrandfield', 'nosuchkey', 2) return {type(r), #r}"),
  eval_("redis.call('del', KEYS[1]) local t = {} for i = 1, 6000 do t[i] = 'm' .. i end redis.call('sadd', KEYS[1], unpack(t, 1, 3000)) local r = redis.call('smismember', KEYS[1], unpack(t)) local s = 0 for i = 1, #r do s = s + r[i] * i end return {#r, s, r[1], r[3000], r[3001], r[6000]}", ['set6000']),
  eval_("local r = redis.call('mget', unpack({'m1', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm2', 'm3'})) return {#r, r[1], tostring(r[2]), r[24]}"),
];

/** A script's own result: every scalar type, in RESP2 and (setresp) RESP3. */
const RESULTS: string[][] = [
  ...['3.99', '-3.99', '0', '-0.0', '1e20', '-1e20', '2^53', '2^63', '-2^63', '0/0', 'math.huge', '-math.huge', "'str'", "''", 'ARGV[1]', 'true', 'false', 'nil', '{1, 2.5, "x", false, 4}', "{ok='FINE'}", "{err='My Error'}", "{double=1.5}"].flatMap((v) => [
    eval_(`return ${v}`, [], [ALL_BYTES]),
    eval_(`redis.setresp(3) return ${v}`, [], [ALL_BYTES]),
  ]),
  eval_("redis.setresp(3) return redis.call('get', 'nosuchkey')"),
  eval_("return redis.call('get', 'nosuchkey')"),
];

/** KEYS/ARGV as the previous script left them: refilled only when untouched. */
const TABLES: string[][] = [
  eval_('return {#KEYS, #ARGV, KEYS[1], ARGV[2]}', ['k1'], ['a1', 'a2']),
  eval_("KEYS[2] = 'x'; return #KEYS", ['k']),
  eval_('return {#KEYS, tostring(KEYS[2])}', ['z']),
  eval_("KEYS[2] = 'x'; KEYS[2] = nil; return #KEYS", ['k']),
  eval_('return {#KEYS, tostring(KEYS[2]), tostring(next(KEYS, 1))}', ['z']),
  eval_("rawset(KEYS, 'h', 1); rawset(KEYS, 'h', nil); return #KEYS", ['k']),
  eval_("return {#KEYS, tostring(rawget(KEYS, 'h'))}", ['z']),
  eval_("KEYS.foo = 1; return #KEYS", ['k']),
  eval_('return {#KEYS, tostring(KEYS.foo)}', ['z']),
  eval_("setmetatable(ARGV, {__index = function() return 'dflt' end}); return ARGV[9]", [], ['q']),
  eval_('return tostring(ARGV[9])', [], ['q']),
  eval_('setmetatable(ARGV, nil); return ARGV[1]', [], ['q']),
  eval_('return {#ARGV, ARGV[1], tostring(getmetatable(ARGV))}', [], ['r']),
  eval_("setmetatable(KEYS, {__newindex = function() end}); return 1", ['k']),
  eval_("KEYS[5] = 'dropped'; return tostring(rawget(KEYS, 5))", ['k']),
  eval_('return {#KEYS, KEYS[1], tostring(getmetatable(KEYS))}', ['k2']),
  eval_('table.remove(KEYS, 1); return #KEYS', ['a', 'b', 'c']),
  eval_('return {#KEYS, KEYS[1], KEYS[2], KEYS[3]}', ['x', 'y', 'z']),
  eval_("table.insert(ARGV, 'more'); return #ARGV", [], ['1', '2']),
  eval_('return {#ARGV, ARGV[1], ARGV[2], tostring(ARGV[3])}', [], ['3', '4']),
  eval_("KEYS[1] = nil; return #KEYS", ['k']),
  eval_('return KEYS[1]', ['again']),
  eval_("KEYS[1] = {}; return 1", ['k']),
  eval_('return KEYS[1]', ['again']),
  // The same values again: a slot still holding them is kept, one changed is set anew.
  eval_('return {KEYS[1], ARGV[1]}', ['same'], ['arg']),
  eval_("KEYS[1] = 'other'; ARGV[1] = 'changed'; return {KEYS[1], ARGV[1]}", ['same'], ['arg']),
  eval_('return {KEYS[1], ARGV[1]}', ['same'], ['arg']),
  eval_('KEYS[1] = nil; return 1', ['same'], ['arg']),
  eval_('return {KEYS[1], ARGV[1]}', ['same'], ['arg']),
  eval_('KEYS[1] = 5; ARGV[1] = 5; return 1', ['5'], ['5']),
  eval_('return {type(KEYS[1]), type(ARGV[1]), KEYS[1], ARGV[1]}', ['5'], ['5']),
  eval_("KEYS[1] = KEYS[1] .. 'x'; return KEYS[1]", ['y'.repeat(40)]),
  eval_('return KEYS[1]', ['y'.repeat(40)]),
  eval_("KEYS[2] = 'SAME'; return {KEYS[1], KEYS[2]}", ['same', 'same']),
  eval_('return {KEYS[1], KEYS[2]}', ['same', 'same']),
  // A script that fails after changing them.
  eval_("KEYS.x = 1; ARGV[3] = 'y'; error('boom')", ['k'], ['a', 'b']),
  eval_('return {#KEYS, tostring(KEYS.x), #ARGV, tostring(ARGV[3])}', ['k'], ['a', 'b']),
  eval_("KEYS.x = 1; return redis.call('nosuchcommand')", ['k']),
  eval_('return {#KEYS, tostring(KEYS.x)}', ['k']),
  eval_('return {#KEYS, #ARGV}'),
  eval_("KEYS[1] = 'x'; return #KEYS"),
  eval_('return {#KEYS, #ARGV}'),
  ['SCRIPT', 'FLUSH'],
  eval_('return {KEYS[1], ARGV[1], #KEYS, #ARGV}', ['after'], ['flush']),
  ['MULTI'],
  eval_("KEYS.m = 1; return #KEYS", ['k']),
  eval_('return {#KEYS, tostring(KEYS.m), KEYS[1]}', ['in-multi']),
  ['EXEC'],
  eval_('return {#KEYS, tostring(KEYS.m), KEYS[1]}', ['after-multi']),
];

describe('scripting: direct reads of the Lua VM equal the C API path and redis-server', () => {
  let direct: RunningServer;
  let api: RunningServer;
  let redis: RunningServer;
  before(async () => {
    [direct, api, redis] = await Promise.all([
      startServer({ env: { NODIS_LUA_DIRECT_READS: '1' } }),
      startServer({ env: { NODIS_LUA_DIRECT_READS: '0' } }),
      startServer({ bin: REDIS_SERVER }),
    ]);
  });
  after(stopAll);

  it('uses direct reads with the shipped Lua binary (its layout probe passes), and not when turned off', () => {
    const saved = process.env.NODIS_LUA_DIRECT_READS;
    try {
      delete process.env.NODIS_LUA_DIRECT_READS;
      assert.equal(new LuaVM().direct, true);
      process.env.NODIS_LUA_DIRECT_READS = '0';
      assert.equal(new LuaVM().direct, false);
    } finally {
      if (saved === undefined) delete process.env.NODIS_LUA_DIRECT_READS;
      else process.env.NODIS_LUA_DIRECT_READS = saved;
    }
  });

  for (const [name, commands] of [
    ['redis.call arguments', CALL_ARGS],
    ['script results', RESULTS],
    ['KEYS and ARGV from one script to the next', TABLES],
  ] as const) {
    for (const proto of [2, 3] as const) {
      it(`${name} (RESP${proto})`, async () => {
        const [d, a, r] = await Promise.all([runRaw(direct.port, commands, proto), runRaw(api.port, commands, proto), runRaw(redis.port, commands, proto)]);
        for (let i = 0; i < commands.length; i++) {
          const what = `${JSON.stringify(commands[i]!.slice(0, 2)).slice(0, 200)} (#${i})`;
          assert.equal(d[i], a[i], `direct reads vs C API: ${what}`);
          assert.equal(d[i], r[i], `nodis vs redis-server: ${what}`);
        }
      });
    }
  }
});
