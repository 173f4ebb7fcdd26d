/**
 * The end-of-turn flush (server.ts requestFlush/onData): with one client connected, its
 * replies — and the AOF's write and fdatasync before them — go out when its read returns,
 * without an Immediate; with two or more, once per loop turn from the check phase's Immediate
 * (the AOF's group commit and one socket write per client per turn). Either way, under
 * appendfsync always, a reply arrives only after its record is in the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './helpers/conditions.js';
import { startInProcess } from './helpers/in-process.js';
import { SystemClock } from '../src/core/clock.js';
import { aofOf } from '../src/persistence/aof.js';

/** A raw connection; `ask` sends one command and resolves with its reply. */
async function rawClient(port: number): Promise<{ sock: net.Socket; ask: (cmd: string, check?: () => void) => Promise<string> }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  sock.on('error', () => {});
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  const ask = (cmd: string, check?: () => void): Promise<string> =>
    new Promise((res) => {
      sock.once('data', (d: Buffer) => {
        // Called as the reply arrives: the file then holds what was written before it.
        check?.();
        res(d.toString('latin1'));
      });
      sock.write(cmd);
    });
  return { sock, ask };
}

const INCR = (key: string): string => `*2\r\n$4\r\nINCR\r\n$${key.length}\r\n${key}\r\n`;

test('one client alone is answered without the Immediate, its AOF record (always) in the file before the reply; with two clients the turn flush is back', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-read-end-'));
  const { server, r, port, stop } = await startInProcess(new SystemClock(), { dir });
  const sockets: net.Socket[] = [];
  const realSetImmediate = globalThis.setImmediate;
  try {
    const aof = aofOf(server)!;
    assert.equal(await r.config('SET', 'appendonly', 'yes'), 'OK');
    await waitFor('the first rewrite to end', async () => !aof.rewriteInProgress && aof.state === 'on');
    assert.equal(await r.config('SET', 'appendfsync', 'always'), 'OK');
    const flush = (server as unknown as { flushPendingWrites: () => void }).flushPendingWrites;
    let flushImmediates = 0;
    globalThis.setImmediate = ((fn: (...a: unknown[]) => void, ...rest: unknown[]) => {
      if (fn === flush) flushImmediates++;
      return realSetImmediate(fn, ...rest);
    }) as typeof setImmediate;

    r.disconnect();
    await waitFor('the ioredis client gone', async () => server.clients.size === 0);
    const a = await rawClient(port);
    sockets.push(a.sock);
    const incrFile = (): string => fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'latin1');
    for (let i = 1; i <= 20; i++) {
      let file = '';
      const reply = await a.ask(INCR('lone'), () => (file = incrFile()));
      assert.equal(reply, `:${i}\r\n`);
      assert.equal(file.split(INCR('lone')).length - 1, i, 'the reply came before its record was written');
    }
    assert.equal(flushImmediates, 0, 'a lone client went through the Immediate');

    // A pipeline longer than one read (64 KB): every reply, in order, each record in the file.
    const count = 5000;
    const replies = await new Promise<string>((res) => {
      let got = '';
      const onData = (d: Buffer): void => {
        got += d.toString('latin1');
        if (got.split('\r\n').length > count) {
          a.sock.off('data', onData);
          res(got);
        }
      };
      a.sock.on('data', onData);
      a.sock.write(INCR('pipelined-key-long-enough').repeat(count));
    });
    assert.equal(replies, Array.from({ length: count }, (_, i) => `:${i + 1}\r\n`).join(''));
    assert.equal(incrFile().split(INCR('pipelined-key-long-enough')).length - 1, count);

    // A second connection: the same requests take the end-of-turn flush again.
    const b = await rawClient(port);
    sockets.push(b.sock);
    await waitFor('two clients', async () => server.clients.size === 2);
    for (let i = 1; i <= 5; i++) assert.equal(await a.ask(INCR('two')), `:${i}\r\n`);
    assert.ok(flushImmediates >= 5, `${flushImmediates} flush Immediates for 5 requests with two clients`);
    assert.equal(await b.ask(INCR('two')), ':6\r\n');
  } finally {
    globalThis.setImmediate = realSetImmediate;
    for (const s of sockets) s.destroy();
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
