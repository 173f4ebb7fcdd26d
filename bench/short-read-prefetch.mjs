#!/usr/bin/env node
/**
 * What the key read-ahead cost a read holding SET + WAIT (bench/durable.mjs's -P1 request) before
 * wait5 made prefetchKeys pass over reads of fewer than three commands: the parser's scan of the
 * two commands (RespParser.scanSecondArgs) and the hashing and touching of their "keys"
 * (Database.warmBytes: `key:N` and WAIT's `1`), in one process on a keyspace of --keys keys,
 * against the scan alone and against nothing. CPU ns per read, medians of alternating rounds.
 *
 *   node bench/short-read-prefetch.mjs [--keys 10000] [--n 1000000] [--rounds 9]
 */
import path from 'node:path';
import { root, option, inProcessServer } from './lib.mjs';

const args = process.argv.slice(2);
const KEYS = Number(option(args, 'keys', '10000'));
const N = Number(option(args, 'n', '1000000'));
const ROUNDS = Number(option(args, 'rounds', '9'));
const { server, client: c, load } = await inProcessServer(path.join(root, 'dist'));
const { RespParser } = await load('src/protocol/parser.js');
for (let i = 0; i < KEYS; i++) c.db.set(`key:${i}`, 'x'.repeat(64));
const value = 'x'.repeat(64);
const reads = Array.from({ length: 64 }, (_, i) =>
  Buffer.from(`*3\r\n$3\r\nSET\r\n$${`key:${i * 97 % KEYS}`.length}\r\nkey:${i * 97 % KEYS}\r\n$64\r\n${value}\r\n*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$4\r\n1000\r\n`, 'latin1'));
const starts = new Int32Array(16);
const lens = new Int32Array(16);
let sink = 0;

function run(mode) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    // A fresh parser per read would dominate: one parser, fed and drained as the server does.
    const p = parsers[i & 63];
    if (mode !== 'none') {
      const n = p.scanSecondArgs(starts, lens);
      if (mode === 'scan+warm') sink += c.db.warmBytes(p.buffered, starts, lens, n) ? 1 : 0;
      else sink += n;
    }
  }
  const d = process.cpuUsage(t0);
  return ((d.user + d.system) * 1000) / N;
}

const parsers = reads.map((r) => {
  const p = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
  p.feed(r);
  return p;
});
const modes = ['none', 'scan', 'scan+warm'];
const res = Object.fromEntries(modes.map((m) => [m, []]));
for (let r = 0; r < ROUNDS; r++) for (const m of r % 2 ? [...modes].reverse() : modes) res[m].push(run(m));
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const m of modes) console.log(`${m.padEnd(9)} ${med(res[m]).toFixed(0)} ns per read`);
if (sink < 0) console.log(sink);
server.close?.();
process.exit(0);
