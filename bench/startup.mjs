#!/usr/bin/env node
/**
 * Start-up times, side by side, in alternating rounds (medians): a bare `node -e 0`,
 * redis-server and nodis-server until each answers PING, a one-shot `nodis-cli ping` beside
 * `redis-cli ping`, and `startTopology({ replicas: 2, sentinels: 3 })` until it resolves.
 *
 *   node bench/startup.mjs [rounds=15] [--write] [--no-topology]   (after `npm run build`)
 *
 * --write replaces the "Start-up" table in docs/PERFORMANCE.md. Beside the ratio of medians it
 * prints the median of each round's own ratio to that round's `node -e 0` (steadier when the
 * machine's load moves during the run). --no-topology leaves out startTopology (more rounds
 * in the same time).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, root } from './lib.mjs';

const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 15);
const write = process.argv.includes('--write');
const topology = !process.argv.includes('--no-topology');

/** Runs a program to completion; resolves with the elapsed milliseconds. */
function timeRun(cmd, args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`));
      else resolve({ ms, out });
    });
  });
}

/** One PING on a fresh connection: true when PONG came back, false when refused. */
function pingOnce(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString() === '+PONG\r\n');
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts a server, polls PING every millisecond until PONG; resolves with ms and the process. */
async function timeServer(cmd, args, port) {
  const t0 = process.hrtime.bigint();
  const p = spawn(cmd, args, { stdio: 'ignore' });
  let exited = false;
  p.on('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${cmd} exited before answering PING`);
    if (await pingOnce(port)) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, cpu: schedCpuMs(p.pid), proc: p };
}

/**
 * CPU time a live process has used so far (Linux /proc/<pid>/schedstat, ns → ms); null
 * elsewhere. Steadier than wall time on a loaded machine (docs/PERFORMANCE.md "Start-up").
 */
function schedCpuMs(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

/** `node -e 0`'s CPU: a node that says when it runs its code, measured then (as the servers are at PONG). */
function nodeCpu() {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', "process.stdout.write('x'); setTimeout(() => {}, 60000)"], { stdio: ['ignore', 'pipe', 'inherit'] });
    p.on('error', reject);
    p.stdout.once('data', () => {
      const cpu = schedCpuMs(p.pid);
      p.once('exit', () => resolve(cpu));
      p.kill('SIGKILL');
    });
  });
}

async function stopProc(p) {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await done;
}

/** This process's CPU plus its reaped children's (Linux /proc), in ms; null elsewhere. */
function cpuMs() {
  if (!fs.existsSync('/proc/self/stat')) return null;
  const fields = fs.readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return ticks * 10;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const nodisServer = path.join(root, 'bin/nodis-server');
const nodisCli = path.join(root, 'bin/nodis-cli');
const serverEntry = path.join(root, 'dist/pkg/server/start.js');
const api = await import(path.join(root, 'dist/pkg/api/index.js'));
const { heapFlags } = await import(path.join(root, 'dist/pkg/server/heap.js'));
const { snapshotArgs } = await import(path.join(root, 'dist/pkg/server/startup-snapshot.js'));
const serverBundle = path.join(root, 'dist/pkg/server/main.js');
const samples = {};
const cpuSamples = {};
const add = (k, v) => (samples[k] ??= []).push(v);
const addCpu = (k, v) => v !== null && (cpuSamples[k] ??= []).push(v);
const loadAtStart = os.loadavg()[0].toFixed(1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-startup-'));

// The caches a first start makes (V8's code cache, the start-up snapshot: docs/OPERATIONS.md
// "Starting") are made before measuring, as they are after a user's first start: one start of
// each kind, kept running until the snapshot is there (or 30 s).
{
  const port = await freePort();
  const args = ['--port', String(port), '--save', '', '--dir', tmp];
  const flags = heapFlags(args);
  const warm = await timeServer(process.execPath, [...flags, serverEntry, ...args], port);
  for (let waited = 0; snapshotArgs(serverBundle, flags) === null && waited < 30000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  await stopProc(warm.proc);
  const port2 = await freePort();
  const warm2 = await timeServer(nodisServer, ['--port', String(port2), '--save', '', '--dir', tmp], port2);
  await new Promise((r) => setTimeout(r, 500));
  await stopProc(warm2.proc);
  if (snapshotArgs(serverBundle, flags) === null) console.error('no start-up snapshot was made: the "node + snapshot" row starts start.js');
}

for (let i = 0; i < rounds; i++) {
  add('node -e 0', (await timeRun(process.execPath, ['-e', '0'])).ms);
  addCpu('node -e 0', await nodeCpu());
  {
    const port = await freePort();
    const r = await timeServer('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', tmp], port);
    add('redis-server until PING', r.ms);
    addCpu('redis-server until PING', r.cpu);
    add('redis-cli ping', (await timeRun('redis-cli', ['-p', String(port), 'ping'])).ms);
    add('nodis-cli ping', (await timeRun(nodisCli, ['-p', String(port), 'ping'])).ms);
    await stopProc(r.proc);
  }
  {
    // What startServer() runs: node with the heap flags, from the server bundle's start-up
    // snapshot (one process).
    const port = await freePort();
    const args = ['--port', String(port), '--save', '', '--dir', tmp];
    const flags = heapFlags(args);
    const r = await timeServer(process.execPath, [...(snapshotArgs(serverBundle, flags) ?? [...flags, serverEntry]), ...args], port);
    add('nodis-server (node + snapshot, what startServer() runs) until PING', r.ms);
    addCpu('nodis-server (node + snapshot, what startServer() runs) until PING', r.cpu);
    await stopProc(r.proc);
  }
  {
    // Without a snapshot: node with the heap flags, then start.js (the bundle with V8's code cache).
    const port = await freePort();
    const args = ['--port', String(port), '--save', '', '--dir', tmp];
    const r = await timeServer(process.execPath, [...heapFlags(args), serverEntry, ...args], port);
    add('nodis-server (node + start.js, code cache) until PING', r.ms);
    addCpu('nodis-server (node + start.js, code cache) until PING', r.cpu);
    await stopProc(r.proc);
  }
  {
    const port = await freePort();
    const r = await timeServer(nodisServer, ['--port', String(port), '--save', '', '--dir', tmp], port);
    add('bin/nodis-server until PING', r.ms);
    addCpu('bin/nodis-server until PING', r.cpu);
    await stopProc(r.proc);
  }
  if (topology) {
    const cpu0 = cpuMs();
    const t0 = process.hrtime.bigint();
    const topo = await api.startTopology({ replicas: 2, sentinels: 3 });
    add('startTopology({replicas: 2, sentinels: 3})', Number(process.hrtime.bigint() - t0) / 1e6);
    await topo.stop();
    // CPU of this process and its six (reaped) children, start to stop: wall time on an idle
    // 2-core machine cannot be below half of it.
    if (cpu0 !== null) add('startTopology CPU, all processes, start to stop', cpuMs() - cpu0);
  }
}
fs.rmSync(tmp, { recursive: true, force: true });

const base = median(samples['node -e 0']);
const cpuBase = cpuSamples['node -e 0'] ? median(cpuSamples['node -e 0']) : null;
const cpuCells = (k) => {
  const v = cpuSamples[k];
  if (!v || cpuBase === null) return '| | |';
  return `| ${median(v).toFixed(1)} | ${(median(v) / cpuBase).toFixed(2)} |`;
};
/** The median over rounds of each round's ratio to that round's own `node -e 0`. */
const perRound = (k, all, baseKey) => {
  const v = all[k];
  const b = all[baseKey];
  if (!v || !b || v.length !== b.length) return '';
  return median(v.map((x, i) => x / b[i])).toFixed(2);
};
const rows = Object.entries(samples).map(
  ([k, v]) => `| ${k} | ${median(v).toFixed(1)} | ${(median(v) / base).toFixed(2)} | ${perRound(k, samples, 'node -e 0')} ${cpuCells(k)} ${perRound(k, cpuSamples, 'node -e 0')} |`,
);
const table = [
  `Start-up (node ${process.version}, ${os.cpus().length} cores, load ${loadAtStart}–${os.loadavg()[0].toFixed(1)}, ${rounds} alternating rounds, medians; per-round ×: median of each round's ratio to its own \`node -e 0\`; CPU: the process's own until PING, /proc/<pid>/schedstat):`,
  '',
  '| what | ms | × `node -e 0` | per-round × | CPU ms | CPU × `node -e 0` | CPU per-round × |',
  '|---|---|---|---|---|---|---|',
  ...rows,
].join('\n');
console.log(table);
if (write) {
  const file = path.join(root, 'docs/PERFORMANCE.md');
  const doc = fs.readFileSync(file, 'utf8');
  const begin = '<!-- startup:begin -->';
  const end = '<!-- startup:end -->';
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < 0) throw new Error('docs/PERFORMANCE.md has no startup markers');
  fs.writeFileSync(file, doc.slice(0, i + begin.length) + '\n' + table + '\n' + doc.slice(j));
}
