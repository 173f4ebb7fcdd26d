#!/usr/bin/env node
// INCR throughput with `appendonly yes`, nodis-server beside redis-server (issue #15), for each
// fsync policy (everysec, always; `off` = appendonly no, the reference for what the AOF adds)
// and each client count (-c 1, -c 50).
//
// A round starts every server fresh (own scratch dir, so its own AOF), gives each an unmeasured
// warm-up of `--warmup` INCRs (default 100000) at -c 50 under `appendfsync everysec` — the JIT's
// tier-up counts calls, and a few thousand fsync-bound requests leave much of nodis's request
// path in V8's baseline tier — then sets the policy under test (CONFIG SET) and runs `redis-benchmark -t incr` in short slices that alternate between
// the servers (the order flipping every slice). The disk here is shared with other jobs and its
// fdatasync latency moves 10x within seconds, so under `always` only requests measured close
// together in time compare; slices keep them close. Per server: the median of the slices'
// requests/s, and its CPU per request over all slices — the scheduler's exact run time of all
// its threads (/proc/<pid>/task/*/schedstat) and the user part (utime, in ticks) — steadier than
// requests/s on a loaded machine. The medians go out as a Markdown table with the load average.
//
// Usage: node bench/aof-throughput.mjs [--rounds 3] [--slices 6] [--policies everysec,always]
//          [--clients 1,50] [--n-everysec 60000] [--n-always 3000] (requests per round and server)
//          [--warmup 100000] [--nodis-bin path/to/bin/nodis-server ...] (repeat to compare builds)
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, median, processCpu } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const rounds = Number(opt('rounds', '3'));
const slices = Number(opt('slices', '6'));
const policies = opt('policies', 'everysec,always').split(',');
const clientCounts = opt('clients', '1,50').split(',').map(Number);
const nFast = Number(opt('n-everysec', '60000'));
const requests = { off: nFast, no: nFast, everysec: nFast, always: Number(opt('n-always', '3000')) };
const warmup = Number(opt('warmup', '100000'));
const nodisBins = args.flatMap((a, i) => (a === '--nodis-bin' ? [path.resolve(args[i + 1])] : []));
if (nodisBins.length === 0) nodisBins.push(path.join(root, 'bin/nodis-server'));

/** requests/s as redis-benchmark's --csv line reports it. */
function benchmark(port, clients, n) {
  const r = spawnSync('redis-benchmark', ['-p', String(port), '-c', String(clients), '-n', String(n), '-t', 'incr', '--csv'], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('"INCR"'));
  if (line === undefined) throw new Error(`redis-benchmark: ${r.stdout}${r.stderr}`);
  return Number(JSON.parse(`[${line}]`)[1]);
}

const servers = [...nodisBins.map((bin, i) => ({ name: nodisBins.length > 1 ? `nodis#${i + 1}` : 'nodis', bin })), { name: 'redis', bin: 'redis-server' }];
/** key `server|policy|clients` → { rps: per slice, runNs, userS, n } */
const results = new Map();
const load0 = os.loadavg()[0];
for (let round = 0; round < rounds; round++) {
  for (const policy of policies) {
    for (const clients of clientCounts) {
      const conf = policy === 'off' ? [] : ['--appendonly', 'yes', '--appendfsync', policy === 'always' ? 'everysec' : policy];
      const running = [];
      try {
        for (const s of servers) running.push({ s, srv: await startServer(`aof-${s.name.replace('#', '-')}`, s.bin, conf) });
        const n = Math.max(100, Math.floor(requests[policy] / slices));
        for (const { srv } of running) {
          if (warmup > 0) benchmark(srv.port, 50, warmup); // unmeasured
          if (policy === 'always') spawnSync('redis-cli', ['-p', String(srv.port), 'config', 'set', 'appendfsync', 'always']);
        }
        for (let slice = 0; slice < slices; slice++) {
          for (const { s, srv } of (round + slice) % 2 === 0 ? running : [...running].reverse()) {
            const before = processCpu(srv.proc.pid);
            const rps = benchmark(srv.port, clients, n);
            const after = processCpu(srv.proc.pid);
            const key = `${s.name}|${policy}|${clients}`;
            if (!results.has(key)) results.set(key, { rps: [], runNs: 0, userS: 0, n: 0 });
            const r = results.get(key);
            r.rps.push(rps);
            r.runNs += after.runNs - before.runNs;
            r.userS += after.userS - before.userS;
            r.n += n;
          }
        }
        const line = running.map(({ s }) => {
          const r = results.get(`${s.name}|${policy}|${clients}`);
          return `${s.name} ${median(r.rps).toFixed(0)} req/s ${(r.runNs / r.n / 1000).toFixed(1)} µs CPU`;
        });
        process.stderr.write(`round ${round + 1} ${policy} -c ${clients} (so far): ${line.join(', ')}\n`);
      } finally {
        for (const { srv } of running) await stopServer(srv);
      }
    }
  }
}
const f = (x, d = 0) => x.toFixed(d);
let md = `INCR with appendonly yes: redis-benchmark -t incr, ${rounds} rounds of fresh servers (each warmed by ${warmup} INCRs under everysec) × ${slices} alternating slices; req/s the median of the slices; CPU per INCR over all slices (all threads' run time; user part from utime). ${new Date().toISOString()}, load average ${f(load0, 1)} at the start, ${f(os.loadavg()[0], 1)} at the end.\n\n`;
md += '| appendfsync | -c | server | req/s | ratio to redis | CPU µs/INCR | user µs/INCR |\n|---|---:|---|---:|---:|---:|---:|\n';
for (const policy of policies) {
  for (const clients of clientCounts) {
    const redisRps = median(results.get(`redis|${policy}|${clients}`).rps);
    for (const s of servers) {
      const r = results.get(`${s.name}|${policy}|${clients}`);
      const rps = median(r.rps);
      md += `| ${policy} | ${clients} | ${s.name} | ${f(rps)} | ${f(rps / redisRps, 2)} | ${f(r.runNs / r.n / 1000, 1)} | ${f((r.userS / r.n) * 1e6, 1)} |\n`;
    }
  }
}
process.stdout.write(md);
