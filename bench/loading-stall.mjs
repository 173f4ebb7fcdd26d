#!/usr/bin/env node
/**
 * The slowest reply a client gets while a server loads a dataset, nodis-server and redis-server
 * side by side (issue #14 item 1). Three loads, each while one client sends DBSIZE back to back
 * on the loading server (one command in flight; -LOADING counts as a reply):
 *   - full sync: master `DEBUG POPULATE <keys> key 100`, replica `REPLICAOF`, until the replica's
 *     DBSIZE is <keys>;
 *   - start-up: the master's dump.rdb (SAVE) loaded by a server started on it;
 *   - DEBUG RELOAD on that server.
 * Prints per round and server: replies, -LOADING replies, slowest reply (ms), the load's time.
 *
 *   node bench/loading-stall.mjs [--keys 1000000] [--rounds 3] [--nodis-bin bin/nodis-server]
 *        [--trace-gc]   (the nodis replica's GC trace lines of 50 ms or more are printed too)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, median, option, root } from './lib.mjs';

const args = process.argv.slice(2);
const KEYS = Number(option(args, 'keys', '1000000'));
const ROUNDS = Number(option(args, 'rounds', '3'));
const NODIS = option(args, 'nodis-bin', path.join(root, 'bin/nodis-server'));
const TRACE_GC = args.includes('--trace-gc');

/** A server process in its own dir, its log kept. */
async function start(bin, port, dir, nodeFlags = []) {
  const serverArgs = ['--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes'];
  // Node flags (--trace-gc is not allowed in NODE_OPTIONS): node runs the launcher itself.
  const proc = nodeFlags.length > 0
    ? spawn(process.execPath, [...nodeFlags, bin, ...serverArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(bin, serverArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  const s = { proc, port, log: '' };
  const add = (d) => (s.log += d);
  proc.stdout.on('data', add);
  proc.stderr.on('data', add);
  s.conn = await connectRetry(port, proc);
  return s;
}

async function connectRetry(port, proc) {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server on ${port} exited`);
    const s = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => resolve(c));
      c.once('error', () => resolve(null));
    });
    if (s !== null) return s;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One command on `conn`; resolves with the first reply line (enough for these commands). */
function command(conn, text) {
  return new Promise((resolve) => {
    let buf = '';
    const on = (d) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        conn.off('data', on);
        resolve(buf.slice(0, i));
      }
    };
    conn.on('data', on);
    conn.write(text);
  });
}

async function stop(s) {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await done;
}

/**
 * DBSIZE back to back on `conn` from `begin()` until `done(reply)`; the slowest reply, counts,
 * and the elapsed time from begin to done.
 */
async function poll(conn, begin, done) {
  const t0 = performance.now();
  let replies = 0;
  let loading = 0;
  let slowest = 0;
  let started = false;
  const beginning = begin().then(() => (started = true));
  for (;;) {
    const t = performance.now();
    const r = await command(conn, 'DBSIZE\r\n');
    slowest = Math.max(slowest, performance.now() - t);
    replies++;
    if (r.startsWith('-LOADING')) loading++;
    if (started && done(r)) break;
    if (performance.now() - t0 > 600000) throw new Error('load did not finish in 10 minutes');
  }
  await beginning;
  return { replies, loading, slowest, ms: performance.now() - t0 };
}

async function round(kind, bin) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `loading-stall-${kind}-`));
  const mdir = path.join(tmp, 'm');
  const rdir = path.join(tmp, 'r');
  fs.mkdirSync(mdir);
  fs.mkdirSync(rdir);
  const out = {};
  const master = await start(bin, await freePort(), mdir);
  const replica = await start(bin, await freePort(), rdir, kind === 'nodis' && TRACE_GC ? ['--trace-gc'] : []);
  let loader = null;
  try {
    await command(master.conn, `DEBUG POPULATE ${KEYS} key 100\r\n`);
    // Full sync.
    const probe = await connectRetry(replica.port, replica.proc);
    out.fullsync = await poll(
      replica.conn,
      () => command(probe, `REPLICAOF 127.0.0.1 ${master.port}\r\n`),
      (r) => r === `:${KEYS}`,
    );
    probe.destroy();
    if (TRACE_GC) {
      const long = replica.log.split('\n').filter((l) => /Mark-Compact|Scavenge/.test(l) && Number(/, ([\d.]+) \/ [\d.]+ ms/.exec(l)?.[1] ?? 0) >= 50);
      if (long.length > 0) console.log(`  replica GC pauses >= 50 ms:\n    ${long.join('\n    ')}`);
    }
    await stop(replica);
    // Start-up load of the master's dump.rdb, then DEBUG RELOAD.
    await command(master.conn, 'SAVE\r\n');
    await stop(master);
    const port = await freePort();
    // The client connects as soon as the server listens and polls until the keys are there.
    const t0 = performance.now();
    const proc = spawn(bin, ['--port', String(port), '--dir', mdir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'yes'], { stdio: 'ignore' });
    loader = { proc, port, log: '' };
    loader.conn = await connectRetry(port, proc);
    const startup = { replies: 0, loading: 0, slowest: 0, ms: 0 };
    for (;;) {
      const t = performance.now();
      const reply = await command(loader.conn, 'DBSIZE\r\n');
      startup.slowest = Math.max(startup.slowest, performance.now() - t);
      startup.replies++;
      if (reply.startsWith('-LOADING')) startup.loading++;
      else if (reply === `:${KEYS}`) break;
      if (performance.now() - t0 > 600000) throw new Error('start-up load did not finish in 10 minutes');
    }
    startup.ms = performance.now() - t0;
    out.startup = startup;
    const reloader = await connectRetry(port, loader.proc);
    out.reload = await poll(
      loader.conn,
      () => command(reloader, 'DEBUG RELOAD\r\n'),
      (r) => r === `:${KEYS}`,
    );
    reloader.destroy();
  } finally {
    if (loader !== null) await stop(loader);
    await stop(master);
    await stop(replica);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

const servers = [
  ['nodis', NODIS],
  ['redis', 'redis-server'],
];
const results = {};
console.log(`${KEYS} keys, ${ROUNDS} rounds alternating servers; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
for (let i = 0; i < ROUNDS; i++) {
  for (const [kind, bin] of servers) {
    const r = await round(kind, bin);
    for (const [load, v] of Object.entries(r)) {
      ((results[kind] ??= {})[load] ??= []).push(v);
      console.log(`${kind} ${load}: replies ${v.replies}, -LOADING ${v.loading}, slowest ${v.slowest.toFixed(0)} ms, ${(v.ms / 1000).toFixed(2)} s`);
    }
  }
}
console.log(`\nmedians (slowest reply ms / load s); load average now ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| load | nodis slowest | redis slowest | nodis time | redis time |\n|---|---:|---:|---:|---:|');
for (const load of ['fullsync', 'startup', 'reload']) {
  const n = results.nodis[load];
  const r = results.redis[load];
  console.log(
    `| ${load} | ${median(n.map((x) => x.slowest)).toFixed(0)} ms | ${median(r.map((x) => x.slowest)).toFixed(0)} ms | ${(median(n.map((x) => x.ms)) / 1000).toFixed(2)} s | ${(median(r.map((x) => x.ms)) / 1000).toFixed(2)} s |`,
  );
}
