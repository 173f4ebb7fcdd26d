/**
 * `nodis-ha watch` on a deployment it did not start: Debian's redis-server and redis-sentinel
 * (started by `nodis-ha up --redis`, itself under test), seen through one sentinel address. The
 * watcher finds every node and sentinel, follows a failover, and refuses actions.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { HaProcess, addresses, closed, until } from './helpers/ha.js';

describe('nodis-ha watch', () => {
  const procs: HaProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop();
  });

  it("watches Debian's redis-server + redis-sentinel through one sentinel, and follows a failover", async () => {
    const up = new HaProcess(['up', '--redis', '--down-after', '1000']);
    procs.push(up);
    const table = await until('the redis topology', () => {
      const t = up.lastTable();
      return (t.match(/ slave +up /g) ?? []).length === 2 && /sentinel 3/.test(t) ? t : null;
    }, 60000);
    const sentinel = /sentinel 1 +(127\.0\.0\.1:\d+)/.exec(table)![1]!;
    const master = /1 node 1 +(127\.0\.0\.1:\d+) +master/.exec(table)![1]!;

    const watch = new HaProcess(['watch', '--sentinel', sentinel]);
    procs.push(watch);
    const seen = await until('the watcher to find everything', () => {
      const t = watch.lastTable();
      return /master "mymaster"/.test(t) && (t.match(/ slave +up /g) ?? []).length === 2 && /sentinel 3 /.test(t) ? t : null;
    }, 60000);
    assert.ok(seen.includes(master));
    assert.equal(addresses(seen).length, 6);
    // A watcher has no actions.
    watch.send('k');
    await until('the refusal', () => /read-only view \(nodis-ha watch\): no actions/.test(watch.out), 10000);

    up.send('k');
    // redis-sentinel retries a failover whose election failed (split votes, likelier on a loaded
    // machine) only after 2 × failover-timeout (nodis-ha's 10 s): a wait of 120 s leaves room for
    // a few. A timeout prints both views' last output.
    await until('the watcher to see the failover', () => /\+switch-master mymaster/.test(watch.out) && !watch.lastTable().includes(`at ${master}`), 120000).catch((e: Error) => {
      throw new Error(`${e.message}\n--- watch:\n${watch.out.slice(-4000)}\n--- up:\n${up.out.slice(-4000)}`);
    });
    assert.match(watch.out, /\+odown master mymaster/);
    assert.match(watch.out, /failover: .* → .* in \d+ ms/);

    await up.stop();
    for (const a of addresses(table)) assert.ok(await until(`${a} to close`, () => closed(a), 15000));
  });
});
