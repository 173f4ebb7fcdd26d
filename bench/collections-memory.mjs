#!/usr/bin/env node
// Memory per element of big collections, nodis vs redis-server: one key holding a 1,000,000-member
// sorted set, hash and set (each in a fresh server), loaded through a raw pipelined connection;
// bytes per element = (used_memory after - before) / members, and the same for RSS. Results go
// to docs/PERFORMANCE.md between the markers of the "collections-memory" section.
//
// used_memory is read after MEMORY PURGE, which in nodis runs a full GC (V8's heapUsed + external
// then count live data only); RSS is what the process holds, garbage and free heap included. Members are `member:<9 digits>` (16 bytes), hash
// values `value:<n>`, scores `<n>.5` (real doubles, as most scores are).
//
// Usage: node bench/collections-memory.mjs [--members 1000000] [--types zset,hash,set] [--no-write]
//                                          [--nodis-bin path/to/bin/nodis-server]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const members = Number(opt('members', '1000000'));
const types = opt('types', 'zset,hash,set').split(',');
const write = !args.includes('--no-write');
/** The nodis launcher (another checkout's bin/nodis-server, to compare builds). */
const nodisBin = path.resolve(opt('nodis-bin', path.join(root, 'bin/nodis-server')));
/** Elements per command: big enough that the pipeline, not the round trips, sets the pace. */
const PER_COMMAND = 100;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startServer(kind) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${kind}-`));
  const bin = kind === 'nodis' ? nodisBin : 'redis-server';
  const proc = spawn(bin, ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${kind} did not start:\n${out}`)), 20000);
    const onData = (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
  });
  return { kind, port, proc, dir };
}

async function stopServer(s) {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await exited;
  fs.rmSync(s.dir, { recursive: true, force: true });
}

function cli(port, ...cmd) {
  return spawnSync('redis-cli', ['-p', String(port), ...cmd], { encoding: 'latin1' }).stdout.trim();
}

/** used_memory after MEMORY PURGE (a full GC in nodis, so garbage is not counted as data). */
function usedMemory(port) {
  cli(port, 'memory', 'purge');
  return Number(/used_memory:(\d+)/.exec(cli(port, 'info', 'memory'))?.[1] ?? NaN);
}

function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) * 1024;
}

/** The RESP for command number `i` filling one collection of type `type`. */
function command(type, i) {
  const words = type === 'zset' ? ['ZADD', 'z'] : type === 'hash' ? ['HSET', 'h'] : ['SADD', 's'];
  for (let j = i * PER_COMMAND; j < Math.min(members, (i + 1) * PER_COMMAND); j++) {
    const member = `member:${String(j).padStart(9, '0')}`;
    if (type === 'zset') words.push(`${j}.5`, member);
    else if (type === 'hash') words.push(member, `value:${j}`);
    else words.push(member);
  }
  let s = `*${words.length}\r\n`;
  for (const w of words) s += `$${w.length}\r\n${w}\r\n`;
  return s;
}

/** Sends every command, at most `window` unanswered, and resolves when all are answered. */
function load(port, type) {
  const total = Math.ceil(members / PER_COMMAND);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const window = 200;
    let sent = 0;
    let acked = 0;
    const pump = () => {
      let s = '';
      while (sent < total && sent - acked < window) s += command(type, sent++);
      if (s) sock.write(s);
    };
    sock.on('error', reject);
    sock.on('connect', pump);
    sock.on('data', (d) => {
      // Every reply is one integer line.
      for (const b of d) if (b === 10) acked++;
      if (acked >= total) {
        sock.end();
        resolve();
      } else pump();
    });
  });
}

async function measure(kind, type) {
  const s = await startServer(kind);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const usedBefore = usedMemory(s.port);
    const rssBefore = rssBytes(s.proc.pid);
    await load(s.port, type);
    await new Promise((r) => setTimeout(r, 500));
    const usedAfter = usedMemory(s.port);
    const rssAfter = rssBytes(s.proc.pid);
    const key = type === 'zset' ? 'z' : type === 'hash' ? 'h' : 's';
    const card = Number(cli(s.port, type === 'zset' ? 'zcard' : type === 'hash' ? 'hlen' : 'scard', key));
    if (card !== members) throw new Error(`${kind} ${type}: ${card} members, expected ${members}`);
    return { used: (usedAfter - usedBefore) / members, rss: (rssAfter - rssBefore) / members };
  } finally {
    await stopServer(s);
  }
}

async function main() {
  const rows = [];
  for (const type of types) {
    const nodis = await measure('nodis', type);
    const redis = await measure('redis', type);
    process.stderr.write(`${type}: nodis ${JSON.stringify(nodis)} redis ${JSON.stringify(redis)}\n`);
    rows.push({ type, nodis, redis });
  }
  const stamp = new Date().toISOString();
  let md = `Measured ${stamp.slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}: one key holding ${members} members `;
  md += '(`member:<9 digits>`; hash values `value:<n>`; scores `<n>.5`), loaded 100 per command. ';
  md += 'Bytes per element, used_memory read after MEMORY PURGE (a full GC in nodis).\n\n';
  md += '| type | nodis used_memory | redis used_memory | ratio | nodis RSS | redis RSS | ratio |\n';
  md += '|---|---:|---:|---:|---:|---:|---:|\n';
  for (const r of rows) {
    md += `| ${r.type} | ${r.nodis.used.toFixed(1)} B | ${r.redis.used.toFixed(1)} B | ${(r.nodis.used / r.redis.used).toFixed(2)} `;
    md += `| ${r.nodis.rss.toFixed(1)} B | ${r.redis.rss.toFixed(1)} B | ${(r.nodis.rss / r.redis.rss).toFixed(2)} |\n`;
  }
  process.stdout.write(md);
  if (write) {
    const file = path.join(root, 'docs/PERFORMANCE.md');
    const section = 'collections-memory';
    const begin = `<!-- BEGIN ${section} -->`;
    const end = `<!-- END ${section} -->`;
    let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Performance\n';
    const block = `${begin}\n${md}${end}`;
    if (doc.includes(begin)) doc = doc.replace(new RegExp(`${begin}[\\s\\S]*?${end}`), block);
    else doc += `\n## ${section}\n\n${block}\n`;
    fs.writeFileSync(file, doc);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
