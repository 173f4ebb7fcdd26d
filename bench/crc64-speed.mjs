#!/usr/bin/env node
// CRC64 speed, ns per byte of CPU: Crc64.update (WebAssembly for ranges of 256+ bytes) against
// Crc64.updateJs (the JS slicing-by-8) over 26 MB in --piece byte ranges (5000: about what a
// lone client's job slice produces), in turn, --rounds times. --dist runs another build.
//
//   node bench/crc64-speed.mjs [--piece 5000] [--rounds 6] [--dist dist]
import path from 'node:path';
import { root, option } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const piece = Number(option(args, 'piece', '5000'));
const rounds = Number(option(args, 'rounds', '6'));
const { Crc64 } = await import(path.join(dist, 'src/persistence/crc64.js'));
const buf = Buffer.alloc(26 << 20);
for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24;
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
const methods = ['update', 'updateJs'].filter((m) => typeof Crc64.prototype[m] === 'function');
const res = Object.fromEntries(methods.map((m) => [m, []]));
for (let r = 0; r < rounds; r++) {
  for (const m of r % 2 ? [...methods].reverse() : methods) {
    const c = new Crc64();
    const t0 = cpuNs();
    for (let o = 0; o < buf.length; o += piece) c[m](buf, o, Math.min(buf.length, o + piece));
    res[m].push({ ns: (cpuNs() - t0) / buf.length, crc: c.hex() });
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const m of methods) console.log(`${m}: ${med(res[m].map((x) => x.ns)).toFixed(3)} ns/B (${res[m].map((x) => x.ns.toFixed(2)).join(', ')}) crc ${[...new Set(res[m].map((x) => x.crc))].join(',')}`);
