/**
 * A client unblocked while the turn's flush is queued is resumed by that flush (its
 * beforeReplies hook, Redis's processUnblockedClients in beforeSleep), with no Immediate of its
 * own — the WAIT round trip's ACK turn used to queue one that found nobody left to resume. Its
 * pipelined commands still run, in the same turn as the reply that unblocked it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { SystemClock } from '../src/core/clock.js';
import { startInProcess, type InProcessServer } from './helpers/in-process.js';

let s: InProcessServer | null = null;
after(async () => {
  await s?.stop();
});

/** Connects a raw client; `read()` waits until `n` CRLF-terminated lines have arrived. */
async function rawClient(port: number): Promise<{ sock: net.Socket; read: (n: number) => Promise<string> }> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  let buf = '';
  let wake: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    wake?.();
  });
  const read = async (n: number): Promise<string> => {
    while (buf.split('\r\n').length - 1 < n) await new Promise<void>((res) => (wake = res));
    return buf;
  };
  return { sock, read };
}

test('unblocked during a read: resumed by the queued flush, no Immediate of its own; pipelined input runs', async () => {
  s = await startInProcess(new SystemClock(), {});
  const blocked = await rawClient(s.port);
  const pusher = await rawClient(s.port);
  // BLPOP blocks; the PING behind it in the same write waits in the client's input.
  blocked.sock.write('*3\r\n$5\r\nBLPOP\r\n$4\r\nlist\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n');
  for (;;) {
    const info = await s.r.info('clients');
    if (/blocked_clients:1\r/.test(info)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  // Every Immediate the server queues while it serves the LPUSH and the BLPOP it unblocks.
  const queued: string[] = [];
  const original = globalThis.setImmediate;
  globalThis.setImmediate = ((fn: (...a: unknown[]) => void, ...rest: unknown[]) => {
    queued.push(fn.toString().includes('resumeUnblocked') ? 'resume' : fn.name || 'other');
    return original(fn, ...rest);
  }) as typeof setImmediate;
  try {
    pusher.sock.write('*3\r\n$5\r\nLPUSH\r\n$4\r\nlist\r\n$1\r\nv\r\n');
    assert.equal(await pusher.read(1), ':1\r\n');
    // BLPOP's reply and the PING's, in one turn's write or two: both arrive.
    assert.equal(await blocked.read(6), '*2\r\n$4\r\nlist\r\n$1\r\nv\r\n+PONG\r\n');
  } finally {
    globalThis.setImmediate = original;
  }
  assert.ok(!queued.includes('resume'), `Immediates queued: ${queued.join(', ')}`);
  blocked.sock.destroy();
  pusher.sock.destroy();
});

test('a pipeline resumed after each block is not scanned for keys again per resumption; its replies are unchanged', async () => {
  const srv = s!;
  const blocked = await rawClient(srv.port);
  const pusher = await rawClient(srv.port);
  const enc = (...a: string[]): string => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`;
  // Three blocks in one read, two SETs of distinct keys before each: 9 commands, one scan's worth.
  let pipeline = '';
  for (let i = 0; i < 3; i++) pipeline += enc('SET', `key:${i}:a`, 'v') + enc('SET', `key:${i}:b`, 'v') + enc('BLPOP', `list:${i}`, '0');
  blocked.sock.write(pipeline);
  for (;;) {
    const info = await srv.r.info('clients');
    if (/blocked_clients:1\r/.test(info)) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  // The server's record of this connection: the one client blocked.
  const client = [...srv.server.clients.values()].find((c) => c.blocked !== null);
  assert.ok(client !== undefined, 'the blocked client');
  const parser = client.parser;
  let scans = 0;
  const scan = parser.scanSecondArgs.bind(parser);
  parser.scanSecondArgs = (starts, lens) => {
    scans++;
    return scan(starts, lens);
  };
  for (let i = 0; i < 3; i++) {
    pusher.sock.write(enc('LPUSH', `list:${i}`, 'x'));
    await pusher.read(i + 1);
  }
  const want = '+OK\r\n+OK\r\n*2\r\n$6\r\nlist:0\r\n$1\r\nx\r\n+OK\r\n+OK\r\n*2\r\n$6\r\nlist:1\r\n$1\r\nx\r\n+OK\r\n+OK\r\n*2\r\n$6\r\nlist:2\r\n$1\r\nx\r\n';
  assert.equal(await blocked.read(want.split('\r\n').length - 1), want);
  // The scan before the first block covered all nine commands.
  assert.equal(scans, 0);
  blocked.sock.destroy();
  pusher.sock.destroy();
});

test('a client unblocked by input that a resumption runs is resumed too: a chain of BLPOPs, each pipelined with the LPUSH that serves the next', async () => {
  const srv = s!;
  const enc = (...a: string[]): string => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`;
  for (const n of [1, 2, 5]) {
    const chain = [];
    for (let i = 0; i < n; i++) {
      const c = await rawClient(srv.port);
      // Client i blocks on chain:n:i; behind it: LPUSH to the next client's list (the last
      // pushes nobody's), then PING.
      c.sock.write(enc('BLPOP', `chain:${n}:${i}`, '0') + enc('LPUSH', `chain:${n}:${i + 1}`, 'v') + enc('PING'));
      chain.push(c);
      for (;;) {
        const info = await srv.r.info('clients');
        if (new RegExp(`blocked_clients:${i + 1}\\r`).test(info)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const pusher = await rawClient(srv.port);
    pusher.sock.write(enc('LPUSH', `chain:${n}:0`, 'v'));
    assert.equal(await pusher.read(1), ':1\r\n');
    for (let i = 0; i < n; i++) {
      const key = `chain:${n}:${i}`;
      // BLPOP's reply, the LPUSH's count (1: the next client pops it later, or nobody waits), PONG.
      assert.equal(await chain[i]!.read(7), `*2\r\n$${key.length}\r\n${key}\r\n$1\r\nv\r\n:1\r\n+PONG\r\n`);
      chain[i]!.sock.destroy();
    }
    pusher.sock.destroy();
    assert.match(await srv.r.info('clients'), /blocked_clients:0\r/);
  }
});
