#!/usr/bin/env node
// Loads N small keys (default 20,000,000) into a fresh nodis-server and reads some back, to show
// the keyspace has no 2^24 ceiling (KeyDict shards keys over many tables) and to record load time and memory.
// Run by hand (it takes minutes and several GB):
//   node bench/keys-20m.mjs [count] [--server bin/nodis-server|/usr/bin/redis-server]
// Writes pipelined SETs (key:<i> → <i>) over one raw socket in batches, then checks DBSIZE,
// GETs a sample across the whole range, EXISTS on absent keys, and prints RSS + INFO memory.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import { freePort } from './lib.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const serverIdx = args.indexOf('--server');
const serverBin = serverIdx >= 0 ? args.splice(serverIdx, 2)[1] : path.join(root, 'bin/nodis-server');
const total = Number(args[0] ?? 20_000_000);
const BATCH = 20_000;

const port = await freePort();
const dir = fs.mkdtempSync('/tmp/keys-20m-');
const proc = spawn(serverBin, ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise((resolve, reject) => {
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
    if (out.includes('Ready to accept connections')) resolve();
  });
  proc.once('exit', () => reject(new Error(`server exited:\n${out}`)));
});

const sock = net.connect(port, '127.0.0.1');
sock.setNoDelay(true);
await new Promise((r) => sock.once('connect', r));

/** Sends raw RESP and resolves with `n` replies' worth of bytes (simple line counting). */
let pending = null;
let buf = '';
sock.on('data', (d) => {
  buf += d.toString('latin1');
  if (pending) pending();
});
function request(payload, done) {
  return new Promise((resolve) => {
    pending = () => {
      if (done(buf)) {
        const all = buf;
        buf = '';
        pending = null;
        resolve(all);
      }
    };
    sock.write(payload);
    pending();
  });
}
const resp = (...a) => `*${a.length}\r\n` + a.map((x) => `$${Buffer.byteLength(String(x), 'latin1')}\r\n${x}\r\n`).join('');
const countOk = (s) => {
  let n = 0;
  for (let i = s.indexOf('+OK\r\n'); i >= 0; i = s.indexOf('+OK\r\n', i + 5)) n++;
  return n;
};
async function command(...a) {
  const r = await request(resp(...a), (s) => s.endsWith('\r\n') && (s[0] !== '$' || s.split('\r\n').length >= 3 || s.startsWith('$-1')));
  return r;
}
const rss = () => {
  const status = fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
};
const gb = (n) => (n / 1024 ** 3).toFixed(2) + ' GB';

const t0 = Date.now();
for (let start = 0; start < total; start += BATCH) {
  const end = Math.min(total, start + BATCH);
  let payload = '';
  for (let i = start; i < end; i++) payload += resp('SET', `key:${i}`, i);
  // Every reply is "+OK\r\n" (5 bytes): the batch is done when all of them arrived.
  const want = (end - start) * 5;
  const got = await request(payload, (s) => s.length >= want);
  if (countOk(got) !== end - start) throw new Error(`unexpected replies: ${got.slice(0, 200)}`);
  if ((end / BATCH) % 50 === 0 || end === total) {
    const secs = (Date.now() - t0) / 1000;
    console.log(`${end.toLocaleString()} keys  ${secs.toFixed(1)} s  ${Math.round(end / secs).toLocaleString()} keys/s  rss ${gb(rss())}`);
  }
}
const loadSecs = (Date.now() - t0) / 1000;
const dbsize = (await command('DBSIZE')).trim();
console.log(`loaded ${total.toLocaleString()} keys in ${loadSecs.toFixed(1)} s; DBSIZE ${dbsize}`);

let ok = 0;
const samples = 1000;
for (let j = 0; j < samples; j++) {
  const i = Math.floor((j / samples) * total);
  const r = await command('GET', `key:${i}`);
  if (r === `$${String(i).length}\r\n${i}\r\n`) ok++;
}
const last = await command('GET', `key:${total - 1}`);
const absent = await command('EXISTS', 'key:absent', `key:${total}`);
console.log(`sampled GETs correct: ${ok}/${samples}; last key → ${JSON.stringify(last)}; EXISTS absent → ${absent.trim()}`);
const info = await request(resp('INFO', 'memory'), (s) => /^\$(\d+)\r\n/.test(s) && s.length >= Number(/^\$(\d+)/.exec(s)[1]) + 4);
const used = /used_memory:(\d+)/.exec(info);
console.log(`RSS ${gb(rss())}${used ? `, used_memory ${gb(Number(used[1]))}` : ''}, ${(rss() / total).toFixed(0)} bytes/key (RSS)`);
sock.destroy();
proc.kill('SIGKILL');
fs.rmSync(dir, { recursive: true, force: true });
