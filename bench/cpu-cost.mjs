#!/usr/bin/env node
// Server CPU time per request: runs redis-benchmark against nodis-server and redis-server
// (alternating, several rounds) and divides the server process's CPU time (utime + stime from
// /proc/<pid>/stat) by the number of requests. Unlike requests/s, this barely moves when other
// jobs load the machine (they take wall time, not the server's CPU time), so on a shared,
// noisy machine it is the steadier way to compare two builds or nodis with Redis. The
// redis-benchmark client's own CPU is not counted. Single-threaded servers only.
//
// Usage: node bench/cpu-cost.mjs [--rounds 3] [--n 200000] [--pipelines 1,16]
//          [--script-load FILE] [--command 'evalsha {sha} 1 lockkey token'] [--tests get,set]
//          [--nodis-bin path/to/bin/nodis-server ...]   (repeat to compare builds)
//          [--warmup N]   (N requests first, not measured: JIT and WebAssembly tier-up done)
//          [--user]       (user CPU time only, without the kernel's)
//          [--per-test]   (with several --tests: one figure per test, each measured alone after
//                          the warm-up of all of them — GET then reads the keys SET made)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer, stopServer, median } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const rounds = Number(opt('rounds', '3'));
const n = Number(opt('n', '200000'));
const pipelines = opt('pipelines', '1,16').split(',').map(Number);
const scriptFile = opt('script-load', '');
const scriptSha = scriptFile === '' ? '' : createHash('sha1').update(fs.readFileSync(scriptFile)).digest('hex');
const command = opt('command', '');
const tests = opt('tests', 'get');
const warmup = Number(opt('warmup', '0'));
// --user: user CPU only (the server's own code; the kernel's share of a loopback request,
// most of it at -P 1 and the noisiest part on a loaded machine, left out).
const userOnly = args.includes('--user');
const perTest = args.includes('--per-test');
const measured = perTest ? tests.split(',') : [tests];
const nodisBins = args.flatMap((a, i) => (a === '--nodis-bin' ? [path.resolve(args[i + 1])] : []));
if (nodisBins.length === 0) nodisBins.push(path.join(root, 'bin/nodis-server'));
const TICKS = 100; // USER_HZ on Linux

function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + (userOnly ? 0 : Number(rest[12]))) / TICKS; // utime, stime
}

function run(port, pid, pipeline, test = tests, warm = true) {
  if (scriptFile !== '') spawnSync('redis-cli', ['-p', String(port), '-x', 'script', 'load'], { input: fs.readFileSync(scriptFile) });
  const what = command !== '' ? command.replaceAll('{sha}', scriptSha).split(' ') : ['-t', test];
  const warmWhat = command !== '' ? what : ['-t', tests];
  if (warm && warmup > 0) spawnSync('redis-benchmark', ['-p', String(port), '-n', String(warmup), '-c', '50', '-P', String(pipeline), '-r', '100000', '-q', ...warmWhat]);
  const before = cpuSeconds(pid);
  spawnSync('redis-benchmark', ['-p', String(port), '-n', String(n), '-c', '50', '-P', String(pipeline), '-r', '100000', '-q', ...what], { encoding: 'utf8' });
  return ((cpuSeconds(pid) - before) / n) * 1e6; // µs per request
}

const servers = [...nodisBins.map((bin, i) => ({ name: nodisBins.length > 1 ? `nodis#${i + 1}` : 'nodis', bin })), { name: 'redis', bin: 'redis-server' }];
const results = {};
for (let round = 0; round < rounds; round++) {
  for (const s of round % 2 === 0 ? servers : [...servers].reverse()) {
    const srv = await startServer(s.name.replace('#', '-'), s.bin);
    try {
      for (const p of pipelines) {
        for (const [i, t] of measured.entries()) {
          const us = run(srv.port, srv.proc.pid, p, t, i === 0);
          (results[`${s.name}|${p}|${t}`] ??= []).push(us);
          process.stderr.write(`round ${round + 1} ${s.name} -P ${p}${perTest ? ` ${t}` : ''}: ${us.toFixed(2)} µs/request\n`);
        }
      }
    } finally {
      await stopServer(srv);
    }
  }
}
let md = `Server ${userOnly ? 'user ' : ''}CPU µs per request (median of ${rounds} rounds, ${n} requests, 50 clients${warmup > 0 ? `, after ${warmup} unmeasured` : ''}; load average ${os.loadavg()[0].toFixed(1)} at the end): \`${command !== '' ? command : `-t ${tests}`}\`\n\n`;
md += `| -P |${perTest ? ' test |' : ''} ${servers.map((s) => s.name).join(' | ')} | ${servers.slice(0, -1).map((s) => `redis/${s.name} (CPU ratio)`).join(' | ')} |\n`;
md += `|---:|${perTest ? '---|' : ''}${servers.map(() => '---:').join('|')}|${servers.slice(0, -1).map(() => '---:').join('|')}|\n`;
for (const p of pipelines) for (const t of measured) {
  const m = servers.map((s) => median(results[`${s.name}|${p}|${t}`]));
  const redis = m[m.length - 1];
  md += `| ${p} |${perTest ? ` ${t} |` : ''} ${m.map((v) => v.toFixed(2)).join(' | ')} | ${m.slice(0, -1).map((v) => (redis / v).toFixed(2)).join(' | ')} |\n`;
}
process.stdout.write(md);
