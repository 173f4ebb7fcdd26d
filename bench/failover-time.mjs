#!/usr/bin/env node
// Failover time: from SIGKILL of the master until a client can write to the new master, with
// `down-after-milliseconds 1000`, one sentinel at quorum 1, a master and two replicas.
// Side by side: nodis-sentinel managing nodis-server, and Debian's redis-sentinel managing
// redis-server. The "client" polls SENTINEL GET-MASTER-ADDR-BY-NAME every 10 ms and, once the
// address changes, SETs a key on the new address until it succeeds (a promoted replica answers
// READONLY until SLAVEOF NO ONE lands). Median of --runs (default 3) per setup.
//
//
// --gap: the write gap an application sees instead (issue #15): three sentinels at quorum 2
// (down-after 1000 ms), and an ioredis Sentinel client doing INCR one at a time (reconnecting
// every 50 ms, asking the sentinels each time); the gap is the longest time between two
// acknowledged INCRs from 0.5 s before the kill until 1 s after the first write on the new
// master. Runs alternate between the setups; median and worst per setup.
//
// Usage: node bench/failover-time.mjs [--runs N] [--only nodis|redis] [--gap]
// Build first (npx tsc -p .). Uses free ports and kills every process it starts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './lib.mjs';

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const SETUPS = {
  nodis: { server: path.join(root, 'bin/nodis-server'), sentinel: path.join(root, 'bin/nodis-sentinel') },
  redis: { server: '/usr/bin/redis-server', sentinel: '/usr/bin/redis-sentinel' },
};
const argv = process.argv.slice(2);
const runs = Number(argv[argv.indexOf('--runs') + 1] ?? 3) || 3;
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const gapMode = argv.includes('--gap');

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function waitFor(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function start(bin, args) {
  const ch = spawn(bin, args, { stdio: 'ignore' });
  children.add(ch);
  ch.once('exit', () => children.delete(ch));
  return ch;
}

function connect(port) {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 20, connectTimeout: 500 });
  c.on('error', () => {});
  return c;
}

async function oneRun(setup) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'failover-bench-'));
  const clients = [];
  const client = (port) => {
    const c = connect(port);
    clients.push(c);
    return c;
  };
  try {
    const ports = [await freePort(), await freePort(), await freePort()];
    const procs = ports.map((p, i) => {
      const conf = path.join(dir, `d${p}.conf`);
      fs.writeFileSync(conf, i === 0 ? '' : `replicaof 127.0.0.1 ${ports[0]}\n`);
      return start(setup.server, [conf, '--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `d${p}.rdb`, '--logfile', path.join(dir, `d${p}.log`)]);
    });
    const master = client(ports[0]);
    await waitFor('replicas attached', async () => (await master.info('replication')).includes('connected_slaves:2'));
    const sps = [];
    for (let i = 0; i < (gapMode ? 3 : 1); i++) {
      const sp = await freePort();
      const sconf = path.join(dir, `sentinel-${sp}.conf`);
      fs.writeFileSync(
        sconf,
        `port ${sp}\nbind 127.0.0.1\nprotected-mode no\ndir ${dir}\nsentinel monitor m 127.0.0.1 ${ports[0]} ${gapMode ? 2 : 1}\n` +
          `sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 10000\nlogfile ${path.join(dir, `sentinel-${sp}.log`)}\n`,
      );
      start(setup.sentinel, [sconf]);
      sps.push(sp);
    }
    const s = client(sps[0]);
    for (const sp of sps) {
      const si = client(sp);
      await waitFor('sentinel sees both replicas and the other sentinels', async () => {
        const m = await si.call('sentinel', 'master', 'm');
        return m[m.indexOf('num-slaves') + 1] === '2' && m[m.indexOf('num-other-sentinels') + 1] === String(sps.length - 1);
      });
      // Replica INFO must be fresh for selection; let one INFO round and a ping pass first.
      await waitFor('replicas reported', async () => (await si.call('sentinel', 'replicas', 'm')).every((r) => r[r.indexOf('flags') + 1] === 'slave'));
    }
    if (gapMode) return await writeGap(procs[0], ports[0], sps, clients);

    const t0 = performance.now();
    procs[0].kill('SIGKILL');
    const byPort = new Map();
    const elapsed = await waitFor('a write on the new master', async () => {
      const [, port] = await s.call('sentinel', 'get-master-addr-by-name', 'm');
      if (Number(port) === ports[0]) return null;
      if (!byPort.has(port)) byPort.set(port, client(Number(port)));
      const ok = (await byPort.get(port).set('k', 'v')) === 'OK';
      return ok ? performance.now() - t0 : null;
    });
    return elapsed;
  } finally {
    for (const c of clients) c.disconnect();
    const exits = [...children].map((ch) => new Promise((r) => ch.once('exit', r)));
    for (const ch of children) ch.kill('SIGKILL');
    await Promise.all(exits);
    // FAILOVER_BENCH_KEEP=<dir>: the logs of the last run are copied there.
    if (process.env.FAILOVER_BENCH_KEEP) fs.cpSync(dir, process.env.FAILOVER_BENCH_KEEP, { recursive: true, filter: (f) => !f.endsWith('.rdb') });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The longest gap between acknowledged INCRs of a Sentinel client across the master's kill. */
async function writeGap(masterProc, masterPort, sentinelPorts, clients) {
  const c = new Redis({
    sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })),
    name: 'm',
    retryStrategy: () => 50,
    sentinelRetryStrategy: () => 50,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
  });
  c.on('error', () => {});
  clients.push(c);
  const acks = [];
  let killedAt = Infinity;
  let newMasterAt = Infinity;
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      try {
        await c.incr('k');
        const t = performance.now();
        acks.push(t);
        if (t > killedAt && newMasterAt === Infinity && c.stream?.remotePort !== masterPort) newMasterAt = t;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  })();
  await waitFor('the first write', async () => acks.length > 0);
  await new Promise((r) => setTimeout(r, 500));
  killedAt = performance.now();
  masterProc.kill('SIGKILL');
  await waitFor('a write on the new master', async () => newMasterAt !== Infinity, 30000);
  await new Promise((r) => setTimeout(r, 1000));
  stop = true;
  await writer;
  let gap = 0;
  for (let i = 1; i < acks.length; i++) if (acks[i] >= killedAt - 500) gap = Math.max(gap, acks[i] - acks[i - 1]);
  return gap;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const setups = Object.entries(SETUPS).filter(([name]) => only === null || only === name);
const times = new Map(setups.map(([name]) => [name, []]));
const load0 = os.loadavg()[0];
// Alternating: run i of every setup before run i + 1 of any.
for (let i = 0; i < runs; i++) {
  for (const [name, setup] of setups) {
    const t = await oneRun(setup);
    times.get(name).push(t);
    process.stderr.write(`${name} run ${i + 1}: ${t.toFixed(0)} ms\n`);
  }
}
console.log(`${new Date().toISOString()}, ${gapMode ? 'longest write gap' : 'kill to first write'}, load average ${load0.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end`);
console.log('| setup | runs (ms) | median (ms) | worst (ms) |');
console.log('|---|---|---:|---:|');
for (const [name, ts] of times) {
  const label = name === 'nodis' ? 'nodis-sentinel + nodis-server' : 'redis-sentinel + redis-server';
  console.log(`| ${label} | ${ts.map((t) => Math.round(t)).join(', ')} | ${Math.round(median(ts))} | ${Math.round(Math.max(...ts))} |`);
}
