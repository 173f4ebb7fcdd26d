/**
 * The cluster's failure detector and election (src/cluster/state.ts) under the deterministic
 * simulation (src/cluster/sim.ts): seeded runs with crashes, restarts from nodes.conf,
 * partitions and message loss. Invariants: one election winner per epoch, one vote per master
 * per epoch; once healed every node agrees that every slot is owned by exactly one healthy
 * master that claims it. CLUSTER_SIM_RUNS=N runs more seeds on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterSim, runScenario } from '../src/cluster/sim.js';

test('a crashed master is replaced by its replica, which keeps the slots; the old master rejoins as replica', () => {
  const sim = new ClusterSim(1, { seed: 1, masters: 3, replicasPerMaster: 1 });
  sim.run(10000);
  assert.equal(sim.convergence(), null);
  const master = sim.nodes[0]!.state!.myself.name;
  const replica = sim.nodes[3]!;
  assert.equal(replica.state!.myself.slaveof!.name, master);
  sim.crash(0);
  sim.run(15000);
  assert.equal(replica.state!.myself.isMaster, true);
  assert.equal(replica.state!.slots[0], replica.state!.myself);
  for (const n of sim.nodes.slice(1)) assert.equal(n.state!.state, 'ok', `n${n.index}`);
  sim.restart(0);
  sim.run(10000);
  assert.equal(sim.nodes[0]!.state!.myself.isSlave, true);
  assert.equal(sim.nodes[0]!.state!.myself.slaveof!.name, replica.state!.myself.name);
  assert.equal(sim.convergence(), null);
  assert.deepEqual(sim.violations, []);
});

test('a partitioned minority master loses its slots to the majority side; no split brain', () => {
  const sim = new ClusterSim(2, { seed: 2, masters: 3, replicasPerMaster: 1 });
  sim.run(10000);
  sim.partition([1]);
  sim.run(15000);
  // The majority elected n4 (n1's replica); n1 alone sees the cluster down.
  assert.equal(sim.nodes[4]!.state!.myself.isMaster, true);
  assert.equal(sim.nodes[1]!.state!.state, 'fail');
  sim.heal();
  sim.run(15000);
  assert.equal(sim.convergence(), null);
  assert.equal(sim.nodes[1]!.state!.myself.isSlave, true);
  assert.deepEqual(sim.violations, []);
});

test('seeded chaos: invariants hold and every run converges after healing', () => {
  const runs = Number(process.env.CLUSTER_SIM_RUNS ?? 12);
  let elections = 0;
  let slowest = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const { sim, convergedAfter, why } = runScenario({
      seed,
      masters: seed % 3 === 0 ? 5 : 3,
      replicasPerMaster: 1 + (seed % 2),
      chaosMs: 40000,
      healMs: 120000,
    });
    assert.deepEqual(sim.violations, [], `seed ${seed}`);
    assert.notEqual(convergedAfter, null, `seed ${seed} did not converge: ${why}`);
    slowest = Math.max(slowest, convergedAfter!);
    elections += sim.stats.elections;
  }
  assert.ok(elections > 0, 'the chaos must cause elections');
  process.stdout.write(`# ${runs} seeded runs: ${elections} elections, slowest convergence ${slowest} ms\n`);
});
