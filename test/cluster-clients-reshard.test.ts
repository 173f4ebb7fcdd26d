/**
 * Cluster clients through a reshard, from the application's side: on a 3-master nodis cluster
 * (startCluster), ioredis's Cluster, node-redis's createCluster and redis-py's RedisCluster
 * (/usr/bin/python3) write continuously to keys of the slots being moved, while
 * `nodis-cli --cluster reshard` moves those 400 slots (with their keys) from one master to
 * another and the real `redis-cli --cluster reshard` moves them back. Every write a client saw
 * acknowledged must be readable afterwards with that value, and no client may surface an error:
 * MOVED and ASK are theirs to follow.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { startCluster, type NodisClusterNode } from '../src/api/index.js';
import { keyHashSlot } from '../src/cluster/slot.js';
import { NODIS_CLI } from './helpers/server.js';

const MOVED_SLOTS = 400;

interface Outcome {
  /** Key → the last value acknowledged. */
  last: Map<string, string>;
  writes: number;
  errors: string[];
}

/** A writer loop over `keys` (value = round number) until `stop()` says so. */
async function writeLoop(set: (k: string, v: string) => Promise<unknown>, keys: string[], stop: () => boolean, started: () => void): Promise<Outcome> {
  const o: Outcome = { last: new Map(), writes: 0, errors: [] };
  for (let round = 0; !stop(); round++) {
    for (const k of keys) {
      if (stop()) break;
      try {
        await set(k, String(round));
        o.last.set(k, String(round));
        o.writes++;
      } catch (e) {
        o.errors.push(`${k}: ${(e as Error).message}`);
        o.last.delete(k);
      }
    }
    started();
  }
  return o;
}

const PY = `
import json, os, sys
from redis.cluster import RedisCluster, ClusterNode
host, port, keyfile, stopfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rc = RedisCluster(startup_nodes=[ClusterNode(host, port)], decode_responses=True)
keys = open(keyfile).read().split()
last, errors, writes, r = {}, [], 0, 0
parent = os.getppid()
def done():
    # The stop file, or the test process gone (its children must not outlive it).
    return os.path.exists(stopfile) or os.getppid() != parent
while not done():
    for k in keys:
        if done():
            break
        try:
            rc.set(k, str(r))
            last[k] = str(r)
            writes += 1
        except Exception as e:
            errors.append(k + ': ' + repr(e))
            last.pop(k, None)
    if r == 0:
        print('started', flush=True)
    r += 1
print(json.dumps({'last': last, 'writes': writes, 'errors': errors}), flush=True)
`;

function run(bin: string, args: string[]): Promise<{ out: string; status: number }> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, { encoding: 'latin1', timeout: 600000, maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      resolve({ out: stdout + stderr, status: e === null ? 0 : typeof e.code === 'number' ? e.code : -1 });
    });
    child.stdin!.end();
  });
}

test('ioredis, node-redis and redis-py clusters write through nodis-cli and redis-cli reshards with no error and no lost write', { timeout: 900000 }, async () => {
  const cluster = await startCluster({ masters: 3 });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-reshard-'));
  const closers: (() => unknown)[] = [];
  let stopping = false;
  const stop = (): boolean => stopping;
  try {
    const [m0, m1] = cluster.masters as [NodisClusterNode, NodisClusterNode];
    // 600 keys in the slots that move (0–399, master 0's first), 200 per client.
    const keys: string[] = [];
    for (let i = 0; keys.length < 600; i++) if (keyHashSlot(`k:${i}`) < MOVED_SLOTS) keys.push(`k:${i}`);
    const [ioKeys, nrKeys, pyKeys] = [keys.slice(0, 200), keys.slice(200, 400), keys.slice(400)];

    const io = new Cluster([...cluster.nodes]);
    io.on('error', () => {});
    closers.push(() => io.disconnect());
    const nr = createCluster({ rootNodes: [...cluster.rootNodes] });
    await nr.connect();
    closers.push(() => nr.destroy());
    const keyFile = path.join(tmp, 'keys');
    const stopFile = path.join(tmp, 'stop');
    fs.writeFileSync(keyFile, pyKeys.join('\n'));
    const py = spawn('/usr/bin/python3', ['-c', PY, m0.host, String(m0.port), keyFile, stopFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let pyOut = '';
    let pyErr = '';
    py.stdout.on('data', (d: Buffer) => (pyOut += d.toString()));
    py.stderr.on('data', (d: Buffer) => (pyErr += d.toString()));
    const pyDone = new Promise<void>((r) => py.once('exit', () => r()));
    closers.push(() => py.kill());

    const begun = new Set<string>();
    const ioRun = writeLoop((k, v) => io.set(k, v), ioKeys, stop, () => begun.add('io'));
    const nrRun = writeLoop((k, v) => nr.set(k, v), nrKeys, stop, () => begun.add('nr'));
    const deadline = Date.now() + 60000;
    while (!(begun.size === 2 && pyOut.includes('started'))) {
      assert.ok(Date.now() < deadline, `writers did not start: ${pyErr}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // nodis-cli moves the slots away with their keys, then redis-cli moves them back.
    const away = await run(NODIS_CLI, ['--cluster', 'reshard', `${m0.host}:${m0.port}`, '--cluster-from', m0.id, '--cluster-to', m1.id, '--cluster-slots', String(MOVED_SLOTS), '--cluster-yes']);
    assert.equal(away.status, 0, away.out);
    await cluster.waitForAgreement();
    assert.equal(cluster.masterOf(keys[0]!), m1);
    const back = await run('/usr/bin/redis-cli', ['--cluster', 'reshard', `${m1.host}:${m1.port}`, '--cluster-from', m1.id, '--cluster-to', m0.id, '--cluster-slots', String(MOVED_SLOTS), '--cluster-yes']);
    assert.equal(back.status, 0, back.out);
    assert.match(back.out, /Moving slot 399 from /);
    await cluster.waitForAgreement();
    assert.equal(cluster.masterOf(keys[0]!), m0);

    stopping = true;
    fs.writeFileSync(stopFile, '');
    const results: [string, Outcome][] = [
      ['ioredis', await ioRun],
      ['node-redis', await nrRun],
    ];
    await pyDone;
    const parsed = JSON.parse(pyOut.trim().split('\n').pop()!) as { last: Record<string, string>; writes: number; errors: string[] };
    results.push(['redis-py', { last: new Map(Object.entries(parsed.last)), writes: parsed.writes, errors: parsed.errors }]);

    // No errors surfaced; every acknowledged write readable with its value.
    const reader = new Cluster([...cluster.nodes]);
    closers.push(() => reader.disconnect());
    for (const [name, o] of results) {
      assert.deepEqual(o.errors, [], `${name} surfaced errors`);
      assert.ok(o.writes > 200, `${name} wrote ${o.writes} times`);
      for (const [k, v] of o.last) assert.equal(await reader.get(k), v, `${name}: ${k}`);
    }
    // The keys are all on master 0 again, and nowhere else.
    const direct = await Promise.all(
      cluster.masters.map(async (m) => {
        const c = new Redis(m.port, m.host);
        const n = await c.dbsize();
        c.disconnect();
        return n;
      }),
    );
    assert.deepEqual(direct, [600, 0, 0]);
  } finally {
    stopping = true;
    for (const close of closers) close();
    fs.rmSync(tmp, { recursive: true, force: true });
    await cluster.stop();
  }
});
