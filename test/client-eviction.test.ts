/**
 * Client eviction (maxmemory-clients), as Redis 7.0's evictClients: a client whose query
 * buffer, queued MULTI commands, WATCHed keys or unread output take the clients' total to the
 * limit is closed, largest first; CLIENT NO-EVICT exempts one; lowering the limit evicts at
 * once; INFO counts evicted_clients.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { waitFor, info } from './helpers/conditions.js';

/** A raw connection named `name`, ready once the name is set. */
async function named(port: number, name: string): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write(`*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$${name.length}\r\n${name}\r\n`);
  await new Promise<void>((resolve) => s.once('data', () => resolve()));
  return s;
}

/** Sends `command` on a raw connection and returns its bulk reply. */
async function ask(s: net.Socket, command: string): Promise<string> {
  s.write(command);
  let got = Buffer.alloc(0);
  for (;;) {
    const chunk = await new Promise<Buffer>((resolve) => s.once('data', resolve));
    got = Buffer.concat([got, chunk]);
    const crlf = got.indexOf('\r\n');
    if (crlf > 0 && got.length >= crlf + 2 + Number(got.subarray(1, crlf).toString()) + 2) {
      return got.subarray(crlf + 2, crlf + 2 + Number(got.subarray(1, crlf).toString())).toString('latin1');
    }
  }
}

async function field(c: Redis, name: string, f: string): Promise<number | null> {
  const list = (await c.call('client', 'list')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  if (line === undefined) return null;
  const m = new RegExp(` ${f}=(\\d+)`).exec(line);
  return m === null ? null : Number(m[1]);
}

/** Resolves when the server has closed `s`; fails after 30 s. */
function closed(s: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (s.destroyed) return resolve();
    const timer = setTimeout(() => reject(new Error('the server did not close the connection')), 30_000);
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('client eviction (maxmemory-clients)', () => {
  let s: RunningServer;
  let control: Redis;
  before(async () => {
    s = await startServer();
    control = s.client();
    await control.call('client', 'no-evict', 'on');
  });
  after(stopAll);

  it('evicts a client whose unfinished query passes the limit, and counts it', async () => {
    await control.config('SET', 'maxmemory-clients', '1000000');
    const before = Number((await info(control, 'stats')).evicted_clients);
    const big = await named(s.port, 'bigq');
    big.write(`*1\r\n$2000000\r\n${'v'.repeat(1_500_000)}`);
    await closed(big);
    assert.equal(await field(control, 'bigq', 'tot-mem'), null);
    assert.equal(Number((await info(control, 'stats')).evicted_clients), before + 1);
    await waitFor('the eviction log line', async () => /Evicting client: id=\d+ .* name=bigq /.test(s.output()));
  });

  it('counts a large bulk whole from its header on, as Redis sizes the query buffer for it (qbuf-free)', async () => {
    await control.config('SET', 'maxmemory-clients', '0');
    const part = await named(s.port, 'partial');
    part.write(`*1\r\n$220200\r\n${'v'.repeat(20_000)}`);
    await waitFor('the first 20000 bytes', async () => (await field(control, 'partial', 'qbuf')) === 20_000);
    assert.equal(await field(control, 'partial', 'qbuf-free'), 220_202 - 20_000);
    assert.ok((await field(control, 'partial', 'tot-mem'))! > 220_202);
    part.destroy();
  });

  it('CLIENT LIST asked right after another connection wrote shows that write, and its eviction', async () => {
    // unit/client-eviction's "percentage of maxmemory": no waiting between the write and the
    // question, asked on a connection the server has just served (which libuv's level-triggered
    // epoll then reports ahead of the connection that wrote first).
    await control.config('SET', 'maxmemory-clients', '440401');
    const ctl = await named(s.port, 'ctl');
    const list = async (name: string): Promise<string | undefined> =>
      (await ask(ctl, '*2\r\n$6\r\nCLIENT\r\n$4\r\nLIST\r\n')).split('\n').find((l) => l.includes(` name=${name} `));
    for (let round = 0; round < 10; round++) {
      const half = await named(s.port, `half${round}`);
      await list(`half${round}`);
      half.write(`*1\r\n$220200\r\n${'v'.repeat(220_200)}`);
      const line = (await list(`half${round}`)) ?? '';
      const mem = Number(/ tot-mem=(\d+)/.exec(line)?.[1]);
      assert.ok(mem >= 220_200 && mem < 440_401, `round ${round}: ${line}`);
      half.destroy();
      const over = await named(s.port, `over${round}`);
      await list(`over${round}`);
      over.write(`*1\r\n$440401\r\n${'v'.repeat(440_401)}`);
      assert.equal(await list(`over${round}`), undefined, `round ${round}: not evicted yet`);
      over.destroy();
    }
    ctl.destroy();
    await control.config('SET', 'maxmemory-clients', '0');
  });

  it('evicts on WATCHed keys and queued MULTI commands', async () => {
    await control.config('SET', 'maxmemory-clients', '200000');
    // No reconnection: the server closing the connection must end the loop.
    const once = { retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false };
    const w = s.client(once);
    w.on('error', () => {});
    await assert.rejects(async () => {
      for (let j = 0; j < 200_000; j++) await w.watch(String(j));
    });
    const m = s.client(once);
    m.on('error', () => {});
    await assert.rejects(async () => {
      await m.multi({ pipeline: false });
      for (let j = 0; j < 10; j++) await m.set('k', 'v'.repeat(50_000));
    });
    await control.config('SET', 'maxmemory-clients', '0');
  });

  it('spares NO-EVICT clients; lowering the limit evicts the largest first, only until below it', async () => {
    await control.config('SET', 'maxmemory-clients', '0');
    const sizes = { small: 150_000, mid: 600_000, large: 1_200_000 };
    const socks: Record<string, net.Socket> = {};
    for (const [name, n] of Object.entries(sizes)) {
      socks[name] = await named(s.port, name);
      socks[name].write(`*2\r\n$${n}\r\n${'v'.repeat(n)}\r\n`);
      await waitFor(`${name}'s query`, async () => ((await field(control, name, 'tot-mem')) ?? 0) >= n);
    }
    const spared = await named(s.port, 'spared');
    spared.write('*3\r\n$6\r\nCLIENT\r\n$8\r\nNO-EVICT\r\n$2\r\nON\r\n');
    await new Promise<void>((resolve) => spared.once('data', () => resolve()));
    spared.write(`*2\r\n$2000000\r\n${'v'.repeat(1_800_000)}`);
    await waitFor("spared's query", async () => ((await field(control, 'spared', 'tot-mem')) ?? 0) >= 1_800_000);
    // Room for everything but the large one (plus slack for the small clients' own structures).
    const mid = (await field(control, 'mid', 'tot-mem'))!;
    const small = (await field(control, 'small', 'tot-mem'))!;
    const sparedMem = (await field(control, 'spared', 'tot-mem'))!;
    await control.config('SET', 'maxmemory-clients', String(mid + small + sparedMem + 100_000));
    await closed(socks.large!);
    assert.equal(await field(control, 'large', 'tot-mem'), null);
    assert.ok((await field(control, 'mid', 'tot-mem')) !== null, 'mid stays');
    assert.ok((await field(control, 'small', 'tot-mem')) !== null, 'small stays');
    // Below everything: every evictable client goes, NO-EVICT ones stay.
    await control.config('SET', 'maxmemory-clients', '1');
    await closed(socks.mid!);
    await closed(socks.small!);
    assert.ok((await field(control, 'spared', 'tot-mem')) !== null, 'NO-EVICT client stays');
    await waitFor('the warning', async () => s.output().includes('Over client maxmemory after evicting all evictable clients'));
    await control.config('SET', 'maxmemory-clients', '0');
    spared.destroy();
  });

  it('evicts a client that does not read its replies', async () => {
    await control.set('k', 'x'.repeat(200_000));
    await control.config('SET', 'maxmemory-clients', '3000000');
    const slow = await named(s.port, 'slowreader');
    slow.pause();
    for (let i = 0; i < 200 && !slow.destroyed; i++) {
      slow.write('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
      const mem = await field(control, 'slowreader', 'tot-mem');
      if (mem === null) break;
      assert.ok(mem < 3_000_000, `tot-mem ${mem} reached the limit`);
    }
    assert.equal(await field(control, 'slowreader', 'tot-mem'), null);
    slow.destroy();
    await control.config('SET', 'maxmemory-clients', '0');
  });
});
