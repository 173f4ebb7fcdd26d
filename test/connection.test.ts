/**
 * Connection commands (PING, ECHO, SELECT, QUIT, RESET) and the per-connection limits of
 * Redis 7.0.15: maxclients, proto-max-bulk-len, client-query-buffer-limit, protocol errors that
 * close only the offending connection, idle `timeout`, and `tcp-keepalive`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync, spawnSync } from 'node:child_process';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';

function cmd(...args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return s;
}

/** Opens a raw connection and resolves once the server answered a PING on it. */
async function openRaw(port: number): Promise<{ sock: net.Socket; got: () => string; closed: Promise<void> }> {
  const sock = net.connect(port, '127.0.0.1');
  let got = '';
  sock.on('error', () => {});
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('+PONG\r\n')) resolve();
      else if (got.startsWith('-')) reject(new Error(got));
    });
    sock.write(cmd('PING'));
  });
  return { sock, got: () => got, closed };
}

/** Reports whether a command is implemented yet (other families land independently). */
async function implemented(port: number, name: string): Promise<boolean> {
  const r = await rawExchange(port, cmd(name, 'probe-arg'), (g) => g.endsWith('\r\n'));
  return !r.startsWith('-ERR unknown command');
}

describe('connection commands', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('PING and ECHO', async () => {
    const c = s.client();
    assert.equal(await c.ping(), 'PONG');
    assert.equal(await c.call('ping', 'hi'), 'hi');
    await assert.rejects(c.call('ping', 'a', 'b'), /^ReplyError: ERR wrong number of arguments for 'ping' command$/);
    assert.equal(await c.call('echo', 'bin\x00\xff'), 'bin\x00\xff'.toString());
    await assert.rejects(c.call('echo'), /^ReplyError: ERR wrong number of arguments for 'echo' command$/);
  });

  it('SELECT validates the index as Redis', async () => {
    const c = s.client();
    assert.equal(await c.select(9), 'OK');
    await assert.rejects(c.call('select', '16'), /^ReplyError: ERR DB index is out of range$/);
    await assert.rejects(c.call('select', '-1'), /^ReplyError: ERR DB index is out of range$/);
    await assert.rejects(c.call('select', 'x'), /^ReplyError: ERR value is not an integer or out of range$/);
    await assert.rejects(c.call('select', '01'), /^ReplyError: ERR value is not an integer or out of range$/);
    await assert.rejects(
      c.call('select', '3000000000'),
      /^ReplyError: ERR value is out of range, value must between -2147483648 and 2147483647$/,
    );
  });

  it('QUIT answers OK, closes, and pipelined commands after it never run', async () => {
    const r = await rawExchange(s.port, cmd('QUIT') + cmd('SET', 'quit-key', 'x'.repeat(1024)), () => false);
    assert.equal(r, '+OK\r\n');
    assert.equal(await s.client().get('quit-key'), null);
  });

  it('RESET restores db, name, protocol, reply mode and leaves MONITOR', async () => {
    const r = await rawExchange(
      s.port,
      cmd('SELECT', '3') + cmd('CLIENT', 'SETNAME', 'resetme') + cmd('CLIENT', 'NO-EVICT', 'on') + cmd('HELLO', '3') +
        cmd('CLIENT', 'REPLY', 'OFF') + cmd('RESET') + cmd('CLIENT', 'INFO'),
      (g) => g.endsWith('\n\r\n'),
    );
    const afterHello = r.slice(r.indexOf('modules'));
    assert.ok(afterHello.includes('+RESET\r\n'), r);
    const info = afterHello.slice(afterHello.indexOf('+RESET\r\n') + 8);
    // Back in RESP2: a plain bulk string, db 0, no name; NO-EVICT is not a connection state.
    assert.match(info, /^\$\d+\r\nid=\d+ [^]* name= [^]* flags=e db=0 [^]* resp=2\n\r\n$/);

    const mon = await rawExchange(s.port, cmd('MONITOR') + cmd('RESET') + cmd('CLIENT', 'INFO'), (g) => g.endsWith('\n\r\n'));
    assert.match(mon, /^\+OK\r\n\+RESET\r\n\$\d+\r\nid=\d+ [^]* flags=N /);
  });

  it('RESET leaves MULTI and unsubscribes', async (t) => {
    const r = await rawExchange(
      s.port,
      cmd('MULTI') + cmd('SET', 'reset-multi', '1') + cmd('RESET') + cmd('SUBSCRIBE', 'ch') + cmd('RESET') + cmd('CLIENT', 'INFO'),
      (g) => g.endsWith('\n\r\n'),
    );
    assert.match(r, /^\+OK\r\n\+QUEUED\r\n\+RESET\r\n\*3\r\n\$9\r\nsubscribe\r\n\$2\r\nch\r\n:1\r\n\+RESET\r\n\$\d+\r\nid=\d+ [^]* flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 /);
    assert.equal(await s.client().get('reset-multi'), null);
  });

  it('RESET logs the connection out when a password is required', async () => {
    const p = await startServer({ args: ['--requirepass', 'pw'] });
    const r = await rawExchange(p.port, cmd('AUTH', 'pw') + cmd('PING') + cmd('RESET') + cmd('PING'), (g) => g.split('\r\n').length > 4);
    assert.equal(r, '+OK\r\n+PONG\r\n+RESET\r\n-NOAUTH Authentication required.\r\n');
    await p.stop();
  });
});

describe('protocol errors close only the offending connection', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  const cases: [string, string | Buffer, string][] = [
    ['multibulk count over INT_MAX', '*2147483648\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['too big inline request', Buffer.alloc(70 * 1024, 'a'), '-ERR Protocol error: too big inline request\r\n'],
    ['unbalanced quotes', 'set """test-key""" test-value\r\nping\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
    ['negative bulk length', '*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
  ];
  for (const [name, input, reply] of cases) {
    it(name, async () => {
      const bystander = await openRaw(s.port);
      const r = await rawExchange(s.port, input, () => false);
      assert.equal(r, reply);
      bystander.sock.write(cmd('ECHO', 'still-here'));
      await new Promise<void>((resolve) => {
        const check = (): void => {
          if (bystander.got().includes('still-here')) resolve();
          else setImmediate(check);
        };
        check();
      });
      bystander.sock.destroy();
    });
  }

  it('an empty line and a negative multibulk count are ignored', async () => {
    const r = await rawExchange(s.port, '\r\n*-10\r\nPING\r\n', (g) => g.endsWith('\r\n'));
    assert.equal(r, '+PONG\r\n');
  });
});

describe('limits', () => {
  after(stopAll);

  it('maxclients refuses extra connections with Redis\'s error, without spending client ids', async () => {
    const s = await startServer({ args: ['--maxclients', '2'] });
    const a = await openRaw(s.port);
    const b = await openRaw(s.port);
    const refused = await rawExchange(s.port, cmd('PING'), () => false);
    assert.equal(refused, '-ERR max number of clients reached\r\n');
    a.sock.destroy();
    await a.closed;
    // The slot frees once the server notices the close.
    let r = '';
    for (let i = 0; i < 100 && r !== ':3\r\n'; i++) r = await rawExchange(s.port, cmd('CLIENT', 'ID'), (g) => g.endsWith('\r\n'));
    assert.equal(r, ':3\r\n');
    b.sock.destroy();
    await s.stop();
  });

  it('CONFIG SET maxclients applies to new connections', async () => {
    const s = await startServer();
    const c = s.client();
    assert.equal(await c.call('config', 'set', 'maxclients', '1'), 'OK');
    assert.equal(await rawExchange(s.port, cmd('PING'), () => false), '-ERR max number of clients reached\r\n');
    assert.match((await c.call('info', 'stats')) as string, /rejected_connections:1\r\n/);
    await s.stop();
  });

  it('proto-max-bulk-len set lower refuses longer bulks', async () => {
    const s = await startServer();
    const c = s.client();
    assert.equal(await c.call('config', 'set', 'proto-max-bulk-len', '1mb'), 'OK');
    const r = await rawExchange(s.port, `*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${1024 * 1024 + 1}\r\n`, () => false);
    assert.equal(r, '-ERR Protocol error: invalid bulk length\r\n');
    const ok = await rawExchange(s.port, cmd('SET', 'k', 'x'.repeat(1024 * 1024)), (g) => g.endsWith('\r\n'));
    assert.equal(ok, '+OK\r\n');
    assert.equal(await c.strlen('k'), 1024 * 1024);
    await s.stop();
  });

  it('client-query-buffer-limit disconnects a client with a large partial request; others carry on', async () => {
    const s = await startServer();
    const c = s.client();
    assert.equal(await c.call('config', 'set', 'client-query-buffer-limit', '1mb'), 'OK');
    const big = net.connect(s.port, '127.0.0.1');
    big.on('error', () => {});
    const closed = new Promise<void>((r) => big.once('close', () => r()));
    big.write(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${4 * 1024 * 1024}\r\n`);
    const chunk = Buffer.alloc(64 * 1024, 'y');
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    while (open && sent < 3 * 1024 * 1024) {
      if (!big.write(chunk)) await new Promise<void>((r) => big.once('drain', () => r()).once('close', () => r()));
      sent += chunk.length;
    }
    await closed;
    await s.waitForLog('Closing client that reached max query buffer length');
    assert.equal(await c.ping(), 'PONG');
    await s.stop();
  });

  it('timeout closes idle clients', async () => {
    const s = await startServer({ args: ['--timeout', '1'] });
    const idle = await openRaw(s.port);
    const start = Date.now();
    await idle.closed;
    const waited = Date.now() - start;
    assert.ok(waited >= 900 && waited < 5000, `closed after ${waited} ms`);
    await s.stop();
  });

  it('tcp-keepalive is applied to accepted sockets', async (t) => {
    const s = await startServer({ args: ['--tcp-keepalive', '77'] });
    const conn = await openRaw(s.port);
    const out = execFileSync('ss', ['-tno', 'state', 'established', `( sport = :${s.port} )`], { encoding: 'latin1' });
    assert.match(out, /timer:\(keepalive,1min1\dsec/);
    conn.sock.destroy();
    await s.stop();
  });

  it('a tcp-keepalive set at run time applies to the connections accepted after it, 0 to none', async () => {
    const s = await startServer({ args: ['--tcp-keepalive', '77'] });
    const timers = (): string => execFileSync('ss', ['-tno', 'state', 'established', `( sport = :${s.port} )`], { encoding: 'latin1' });
    const before = await openRaw(s.port);
    await s.client().config('SET', 'tcp-keepalive', '200');
    const after200 = await openRaw(s.port);
    const port200 = after200.sock.localPort;
    let out = timers();
    assert.match(out, /timer:\(keepalive,1min1\dsec/, 'the first connection keeps 77 s');
    const line200 = out.split('\n').find((l) => l.includes(`:${port200} `) || l.includes(`:${port200}\t`)) ?? '';
    assert.match(line200, /timer:\(keepalive,3min\d+sec/, out);
    await s.client().config('SET', 'tcp-keepalive', '0');
    const after0 = await openRaw(s.port);
    out = timers();
    const line0 = out.split('\n').find((l) => l.includes(`:${after0.sock.localPort} `)) ?? '';
    assert.ok(line0 !== '', out);
    assert.doesNotMatch(line0, /keepalive/, out);
    for (const c of [before, after200, after0]) c.sock.destroy();
    await s.stop();
  });
});
