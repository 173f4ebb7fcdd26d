/**
 * AUTH, HELLO and requirepass as Redis 7.0.15: WRONGPASS/NOAUTH texts, `AUTH default pass`,
 * HELLO's reply map in RESP2 and RESP3, HELLO AUTH/SETNAME, NOPROTO, the unauthenticated
 * protocol limits, and CONFIG SET requirepass affecting only new connections.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';

function cmd(...args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return s;
}

/** ioredis's ready check (INFO) would fail with NOAUTH and close the connection. */
const NO_READY_CHECK = { enableReadyCheck: false };

const untilLines = (n: number) => (g: string) => g.split('\r\n').length > n;

describe('auth without a password', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('AUTH <password> fails when no password is configured', async () => {
    const c = s.client(NO_READY_CHECK);
    await assert.rejects(
      c.call('auth', 'foo'),
      /^ReplyError: ERR AUTH <password> called without any password configured for the default user\. Are you sure your configuration is correct\?$/,
    );
    await assert.rejects(c.call('auth', 'a', 'b', 'c'), /^ReplyError: ERR syntax error$/);
  });

  it('AUTH default <anything> succeeds for the nopass default user', async () => {
    const c = s.client(NO_READY_CHECK);
    assert.equal(await c.call('auth', 'default', 'whatever'), 'OK');
    await assert.rejects(c.call('auth', 'nosuchuser', 'x'), /^ReplyError: WRONGPASS invalid username-password pair or user is disabled\.$/);
  });

  it('HELLO answers the server map; HELLO 3 switches to RESP3 maps', async () => {
    const r2 = await rawExchange(s.port, cmd('HELLO'), untilLines(15));
    assert.match(r2, /^\*14\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$6\r\n7\.0\.15\r\n\$5\r\nproto\r\n:2\r\n\$2\r\nid\r\n:\d+\r\n\$4\r\nmode\r\n\$10\r\nstandalone\r\n\$4\r\nrole\r\n\$6\r\nmaster\r\n\$7\r\nmodules\r\n\*0\r\n$/);
    const r3 = await rawExchange(s.port, cmd('HELLO', '3'), untilLines(15));
    assert.match(r3, /^%7\r\n\$6\r\nserver\r\n[^]*\$5\r\nproto\r\n:3\r\n[^]*\$7\r\nmodules\r\n\*0\r\n$/);
  });

  it('HELLO errors: NOPROTO, bad version, bad options; SETNAME applies', async () => {
    const c = s.client(NO_READY_CHECK);
    await assert.rejects(c.call('hello', '4'), /^ReplyError: NOPROTO unsupported protocol version$/);
    await assert.rejects(c.call('hello', '1'), /^ReplyError: NOPROTO unsupported protocol version$/);
    await assert.rejects(c.call('hello', 'x'), /^ReplyError: ERR Protocol version is not an integer or out of range$/);
    await assert.rejects(c.call('hello', '2', 'foo'), /^ReplyError: ERR Syntax error in HELLO option 'foo'$/);
    await assert.rejects(c.call('hello', '2', 'setname'), /^ReplyError: ERR Syntax error in HELLO option 'setname'$/);
    await assert.rejects(c.call('hello', '2', 'setname', 'a b'), /Client names cannot contain spaces/);
    const r = (await c.call('hello', '2', 'setname', 'hello-name')) as unknown[];
    assert.equal(r[0], 'server');
    assert.equal(await c.call('client', 'getname'), 'hello-name');
  });
});

describe('auth with requirepass', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer({ args: ['--requirepass', 'foobar'] });
  });
  after(stopAll);

  it('commands need AUTH; wrong passwords get WRONGPASS', async () => {
    const c = s.client(NO_READY_CHECK);
    await assert.rejects(c.set('foo', 'bar'), /^ReplyError: NOAUTH Authentication required\.$/);
    await assert.rejects(c.call('auth', 'wrong!'), /^ReplyError: WRONGPASS invalid username-password pair or user is disabled\.$/);
    await assert.rejects(c.call('auth', 'default', 'wrong!'), /^ReplyError: WRONGPASS/);
    assert.equal(await c.call('auth', 'foobar'), 'OK');
    await c.set('foo', '100');
    assert.equal(await c.incr('foo'), 101);
    // A later wrong AUTH does not log the connection out.
    await assert.rejects(c.call('auth', 'wrong!'), /^ReplyError: WRONGPASS/);
    assert.equal(await c.get('foo'), '101');
  });

  it('AUTH default <password> is the same as AUTH <password>', async () => {
    const c = s.client(NO_READY_CHECK);
    assert.equal(await c.call('auth', 'default', 'foobar'), 'OK');
    assert.equal(await c.ping(), 'PONG');
  });

  it('unknown commands and arity errors come before NOAUTH; no_auth commands run', async () => {
    const r = await rawExchange(s.port, cmd('NOSUCH') + cmd('GET') + cmd('GET', 'x') + cmd('PING') + cmd('QUIT'), () => false);
    assert.equal(
      r,
      "-ERR unknown command 'NOSUCH', with args beginning with: \r\n" +
        "-ERR wrong number of arguments for 'get' command\r\n" +
        '-NOAUTH Authentication required.\r\n' +
        '-NOAUTH Authentication required.\r\n' +
        '+OK\r\n',
    );
  });

  it('HELLO before AUTH: NOAUTH, or HELLO AUTH to authenticate and switch protocol at once', async () => {
    const r = await rawExchange(s.port, cmd('HELLO', '3'), (g) => g.endsWith('\r\n'));
    assert.equal(
      r,
      '-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n',
    );
    const bad = await rawExchange(s.port, cmd('HELLO', '3', 'AUTH', 'default', 'nope'), (g) => g.endsWith('\r\n'));
    assert.equal(bad, '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
    const ok = await rawExchange(s.port, cmd('HELLO', '3', 'AUTH', 'default', 'foobar', 'SETNAME', 'x') + cmd('CLIENT', 'GETNAME'), (g) => g.endsWith('$1\r\nx\r\n'));
    assert.match(ok, /^%7\r\n[^]*:3\r\n[^]*\$1\r\nx\r\n$/);
  });

  it('unauthenticated clients get small multibulk and bulk limits', async () => {
    const r1 = await rawExchange(s.port, '*100\r\n', () => false);
    assert.equal(r1, '-ERR Protocol error: unauthenticated multibulk length\r\n');
    const r2 = await rawExchange(s.port, '*1\r\n$100000000\r\n', () => false);
    assert.equal(r2, '-ERR Protocol error: unauthenticated bulk length\r\n');
    // After AUTH the normal limits apply.
    const big = 'x'.repeat(20000);
    const r3 = await rawExchange(s.port, cmd('AUTH', 'foobar') + cmd('ECHO', big), (g) => g.endsWith(`${big}\r\n`));
    assert.equal(r3, `+OK\r\n$20000\r\n${big}\r\n`);
  });

  it('binary passwords work', async () => {
    const c = s.client(NO_READY_CHECK);
    await c.call('auth', 'foobar');
    assert.equal(await c.call('config', 'set', 'requirepass', 'abc\x00def'), 'OK');
    const r = await rawExchange(s.port, cmd('AUTH', 'abc') + cmd('AUTH', 'abc\x00def'), untilLines(2));
    assert.equal(r, '-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n');
    await c.call('config', 'set', 'requirepass', 'foobar');
  });

  it('redis-cli -a authenticates', () => {
    const out = execFileSync('redis-cli', ['-p', String(s.port), '--no-auth-warning', '-a', 'foobar', 'ping'], { encoding: 'latin1' });
    assert.equal(out, 'PONG\n');
    const denied = execFileSync('redis-cli', ['-p', String(s.port), 'get', 'x'], { encoding: 'latin1' });
    assert.equal(denied, 'NOAUTH Authentication required.\n\n');
    const wrong = execFileSync('redis-cli', ['-p', String(s.port), '--no-auth-warning', '-a', 'nope', 'ping'], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(wrong, /NOAUTH Authentication required\./);
  });
});

describe('CONFIG SET requirepass', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('affects new connections only, and clearing it lifts the requirement', async () => {
    const old = s.client(NO_READY_CHECK);
    assert.equal(await old.ping(), 'PONG');
    assert.equal(await old.call('config', 'set', 'requirepass', 'secret'), 'OK');
    // The existing connection stays authenticated.
    assert.equal(await old.set('k', 'v'), 'OK');
    // A new one must authenticate and gets the unauthenticated limits.
    const r = await rawExchange(s.port, cmd('GET', 'k') + '*20\r\n', () => false);
    assert.equal(r, '-NOAUTH Authentication required.\r\n-ERR Protocol error: unauthenticated multibulk length\r\n');
    const fresh = s.client(NO_READY_CHECK);
    await assert.rejects(fresh.get('k'), /^ReplyError: NOAUTH/);
    assert.equal(await old.call('config', 'set', 'requirepass', ''), 'OK');
    // Redis decides per request: with no password, even the never-authenticated connection runs.
    assert.equal(await fresh.get('k'), 'v');
  });
});
