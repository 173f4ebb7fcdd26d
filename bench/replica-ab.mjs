#!/usr/bin/env node
/**
 * Two replica builds on the same stream: one master (build A) and one replica of each build,
 * `redis-benchmark` SETs (-c 8, random keys; `P=16` for -P 16) and `WAIT 1 100` (-c 4) on the
 * master; per round, each replica's CPU (utime+stime from /proc/<pid>/stat) per write once both
 * have caught up. Both replicas apply the same bytes and answer the same GETACKs at the same
 * time, so the ratio B/A holds under load that makes throughput meaningless; swap A and B
 * between runs (the master is A's build, and A's replica attaches first).
 *
 *   node bench/replica-ab.mjs <server A> <server B> [rounds]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { startServer, stopServer } from './lib.mjs';
const [A, B] = [path.resolve(process.argv[2]), path.resolve(process.argv[3])];
const ROUNDS = Number(process.argv[4] ?? 3);
const WRITES = 150000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** user+sys CPU of a process so far, in µs (clock ticks at 100 Hz). */
function cpu(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10000;
}

const run = (args) => new Promise((resolve) => spawn('redis-benchmark', args, { stdio: 'ignore' }).on('exit', resolve));
const start = async (bin) => {
  const s = await startServer('replica-ab', bin);
  return { ...s, pid: s.proc.pid, c: new Redis(s.port, '127.0.0.1') };
};
const m = await start(A);
const ra = await start(A);
const rb = await start(B);
try {
  await ra.c.replicaof('127.0.0.1', m.port);
  await rb.c.replicaof('127.0.0.1', m.port);
  while (!/connected_slaves:2/.test(await m.c.info('replication'))) await sleep(100);
  await sleep(500);
  for (let r = 0; r < ROUNDS; r++) {
    const a0 = cpu(ra.pid);
    const b0 = cpu(rb.pid);
    const port = String(m.port);
    await Promise.all([
      run(['-p', port, '-c', '8', '-n', String(WRITES), '-r', '100000', '-P', process.env.P ?? '1', 'set', 'key:__rand_int__', 'v']),
      run(['-p', port, '-c', '4', '-n', '40000', 'wait', '1', '100']),
    ]);
    // Both replicas caught up with the master.
    const off = (await m.c.info('replication')).match(/master_repl_offset:(\d+)/)[1];
    while (![...(await m.c.info('replication')).matchAll(/offset=(\d+)/g)].every((x) => x[1] === off)) await sleep(50);
    const a = cpu(ra.pid) - a0;
    const b = cpu(rb.pid) - b0;
    const load = fs.readFileSync('/proc/loadavg', 'latin1').split(' ')[0];
    console.log(`round ${r + 1}: replica A ${(a / WRITES).toFixed(1)} µs/write, replica B ${(b / WRITES).toFixed(1)} µs/write (B/A ${(b / a).toFixed(3)}), load ${load}`);
  }
} finally {
  for (const x of [m, ra, rb]) x.c.disconnect();
  await Promise.all([m, ra, rb].map(stopServer));
}
