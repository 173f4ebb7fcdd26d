/**
 * redis.call's fast reply conversion (pushCommandReply: RESP bytes straight to Lua values) must
 * give exactly the values of the reference path (ReplyParser + pushReply) for every reply type,
 * RESP2 and RESP3, nested, with attributes, big and negative integers and binary bulk strings.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LuaVM, LUA_TBOOLEAN, LUA_TNIL, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE } from '../src/scripting/lua-wasm.js';
import { pushCommandReply, pushReply } from '../src/scripting/convert.js';
import { ReplyParser } from '../src/protocol/reply-parser.js';

type LuaValue = null | boolean | number | string | [LuaValue, LuaValue][];

/** The Lua value on top of the stack as plain data (tables as sorted key/value pairs); pops it. */
function read(vm: LuaVM, L: number): LuaValue {
  const x = vm.x;
  const t = x.lua_type(L, -1);
  let v: LuaValue;
  if (t === LUA_TNIL) v = null;
  else if (t === LUA_TBOOLEAN) v = x.lua_toboolean(L, -1) !== 0;
  else if (t === LUA_TNUMBER) v = x.lua_tonumber(L, -1);
  else if (t === LUA_TSTRING) v = `s:${vm.toString(L, -1)}`;
  else if (t === LUA_TTABLE) {
    const pairs: [LuaValue, LuaValue][] = [];
    x.lua_pushnil(L);
    while (x.lua_next(L, -2) !== 0) {
      const value = read(vm, L);
      x.lua_pushvalue(L, -1);
      const key = read(vm, L);
      pairs.push([key, value]);
    }
    pairs.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
    v = pairs;
  } else throw new Error(`unexpected Lua type ${t}`);
  x.lua_settop(L, -2);
  return v;
}

function bothWays(vm: LuaVM, bytes: Buffer, resp3: boolean): [LuaValue, LuaValue, boolean, boolean] {
  const L = vm.L;
  const parser = new ReplyParser({ skipAttributes: true });
  parser.feed(bytes);
  const reply = parser.next()!;
  if (reply.type === 'nil' && resp3) vm.x.lua_pushnil(L);
  else pushReply(vm, L, reply);
  const reference = read(vm, L);
  // A buffer larger than the reply, with garbage after it, as the fake client's buffer is.
  const buf = Buffer.concat([bytes, Buffer.from('garbage\r\n')]);
  const isError = pushCommandReply(vm, L, buf, resp3);
  const fast = read(vm, L);
  assert.equal(vm.x.lua_gettop(L), 0);
  return [reference, fast, reply.type === 'error', isError];
}

const SAMPLES = [
  '+OK\r\n',
  '-ERR wrong number of arguments\r\n',
  '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n',
  ':0\r\n',
  ':-42\r\n',
  ':9007199254740993\r\n',
  ':-9223372036854775808\r\n',
  ':9223372036854775807\r\n',
  '$0\r\n\r\n',
  '$5\r\nhello\r\n',
  '$-1\r\n',
  '*-1\r\n',
  '*0\r\n',
  '*3\r\n$1\r\na\r\n:5\r\n$-1\r\n',
  '*2\r\n*2\r\n+OK\r\n-ERR nested\r\n*0\r\n',
  '_\r\n',
  '#t\r\n',
  '#f\r\n',
  ',3.25\r\n',
  ',inf\r\n',
  ',-inf\r\n',
  '(12345678901234567890\r\n',
  '=15\r\ntxt:Some string\r\n',
  '%2\r\n$1\r\nk\r\n:1\r\n$2\r\nk2\r\n*1\r\n_\r\n',
  '~2\r\n$1\r\na\r\n$1\r\nb\r\n',
  '>2\r\n$7\r\nmessage\r\n$2\r\nhi\r\n',
  '|1\r\n+key\r\n+value\r\n:7\r\n',
  '|1\r\n+key\r\n+value\r\n_\r\n',
  '*2\r\n|1\r\n+a\r\n+b\r\n$1\r\nx\r\n:2\r\n',
];

describe('scripting: command replies converted straight from RESP bytes', () => {
  const vm = new LuaVM();

  for (const sample of SAMPLES) {
    it(`${JSON.stringify(sample)} converts as the reference path does (RESP2 and RESP3 scripts)`, () => {
      for (const resp3 of [false, true]) {
        const [reference, fast, refError, fastError] = bothWays(vm, Buffer.from(sample, 'latin1'), resp3);
        assert.deepEqual(fast, reference);
        assert.equal(fastError, refError);
      }
    });
  }

  it('binary bulk strings and arrays of them (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constant(null)), { maxLength: 8 }), (items) => {
        let resp = `*${items.length}\r\n`;
        const parts: Buffer[] = [];
        for (const it of items) {
          if (it === null) resp += '$-1\r\n';
          else if (typeof it === 'bigint') resp += `:${it}\r\n`;
          else {
            parts.push(Buffer.from(resp, 'latin1'), Buffer.from(`$${it.length}\r\n`, 'latin1'), Buffer.from(it), Buffer.from('\r\n'));
            resp = '';
          }
        }
        parts.push(Buffer.from(resp, 'latin1'));
        const [reference, fast] = bothWays(vm, Buffer.concat(parts), false);
        assert.deepEqual(fast, reference);
      }),
    );
  });
});
