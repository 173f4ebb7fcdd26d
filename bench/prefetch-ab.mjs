#!/usr/bin/env node
// Server.prefetchKeys on and off in one process, rounds alternating, so both modes share one
// heap and one keyspace (the in-process A/B of docs/PERFORMANCE.md's "Keys read ahead"):
// batches of 16 pipelined GET/SET/INCR on random keys `key:<12 digits>` of a filled keyspace,
// each copied into one reused read buffer, fed to the client's parser, run by processInput. --modes: 0 = off, 1 = the parser's scan only, 2 = scan
// and warm (the build's behaviour). Needs a build whose prefetchKeys reads `globalThis.__pf`:
// make one with `node bench/prefetch-ab.mjs --make-dist <dir>` (a copy of dist/ so patched).
//
//   node bench/prefetch-ab.mjs [--dist dist-pf] [--keys 1000000] [--n 96000] [--rounds 21]
//        [--modes 0,2] [--tests get,set,incr]
import fs from 'node:fs';
import path from 'node:path';
import { root, option, median, inProcessServer } from './lib.mjs';
const args = process.argv.slice(2);
const make = option(args, 'make-dist', '');
if (make !== '') {
  fs.cpSync(path.join(root, 'dist'), make, { recursive: true });
  const file = path.join(make, 'src/server/server.js');
  let js = fs.readFileSync(file, 'utf8');
  const head = 'prefetchKeys(c) {\n';
  const i = js.indexOf(head);
  if (i < 0) throw new Error('prefetchKeys not found in dist/src/server/server.js');
  js = js.slice(0, i + head.length) + '        if (globalThis.__pf === 0) return 1000000;\n' + js.slice(i + head.length);
  js = js.replace('c.db.warmBytes(', 'if (globalThis.__pf !== 1) c.db.warmBytes(');
  fs.writeFileSync(file, js);
  process.exit(0);
}
const dist = path.resolve(option(args, 'dist', 'dist-pf'));
const keys = Number(option(args, 'keys', '1000000'));
const n = Number(option(args, 'n', '160000'));
const rounds = Number(option(args, 'rounds', '15'));
const modes = option(args, 'modes', '0,2').split(',').map(Number);
const tests = option(args, 'tests', 'get,set').split(',');
const PIPELINE = 16;
const { server, client: c, Random } = await inProcessServer(dist);
const COMMANDS = {
  get: (k) => `*2\r\n$3\r\nGET\r\n$16\r\n${k}\r\n`,
  set: (k) => `*3\r\n$3\r\nSET\r\n$16\r\n${k}\r\n$3\r\nxxx\r\n`,
  incr: (k) => `*2\r\n$4\r\nINCR\r\n$16\r\n${k}\r\n`,
};
const shared = Buffer.allocUnsafeSlow(64 * 1024);
const rnd = new Random(7);
function stream(test, count, sequential = false) {
  const one = COMMANDS[test]('key:000000000000');
  const template = Buffer.from(one.repeat(PIPELINE), 'latin1');
  const digitsAt = Array.from({ length: PIPELINE }, (_, i) => i * one.length + one.indexOf('key:') + 4);
  let next = 0;
  for (let b = 0; b < count / PIPELINE; b++) {
    template.copy(shared, 0);
    for (const at of digitsAt) {
      let k = sequential ? next++ : Math.floor(rnd.next() * keys);
      for (let d = 11; d >= 0; d--) { shared[at + d] = 0x30 + (k % 10); k = Math.floor(k / 10); }
    }
    const chunk = shared.subarray(0, template.length);
    c.parser.feed(chunk); server.processInput(c); c.parser.release(chunk); c.reply.len = 0;
  }
}
stream('set', keys, true);
for (const m of modes) { globalThis.__pf = m; for (const t of tests) stream(t, n); }
const res = {};
for (let r = 0; r < rounds; r++) for (const m of (r % 2 ? [...modes].reverse() : modes)) {
  globalThis.__pf = m;
  for (const t of tests) {
    const before = process.cpuUsage(); stream(t, n); const u = process.cpuUsage(before);
    (res[`${t} m${m}`] ??= []).push((u.user + u.system) / n);
  }
}
console.log(Object.entries(res).map(([k, v]) => `${k} ${median(v).toFixed(3)}`).join(', '), `keys ${keys}`);
process.exit(0);
