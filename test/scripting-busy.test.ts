/**
 * Busy scripts, from the point of view of other clients: past busy-reply-threshold they get
 * -BUSY (also on connections opened while the script runs), SCRIPT KILL / FUNCTION KILL /
 * SHUTDOWN NOSAVE work, clients that leave are noticed, and a replica's stream from its master
 * waits for the script instead of being refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';
import type { Redis } from 'ioredis';

const PING = '*1\r\n$4\r\nPING\r\n';
const BUSY_EVAL = '-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n';
const BUSY_FUNCTION = '-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n';

/** Encodes a command for a raw connection. */
function resp(...argv: string[]): string {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** One command on a brand-new connection; resolves with the first complete line of reply. */
function onNewConnection(port: number, command: string): Promise<string> {
  return rawExchange(port, command, (got) => got.includes('\r\n'));
}

/** Pings on `c` until the server answers BUSY; resolves with the BUSY text. */
async function waitUntilBusy(c: Redis): Promise<string> {
  for (;;) {
    const reply = String(await c.ping().catch((e: Error) => e.message));
    if (reply.startsWith('BUSY')) return reply;
  }
}

describe('scripting: busy scripts', { timeout: 60000 }, () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ args: ['--busy-reply-threshold', '50'] });
  });
  after(stopAll);

  it('notices a script busy inside a loop of redis.call (not only every 100k Lua instructions)', async () => {
    const a = s.client();
    const b = s.client();
    await a.call('del', 'biglist');
    await a.call('rpush', 'biglist', ...Array.from({ length: 500 }, (_, i) => String(i)));
    await b.ping();
    // 2000 iterations are far fewer than 100k Lua instructions, but each call copies a
    // 500-element list into Lua: the script runs well past the threshold.
    let finished = false;
    const running = a.call('eval', "for i = 1, 2000 do redis.call('lrange', 'biglist', 0, -1) end return 'done'", '0').then((r) => {
      finished = true;
      return r;
    });
    let sawBusy = false;
    while (!finished) {
      const reply = String(await b.ping().catch((e: Error) => e.message));
      if (reply.startsWith('BUSY')) {
        sawBusy = true;
        break;
      }
    }
    assert.equal(sawBusy, true, 'another client got BUSY while the script ran');
    assert.equal(await running, 'done');
    assert.equal(await b.ping(), 'PONG');
  });

  it('answers -BUSY on a connection opened while the script runs, and takes SCRIPT KILL from one', async () => {
    const a = s.client();
    const b = s.client();
    const running = a.call('eval', "while true do redis.call('ping') end", '0').catch((e: Error) => e.message);
    await waitUntilBusy(b);
    assert.equal(await onNewConnection(s.port, PING), BUSY_EVAL);
    assert.equal(await onNewConnection(s.port, resp('SCRIPT', 'KILL')), '+OK\r\n');
    assert.match(String(await running), /^ERR Script killed by user with SCRIPT KILL\.\.\. script: \w{40}, on @user_script:1\.$/);
    assert.equal(await onNewConnection(s.port, PING), '+PONG\r\n');
  });

  it('keeps a connection made during the busy period usable afterwards', async () => {
    const a = s.client();
    const b = s.client();
    const running = a.call('eval', 'while true do end', '0').catch((e: Error) => e.message);
    await waitUntilBusy(b);
    const late = s.client({ enableReadyCheck: false, lazyConnect: true });
    await late.connect();
    assert.match(String(await late.ping().catch((e: Error) => e.message)), /^BUSY /);
    assert.equal(await late.call('script', 'kill'), 'OK');
    await running;
    assert.equal(await late.call('set', 'late', '1'), 'OK');
    assert.equal(await late.call('get', 'late'), '1');
  });

  it('takes FUNCTION KILL from a new connection for a busy function', async () => {
    const a = s.client();
    const b = s.client();
    await a.call('function', 'load', 'replace', "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}");
    const running = a.call('fcall', 'spin', '0').catch((e: Error) => e.message);
    await waitUntilBusy(b);
    assert.equal(await onNewConnection(s.port, PING), BUSY_FUNCTION);
    assert.equal(
      await onNewConnection(s.port, resp('SCRIPT', 'KILL')),
      '-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n',
    );
    assert.equal(await onNewConnection(s.port, resp('FUNCTION', 'KILL')), '+OK\r\n');
    assert.match(String(await running), /Script killed by user with SCRIPT KILL/);
  });

  it('frees a client that disconnects while a script is busy', async () => {
    const a = s.client();
    const b = s.client();
    const leaver = s.client();
    await leaver.call('client', 'setname', 'leaver');
    const before = Number(/connected_clients:(\d+)/.exec(String(await b.call('info', 'clients')))![1]);
    // The script returns once INFO shows one client fewer: only if the server noticed the
    // disconnection while the script was still running.
    const running = a.call(
      'eval',
      "while true do local n = tonumber(string.match(redis.call('info', 'clients'), 'connected_clients:(%d+)')) if n < tonumber(ARGV[1]) then return n end end",
      '0',
      String(before),
    );
    await waitUntilBusy(b);
    leaver.disconnect();
    assert.equal(await running, before - 1);
  });

  it('stops on SHUTDOWN NOSAVE sent on a new connection while an unkillable script runs', async () => {
    const own = await startServer({ args: ['--busy-reply-threshold', '50'] });
    const a = own.client();
    const b = own.client();
    void a.call('eval', "redis.call('set', 'x', 'y') while true do end", '0').catch(() => null);
    await waitUntilBusy(b);
    assert.match(await onNewConnection(own.port, resp('SCRIPT', 'KILL')), /^-UNKILLABLE /);
    const exited = new Promise<number | null>((resolve) => own.proc.once('exit', (code) => resolve(code)));
    await rawExchange(own.port, resp('SHUTDOWN', 'NOSAVE'), () => false);
    assert.equal(await exited, 0);
  });

  it("lets a replica's stream from its master wait for a busy script instead of refusing it", async () => {
    const master = await startServer({ args: ['--repl-diskless-sync-delay', '0'] });
    const replica = await startServer({ args: ['--busy-reply-threshold', '50', '--replicaof', '127.0.0.1', String(master.port)] });
    const m = master.client();
    const r1 = replica.client();
    const r2 = replica.client();
    await replica.waitForLog('MASTER <-> REPLICA sync: Finished with success');
    const running = r1.call('eval', 'while true do end', '0').catch((e: Error) => e.message);
    await waitUntilBusy(r2);
    await m.call('set', 'during', 'busy');
    // Once the master's output buffer for the replica is empty the write is in the replica's
    // socket (loopback delivers within the send); the next -BUSY reply comes from a pass that
    // read every client's socket, the master's included. Refused with -BUSY, the write would
    // be lost; it must wait and apply once the script is killed.
    while (!/ obl=0 oll=0 /.test(String(await m.call('client', 'list', 'type', 'replica'))));
    assert.match(String(await r2.ping().catch((e: Error) => e.message)), /^BUSY /);
    assert.equal(await r2.call('script', 'kill'), 'OK');
    await running;
    let value: unknown = null;
    for (let i = 0; i < 100 && value !== 'busy'; i++) {
      value = await r2.call('get', 'during');
      // WAIT paces the loop: it returns as soon as the replica acknowledges (or after 100 ms).
      if (value !== 'busy') await m.call('wait', '1', '100');
    }
    assert.equal(value, 'busy');
  });
});
