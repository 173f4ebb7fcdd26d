#!/usr/bin/env node
/**
 * A propagated SET into the replication buffer, two ways, in one process (rounds alternate):
 *   string: encodeCommand(argv) then ReplicationBacklog.appendLatin1 (wait4's path)
 *   argv:   ReplicationBacklog.appendCommand(argv), encoded from the arguments into the block (wait5)
 * CPU ns per command (process.cpuUsage), medians of the rounds. docs/PERFORMANCE.md, wait5.
 *
 *   node bench/propagate-encode.mjs [--rounds 9] [--n 1000000] [--value 64]
 */
import { ReplicationBacklog } from '../dist/src/replication/backlog.js';
import { encodeCommand } from '../dist/src/server/propagate.js';
import { option } from './lib.mjs';

const args = process.argv.slice(2);
const ROUNDS = Number(option(args, 'rounds', '9'));
const N = Number(option(args, 'n', '1000000'));
const VALUE = 'x'.repeat(Number(option(args, 'value', '64')));
const keys = Array.from({ length: 10000 }, (_, i) => `key:${i}`);

function run(mode) {
  const b = new ReplicationBacklog(1 << 20, 0);
  b.append(Buffer.alloc(1));
  let bytes = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const argv = ['SET', keys[i % keys.length], VALUE];
    let view = mode === 'argv' ? b.appendCommand(argv) : b.appendLatin1(encodeCommand(argv));
    if (view === null) {
      const buf = Buffer.from(encodeCommand(argv), 'latin1');
      b.append(buf);
      view = buf;
    }
    bytes += view.length;
  }
  const d = process.cpuUsage(t0);
  return { ns: ((d.user + d.system) * 1000) / N, bytes };
}

const res = { string: [], argv: [] };
for (let r = 0; r < ROUNDS; r++) for (const m of r % 2 ? ['argv', 'string'] : ['string', 'argv']) res[m].push(run(m));
if (res.string[0].bytes !== res.argv[0].bytes) throw new Error('the two paths fed different byte counts');
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const m of ['string', 'argv']) console.log(`${m.padEnd(6)} ${med(res[m].map((x) => x.ns)).toFixed(0)} ns per command (rounds: ${res[m].map((x) => x.ns.toFixed(0)).join(', ')})`);
