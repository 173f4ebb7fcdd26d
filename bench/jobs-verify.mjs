#!/usr/bin/env node
// Checks that what a background job writes while clients write is the dataset of its start,
// bit-exact in Redis's formats (not a benchmark: prints OK/FAIL per check, exits 1 on a FAIL).
// A nodis-server with --keys keys from DEBUG POPULATE plus mixed values (strings of 320 bytes,
// LZF-compressed; hashes, lists, sets, intsets, zsets, keys with a TTL), and
// `redis-benchmark -c 20 -t set,incr,lpush,hset -r 2000000` writing throughout each job:
//   bgsave  DEBUG DIGEST and BGSAVE in one write (nothing runs between them); the file passes
//           redis-check-rdb, and redis-server 7.0.15 and nodis load it with that digest;
//   aofrw   BGREWRITEAOF (appendonly yes, aof-use-rdb-preamble yes), then the writers stop:
//           redis-server loads the AOF directory (BASE + INCR) with the master's digest;
//   sync    a nodis replica and a redis-server replica sync while the writers run; once they
//           stop, each reaches the master's offset with the master's digest.
// Each with rdbchecksum yes and no (--checksum yes,no).
//
//   node bench/jobs-verify.mjs [--keys 1000000] [--jobs bgsave,aofrw,sync] [--checksum yes,no]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { root, option, startServer, stopServer, cli } from './lib.mjs';

const args = process.argv.slice(2);
const keys = Number(option(args, 'keys', '1000000'));
const jobs = option(args, 'jobs', 'bgsave,aofrw,sync').split(',');
const checksums = option(args, 'checksum', 'yes,no').split(',');
const NODIS = path.join(root, 'bin/nodis-server');
const REDIS = '/usr/bin/redis-server';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let failed = false;

function check(name, ok, detail = '') {
  console.log(`${ok ? 'OK  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  if (!ok) failed = true;
}

/** Sends several commands in one write; resolves with their replies' text. */
function pipelined(port, commands) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const lines = buf.split('\r\n').filter((l) => /^[+\-:]/.test(l) || /^[0-9a-f]{40}$/.test(l));
      if (lines.length >= commands.length) {
        s.destroy();
        resolve(lines.map((l) => l.replace(/^[+:]/, '')));
      }
    });
    s.on('error', reject);
    s.write(commands.map((argv) => `*${argv.length}\r\n${argv.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`).join(''));
  });
}

function fill(port) {
  cli(port, 'debug', 'populate', String(keys), 'key', '10');
  let text = '';
  const big = 'x'.repeat(200) + 'abcdefghij'.repeat(12);
  for (let i = 0; i < 2000; i++) {
    text += `SET big:${i} ${big}${i}\r\nHSET h:${i} a ${i} b x${i} c 3.5\r\nRPUSH l:${i} a b ${i}\r\nSADD s:${i} x y z${i}\r\nSADD is:${i} 1 2 ${i}\r\nZADD z:${i} 1 a 2.5 b ${i} c\r\nSET t:${i} v PX 3600000\r\n`;
  }
  for (let i = 0; i < 20; i++) {
    text += `HSET bigh:${i} ${Array.from({ length: 300 }, (_, j) => `f${j} v${j}`).join(' ')}\r\n`;
  }
  spawnSync('redis-cli', ['-p', String(port), '--pipe'], { input: text });
}

function writers(port) {
  return spawn('redis-benchmark', ['-p', String(port), '-c', '20', '-n', '100000000', '-r', '2000000', '-t', 'set,incr,lpush,hset', '-q'], { stdio: 'ignore' });
}

async function until(port, text) {
  while (!cli(port, 'info', 'all').includes(text)) await sleep(20);
}

async function stopWriters(w) {
  const exited = new Promise((r) => w.once('exit', r));
  w.kill('SIGKILL');
  await exited;
  await sleep(200);
}

async function redisOn(dir, extra) {
  const s = await startServer('verify-redis', REDIS, ['--dir', dir, ...extra]);
  return s;
}

for (const checksum of checksums) {
  const extra = ['--enable-debug-command', 'yes', '--rdbchecksum', checksum, '--repl-diskless-sync-delay', '0'];
  if (jobs.includes('bgsave')) {
    const m = await startServer('verify-nodis', NODIS, extra);
    fill(m.port);
    const w = writers(m.port);
    await sleep(500);
    const [digest] = await pipelined(m.port, [['DEBUG', 'DIGEST'], ['BGSAVE']]);
    await until(m.port, 'rdb_bgsave_in_progress:0');
    await stopWriters(w);
    check(`bgsave rdbchecksum ${checksum}: status`, cli(m.port, 'info', 'persistence').includes('rdb_last_bgsave_status:ok'));
    const file = path.join(m.dir, 'dump.rdb');
    const rc = spawnSync('redis-check-rdb', [file], { encoding: 'latin1' });
    check(`bgsave rdbchecksum ${checksum}: redis-check-rdb`, rc.stdout.includes('RDB looks OK'), rc.stdout.split('\n').filter((l) => /Checksum|keys read|error/i.test(l)).join(' | '));
    const keysSaved = cli(m.port, 'dbsize');
    await stopServer({ ...m, dir: path.join(m.dir, 'none') });
    for (const [kind, bin] of [['redis-server', REDIS], ['nodis', NODIS]]) {
      const s = await startServer(`verify-load-${kind}`, bin, ['--dir', m.dir, '--enable-debug-command', 'yes']);
      const d = cli(s.port, 'debug', 'digest');
      check(`bgsave rdbchecksum ${checksum}: ${kind} loads it with the digest at BGSAVE`, d === digest, `${d} vs ${digest} (${cli(s.port, 'dbsize')} keys; ${keysSaved} at the end)`);
      await stopServer({ ...s, dir: path.join(s.dir, 'none') });
    }
    fs.rmSync(m.dir, { recursive: true, force: true });
  }
  if (jobs.includes('aofrw')) {
    const m = await startServer('verify-nodis', NODIS, [...extra, '--appendonly', 'yes', '--aof-use-rdb-preamble', 'yes']);
    fill(m.port);
    const w = writers(m.port);
    await sleep(500);
    cli(m.port, 'bgrewriteaof');
    await sleep(50);
    await until(m.port, 'aof_rewrite_in_progress:0');
    await sleep(300);
    await stopWriters(w);
    check(`aofrw rdbchecksum ${checksum}: status`, cli(m.port, 'info', 'persistence').includes('aof_last_bgrewrite_status:ok'));
    const digest = cli(m.port, 'debug', 'digest');
    cli(m.port, 'config', 'set', 'appendfsync', 'always');
    cli(m.port, 'set', 'verify:last', '1');
    cli(m.port, 'del', 'verify:last');
    const finalDigest = cli(m.port, 'debug', 'digest');
    await stopServer({ ...m, dir: path.join(m.dir, 'none') });
    const s = await redisOn(m.dir, ['--appendonly', 'yes', '--enable-debug-command', 'yes']);
    const d = cli(s.port, 'debug', 'digest');
    check(`aofrw rdbchecksum ${checksum}: redis-server loads the AOF with the master's digest`, d === finalDigest && d === digest, `${d} vs ${finalDigest} (${cli(s.port, 'dbsize')} keys)`);
    await stopServer({ ...s, dir: path.join(s.dir, 'none') });
    fs.rmSync(m.dir, { recursive: true, force: true });
  }
  if (jobs.includes('sync')) {
    const m = await startServer('verify-nodis', NODIS, extra);
    fill(m.port);
    const w = writers(m.port);
    await sleep(500);
    const replicas = [await startServer('verify-replica-nodis', NODIS, extra), await startServer('verify-replica-redis', REDIS, extra)];
    for (const r of replicas) cli(r.port, 'replicaof', '127.0.0.1', String(m.port));
    for (const r of replicas) await until(r.port, 'master_link_status:up');
    await sleep(500);
    await stopWriters(w);
    const offset = () => /master_repl_offset:(\d+)/.exec(cli(m.port, 'info', 'replication'))[1];
    const digest = cli(m.port, 'debug', 'digest');
    const target = offset();
    for (const [i, r] of replicas.entries()) {
      const name = i === 0 ? 'nodis' : 'redis-server';
      for (let t = 0; t < 200 && /master_repl_offset:(\d+)/.exec(cli(r.port, 'info', 'replication'))[1] !== target; t++) await sleep(50);
      const d = cli(r.port, 'debug', 'digest');
      check(`sync rdbchecksum ${checksum}: ${name} replica has the master's digest`, d === digest, `${d} vs ${digest} (${cli(r.port, 'dbsize')} keys)`);
      await stopServer(r);
    }
    await stopServer(m);
  }
}
process.exit(failed ? 1 : 0);
