#!/usr/bin/env node
// Which `-P 1` requests are the slow ones, and when (issue #15, lat3). A client of its own, in
// the shape of `redis-benchmark -t set -c 50 -P 1 -r 100000`: 50 connections opened at once,
// each sending `SET key:<random> xxx` and waiting for its reply, until n requests are done;
// every request's latency is kept with its send time on the monotonic clock (the one the
// server's NODIS_STALL_LOG lines print as `mono`), so the slowest requests can be put beside
// what the server logged at that moment. Prints the percentiles, the 15 slowest requests (time
// since the start, whether the connection's first), and how many of the slow ones (≥ --slow ms)
// were a connection's first request.
// --dump <file> writes every request of 1 ms or more: `<send time, mono s> <latency ms> <first 0|1>`.
// Usage: node bench/p1-timeline.mjs --port <port> [--n 200000] [--c 50] [--slow 5] [--cmd set|get] [--dump f]
import net from 'node:net';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const port = Number(option(args, 'port', '6379'));
const total = Number(option(args, 'n', '200000'));
const conns = Number(option(args, 'c', '50'));
const slowMs = Number(option(args, 'slow', '5'));
const cmd = option(args, 'cmd', 'set');
const dump = option(args, 'dump', '');

const mono = () => Number(process.hrtime.bigint()) / 1e6; // ms, CLOCK_MONOTONIC
const lat = new Float64Array(total);
const sentAt = new Float64Array(total);
const first = new Uint8Array(total);
let issued = 0;
let done = 0;
const t0 = mono();

function request() {
  const key = `key:${String(Math.floor(Math.random() * 100000)).padStart(12, '0')}`;
  return cmd === 'set' ? `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$3\r\nxxx\r\n` : `*2\r\n$3\r\nGET\r\n$${key.length}\r\n${key}\r\n`;
}

await new Promise((resolve) => {
  for (let i = 0; i < conns; i++) {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    let current = -1;
    let isFirst = 1;
    const send = () => {
      if (issued >= total) {
        s.end();
        return;
      }
      current = issued++;
      first[current] = isFirst;
      isFirst = 0;
      sentAt[current] = mono();
      s.write(request());
    };
    s.on('connect', send);
    // Replies are one line (+OK, $-1) or a short bulk: a chunk ending in \r\n that is not a
    // bulk header completes the request (at -P 1 a reply never spans requests).
    let pending = '';
    s.on('data', (d) => {
      pending += d.toString('latin1');
      if (pending.startsWith('$') && !pending.startsWith('$-1')) {
        const nl = pending.indexOf('\r\n');
        if (nl < 0 || pending.length < nl + 2 + Number(pending.slice(1, nl)) + 2) return;
      } else if (!pending.endsWith('\r\n')) return;
      pending = '';
      lat[current] = mono() - sentAt[current];
      if (++done === total) resolve();
      send();
    });
    s.on('error', (e) => {
      console.error(e.message);
      process.exit(1);
    });
  }
});

if (dump !== '') {
  const lines = [];
  for (let i = 0; i < total; i++) if (lat[i] >= 1) lines.push(`${(sentAt[i] / 1000).toFixed(6)} ${lat[i].toFixed(3)} ${first[i]}`);
  (await import('node:fs')).writeFileSync(dump, `${lines.join('\n')}\n`);
}
const order = [...lat.keys()].sort((a, b) => lat[b] - lat[a]);
const sorted = Float64Array.from(lat).sort();
const q = (p) => sorted[Math.min(total - 1, Math.floor((p / 100) * total))].toFixed(3);
console.log(`${cmd} n=${total} c=${conns}: p50 ${q(50)} p99 ${q(99)} p99.9 ${q(99.9)} max ${sorted[total - 1].toFixed(3)} ms; ${(total / ((mono() - t0) / 1000)).toFixed(0)} req/s`);
const slow = order.filter((i) => lat[i] >= slowMs);
console.log(`≥${slowMs} ms: ${slow.length} requests, ${slow.filter((i) => first[i]).length} of them a connection's first`);
for (const i of order.slice(0, 15)) {
  console.log(`  ${lat[i].toFixed(2)} ms, sent at +${(sentAt[i] - t0).toFixed(1)} ms (mono ${(sentAt[i] / 1000).toFixed(6)})${first[i] ? ' first request' : ''}`);
}
