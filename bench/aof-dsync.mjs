#!/usr/bin/env node
// appendfsync always, one record per round trip: write(2) + fdatasync(2) on a plain descriptor
// against one write(2) on a descriptor opened with O_DSYNC (the same data-integrity guarantee,
// one system call). In process, on a file in the temp directory (the disk the benches' servers
// use), alternating runs; prints the medians of wall, user and system time per record.
// Usage: node bench/aof-dsync.mjs [records per run, default 1000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aof-dsync-'));
const rec = '*2\r\n$4\r\nINCR\r\n$16\r\nkey:__rand_int__\r\n';
const N = Number(process.argv[2] ?? 1000);
function run(mode) {
  const f = path.join(dir, `${mode}.aof`);
  const fd = fs.openSync(f, 'a');
  const dfd = fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_DSYNC);
  const c0 = process.cpuUsage(); const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    if (mode === 'dsync') fs.writeSync(dfd, rec, null, 'latin1');
    else { fs.writeSync(fd, rec, null, 'latin1'); fs.fdatasyncSync(fd); }
  }
  const t = Number(process.hrtime.bigint() - t0) / 1e3 / N; const c = process.cpuUsage(c0);
  fs.closeSync(fd); fs.closeSync(dfd);
  return { wall: t, user: c.user / N, sys: c.system / N };
}
const res = { plain: [], dsync: [] };
for (let r = 0; r < 6; r++) for (const m of r % 2 ? ['dsync', 'plain'] : ['plain', 'dsync']) res[m].push(run(m));
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]; };
for (const m of ['plain', 'dsync']) console.log(m, 'wall', med(res[m].map((x) => x.wall)).toFixed(1), 'user', med(res[m].map((x) => x.user)).toFixed(1), 'sys', med(res[m].map((x) => x.sys)).toFixed(1), 'µs/op');
fs.rmSync(dir, { recursive: true });
