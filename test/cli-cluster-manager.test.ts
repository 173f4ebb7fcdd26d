/**
 * nodis-cli --cluster create / reshard / rebalance / add-node / del-node beside the real redis-cli on
 * equivalent clusters: six redis-server nodes driven by redis-cli, six nodis nodes driven by
 * nodis-cli, the same arguments. Outputs are compared line for line (colours included) once
 * node ids, ports and the number of "waiting" dots are masked; the lines of the node listings
 * after a cluster check are compared as a multiset, since each server lists its nodes in its
 * own order. The resulting slot maps and keys are checked on both clusters.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from 'ioredis';
import { stopAll } from './helpers/server.js';
import { type Side, addNode, run, mask, sameOutput, slotMap, settled } from './helpers/cluster-sides.js';

after(stopAll);

test('nodis-cli --cluster create, reshard, rebalance, add-node, del-node: redis-cli\'s output and slot maps', { timeout: 900000 }, async () => {
  const sides: Side[] = [];
  for (const kind of ['redis', 'nodis'] as const) {
    const side: Side = { kind, nodes: [], clients: [], ids: [] };
    for (let i = 0; i < 6; i++) await addNode(side);
    sides.push(side);
  }
  const [redis, nodis] = sides as [Side, Side];
  const addrs = (s: Side, n = 6): string[] => s.nodes.slice(0, n).map((x) => `127.0.0.1:${x.port}`);

  // Too few nodes for three masters with a replica each: the same refusal.
  const few = await Promise.all(sides.map((s) => run(s, ['--cluster', 'create', ...addrs(s, 4), '--cluster-replicas', '1', '--cluster-yes'])));
  assert.equal(mask(nodis, few[1]!.out), mask(redis, few[0]!.out));
  assert.equal(few[1]!.status, few[0]!.status);
  assert.match(few[1]!.out, /At least 6 nodes are required/);

  // create with a replica per master.
  const created = await Promise.all(sides.map((s) => run(s, ['--cluster', 'create', ...addrs(s), '--cluster-replicas', '1', '--cluster-yes'])));
  assert.equal(created[0]!.status, 0, created[0]!.out);
  assert.equal(created[1]!.status, 0, created[1]!.out);
  sameOutput(mask(nodis, created[1]!.out), mask(redis, created[0]!.out), 'create');
  assert.match(created[1]!.out, /Master\[2\] -> Slots 10923 - 16383\n/);
  await Promise.all(sides.map((s) => settled(s)));
  assert.deepEqual(await slotMap(nodis), ['0-5460 N0', '10923-16383 N2', '5461-10922 N1']);
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));
  for (const s of sides) {
    const replicas = (await Promise.all(s.clients.map(async (c) => ((await c.call('ROLE')) as string[])[0]))).filter((r) => r === 'slave');
    assert.equal(replicas.length, 3, `${s.kind}: three replicas`);
  }

  // The same keys on both, then 300 slots from master 0 to master 2.
  for (const s of sides) {
    const c = new Cluster([{ host: '127.0.0.1', port: s.nodes[0]!.port }]);
    for (let i = 0; i < 400; i++) await c.set(`key:${i}`, `value:${i}`);
    c.disconnect();
  }
  const moved = await Promise.all(
    sides.map((s) => run(s, ['--cluster', 'reshard', addrs(s)[0]!, '--cluster-from', s.ids[0]!, '--cluster-to', s.ids[2]!, '--cluster-slots', '300', '--cluster-yes', '--cluster-pipeline', '3'])),
  );
  assert.equal(moved[1]!.status, 0, moved[1]!.out);
  sameOutput(mask(nodis, moved[1]!.out), mask(redis, moved[0]!.out), 'reshard');
  assert.match(mask(nodis, moved[1]!.out), /Moving slot 299 from 127\.0\.0\.1:N0 to 127\.0\.0\.1:N2: \.*\n/);
  await Promise.all(sides.map((s) => settled(s)));
  assert.deepEqual(await slotMap(nodis), ['0-299 N2', '10923-16383 N2', '300-5460 N0', '5461-10922 N1']);
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));
  // Every key where its slot now is, with its value.
  const c = new Cluster([{ host: '127.0.0.1', port: nodis.nodes[1]!.port }]);
  for (let i = 0; i < 400; i++) assert.equal(await c.get(`key:${i}`), `value:${i}`);
  c.disconnect();
  const sizes = await Promise.all([0, 1, 2].map((i) => nodis.clients[i]!.dbsize()));
  assert.equal(sizes.reduce((a, b) => a + b, 0), 400);

  // reshard from all masters, interactively answered "no" at the plan's question: nothing moves.
  const refused = await Promise.all(sides.map((s) => run(s, ['--cluster', 'reshard', addrs(s)[0]!, '--cluster-from', 'all', '--cluster-to', s.ids[1]!, '--cluster-slots', '10'], 'no\n')));
  sameOutput(mask(nodis, refused[1]!.out), mask(redis, refused[0]!.out), 'reshard refused');
  assert.equal(refused[1]!.status, refused[0]!.status);

  // rebalance: 5161 / 5462 / 5761 slots → 301 slots to master 0 (300 from master 2, then one
  // from master 1); again: nothing to do; an unknown weight's node: refused.
  const balanced = await Promise.all(sides.map((s) => run(s, ['--cluster', 'rebalance', addrs(s)[1]!])));
  assert.equal(balanced[1]!.status, 0, balanced[1]!.out);
  sameOutput(mask(nodis, balanced[1]!.out), mask(redis, balanced[0]!.out), 'rebalance');
  assert.match(mask(nodis, balanced[1]!.out), /Moving 300 slots from 127\.0\.0\.1:N2 to 127\.0\.0\.1:N0\n#{300}\nMoving 1 slots from 127\.0\.0\.1:N1 to 127\.0\.0\.1:N0\n#\n/);
  await Promise.all(sides.map((s) => settled(s)));
  assert.deepEqual(await slotMap(nodis), ['0-5461 N0', '10923-16383 N2', '5462-10922 N1']);
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));
  for (const extra of [[], ['--cluster-weight', 'xyz=2']]) {
    const again = await Promise.all(sides.map((s) => run(s, ['--cluster', 'rebalance', addrs(s)[0]!, ...extra])));
    assert.equal(mask(nodis, again[1]!.out), mask(redis, again[0]!.out));
    assert.equal(again[1]!.status, again[0]!.status);
  }

  // add-node (a new empty master), then del-node of it.
  await Promise.all(sides.map((s) => addNode(s)));
  const added = await Promise.all(sides.map((s) => run(s, ['--cluster', 'add-node', `127.0.0.1:${s.nodes[6]!.port}`, addrs(s)[0]!])));
  assert.equal(added[1]!.status, 0, added[1]!.out);
  sameOutput(mask(nodis, added[1]!.out), mask(redis, added[0]!.out), 'add-node');
  await Promise.all(sides.map((s) => settled(s, 7)));
  const deleted = await Promise.all(sides.map((s) => run(s, ['--cluster', 'del-node', addrs(s)[0]!, s.ids[6]!])));
  assert.equal(deleted[1]!.status, 0, deleted[1]!.out);
  sameOutput(mask(nodis, deleted[1]!.out), mask(redis, deleted[0]!.out), 'del-node');
  assert.equal(String(await nodis.clients[6]!.call('CLUSTER', 'INFO')).match(/cluster_known_nodes:(\d+)/)![1], '1');
  for (const cl of nodis.clients.slice(0, 6)) assert.doesNotMatch(String(await cl.call('CLUSTER', 'NODES')), new RegExp(nodis.ids[6]!));

  // A node that is not empty any more is refused by create.
  const busy = await Promise.all(sides.map((s) => run(s, ['--cluster', 'create', ...addrs(s, 3)])));
  assert.equal(mask(nodis, busy[1]!.out), mask(redis, busy[0]!.out));
  assert.equal(busy[1]!.status, 1);
});
