#!/usr/bin/env node
/**
 * Redis's integration/psync2-reg ("PSYNC2 #3899 regression") outside the Redis suite, with a
 * diagnosis when it fails: a master and two replicas, `redis-benchmark -r 1000 incr
 * __rand_int__` on the master's unix socket, and every 100 ms each replica's master link killed
 * (`CLIENT KILL TYPE MASTER`) with probability `--p`; then DEBUG DIGEST must agree on all three.
 * When it does not, it prints which keys differ and where the servers' logs are (kept), and the
 * replicas' `== CRITICAL ==` lines (a stream resumed in the middle of a command shows as
 * "unknown command '$12'"). A run passes or fails on luck: loop it (`--runs`).
 *
 *   node bench/psync-kill-stress.mjs [--server bin/nodis-server] [--seconds 20] [--runs 1] [--p 0.05]
 *
 * Needs redis-benchmark (redis-tools). Exit code 1 when any run diverged.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort } from './lib.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const BIN = path.resolve(opt('server', path.join(ROOT, 'bin/nodis-server')));
const SECONDS = Number(opt('seconds', '20'));
const RUNS = Number(opt('runs', '1'));
const P = Number(opt('p', '0.05'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function start(procs) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-psync-kill-'));
  const log = path.join(dir, 'log');
  const sock = path.join(dir, 's.sock');
  const fd = fs.openSync(log, 'w');
  const p = spawn(BIN, ['--port', String(port), '--dir', dir, '--save', '', '--unixsocket', sock, '--enable-debug-command', 'yes'], { cwd: dir, stdio: ['ignore', fd, fd] });
  procs.push(p);
  for (let t = 0; t < 400 && !fs.readFileSync(log, 'latin1').includes('Ready to accept'); t++) await sleep(50);
  const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  c.on('error', () => {});
  return { port, dir, log, sock, c };
}

async function run(n) {
  const procs = [];
  const R = [];
  let diverged = false;
  try {
    for (let i = 0; i < 3; i++) R.push(await start(procs));
    await R[1].c.replicaof('127.0.0.1', R[0].port);
    await R[2].c.replicaof('127.0.0.1', R[0].port);
    await R[0].c.set('foo', 'bar');
    while ((await R[1].c.dbsize()) !== 1 || (await R[2].c.dbsize()) !== 1) await sleep(100);
    await R[0].c.config('SET', 'repl-backlog-size', '10mb');
    await R[1].c.config('SET', 'repl-backlog-size', '10mb');
    const bench = spawn('redis-benchmark', ['-s', R[0].sock, '-n', '10000000', '-r', '1000', 'incr', '__rand_int__'], { stdio: 'ignore' });
    const t0 = Date.now();
    let kills = 0;
    while (Date.now() - t0 < SECONDS * 1000) {
      for (const j of [1, 2]) {
        if (Math.random() < P) {
          await R[j].c.client('KILL', 'TYPE', 'MASTER');
          kills++;
        }
      }
      await sleep(100);
    }
    bench.kill('SIGKILL');
    let d = [];
    for (let i = 0; i < 50; i++) {
      d = await Promise.all(R.map((r) => r.c.debug('DIGEST')));
      if (d[0] === d[1] && d[1] === d[2]) break;
      await sleep(1000);
    }
    diverged = !(d[0] === d[1] && d[1] === d[2]);
    console.log(`run ${n}: ${diverged ? 'DIVERGED' : 'same data'} after ${kills} link kills in ${SECONDS} s`);
    if (diverged) {
      const dump = async (r) => {
        const m = new Map();
        for (const k of await r.c.keys('*')) m.set(k, await r.c.get(k));
        return m;
      };
      const m = await Promise.all(R.map(dump));
      for (const j of [1, 2]) {
        const diff = [...m[0]].filter(([k, v]) => m[j].get(k) !== v).map(([k, v]) => `${k}: ${v} on the master, ${m[j].get(k)} here`);
        console.log(`  replica ${j}: ${diff.length} of ${m[0].size} keys differ${diff.length > 0 ? ` (${diff.slice(0, 5).join('; ')})` : ''}`);
        const critical = fs.readFileSync(R[j].log, 'latin1').split('\n').filter((l) => l.includes('CRITICAL'));
        for (const l of critical.slice(0, 5)) console.log(`    ${l}`);
      }
      console.log(`  logs kept: ${R.map((r) => r.log).join(' ')}`);
    }
  } finally {
    for (const r of R) r.c.disconnect();
    for (const p of procs) p.kill('SIGKILL');
    if (!diverged) for (const r of R) fs.rmSync(r.dir, { recursive: true, force: true });
  }
  return diverged;
}

let failed = 0;
for (let i = 1; i <= RUNS; i++) if (await run(i)) failed++;
console.log(`${RUNS - failed} of ${RUNS} runs kept the same data on all three`);
process.exitCode = failed > 0 ? 1 : 0;
