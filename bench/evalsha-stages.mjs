#!/usr/bin/env node
// Where the time of one EVALSHA goes, in process (no sockets): the lock's release script
// (bench/lock-release.lua) as redis-benchmark sends it, `evalsha <sha> 1 lockkey token`,
// parsed from 16-command RESP chunks into fresh strings and run through processCommand on a
// hidden client. CPU time (process.cpuUsage) per command; medians of --rounds.
//
//   node bench/evalsha-stages.mjs [--dist path/to/dist] [--n 200000] [--rounds 5]
//   node --cpu-prof bench/evalsha-stages.mjs --loop 3000000   (only `whole`, N commands, for a
//        profile; read it with bench/cpuprofile-shares.mjs)
//   node bench/evalsha-stages.mjs --loop 1000000 --vary-token   (the same, with a different token
//        in each command of a cycle of 1024, as real lock releases have; the key stays the same)
//
// Stages, each measured alone or as the difference of two runs that differ only in it:
//   parse        RespParser.next on the chunks
//   dispatch     processCommand of the same argv for `return 0` minus the script's own call
//                (resolve, admission, executor, EVALSHA's argument checks, sha lookup)
//   args→Lua     KEYS/ARGV for 1 key + 1 argument: `return 0` with them minus with none
//   Lua call     luaCallFunction for `return 0` with no arguments: error handler and function
//                pushed, lua_pcall, the integer reply, the GC step
//   redis.call   `redis.call('get', KEYS[1])` twice minus once: one call, executor included
//   Lua run      the release script minus `return 0` minus one redis.call: its own Lua code
//   whole        processCommand of the release script (GET GET GET … of an absent key, as in
//                the socket benchmark; the key is absent so it returns 0 after one call)
//   GET          processCommand of `get lockkey`: the per-command path every command pays
// bench/cpu-cost.mjs measures the whole request over a socket; the difference is the
// socket, Node's streams and the kernel.
import fs from 'node:fs';
import path from 'node:path';
import { root, option, median, inProcessServer, runChunk } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '200000'));
const rounds = Number(option(args, 'rounds', '5'));
const { server, client: c, load } = await inProcessServer(dist);
const { RespParser } = await load('src/protocol/parser.js');
const { scriptingFor } = await load('src/scripting/engine.js');
const engine = scriptingFor(server);

const release = fs.readFileSync(path.join(root, 'bench/lock-release.lua'), 'latin1');
const scripts = {
  release,
  ret0: 'return 0',
  call1: "redis.call('get', KEYS[1]) return 0",
  call2: "redis.call('get', KEYS[1]) redis.call('get', KEYS[1]) return 0",
};
const sha = {};
for (const [name, body] of Object.entries(scripts)) {
  const r = engine.createFunction(body);
  if ('error' in r) throw new Error(r.error);
  sha[name] = r.sha;
}

const resp = (argv) => `*${argv.length}\r\n${argv.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;
/** n copies of argv as 16-command RESP chunks. */
function chunks(argv) {
  const out = [];
  const one = resp(argv);
  for (let i = 0; i < n; i += 16) out.push(Buffer.from(one.repeat(16), 'latin1'));
  return out;
}
function parseAll(bufs, keep = true) {
  const parser = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
  const argvs = [];
  for (const b of bufs) {
    parser.feed(b);
    for (let a = parser.next(); a !== null; a = parser.next()) if (keep) argvs.push(a);
  }
  return argvs;
}
const cpu = (f) => {
  const before = process.cpuUsage();
  f();
  const u = process.cpuUsage(before);
  return ((u.user + u.system) * 1000) / n; // ns per command
};
/** processCommand on freshly parsed copies of argv. */
function whole(argv) {
  const fresh = parseAll(chunks(argv));
  return cpu(() => {
    for (let i = 0; i < fresh.length; i++) {
      c.argv = fresh[i];
      server.processCommand(c);
      if ((i & 15) === 15) c.reply.len = 0;
    }
  });
}
/** The script's call alone (luaCallFunction), as EVALSHA makes it once its checks passed. */
function callOnly(name, argv, numkeys) {
  const script = engine.scripts.get(sha[name]);
  return cpu(() => {
    for (let i = 0; i < n; i++) {
      // Builds before the fifth pass pushed the function first and took three arguments.
      if (engine.callFunction.length < 4) engine.pushEvalFunction(script);
      engine.callFunction(newRun(script), argv, numkeys, script);
      if ((i & 15) === 15) c.reply.len = 0;
    }
  });
}
function newRun(script) {
  return {
    caller: c, name: 'bench', evalMode: true, readOnly: false, flags: script.flags, writeDirty: false, killed: false,
    timedOut: false, startMonotonic: server.clock.monotonic(), resp: 2, repl: 3, argv: [],
  };
}

const cmd = (name, ...rest) => ['evalsha', sha[name], ...rest];
const loop = Number(option(args, 'loop', '0'));
if (loop > 0) {
  // Parsed as it goes (the profile shows parsing beside the rest), 16 commands per chunk.
  const parser = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
  const vary = args.includes('--vary-token');
  const chunkList = [];
  for (let j = 0; j < (vary ? 64 : 1); j++) {
    let text = '';
    for (let k = 0; k < 16; k++) text += resp(cmd('release', '1', 'lockkey', vary ? `token:${String(j * 16 + k).padStart(12, '0')}` : 'token'));
    chunkList.push(Buffer.from(text, 'latin1'));
  }
  const before = process.cpuUsage();
  for (let i = 0; i < loop; i += 16) {
    runChunk(server, c, parser, chunkList[(i >> 4) % chunkList.length]);
  }
  const u = process.cpuUsage(before);
  await new Promise((done) => process.stdout.write(`${((u.user + u.system) / loop).toFixed(3)} µs of CPU per EVALSHA, parse included (${loop} commands)\n`, done));
  process.exit(0);
}
const results = [];
for (let r = 0; r < rounds; r++) {
  server.dbs[0].clear();
  const m = {};
  m.parse = cpu(() => parseAll(chunks(cmd('release', '1', 'lockkey', 'token')), false));
  m.whole = whole(cmd('release', '1', 'lockkey', 'token'));
  m.ret0Args = whole(cmd('ret0', '1', 'lockkey', 'token'));
  m.ret0CallArgs = callOnly('ret0', cmd('ret0', '1', 'lockkey', 'token'), 1);
  m.ret0Call = callOnly('ret0', cmd('ret0', '0'), 0);
  m.call1 = callOnly('call1', cmd('call1', '1', 'lockkey', 'token'), 1);
  m.call2 = callOnly('call2', cmd('call2', '1', 'lockkey', 'token'), 1);
  m.releaseCall = callOnly('release', cmd('release', '1', 'lockkey', 'token'), 1);
  m.get = whole(['get', 'lockkey']);
  const st = {
    parse: m.parse,
    dispatch: m.ret0Args - m.ret0CallArgs,
    'args→Lua': m.ret0CallArgs - m.ret0Call,
    'Lua call': m.ret0Call,
    'redis.call': m.call2 - m.call1,
    'Lua run': m.releaseCall - m.ret0CallArgs - (m.call2 - m.call1),
    whole: m.whole,
    GET: m.get,
  };
  results.push(st);
  process.stderr.write(`round ${r + 1}: ${Object.entries(st).map(([k, v]) => `${k} ${(v / 1000).toFixed(3)}`).join(', ')}\n`);
}
const names = Object.keys(results[0]);
let md = `| ${names.join(' | ')} |\n|${names.map(() => '---:').join('|')}|\n`;
md += `| ${names.map((s) => (median(results.map((x) => x[s])) / 1000).toFixed(3)).join(' | ')} |\n`;
process.stdout.write(`µs of CPU per EVALSHA (median of ${rounds} rounds, ${n} commands, ${dist}):\n\n${md}`, () => process.exit(0));
