/**
 * The Lua debugger (SCRIPT DEBUG SYNC), driven by the real redis-cli --ldb-sync-mode and over
 * raw sockets. Expected outputs are what Redis 7.0.15 prints for the same session.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { encodeCommand, replyEnd, startRedis } from './helpers/redis-compare.js';

const REDIS_CLI = '/usr/bin/redis-cli';

/** Runs redis-cli --ldb-sync-mode --eval on a script, typing `input`; returns its output without colours. */
function ldbSession(port: number, script: string, args: string[], input: string): Promise<string> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-ldb-')), 'script.lua');
  fs.writeFileSync(file, script);
  return new Promise((resolve, reject) => {
    const cli = spawn(REDIS_CLI, ['-p', String(port), '--ldb-sync-mode', '--eval', file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const timer = setTimeout(() => {
      cli.kill();
      reject(new Error(`redis-cli did not finish; output so far:\n${out}`));
    }, 20000);
    cli.on('exit', () => {
      clearTimeout(timer);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      resolve(out.replace(/\x1b\[[0-9;]*m/g, ''));
    });
    cli.stdin.end(input);
  });
}

/** A raw connection that sends commands and reads whole replies, one at a time. */
class RawConnection {
  private buf = '';
  private waiting: (() => void) | null = null;
  private closed = false;
  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.waiting?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    sock.on('error', () => {});
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(sock)));
      sock.once('error', reject);
    });
  }

  send(...argv: string[]): void {
    this.sock.write(Buffer.from(encodeCommand(argv), 'latin1'));
  }

  /** The next complete reply's raw text, or null once the server closed the connection. */
  async reply(): Promise<string | null> {
    for (;;) {
      const end = this.buf.length > 0 ? replyEnd(this.buf, 0) : -1;
      if (end >= 0) {
        const r = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        return r;
      }
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = null;
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

const SCRIPT = `local a = {1,2,3}
local b = false
redis.call('set', KEYS[1], ARGV[1])
redis.debug(a, b, "x")
local c = redis.call('get', KEYS[1])
return c
`;

/** Output of Redis 7.0.15's redis-cli for SCRIPT with the input below. */
const EXPECTED = `Lua debugging session started, please use:
quit    -- End the session.
restart -- Restart the script in debug mode again.
help    -- Show Lua script debugging commands.

* Stopped at 1, stop reason = step over
-> 1   local a = {1,2,3}
* Stopped at 2, stop reason = step over
-> 2   local b = false
* Stopped at 3, stop reason = step over
-> 3   redis.call('set', KEYS[1], ARGV[1])
<value> a = {1; 2; 3}
<value> b = false
<value> {1; 2; 3}
<redis> get mykey
<reply> NULL
<retval> 3
   5   local c = redis.call('get', KEYS[1])
  #6   return c
<debug> line 4: {1; 2; 3}, false, "x"
* Stopped at 6, stop reason = break point
->#6   return c
`;
const INPUT = 's\ns\np\nprint a\nr get mykey\ne 1+2\nb 6\nc\n';

describe('scripting: the Lua debugger (SCRIPT DEBUG SYNC)', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('steps, prints, runs commands and code, and stops at breakpoints as Redis does (redis-cli --ldb-sync-mode)', async () => {
    const out = await ldbSession(s.port, SCRIPT, ['mykey', ',', 'hello'], INPUT);
    assert.equal(out, EXPECTED);
    // The session ran the script for real (sync mode keeps its writes).
    assert.equal(await s.client().call('get', 'mykey'), 'hello');
  });

  it('matches redis-server on the same session', async () => {
    const redis = await startRedis();
    const input = 'h\nl\nw\nb 5\nb\nb 99\nb -5\nt\nm 10\nr lrange nosuch 0 -1\nmaxlen 0\np nosuch\ne foo(\nzzz\ns\ns\ns\nc\n';
    assert.equal(await ldbSession(s.port, SCRIPT, ['k2', ',', 'v'], input), await ldbSession(redis.port, SCRIPT, ['k2', ',', 'v'], input));
  });

  it('speaks the debugger protocol: logs as multibulk status lines, <endsession>, then the reply and a close', async () => {
    const c = await RawConnection.open(s.port);
    c.send('SCRIPT', 'DEBUG', 'SYNC');
    assert.equal(await c.reply(), '+OK\r\n');
    c.send('EVAL', "redis.call('ping')\nreturn 'done'", '0');
    assert.equal(await c.reply(), "*2\r\n+* Stopped at 1, stop reason = step over\r\n+-> 1   redis.call('ping')\r\n");
    c.send('hello\0world');
    assert.equal(await c.reply(), '*1\r\n+<error> Unknown Redis Lua debugger command or wrong number of arguments.\r\n');
    c.send('s');
    assert.equal(await c.reply(), "*4\r\n+<redis> ping\r\n+<reply> \"+PONG\"\r\n+* Stopped at 2, stop reason = step over\r\n+-> 2   return 'done'\r\n");
    c.send('c');
    assert.equal(await c.reply(), '*1\r\n+<endsession>\r\n');
    assert.equal(await c.reply(), '$4\r\ndone\r\n');
    assert.equal(await c.reply(), null);
  });

  it('logs errors of commands called in step mode, and aborts on request', async () => {
    const c = await RawConnection.open(s.port);
    c.send('SCRIPT', 'DEBUG', 'SYNC');
    await c.reply();
    c.send('EVAL', "return 'x'", '0');
    await c.reply();
    c.send('redis', 'nosuchcommand', 'arg');
    assert.equal(await c.reply(), '*2\r\n+<redis> nosuchcommand arg\r\n+<error> Unknown Redis command called from script\r\n');
    c.send('abort');
    assert.equal(await c.reply(), '*1\r\n+<endsession>\r\n');
    assert.match(String(await c.reply()), /^-ERR script aborted for user request script: \w{40}, on @user_script:1\.\r\n$/);
  });

  it('lets the script run on when the debugging client goes away', async () => {
    const c = await RawConnection.open(s.port);
    c.send('SCRIPT', 'DEBUG', 'SYNC');
    await c.reply();
    c.send('EVAL', "redis.call('set', 'after-debug', 'yes')", '0');
    await c.reply();
    c.close();
    const other = s.client();
    assert.equal(await other.ping(), 'PONG');
    assert.equal(await other.call('get', 'after-debug'), 'yes');
  });

  it('refuses EVALSHA in debug mode, and forked (SCRIPT DEBUG YES) sessions', async () => {
    const c = await RawConnection.open(s.port);
    c.send('SCRIPT', 'DEBUG', 'SYNC');
    await c.reply();
    c.send('EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0');
    assert.equal(await c.reply(), '-ERR Please use EVAL instead of EVALSHA for debugging\r\n');
    c.send('SCRIPT', 'DEBUG', 'YES');
    assert.equal(await c.reply(), '+OK\r\n');
    c.send('EVAL', 'return 1', '0');
    assert.match(String(await c.reply()), /^-ERR Fork\(\) failed: can't run EVAL in debugging mode: /);
    // Debugging was turned off for this client: its scripts run normally again.
    c.send('EVAL', 'return 1', '0');
    assert.equal(await c.reply(), ':1\r\n');
    c.send('SCRIPT', 'DEBUG', 'MAYBE');
    assert.equal(await c.reply(), '-ERR Use SCRIPT DEBUG YES/SYNC/NO\r\n');
    c.close();
  });
});
