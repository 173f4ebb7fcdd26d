import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';

describe('protocol', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('answers inline commands', async () => {
    const r = await rawExchange(s.port, 'PING\r\n', (g) => g.endsWith('\r\n'));
    assert.equal(r, '+PONG\r\n');
  });

  it('answers a pipeline of thousands of commands in order', async () => {
    let req = '';
    for (let i = 0; i < 5000; i++) req += `*2\r\n$4\r\nECHO\r\n$${String(i).length}\r\n${i}\r\n`;
    let expected = '';
    for (let i = 0; i < 5000; i++) expected += `$${String(i).length}\r\n${i}\r\n`;
    const r = await rawExchange(s.port, req, (g) => g.length >= expected.length);
    assert.equal(r, expected);
  });

  it('keeps arguments binary-safe', async () => {
    const c = s.client();
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 13, 10]);
    await c.set(bytes, bytes);
    assert.deepEqual(await c.getBuffer(bytes), bytes);
  });

  it('rejects an out of range multibulk length and closes only that connection', async () => {
    const r = await rawExchange(s.port, '*3000000000\r\n', () => false);
    assert.match(r, /^-ERR Protocol error: invalid multibulk length\r\n$/);
    assert.equal(await s.client().ping(), 'PONG');
  });

  it('rejects a bulk length over proto-max-bulk-len', async () => {
    const r = await rawExchange(s.port, '*1\r\n$2000000000\r\n', () => false);
    assert.equal(r, '-ERR Protocol error: invalid bulk length\r\n');
  });

  it('rejects a non-$ bulk header', async () => {
    const r = await rawExchange(s.port, '*1\r\nfoo\r\n', () => false);
    assert.equal(r, "-ERR Protocol error: expected '$', got 'f'\r\n");
  });

  it('rejects a too big inline request', async () => {
    const r = await rawExchange(s.port, 'a'.repeat(70000), () => false);
    assert.equal(r, '-ERR Protocol error: too big inline request\r\n');
  });

  it('rejects unbalanced quotes in inline requests', async () => {
    const r = await rawExchange(s.port, 'set """test-key""" test-value\r\n', () => false);
    assert.equal(r, '-ERR Protocol error: unbalanced quotes in request\r\n');
  });

  it('answers unknown commands with Redis\'s error', async () => {
    const r = await rawExchange(s.port, 'FOO a b\r\n', (g) => g.endsWith('\r\n'));
    assert.equal(r, "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n");
  });
});
