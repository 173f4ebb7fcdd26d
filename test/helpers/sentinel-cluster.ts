/**
 * Real-process sentinel groups for the integration tests: data nodes (nodis-server or Debian's
 * redis-server) and sentinels (nodis-sentinel or Debian's redis-sentinel) on free ports, each
 * with its own config file so CONFIG REWRITE and the sentinel's state rewrite work as in
 * production. Every wait is on a condition (polling with a deadline), never a fixed sleep, and
 * `cleanup()` kills every process it started.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { NODIS_SENTINEL, NODIS_SERVER, freePort } from './server.js';

export type DataKind = 'nodis' | 'redis';
export type SentinelKind = 'nodis' | 'redis';

const BIN = {
  data: { nodis: NODIS_SERVER, redis: '/usr/bin/redis-server' },
  sentinel: { nodis: NODIS_SENTINEL, redis: '/usr/bin/redis-sentinel' },
} as const;

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 40000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError !== '' ? ` (last error: ${lastError})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function redisCli(port: number, ...args: string[]): string {
  return execFileSync('/usr/bin/redis-cli', ['-p', String(port), ...args], { encoding: 'latin1' });
}

export interface SentinelProc {
  kind: SentinelKind;
  port: number;
  proc: ChildProcess;
  conf: string;
  log(): string;
}

export class Group {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-sentinel-'));
  private readonly children: ChildProcess[] = [];
  private readonly clients: Redis[] = [];
  private readonly byPort = new Map<number, Redis>();

  /** One reconnecting client per port (servers come and go in these tests). */
  client(port: number, fresh = false, password?: string): Redis {
    const known = this.byPort.get(port);
    if (known !== undefined && !fresh) return known;
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => 50, password });
    c.on('error', () => {});
    this.clients.push(c);
    if (!fresh) this.byPort.set(port, c);
    return c;
  }

  /** Starts a data node; the config file is kept across restarts (it carries `replicaof`). */
  async startData(kind: DataKind, port: number, replicaOf: number | null): Promise<ChildProcess> {
    const conf = path.join(this.dir, `data-${port}.conf`);
    if (!fs.existsSync(conf)) fs.writeFileSync(conf, replicaOf !== null ? `replicaof 127.0.0.1 ${replicaOf}\n` : '');
    const args = [conf, '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', `d${port}.rdb`];
    const ch = spawn(BIN.data[kind], args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(ch);
    let out = '';
    ch.stdout!.on('data', (d: Buffer) => (out = (out + d.toString('latin1')).slice(-4000)));
    ch.stderr!.on('data', (d: Buffer) => (out = (out + d.toString('latin1')).slice(-4000)));
    const c = this.client(port);
    try {
      await waitFor(`data node ${port} up`, async () => (await c.ping()) === 'PONG', 20000);
    } catch (e) {
      throw new Error(`${(e as Error).message}; exit ${ch.exitCode}; output:\n${out}`);
    }
    return ch;
  }

  /**
   * Starts a sentinel on a free port. Ports come from the kernel and are released before the
   * process binds them, so another process on this shared machine may take one first: a sentinel
   * that exits at startup is retried on a new port.
   */
  async startSentinel(kind: SentinelKind, masterPort: number, quorum: number, extra = '', password?: string): Promise<SentinelProc> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.startSentinelOnce(kind, masterPort, quorum, extra, password);
      } catch (e) {
        if (attempt >= 3 || !/; exit \d+;/.test((e as Error).message)) throw e;
      }
    }
  }

  private async startSentinelOnce(kind: SentinelKind, masterPort: number, quorum: number, extra: string, password: string | undefined): Promise<SentinelProc> {
    const port = await freePort();
    const conf = path.join(this.dir, `sentinel-${port}.conf`);
    fs.writeFileSync(
      conf,
      `port ${port}\nbind 127.0.0.1\nprotected-mode no\ndir ${this.dir}\n` +
        `Sentinel monitor tedu 127.0.0.1 ${masterPort} ${quorum}\n` +
        `sentinel down-after-milliseconds tedu 1000\nsentinel failover-timeout tedu 10000\n${extra}`,
    );
    const proc = spawn(BIN.sentinel[kind], [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(proc);
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const s = this.client(port, false, password);
    try {
      // Up, or exited (then the catch below reports it and startSentinel retries).
      await waitFor(`sentinel ${port} up`, async () => proc.exitCode !== null || (await s.ping()) === 'PONG', 20000);
      if (proc.exitCode !== null) throw new Error(`sentinel ${port} exited at startup`);
    } catch (e) {
      throw new Error(`${(e as Error).message}; exit ${proc.exitCode}; output:\n${out}`);
    }
    return { kind, port, proc, conf, log: () => out };
  }

  async masterAddr(sentinelPort: number): Promise<number> {
    const a = (await this.client(sentinelPort).call('sentinel', 'get-master-addr-by-name', 'tedu')) as string[];
    return Number(a[1]);
  }

  async info(port: number): Promise<string> {
    return this.client(port).info('replication');
  }

  async cleanup(): Promise<void> {
    for (const c of this.clients) c.disconnect();
    const exits: Promise<unknown>[] = [];
    for (const ch of this.children) {
      if (ch.exitCode === null && ch.signalCode === null) {
        exits.push(new Promise((r) => ch.once('exit', r)));
        ch.kill('SIGKILL');
      }
    }
    await Promise.all(exits);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface DemoOptions {
  data: DataKind;
  sentinels: SentinelKind[];
  quorum: number;
  /**
   * Shorter INFO and hello periods (SENTINEL DEBUG, understood by both sentinels), so that the
   * returning old master is converted in about a second instead of 10–20 s. Failure detection
   * and failover timing are unchanged.
   */
  fast?: boolean;
}

export interface DemoResult {
  oldMaster: number;
  newMaster: number;
  other: number;
  /** The master all sentinels name at the end (newMaster unless a second failover happened). */
  current: number;
  sentinels: SentinelProc[];
}

/**
 * The seed's demo: a master and two replicas (attached with `slaveof`), watched by the given
 * sentinels; kill the master, wait until every sentinel names the same promoted replica, the
 * other replica follows it, the old master comes back as its replica, and `set name tedu` on the
 * new master (real redis-cli) is read on both replicas.
 */
export async function seedDemo(g: Group, o: DemoOptions, onSentinelsReady?: (s: SentinelProc[]) => Promise<void>): Promise<DemoResult> {
  const [mp, r1, r2] = [await freePort(), await freePort(), await freePort()];
  const master = await g.startData(o.data, mp, null);
  await g.startData(o.data, r1, null);
  await g.startData(o.data, r2, null);
  for (const r of [r1, r2]) redisCli(r, 'slaveof', '127.0.0.1', String(mp));
  await waitFor('replicas attached', async () => (await g.info(mp)).includes('connected_slaves:2'));
  for (const r of [r1, r2]) await waitFor(`replica ${r} in sync`, async () => (await g.info(r)).includes('master_link_status:up'));

  const sentinels: SentinelProc[] = [];
  for (const kind of o.sentinels) sentinels.push(await g.startSentinel(kind, mp, o.quorum));
  if (o.fast === true) {
    for (const s of sentinels) await g.client(s.port).call('sentinel', 'debug', 'info-period', '1000', 'publish-period', '500');
  }
  // Every sentinel has discovered both replicas and every other sentinel.
  for (const s of sentinels) {
    await waitFor(`sentinel ${s.port} discovery`, async () => {
      const m = (await g.client(s.port).call('sentinel', 'master', 'tedu')) as string[];
      const f = new Map<string, string>();
      for (let i = 0; i < m.length; i += 2) f.set(m[i]!, m[i + 1]!);
      return f.get('num-slaves') === '2' && f.get('num-other-sentinels') === String(sentinels.length - 1);
    });
  }
  if (onSentinelsReady !== undefined) await onSentinelsReady(sentinels);

  master.kill('SIGKILL');
  const newMaster = await waitFor('failover', async () => {
    const p = await g.masterAddr(sentinels[0]!.port);
    return p !== mp ? p : null;
  });
  if (newMaster !== r1 && newMaster !== r2) throw new Error(`promoted an unknown node ${newMaster}`);
  const other = newMaster === r1 ? r2 : r1;
  // Every sentinel has switched and finished the failover: all name the same master with flags
  // back to plain "master". On this shared, loaded machine a 1 s down-after can make a sentinel
  // fail over once more (a legitimate Sentinel reaction to a master that answered late; real
  // redis-sentinel does it too), so the agreed master may be the other replica.
  let current = newMaster;
  let views = '';
  try {
    current = await waitFor('sentinels agree on the new master', async () => {
      const ports: string[] = [];
      const seen: string[] = [];
      for (const s of sentinels) {
        const m = (await g.client(s.port).call('sentinel', 'master', 'tedu')) as string[];
        const f = new Map<string, string>();
        for (let i = 0; i < m.length; i += 2) f.set(m[i]!, m[i + 1]!);
        seen.push(`${s.port}: port ${f.get('port')} flags ${f.get('flags')}`);
        ports.push(f.get('flags') === 'master' ? f.get('port')! : '');
      }
      views = seen.join(', ');
      const p = Number(ports[0]);
      return ports.every((x) => x === ports[0]) && (p === r1 || p === r2) ? p : null;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}: last seen ${views}; first promoted ${newMaster}\n${sentinels.map((x) => x.log()).join('\n----\n')}`);
  }
  await waitFor('new master is a master', async () => ((await g.client(current).call('role')) as unknown[])[0] === 'master');
  const follower = current === r1 ? r2 : r1;
  await waitFor('other replica follows', async () => {
    const info = await g.info(follower);
    return info.includes(`master_port:${current}`) && info.includes('master_link_status:up');
  });

  // The old master comes back (its config file has no replicaof) and is converted. "The master"
  // is whatever the sentinel names now, for the same reason as above.
  await g.startData(o.data, mp, null);
  try {
    await waitFor(
      'old master converted',
      async () => {
        current = await g.masterAddr(sentinels[0]!.port);
        const info = await g.info(mp);
        return current !== mp && info.includes('role:slave') && info.includes(`master_port:${current}`) && info.includes('master_link_status:up');
      },
      45000,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await g.info(mp).catch(() => '')}\n${sentinels.map((s) => s.log()).join('\n----\n')}`);
  }
  const replicas = [r1, r2, mp].filter((p) => p !== current);
  if (redisCli(current, 'set', 'name', 'tedu').trim() !== 'OK') throw new Error('SET on the new master failed');
  await waitFor('replicated', async () => replicas.every((p) => redisCli(p, 'get', 'name').trim() === 'tedu'));
  return { oldMaster: mp, newMaster, other, current, sentinels };
}
