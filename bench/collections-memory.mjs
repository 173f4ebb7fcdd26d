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
//                                          [--nodis-bin path/to/bin/nodis-server] [--spaces]
// --spaces also prints nodis's V8 heap spaces after the load (bench/heap-spaces-probe.cjs).
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { root, option, startServer as start, stopServer, cli, usedMemory, rssBytes, writeSection } from './lib.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => option(args, name, dflt);
const members = Number(opt('members', '1000000'));
const types = opt('types', 'zset,hash,set').split(',');
const write = !args.includes('--no-write');
const spaces = args.includes('--spaces');
/** The nodis launcher (another checkout's bin/nodis-server, to compare builds). */
const nodisBin = path.resolve(opt('nodis-bin', path.join(root, 'bin/nodis-server')));
/** Elements per command: big enough that the pipeline, not the round trips, sets the pace. */
const PER_COMMAND = 100;

async function startServer(kind) {
  const saved = process.env.NODE_OPTIONS;
  if (kind === 'nodis' && spaces) process.env.NODE_OPTIONS = `${saved ?? ''} --require ${path.join(root, 'bench/heap-spaces-probe.cjs')}`;
  try {
    return await start(kind, kind === 'nodis' ? nodisBin : 'redis-server');
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

/** Prints the V8 heap spaces (MB used / physical) of a server started with the probe. */
async function printSpaces(type, pid) {
  process.kill(pid, 'SIGWINCH');
  await new Promise((r) => setTimeout(r, 300));
  const file = path.join(os.tmpdir(), `nodis-heap-spaces-${pid}.json`);
  const { memory, spaces: all } = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(file);
  const mb = (x) => (x / 1e6).toFixed(1);
  const list = Object.entries(all).filter(([, v]) => v.physical > 0).map(([k, v]) => `${k} ${mb(v.used)}/${mb(v.physical)}`);
  process.stderr.write(`${type} nodis spaces (MB used/physical): ${list.join(', ')}; arrayBuffers ${mb(memory.arrayBuffers)}\n`);
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
    if (kind === 'nodis' && spaces) await printSpaces(type, s.proc.pid);
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
  if (write) writeSection('collections-memory', md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
