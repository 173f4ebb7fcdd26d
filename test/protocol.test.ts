import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';
import { exchange } from './helpers/protocol-fuzz.js';

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

  // Edge cases where Redis 7.0.15's answer was checked byte for byte (the fuzzer found them).
  // `exchange` sends the input, then `ECHO __fuzz_end__`, and collects until that is answered,
  // the connection closes, or the server stays silent.
  const END = '$12\r\n__fuzz_end__\r\n';

  it('waits for more data after a NUL in an inline line, as strchr() does', async () => {
    const r = await exchange(s.port, Buffer.from('PING\x00\r\n', 'latin1'), 400);
    assert.deepEqual(r, { reply: '', closed: false });
    const lead = await exchange(s.port, Buffer.from('\x00PING\r\n', 'latin1'), 400);
    assert.deepEqual(lead, { reply: '', closed: false });
  });

  it('waits for more data after a NUL in a count or length line', async () => {
    assert.deepEqual(await exchange(s.port, Buffer.from('*1\x00\r\n$4\r\nPING\r\n', 'latin1'), 400), { reply: '', closed: false });
    assert.deepEqual(await exchange(s.port, Buffer.from('*1\r\n$4\x00\r\nPING\r\n', 'latin1'), 400), { reply: '', closed: false });
    assert.deepEqual(await exchange(s.port, Buffer.from('*1\r\n\x00\r\n', 'latin1'), 400), { reply: '', closed: false });
  });

  it('keeps \\v and \\f inside inline tokens (only space, \\t, \\r, \\n end one)', async () => {
    const r = await exchange(s.port, Buffer.from('ECHO a\x0bb\r\nECHO \x0c c\x0c\r\n', 'latin1'), 5000);
    assert.equal(r.reply, `$3\r\na\x0bb\r\n$2\r\nc\x0c\r\n${END}`);
  });

  it('rejects -0 as a multibulk or bulk length', async () => {
    assert.deepEqual(await exchange(s.port, Buffer.from('*-0\r\n'), 5000), { reply: '-ERR Protocol error: invalid multibulk length\r\n', closed: true });
    assert.deepEqual(await exchange(s.port, Buffer.from('*1\r\n$-0\r\n'), 5000), { reply: '-ERR Protocol error: invalid bulk length\r\n', closed: true });
    assert.deepEqual(await exchange(s.port, Buffer.from('*01\r\n'), 5000), { reply: '-ERR Protocol error: invalid multibulk length\r\n', closed: true });
  });

  it('takes any long long as a count: LLONG_MIN is an empty command, one less is invalid', async () => {
    assert.deepEqual(await exchange(s.port, Buffer.from('*-9223372036854775808\r\nPING\r\n'), 5000), { reply: `+PONG\r\n${END}`, closed: false });
    assert.deepEqual(await exchange(s.port, Buffer.from('*-9223372036854775809\r\nPING\r\n'), 5000), { reply: '-ERR Protocol error: invalid multibulk length\r\n', closed: true });
    assert.deepEqual(await exchange(s.port, Buffer.from('*-99999\r\nPING\r\n'), 5000), { reply: `+PONG\r\n${END}`, closed: false });
  });

  it('prints an unknown command name and its arguments only up to a NUL, as %s does', async () => {
    const r = await exchange(s.port, Buffer.from('*2\r\n$4\r\nP\x00NG\r\n$3\r\na\x00b\r\n', 'latin1'), 5000);
    assert.equal(r.reply, `-ERR unknown command 'P', with args beginning with: 'a' \r\n${END}`);
  });
});
