/**
 * Pub/Sub against a real nodis-server: reply shapes in RESP2 and RESP3 (byte for byte),
 * delivery to channel, pattern and shard subscribers, PUBSUB introspection, subscribed-mode
 * rules, clean-up on RESET/disconnect, and the `pubsub` output-buffer limit.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { runRaw, encodeCommand } from './helpers/redis-compare.js';
import type { Redis } from 'ioredis';

/** Polls `check` until it holds (no fixed sleeps). */
async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw connection that collects everything the server sends. */
function rawClient(port: number): Promise<{ socket: net.Socket; data: () => string; send: (...argv: string[]) => void; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = '';
    socket.on('data', (d) => (buf += d.toString('latin1')));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, data: () => buf, send: (...argv) => socket.write(encodeCommand(argv), 'latin1'), closed }));
    socket.once('error', reject);
  });
}

const bulk = (s: string): string => `$${s.length}\r\n${s}\r\n`;

describe('pub/sub', () => {
  let s: RunningServer;
  let r: Redis;
  before(async () => {
    s = await startServer();
    r = s.client();
  });
  after(stopAll);

  /** Sends commands on a fresh connection and returns everything received once `expected` has arrived. */
  async function exchange(cmds: string[][], expected: string, proto: 2 | 3 = 2): Promise<string> {
    const c = await rawClient(s.port);
    let offset = 0;
    if (proto === 3) {
      c.send('HELLO', '3');
      await waitFor(async () => c.data().includes('modules\r\n*0\r\n'), 'HELLO 3');
      offset = c.data().length;
    }
    for (const argv of cmds) c.send(...argv);
    await waitFor(async () => c.data().length - offset >= expected.length, 'replies').catch(() => {});
    c.socket.destroy();
    return c.data().slice(offset);
  }

  it('replies to (un)subscriptions with RESP2 arrays, a null channel when there was none', async () => {
    const expected = [
      `*3\r\n${bulk('subscribe')}${bulk('a')}:1\r\n*3\r\n${bulk('subscribe')}${bulk('b')}:2\r\n*3\r\n${bulk('subscribe')}${bulk('a')}:2\r\n`,
      `*3\r\n${bulk('psubscribe')}${bulk('n*')}:3\r\n`,
      `*2\r\n${bulk('pong')}$0\r\n\r\n`,
      `*2\r\n${bulk('pong')}${bulk('x')}`,
      "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
      `*3\r\n${bulk('unsubscribe')}${bulk('a')}:2\r\n*3\r\n${bulk('unsubscribe')}${bulk('b')}:1\r\n`,
      `*3\r\n${bulk('punsubscribe')}${bulk('n*')}:0\r\n*3\r\n${bulk('punsubscribe')}${bulk('zz')}:0\r\n`,
      `*3\r\n${bulk('unsubscribe')}$-1\r\n:0\r\n`,
      `*3\r\n${bulk('punsubscribe')}$-1\r\n:0\r\n`,
      '+PONG\r\n',
    ].join('');
    const got = await exchange(
      [['SUBSCRIBE', 'a', 'b', 'a'], ['PSUBSCRIBE', 'n*'], ['PING'], ['PING', 'x'], ['GET', 'k'], ['UNSUBSCRIBE'], ['PUNSUBSCRIBE', 'n*', 'zz'], ['UNSUBSCRIBE'], ['PUNSUBSCRIBE'], ['PING']],
      expected,
    );
    assert.equal(got, expected);
  });

  it('uses push messages in RESP3 and allows any command while subscribed', async () => {
    const expected = [
      `>3\r\n${bulk('subscribe')}${bulk('r3')}:1\r\n`,
      '_\r\n',
      `>3\r\n${bulk('message')}${bulk('r3')}${bulk('self')}`,
      ':1\r\n',
      `>3\r\n${bulk('unsubscribe')}${bulk('r3')}:0\r\n`,
      `>3\r\n${bulk('unsubscribe')}_\r\n:0\r\n`,
    ].join('');
    const got = await exchange([['SUBSCRIBE', 'r3'], ['GET', 'nokey'], ['PUBLISH', 'r3', 'self'], ['UNSUBSCRIBE'], ['UNSUBSCRIBE']], expected, 3);
    assert.equal(got, expected);
  });

  it('delivers to channel and pattern subscribers and counts the deliveries', async () => {
    const sub = await rawClient(s.port);
    sub.send('SUBSCRIBE', 'news.tech');
    sub.send('PSUBSCRIBE', 'news.*', 'n?ws.*', 'sport.*');
    await waitFor(async () => sub.data().split('subscribe').length > 4, 'subscriptions');
    const before = sub.data().length;
    assert.equal(await r.publish('news.tech', 'hello'), 3);
    assert.equal(await r.publish('weather', 'rain'), 0);
    const expected =
      `*3\r\n${bulk('message')}${bulk('news.tech')}${bulk('hello')}` +
      `*4\r\n${bulk('pmessage')}${bulk('news.*')}${bulk('news.tech')}${bulk('hello')}` +
      `*4\r\n${bulk('pmessage')}${bulk('n?ws.*')}${bulk('news.tech')}${bulk('hello')}`;
    await waitFor(async () => sub.data().length >= before + expected.length, 'messages');
    assert.equal(sub.data().slice(before), expected);
    assert.deepEqual(await r.call('pubsub', 'numsub', 'news.tech', 'none'), ['news.tech', 1, 'none', 0]);
    assert.equal(await r.call('pubsub', 'numpat'), 3);
    assert.deepEqual(await r.call('pubsub', 'channels', 'news*'), ['news.tech']);
    sub.socket.destroy();
    await waitFor(async () => (await r.call('pubsub', 'numpat')) === 0, 'disconnect clean-up');
    assert.deepEqual(await r.call('pubsub', 'channels'), []);
  });

  it('keeps shard channels apart: SSUBSCRIBE / SPUBLISH / SUNSUBSCRIBE', async () => {
    const sub = await rawClient(s.port);
    sub.send('SSUBSCRIBE', 'sh1', 'sh2');
    sub.send('PSUBSCRIBE', '*');
    const confirm = `*3\r\n${bulk('ssubscribe')}${bulk('sh1')}:1\r\n*3\r\n${bulk('ssubscribe')}${bulk('sh2')}:2\r\n*3\r\n${bulk('psubscribe')}${bulk('*')}:1\r\n`;
    await waitFor(async () => sub.data().length >= confirm.length, 'ssubscribe');
    assert.equal(sub.data(), confirm);
    assert.equal(await r.call('spublish', 'sh1', 'm'), 1, 'patterns never match shard channels');
    assert.equal(await r.publish('sh1', 'classic'), 1, 'a classic channel of the same name is another channel');
    assert.deepEqual(((await r.call('pubsub', 'shardchannels')) as string[]).sort(), ['sh1', 'sh2']);
    assert.deepEqual(((await r.call('pubsub', 'shardchannels', 'sh1')) as string[]), ['sh1']);
    assert.deepEqual(await r.call('pubsub', 'shardnumsub', 'sh1', 'x'), ['sh1', 1, 'x', 0]);
    assert.deepEqual(await r.call('pubsub', 'channels'), []);
    const tail = `*3\r\n${bulk('smessage')}${bulk('sh1')}${bulk('m')}*4\r\n${bulk('pmessage')}${bulk('*')}${bulk('sh1')}${bulk('classic')}`;
    await waitFor(async () => sub.data().length >= confirm.length + tail.length, 'smessage');
    assert.equal(sub.data().slice(confirm.length), tail);
    sub.send('SUNSUBSCRIBE');
    const unsub = `*3\r\n${bulk('sunsubscribe')}${bulk('sh1')}:1\r\n*3\r\n${bulk('sunsubscribe')}${bulk('sh2')}:0\r\n`;
    await waitFor(async () => sub.data().length >= confirm.length + tail.length + unsub.length, 'sunsubscribe');
    assert.equal(sub.data().slice(confirm.length + tail.length), unsub);
    sub.socket.destroy();
  });

  it('stays in subscribed mode while any channel, pattern or shard channel is left, and leaves it with the last', async () => {
    const refused = "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n";
    const inMode = `*2\r\n${bulk('pong')}$0\r\n\r\n`;
    const expected = [
      `*3\r\n${bulk('ssubscribe')}${bulk('s1')}:1\r\n*3\r\n${bulk('ssubscribe')}${bulk('s1')}:1\r\n`,
      `*3\r\n${bulk('psubscribe')}${bulk('p*')}:1\r\n`,
      `*3\r\n${bulk('sunsubscribe')}${bulk('s1')}:0\r\n`,
      inMode,
      refused,
      `*3\r\n${bulk('sunsubscribe')}${bulk('s1')}:0\r\n`,
      `*3\r\n${bulk('punsubscribe')}${bulk('p*')}:0\r\n`,
      '+PONG\r\n',
      '$-1\r\n',
      `*3\r\n${bulk('subscribe')}${bulk('c')}:1\r\n`,
      inMode,
      '+RESET\r\n',
      '+PONG\r\n',
    ].join('');
    const got = await exchange(
      [['SSUBSCRIBE', 's1', 's1'], ['PSUBSCRIBE', 'p*'], ['SUNSUBSCRIBE', 's1'], ['PING'], ['GET', 'k'], ['SUNSUBSCRIBE', 's1'], ['PUNSUBSCRIBE', 'p*'], ['PING'], ['GET', 'k'], ['SUBSCRIBE', 'c'], ['PING'], ['RESET'], ['PING']],
      expected,
    );
    assert.equal(got, expected);
  });

  it('RESET leaves subscribed mode and drops every subscription', async () => {
    const replies = await runRaw(s.port, [['SUBSCRIBE', 'rs'], ['PSUBSCRIBE', 'rs*'], ['RESET'], ['PUBSUB', 'NUMSUB', 'rs'], ['PUBSUB', 'NUMPAT']]);
    assert.equal(replies[2], '+RESET\r\n');
    assert.equal(replies[3], `*2\r\n${bulk('rs')}:0\r\n`);
    assert.equal(replies[4], ':0\r\n');
  });

  it('PUBSUB HELP and argument errors', async () => {
    const help = (await r.call('pubsub', 'help')) as string[];
    assert.equal(help[0], 'PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    assert.equal(help.length, 14);
    await assert.rejects(r.call('pubsub', 'channels', 'a', 'b'), /ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP./);
    await assert.rejects(r.call('pubsub', 'numpat', 'x'), /ERR wrong number of arguments for 'pubsub\|numpat' command/);
    await assert.rejects(r.call('subscribe'), /ERR wrong number of arguments for 'subscribe' command/);
  });

  it('disconnects a subscriber that does not read past the pubsub output limit, and carries on', async () => {
    const admin = s.client();
    await admin.config('SET', 'client-output-buffer-limit', 'pubsub 1mb 0 0');
    const before = Number(/client_output_buffer_limit_disconnections:(\d+)/.exec(await admin.info('stats'))?.[1] ?? 0);
    const slow = await rawClient(s.port);
    slow.send('SUBSCRIBE', 'firehose');
    await waitFor(async () => slow.data().includes('firehose'), 'subscription');
    slow.socket.pause(); // never read again
    const other = s.client();
    const message = 'x'.repeat(64 * 1024);
    let gone = false;
    void slow.closed.then(() => (gone = true));
    for (let i = 0; i < 4000 && !gone; i++) {
      await other.publish('firehose', message);
      if (i % 16 === 15) gone = gone || (await other.call('pubsub', 'numsub', 'firehose') as [string, number])[1] === 0;
    }
    assert.ok(gone, 'the slow subscriber was disconnected');
    assert.equal(await other.ping(), 'PONG');
    assert.equal(await other.publish('firehose', 'after'), 0);
    const after = Number(/client_output_buffer_limit_disconnections:(\d+)/.exec(await admin.info('stats'))?.[1] ?? -1);
    if (after !== -1) assert.ok(after > before);
    await admin.config('SET', 'client-output-buffer-limit', 'pubsub 32mb 8mb 60');
  });
});
