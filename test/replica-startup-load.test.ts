/**
 * A server configured as a replica loads its RDB at start-up as a replica: keys that expired
 * since the save are kept (the master will send their DELs), as Redis does — it sets masterhost
 * while reading the config, before rdbLoad. A master drops them. Compared with redis-server.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, stopAll } from './helpers/server.js';

const REDIS = '/usr/bin/redis-server';

describe('start-up load with replicaof configured', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-replica-load-'));
  after(async () => {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps keys that expired since the save on a replica, drops them on a master', async () => {
    const writer = await startServer();
    const w = writer.client();
    await w.set('gone', 'v', 'PX', 300);
    await w.set('kept', 'v');
    await w.call('SAVE');
    fs.copyFileSync(path.join(writer.dir, 'dump.rdb'), path.join(dir, 'old.rdb'));
    await writer.stop();
    // Let the TTL pass by the file's own clock, waiting on the condition, not a fixed time.
    const deadline = Date.now() + 300;
    while (Date.now() <= deadline) await new Promise((r) => setTimeout(r, 20));
    const sizes: Record<string, number> = {};
    for (const [bin, name] of [[undefined, 'nodis'], [REDIS, 'redis']] as const) {
      for (const replica of [true, false]) {
        const args = ['--dir', dir, '--dbfilename', 'old.rdb', ...(replica ? ['--replicaof', '127.0.0.1', '1'] : [])];
        const s = await startServer({ bin, args });
        sizes[`${name} ${replica ? 'replica' : 'master'}`] = Number(await s.client().dbsize());
        await s.stop();
      }
    }
    assert.deepEqual(sizes, { 'nodis replica': 2, 'nodis master': 1, 'redis replica': 2, 'redis master': 1 });
  });
});
