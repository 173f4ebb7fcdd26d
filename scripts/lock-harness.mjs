#!/usr/bin/env node
// The lock fault harness (issue 16): a master, two replicas and three sentinels
// (down-after-milliseconds 1000), clients of several lock implementations contending — each
// implementation for its own lock and its own shared resource — while the master is killed
// (SIGKILL) and paused (SIGSTOP past down-after, then SIGCONT: a "zombie" master) in turns.
//
// Every implementation runs at the same time against the same topology, so one failover tests
// them all under the same conditions. Per implementation it counts, from the resource's own log
// (process.hrtime, monotonic):
//   violations   sessions whose critical section was interleaved with another's (A…B…A)
//   stale        writes accepted after another session had written since the writer's previous
//                write — the writes a fenced resource must refuse (for fenced implementations:
//                accepted writes whose token is below one accepted before; must be 0)
//   rejected     writes the fenced resource refused (the fence at work)
//   regressions  grants whose token was not above the token of a grant that had completed
//                before it was requested (nodis/lock's fencing tokens, across failovers)
// and, without faults, acquisitions/s and p99 acquire latency (four clients contending for
// one lock) side by side with node redlock and redis-py (Debian's python3) on the same master.
//
// Usage (build first: npm run build):
//   node scripts/lock-harness.mjs --server nodis|redis [--sentinel nodis|redis] \
//     [--impl all|setnx,redlock,nodis-nowait,nodis-wait,nodis-fenced,nodis-fenced-nowait] \
//     [--failovers 20] [--clients 3] [--healthy-ms 3000] [--bench-seconds 5] [--bench-rounds 3] [--no-bench] [--json out.json]
// Exit code 1 when a fenced implementation accepted a stale write or a token regressed.
//
// The topology is started with the test helpers (test/helpers/sentinel-cluster.ts) and kept in
// `startGroup()` below, so it can move to the package's startTopology() API.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Group, waitFor, redisCli } from '../dist/test/helpers/sentinel-cluster.js';
import { freePort } from '../dist/test/helpers/server.js';
import { Lock, LockError, closeLockConnections } from '../dist/src/lock/index.js';

const Redlock = createRequire(import.meta.url)('redlock').default;

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const SERVER = opt('server', 'nodis');
const SENTINEL = opt('sentinel', SERVER);
const ALL = ['setnx', 'redlock', 'nodis-nowait', 'nodis-wait', 'nodis-fenced', 'nodis-fenced-nowait'];
const IMPLS = opt('impl', 'all') === 'all' ? ALL : opt('impl', '').split(',');
const FAILOVERS = Number(opt('failovers', '20'));
const CLIENTS = Number(opt('clients', '3'));
const BENCH_SECONDS = Number(opt('bench-seconds', '5'));
const BENCH_ROUNDS = Number(opt('bench-rounds', '3'));
const BENCH = !argv.includes('--no-bench');
const JSON_OUT = opt('json', null);
/** How long the topology stays healthy (grants made durable, locks held) before each fault. */
const HEALTHY_MS = Number(opt('healthy-ms', '3000'));
const TTL = 2000;
const NAME = 'tedu';
for (const i of IMPLS) if (!ALL.includes(i)) throw new Error(`unknown --impl ${i}`);
if (!['nodis', 'redis'].includes(SERVER) || !['nodis', 'redis'].includes(SENTINEL)) throw new Error('--server/--sentinel: nodis or redis');

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC

// ---------------------------------------------------------------------------------------------
// Topology: master + 2 replicas + 3 sentinels, via the test helpers.

async function startGroup() {
  const g = new Group();
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = new Map();
  procs.set(ports[0], await g.startData(SERVER, ports[0], null));
  for (const p of ports.slice(1)) {
    procs.set(p, await g.startData(SERVER, p, null));
    redisCli(p, 'replicaof', '127.0.0.1', String(ports[0]));
  }
  await waitFor('replicas attached', async () => (await g.info(ports[0])).includes('connected_slaves:2'));
  const sentinels = [];
  for (let i = 0; i < 3; i++) sentinels.push(await g.startSentinel(SENTINEL, ports[0], 2));
  for (const s of sentinels) await g.client(s.port).call('sentinel', 'debug', 'info-period', '1000', 'publish-period', '500');
  return { g, ports, procs, sentinels };
}

/** The master every sentinel agrees on, with both replicas online and in sync; or null. */
async function healthyMaster(t) {
  const views = [];
  for (const s of t.sentinels) {
    const m = await t.g.client(s.port).call('sentinel', 'master', NAME);
    const f = new Map();
    for (let i = 0; i < m.length; i += 2) f.set(m[i], m[i + 1]);
    if (f.get('flags') !== 'master' || f.get('num-slaves') !== '2') return null;
    views.push(Number(f.get('port')));
  }
  if (!views.every((p) => p === views[0])) return null;
  const master = views[0];
  const info = await t.g.info(master);
  if (!info.includes('role:master') || !info.includes('connected_slaves:2')) return null;
  for (const p of t.ports.filter((x) => x !== master)) {
    const ri = await t.g.info(p);
    if (!ri.includes(`master_port:${master}`) || !ri.includes('master_link_status:up')) return null;
  }
  return master;
}

async function fault(t, i) {
  await waitFor('a healthy topology', () => healthyMaster(t), 90000);
  await sleep(HEALTHY_MS);
  const master = await waitFor('a healthy topology', () => healthyMaster(t), 90000);
  const kind = i % 2 === 1 ? 'SIGKILL' : 'SIGSTOP';
  const t0 = Date.now();
  const proc = t.procs.get(master);
  proc.kill(kind);
  const promoted = await waitFor(
    'failover',
    async () => {
      const a = await t.g.client(t.sentinels[0].port).call('sentinel', 'get-master-addr-by-name', NAME);
      return Number(a[1]) !== master ? Number(a[1]) : null;
    },
    90000,
  );
  const tookMs = Date.now() - t0;
  if (kind === 'SIGKILL') {
    await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', r)));
    t.procs.set(master, await t.g.startData(SERVER, master, null));
  } else {
    proc.kill('SIGCONT');
  }
  log(`failover ${i}: ${kind} of ${master}, ${promoted} promoted after ${tookMs} ms`);
  return { kind, master, promoted, tookMs };
}

// ---------------------------------------------------------------------------------------------
// The shared resource: an append-only log with monotonic timestamps, optionally fenced.

class Resource {
  constructor(fenced) {
    this.fenced = fenced;
    this.log = [];
    this.highest = -Infinity;
    this.rejected = 0;
  }
  write(session, token) {
    if (this.fenced) {
      if (token < this.highest) {
        this.rejected++;
        return false;
      }
      this.highest = token;
    }
    this.log.push({ t: now(), session, token });
    return true;
  }
  analyse() {
    let stale = 0;
    let staleTokens = 0;
    let maxToken = -Infinity;
    const lastIndex = new Map();
    const violated = new Set();
    let lastWriter = null;
    let lastWriterIndex = -1;
    this.log.forEach((w, i) => {
      if (w.token < maxToken) staleTokens++;
      if (typeof w.token === 'number') maxToken = Math.max(maxToken, w.token);
      const mine = lastIndex.get(w.session);
      if (mine !== undefined && lastWriter !== w.session && lastWriterIndex > mine) {
        stale++;
        violated.add(w.session);
      }
      lastIndex.set(w.session, i);
      lastWriter = w.session;
      lastWriterIndex = i;
    });
    return { writes: this.log.length, stale: this.fenced ? staleTokens : stale, violations: violated.size, interleaved: stale, rejected: this.rejected };
  }
}

// ---------------------------------------------------------------------------------------------
// Lock implementations. Each `acquire()` resolves with { token?, valid(): boolean, release() }
// or rejects; the caller retries.

function sentinelClient(t) {
  const c = new Redis({
    sentinels: t.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    name: NAME,
    retryStrategy: () => 100,
    sentinelRetryStrategy: () => 100,
    maxRetriesPerRequest: 3,
    enableAutoPipelining: false,
  });
  c.on('error', () => {});
  return c;
}

const RELEASE = `local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('del', KEYS[1])
return 1`;

function makeImpl(kind, client, key) {
  if (kind === 'setnx') {
    // redis-py's Lock, line for line: SET NX PX with a uuid token, poll every 100 ms, Lua release.
    return {
      async acquire(deadline) {
        const token = randomBytes(16).toString('hex');
        for (;;) {
          const t0 = now();
          if ((await client.set(key, token, 'PX', TTL, 'NX')) === 'OK') {
            return { valid: () => true, release: () => client.eval(RELEASE, 1, key, token), t0 };
          }
          if (now() + 100 > deadline) throw new Error('timeout');
          await sleep(100);
        }
      },
    };
  }
  if (kind === 'redlock') {
    const redlock = new Redlock([client], { retryCount: 100, retryDelay: 100, retryJitter: 50 });
    redlock.on('error', () => {});
    return {
      async acquire() {
        const lock = await redlock.acquire([key], TTL);
        return { valid: () => lock.expiration > Date.now(), release: () => lock.release() };
      },
    };
  }
  const durability = kind === 'nodis-wait' || kind === 'nodis-fenced' ? { timeout: 500 } : false;
  const lock = new Lock(client, key, { ttl: TTL, durability, maxWaitSlice: 500 });
  return {
    lock,
    async acquire(deadline) {
      const held = await lock.acquire({ wait: Math.max(0, deadline - now()) });
      return { token: held.token, valid: () => !held.signal.aborted, release: () => held.release(), held };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Contention under faults.

function startContenders(t, kind) {
  const fenced = kind.startsWith('nodis-fenced');
  const resource = new Resource(fenced);
  const grants = []; // { requested, granted, token }
  const stats = { acquired: 0, notDurable: 0, errors: 0 };
  let stopping = false;
  const clients = [];
  const loops = [];
  for (let i = 0; i < CLIENTS; i++) {
    const client = sentinelClient(t);
    clients.push(client);
    const impl = makeImpl(kind, client, `lock:${kind}`);
    loops.push(
      (async () => {
        while (!stopping) {
          const requested = now();
          let h;
          try {
            h = await impl.acquire(requested + 5000);
          } catch (e) {
            if (e instanceof LockError && e.code === 'NOT_DURABLE') stats.notDurable++;
            else stats.errors++;
            await sleep(20);
            continue;
          }
          const granted = now();
          stats.acquired++;
          if (h.token !== undefined) grants.push({ requested, granted, token: h.token });
          const session = `${i}:${stats.acquired}:${randomBytes(4).toString('hex')}`;
          // The critical section: three writes 250 ms apart, each only while the lock is valid.
          for (let w = 0; w < 3 && !stopping; w++) {
            if (!h.valid()) break;
            if (!resource.write(session, h.token)) break;
            if (w < 2) await sleep(250);
          }
          await Promise.resolve(h.release()).catch(() => undefined);
          await sleep(5);
        }
      })(),
    );
  }
  return {
    kind,
    resource,
    grants,
    stats,
    async stop() {
      stopping = true;
      await Promise.race([Promise.all(loops), sleep(15000)]);
      for (const c of clients) {
        closeLockConnections(c);
        c.disconnect();
      }
    },
  };
}

/** Grants whose token is not above that of a grant that completed before they were requested. */
function tokenRegressions(grants) {
  const byGranted = [...grants].sort((a, b) => a.granted - b.granted);
  const byRequested = [...grants].sort((a, b) => a.requested - b.requested);
  let j = 0;
  let maxBefore = -Infinity;
  let regressions = 0;
  for (const g of byRequested) {
    while (j < byGranted.length && byGranted[j].granted < g.requested) maxBefore = Math.max(maxBefore, byGranted[j++].token);
    if (g.token <= maxBefore) regressions++;
  }
  return regressions;
}

// ---------------------------------------------------------------------------------------------
// Throughput without faults, empty critical section: one client alone (the raw cost of a
// grant and a release), and four clients contending for one lock (hand-over).

function p99(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

async function benchNode(t, kind, contenders) {
  const master = await healthyMaster(t);
  const clients = Array.from({ length: contenders }, () => {
    const c = new Redis({ port: master, host: '127.0.0.1' });
    c.on('error', () => {});
    return c;
  });
  const lat = [];
  const end = now() + BENCH_SECONDS * 1000;
  await Promise.all(
    clients.map(async (c) => {
      const impl = makeImpl(kind, c, `bench:${kind}`);
      while (now() < end) {
        const t0 = now();
        try {
          const h = await impl.acquire(t0 + 10000);
          lat.push(now() - t0);
          await h.release();
        } catch {
          // a redlock retry budget or a wait ran out: counts as no acquisition
        }
      }
    }),
  );
  for (const c of clients) {
    closeLockConnections(c);
    c.disconnect();
  }
  return { perSecond: lat.length / BENCH_SECONDS, p99: p99(lat) };
}

async function benchRedisPy(t, contenders) {
  const master = await healthyMaster(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lock-harness-py-'));
  const file = path.join(dir, 'bench.py');
  fs.writeFileSync(
    file,
    `import sys, time, json, redis
r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]))
end = time.monotonic() + float(sys.argv[2])
lat = []
while time.monotonic() < end:
    t0 = time.monotonic()
    lock = r.lock('bench:redis-py', timeout=2, blocking_timeout=10)
    if lock.acquire():
        lat.append((time.monotonic() - t0) * 1000)
        lock.release()
print(json.dumps(lat))
`,
  );
  const run = () =>
    new Promise((resolve, reject) => {
      const p = spawn('/usr/bin/python3', [file, String(master), String(BENCH_SECONDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`python exited ${code}`))));
    });
  const lat = (await Promise.all(Array.from({ length: contenders }, run))).flat();
  fs.rmSync(dir, { recursive: true, force: true });
  return { perSecond: lat.length / BENCH_SECONDS, p99: p99(lat) };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const t = await startGroup();
  const cleanup = async () => t.g.cleanup();
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const result = { server: SERVER, sentinel: SENTINEL, failovers: [], impls: {}, bench: {} };
  try {
    await waitFor('a healthy topology', () => healthyMaster(t), 90000);
    if (BENCH) {
      // Rounds alternate the implementations; medians of the rounds are reported.
      const rounds = {};
      for (let round = 0; round < BENCH_ROUNDS; round++) {
        for (const kind of [...IMPLS, 'redis-py']) {
          const one = kind === 'redis-py' ? await benchRedisPy(t, 1) : await benchNode(t, kind, 1);
          const four = kind === 'redis-py' ? await benchRedisPy(t, 4) : await benchNode(t, kind, 4);
          (rounds[kind] ??= []).push({ one, four });
          log(`bench ${kind} round ${round + 1}: alone ${one.perSecond.toFixed(0)}/s p99 ${one.p99.toFixed(1)} ms; 4 contending ${four.perSecond.toFixed(0)}/s p99 ${four.p99.toFixed(1)} ms`);
        }
      }
      const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      for (const [kind, rs] of Object.entries(rounds)) {
        const pick = (side) => ({ perSecond: med(rs.map((r) => r[side].perSecond)), p99: med(rs.map((r) => r[side].p99)) });
        result.bench[kind] = { one: pick('one'), four: pick('four'), rounds: rs };
      }
    }
    const runs = IMPLS.map((k) => startContenders(t, k));
    await sleep(2000);
    for (let i = 1; i <= FAILOVERS; i++) {
      try {
        result.failovers.push(await fault(t, i));
      } catch (e) {
        log(`failover ${i} did not complete: ${e.message}`);
        result.failovers.push({ error: e.message });
        break;
      }
    }
    await waitFor('a healthy topology at the end', () => healthyMaster(t), 90000).catch(() => null);
    await sleep(2000);
    for (const r of runs) await r.stop();
    for (const r of runs) {
      result.impls[r.kind] = { ...r.resource.analyse(), ...r.stats, regressions: r.kind.startsWith('nodis') ? tokenRegressions(r.grants) : null };
    }
  } finally {
    await cleanup();
  }
  const done = result.failovers.filter((f) => f.error === undefined).length;
  console.log(`\n### ${SERVER}-server, ${SENTINEL}-sentinel: ${done} failovers (${result.failovers.filter((f) => f.kind === 'SIGKILL').length} SIGKILL, ${result.failovers.filter((f) => f.kind === 'SIGSTOP').length} SIGSTOP), ${CLIENTS} clients per implementation\n`);
  console.log('| implementation | grants | mutual-exclusion violations | stale writes accepted | writes refused by the fence | token regressions | refused as not durable | alone: grants/s, p99 ms | 4 contending: grants/s, p99 ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const fmt = (b) => (b ? `${b.perSecond.toFixed(0)}, ${b.p99.toFixed(1)}` : '–');
  for (const kind of IMPLS) {
    const r = result.impls[kind];
    const b = result.bench[kind];
    console.log(`| ${kind} | ${r.acquired} | ${r.violations} | ${r.stale} | ${r.rejected} | ${r.regressions ?? '–'} | ${r.notDurable} | ${fmt(b?.one)} | ${fmt(b?.four)} |`);
  }
  const py = result.bench['redis-py'];
  if (py) console.log(`| redis-py Lock (python3 processes) | – | – | – | – | – | – | ${fmt(py.one)} | ${fmt(py.four)} |`);
  if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(result, null, 2));
  const unsafe = IMPLS.filter((k) => k.startsWith('nodis-fenced') && (result.impls[k].stale > 0 || result.impls[k].violations > 0 || result.impls[k].regressions > 0));
  const regressed = IMPLS.filter((k) => k.startsWith('nodis') && result.impls[k].regressions > 0);
  if (unsafe.length > 0 || regressed.length > 0 || done < FAILOVERS) {
    console.error(`FAILED: fenced unsafe ${unsafe.join(',') || 'none'}; token regressions ${regressed.join(',') || 'none'}; failovers ${done}/${FAILOVERS}`);
    process.exitCode = 1;
  }
}

await main();
process.exit(process.exitCode ?? 0);
