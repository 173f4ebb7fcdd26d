/**
 * The Sentinel state machine under a simulated clock and network (src/sentinel/sim-*.ts):
 * scripted scenarios with exact event sequences, then many seeded chaos runs (crashes,
 * restarts, partitions, clock jumps) checking the invariants after every event:
 *   - at most one sentinel is elected leader per epoch, and each sentinel votes once per epoch;
 *   - a replica selected for promotion had answered the leader within the last 5 s;
 *   - a config epoch never names two different master addresses;
 *   - once the network heals, every sentinel converges on one master, which is the only
 *     master among the data nodes, and every other data node replicates from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random } from '../src/core/clock.js';
import { MASTER_NAME, SimCluster, runScenario } from '../src/sentinel/sim-cluster.js';
import { loadSentinelLines, rewriteSentinelConfig, sentinelStateLines } from '../src/sentinel/config.js';
import { Sentinel } from '../src/sentinel/sentinel.js';
import { NodeClock, SimClock } from '../src/sentinel/sim-network.js';

function eventsOf(c: SimCluster, type: string): string[] {
  return c.eventLog.filter((l) => l.split(' ')[2] === type);
}

test('master crash: one leader, best replica promoted, the other follows, old master rejoins', () => {
  const c = new SimCluster({ seed: 1, sentinels: 3, quorum: 2, replicas: 2 });
  c.run(5000);
  // Discovery: every sentinel knows both replicas and the two other sentinels.
  for (const s of c.sentinels) {
    const m = s.sentinel.masters.get(MASTER_NAME)!;
    assert.equal(m.replicas.size, 2);
    assert.equal(m.sentinels.size, 2);
  }
  c.crashData(0);
  c.run(15000);
  assert.equal(eventsOf(c, '+elected-leader').length, 1);
  assert.equal(eventsOf(c, '+promoted-slave').length, 1);
  assert.equal(eventsOf(c, '+switch-master').length, 3);
  const promoted = c.data.find((d) => d.role === 'master' && d.alive)!;
  assert.ok(promoted.key !== c.data[0]!.key);
  for (const s of c.sentinels) assert.equal(s.sentinel.getMasterAddr(MASTER_NAME)!.port, promoted.addr.port);
  c.restartData(0);
  c.run(30000);
  assert.equal(eventsOf(c, '+convert-to-slave').length, 1);
  assert.equal(c.convergence(), null);
  assert.deepEqual(c.violations, []);
  // The event texts are Redis's.
  assert.match(eventsOf(c, '+odown')[0]!, /\+odown master mymaster 10\.0\.0\.1 6379 #quorum \d\/2$/);
  assert.match(eventsOf(c, '+switch-master')[0]!, new RegExp(`\\+switch-master mymaster 10\\.0\\.0\\.1 6379 10\\.0\\.0\\.1 ${promoted.addr.port}$`));
});

test('the leader sees the promotion from an INFO asked right behind SLAVEOF NO ONE, not a second later', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const c = new SimCluster({ seed, sentinels: 3, quorum: 2, replicas: 2 });
    c.run(5000);
    c.crashData(0);
    c.run(15000);
    const at = (type: string): number => Number(eventsOf(c, type)[0]!.split(' ')[0]);
    const waited = at('+promoted-slave') - at('+failover-state-wait-promotion');
    // One round trip on the simulated network; Redis's next periodic INFO comes up to 1 s later.
    assert.ok(waited >= 0 && waited < 100, `seed ${seed}: promotion seen after ${waited} ms`);
  }
});

test('a new master\'s first hello waits one publish period, as in Redis: replicas are known and fresh first', () => {
  // createSentinelRedisInstance() starts last_pub_time at "now". Announcing at once let nodis's
  // sentinels find each other before their replicas had answered INFO, so the Sentinel suite's
  // "Manual failover works", right after its init waited for discovery, got NOGOODSLAVE.
  const c = new SimCluster({ seed: 2, sentinels: 3, quorum: 2, replicas: 2 });
  c.run(1500);
  for (const s of c.sentinels) {
    const m = s.sentinel.masters.get(MASTER_NAME)!;
    assert.equal(m.sentinels.size, 0, 'no hello yet');
    assert.equal(m.replicas.size, 2);
    for (const r of m.replicas.values()) assert.ok(r.infoRefresh > 0, 'replica INFO received');
    assert.notEqual(s.sentinel.selectSlave(m), null);
  }
  c.run(3500);
  for (const s of c.sentinels) assert.equal(s.sentinel.masters.get(MASTER_NAME)!.sentinels.size, 2);
});

test('no failover without a majority of sentinels, even at quorum 1', () => {
  const c = new SimCluster({ seed: 7, sentinels: 3, quorum: 1, replicas: 2 });
  c.run(5000);
  c.crashSentinel(1);
  c.crashSentinel(2);
  c.crashData(0);
  c.run(30000);
  assert.ok(eventsOf(c, '+odown').length >= 1);
  assert.ok(eventsOf(c, '+try-failover').length >= 1);
  assert.equal(eventsOf(c, '+elected-leader').length, 0);
  assert.ok(eventsOf(c, '-failover-abort-not-elected').length >= 1);
  assert.equal(c.data.filter((d) => d.role === 'master').length, 1);
});

test('sdown alone is not odown when the quorum is not reached', () => {
  const c = new SimCluster({ seed: 3, sentinels: 3, quorum: 2, replicas: 1 });
  c.run(5000);
  // Only sentinel 0 loses sight of the master.
  const all = [...c.data.map((d) => d.key), ...c.sentinels.map((s) => s.key)];
  c.net.partition([[c.sentinels[0]!.key], all.filter((k) => k !== c.sentinels[0]!.key)]);
  c.run(10000);
  assert.ok(eventsOf(c, '+sdown').some((l) => l.includes(' s0 ') && l.includes('master mymaster')));
  assert.equal(eventsOf(c, '+odown').length, 0);
  c.net.heal();
  c.run(5000);
  assert.ok(eventsOf(c, '-sdown').some((l) => l.includes('master mymaster')));
});

test('a wall-clock jump puts a sentinel in TILT, and it leaves TILT after 30 s', () => {
  const c = new SimCluster({ seed: 11, sentinels: 3, quorum: 2, replicas: 1 });
  c.run(5000);
  c.sentinels[0]!.clock.wallOffset -= 10000;
  c.run(1000);
  assert.deepEqual(eventsOf(c, '+tilt').map((l) => l.split(' ').slice(1).join(' ')), ['s0 +tilt #tilt mode entered']);
  assert.equal(c.sentinels[0]!.sentinel.tilt, true);
  c.run(31000);
  assert.equal(eventsOf(c, '-tilt').length, 1);
  assert.equal(c.sentinels[0]!.sentinel.tilt, false);
});

test('config rewrite round-trips the state a restarted sentinel needs', () => {
  const c = new SimCluster({ seed: 5, sentinels: 3, quorum: 2, replicas: 2 });
  c.run(5000);
  c.crashData(0);
  c.run(15000);
  const s = c.sentinels[0]!.sentinel;
  const text = rewriteSentinelConfig('port 26379\n# a comment\n', s);
  assert.match(text, /^port 26379\n# a comment\n# Generated by CONFIG REWRITE\nsentinel myid [0-9a-f]{40}\n/);
  const clock = new NodeClock(new SimClock());
  const copy = new Sentinel({ clock, random: new Random(1), transport: { connect: () => { throw new Error('offline'); } }, hooks: { event: () => {}, flushConfig: () => {} }, port: 26379 });
  loadSentinelLines(copy, text);
  assert.deepEqual(sentinelStateLines(copy), sentinelStateLines(s));
  assert.equal(copy.myid, s.myid);
  assert.equal(copy.currentEpoch, s.currentEpoch);
  const m = copy.masters.get(MASTER_NAME)!;
  assert.equal(m.addr.port, s.getMasterAddr(MASTER_NAME)!.port);
  assert.equal(m.replicas.size, 2);
  assert.equal(m.sentinels.size, 2);
  // Directives are case-insensitive, and errors are Redis's.
  const t = new Sentinel({ clock, random: new Random(2), transport: { connect: () => { throw new Error('offline'); } }, hooks: { event: () => {}, flushConfig: () => {} }, port: 26379 });
  loadSentinelLines(t, 'port 26379\nSentinel monitor tedu 127.0.0.1 6379 1\n');
  assert.equal(t.masters.get('tedu')!.quorum, 1);
  assert.throws(() => loadSentinelLines(t, 'sentinel down-after-milliseconds nope 1000'), /No such master with specified name\./);
});

test('seeded chaos: invariants hold and every run converges after healing', () => {
  const runs = Number(process.env.SENTINEL_SIM_RUNS ?? 300);
  const totals = { elected: 0, promoted: 0, switches: 0, tilts: 0, aborts: 0 };
  let slowest = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const five = seed % 2 === 0;
    const { cluster, convergedAfter, why } = runScenario({
      seed,
      sentinels: five ? 5 : 3,
      quorum: five ? 3 : 2,
      replicas: 1 + (seed % 3),
      chaosMs: 90000,
      healMs: 400000,
    });
    assert.deepEqual(cluster.violations, [], `seed ${seed}`);
    assert.notEqual(convergedAfter, null, `seed ${seed} did not converge: ${why}`);
    slowest = Math.max(slowest, convergedAfter!);
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += cluster.stats[k];
  }
  // The chaos must actually exercise failovers, aborts and TILT, or the run proves little.
  assert.ok(totals.promoted > runs, `only ${totals.promoted} promotions`);
  assert.ok(totals.aborts > 0 && totals.tilts > 0);
  process.stdout.write(`# ${runs} seeded runs: ${JSON.stringify(totals)}, slowest convergence ${slowest} ms\n`);
});
