/**
 * nodis-sentinel as a real process: the seed's demo (a master and two replicas — Debian's
 * redis-server for the data nodes — watched by one nodis-sentinel at quorum 1): kill the master,
 * a replica is promoted, the other follows, the old master rejoins as a replica, and a write on
 * the new master is read on the replicas. Also the SENTINEL command family, Pub/Sub events, the
 * config rewrite, and the real redis-cli. Waits are on conditions, never fixed sleeps.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { NODIS_SENTINEL, freePort } from './helpers/server.js';

const REDIS_SERVER = '/usr/bin/redis-server';
const children: ChildProcess[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-sentinel-'));
const clients: Redis[] = [];

after(async () => {
  for (const c of clients) c.disconnect();
  for (const ch of children) if (ch.exitCode === null) ch.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

const byPort = new Map<number, Redis>();
/** One reconnecting client per port (servers come and go in these tests). */
function client(port: number, fresh = false): Redis {
  const known = byPort.get(port);
  if (known !== undefined && !fresh) return known;
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  c.on('error', () => {});
  clients.push(c);
  if (!fresh) byPort.set(port, c);
  return c;
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 40000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startRedis(port: number, replicaOf: number | null): ChildProcess {
  const args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, '--dbfilename', `d${port}.rdb`];
  // A config file, so the sentinel's CONFIG REWRITE works as in production.
  const conf = path.join(dir, `redis-${port}.conf`);
  if (!fs.existsSync(conf)) fs.writeFileSync(conf, replicaOf !== null ? `replicaof 127.0.0.1 ${replicaOf}\n` : '');
  const ch = spawn(REDIS_SERVER, [conf, ...args], { stdio: 'ignore' });
  children.push(ch);
  return ch;
}

function redisCli(port: number, ...args: string[]): string {
  return execFileSync('/usr/bin/redis-cli', ['-p', String(port), ...args], { encoding: 'latin1' });
}

test('seed demo: kill the master, a replica is promoted, the other follows, the old master rejoins', async () => {
  const [mp, r1, r2, sp] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const master = startRedis(mp, null);
  startRedis(r1, mp);
  startRedis(r2, mp);
  await waitFor('replicas attached', async () => (await client(mp).info('replication')).includes('connected_slaves:2'));

  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, `port ${sp}\nSentinel monitor tedu 127.0.0.1 ${mp} 1\nsentinel down-after-milliseconds tedu 1000\nsentinel failover-timeout tedu 10000\n`);
  const sentinelProc = spawn(NODIS_SENTINEL, [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(sentinelProc);
  let log = '';
  sentinelProc.stdout!.on('data', (d: Buffer) => (log += d.toString()));

  const s = client(sp);
  await waitFor('sentinel up', async () => (await s.ping()) === 'PONG');
  assert.deepEqual(await s.call('sentinel', 'get-master-addr-by-name', 'tedu'), ['127.0.0.1', String(mp)]);
  assert.deepEqual(await s.call('role'), ['sentinel', ['tedu']]);
  assert.equal(String(await s.call('sentinel', 'myid')).length, 40);
  await waitFor('replicas discovered', async () => ((await s.call('sentinel', 'replicas', 'tedu')) as unknown[]).length === 2);
  const m = (await s.call('sentinel', 'master', 'tedu')) as string[];
  const fields = new Map<string, string>();
  for (let i = 0; i < m.length; i += 2) fields.set(m[i]!, m[i + 1]!);
  assert.equal(fields.get('flags'), 'master');
  assert.equal(fields.get('quorum'), '1');
  assert.equal(fields.get('num-slaves'), '2');
  assert.match(String(await s.call('sentinel', 'ckquorum', 'tedu')), /^OK 1 usable Sentinels/);
  await assert.rejects(s.call('sentinel', 'master', 'nope'), /ERR No such master with that name/);
  assert.match(redisCli(sp, 'info', 'sentinel'), /master0:name=tedu,status=ok,address=127\.0\.0\.1:\d+,slaves=2,sentinels=1/);
  // The config file now carries the state (myid, known replicas), written at once.
  await waitFor('config rewritten', async () => /sentinel known-replica tedu 127\.0\.0\.1 \d+\n(.*\n)*sentinel known-replica tedu/.test(fs.readFileSync(conf, 'latin1')));

  // Watch the events over Pub/Sub, as clients do.
  const sub = client(sp, true);
  const events: string[] = [];
  sub.on('message', (ch: string, msg: string) => events.push(`${ch} ${msg}`));
  await sub.subscribe('+switch-master', '+odown', '+promoted-slave');

  master.kill('SIGKILL');
  const newMaster = await waitFor('failover', async () => {
    const a = (await s.call('sentinel', 'get-master-addr-by-name', 'tedu')) as string[];
    return Number(a[1]) !== mp ? Number(a[1]) : null;
  });
  assert.ok(newMaster === r1 || newMaster === r2);
  const other = newMaster === r1 ? r2 : r1;
  await waitFor('new master is a master', async () => ((await client(newMaster).call('role')) as unknown[])[0] === 'master');
  await waitFor('other replica follows', async () => {
    const info = await client(other).info('replication');
    return info.includes(`master_port:${newMaster}`) && info.includes('master_link_status:up');
  });
  await waitFor('switch event', async () => events.some((e) => e === `+switch-master tedu 127.0.0.1 ${mp} 127.0.0.1 ${newMaster}`));
  assert.ok(events.some((e) => e.startsWith(`+odown master tedu 127.0.0.1 ${mp} #quorum 1/1`)));
  assert.ok(events.some((e) => e === `+promoted-slave slave 127.0.0.1:${newMaster} 127.0.0.1 ${newMaster} @ tedu 127.0.0.1 ${mp}`));
  assert.match(fs.readFileSync(conf, 'latin1'), new RegExp(`sentinel monitor tedu 127\\.0\\.0\\.1 ${newMaster} 1\\nsentinel down-after-milliseconds tedu 1000`));
  assert.match(fs.readFileSync(conf, 'latin1'), /sentinel config-epoch tedu 1\n/);

  // The old master comes back and is turned into a replica of the new one. (On a loaded machine
  // a 1 s down-after can trigger one more, legitimate, failover: follow the sentinel's answer.)
  startRedis(mp, null);
  let current = newMaster;
  await waitFor('old master converted', async () => {
    current = Number(((await s.call('sentinel', 'get-master-addr-by-name', 'tedu')) as string[])[1]);
    const info = await client(mp).info('replication');
    return current !== mp && info.includes('role:slave') && info.includes(`master_port:${current}`) && info.includes('master_link_status:up');
  }, 60000).catch((e: Error) => {
    throw new Error(`${e.message}\n${log}`);
  });
  assert.match(log, /\+convert-to-slave slave 127\.0\.0\.1:\d+ 127\.0\.0\.1 \d+ @ tedu 127\.0\.0\.1 \d+/);

  assert.equal(redisCli(current, 'set', 'name', 'tedu').trim(), 'OK');
  await waitFor('replicated', async () => [r1, r2, mp].filter((p) => p !== current).every((p) => redisCli(p, 'get', 'name').trim() === 'tedu'));
  sentinelProc.kill('SIGTERM');
});
