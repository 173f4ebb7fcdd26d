/**
 * Safety, measured: acknowledged INCRs with `WAIT 1 100` against a master with two replicas,
 * the master killed with SIGKILL, the most up-to-date replica promoted (as Sentinel would
 * choose it, by replication offset). No write that WAIT acknowledged may be missing.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { startServer, stopAll } from './helpers/server.js';

after(stopAll);

const FAST = ['--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '1'];

async function field(c: Redis, name: string): Promise<string | undefined> {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(await c.info('replication'));
  return m?.[1]?.trim();
}

test('no write acknowledged by WAIT is lost when the master is SIGKILLed', async (t) => {
  const master = await startServer({ args: FAST });
  const m = master.client();
  const replicas = await Promise.all([0, 1].map(() => startServer({ args: [...FAST, '--replicaof', '127.0.0.1', String(master.port)] })));
  const rs = replicas.map((r) => r.client());
  for (const r of rs) {
    for (;;) {
      if ((await field(r, 'master_link_status')) === 'up') break;
      await new Promise((res) => setTimeout(res, 20));
    }
  }
  let acknowledged = 0;
  let unacknowledged = 0;
  let lastAcked = 0;
  const writes = 500;
  for (let i = 0; i < writes; i++) {
    const v = await m.incr('counter');
    const acks = (await m.call('WAIT', '1', '100')) as number;
    if (acks >= 1) {
      acknowledged++;
      lastAcked = v;
    } else {
      unacknowledged++;
    }
  }
  master.proc.kill('SIGKILL');
  await new Promise<void>((res) => master.proc.once('exit', () => res()));
  // Promote the replica with the highest offset; the other follows it.
  const offsets = await Promise.all(rs.map(async (r) => Number(await field(r, 'slave_repl_offset'))));
  const best = offsets[0]! >= offsets[1]! ? 0 : 1;
  const promoted = rs[best]!;
  assert.equal(await promoted.call('REPLICAOF', 'NO', 'ONE'), 'OK');
  const other = rs[1 - best]!;
  assert.equal(await other.call('REPLICAOF', '127.0.0.1', String(replicas[best]!.port)), 'OK');
  const final = Number(await promoted.get('counter'));
  const lost = Math.max(0, lastAcked - final);
  t.diagnostic(`writes=${writes} acknowledged=${acknowledged} unacknowledged=${unacknowledged} last_acked=${lastAcked} promoted_value=${final} lost_acknowledged=${lost}`);
  assert.ok(final >= lastAcked, `acknowledged value ${lastAcked} missing after failover (got ${final})`);
  // The other replica continues from the promoted one and converges on the same value.
  for (;;) {
    if ((await field(other, 'master_link_status')) === 'up' && (await other.get('counter')) === String(final)) break;
    await new Promise((res) => setTimeout(res, 20));
  }
});
