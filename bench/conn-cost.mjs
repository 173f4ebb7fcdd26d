#!/usr/bin/env node
// What a connection costs the server (issue #15, conn1): bursts of `--c` connections opened at
// once, as redis-benchmark opens its 50 at the start of every test, each sending one request as
// soon as it is connected (before the server has accepted it) and waiting for the reply; then
// all closed. Per connection, from the server's /proc/<pid>/task/*/schedstat (exact ns):
//   open   the main thread's CPU from the first connect to the last reply (accept + first request)
//   close  the main thread's CPU for the closes (measured after a pause that lets them land)
//   all    every thread's CPU over open + close (V8's workers, libuv's pool)
// and per burst the wall time from the first connect to the last reply (the worst first request).
// Servers alternate round by round, each fresh, with `--warmup` unmeasured bursts first.
//
// A nodis variant is `name=bin[:node flags]`; `--redis` adds redis-server; `name=bin@ENV=V,…`
// sets environment variables for that variant (e.g. 'moved=bin/nodis-server@NODIS_ACCEPT_SHARED=0').
// `--warm-bench N` runs N requests of redis-benchmark (set,get, -c 50 -P 1) first: with
// `--warmup 0 --bursts 1` that is the state latency-p1's measured tests open their connections in.
// Usage: node bench/conn-cost.mjs [--rounds 3] [--bursts 40] [--warmup 20] [--c 50] [--warm-bench 0]
//          [--cmd ping|set|get] [--redis] main=/work/main/bin/nodis-server conn1=bin/nodis-server
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { option, median, redisBenchmark, startVariant, stopVariant } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const bursts = Number(option(args, 'bursts', '40'));
const warmup = Number(option(args, 'warmup', '20'));
const conns = Number(option(args, 'c', '50'));
const cmd = option(args, 'cmd', 'ping');
const serverArgs = option(args, 'server-args', '').split(' ').filter(Boolean);
// Requests of `redis-benchmark -t set,get -c 50 -P 1 -r 100000` before the bursts (0: none): the
// request path warm and the connection path not (latency-p1's state when a measured test opens
// its 50 connections: ~100 connections made before it).
const warmBench = Number(option(args, 'warm-bench', '0'));
const variants = args
  .filter((a) => /^[\w.-]+=/.test(a))
  .map((a) => {
    const name = a.slice(0, a.indexOf('='));
    let rest = a.slice(a.indexOf('=') + 1);
    const env = {};
    const at = rest.indexOf('@');
    if (at >= 0) {
      for (const kv of rest.slice(at + 1).split(',')) env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
      rest = rest.slice(0, at);
    }
    const colon = rest.indexOf(':');
    const bin = path.resolve(colon < 0 ? rest : rest.slice(0, colon));
    const flags = colon < 0 ? [] : rest.slice(colon + 1).split(' ').filter(Boolean);
    return { name, cmd: process.execPath, pre: [...flags, bin], env };
  });
if (args.includes('--redis')) variants.push({ name: 'redis', cmd: 'redis-server', pre: [], env: {} });

const request = (i) => {
  const key = `key:${String(i % 100000).padStart(12, '0')}`;
  if (cmd === 'set') return `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$3\r\nxxx\r\n`;
  if (cmd === 'get') return `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;
  return '*1\r\n$4\r\nPING\r\n';
};

// SIGTERM, so that a server run with --cpu-prof writes its profile.
const start = (v) => startVariant(v, serverArgs);
const stop = (s) => stopVariant(s, 'SIGTERM');

/** ns of CPU: the main thread's, and all threads' together. */
function threadCpu(pid) {
  let all = 0;
  let main = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      all += ns;
      if (t === String(pid)) main = ns;
    } catch {
      // the thread ended meanwhile
    }
  }
  return { main, all };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One burst: `conns` connections at once, one request each; resolves with the sockets and the wall ms. */
function burst(port, base) {
  return new Promise((resolve, reject) => {
    const sockets = [];
    let replied = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < conns; i++) {
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
      sockets.push(s);
      s.once('connect', () => s.write(request(base + i)));
      s.once('data', () => {
        if (++replied === conns) resolve({ sockets, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
      });
      s.on('error', reject);
    }
  });
}

async function closeAll(sockets) {
  await Promise.all(sockets.map((s) => new Promise((r) => {
    s.once('close', r);
    s.end();
  })));
}

async function measure(v) {
  const s = await start(v);
  try {
    const pid = s.proc.pid;
    if (warmBench > 0) await redisBenchmark(['-p', String(s.port), '-t', 'set,get', '-n', String(warmBench), '-c', '50', '-P', '1', '-r', '100000', '-q']).output;
    for (let b = 0; b < warmup; b++) {
      const { sockets } = await burst(s.port, b * conns);
      await closeAll(sockets);
    }
    await sleep(200);
    let open = 0;
    let close = 0;
    let all = 0;
    const walls = [];
    for (let b = 0; b < bursts; b++) {
      await sleep(30);
      const c0 = threadCpu(pid);
      const { sockets, ms } = await burst(s.port, b * conns);
      const c1 = threadCpu(pid);
      await closeAll(sockets);
      await sleep(30);
      const c2 = threadCpu(pid);
      open += c1.main - c0.main;
      close += c2.main - c1.main;
      all += c2.all - c0.all;
      walls.push(ms);
    }
    const per = (ns) => ns / 1000 / (bursts * conns);
    return { open: per(open), close: per(close), all: per(all), wall: median(walls), wallMax: Math.max(...walls) };
  } finally {
    await stop(s);
  }
}

const results = Object.fromEntries(variants.map((v) => [v.name, []]));
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const m = await measure(v);
    results[v.name].push(m);
    console.log(`round ${r + 1} ${v.name}: open ${m.open.toFixed(1)} close ${m.close.toFixed(1)} all ${m.all.toFixed(1)} µs/conn; burst ${m.wall.toFixed(2)} ms (max ${m.wallMax.toFixed(2)}); load ${os.loadavg()[0].toFixed(2)}`);
  }
}
console.log(`\n${conns} connections per burst, ${bursts} bursts, one ${cmd.toUpperCase()} each; medians of ${rounds} rounds (µs of server CPU per connection; burst wall ms)`);
console.log('| server | open (main) | close (main) | all threads | burst median | burst max |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const v of variants) {
  const rs = results[v.name];
  const m = (k) => median(rs.map((x) => x[k]));
  console.log(`| ${v.name} | ${m('open').toFixed(1)} | ${m('close').toFixed(1)} | ${m('all').toFixed(1)} | ${m('wall').toFixed(2)} | ${Math.max(...rs.map((x) => x.wallMax)).toFixed(2)} |`);
}
