#!/usr/bin/env node
// Differential protocol fuzzer, any length: nodis vs redis-server, the same bytes to both, replies
// and connection closes compared (test/helpers/protocol-fuzz.ts describes the inputs).
// Usage (after `npm run build`): node scripts/fuzz-protocol.mjs [--count N] [--seed S] [--class edge|bytes|mutated|args]
// Prints the seed, progress, and every mismatch with its seed and input index; exits 1 on any.
import { parseArgs } from 'node:util';
import { startServer, stopAll } from '../dist/test/helpers/server.js';
import { startRedis } from '../dist/test/helpers/redis-compare.js';
import { fuzz, describeMismatch, FUZZ_CLASSES } from '../dist/test/helpers/protocol-fuzz.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '10000' }, seed: { type: 'string' }, class: { type: 'string', multiple: true } },
});
const seed = values.seed !== undefined ? Number(values.seed) : (Date.now() ^ (process.pid << 16)) >>> 0;
const count = Number(values.count);
const classes = values.class ?? FUZZ_CLASSES;
console.log(`protocol fuzz: seed ${seed}, ${count} inputs, classes ${classes.join(',')}`);
const [nodis, redis] = await Promise.all([startServer(), startRedis()]);
const started = Date.now();
let mismatches = [];
try {
  mismatches = await fuzz({
    seed, count, classes, nodisPort: nodis.port, redisPort: redis.port,
    onInput: (n) => { if (n % 5000 === 0) console.log(`  ${n} inputs, ${((Date.now() - started) / 1000).toFixed(0)} s`); },
  });
  for (const m of mismatches) console.log(describeMismatch(m));
  const alive = await nodis.client().ping();
  console.log(`${count} inputs, ${mismatches.length} mismatches, nodis ${alive === 'PONG' ? 'alive' : 'NOT answering'} (seed ${seed})`);
} finally {
  await stopAll();
}
process.exit(mismatches.length === 0 ? 0 : 1);
