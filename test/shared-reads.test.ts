import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { acceptSharedReads, setSharedReader } from '../src/server/shared-reads.js';

/**
 * Client sockets read into one buffer shared by every client (src/server/shared-reads.ts), or,
 * with NODIS_SHARED_READS=0, through 'data' events. Both paths must keep every byte a client
 * sent but the server has not used yet, while other clients' reads overwrite the shared buffer.
 */

const cmd = (...args: (string | Buffer)[]): Buffer =>
  Buffer.concat([
    Buffer.from(`*${args.length}\r\n`),
    ...args.flatMap((a) => {
      const b = typeof a === 'string' ? Buffer.from(a, 'latin1') : a;
      return [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')];
    }),
  ]);

interface Raw {
  sock: net.Socket;
  /** Resolves once the replies received so far contain `text`, `times` times. */
  until(text: string, times?: number): Promise<string>;
}

async function raw(port: number): Promise<Raw> {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('error', () => {});
  await new Promise<void>((r) => sock.once('connect', () => r()));
  let got = '';
  let waiters: (() => void)[] = [];
  sock.on('data', (d) => {
    got += d.toString('latin1');
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  const count = (text: string): number => got.split(text).length - 1;
  const until = (text: string, times = 1): Promise<string> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (count(text) >= times) resolve(got);
        else waiters.push(check);
      };
      check();
    });
  return { sock, until };
}

/** A different byte pattern per position, so a corrupted byte shows. */
const pattern = (n: number, seed: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
};

/** Another client's traffic: a pipeline of `n` SETs of 1 KB values, well over one 64 KB read. */
async function otherTraffic(port: number, n: number): Promise<void> {
  const other = await raw(port);
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) parts.push(cmd('SET', `other:${i}`, pattern(1024, i)));
  other.sock.write(Buffer.concat(parts));
  await other.until('+OK\r\n', n);
  other.sock.destroy();
}

async function clientQbuf(s: RunningServer, name: string): Promise<number> {
  const line = (await s.client().client('LIST')) as string;
  const mine = line.split('\n').find((l) => l.includes(` name=${name} `));
  return Number(/ qbuf=(\d+)/.exec(mine ?? '')?.[1] ?? -1);
}

for (const [label, env, logLine] of [
  ['bare connections (no net.Socket: shared buffer, direct writes)', {}, 'Client reads: one shared buffer (bare connection)'],
  ['shared buffer, a net.Socket per connection (NODIS_BARE_CONNECTIONS=0)', { NODIS_BARE_CONNECTIONS: '0' }, 'Client reads: one shared buffer (onread)'],
  ["'data' events (NODIS_SHARED_READS=0)", { NODIS_SHARED_READS: '0' }, "Client reads: 'data' events"],
  ['shared buffer, sockets moved from net.Server\'s (NODIS_ACCEPT_SHARED=0)', { NODIS_ACCEPT_SHARED: '0' }, 'Client reads: one shared buffer (onread)'],
  ["shared buffer, the peer's end through the stream (NODIS_OWN_READS=0)", { NODIS_OWN_READS: '0' }, 'Client reads: one shared buffer (onread)'],
] as const) {
  describe(`client reads through ${label}`, () => {
    after(stopAll);

    it('takes that path', { timeout: 60000 }, async () => {
      const s = await startServer({ env, args: ['--loglevel', 'verbose'] });
      assert.equal(await s.client().ping(), 'PONG');
      await s.waitForLog(logLine);
    });

    it('answers requests sent with the FIN, then closes and frees the client; a plain EOF frees it too', { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const probe = s.client();
      const connected = async (): Promise<number> => Number(/connected_clients:(\d+)/.exec((await probe.info('clients')) as string)?.[1]);
      assert.equal(await connected(), 1);
      for (let round = 0; round < 20; round++) {
        const a = await raw(s.port);
        const ended = new Promise<void>((r) => a.sock.once('end', () => r()));
        // The requests and the half-close in one go: the server may read the EOF in the same
        // turn as the requests, before their replies are written.
        a.sock.end(Buffer.concat([cmd('PING'), cmd('SET', `fin:${round}`, 'v'), cmd('GET', `fin:${round}`)]));
        assert.equal(await a.until('$1\r\nv\r\n'), '+PONG\r\n+OK\r\n$1\r\nv\r\n');
        await ended;
        a.sock.destroy();
      }
      const plain = await Promise.all([0, 1, 2, 3, 4].map(() => raw(s.port)));
      for (const p of plain) p.sock.write(cmd('PING'));
      await Promise.all(plain.map((p) => p.until('+PONG\r\n')));
      assert.equal(await connected(), 6);
      for (const p of plain) p.sock.end();
      for (let i = 0; i < 200 && (await connected()) !== 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await connected(), 1);
    });

    it("keeps a blocked client's pipelined command intact while other clients' reads come and go", { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const a = await raw(s.port);
      const value = pattern(3000, 1);
      // BLPOP blocks; the SET behind it, read in the same chunk, waits in the parser.
      a.sock.write(Buffer.concat([cmd('BLPOP', 'queue', '0'), cmd('SET', 'after-block', value), cmd('GET', 'after-block')]));
      const probe = s.client();
      for (;;) {
        const blocked = Number(/blocked_clients:(\d+)/.exec((await probe.info('clients')) as string)?.[1]);
        if (blocked === 1) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await otherTraffic(s.port, 300);
      await probe.lpush('queue', 'x');
      const got = await a.until(`$${value.length}\r\n`);
      assert.ok(got.startsWith('*2\r\n$5\r\nqueue\r\n$1\r\nx\r\n+OK\r\n'), got.slice(0, 60));
      assert.deepEqual(await probe.getBuffer('after-block'), value);
      a.sock.destroy();
    });

    it("keeps a command's partial bytes across another client's reads", { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const a = await raw(s.port);
      a.sock.write(cmd('CLIENT', 'SETNAME', 'partial'));
      await a.until('+OK\r\n');
      const whole = cmd('SET', 'split', pattern(5000, 2));
      a.sock.write(whole.subarray(0, 2500));
      // Wait until the server holds the first half in the client's query buffer.
      while ((await clientQbuf(s, 'partial')) <= 0) await new Promise((r) => setTimeout(r, 20));
      await otherTraffic(s.port, 200);
      a.sock.write(whole.subarray(2500));
      await a.until('+OK\r\n', 2);
      assert.deepEqual(await s.client().getBuffer('split'), pattern(5000, 2));
      a.sock.destroy();
    });

    it('keeps the partial commands of clients whose reads have the same length apart', { timeout: 60000 }, async () => {
      // Every read of one length comes as the same Buffer object (shared-reads.ts keeps one view
      // per length): each parser must copy its unread tail before the next such read.
      const s = await startServer({ env });
      const names = ['same-a', 'same-b', 'same-c'];
      const socks = await Promise.all(names.map(() => raw(s.port)));
      const wholes = names.map((_, i) => cmd('SET', `same:${i}`, pattern(3000, 10 + i)));
      for (let i = 0; i < names.length; i++) {
        socks[i]!.sock.write(cmd('CLIENT', 'SETNAME', names[i]!));
        await socks[i]!.until('+OK\r\n');
      }
      for (const cut of [1000, 2000]) {
        for (let i = 0; i < names.length; i++) {
          socks[i]!.sock.write(wholes[i]!.subarray(cut - 1000, cut));
          // The query buffer holds what the parser has not taken (the name and key are taken).
          while ((await clientQbuf(s, names[i]!)) < cut - 100) await new Promise((r) => setTimeout(r, 20));
        }
      }
      for (let i = 0; i < names.length; i++) socks[i]!.sock.write(wholes[i]!.subarray(2000));
      for (let i = 0; i < names.length; i++) {
        await socks[i]!.until('+OK\r\n', 2);
        assert.deepEqual(await s.client().getBuffer(`same:${i}`), pattern(3000, 10 + i));
        socks[i]!.sock.destroy();
      }
    });

    it('assembles a large value sent in pieces while other clients write', { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const a = await raw(s.port);
      const value = pattern(300 * 1024, 3);
      const whole = Buffer.concat([cmd('SET', 'big', value), cmd('STRLEN', 'big')]);
      const traffic: Promise<void>[] = [];
      for (let at = 0; at < whole.length; at += 40 * 1024) {
        a.sock.write(whole.subarray(at, at + 40 * 1024));
        traffic.push(otherTraffic(s.port, 50));
      }
      await Promise.all(traffic);
      await a.until(`:${value.length}\r\n`);
      assert.deepEqual(await s.client().getBuffer('big'), value);
      for (let i = 0; i < 50; i++) assert.deepEqual(await s.client().getBuffer(`other:${i}`), pattern(1024, i));
      a.sock.destroy();
    });

    it("shows the connection in CLIENT LIST (addr, laddr, fd); QUIT closes it after its reply, CLIENT KILL at once", { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const a = await raw(s.port);
      a.sock.write(cmd('CLIENT', 'SETNAME', 'me'));
      await a.until('+OK\r\n');
      const line = ((await s.client().client('LIST')) as string).split('\n').find((l) => l.includes(' name=me '))!;
      assert.match(line, new RegExp(` addr=127\\.0\\.0\\.1:${a.sock.localPort} laddr=127\\.0\\.0\\.1:${s.port} fd=\\d+ `));
      assert.ok(Number(/ fd=(\d+)/.exec(line)![1]) > 2);
      const ended = new Promise<void>((r) => a.sock.once('end', () => r()));
      a.sock.write(Buffer.concat([cmd('PING'), cmd('QUIT'), cmd('PING')]));
      await ended;
      assert.equal(await a.until('+OK\r\n'), '+OK\r\n+PONG\r\n+OK\r\n');
      a.sock.destroy();
      const b = await raw(s.port);
      b.sock.write(cmd('PING'));
      await b.until('+PONG\r\n');
      const closed = new Promise<void>((r) => b.sock.once('close', () => r()));
      assert.equal(await s.client().client('KILL', 'ADDR', `127.0.0.1:${b.sock.localPort}`), 1);
      await closed;
    });

    it("queues a client's replies while it does not read (omem, events=w), all delivered once it does; the output-buffer limit closes it", { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const probe = s.client();
      const value = pattern(100 * 1024, 9);
      await probe.set('big', value);
      const slowLine = async (): Promise<string> => ((await probe.client('LIST')) as string).split('\n').find((l) => l.includes(' name=slow ')) ?? '';
      const a = await raw(s.port);
      a.sock.write(cmd('CLIENT', 'SETNAME', 'slow'));
      await a.until('+OK\r\n');
      a.sock.pause();
      const gets = 200;
      a.sock.write(Buffer.concat([...Array.from({ length: gets }, () => cmd('GET', 'big')), cmd('ECHO', 'end-of-replies')]));
      let line = '';
      for (let i = 0; i < 500; i++) {
        line = await slowLine();
        if (/ omem=[1-9]/.test(line)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(line, / omem=[1-9]\d* .* events=rw /);
      const header = `$${value.length}\r\n`;
      a.sock.resume();
      const all = await a.until('$14\r\nend-of-replies\r\n');
      const expected = Buffer.concat([
        Buffer.from('+OK\r\n'),
        ...Array.from({ length: gets }, () => Buffer.concat([Buffer.from(header), value, Buffer.from('\r\n')])),
        Buffer.from('$14\r\nend-of-replies\r\n'),
      ]);
      // Every byte, in order, once the client reads.
      assert.equal(all.length, expected.length);
      assert.ok(Buffer.from(all, 'latin1').equals(expected));
      await probe.config('SET', 'client-output-buffer-limit', 'normal 1mb 0 0');
      const closed = new Promise<void>((r) => a.sock.once('close', () => r()));
      a.sock.pause();
      a.sock.write(Buffer.concat(Array.from({ length: gets }, () => cmd('GET', 'big'))));
      for (let i = 0; i < 500 && (await slowLine()) !== ''; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(await slowLine(), '');
      a.sock.resume();
      await closed;
      assert.equal(await probe.ping(), 'PONG');
    });
  });
}

describe('acceptSharedReads: an accepted connection becomes one shared-read socket', () => {
  it("hands each connection to accept as a shared-read socket, without net.Server's 'connection' socket", { timeout: 30000 }, async () => {
    const viaServer: net.Socket[] = [];
    const srv = net.createServer({ pauseOnConnect: true }, (s) => {
      viaServer.push(s);
      s.destroy();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const got: string[] = [];
    const accepted: net.Socket[] = [];
    assert.equal(
      acceptSharedReads(srv, (socket) => {
        accepted.push(socket);
        // The socket reads into the shared buffer: its reader gets the bytes, no 'data' event.
        assert.equal(setSharedReader(socket, (chunk) => got.push(chunk.toString('latin1'))), true);
        socket.on('data', () => assert.fail("a shared-read socket emits no 'data'"));
      }),
      true,
    );
    const { port } = srv.address() as net.AddressInfo;
    const clients = await Promise.all(
      [0, 1, 2].map(
        (i) =>
          new Promise<net.Socket>((r) => {
            const c = net.connect(port, '127.0.0.1', () => {
              c.write(`hello ${i}`);
              r(c);
            });
          }),
      ),
    );
    for (let i = 0; i < 200 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got.sort(), ['hello 0', 'hello 1', 'hello 2']);
    assert.equal(accepted.length, 3);
    assert.equal(viaServer.length, 0);
    // Replies go out through the same socket.
    const echoed = new Promise<string>((r) => clients[0]!.once('data', (b) => r(b.toString())));
    accepted[0]!.write('+PONG\r\n');
    assert.equal(await echoed, '+PONG\r\n');
    for (const c of clients) c.destroy();
    for (const a of accepted) a.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  });

  it("hands the peer's EOF to onEnd, past the stream (no 'end', no shutdown)", { timeout: 30000 }, async () => {
    const srv = net.createServer({ pauseOnConnect: true }, (s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const got: string[] = [];
    let accepted: net.Socket | null = null;
    const ended = new Promise<void>((resolve) => {
      acceptSharedReads(srv, (socket) => {
        accepted = socket;
        assert.equal(
          setSharedReader(
            socket,
            (chunk) => got.push(chunk.toString('latin1')),
            () => resolve(),
          ),
          true,
        );
        socket.on('end', () => assert.fail("the EOF went to the stream ('end')"));
      });
    });
    const { port } = srv.address() as net.AddressInfo;
    const c = net.connect(port, '127.0.0.1', () => c.end('last words'));
    await ended;
    assert.deepEqual(got, ['last words']);
    // The server side has not ended its half: the client can still be written to.
    const echoed = new Promise<string>((r) => c.once('data', (b) => r(b.toString())));
    accepted!.write('+OK\r\n');
    assert.equal(await echoed, '+OK\r\n');
    c.destroy();
    accepted!.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  });
});
