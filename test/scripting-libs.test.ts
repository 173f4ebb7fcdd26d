/**
 * Redis's Lua libraries (struct, cmsgpack, cjson, bit) compared with the real redis-server
 * 7.0.15: the same EVALs run on both, and the replies — values and error texts — must match.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import type { Redis } from 'ioredis';

const REDIS_SERVER = '/usr/bin/redis-server';

/** Scripts whose replies must be identical on both servers. */
const SCRIPTS: string[] = [
  // struct
  "return struct.pack('>I2', 258)",
  "return struct.pack('<i4', -2)",
  "return struct.pack('bBhHlLT', -1, 255, -300, 65000, -5, 123456789012, 7)",
  "return struct.pack('!4 b i', 1, 2)",
  "return struct.pack('!8 b d', 1, 1.5)",
  "return struct.pack('>f', 1.25)",
  "return struct.pack('s', 'abc')",
  "return struct.pack('c5', 'abcdefg')",
  "return struct.pack('c0', 'xyz')",
  "return struct.pack('xxb', 3)",
  "return struct.pack('i16', -1)",
  "return {struct.unpack('>I2', struct.pack('>I2', 258))}",
  "return {struct.unpack('<i4 i4', struct.pack('<i4 i4', -2, 99))}",
  "return {struct.unpack('s b', struct.pack('s b', 'hi', 5))}",
  "return {struct.unpack('b c0', struct.pack('b c0', 3, 'abc'))}",
  "return {struct.unpack('>d', struct.pack('>d', 2.5))}",
  "return {struct.unpack('B', 'AB', 2)}",
  "return {struct.unpack('l', struct.pack('l', -123456789012))}",
  'return struct.size(\'bhilfd\')',
  "return struct.size('!8 b d')",
  "return struct.size('c10')",
  "return struct.size('s')",
  "return struct.size('c0')",
  "return struct.pack('z', 1)",
  "return struct.pack('i33', 1)",
  "return struct.pack('!3', 1)",
  "return struct.pack('i')",
  "return struct.pack('c5', 'ab')",
  "return struct.unpack('i4', 'ab')",
  "return struct.unpack('i', 'abcd', 0)",
  "return struct.unpack('s', 'abc')",
  "return struct.unpack('c0', 'abc')",
  // cmsgpack
  "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)",
  "return cmsgpack.pack(1.5, 0.1, -0.25, 1e300, 1/0, -1/0)",
  "return cmsgpack.pack('abc', string.rep('x', 40), string.rep('y', 300), true, false, nil)",
  "return cmsgpack.pack({1,2,3}, {a=1}, {}, {[1]=1,[3]=3}, {[1.5]=1})",
  "return cmsgpack.pack({1,2,{3,{4,{5,{6,{7,{8,{9,{10,{11,{12,{13,{14,{15,{16,{17,{18}}}}}}}}}}}}}}}}}})",
  'local t = {} for i=1,20 do t[i]=i end return cmsgpack.pack(t)',
  'local t = {} for i=1,20 do t["k"..i]=i end return #cmsgpack.pack(t)',
  "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, true))}",
  "local t = cmsgpack.unpack(cmsgpack.pack({a=1, b={c='d'}})) return {t.a, t.b.c}",
  "return {cmsgpack.unpack(cmsgpack.pack(-1, -200, 70000, -70000, 5000000000, -5000000000))}",
  "return {cmsgpack.unpack(cmsgpack.pack(1.5))}",
  "return {cmsgpack.unpack_one(cmsgpack.pack(10, 20, 30))}",
  "return {cmsgpack.unpack_one(cmsgpack.pack(10, 20, 30), 1)}",
  "return {cmsgpack.unpack_one(cmsgpack.pack(10, 20, 30), 2)}",
  "return {cmsgpack.unpack_limit(cmsgpack.pack(10, 20, 30), 2)}",
  "return {cmsgpack.unpack_limit(cmsgpack.pack(10, 20, 30), 2, 1)}",
  "return cmsgpack.unpack('\\xc1')",
  "return cmsgpack.unpack('\\xcd\\x01')",
  "return cmsgpack.unpack_one('\\x01', 5)",
  "return cmsgpack.unpack_limit('\\x01', -1)",
  'return cmsgpack.pack()',
  "return {cmsgpack.unpack('\\x93\\x01\\x02\\x03')}",
  "return {cmsgpack.unpack('\\xcf\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff')}",
  "return {cmsgpack.unpack('\\xd3\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe')}",
  'return cmsgpack._VERSION',
  // cjson
  "return cjson.encode({1,2,3,'a',true})",
  "return cjson.encode({a={b={c=1}}})",
  "return cjson.encode(cjson.null)",
  "return cjson.encode({1, cjson.null, 3})",
  "local t = cjson.decode('[1,null,3]') return {type(t[2]), t[2] == cjson.null, t[3]}",
  "return type(cjson.decode('null'))",
  "return cjson.decode('null') == cjson.null",
  "local t = cjson.decode('{\"a\":null}') return t.a == cjson.null",
  "return cjson.decode('{\"a\":[1,2,{\"b\":\"\\\\u00e9\\\\ud83d\\\\ude00\"}]}').a[3].b",
  "return cjson.decode('\"a\\\\/b\\\\n\"')",
  "return cjson.decode('[1e3, -2.5, 0x10, 1E-2]')",
  "return cjson.decode('')",
  "return cjson.decode('{')",
  "return cjson.decode('[1,2')",
  "return cjson.decode('[1 2]')",
  "return cjson.decode('{\"a\" 1}')",
  "return cjson.decode('{1:2}')",
  "return cjson.decode('{\"a\":1,}')",
  "return cjson.decode('[1] x')",
  "return cjson.decode('\"abc')",
  "return cjson.decode('\"\\\\q\"')",
  "return cjson.decode('\"\\\\ud800\"')",
  "return cjson.decode('tru')",
  "return cjson.decode('-')",
  "return cjson.decode(string.rep('[', 1001))",
  "return cjson.decode()",
  "return cjson.decode('1', '2')",
  "return cjson.encode()",
  "return cjson.encode(function() end)",
  "return cjson.encode({[true]=1})",
  "return cjson.encode(1/0)",
  "return cjson.encode({[1]=1, [100]=2})",
  "return cjson.encode(0.1)",
  "return cjson.encode('\\1\\127/\"')",
  // cjson configuration (restored to the defaults at the end of each script)
  "local r = {cjson.encode_max_depth(1), pcall(cjson.encode, {{1}})} cjson.encode_max_depth(1000) return r",
  "local r = {cjson.decode_max_depth(2), pcall(cjson.decode, '[[[1]]]')} cjson.decode_max_depth(1000) return r",
  "local r = {cjson.encode_invalid_numbers('null'), cjson.encode({0/0})} cjson.encode_invalid_numbers(false) return r",
  "local r = {cjson.encode_sparse_array(true), cjson.encode({[1]=1, [100]=2})} cjson.encode_sparse_array(false) return r",
  "local r = {cjson.encode_number_precision(3), cjson.encode(math.pi)} cjson.encode_number_precision(14) return r",
  "return {cjson.encode_keep_buffer(false), cjson.encode_keep_buffer(true)}",
  "return cjson.encode_max_depth(0)",
  "return cjson.encode_max_depth(1, 2)",
  "return cjson.encode_invalid_numbers('maybe')",
  "local r = {cjson.decode_invalid_numbers(false), pcall(cjson.decode, '0x10')} cjson.decode_invalid_numbers(true) return r",
  // bit
  'return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(3, 5), bit.bnot(0), bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4)}',
  "return {bit.tohex(255), bit.tohex(-1, -4), bit.tobit(2^32 + 5), bit.rol(1, 33), bit.bswap(0x12345678)}",
  'return bit.band()',
  "return bit.band('x')",
  // Bytecode: Redis's Lua parses every chunk as text, so a binary chunk fails to load.
  'local f, e = loadstring(string.dump(function() return 1 end)); return {tostring(f), e}',
  'return loadstring(string.dump(function() return 1 end))()',
  "local f, e = loadstring('x x', 'myname'); return e",
  'local s = string.dump(function() return 1 end); local done = false; local f, e = load(function() if done then return nil end; done = true; return s end); return e',
  "return loadstring('return 1 + 1')()",
  // Globals and their metatable are read-only; ordinary tables keep working metatables.
  'setmetatable(_G, {})',
  'local g = getmetatable(_G); g.__index = {}',
  'return type(getmetatable(_G))',
  "return redis.call('ping') and setmetatable({}, {__index = function() return 5 end}).x",
  "redis.call = function() return 1 end",
  '_G = {}',
];

function normalize(r: unknown): unknown {
  if (r instanceof Error) return `ERROR: ${r.message}`;
  if (Buffer.isBuffer(r)) return r.toString('hex');
  if (Array.isArray(r)) return r.map(normalize);
  return r;
}

async function run(c: Redis, script: string, keys: readonly string[] = []): Promise<unknown> {
  try {
    return normalize(await c.callBuffer('EVAL', script, String(keys.length), ...keys));
  } catch (e) {
    return normalize(e);
  }
}

describe('Lua libraries: nodis vs redis-server 7.0.15', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    nodis = await startServer();
    redis = await startServer({ bin: REDIS_SERVER });
  });
  after(stopAll);

  it('every library call replies identically', async () => {
    const a = nodis.client();
    const b = redis.client();
    const diffs: string[] = [];
    for (const script of SCRIPTS) {
      const got = await run(a, script);
      const want = await run(b, script);
      try {
        assert.deepEqual(got, want);
      } catch {
        diffs.push(`${script}\n   nodis: ${JSON.stringify(got)}\n   redis: ${JSON.stringify(want)}`);
      }
    }
    assert.equal(diffs.length, 0, `differences:\n${diffs.join('\n')}`);
  });

  it('redis.acl_check_cmd answers for the calling user, as Redis does', async () => {
    const clients = [nodis.client(), redis.client()];
    const results: unknown[][] = [];
    for (const c of clients) {
      await c.call('ACL', 'SETUSER', 'bob', 'on', '>123', '+@scripting', '+set', '~x*');
      await c.call('AUTH', 'bob', '123');
      const out: unknown[] = [];
      for (const [script, keys] of [
        ["return redis.acl_check_cmd('set','xx',1)", ['xx']],
        ["return redis.acl_check_cmd('hset','xx','f',1)", ['xx']],
        ["return redis.acl_check_cmd('set','yy',1)", []],
        ["return redis.acl_check_cmd('config','get','x')", []],
        ["return redis.acl_check_cmd('config')", []],
        ["return redis.acl_check_cmd('invalid-cmd','arg')", []],
      ] as const) {
        out.push(await run(c, script, keys));
      }
      results.push(out);
    }
    assert.deepEqual(results[0], results[1]);
    assert.deepEqual(results[0]!.slice(0, 3), [1, null, null]);
  });
});
