/**
 * `tls-cluster yes`: the cluster bus over TLS, as Redis with tls-port + tls-cluster. A nodis-only
 * cluster made by nodis-cli --tls --cluster create, and a mixed one of nodis and redis-server
 * nodes made by the real redis-cli (a redis-server bus speaks only TLS then, so the mixed
 * cluster forming proves nodis's links are TLS both ways). Plain TCP to a nodis bus port gets no
 * bus; a TLS handshake with the cluster's certificates does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import { NODIS_CLI, freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { makeTestCerts, tlsServerArgs, type TestCerts } from './helpers/tls-certs.js';
import { waitFor } from './helpers/conditions.js';

let certs: TestCerts;
const clients: Redis[] = [];

before(() => {
  certs = makeTestCerts();
});
after(async () => {
  for (const c of clients) c.disconnect();
  await stopAll();
  certs.remove();
});

interface TlsNode {
  server: RunningServer;
  tlsPort: number;
  busPort: number;
  client: Redis;
}

const tlsOptions = (): tls.ConnectionOptions => ({
  ca: fs.readFileSync(certs.ca),
  cert: fs.readFileSync(certs.clientCert),
  key: fs.readFileSync(certs.clientKey),
  checkServerIdentity: () => undefined,
});

/** A cluster node whose clients and bus are TLS only (no plain port). */
async function startNode(kind: 'nodis' | 'redis'): Promise<TlsNode> {
  const tlsPort = await freePort();
  const busPort = await freePort();
  const server = await startServer({
    ...(kind === 'redis' ? { bin: '/usr/bin/redis-server' } : {}),
    args: ['--port', '0', ...tlsServerArgs(certs, tlsPort), '--tls-cluster', 'yes', '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-node-timeout', '5000', '--appendonly', 'no'],
  });
  const client = new Redis({ port: tlsPort, host: '127.0.0.1', maxRetriesPerRequest: 1, tls: tlsOptions() });
  client.on('error', () => {});
  clients.push(client);
  return { server, tlsPort, busPort, client };
}

function cli(bin: string, args: string[]): Promise<{ out: string; status: number }> {
  const tlsArgs = ['--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey];
  return new Promise((resolve) => {
    execFile(bin, [...tlsArgs, ...args], { encoding: 'latin1', timeout: 240000 }, (e, stdout, stderr) => {
      resolve({ out: stdout + stderr, status: e === null ? 0 : typeof e.code === 'number' ? e.code : -1 });
    });
  });
}

async function clusterOk(nodes: TlsNode[]): Promise<void> {
  await waitFor(
    'every node ok, knowing every other',
    async () => {
      for (const n of nodes) {
        if (!String(await n.client.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const lines = String(await n.client.call('CLUSTER', 'NODES')).trim().split('\n');
        if (lines.length !== nodes.length || lines.some((l) => /handshake|fail|noaddr/.test(l))) return false;
      }
      return true;
    },
    120000,
  );
}

/** Writes and reads keys through ioredis's Cluster over TLS (MOVED to TLS ports). */
async function writeThrough(nodes: TlsNode[]): Promise<void> {
  const c = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.tlsPort }], { redisOptions: { tls: tlsOptions() } });
  try {
    for (let i = 0; i < 200; i++) await c.set(`tls:${i}`, `v${i}`);
    for (let i = 0; i < 200; i++) assert.equal(await c.get(`tls:${i}`), `v${i}`);
  } finally {
    c.disconnect();
  }
  let total = 0;
  for (const n of nodes) total += await n.client.dbsize();
  assert.equal(total, 200);
}

test('a nodis-only cluster whose bus is TLS: created by nodis-cli --tls, plain TCP refused on the bus', { timeout: 300000 }, async () => {
  const nodes: TlsNode[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await startNode('nodis'));
  const created = await cli(NODIS_CLI, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.tlsPort}`), '--cluster-yes']);
  assert.equal(created.status, 0, created.out);
  assert.match(created.out, /\[OK\] All 16384 slots covered\./);
  await clusterOk(nodes);
  // CLUSTER SLOTS names the TLS ports; nodes.conf's address is ip:tlsport@busport.
  const slots = (await nodes[0]!.client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
  assert.deepEqual(slots.map((s) => s[2][1]).sort(), nodes.map((n) => n.tlsPort).sort());
  assert.match(String(await nodes[1]!.client.call('CLUSTER', 'NODES')), new RegExp(`127\\.0\\.0\\.1:${nodes[0]!.tlsPort}@${nodes[0]!.busPort} `));
  await writeThrough(nodes);

  // Plain TCP on the bus: the TLS handshake fails on the bus message and the link is closed.
  const plain = net.connect({ host: '127.0.0.1', port: nodes[0]!.busPort });
  const header = Buffer.alloc(2256);
  header.write('RCmb', 0, 'latin1');
  header.writeUInt32BE(2256, 4);
  plain.on('connect', () => plain.write(header));
  const closed = await new Promise<boolean>((resolve) => {
    plain.on('data', () => resolve(false));
    plain.on('close', () => resolve(true));
    plain.on('error', () => resolve(true));
  });
  assert.ok(closed, 'a plain bus connection is closed');
  // A TLS one with the cluster's certificates completes its handshake.
  const secure = tls.connect({ host: '127.0.0.1', port: nodes[0]!.busPort, ...tlsOptions() });
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  assert.equal(secure.authorized, true);
  secure.destroy();

  const checked = await cli(NODIS_CLI, ['--cluster', 'check', `127.0.0.1:${nodes[2]!.tlsPort}`]);
  assert.equal(checked.status, 0, checked.out);
});

test('a mixed nodis / redis-server cluster over a TLS bus, created and checked by redis-cli --tls', { timeout: 300000 }, async () => {
  const nodes: TlsNode[] = [];
  for (const kind of ['nodis', 'redis', 'nodis', 'redis'] as const) nodes.push(await startNode(kind));
  const created = await cli('/usr/bin/redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.tlsPort}`), '--cluster-yes']);
  assert.equal(created.status, 0, created.out);
  await clusterOk(nodes);
  await writeThrough(nodes);
  for (const bin of ['/usr/bin/redis-cli', NODIS_CLI]) {
    const checked = await cli(bin, ['--cluster', 'check', `127.0.0.1:${nodes[1]!.tlsPort}`]);
    assert.equal(checked.status, 0, `${bin}: ${checked.out}`);
    assert.match(checked.out, /\[OK\] All nodes agree about slots configuration\./);
  }
  // A slot moved from a redis-server master to a nodis one over the TLS links (MIGRATE too).
  const ids = await Promise.all(nodes.map(async (n) => String(await n.client.call('CLUSTER', 'MYID'))));
  const moved = await cli(NODIS_CLI, ['--cluster', 'reshard', `127.0.0.1:${nodes[0]!.tlsPort}`, '--cluster-from', ids[1]!, '--cluster-to', ids[2]!, '--cluster-slots', '50', '--cluster-yes']);
  assert.equal(moved.status, 0, moved.out);
  await clusterOk(nodes);
  await waitFor('every node sees 50 more slots on the nodis master', async () => {
    for (const n of nodes) {
      const slots = (await n.client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const owned = slots.filter((s) => s[2][1] === nodes[2]!.tlsPort).reduce((a, s) => a + s[1] - s[0] + 1, 0);
      if (owned !== 4096 + 50) return false;
    }
    return true;
  });
  const c = new Cluster([{ host: '127.0.0.1', port: nodes[3]!.tlsPort }], { redisOptions: { tls: tlsOptions() } });
  for (let i = 0; i < 200; i++) assert.equal(await c.get(`tls:${i}`), `v${i}`);
  c.disconnect();
});

/**
 * MOVED and ASK name the port of the client's kind of connection, as clusterRedirectClient's
 * use_pport: a plaintext client of a TLS cluster gets the node's plaintext port (pport), a TLS
 * client its TLS port. The same two-node cluster (each node with a plain and a TLS port) is
 * asked on redis-server first, then on nodis, and each reply is checked against those ports.
 */
for (const kind of ['redis', 'nodis'] as const) {
  test(`${kind === 'redis' ? 'redis-server' : 'nodis'}: MOVED/ASK in a TLS cluster name the plain port to a plain client, the TLS port to a TLS client`, { timeout: 180000 }, async () => {
    const nodes: (TlsNode & { port: number; plain: Redis })[] = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const tlsPort = await freePort();
      const busPort = await freePort();
      const server = await startServer({
        ...(kind === 'redis' ? { bin: '/usr/bin/redis-server' } : {}),
        port,
        args: [...tlsServerArgs(certs, tlsPort), '--tls-cluster', 'yes', '--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-node-timeout', '5000', '--appendonly', 'no'],
      });
      const client = new Redis({ port: tlsPort, host: '127.0.0.1', maxRetriesPerRequest: 1, tls: tlsOptions() });
      const plain = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
      for (const c of [client, plain]) {
        c.on('error', () => {});
        clients.push(c);
      }
      nodes.push({ server, tlsPort, busPort, client, port, plain });
    }
    const [a, b] = [nodes[0]!, nodes[1]!];
    await a.client.call('CLUSTER', 'ADDSLOTSRANGE', '0', '8191');
    await b.client.call('CLUSTER', 'ADDSLOTSRANGE', '8192', '16383');
    await a.client.call('CLUSTER', 'MEET', '127.0.0.1', String(b.tlsPort), String(b.busPort));
    await clusterOk(nodes);
    const errorOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'no error', (e: Error) => e.message);
    // foo (slot 12182) is b's.
    assert.equal(await errorOf(a.plain.get('foo')), `MOVED 12182 127.0.0.1:${b.port}`);
    assert.equal(await errorOf(a.client.get('foo')), `MOVED 12182 127.0.0.1:${b.tlsPort}`);
    // bar (slot 5061) is a's, migrating to b: a missing key is asked of b.
    const bId = String(await b.client.call('CLUSTER', 'MYID'));
    await a.client.call('CLUSTER', 'SETSLOT', '5061', 'MIGRATING', bId);
    assert.equal(await errorOf(a.plain.get('bar')), `ASK 5061 127.0.0.1:${b.port}`);
    assert.equal(await errorOf(a.client.get('bar')), `ASK 5061 127.0.0.1:${b.tlsPort}`);
    // CLUSTER SLOTS agrees with the redirections.
    const slotsPlain = (await a.plain.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    assert.equal(slotsPlain.find((s) => s[0] === 8192)![2][1], b.port);
    await a.client.call('CLUSTER', 'SETSLOT', '5061', 'STABLE');
  });
}
