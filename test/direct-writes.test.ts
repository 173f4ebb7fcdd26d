import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

/**
 * Replies written straight to the socket's handle (src/server/direct-writes.ts), or, with
 * NODIS_DIRECT_WRITES=0 or without Node's stream binding, through `socket.write`. Both must deliver every reply byte for byte and
 * in order, count what the kernel has not taken yet as the client's output buffer (CLIENT LIST,
 * client-output-buffer-limit), and free a client whose peer went away.
 */

const cmd = (...args: string[]): Buffer => {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${a.length}\r\n${a}\r\n`;
  return Buffer.from(s, 'latin1');
};

interface Raw {
  sock: net.Socket;
  received(): number;
  text(): string;
  /** Resolves once `n` bytes have been received. */
  untilBytes(n: number): Promise<void>;
}

async function raw(port: number): Promise<Raw> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const chunks: Buffer[] = [];
  let n = 0;
  let waiters: (() => void)[] = [];
  sock.on('data', (d: Buffer) => {
    chunks.push(d);
    n += d.length;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const untilBytes = (want: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (n >= want) resolve();
        else waiters.push(check);
      };
      check();
    });
  return { sock, received: () => n, text: () => Buffer.concat(chunks).toString('latin1'), untilBytes };
}

async function clientLine(s: RunningServer, name: string): Promise<string> {
  const list = (await s.client().client('LIST')) as string;
  return list.split('\n').find((l) => l.includes(` name=${name} `)) ?? '';
}

async function until(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
}

for (const [label, env, logLine] of [
  ['the socket handle', {}, 'Client writes: to the socket handle'],
  ['socket.write (NODIS_DIRECT_WRITES=0)', { NODIS_DIRECT_WRITES: '0' }, 'Client writes: socket.write (NODIS_DIRECT_WRITES=0)'],
  ["socket.write (NODIS_STREAM_BINDING=0: without Node's stream binding)", { NODIS_STREAM_BINDING: '0' }, 'Client writes: socket.write (NODIS_STREAM_BINDING=0)'],
] as const) {
  describe(`client replies through ${label}`, () => {
    after(stopAll);

    it('takes that path', { timeout: 60000 }, async () => {
      const s = await startServer({ env, args: ['--loglevel', 'verbose'] });
      assert.equal(await s.client().ping(), 'PONG');
      await s.waitForLog(logLine);
    });

    it('delivers the replies of a long pipeline byte for byte, in order', { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const a = await raw(s.port);
      const value = 'v'.repeat(3000);
      const parts: Buffer[] = [];
      let expected = '';
      for (let i = 1; i <= 3000; i++) {
        parts.push(cmd('INCR', 'n'), cmd('SET', `k${i}`, `${value}${i}`), cmd('GET', `k${i}`));
        const v = `${value}${i}`;
        expected += `:${i}\r\n+OK\r\n$${v.length}\r\n${v}\r\n`;
      }
      // One request at a time, then all the rest at once.
      a.sock.write(parts[0]!);
      await a.untilBytes(4);
      a.sock.write(Buffer.concat(parts.slice(1)));
      await a.untilBytes(expected.length);
      assert.equal(a.text(), expected);
      a.sock.destroy();
    });

    it("counts what a client that does not read is owed, and sends it all once it reads", { timeout: 90000 }, async () => {
      const s = await startServer({ env });
      const value = 'x'.repeat(1024 * 1024);
      await s.client().set('big', value);
      const a = await raw(s.port);
      a.sock.write(cmd('CLIENT', 'SETNAME', 'slow'));
      await a.untilBytes(5);
      a.sock.pause();
      const n = 40;
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) parts.push(cmd('GET', 'big'));
      a.sock.write(Buffer.concat(parts));
      // The kernel's buffers fill up; what is left waits in the server, counted as its output.
      await until(async () => {
        const line = await clientLine(s, 'slow');
        return / events=rw /.test(line) && Number(/ omem=(\d+)/.exec(line)?.[1]) > 0 && Number(/ tot-mem=(\d+)/.exec(line)?.[1]) > 1024 * 1024;
      });
      a.sock.resume();
      const one = `$${value.length}\r\n${value}\r\n`;
      await a.untilBytes(5 + n * one.length);
      assert.equal(a.text(), '+OK\r\n' + one.repeat(n));
      await until(async () => / omem=0 /.test(await clientLine(s, 'slow')));
      a.sock.destroy();
    });

    it('closes a client over its output buffer limit and carries on', { timeout: 90000 }, async () => {
      const s = await startServer({ env, args: ['--client-output-buffer-limit', 'normal 4mb 0 0'] });
      await s.client().set('big', 'y'.repeat(1024 * 1024));
      const a = await raw(s.port);
      a.sock.write(cmd('CLIENT', 'SETNAME', 'over'));
      await a.untilBytes(5);
      a.sock.pause();
      const closed = new Promise<void>((r) => a.sock.once('close', () => r()));
      const parts: Buffer[] = [];
      for (let i = 0; i < 60; i++) parts.push(cmd('GET', 'big'));
      a.sock.write(Buffer.concat(parts));
      await s.waitForLog(/name=over .*scheduled to be closed ASAP for overcoming of output buffer limits/, 60000);
      await until(async () => (await clientLine(s, 'over')) === '');
      a.sock.resume();
      await closed;
      assert.ok(a.received() < 5 + 60 * (1024 * 1024 + 13), `received ${a.received()} bytes`);
      assert.equal(await s.client().ping(), 'PONG');
    });

    it('frees a client whose peer is gone while its replies are still queued', { timeout: 90000 }, async () => {
      const s = await startServer({ env });
      await s.client().set('big', 'z'.repeat(1024 * 1024));
      const a = await raw(s.port);
      a.sock.write(cmd('CLIENT', 'SETNAME', 'gone'));
      await a.untilBytes(5);
      a.sock.pause();
      const parts: Buffer[] = [];
      for (let i = 0; i < 40; i++) parts.push(cmd('GET', 'big'));
      a.sock.write(Buffer.concat(parts));
      await until(async () => Number(/ omem=(\d+)/.exec(await clientLine(s, 'gone'))?.[1]) > 0);
      a.sock.resetAndDestroy();
      await until(async () => (await clientLine(s, 'gone')) === '');
      assert.equal(await s.client().ping(), 'PONG');
    });
  });
}

describe('direct writes under --pending-deprecation', () => {
  after(stopAll);

  it('stays on socket.write and prints no deprecation warning', { timeout: 60000 }, async () => {
    const s = await startServer({ env: { NODE_PENDING_DEPRECATION: '1' }, args: ['--loglevel', 'verbose'] });
    assert.equal(await s.client().set('k', 'v'), 'OK');
    assert.equal(await s.client().get('k'), 'v');
    await s.waitForLog('Client writes: socket.write (pending deprecation warnings are on)');
    assert.doesNotMatch(s.output(), /DEP0111|process\.binding\(\) is deprecated/);
  });
});
