#!/usr/bin/env node
// What a `-P 16` run is made of on a small machine, per request, for each server side by side:
// the server's CPU split by thread (main thread, V8's GC helpers and compiler, libuv), each
// thread's context switches and run-queue wait (/proc/<pid>/task/*/schedstat), the
// redis-benchmark client's own CPU and wait, the machine's idle time, and the throughput.
// Servers alternate round by round; each round is a fresh server, a warm-up of the same test,
// then the measured run. docs/PERFORMANCE.md, "p16g".
//
// Usage: node bench/p16-anatomy.mjs [--rounds 3] [--n 600000] [--warmup 200000] [--tests lpush,rpush]
//          [--pipeline 16] [--nodis-bin path ...] [--no-redis] [--json] [--pre zadd]
//          [--sequence] [--warmup-tests list]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { root, option, startServer, stopServer, median } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const rounds = Number(opt('rounds', '3'));
const n = Number(opt('n', '600000'));
const warmup = Number(opt('warmup', '200000'));
const pipeline = opt('pipeline', '16');
const tests = opt('tests', 'lpush').split(',');
// --pre zadd: a test run (not measured) between the warm-up and the measured run, e.g. to fill
// the sorted set ZPOPMIN pops from, as redis-benchmark's own order does.
const pre = opt('pre', '');
// --warmup-tests a,b: what the warm-up runs (default: what is measured).
const warmupTests = opt('warmup-tests', '');
// --warmup-pipeline 1: the warm-up's depth (bench/run.mjs runs -P 1 before -P 16 on one server).
const warmupPipeline = opt('warmup-pipeline', pipeline);
const nodisBins = args.flatMap((a, i) => (a === '--nodis-bin' ? [path.resolve(args[i + 1])] : []));
if (nodisBins.length === 0) nodisBins.push(path.join(root, 'bin/nodis-server'));
const TICK_US = 1e6 / 100; // USER_HZ

/** Per thread: name, user and system ticks, run and wait ns, switches. */
function threads(pid) {
  const out = new Map();
  let dirs = [];
  try { dirs = fs.readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of dirs) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const [run, wait, slices] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const vol = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]);
      const invol = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)[1]);
      out.set(tid, { name, utime: Number(rest[11]), stime: Number(rest[12]), run, wait, slices, vol, invol });
    } catch { /* thread gone */ }
  }
  return out;
}

/** Thread group: the main thread, or a helper. */
function group(name, tid, pid) {
  // Node 20 names every thread "node": the main thread is the one whose tid is the pid; the
  // others are V8's platform workers (parallel scavenge, concurrent marking and compilation),
  // its delayed-task thread and libuv's (idle here: no file or DNS work).
  return String(tid) === String(pid) ? 'main' : 'helpers';
}

function diff(pid, a, b) {
  const g = {};
  for (const [tid, t1] of b) {
    const t0 = a.get(tid) ?? { utime: 0, stime: 0, run: 0, wait: 0, slices: 0, vol: 0, invol: 0 };
    const k = group(t1.name, tid, pid);
    g[k] ??= { user: 0, sys: 0, run: 0, wait: 0, slices: 0, vol: 0, invol: 0 };
    g[k].user += t1.utime - t0.utime; g[k].sys += t1.stime - t0.stime;
    g[k].run += t1.run - t0.run; g[k].wait += t1.wait - t0.wait; g[k].slices += t1.slices - t0.slices;
    g[k].vol += t1.vol - t0.vol; g[k].invol += t1.invol - t0.invol;
  }
  return g;
}

function idleTicks() {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: cpu[3] + cpu[4], total: cpu.reduce((s, v) => s + v, 0) };
}

function loadavg() { return fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]; }

/**
 * Runs redis-benchmark (--csv) and samples the server's and the client's threads when it starts
 * and as each test's line arrives, so one run of several tests is split per test. Returns
 * [{ test, rps, server: threads before/after, bench: its CPU ticks and wait before/after }].
 */
function bench(port, test, count, serverPid, depth = pipeline) {
  return new Promise((resolve) => {
    const child = spawn('stdbuf', ['-oL', 'redis-benchmark', '-p', String(port), '-n', String(count), '-c', '50', '-P', depth, '-r', '100000', '--csv', '-t', test], { stdio: ['ignore', 'pipe', 'inherit'] });
    const sample = () => ({ server: threads(serverPid), client: threads(child.pid), idle: idleTicks() });
    let prev = sample();
    let out = '';
    const segments = [];
    child.stdout.on('data', (d) => {
      out += d;
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^"([^"]+)","([\d.]+)"/.exec(line);
        if (m === null) continue;
        const now = sample();
        segments.push({ test: m[1], rps: Number(m[2]), before: prev, after: now });
        prev = now;
      }
    });
    child.on('exit', () => resolve(segments));
  });
}

/** The client's CPU (µs), run-queue wait (µs) and switches over a segment. */
function clientDiff(a, b) {
  let cpu = 0, wait = 0, cs = 0;
  for (const [tid, t1] of b) {
    const t0 = a.get(tid) ?? { utime: 0, stime: 0, wait: 0, vol: 0, invol: 0 };
    cpu += (t1.utime + t1.stime - t0.utime - t0.stime) * TICK_US;
    wait += (t1.wait - t0.wait) / 1e3;
    cs += t1.vol + t1.invol - t0.vol - t0.invol;
  }
  return { cpu, wait, cs };
}

const servers = [...nodisBins.map((bin, i) => ({ name: nodisBins.length > 1 ? `nodis#${i + 1}` : 'nodis', bin })), ...(args.includes('--no-redis') ? [] : [{ name: 'redis', bin: 'redis-server' }])];
const rows = {};
console.log(`# servers: ${servers.map((s) => `${s.name}=${s.bin}`).join(' ')}`);
// --sequence: all --tests in one redis-benchmark run per round (redis-benchmark's own order, as
// bench/run.mjs runs them), each test's figures taken between its line and the previous one.
const sequence = args.includes('--sequence');
const groups = sequence ? [tests.join(',')] : tests;
for (const what of groups) {
  for (let round = 0; round < rounds; round++) {
    for (const s of servers) {
      const srv = await startServer(s.name, s.bin);
      const pid = srv.proc.pid;
      if (warmup > 0) await bench(srv.port, warmupTests || what, warmup, pid, warmupPipeline);
      if (pre !== '') await bench(srv.port, pre, n, pid);
      const load = loadavg();
      const segments = await bench(srv.port, what, n, pid);
      await stopServer(srv);
      for (const seg of segments) {
        const test = seg.test.split(' ')[0].toLowerCase();
        const g = diff(pid, seg.before.server, seg.after.server);
        const c = clientDiff(seg.before.client, seg.after.client);
        const idle = (seg.after.idle.idle - seg.before.idle.idle) / Math.max(1, seg.after.idle.total - seg.before.idle.total);
        const per = (x) => x / n;
        const r = { load, rps: seg.rps, idle, bench: { cpu: per(c.cpu), wait: per(c.wait), cs: per(c.cs) }, threads: {} };
        for (const [k, v] of Object.entries(g)) {
          r.threads[k] = { cpu: per((v.user + v.sys) * TICK_US), user: per(v.user * TICK_US), sys: per(v.sys * TICK_US), run: per(v.run / 1e3), wait: per(v.wait / 1e3), vol: per(v.vol), invol: per(v.invol), slices: per(v.slices) };
        }
        ((rows[test] ??= {})[s.name] ??= []).push(r);
        const th = Object.entries(r.threads).map(([k, v]) => `${k} run ${v.run.toFixed(3)} (u ${v.user.toFixed(2)} s ${v.sys.toFixed(2)}) wait ${v.wait.toFixed(3)} cs ${(v.vol + v.invol).toFixed(4)}`).join(' | ');
        console.log(`${test} r${round} ${s.name.padEnd(8)} load ${load} ${Math.round(r.rps)}/s idle ${(r.idle * 100).toFixed(1)}% | bench cpu ${r.bench.cpu.toFixed(3)} wait ${r.bench.wait.toFixed(3)} cs ${r.bench.cs.toFixed(4)} | ${th}`);
      }
    }
  }
}
// Medians per test and server (µs per request; cs per request).
console.log('\n| test | server | req/s | machine idle | bench CPU | bench wait | main run | main user | main sys | main wait | main cs | helpers run | helpers wait |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [test, byServer] of Object.entries(rows)) {
  for (const [name, rs] of Object.entries(byServer)) {
    const m = (f) => median(rs.map(f));
    const th = (k, f) => m((r) => (r.threads[k] ? f(r.threads[k]) : 0));
    console.log(`| ${test} | ${name} | ${Math.round(m((r) => r.rps))} | ${(m((r) => r.idle) * 100).toFixed(1)}% | ${m((r) => r.bench.cpu).toFixed(3)} | ${m((r) => r.bench.wait).toFixed(3)} | ${th('main', (v) => v.run).toFixed(3)} | ${th('main', (v) => v.user).toFixed(2)} | ${th('main', (v) => v.sys).toFixed(2)} | ${th('main', (v) => v.wait).toFixed(3)} | ${th('main', (v) => v.vol + v.invol).toFixed(4)} | ${th('helpers', (v) => v.run).toFixed(3)} | ${th('helpers', (v) => v.wait).toFixed(3)} |`);
  }
}
if (args.includes('--json')) console.log(JSON.stringify(rows));
