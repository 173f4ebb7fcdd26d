/**
 * Two equivalent clusters side by side, one of redis-server nodes driven by redis-cli, one of
 * nodis nodes driven by nodis-cli (the --cluster manager tests): starting nodes, running each
 * side's cli, masking what must differ (ids, ports) and comparing outputs and slot maps.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { Redis } from 'ioredis';
import { NODIS_CLI, startServer, freePort, type RunningServer } from './server.js';
import { waitFor } from './conditions.js';

export type Kind = 'redis' | 'nodis';
export const BIN: Record<Kind, { server: string | undefined; cli: string }> = {
  redis: { server: '/usr/bin/redis-server', cli: '/usr/bin/redis-cli' },
  nodis: { server: undefined, cli: NODIS_CLI },
};

export interface Side {
  kind: Kind;
  nodes: RunningServer[];
  clients: Redis[];
  ids: string[];
}

export async function startNode(kind: Kind): Promise<RunningServer> {
  const bus = await freePort();
  // A config file, so that CONFIG REWRITE (set-timeout) has one to rewrite.
  return startServer({ bin: BIN[kind].server, config: '', args: ['--cluster-enabled', 'yes', '--cluster-port', String(bus), '--cluster-node-timeout', '5000', '--appendonly', 'no'] });
}

export async function addNode(side: Side): Promise<void> {
  const n = await startNode(side.kind);
  const c = n.client();
  side.nodes.push(n);
  side.clients.push(c);
  side.ids.push(String(await c.call('CLUSTER', 'MYID')));
}

export function run(side: Side, args: string[], input = ''): Promise<{ out: string; status: number }> {
  return new Promise((resolve) => {
    const child = execFile(BIN[side.kind].cli, args, { encoding: 'latin1', env: { ...process.env, TERM: 'xterm' }, timeout: 240000 }, (e, stdout, stderr) => {
      resolve({ out: stdout + '\u0000' + stderr, status: e === null ? 0 : typeof e.code === 'number' ? e.code : -1 });
    });
    // A cli that exits without reading its input (most commands) closes the pipe first: the
    // write then fails with EPIPE, which is not the test's concern (its exit status and output are).
    child.stdin!.on('error', () => {});
    child.stdin!.end(input);
  });
}

/** Node ids and ports (also in backup's file names) become N<i> (by start order), 40-hex ids of unknown nodes <id>, the join's dots one. */
export function mask(side: Side, text: string): string {
  let t = text;
  side.ids.forEach((id, i) => (t = t.split(id).join(`N${i}`).split(`(${id.slice(0, 8)}...)`).join(`(N${i}...)`)));
  side.nodes.forEach((n, i) => (t = t.split(`:${n.port}`).join(`:N${i}`).split(` ${n.port}`).join(` N${i}`).split(`-${n.port}-`).join(`-N${i}-`)));
  return t.replace(/\b[0-9a-f]{40}\b/g, '<id>').replace(/(Waiting for the cluster to join\n)\.*\n/g, '$1.\n');
}

/**
 * The two outputs agree: every line the same (as a multiset), and in the same order once the
 * lines whose order is each server's own are left out: the node listings of a check ("M: …" /
 * "S: …" blocks) and the lines that `nodeOrder` matches (colours stripped), printed node by node
 * in the order of the server's CLUSTER NODES (or of its SCAN).
 */
export function sameOutput(a: string, b: string, what: string, nodeOrder: RegExp | null = null): void {
  const listing = /^(\x1b\[0m)?[MS]: |^ {3}(slots:|replicates |\d+ additional)/;
  const lines = (t: string): string[] => t.split('\n');
  assert.deepEqual([...lines(a)].sort(), [...lines(b)].sort(), `${what}: the same lines`);
  const ordered = (t: string): string[] =>
    lines(t)
      .filter((l) => !listing.test(l))
      .map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''))
      .filter((l) => nodeOrder === null || !nodeOrder.test(l));
  assert.deepEqual(ordered(a), ordered(b), `${what}: the same order`);
}

/** CLUSTER SLOTS as "first-last N<master index>" lines. */
export async function slotMap(side: Side, from = 0): Promise<string[]> {
  const slots = (await side.clients[from]!.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  return slots.map(([a, b, m]) => `${a}-${b} N${side.nodes.findIndex((n) => n.port === m[1])}`).sort();
}

/**
 * Every node connected, none failing, and all with the same slot map; with `stateOk` (the
 * default) also cluster_state:ok — pass false while slots are left uncovered on purpose.
 */
export async function settled(side: Side, count = side.nodes.length, stateOk = true): Promise<void> {
  await waitFor(`${side.kind}: every node ${stateOk ? 'ok and ' : ''}agreeing`, async () => {
    let first: string | null = null;
    for (const c of side.clients.slice(0, count)) {
      if (stateOk && !String(await c.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
      const nodes = String(await c.call('CLUSTER', 'NODES'));
      if (nodes.trim().split('\n').length !== count || /handshake|noaddr|fail/.test(nodes)) return false;
      const map = (await slotMap(side, side.clients.indexOf(c))).join();
      if (first !== null && map !== first) return false;
      first = map;
    }
    return true;
  }, 120000);
}

