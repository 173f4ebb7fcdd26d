/**
 * nodis-cli --cluster check / fix / set-timeout / import / backup beside the real redis-cli, on
 * two equivalent three-master clusters (redis-server nodes driven by redis-cli, nodis nodes by
 * nodis-cli) broken the same way: slots left open (migrating and importing, migrating alone,
 * importing alone), slots nobody covers (with keys on one node, with no keys), a slot with keys
 * on two masters. Outputs are compared once ids and ports are masked (as multisets of lines
 * where each server lists its nodes in its own order), then the slot maps and the keys.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Cluster } from 'ioredis';
import { startServer, stopAll } from './helpers/server.js';
import { type Side, addNode, run, mask, sameOutput, slotMap, settled, BIN } from './helpers/cluster-sides.js';
import { keyHashSlot } from '../src/cluster/slot.js';

after(stopAll);

/** Hash tags whose slots fall in [lo, hi], one per slot, none of `taken`. */
function tagsIn(lo: number, hi: number, count: number, taken: Set<number>): { tag: string; slot: number }[] {
  const found: { tag: string; slot: number }[] = [];
  for (let i = 0; found.length < count; i++) {
    const slot = keyHashSlot(`t${i}`);
    if (slot < lo || slot > hi || taken.has(slot)) continue;
    taken.add(slot);
    found.push({ tag: `t${i}`, slot });
  }
  return found;
}

/** Both sides' outputs for the same arguments, masked. */
async function both(sides: Side[], args: (s: Side) => string[], input = ''): Promise<{ out: string; status: number }[]> {
  const results = await Promise.all(sides.map((s) => run(s, args(s), input)));
  return results.map((r, i) => ({ out: mask(sides[i]!, r.out), status: r.status }));
}

const addr = (s: Side, i = 0): string => `127.0.0.1:${s.nodes[i]!.port}`;

/** Lines printed once per node, in the order of each server's CLUSTER NODES (or of its SCAN). */
const PER_NODE = /^(\[WARNING\] Node |127\.0\.0\.1:N\d+ \(|    127\.0\.0\.1:N\d+$|\*\*\* New timeout set for |Migrating |>>> Node 127\.0\.0\.1:N\d+ -> Saving|SYNC sent to master|Transfer finished)/;

test('nodis-cli --cluster fix, check, set-timeout, import, backup: redis-cli\'s output and results', { timeout: 900000 }, async (t) => {
  const sides: Side[] = [];
  for (const kind of ['redis', 'nodis'] as const) {
    const side: Side = { kind, nodes: [], clients: [], ids: [] };
    for (let i = 0; i < 3; i++) await addNode(side);
    sides.push(side);
  }
  const [redis, nodis] = sides as [Side, Side];
  const created = await both(sides, (s) => ['--cluster', 'create', addr(s, 0), addr(s, 1), addr(s, 2), '--cluster-yes']);
  assert.equal(created[1]!.status, 0, created[1]!.out);
  await Promise.all(sides.map((s) => settled(s)));
  const taken = new Set<number>();

  // Three open slots: A migrating N0 → N1 with keys (case 1), B migrating on its owner N2 alone
  // (case 4), C importing on N0 from its owner N2 (case 2).
  const [a] = tagsIn(0, 5460, 1, taken);
  const [b] = tagsIn(10923, 16383, 1, taken);
  const [c] = tagsIn(10923, 16383, 1, taken);
  for (const s of sides) {
    const [n0, n1, n2] = s.clients as [typeof s.clients[0], typeof s.clients[0], typeof s.clients[0]];
    for (let i = 0; i < 5; i++) await n0!.set(`{${a!.tag}}:${i}`, `a${i}`);
    await n2!.set(`{${b!.tag}}:0`, 'b');
    await n1!.call('CLUSTER', 'SETSLOT', a!.slot, 'IMPORTING', s.ids[0]!);
    await n0!.call('CLUSTER', 'SETSLOT', a!.slot, 'MIGRATING', s.ids[1]!);
    await n2!.call('CLUSTER', 'SETSLOT', b!.slot, 'MIGRATING', s.ids[0]!);
    await n0!.call('CLUSTER', 'SETSLOT', c!.slot, 'IMPORTING', s.ids[2]!);
  }
  const checked = await both(sides, (s) => ['--cluster', 'check', addr(s)]);
  assert.equal(checked[1]!.status, 1);
  assert.equal(checked[0]!.status, 1);
  sameOutput(checked[1]!.out, checked[0]!.out, 'check with open slots', PER_NODE);
  assert.match(checked[1]!.out, /\[WARNING\] The following slots are open: /);
  const fixed = await both(sides, (s) => ['--cluster', 'fix', addr(s)]);
  sameOutput(fixed[1]!.out, fixed[0]!.out, 'fix open slots', PER_NODE);
  assert.equal(fixed[1]!.status, fixed[0]!.status);
  assert.match(fixed[1]!.out, new RegExp(`>>> Case 1: Moving slot ${a!.slot} from 127\\.0\\.0\\.1:N0 to 127\\.0\\.0\\.1:N1\n`));
  assert.match(fixed[1]!.out, new RegExp(`>>> Case 4: Closing slot ${b!.slot} on 127\\.0\\.0\\.1:N2\n`));
  assert.match(fixed[1]!.out, new RegExp(`>>> Case 2: Moving all the ${c!.slot} slot keys to its owner 127\\.0\\.0\\.1:N2\n`));
  await Promise.all(sides.map((s) => settled(s)));
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));
  assert.ok((await slotMap(nodis)).includes(`${a!.slot}-${a!.slot} N1`));
  for (const s of sides) assert.equal(await s.clients[1]!.call('CLUSTER', 'COUNTKEYSINSLOT', a!.slot), 5, s.kind);
  const clean = await both(sides, (s) => ['--cluster', 'check', addr(s)]);
  assert.equal(clean[1]!.status, 0, clean[1]!.out);
  sameOutput(clean[1]!.out, clean[0]!.out, 'check after fix', PER_NODE);

  // Uncovered slots, three with a key on N2 alone: the fix asks (even with --cluster-yes) and
  // the answer comes on stdin; N2 gets them back.
  const withKeys = tagsIn(10923, 16383, 3, taken);
  for (const s of sides) {
    for (const { tag } of withKeys) await s.clients[2]!.set(`{${tag}}:k`, tag);
    for (const cl of s.clients) await cl.call('CLUSTER', 'DELSLOTS', ...withKeys.map((t) => t.slot));
  }
  // A ping N2 sent before its own DELSLOTS can give the slots back to N2 in another node's view
  // for a moment; the check inside the fix would then report "Nodes don't agree" on one side only.
  await Promise.all(sides.map((s) => settled(s, s.nodes.length, false)));
  const uncovered = await both(sides, (s) => ['--cluster', 'fix', addr(s), '--cluster-yes'], 'yes\n');
  sameOutput(uncovered[1]!.out, uncovered[0]!.out, 'fix uncovered slots', PER_NODE);
  assert.match(uncovered[1]!.out, /The following uncovered slots have keys in just one node:\n/);
  assert.equal(uncovered[1]!.status, uncovered[0]!.status);
  await Promise.all(sides.map((s) => settled(s)));
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));
  const A = a!.slot;
  assert.deepEqual(await slotMap(nodis), [`0-${A - 1} N0`, '10923-16383 N2', `${A}-${A} N1`, `${A + 1}-5460 N0`, '5461-10922 N1'].sort());

  // A slot with keys on two masters: three keys on N1 (written there while it imported the
  // slot), one on its owner N0. Found with --cluster-search-multiple-owners; N1 (most keys) gets
  // the slot, then moving N0's key fails as it does with redis-cli: N0, no longer the owner,
  // answers its MIGRATE with MOVED — unless the cluster's gossip wins the race described below.
  const [f] = tagsIn(0, 5460, 1, taken);
  for (const s of sides) {
    await s.clients[0]!.set(`{${f!.tag}}:0`, 'owner');
    await s.clients[1]!.call('CLUSTER', 'SETSLOT', f!.slot, 'IMPORTING', s.ids[0]!);
    for (let i = 1; i <= 3; i++) {
      await s.clients[1]!.call('ASKING');
      await s.clients[1]!.set(`{${f!.tag}}:${i}`, `other${i}`);
    }
    await s.clients[1]!.call('CLUSTER', 'SETSLOT', f!.slot, 'STABLE');
  }
  const owners = await both(sides, (s) => ['--cluster', 'check', addr(s), '--cluster-search-multiple-owners']);
  sameOutput(owners[1]!.out, owners[0]!.out, 'check multiple owners', PER_NODE);
  assert.match(owners[1]!.out, new RegExp(`\\[WARNING\\] Slot ${f!.slot} has 2 owners:\n`));
  assert.equal(owners[1]!.status, 1);
  const ownersFixed = await both(sides, (s) => ['--cluster', 'fix', addr(s), '--cluster-search-multiple-owners']);
  // Which of two endings a side shows is a race inside the cluster, real Redis's too: redis-cli
  // counts N0's keys in the slot, DELSLOTS and SETSLOT NODE N1 there, then migrates them. If
  // N1's ping with the epoch the fix bumped reaches N0 first, N0 hands the slot over on its own
  // and deletes its keys in it (cluster.c's dirty slots), so nothing is left to migrate and the
  // fix succeeds (seen with redis-server under CI's load); otherwise N0 answers the MIGRATE
  // with MOVED. Each side must show one of the two, and the two sides' reports are compared
  // whenever they took the same one.
  const movedThenFailed = new RegExp(`MOVED ${f!.slot} 127\\.0\\.0\\.1:N1\n[^]*Failed to fix multiple owners for slot ${f!.slot}\n`);
  const moved = ownersFixed.map((r) => movedThenFailed.test(r.out));
  if (moved[0] === moved[1]) {
    sameOutput(ownersFixed[1]!.out, ownersFixed[0]!.out, 'fix multiple owners', PER_NODE);
    assert.equal(ownersFixed[1]!.status, ownersFixed[0]!.status);
  } else {
    t.diagnostic(`fix multiple owners: redis-server's side ${moved[0] ? 'answered MOVED' : 'lost the race to its gossip'}, nodis's ${moved[1] ? 'answered MOVED' : 'lost the race to its gossip'}`);
  }
  await Promise.all(sides.map((s) => settled(s)));
  for (const [i, s] of sides.entries()) {
    assert.match(ownersFixed[i]!.out, new RegExp(`>>> Setting slot ${f!.slot} owner: 127\\.0\\.0\\.1:N1\n`), s.kind);
    if (!moved[i]) assert.match(ownersFixed[i]!.out, /\[OK\] No multiple owners found\./, s.kind);
    assert.equal(await s.clients[1]!.call('CLUSTER', 'COUNTKEYSINSLOT', f!.slot), 3, s.kind);
    assert.equal(await s.clients[0]!.call('CLUSTER', 'COUNTKEYSINSLOT', f!.slot), moved[i] ? 1 : 0, s.kind);
  }
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));
  assert.ok((await slotMap(nodis)).includes(`${f!.slot}-${f!.slot} N1`));

  // set-timeout: every node's CONFIG and config file.
  const tooShort = await both(sides, (s) => ['--cluster', 'set-timeout', addr(s), '50']);
  assert.deepEqual(tooShort[1], tooShort[0]);
  const timeout = await both(sides, (s) => ['--cluster', 'set-timeout', addr(s), '6000']);
  sameOutput(timeout[1]!.out, timeout[0]!.out, 'set-timeout', PER_NODE);
  assert.match(timeout[1]!.out, /New node timeout set\. 3 OK, 0 ERR\./);
  for (const [i, n] of nodis.nodes.entries()) {
    assert.deepEqual(await nodis.clients[i]!.call('CONFIG', 'GET', 'cluster-node-timeout'), ['cluster-node-timeout', '6000']);
    assert.match(fs.readFileSync(path.join(n.dir, 'test.conf'), 'latin1'), /^cluster-node-timeout 6000$/m);
  }

  // import: a standalone node's keys MIGRATEd (COPY: the source keeps them) to their masters.
  const sources = await Promise.all(sides.map((s) => startServer({ bin: BIN[s.kind].server })));
  for (const src of sources) {
    const cl = src.client();
    for (let i = 0; i < 30; i++) await cl.set(`imported:${i}`, `v${i}`);
    await cl.rpush('imported:list', 'x', 'y', 'z');
  }
  const noFrom = await both(sides, (s) => ['--cluster', 'import', addr(s)]);
  assert.deepEqual(noFrom[1], noFrom[0]);
  const imported = await both(sides, (s) => ['--cluster', 'import', addr(s), '--cluster-from', `127.0.0.1:${sources[sides.indexOf(s)]!.port}`, '--cluster-copy']);
  const srcMask = (t: string, i: number): string => t.split(String(sources[i]!.port)).join('SRC');
  assert.equal(imported[1]!.status, 0, imported[1]!.out);
  sameOutput(srcMask(imported[1]!.out, 1), srcMask(imported[0]!.out, 0), 'import', PER_NODE);
  assert.match(imported[1]!.out, /\*\*\* Importing 31 keys from DB 0\n/);
  const nodisCluster = new Cluster([{ host: '127.0.0.1', port: nodis.nodes[0]!.port }]);
  for (let i = 0; i < 30; i++) assert.equal(await nodisCluster.get(`imported:${i}`), `v${i}`);
  assert.deepEqual(await nodisCluster.lrange('imported:list', 0, -1), ['x', 'y', 'z']);
  nodisCluster.disconnect();
  assert.equal(await sources[1]!.client().dbsize(), 31);

  // backup: nodes.json as redis-cli writes it, one RDB per master that a server loads.
  const dirs = sides.map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-backup-')));
  const backedUp = await both(sides, (s) => ['--cluster', 'backup', addr(s), dirs[sides.indexOf(s)]!]);
  const bytes = (t: string, i: number): string => t.split(dirs[i]!).join('DIR').replace(/writing \d+ bytes/g, 'writing <n> bytes');
  assert.equal(backedUp[1]!.status, 0, backedUp[1]!.out);
  sameOutput(bytes(backedUp[1]!.out, 1), bytes(backedUp[0]!.out, 0), 'backup', PER_NODE);
  const nodesJson = (i: number): unknown[] => {
    const nodes = JSON.parse(fs.readFileSync(path.join(dirs[i]!, 'nodes.json'), 'latin1')) as { name: string; port: number }[];
    const masked = nodes.map((n) => ({ ...n, port: `N${sides[i]!.nodes.findIndex((x) => x.port === n.port)}` }));
    return (JSON.parse(mask(sides[i]!, JSON.stringify(masked))) as { name: string }[]).sort((x, y) => (x.name < y.name ? -1 : 1));
  };
  assert.deepEqual(nodesJson(1), nodesJson(0));
  const rdbs = fs.readdirSync(dirs[1]!).filter((n) => n.endsWith('.rdb')).sort();
  assert.deepEqual(rdbs, nodis.nodes.map((n, i) => `redis-node-127.0.0.1-${n.port}-${nodis.ids[i]}.rdb`).sort());
  for (const [i, n] of nodis.nodes.entries()) {
    const file = `redis-node-127.0.0.1-${n.port}-${nodis.ids[i]}.rdb`;
    const loaded = await startServer({ args: ['--dbfilename', file, '--enable-debug-command', 'yes'] });
    fs.copyFileSync(path.join(dirs[1]!, file), path.join(loaded.dir, file));
    await loaded.client().call('DEBUG', 'RELOAD', 'NOSAVE');
    assert.equal(await loaded.client().dbsize(), await nodis.clients[i]!.dbsize(), file);
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });

  // Uncovered slots with no keys anywhere: each goes to a random master (redis-cli's too), so
  // that master is masked; then every slot is covered again.
  const empty = tagsIn(5461, 10922, 2, taken);
  for (const s of sides) for (const cl of s.clients) await cl.call('CLUSTER', 'DELSLOTS', ...empty.map((t) => t.slot));
  const randomOwner = (t: string): string => t.replace(/(>>> Covering slot \d+ with 127\.0\.0\.1:)N\d/g, '$1N?');
  const emptyFixed = await both(sides, (s) => ['--cluster', 'fix', addr(s)], 'yes\n');
  sameOutput(randomOwner(emptyFixed[1]!.out), randomOwner(emptyFixed[0]!.out), 'fix uncovered slots without keys', PER_NODE);
  assert.match(emptyFixed[1]!.out, /The following uncovered slots have no keys across the cluster:\n/);
  await settled(nodis);
  assert.match(String(await nodis.clients[0]!.call('CLUSTER', 'INFO')), /cluster_slots_assigned:16384\r\n/);

  // The random masters differ between the sides: the empty slots back to N1 on both.
  await settled(redis);
  // N1 then takes a new epoch: a ping the random owner sent before its own SETSLOT can still
  // hand the slot back to it in N0's or N1's view, and since it no longer claims the slot, nothing
  // would correct that view (seen on redis-server's side under CI's load: never agreeing); N1's
  // claim with the newest epoch does.
  for (const s of sides) {
    for (const { slot } of empty) for (const i of [1, 0, 2]) await s.clients[i]!.call('CLUSTER', 'SETSLOT', slot, 'NODE', s.ids[1]!);
    await s.clients[1]!.call('CLUSTER', 'BUMPEPOCH');
  }
  await Promise.all(sides.map((s) => settled(s)));
  assert.deepEqual(await slotMap(nodis), await slotMap(redis));

  // A master down: fix refuses to touch an open slot (it could reassign the dead master's
  // slots) unless --cluster-fix-with-unreachable-masters, and then closes it.
  await Promise.all(sides.map((s) => s.nodes[2]!.stop()));
  for (const s of sides) await s.clients[0]!.call('CLUSTER', 'SETSLOT', a!.slot - 1, 'MIGRATING', s.ids[1]!);
  const refused = await both(sides, (s) => ['--cluster', 'fix', addr(s)]);
  assert.equal(refused[1]!.status, 1);
  sameOutput(refused[1]!.out, refused[0]!.out, 'fix with an unreachable master', PER_NODE);
  assert.match(refused[1]!.out, /\*\*\* Fixing open slots with 1 unreachable masters is dangerous/);
  const forced = await both(sides, (s) => ['--cluster', 'fix', addr(s), '--cluster-fix-with-unreachable-masters'], 'no\n');
  sameOutput(forced[1]!.out, forced[0]!.out, 'fix with an unreachable master, forced', PER_NODE);
  assert.match(forced[1]!.out, new RegExp(`>>> Case 4: Closing slot ${a!.slot - 1} on 127\\.0\\.0\\.1:N0\n`));
  assert.doesNotMatch(String(await nodis.clients[0]!.call('CLUSTER', 'NODES')), /->-/);
});
