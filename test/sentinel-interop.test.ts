/**
 * Interop between nodis and Redis sentinels and data nodes: Debian's redis-sentinel monitoring
 * nodis-servers, and a mixed group (two nodis-sentinels + one redis-sentinel at quorum 2, on
 * Debian redis-servers) agreeing on one failover — same hello messages, same
 * is-master-down-by-addr votes, same epochs. (nodis-sentinel monitoring redis-servers alone is
 * test/sentinel.test.ts.)
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Group, seedDemo } from './helpers/sentinel-cluster.js';

const groups: Group[] = [];
after(async () => {
  for (const g of groups) await g.cleanup();
});

test("Debian's redis-sentinel runs the seed demo on nodis-servers", async () => {
  const g = new Group();
  groups.push(g);
  const r = await seedDemo(g, { data: 'nodis', sentinels: ['redis'], quorum: 1, fast: true });
  assert.match(r.sentinels[0]!.log(), new RegExp(`\\+switch-master tedu 127\\.0\\.0\\.1 ${r.oldMaster} 127\\.0\\.0\\.1 ${r.newMaster}`));
});

test('mixed group: two nodis-sentinels and one redis-sentinel (quorum 2) agree on one failover', async () => {
  const g = new Group();
  groups.push(g);
  const r = await seedDemo(g, { data: 'redis', sentinels: ['nodis', 'redis', 'nodis'], quorum: 2, fast: true });
  const logs = r.sentinels.map((s) => s.log());
  // One leader and one promotion per failover (normally exactly one failover; a loaded machine
  // can cause a second, legitimate one, which must be just as clean).
  const all = logs.join('\n');
  const failovers = all.match(/\+failover-end /g)?.length ?? 0;
  assert.ok(failovers >= 1, all);
  assert.equal(all.match(/\+elected-leader/g)?.length, failovers, all);
  assert.equal(all.match(/\+promoted-slave/g)?.length, failovers, all);
  // Every sentinel saw the old master replaced (the first sentinel by the replica it named first;
  // another may have learned a second failover's result directly).
  assert.match(logs[0]!, new RegExp(`\\+switch-master tedu 127\\.0\\.0\\.1 ${r.oldMaster} 127\\.0\\.0\\.1 ${r.newMaster}`));
  for (const l of logs) assert.match(l, new RegExp(`\\+switch-master tedu 127\\.0\\.0\\.1 ${r.oldMaster} 127\\.0\\.0\\.1 \\d+`));
});
