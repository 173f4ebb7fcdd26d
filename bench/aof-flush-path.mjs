#!/usr/bin/env node
// The AOF's own share of a -c 1 write under everysec, in process, without a server: one loop
// turn per command, driven by setImmediate as the server's end-of-turn flush is. "before" is
// the path up to aof3 (docs/PERFORMANCE.md): the AOF schedules an Immediate of its own per turn
// besides the server's, and writes `Buffer.from(string, 'latin1')`; "after" writes from the
// server's Immediate (its beforeReplies hook) and hands the string to write(2) as it is.
// Prints CPU (user, system) and wall time per command, alternating the variants.
//
// Usage: node bench/aof-flush-path.mjs [--n 200000] [--rounds 4]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { option, median } from './lib.mjs';

const args = process.argv.slice(2);
const n = Number(option(args, 'n', '200000'));
const rounds = Number(option(args, 'rounds', '4'));
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aof-flush-')), 'incr.aof');
const fd = fs.openSync(file, 'a');
const argv = ['INCR', 'key:__rand_int__'];

function encode() {
  let s = `*${argv.length}\r\n`;
  for (const a of argv) s += `$${a.length}\r\n${a}\r\n`;
  return s;
}

/** One variant: n turns; each feeds one command and ends with the flush(es). */
function run(before) {
  return new Promise((resolve) => {
    let buffer = [];
    let bufferLength = 0;
    let aofScheduled = false;
    let serverScheduled = false;
    let left = n;
    const flush = () => {
      aofScheduled = false;
      if (bufferLength === 0) return;
      const text = buffer.length === 1 ? buffer[0] : buffer.join('');
      if (before) {
        const data = Buffer.from(text, 'latin1');
        let off = 0;
        while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
      } else {
        let off = fs.writeSync(fd, text, null, 'latin1');
        if (off < bufferLength) throw new Error('short write');
      }
      buffer = [];
      bufferLength = 0;
    };
    const serverFlush = () => {
      serverScheduled = false;
      flush(); // the beforeReplies hook
      turn();
    };
    const requestFlush = () => {
      if (!serverScheduled) {
        serverScheduled = true;
        setImmediate(serverFlush);
      }
    };
    const turn = () => {
      if (left-- === 0) return resolve();
      const s = encode();
      buffer.push(s);
      bufferLength += s.length;
      if (before) {
        if (!aofScheduled) {
          aofScheduled = true;
          setImmediate(() => flush());
        }
      } else requestFlush();
      requestFlush(); // the reply's markPendingWrite
    };
    turn();
  });
}

const results = { before: [], after: [] };
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 === 0 ? ['before', 'after'] : ['after', 'before']) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await run(name === 'before');
    const wall = Number(process.hrtime.bigint() - t0) / n;
    const c = process.cpuUsage(c0);
    results[name].push({ user: (c.user * 1000) / n, sys: (c.system * 1000) / n, wall });
    fs.ftruncateSync(fd, 0);
  }
}
fs.closeSync(fd);
fs.rmSync(path.dirname(file), { recursive: true, force: true });
console.log(`${n} commands × ${rounds} rounds, load ${os.loadavg()[0].toFixed(1)}: medians, ns per command`);
for (const [name, rs] of Object.entries(results)) {
  const m = (k) => median(rs.map((x) => x[k])).toFixed(0);
  console.log(`${name.padEnd(6)} user ${m('user')}  system ${m('sys')}  wall ${m('wall')}   (user per round: ${rs.map((x) => x.user.toFixed(0)).join(' ')})`);
}
