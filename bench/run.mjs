#!/usr/bin/env node
// Side-by-side benchmark: redis-benchmark against nodis-server and redis-server, alternately,
// several rounds; medians and nodis/redis ratios are written to docs/PERFORMANCE.md (between
// the BEGIN/END markers of the "throughput" section) and the raw runs to bench/results/.
//
// Usage: node bench/run.mjs [--rounds 3] [--n 200000] [--clients 50] [--pipelines 1,16]
//                           [--tests ping,set,get,incr,mset] [--memory-keys 1000000] [--no-write]
//                           [--command 'publish ch hello'] [--setup 'script load <lua>'] [--section NAME]
// --command benchmarks one command line instead of -t tests (redis-benchmark 7.0 has no
// `publish` test); --setup runs a redis-cli command on each server first (e.g. SCRIPT LOAD
// before EVALSHA). Words are split on spaces; a word may not contain spaces.
// --script-load FILE loads a Lua script on each server first and replaces {sha} in --command.
//                           [--section throughput] [--nodis-bin path/to/bin/nodis-server]
// --tls serves both servers on tls-port only (port 0), with certificates made by openssl for the
// run (EC P-256, client certificates required), and runs redis-benchmark --tls against them.
// Needs: redis-server and redis-benchmark (Debian redis-server / redis-tools), a built nodis.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, option, freePort, startServer as start, stopServer, cli, usedMemory, rssBytes, median, serverVersion, loadKeys, writeSection } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const rounds = Number(opt('rounds', '3'));
const n = Number(opt('n', '200000'));
const clients = Number(opt('clients', '50'));
const pipelines = opt('pipelines', '1,16').split(',').map(Number);
const tests = opt('tests', 'ping,set,get,incr,mset');
const command = opt('command', '');
const setup = opt('setup', '');
const scriptFile = opt('script-load', '');
const scriptSha = scriptFile === '' ? '' : createHash('sha1').update(fs.readFileSync(scriptFile)).digest('hex');
const memoryKeys = Number(opt('memory-keys', '1000000'));
const write = !args.includes('--no-write');
/** The nodis launcher (another checkout's bin/nodis-server, to compare builds). */
const nodisBin = path.resolve(opt('nodis-bin', path.join(root, 'bin/nodis-server')));

const tlsCerts = args.includes('--tls') ? makeCerts() : null;

/** A CA, a server and a client certificate (EC keys) in a temp dir. */
function makeCerts() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tls-'));
  const ssl = (...a) => {
    const r = spawnSync('openssl', a, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${a.join(' ')}: ${r.stderr}`);
  };
  const key = (name) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`);
  key('ca');
  ssl('req', '-x509', '-new', '-nodes', '-key', 'ca.key', '-days', '30', '-subj', '/CN=bench CA', '-out', 'ca.crt');
  for (const name of ['server', 'client']) {
    key(name);
    ssl('req', '-new', '-key', `${name}.key`, '-subj', `/CN=bench ${name}`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', `${name}.crt`);
  }
  const f = (name) => path.join(dir, name);
  return { dir, ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

async function startServer(kind) {
  if (tlsCerts === null) return start(kind, kind === 'nodis' ? nodisBin : 'redis-server');
  const tlsPort = await freePort();
  const s = await start(kind, kind === 'nodis' ? nodisBin : 'redis-server', [
    '--tls-port', String(tlsPort), '--tls-cert-file', tlsCerts.serverCert, '--tls-key-file', tlsCerts.serverKey, '--tls-ca-cert-file', tlsCerts.ca,
  ]);
  // Benchmarked on the TLS port; the plain one stays open for the redis-cli set-up calls.
  return { ...s, benchPort: tlsPort };
}

/** redis-benchmark's TLS options. */
const tlsArgs = () => (tlsCerts === null ? [] : ['--tls', '--cacert', tlsCerts.ca, '--cert', tlsCerts.clientCert, '--key', tlsCerts.clientKey]);

/** Runs redis-benchmark and returns { test → requests/s }. */
function benchmark(port, pipeline) {
  if (setup !== '') cli(port, ...setup.split(' '));
  if (scriptFile !== '') spawnSync('redis-cli', ['-p', String(port), '-x', 'script', 'load'], { input: fs.readFileSync(scriptFile) });
  const what = command !== '' ? command.replaceAll('{sha}', scriptSha).split(' ') : ['-t', tests];
  const r = spawnSync(
    'redis-benchmark',
    ['-p', String(port), ...tlsArgs(), '-n', String(n), '-c', String(clients), '-P', String(pipeline), '-r', '100000', '--csv', ...what],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const res = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^"([^"]+)","([\d.]+)"/.exec(line);
    if (m) res[m[1]] = Number(m[2]);
  }
  return res;
}

async function memoryPerKey(kind) {
  const s = await startServer(kind);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const usedBefore = usedMemory(s.port);
    const rssBefore = rssBytes(s.proc.pid);
    await loadKeys(s.port, memoryKeys);
    await new Promise((r) => setTimeout(r, 500));
    const usedAfter = usedMemory(s.port);
    const rssAfter = rssBytes(s.proc.pid);
    const dbsize = Number(cli(s.port, 'dbsize'));
    return {
      keys: dbsize,
      usedPerKey: (usedAfter - usedBefore) / memoryKeys,
      rssPerKey: (rssAfter - rssBefore) / memoryKeys,
    };
  } finally {
    await stopServer(s);
  }
}

async function main() {
  const results = { nodis: {}, redis: {} };
  for (let round = 0; round < rounds; round++) {
    for (const kind of round % 2 === 0 ? ['nodis', 'redis'] : ['redis', 'nodis']) {
      const s = await startServer(kind);
      try {
        for (const p of pipelines) {
          const r = benchmark(s.benchPort ?? s.port, p);
          for (const [test, rps] of Object.entries(r)) {
            ((results[kind][`${test}|${p}`] ??= [])).push(rps);
          }
          process.stderr.write(`round ${round + 1} ${kind} -P ${p}: ${JSON.stringify(r)}\n`);
        }
      } finally {
        await stopServer(s);
      }
    }
  }
  const rows = [];
  for (const key of Object.keys(results.redis)) {
    const [test, p] = key.split('|');
    const nm = median(results.nodis[key] ?? [0]);
    const rm = median(results.redis[key]);
    rows.push({ test, pipeline: Number(p), nodis: nm, redis: rm, ratio: nm / rm });
  }
  rows.sort((a, b) => a.pipeline - b.pipeline);
  let memory = null;
  if (memoryKeys > 0) {
    memory = { nodis: await memoryPerKey('nodis'), redis: await memoryPerKey('redis') };
  }
  const stamp = new Date().toISOString();
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, `bench/results/${stamp}.json`), JSON.stringify({ rounds, n, clients, results, memory }, null, 2));

  let md = `Measured ${stamp.slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), `;
  md += `Node ${process.version}, redis-server ${serverVersion('redis-server')}.\n`;
  if (tlsCerts !== null) md += 'Over TLS (tls-port, EC P-256 certificates, client certificates required, default protocol and ciphers).\n';
  md += `\`redis-benchmark ${tlsCerts !== null ? '--tls ' : ''}${command !== '' ? '' : `-t ${tests} `}-n ${n} -c ${clients} -r 100000 -P <p>${command !== '' ? ` ${command}` : ''}\`, ${rounds} rounds alternating servers; medians in requests/s.\n\n`;
  md += '| test | -P | nodis | redis | nodis/redis |\n|---|---:|---:|---:|---:|\n';
  for (const r of rows) md += `| ${r.test} | ${r.pipeline} | ${Math.round(r.nodis)} | ${Math.round(r.redis)} | ${r.ratio.toFixed(2)} |\n`;
  if (memory) {
    md += `\nMemory per key after loading ${memoryKeys} keys \`key:<9 digits>\` = \`val:<n>\` (used_memory read after MEMORY PURGE, a full GC in nodis):\n\n`;
    md += '| server | keys | used_memory/key | RSS/key |\n|---|---:|---:|---:|\n';
    for (const k of ['nodis', 'redis']) {
      const m = memory[k];
      md += `| ${k} | ${m.keys} | ${m.usedPerKey.toFixed(1)} B | ${m.rssPerKey.toFixed(1)} B |\n`;
    }
    md += `| nodis/redis | | ${(memory.nodis.usedPerKey / memory.redis.usedPerKey).toFixed(2)} | ${(memory.nodis.rssPerKey / memory.redis.rssPerKey).toFixed(2)} |\n`;
  }
  process.stdout.write(md);
  if (write) writeSection(opt('section', 'throughput'), md);
  if (tlsCerts !== null) fs.rmSync(tlsCerts.dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
