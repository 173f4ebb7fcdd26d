#!/usr/bin/env node
// Failover time: from SIGKILL of the master until a client can write to the new master, with
// `down-after-milliseconds 1000`, one sentinel at quorum 1, a master and two replicas.
// Side by side: nodis-sentinel managing nodis-server, and Debian's redis-sentinel managing
// redis-server. The "client" polls SENTINEL GET-MASTER-ADDR-BY-NAME every 10 ms and, once the
// address changes, SETs a key on the new address until it succeeds (a promoted replica answers
// READONLY until SLAVEOF NO ONE lands). Median of --runs (default 3) per setup.
//
// Usage: node bench/failover-time.mjs [--runs N] [--only nodis|redis]
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
      return start(setup.server, [conf, '--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `d${p}.rdb`]);
    });
    const master = client(ports[0]);
    await waitFor('replicas attached', async () => (await master.info('replication')).includes('connected_slaves:2'));
    const sp = await freePort();
    const sconf = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(
      sconf,
      `port ${sp}\nbind 127.0.0.1\nprotected-mode no\ndir ${dir}\nsentinel monitor m 127.0.0.1 ${ports[0]} 1\n` +
        `sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 10000\n`,
    );
    start(setup.sentinel, [sconf]);
    const s = client(sp);
    await waitFor('sentinel sees both replicas', async () => {
      const m = await s.call('sentinel', 'master', 'm');
      return m[m.indexOf('num-slaves') + 1] === '2';
    });
    // Replica INFO must be fresh for selection; let one INFO round and a ping pass first.
    await waitFor('replicas reported', async () => (await s.call('sentinel', 'replicas', 'm')).every((r) => r[r.indexOf('flags') + 1] === 'slave'));

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
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const [name, setup] of Object.entries(SETUPS)) {
  if (only !== null && only !== name) continue;
  const times = [];
  for (let i = 0; i < runs; i++) {
    times.push(await oneRun(setup));
    process.stderr.write(`${name} run ${i + 1}: ${times[i].toFixed(0)} ms\n`);
  }
  results[name] = { runs: times.map((t) => Math.round(t)), medianMs: Math.round(median(times)) };
}
console.log('setup                                  runs (ms)            median (ms)');
for (const [name, r] of Object.entries(results)) {
  const label = name === 'nodis' ? 'nodis-sentinel + nodis-server' : 'redis-sentinel + redis-server';
  console.log(`${label.padEnd(38)} ${r.runs.join(', ').padEnd(20)} ${r.medianMs}`);
}
