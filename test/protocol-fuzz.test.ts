/**
 * The differential protocol fuzzer (test/helpers/protocol-fuzz.ts) in a bounded, seeded slice:
 * nodis and redis-server must give the same bytes, and close the connection alike, for every
 * input. NODIS_FUZZ_SEED / NODIS_FUZZ_COUNT change the slice; `node scripts/fuzz-protocol.mjs`
 * runs any number.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis } from './helpers/redis-compare.js';
import { fuzz, describeMismatch, FUZZ_CLASSES } from './helpers/protocol-fuzz.js';

const SEED = Number(process.env['NODIS_FUZZ_SEED'] ?? 20261206);
const COUNT = Number(process.env['NODIS_FUZZ_COUNT'] ?? 1200);

describe('protocol fuzzing against redis-server', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startRedis()]);
  });
  after(stopAll);

  for (const cls of FUZZ_CLASSES) {
    it(`answers ${cls} inputs as Redis does (seed ${SEED})`, async () => {
      const mismatches = await fuzz({ seed: SEED, count: COUNT / FUZZ_CLASSES.length, nodisPort: nodis.port, redisPort: redis.port, classes: [cls] });
      assert.equal(mismatches.length, 0, mismatches.slice(0, 10).map(describeMismatch).join('\n'));
      // Both servers are still healthy afterwards.
      assert.equal(await nodis.client().ping(), 'PONG');
    });
  }
});
