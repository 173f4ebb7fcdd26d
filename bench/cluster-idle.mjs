#!/usr/bin/env node
// The idle cost of the cluster bus: a 20-node cluster laid out as Redis's cluster suite runs it
// (cluster-enabled yes, appendonly yes, cluster-node-timeout 3000; every node met, 5 masters
// owning the 16384 slots, 5 replicas, 10 slot-less masters), left to settle, then the CPU time
// (utime + stime from /proc/<pid>/stat) of all 20 processes summed over a sampling window.
// nodis-server and redis-server alternate rounds; the figure is CPU-seconds per 30 s of idling.
//
// Usage: node bench/cluster-idle.mjs [--rounds 3] [--nodes 20] [--window 30] [--settle 10]
//        [--only nodis|redis] [--profile DIR] [--node-flags '--flag ...'] [--nodis-bin PATH]
// --profile DIR: run each nodis node as `node --cpu-prof --cpu-prof-dir=DIR bin/nodis-server` and
// stop it with SIGTERM (a clean exit), which leaves one V8 CPU profile per node in DIR.
// --node-flags: run each nodis node as `node FLAGS bin/nodis-server` (V8 / Node experiments).
// --nodis-bin: another build's bin/nodis-server (a before/after comparison).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, freePort, median } from './lib.mjs';

const args = process.argv.slice(2);
const rounds = Number(option(args, 'rounds', '3'));
const count = Number(option(args, 'nodes', '20'));
const windowS = Number(option(args, 'window', '30'));
const settleS = Number(option(args, 'settle', '10'));
const only = option(args, 'only', '');
const profileDir = option(args, 'profile', '');
const nodeFlags = option(args, 'node-flags', '');
const TICKS = 100;
const MASTERS = 5;

const bins = { nodis: path.resolve(option(args, 'nodis-bin', path.join(root, 'bin/nodis-server'))), redis: 'redis-server' };
if (profileDir !== '' || nodeFlags !== '') {
  const flags = `${nodeFlags}${profileDir !== '' ? ` --cpu-prof --cpu-prof-dir='${path.resolve(profileDir)}'` : ''}`;
  const wrapperDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-idle-wrapper-'));
  const target = bins.nodis;
  bins.nodis = path.join(wrapperDir, 'nodis-server');
  fs.writeFileSync(bins.nodis, `#!/bin/sh\nexec '${process.execPath}' ${flags} '${target}' "$@"\n`, { mode: 0o755 });
  process.on('exit', () => fs.rmSync(wrapperDir, { recursive: true, force: true }));
}
if (profileDir !== '') fs.mkdirSync(profileDir, { recursive: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** [utime, stime] of a process in seconds. */
function cpuTimes(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return [Number(rest[11]) / TICKS, Number(rest[12]) / TICKS];
}
const cpuSeconds = (pid) => cpuTimes(pid)[0] + cpuTimes(pid)[1];
const systemSeconds = (nodes) => nodes.reduce((a, s) => a + cpuTimes(s.proc.pid)[1], 0);

function cli(port, ...cmd) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...cmd], { encoding: 'latin1' });
  return r.stdout.trim();
}

async function waitFor(what, cond, ms = 60000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function startCluster(kind) {
  const nodes = [];
  try {
    await formCluster(kind, nodes);
  } catch (e) {
    for (const s of nodes) await stopServer(s);
    throw e;
  }
  return nodes;
}

async function formCluster(kind, nodes) {
  for (let i = 0; i < count; i++) {
    const cport = await freePort();
    const s = await startServer(`idle-${kind}`, bins[kind], ['--cluster-enabled', 'yes', '--appendonly', 'yes', '--cluster-node-timeout', '3000', '--cluster-port', String(cport)]);
    nodes.push({ ...s, cport });
  }
  // The suite's "Cluster Join and auto-discovery test": each node meets the next.
  for (let i = 0; i + 1 < count; i++) cli(nodes[i].port, 'cluster', 'meet', '127.0.0.1', String(nodes[i + 1].port), String(nodes[i + 1].cport));
  await waitFor('a full mesh', () => nodes.every((s) => cli(s.port, 'cluster', 'nodes').split('\n').length === count));
  const per = Math.ceil(16384 / MASTERS);
  for (let m = 0; m < MASTERS; m++) cli(nodes[m].port, 'cluster', 'addslotsrange', String(m * per), String(Math.min(16383, (m + 1) * per - 1)));
  await waitFor('cluster_state:ok', () => nodes.every((s) => cli(s.port, 'cluster', 'info').includes('cluster_state:ok')));
  const ids = nodes.slice(0, MASTERS).map((s) => cli(s.port, 'cluster', 'myid'));
  for (let r = 0; r < MASTERS; r++) cli(nodes[MASTERS + r].port, 'cluster', 'replicate', ids[r]);
  await waitFor('replicas in sync', () => nodes.slice(MASTERS, 2 * MASTERS).every((s) => cli(s.port, 'info', 'replication').includes('master_link_status:up')));
}

const results = { nodis: [], redis: [] };
const messages = {};

/** cluster_stats_messages_sent summed over the nodes (CLUSTER INFO). */
function messagesSent(nodes) {
  return nodes.reduce((a, s) => a + Number(/cluster_stats_messages_sent:(\d+)/.exec(cli(s.port, 'cluster', 'info'))?.[1] ?? 0), 0);
}
const kinds = only ? [only] : ['nodis', 'redis'];
for (let round = 0; round < rounds; round++) {
  for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
    const nodes = await startCluster(kind);
    try {
      await sleep(settleS * 1000);
      const sentBefore = messagesSent(nodes);
      const perNode = nodes.map((s) => cpuSeconds(s.proc.pid));
      const before = perNode.reduce((a, b) => a + b, 0);
      const sysBefore = systemSeconds(nodes);
      const t0 = Date.now();
      await sleep(windowS * 1000);
      const elapsed = (Date.now() - t0) / 1000;
      const sent = ((messagesSent(nodes) - sentBefore) * 30) / elapsed;
      const sys = ((systemSeconds(nodes) - sysBefore) * 30) / elapsed;
      const perNodeAfter = nodes.map((s) => cpuSeconds(s.proc.pid));
      const cpu = ((perNodeAfter.reduce((a, b) => a + b, 0) - before) * 30) / elapsed;
      const group = (from, to) => ((perNodeAfter.slice(from, to).reduce((a, b) => a + b, 0) - perNode.slice(from, to).reduce((a, b) => a + b, 0)) * 30) / elapsed / (to - from);
      const states = nodes.map((s) => cli(s.port, 'cluster', 'info')).filter((i) => !i.includes('cluster_state:ok')).length;
      const pfail = nodes.map((s) => cli(s.port, 'cluster', 'nodes')).join('\n').split('\n').filter((l) => /fail/.test(l)).length;
      results[kind].push(cpu);
      process.stderr.write(`  per node, CPU-s per 30 s: slot masters ${group(0, MASTERS).toFixed(3)}, replicas ${group(MASTERS, 2 * MASTERS).toFixed(3)}, slot-less masters ${group(2 * MASTERS, count).toFixed(3)}\n`);
      (messages[kind] ??= []).push(sent);
      const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
      process.stderr.write(`round ${round + 1} ${kind}: ${cpu.toFixed(2)} CPU-s per 30 s (${sys.toFixed(2)} of it system time), ${Math.round(sent)} bus messages sent per 30 s, ${((cpu / sent) * 1e6).toFixed(0)} µs CPU per message (${count} nodes; ${states} not ok, ${pfail} fail/pfail flags; load ${load})\n`);
    } finally {
      if (profileDir !== '') {
        await Promise.all(nodes.map((s) => new Promise((r) => { s.proc.once('exit', r); s.proc.kill('SIGTERM'); })));
        for (const s of nodes) fs.rmSync(s.dir, { recursive: true, force: true });
      } else {
        for (const s of nodes) await stopServer(s);
      }
    }
  }
}
const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const fmt = (xs) => (xs.length ? median(xs).toFixed(2) : '—');
console.log(`| ${count}-node idle cluster | nodis CPU-s / 30 s | redis CPU-s / 30 s | ratio |`);
console.log(`|---|---|---|---|`);
const ratio = results.nodis.length && results.redis.length ? (median(results.nodis) / median(results.redis)).toFixed(2) : '—';
console.log(`| median of ${rounds} | ${fmt(results.nodis)} | ${fmt(results.redis)} | ${ratio} |`);
for (const kind of ['nodis', 'redis']) {
  if (messages[kind]) console.log(`${kind}: ${median(messages[kind]).toFixed(0)} bus messages sent per 30 s, ${((median(results[kind]) / median(messages[kind])) * 1e6).toFixed(0)} µs of CPU per message sent (sending + receiving + idle work)`);
}
console.log(`\nper round: nodis ${results.nodis.map((x) => x.toFixed(2)).join(', ')}; redis ${results.redis.map((x) => x.toFixed(2)).join(', ')}; load average at the end: ${load}`);
