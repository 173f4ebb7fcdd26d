/**
 * nodis-sentinel's durable failover and its fences (REPLCONF DURABLE-FENCE), with real
 * processes: a fence holds until its replica is re-pointed, so whoever set it must lift it when
 * the failover does not happen — the leader when it aborts, any sentinel once a fence is stale
 * (its leader died mid-failover). Without that, the master would keep refusing writes for want
 * of replicas to renew its lease.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { Group, waitFor, type SentinelProc } from './helpers/sentinel-cluster.js';
import { freePort } from './helpers/server.js';

const DURABLE = ['durable-writes', 'yes', 'durable-replicas', '2', 'durable-timeout', '1000', 'durable-lease', '500'];

function field(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)\\r?$`, 'm').exec(info)?.[1];
}

describe('durable failover fences', () => {
  const g = new Group();
  let ports: number[] = [];
  let master: ChildProcess;
  let sentinel: SentinelProc;

  const lifted = (why: string): number => sentinel.log().split('\n').filter((l) => l.includes('+durable-fence-lifted') && l.includes(why)).length;
  const writable = async (): Promise<boolean> => {
    try {
      return (await g.client(ports[0]!).set('k', 'v')) === 'OK';
    } catch {
      return false;
    }
  };

  before(async () => {
    ports = [await freePort(), await freePort(), await freePort()];
    master = await g.startData('nodis', ports[0]!, null);
    for (const p of ports.slice(1)) await g.startData('nodis', p, ports[0]!);
    for (const p of ports) await g.client(p).config('SET', ...DURABLE);
    // No replica may be promoted: every failover attempt fences both, then aborts.
    for (const p of ports.slice(1)) await g.client(p).config('SET', 'replica-priority', '0');
    await waitFor('replicas in sync, lease held', async () => {
      for (const p of ports.slice(1)) if (field(await g.info(p), 'master_link_status') !== 'up') return false;
      return Number(field(await g.info(ports[0]!), 'durable_lease_ms_left')) > 0;
    });
    sentinel = await g.startSentinel('nodis', ports[0]!, 1, 'sentinel failover-timeout tedu 1500\n');
    await waitFor('sentinel sees both replicas', async () => {
      const m = (await g.client(sentinel.port).call('sentinel', 'master', 'tedu')) as string[];
      return m[m.indexOf('num-slaves') + 1] === '2';
    });
  });

  after(async () => {
    if (master.signalCode === null && master.exitCode === null) master.kill('SIGCONT');
    await g.cleanup();
  });

  test('an aborted failover lifts the fences it set: the master gets its replicas and lease back', async () => {
    master.kill('SIGSTOP');
    try {
      await waitFor('failover aborted, both fences lifted', async () => sentinel.log().includes('-failover-abort-no-good-slave') && lifted('aborted') >= 2, 60000);
    } finally {
      master.kill('SIGCONT');
    }
    await waitFor('replicas back on the master', async () => {
      for (const p of ports.slice(1)) {
        const i = await g.info(p);
        if (field(i, 'master_link_status') !== 'up' || field(i, 'durable_fenced_ms') !== undefined) return false;
      }
      return true;
    }, 60000);
    await waitFor('master writable again', writable, 60000);
  });

  test('a fence left behind (its sentinel died mid-failover) is lifted once stale', async () => {
    // The sentinel quiet first: a failover attempt still under way (the master was stopped in
    // the test above) would lift our fence as its own when it aborts, never as a stale one.
    await waitFor('the sentinel to see a healthy master, no failover under way', async () => {
      const m = (await g.client(sentinel.port).call('sentinel', 'master', 'tedu')) as string[];
      return m[m.indexOf('flags') + 1] === 'master';
    }, 60000);
    const r = g.client(ports[1]!);
    const t0 = Date.now();
    await r.call('REPLCONF', 'DURABLE-FENCE', '1');
    assert.equal(field(await g.info(ports[1]!), 'master_link_status'), 'down');
    // 5 × failover-timeout (7.5 s) later, at the sentinel's next INFO of that replica.
    await waitFor('stale fence lifted', async () => lifted('stale') >= 1, 60000);
    // Not before: a younger fence may belong to a failover still in progress.
    assert.ok(Date.now() - t0 >= 7500, `lifted after ${Date.now() - t0} ms`);
    await waitFor('replica back', async () => field(await g.info(ports[1]!), 'master_link_status') === 'up', 60000);
    assert.equal(field(await g.info(ports[1]!), 'durable_fenced_ms'), undefined);
  });
});
