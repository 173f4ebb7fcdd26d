#!/usr/bin/env node
/**
 * The cost of durable acknowledgment (docs/PERFORMANCE.md): write latency (p50/p99) and
 * throughput at pipeline depth 1 and 16, for
 *   nodis SET                       (durable-writes no: acknowledged by the master alone)
 *   nodis SET, durable-writes yes   (acknowledged when 1 of 2 replicas has it: a majority of 3)
 *   nodis SET + WAIT 1 1000         (the same guarantee asked per write by the client)
 *   redis-server SET + WAIT 1 1000
 *   redis-server SET                (reference)
 * Each topology is a master and two replicas on loopback; one load generator (this script, raw
 * RESP over `--conns` connections) drives all, so client overhead is the same. A "write" with
 * WAIT is SET and WAIT sent back to back; its latency ends with WAIT's reply. Rounds alternate
 * between the configurations; the medians of the rounds are printed as a Markdown table.
 *
 * `--split` adds a table of CPU per write by process (master, replicas' mean) and by user/sys.
 * `--counts` prints (stderr) the master's REPLCONF calls, socket reads and writes per write of
 * each load, from INFO before and after it (its two INFO calls are counted too: negligible).
 * `--wait-pairs` measures SET + WAIT 1 only, for every pairing of master and replicas
 * (nodis/nodis, nodis master + redis replicas, redis master + nodis replicas, redis/redis), to
 * show which side of the round trip costs the time; `--only <text>[|<text>…]` keeps the configurations
 * whose name contains it. Beside the rates: server CPU (user+sys, all three processes of the
 * topology) per write, steadier than throughput on a loaded machine.
 *
 *   node bench/durable.mjs [--rounds 3] [--seconds 4] [--conns 8] [--wait-pairs [--nodis-before bin]] [--only text]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const opt = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const ROUNDS = Number(opt('rounds', '3'));
const SECONDS = Number(opt('seconds', '4'));
const CONNS = Number(opt('conns', '8'));
const COUNTS = args.includes('--counts');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const procs = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-bench-durable-'));

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** One request/reply exchange on a fresh connection (set-up only). */
function command(port, argv) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(encode(argv)));
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.endsWith('\r\n') && (buf[0] !== '$' || buf.split('\r\n').length >= 3)) {
        s.destroy();
        resolve(buf);
      }
    });
    s.on('error', reject);
  });
}

function encode(argv) {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** [user, sys] CPU seconds a process has used so far (Linux /proc). */
function cpuSplit(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[11]) / 100, Number(fields[12]) / 100];
}

/** user+sys CPU seconds a process has used so far. */
function cpuSeconds(pid) {
  const [u, s] = cpuSplit(pid);
  return u + s;
}

async function start(bin, extra) {
  const port = await freePort();
  const d = fs.mkdtempSync(path.join(dir, 'n-'));
  const argv = ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', d, '--repl-diskless-sync-delay', '0', ...extra];
  // DURABLE_NODE_ARGS="--cpu-prof --cpu-prof-dir=…" (with DURABLE_SIGNAL=SIGTERM): node flags for
  // the nodis servers (NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = process.env.DURABLE_NODE_ARGS;
  const p = nodeArgs !== undefined && bin !== REDIS ? spawn(process.execPath, [...nodeArgs.split(' '), bin, ...argv], { stdio: 'ignore' }) : spawn(bin, argv, { stdio: 'ignore' });
  procs.push(p);
  for (;;) {
    try {
      if ((await command(port, ['PING'])).startsWith('+PONG')) return { port, pid: p.pid };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
}

async function topology(bin, extra, replicaBin = bin) {
  const m = await start(bin, extra);
  const pids = [m.pid];
  for (let i = 0; i < 2; i++) pids.push((await start(replicaBin, [...(replicaBin === bin ? extra : []), '--replicaof', '127.0.0.1', String(m.port)])).pid);
  for (;;) {
    const info = await command(m.port, ['INFO', 'replication']);
    if ((info.match(/state=online/g) ?? []).length === 2 && !/durable_lease_ms_left:0\r/.test(info)) return { port: m.port, pids };
    await sleep(100);
  }
}

/** Runs `seconds` of writes at pipeline depth `depth` on CONNS connections. */
async function load(topo, depth, withWait, seconds) {
  const port = topo.port;
  const cpu0 = topo.pids.reduce((n, pid) => n + cpuSeconds(pid), 0);
  const split0 = topo.pids.map(cpuSplit);
  const lat = [];
  let ops = 0;
  const end = performance.now() + seconds * 1000;
  let seq = 0;
  const conn = () =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.setNoDelay(true);
      let pendingLines = 0;
      let t0 = 0;
      const perWrite = withWait ? 2 : 1;
      const send = () => {
        if (performance.now() > end) {
          s.destroy();
          resolve();
          return;
        }
        let out = '';
        for (let i = 0; i < depth; i++) {
          out += encode(['SET', `key:${seq++ % 10000}`, 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx']);
          if (withWait) out += encode(['WAIT', '1', '1000']);
        }
        pendingLines = depth * perWrite;
        t0 = performance.now();
        s.write(out);
      };
      s.on('connect', send);
      s.on('data', (d) => {
        // Every reply here is one line (+OK, :1, or an error).
        for (let i = 0; i < d.length; i++) if (d[i] === 10) pendingLines--;
        if (pendingLines === 0) {
          const t = performance.now() - t0;
          ops += depth;
          for (let i = 0; i < depth; i++) lat.push(t);
          send();
        }
      });
      s.on('error', () => resolve());
    });
  // --counts: the master's INFO around the load, per write — REPLCONF calls (the replicas' ACKs),
  // socket reads and writes of all its clients: the round trip's shape, comparable across servers.
  const info0 = COUNTS ? await command(port, ['INFO', 'all']) : '';
  await Promise.all(Array.from({ length: CONNS }, conn));
  if (COUNTS) {
    const info1 = await command(port, ['INFO', 'all']);
    const per = (re) => ((Number(info1.match(re)?.[1] ?? 0) - Number(info0.match(re)?.[1] ?? 0)) / Math.max(1, ops)).toFixed(3);
    process.stderr.write(`  -P${depth} ${ops} writes: per write REPLCONF ${per(/cmdstat_replconf:calls=(\d+)/)}, reads ${per(/total_reads_processed:(\d+)/)}, writes ${per(/total_writes_processed:(\d+)/)}\n`);
  }
  const cpu = topo.pids.reduce((n, pid) => n + cpuSeconds(pid), 0) - cpu0;
  // Per process, µs per write: [master user, master sys, replicas' user (mean), replicas' sys (mean)].
  const d = topo.pids.map((pid, i) => cpuSplit(pid).map((x, j) => ((x - split0[i][j]) * 1e6) / Math.max(1, ops)));
  const split = [d[0][0], d[0][1], (d[1][0] + d[2][0]) / 2, (d[1][1] + d[2][1]) / 2];
  lat.sort((a, b) => a - b);
  const q = (f) => lat[Math.min(lat.length - 1, Math.floor(f * lat.length))] ?? NaN;
  return { rps: ops / seconds, p50: q(0.5), p99: q(0.99), cpuUs: ops > 0 ? (cpu * 1e6) / ops : NaN, split };
}

const NODIS = path.join(ROOT, 'bin/nodis-server');
const REDIS = '/usr/bin/redis-server';
const only = opt('only', '');
const configs = (
  args.includes('--wait-pairs')
    ? [
        { name: 'nodis SET + WAIT 1', bin: NODIS, extra: [], wait: true },
        { name: 'redis-server SET + WAIT 1', bin: REDIS, extra: [], wait: true },
        { name: 'nodis master, redis replicas: SET + WAIT 1', bin: NODIS, replicaBin: REDIS, extra: [], wait: true },
        { name: 'redis master, nodis replicas: SET + WAIT 1', bin: REDIS, replicaBin: NODIS, extra: [], wait: true },
        // --nodis-before <bin/nodis-server of another build>: that build beside this one.
        ...(args.includes('--nodis-before') ? [{ name: 'nodis (before) SET + WAIT 1', bin: opt('nodis-before', ''), extra: [], wait: true }] : []),
      ]
    : [
        { name: 'nodis SET', bin: NODIS, extra: [], wait: false },
        { name: 'nodis SET, durable-writes yes', bin: NODIS, extra: ['--durable-writes', 'yes', '--durable-replicas', '2'], wait: false },
        { name: 'nodis SET + WAIT 1', bin: NODIS, extra: [], wait: true },
        { name: 'redis-server SET + WAIT 1', bin: REDIS, extra: [], wait: true },
        { name: 'redis-server SET', bin: REDIS, extra: [], wait: false },
      ]
).filter((c) => only.split('|').some((o) => c.name.includes(o)));

try {
  for (const c of configs) c.topo = await topology(c.bin, c.extra, c.replicaBin);
  const load0 = os.loadavg()[0];
  const results = new Map(configs.map((c) => [c.name, { p1: [], p16: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of configs) {
      results.get(c.name).p1.push(await load(c.topo, 1, c.wait, SECONDS));
      results.get(c.name).p16.push(await load(c.topo, 16, c.wait, SECONDS));
      process.stderr.write(`round ${r + 1} ${c.name}: done\n`);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const f = (x, d = 2) => x.toFixed(d);
  console.log(`${new Date().toISOString()}, load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`);
  console.log(`| configuration (${CONNS} connections, medians of ${ROUNDS} rounds) | -P1 writes/s | -P1 p50 ms | -P1 p99 ms | -P1 CPU µs/write | -P16 writes/s | -P16 p50 ms (batch) | -P16 p99 ms (batch) | -P16 CPU µs/write |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const c of configs) {
    const x = results.get(c.name);
    console.log(
      `| ${c.name} | ${f(med(x.p1.map((y) => y.rps)), 0)} | ${f(med(x.p1.map((y) => y.p50)))} | ${f(med(x.p1.map((y) => y.p99)))} | ${f(med(x.p1.map((y) => y.cpuUs)), 1)} | ${f(med(x.p16.map((y) => y.rps)), 0)} | ${f(med(x.p16.map((y) => y.p50)))} | ${f(med(x.p16.map((y) => y.p99)))} | ${f(med(x.p16.map((y) => y.cpuUs)), 1)} |`,
    );
  }
  if (args.includes('--split')) {
    // /proc/<pid>/stat's utime and stime per write, by process (the replicas' mean): which side
    // of the round trip costs, and whether it is JS (user) or the kernel (sys).
    console.log('');
    console.log('| configuration (µs of CPU per write, medians) | -P1 master user | -P1 master sys | -P1 replica user | -P1 replica sys | -P16 master user | -P16 master sys | -P16 replica user | -P16 replica sys |');
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of configs) {
      const x = results.get(c.name);
      const cols = [x.p1, x.p16].flatMap((rs) => [0, 1, 2, 3].map((k) => f(med(rs.map((y) => y.split[k])), 1)));
      console.log(`| ${c.name} | ${cols.join(' | ')} |`);
    }
  }
} finally {
  // DURABLE_SIGNAL=SIGTERM lets servers run under NODE_OPTIONS=--cpu-prof write their profiles.
  for (const p of procs) p.kill(process.env.DURABLE_SIGNAL ?? 'SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}
