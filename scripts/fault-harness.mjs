#!/usr/bin/env node
/**
 * The fault-injection harness (docs/CONSISTENCY.md): master, two replicas, three sentinels and
 * two clients, each in its own network namespace; partitions, kill -9, SIGSTOP and lossy links
 * injected into the master; an append-only list and registers checked at the end.
 *
 *   node scripts/fault-harness.mjs [--server nodis|redis|nodis-rs|both|all] [--config plain,wait1,minreplicas|all]
 *        [--config …,durable] [--fault partition-with-client,partition-alone,kill9,sigstop,lossy-master,replica-partition,clock-jump|all]
 *        [--runs N] [--start K] [--run-ms 10000] [--fault-at 2000] [--heal-at 8000] [--out results.jsonl] [--quiet] [--wait-lock S]
 *   node scripts/fault-harness.mjs --summary results.jsonl     (the table from a results file)
 *
 * --runs N is per server per configuration; the faults take turns. Needs root, iproute2 and
 * iptables; run `npm run build` first for nodis. The harness creates its namespaces (nfh-*) at
 * start — removing any a crashed run left — and removes them on exit, SIGINT and SIGTERM. Only
 * one harness runs at a time (a lock file in /tmp).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? dflt : args[i + 1];
}

const ALL_FAULTS = ['partition-with-client', 'partition-alone', 'kill9', 'sigstop', 'lossy-master', 'replica-partition', 'clock-jump'];

function summarize(rows) {
  const groups = new Map();
  for (const r of rows) {
    const k = `${r.server}|${r.config}`;
    let g = groups.get(k);
    if (g === undefined) groups.set(k, (g = { server: r.server, config: r.config, runs: 0, failovers: 0, notConverged: 0, acked: 0, lost: 0, duplicated: 0, unexpected: 0, reads: 0, staleReads: 0, runsWithLoss: 0, divergedReplicas: 0, faults: new Map() }));
    g.runs++;
    if (r.failover) g.failovers++;
    if (!r.converged) g.notConverged++;
    if (r.lost > 0) g.runsWithLoss++;
    for (const f of ['acked', 'lost', 'duplicated', 'unexpected', 'reads', 'staleReads', 'divergedReplicas']) g[f] += r[f];
    const fg = g.faults.get(r.fault) ?? { runs: 0, acked: 0, lost: 0 };
    fg.runs++;
    fg.acked += r.acked;
    fg.lost += r.lost;
    g.faults.set(r.fault, fg);
  }
  const pct = (a, b) => (b === 0 ? '0%' : `${((100 * a) / b).toFixed(1)}%`);
  const lines = [
    '| server | configuration | runs | failovers | acked writes | lost (%) | runs with loss | duplicated | stale reads / reads | not converged |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const sorted = [...groups.values()].sort((a, b) => (a.config + a.server).localeCompare(b.config + b.server));
  for (const g of sorted) {
    lines.push(
      `| ${g.server} | ${g.config} | ${g.runs} | ${g.failovers} | ${g.acked} | ${g.lost} (${pct(g.lost, g.acked)}) | ${g.runsWithLoss} | ${g.duplicated} | ${g.staleReads} / ${g.reads} | ${g.notConverged} |`,
    );
  }
  // Per fault: lost / acknowledged (runs), one column per server.
  const servers = [...new Set(sorted.map((g) => g.server))];
  const faults = [...new Set(sorted.flatMap((g) => [...g.faults.keys()]))];
  lines.push('', `| fault | configuration | ${servers.map((s) => `${s}: lost / acked (runs)`).join(' | ')} |`, `|---|---|${servers.map(() => '---:').join('|')}|`);
  for (const f of faults) {
    for (const config of [...new Set(sorted.map((g) => g.config))]) {
      const cells = servers.map((sv) => {
        const x = groups.get(`${sv}|${config}`)?.faults.get(f);
        return x === undefined ? '–' : `${x.lost} / ${x.acked} (${x.runs})`;
      });
      lines.push(`| ${f} | ${config} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

if (opt('summary', null) !== null) {
  const rows = fs
    .readFileSync(opt('summary'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  console.log(summarize(rows));
  process.exit(0);
}

const netns = await import('../bench/faults/netns.mjs');

if (!args.includes('--inner')) {
  // Outer process: owns the namespaces; the runs happen in a child inside the hub namespace.
  const why = netns.preflight();
  if (why !== null) {
    console.error(why);
    process.exit(2);
  }
  const lock = netns.SLOT === 0 ? '/tmp/nodis-fault-harness.lock' : `/tmp/nodis-fault-harness-${netns.SLOT}.lock`;
  // --wait-lock S: wait up to S seconds for a running harness to finish instead of failing.
  const lockDeadline = Date.now() + Number(opt('wait-lock', '0')) * 1000;
  for (;;) {
    let holder = 0;
    try {
      holder = Number(fs.readFileSync(lock, 'utf8'));
      if (holder > 0 && holder !== process.pid) process.kill(holder, 0);
      else holder = 0;
    } catch {
      // no lock, or a stale one from a crashed run
      holder = 0;
    }
    if (holder === 0) break;
    if (Date.now() > lockDeadline) {
      console.error(`another fault harness (pid ${holder}) is running`);
      process.exit(3);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  fs.writeFileSync(lock, String(process.pid));
  let inner = null;
  const cleanup = () => {
    netns.teardown();
    try {
      if (Number(fs.readFileSync(lock, 'utf8')) === process.pid) fs.rmSync(lock);
    } catch {
      // already gone
    }
  };
  const onSignal = (sig) => {
    if (inner !== null && inner.exitCode === null) inner.kill(sig);
    cleanup();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code = 1;
  try {
    netns.setup();
    inner = spawn('ip', ['netns', 'exec', netns.HUB, process.execPath, new URL(import.meta.url).pathname, ...args, '--inner'], { stdio: 'inherit' });
    code = await new Promise((r) => inner.on('exit', (c) => r(c ?? 1)));
  } finally {
    cleanup();
  }
  process.exit(code);
}

// Inner process, inside the hub namespace.
const { FaultRun, CONFIGS, SERVERS } = await import('../bench/faults/harness.mjs');
const list = (v, all) => (v === 'all' ? all : v.split(','));
const servers = opt('server', 'both') === 'both' ? ['nodis', 'redis'] : list(opt('server'), Object.keys(SERVERS));
const configs = list(opt('config', 'all'), Object.keys(CONFIGS));
const faults = list(opt('fault', 'all'), ALL_FAULTS);
const runs = Number(opt('runs', '1'));
// --start K continues a series (the faults take turns by run number).
const first = Number(opt('start', '1')) - 1;
const runMs = Number(opt('run-ms', '10000'));
// --fault-at / --heal-at (ms into the workload): shorter runs; the outage must stay longer than
// down-after (1000 ms) plus an election, so that every run still has a real failover.
const faultAtMs = Number(opt('fault-at', '2000'));
const healAtOpt = opt('heal-at', null);
const out = opt('out', null);
const quiet = args.includes('--quiet');
const rows = [];
let stopping = false;
process.on('SIGINT', () => (stopping = true));
process.on('SIGTERM', () => (stopping = true));
for (let i = first; i < first + runs && !stopping; i++) {
  // Alternate servers and configurations within each round, so machine load affects all alike.
  for (const config of configs) {
    for (const server of servers) {
      if (stopping) break;
      // A configuration of nodis's own (durable) runs only on the servers that have it.
      if (CONFIGS[config].servers !== undefined && !CONFIGS[config].servers.includes(server)) continue;
      const fault = faults[i % faults.length];
      const run = new FaultRun({ server, config, fault, runMs, faultAtMs, healAtMs: healAtOpt !== null ? Number(healAtOpt) : Math.min(8000, runMs - 1000), log: (m) => quiet || console.error(`  [${server} ${config} ${fault} #${i + 1}] ${m}`) });
      let row;
      try {
        row = { run: i + 1, ...(await run.execute()) };
      } catch (e) {
        row = { run: i + 1, server, config, fault, error: e.message };
      }
      await run.cleanup();
      const kept = run.finish(row.error !== undefined || !row.converged || row.unexpected > 0 || row.divergedReplicas > 0 || row.lost > 0);
      if (kept !== null) row.logs = kept;
      if (!quiet) console.error(`  [${server} ${config} ${fault} #${i + 1}] ${row.error ?? `acked ${row.acked} lost ${row.lost} dup ${row.duplicated} stale ${row.staleReads}/${row.reads} failover ${row.failover}`}`);
      if (out !== null) fs.appendFileSync(out, JSON.stringify(row) + '\n');
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
}
const ok = rows.filter((r) => r.error === undefined);
if (ok.length > 0) console.error('\n' + summarize(ok));
process.exit(rows.some((r) => r.error !== undefined) ? 1 : 0);
