/**
 * The replication exchange's REPLCONF ACK (on a master) and REPLCONF GETACK (on a replica) are
 * served in their input loops without the generic command path (master.ts directReplicaAck,
 * replica.ts directGetAck), and the replica applies its master's other commands past admission
 * (server.ts applyMasterCommand). What call() records for them must stay as redis-server records
 * it, side by side: cmdstat_replconf on both sides, the replica's cmdstat_set, the slowlog entries
 * (REPLCONF is not a skip-slowlog command), the replica connection's `cmd=replconf` in the
 * master's CLIENT LIST, and the replica's own stream offset equal to the master's.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll, NODIS_SERVER } from './helpers/server.js';
import { REDIS_SERVER } from './helpers/redis-compare.js';

after(stopAll);

function stat(info: string, name: string): number {
  const m = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(info);
  return m === null ? 0 : Number(m[1]);
}

function field(info: string, name: string): string {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m === null ? '' : m[1]!.trim();
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Facts {
  masterAcksCounted: boolean;
  replicaGetAcksCounted: boolean;
  replicaSets: number;
  masterSlowlogHasAck: boolean;
  replicaSlowlogHasGetAck: boolean;
  replicaConnCmd: string;
  offsetsEqual: boolean;
  waitReplies: number[];
}

async function run(bin: string): Promise<Facts> {
  const master = await startServer({ bin, args: ['--slowlog-log-slower-than', '0', '--slowlog-max-len', '1000'] });
  const replica = await startServer({ bin, args: ['--slowlog-log-slower-than', '0', '--slowlog-max-len', '1000', '--replicaof', '127.0.0.1', String(master.port)] });
  const m: Redis = master.client();
  const r: Redis = replica.client();
  await until('the link', async () => field(await r.info('replication'), 'master_link_status') === 'up');
  // A first WAIT: the replica is streaming and has ACKed once.
  await m.call('WAIT', '1', '5000');
  await m.config('RESETSTAT');
  await r.config('RESETSTAT');
  await m.slowlog('RESET');
  await r.slowlog('RESET');
  const waitReplies: number[] = [];
  for (let i = 0; i < 20; i++) {
    await m.set(`k${i}`, `v${i}`);
    waitReplies.push((await m.call('WAIT', '1', '5000')) as number);
  }
  const masterInfo = await m.info('commandstats');
  const masterOffset = Number(field(await m.info('replication'), 'master_repl_offset'));
  await until('the replica at the master offset', async () => Number(field(await r.info('replication'), 'master_repl_offset')) === masterOffset);
  const replicaInfo = await r.info('commandstats');
  const slowArgs = async (c: Redis): Promise<string[]> =>
    ((await c.slowlog('GET', 1000)) as unknown[][]).map((e) => (e[3] as string[]).slice(0, 2).join(' ').toUpperCase());
  const clients = (await m.client('LIST')) as string;
  const replicaConn = clients.split('\n').find((l) => / flags=S /.test(l)) ?? '';
  return {
    masterAcksCounted: stat(masterInfo, 'replconf') >= 20,
    replicaGetAcksCounted: stat(replicaInfo, 'replconf') >= 20,
    replicaSets: stat(replicaInfo, 'set'),
    masterSlowlogHasAck: (await slowArgs(m)).includes('REPLCONF ACK'),
    replicaSlowlogHasGetAck: (await slowArgs(r)).includes('REPLCONF GETACK'),
    replicaConnCmd: / cmd=(\S+)/.exec(replicaConn)?.[1] ?? '',
    offsetsEqual: true,
    waitReplies,
  };
}

test('REPLCONF ACK / GETACK served in the stream loops are counted, slowlogged and shown as redis-server does', async () => {
  const nodis = await run(NODIS_SERVER);
  const redis = await run(REDIS_SERVER);
  assert.deepEqual(nodis, redis);
  assert.equal(nodis.replicaSets, 20);
  assert.equal(nodis.masterAcksCounted, true);
  assert.equal(nodis.replicaGetAcksCounted, true);
  assert.equal(nodis.replicaConnCmd, 'replconf');
  assert.deepEqual(nodis.waitReplies, new Array(20).fill(1));
});
