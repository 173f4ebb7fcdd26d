/**
 * nodis-cli --cluster against a cluster of real redis-server nodes, output compared byte for byte
 * (colours included) and exit status with the real redis-cli --cluster: info, check (a clean
 * cluster, then one with an open slot), call (with --cluster-only-masters / -replicas), bad
 * addresses. Plus nodis-cli -c following MOVED across the same cluster.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { NODIS_CLI, freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/conditions.js';

after(stopAll);

let nodes: RunningServer[] = [];
let clients: Redis[] = [];

function cli(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): { out: string; status: number | null } {
  const r = spawnSync(bin, args, { encoding: 'latin1', env: { ...process.env, ...env }, timeout: 60000 });
  return { out: r.stdout + '\u0000' + r.stderr, status: r.status };
}

function same(args: string[], env: NodeJS.ProcessEnv = { TERM: 'xterm' }): { out: string; status: number | null } {
  const real = cli('/usr/bin/redis-cli', args, env);
  const ours = cli(NODIS_CLI, args, env);
  assert.equal(ours.out, real.out, `nodis-cli ${args.join(' ')}`);
  assert.equal(ours.status, real.status, `exit status of ${args.join(' ')}`);
  return ours;
}

before(async () => {
  // Bus ports of their own: the default (port + 10000) may be another test's port.
  const busPorts: number[] = [];
  for (let i = 0; i < 3; i++) {
    busPorts.push(await freePort());
    nodes.push(await startServer({ bin: '/usr/bin/redis-server', args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]), '--cluster-node-timeout', '5000'] }));
  }
  clients = nodes.map((n) => n.client());
  const [a, b, c] = clients as [Redis, Redis, Redis];
  await a.call('CLUSTER', 'ADDSLOTSRANGE', '0', '8191');
  await b.call('CLUSTER', 'ADDSLOTSRANGE', '8192', '16383');
  await b.call('CLUSTER', 'MEET', '127.0.0.1', String(nodes[0]!.port), String(busPorts[0]));
  await c.call('CLUSTER', 'MEET', '127.0.0.1', String(nodes[0]!.port), String(busPorts[0]));
  const known = async (r: Redis): Promise<boolean> => {
    const text = String(await r.call('CLUSTER', 'NODES'));
    return text.trim().split('\n').length === 3 && !/handshake|noaddr/.test(text);
  };
  await waitFor('every node to know the others', async () => (await known(a)) && (await known(b)) && (await known(c)));
  await c.call('CLUSTER', 'REPLICATE', String(await a.call('CLUSTER', 'MYID')));
  const settled = async (r: Redis): Promise<boolean> => {
    const text = String(await r.call('CLUSTER', 'NODES'));
    return /slave/.test(text) && String(await r.call('CLUSTER', 'INFO')).includes('cluster_state:ok');
  };
  await waitFor('the replica to be seen by all', async () => (await settled(a)) && (await settled(b)) && (await settled(c)));
  await a.set('bar', '1');
  await b.set('foo', '1');
  // The replica's copy arrives asynchronously: redis-cli and nodis-cli, run one after the
  // other, must both see it (DBSIZE on the replica read 0, then 1, once in CI).
  await waitFor("the replica to hold its master's key", async () => (await c.dbsize()) === 1);
});

test('--cluster info and check on a clean cluster: the same bytes and status as redis-cli', () => {
  const addr = `127.0.0.1:${nodes[0]!.port}`;
  const info = same(['--cluster', 'info', addr]);
  assert.match(info.out, /\[OK\] 2 keys in 2 masters\./);
  same(['--cluster', 'info', '127.0.0.1', String(nodes[1]!.port)], { TERM: 'dumb' });
  const check = same(['--cluster', 'check', addr]);
  assert.equal(check.status, 0);
  assert.match(check.out, /All 16384 slots covered/);
  assert.match(check.out, /1 additional replica\(s\)/);
  same(['--cluster', 'check', `127.0.0.1:${nodes[2]!.port}`], { TERM: 'dumb' });
});

test('--cluster call on every node, masters only, replicas only; errors shown raw', () => {
  const addr = `127.0.0.1:${nodes[1]!.port}`;
  const all = same(['--cluster', 'call', addr, 'CLUSTER', 'KEYSLOT', 'x']);
  assert.equal(all.out.split('16287').length - 1, 3);
  same(['--cluster', 'call', addr, 'dbsize', '--cluster-only-masters']);
  same(['--cluster', 'call', addr, 'dbsize', '--cluster-only-replicas']);
  same(['--cluster', 'call', addr, 'nosuchcommand', 'a']);
  same(['--cluster', 'call', addr, 'get', 'foo']);
});

test('bad addresses and unreachable nodes fail as redis-cli fails', () => {
  assert.equal(same(['--cluster', 'info', 'nohostport']).status, 1);
  assert.equal(same(['--cluster', 'check', '127.0.0.1:1']).status, 1);
});

test('--cluster check reports open slots and exits 1', async () => {
  const [a, b] = clients as [Redis, Redis];
  const idA = String(await a.call('CLUSTER', 'MYID'));
  const idB = String(await b.call('CLUSTER', 'MYID'));
  await a.call('CLUSTER', 'SETSLOT', '100', 'MIGRATING', idB);
  await b.call('CLUSTER', 'SETSLOT', '100', 'IMPORTING', idA);
  const check = same(['--cluster', 'check', `127.0.0.1:${nodes[1]!.port}`]);
  assert.equal(check.status, 1);
  assert.match(check.out, /The following slots are open: 100\./);
  await a.call('CLUSTER', 'SETSLOT', '100', 'STABLE');
  await b.call('CLUSTER', 'SETSLOT', '100', 'STABLE');
});

test('nodis-cli -c follows MOVED like redis-cli -c', () => {
  const port = String(nodes[0]!.port);
  const real = cli('/usr/bin/redis-cli', ['-c', '-p', port, 'get', 'foo']);
  const ours = cli(NODIS_CLI, ['-c', '-p', port, 'get', 'foo']);
  assert.equal(ours.out, real.out);
  assert.equal(ours.out, '1\n\u0000');
});
