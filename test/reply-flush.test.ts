import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RawConnection } from './helpers/raw-connection.js';
import { startServer, stopAll } from './helpers/server.js';

/**
 * When replies leave (Server.flushPendingWrites, Redis's beforeSleep): in order for a pipeline
 * that arrives in pieces, never before the AOF has the write they answer, with the
 * invalidations a tracking client is owed. Written for the trial of replies sent at the end of
 * their own read (docs/PERFORMANCE.md, "The request path, 2026-12-06 evening"), kept as the
 * guard any such change must pass; on both read paths (the shared buffer and 'data' events).
 */

const cmd = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`).join('')}`;

/** A raw connection, once connected; `until(text, n)` waits for `text` to have come `n` times. */
async function raw(port: number): Promise<{ sock: RawConnection['sock']; text(): string; until(text: string, times?: number): Promise<string> }> {
  const c = new RawConnection(port);
  await new Promise<void>((r) => c.sock.once('connect', () => r()));
  return { sock: c.sock, text: () => c.got, until: (text, times = 1) => c.until((got) => got.split(text).length - 1 >= times, 50000) };
}

/** The bytes of every INCR file of the server's AOF. */
function incrFiles(dir: string): string {
  const aofDir = path.join(dir, 'appendonlydir');
  return fs
    .readdirSync(aofDir)
    .filter((f) => f.endsWith('.incr.aof'))
    .map((f) => fs.readFileSync(path.join(aofDir, f), 'latin1'))
    .join('');
}

for (const [label, env] of [
  ['shared reads', {}],
  ["'data' events", { NODIS_SHARED_READS: '0' }],
] as const) {
  describe(`reply flush (${label})`, () => {
    after(stopAll);

    it('answers a pipeline sent in pieces of every size, in order', { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const a = await raw(s.port);
      let input = '';
      let expected = '';
      for (let i = 0; i < 300; i++) {
        input += cmd('INCR', 'n');
        expected += `:${i + 1}\r\n`;
        input += cmd('GET', 'n');
        expected += `$${String(i + 1).length}\r\n${i + 1}\r\n`;
      }
      // Pieces of 1..37 bytes, each its own write (and so, mostly, its own read on the server).
      for (let at = 0, size = 1; at < input.length; at += size, size = (size % 37) + 1) {
        a.sock.write(input.slice(at, at + size), 'latin1');
        if (size % 5 === 0) await new Promise((r) => setImmediate(r));
      }
      await a.until(`$3\r\n300\r\n`);
      assert.equal(a.text(), expected);
      a.sock.destroy();
    });

    it('keeps serving the others when a client closes with replies owed', { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const quitter = await raw(s.port);
      quitter.sock.write(cmd('SET', 'k', 'v').repeat(2000));
      quitter.sock.destroy();
      const b = await raw(s.port);
      b.sock.write(cmd('SET', 'other', '1') + cmd('GET', 'other'));
      await b.until('$1\r\n1\r\n');
      assert.equal(b.text(), '+OK\r\n$1\r\n1\r\n');
      assert.equal(await s.client().ping(), 'PONG');
      b.sock.destroy();
    });

    it('does not answer a write before the AOF has it (appendfsync always)', { timeout: 60000 }, async () => {
      const s = await startServer({ env, args: ['--appendonly', 'yes', '--appendfsync', 'always', '--enable-debug-command', 'yes'] });
      const a = await raw(s.port);
      // Each AOF flush now sleeps 300 ms before its write(2): a reply sent before the flush
      // would arrive while the file does not have the write yet.
      a.sock.write(cmd('DEBUG', 'AOF-FLUSH-SLEEP', '300000'));
      await a.until('+OK\r\n');
      for (let i = 0; i < 3; i++) {
        a.sock.write(cmd('SET', `durable:${i}`, `value-${i}`));
        await a.until('+OK\r\n', i + 2);
        assert.ok(incrFiles(s.dir).includes(`durable:${i}`), `the reply to SET durable:${i} came before the AOF write`);
      }
      a.sock.destroy();
    });

    it("sends a tracking client's own FLUSHALL invalidation after its reply, every time", { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const t = await raw(s.port);
      t.sock.write(cmd('HELLO', '3') + cmd('CLIENT', 'TRACKING', 'on'));
      await t.until('+OK\r\n');
      const push = '>2\r\n$10\r\ninvalidate\r\n_\r\n';
      for (let i = 1; i <= 3; i++) {
        t.sock.write(cmd('FLUSHALL'));
        // The reply, then the flush's invalidation — the second one only if the first flush's
        // end-of-turn work ran (its "flush in progress" mark was cleared).
        const got = await t.until(push, i);
        assert.ok(got.endsWith(`+OK\r\n${push}`), JSON.stringify(got.slice(-80)));
      }
      t.sock.destroy();
    });

    it('sends an invalidation held while CLIENT REPLY SKIP dropped its own command\'s reply', { timeout: 60000 }, async () => {
      const s = await startServer({ env });
      const t = await raw(s.port);
      t.sock.write(cmd('HELLO', '3') + cmd('CLIENT', 'TRACKING', 'on') + cmd('GET', 'k'));
      await t.until('_\r\n');
      // SET k's invalidation (k is tracked) is held while its reply is being skipped, and goes
      // out with the end-of-turn work; the GET's reply behind it must not leave without it.
      t.sock.write(cmd('CLIENT', 'REPLY', 'SKIP') + cmd('SET', 'k', 'v') + cmd('GET', 'k'));
      const got = await t.until('>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n');
      assert.ok(got.includes('$1\r\nv\r\n'), JSON.stringify(got.slice(-80)));
      t.sock.destroy();
    });
  });
}
