/**
 * CLIENT subcommands against a real nodis-server, driven by ioredis, raw sockets and the real
 * redis-cli: the CLIENT LIST line format, KILL filters and replies, REPLY modes, PAUSE/UNPAUSE,
 * UNBLOCK, NO-EVICT and the error texts of Redis 7.0.15.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { RawConnection } from './helpers/raw-connection.js';
import { startServer, stopAll, rawExchange, type RunningServer } from './helpers/server.js';

/** Every field of 7.0.15's catClientInfoString, in order. */
const LINE =
  /^id=(\d+) addr=127\.0\.0\.1:\d+ laddr=127\.0\.0\.1:\d+ fd=-?\d+ name=(\S*) age=\d+ idle=\d+ flags=([A-Za-z]+) db=(\d+) sub=\d+ psub=\d+ ssub=\d+ multi=-?\d+ qbuf=\d+ qbuf-free=\d+ argv-mem=\d+ multi-mem=\d+ rbs=\d+ rbp=\d+ obl=\d+ oll=\d+ omem=\d+ tot-mem=\d+ events=r?w? cmd=(\S+) user=(\S+) redir=-1 resp=([23])$/;

function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'latin1' });
}


function cmd(...args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return s;
}

describe('CLIENT', () => {
  let s: RunningServer;
  before(async () => {
    s = await startServer();
  });
  after(stopAll);

  it('CLIENT LIST prints every field of Redis 7.0.15 in order', async () => {
    const c = s.client();
    const out = (await c.call('client', 'list')) as string;
    const lines = out.split('\n');
    assert.equal(lines.at(-1), '');
    const mine = lines.slice(0, -1).find((l) => l.includes('cmd=client|list'));
    assert.ok(mine, out);
    const m = LINE.exec(mine);
    assert.ok(m, mine);
    assert.equal(m[3], 'N');
    assert.equal(m[6], 'default');
    // The running command is still in the query buffer: *2 $6 client $4 list = 26 bytes.
    assert.match(mine, / qbuf=26 /);
    assert.match(mine, / multi=-1 /);
  });

  it('CLIENT INFO describes the caller; CLIENT ID matches', async () => {
    const c = s.client();
    const myid = (await c.call('client', 'id')) as number;
    const info = (await c.call('client', 'info')) as string;
    assert.ok(info.endsWith('\n'));
    const m = LINE.exec(info.trimEnd());
    assert.ok(m, info);
    assert.equal(Number(m[1]), myid);
    assert.equal(m[5], 'client|info');
  });

  it('CLIENT LIST ID and TYPE filter, with Redis errors', async () => {
    const a = s.client();
    const b = s.client();
    const ida = (await a.call('client', 'id')) as number;
    const idb = (await b.call('client', 'id')) as number;
    const out = (await a.call('client', 'list', 'id', String(ida), String(idb), '999999')) as string;
    const ids = out.trimEnd().split('\n').map((l) => Number(/^id=(\d+)/.exec(l)![1]));
    assert.deepEqual(ids, [ida, idb]);
    const normal = (await a.call('client', 'list', 'type', 'NORMAL')) as string;
    assert.ok(normal.includes(`id=${ida} `));
    assert.equal(await a.call('client', 'list', 'type', 'replica'), '');
    assert.equal(await a.call('client', 'list', 'type', 'master'), '');
    await assert.rejects(a.call('client', 'list', 'type', 'foo'), /^ReplyError: ERR Unknown client type 'foo'$/);
    await assert.rejects(a.call('client', 'list', 'id', 'x'), /^ReplyError: ERR Invalid client ID$/);
    await assert.rejects(a.call('client', 'list', 'foo'), /^ReplyError: ERR syntax error$/);
    await assert.rejects(a.call('client', 'list', 'type'), /^ReplyError: ERR syntax error$/);
  });

  it('CLIENT LIST in RESP3 is a verbatim string', async () => {
    const r = await rawExchange(s.port, cmd('HELLO', '3') + cmd('CLIENT', 'INFO'), (g) => /=\d+\r\ntxt:[^]*\n\r\n$/.test(g));
    assert.match(r, /=\d+\r\ntxt:id=\d+ [^]* resp=3\n\r\n$/);
  });

  it('SETNAME / GETNAME, with the name shown in CLIENT LIST', async () => {
    const c = s.client();
    assert.equal(await c.call('client', 'getname'), null);
    assert.equal(await c.call('client', 'setname', 'my-conn'), 'OK');
    assert.equal(await c.call('client', 'getname'), 'my-conn');
    assert.match((await c.call('client', 'info')) as string, / name=my-conn /);
    await assert.rejects(
      c.call('client', 'setname', 'foo bar'),
      /^ReplyError: ERR Client names cannot contain spaces, newlines or special characters\.$/,
    );
    await assert.rejects(c.call('client', 'setname', 'caf\xe9'), /cannot contain spaces/);
    assert.equal(await c.call('client', 'setname', ''), 'OK');
    assert.equal(await c.call('client', 'getname'), null);
    await assert.rejects(c.call('client', 'setname'), /^ReplyError: ERR wrong number of arguments for 'client\|setname' command$/);
  });

  it('unknown subcommands and bad arity answer as Redis', async () => {
    const c = s.client();
    await assert.rejects(c.call('client', 'foo'), /^ReplyError: ERR unknown subcommand 'foo'\. Try CLIENT HELP\.$/);
    await assert.rejects(c.call('client', 'kill'), /^ReplyError: ERR wrong number of arguments for 'client\|kill' command$/);
    await assert.rejects(
      c.call('client', 'unblock', '1', 'timeout', 'x'),
      /^ReplyError: ERR unknown subcommand or wrong number of arguments for 'unblock'\. Try CLIENT HELP\.$/,
    );
    const help = (await c.call('client', 'help')) as string[];
    assert.equal(help[0], 'CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    assert.equal(help.at(-2), 'HELP');
    assert.equal(help.length, 48);
  });

  it('CLIENT KILL argument errors', async () => {
    const c = s.client();
    await assert.rejects(c.call('client', 'kill', 'id', '10', 'wrong_arg'), /^ReplyError: ERR syntax error$/);
    for (const bad of ['str', '-1', '0']) {
      await assert.rejects(c.call('client', 'kill', 'id', bad), /^ReplyError: ERR client-id should be greater than 0$/);
    }
    await assert.rejects(c.call('client', 'kill', 'type', 'wrong_type'), /^ReplyError: ERR Unknown client type 'wrong_type'$/);
    await assert.rejects(c.call('client', 'kill', 'user', 'wrong_user'), /^ReplyError: ERR No such user 'wrong_user'$/);
    await assert.rejects(c.call('client', 'kill', 'skipme', 'yes_or_no'), /^ReplyError: ERR syntax error$/);
    await assert.rejects(c.call('client', 'kill', '1.2.3.4:5'), /^ReplyError: ERR No such client$/);
  });

  it('CLIENT KILL addr (old form) closes that connection only', async () => {
    const c = s.client();
    const victim = new RawConnection(s.port);
    victim.send(cmd('CLIENT', 'INFO'));
    const info = await victim.until((g) => g.includes('\n\r\n'));
    const addr = /addr=(\S+)/.exec(info)![1]!;
    assert.equal(await c.call('client', 'kill', addr), 'OK');
    await victim.until(() => false);
    assert.ok(victim.closed);
    assert.equal(await c.ping(), 'PONG');
  });

  it('CLIENT KILL filters (ID, LADDR, USER, TYPE, SKIPME) answer the number killed', async () => {
    const c = s.client();
    const v1 = new RawConnection(s.port);
    v1.send(cmd('CLIENT', 'ID'));
    const id1 = Number(/:(\d+)/.exec(await v1.until((g) => g.endsWith('\r\n')))![1]);
    assert.equal(await c.call('client', 'kill', 'id', String(id1)), 1);
    await v1.until(() => false);
    assert.ok(v1.closed);
    assert.equal(await c.call('client', 'kill', 'id', String(id1)), 0);

    const laddr = /laddr=(\S+)/.exec((await c.call('client', 'info')) as string)![1]!;
    const v2 = new RawConnection(s.port);
    const v3 = new RawConnection(s.port);
    v2.send(cmd('PING'));
    v3.send(cmd('PING'));
    await v2.until((g) => g === '+PONG\r\n');
    await v3.until((g) => g === '+PONG\r\n');
    // Everyone else on this server is connected to the same laddr; SKIPME defaults to yes.
    const others = ((await c.call('client', 'list')) as string).trimEnd().split('\n').length - 1;
    assert.equal(await c.call('client', 'kill', 'laddr', laddr, 'user', 'default', 'type', 'normal'), others);
    await v2.until(() => false);
    await v3.until(() => false);
    assert.equal(await c.ping(), 'PONG');
  });

  it('CLIENT KILL SKIPME no kills the caller after its reply', async () => {
    const me = new RawConnection(s.port);
    me.send(cmd('CLIENT', 'ID'));
    const id = /:(\d+)/.exec(await me.until((g) => g.endsWith('\r\n')))![1]!;
    me.send(cmd('CLIENT', 'KILL', 'ID', id, 'SKIPME', 'no') + cmd('PING'));
    const got = await me.until(() => false);
    assert.equal(got, `:${id}\r\n:1\r\n`);
    assert.ok(me.closed);
  });

  it('CLIENT REPLY OFF / ON / SKIP silence exactly what Redis silences', async () => {
    const r = new RawConnection(s.port);
    r.send(cmd('CLIENT', 'REPLY', 'OFF') + cmd('PING', 'a') + cmd('SET', 'k', 'v') + cmd('CLIENT', 'REPLY', 'ON') + cmd('PING', 'b'));
    assert.equal(await r.until((g) => g.includes('$1\r\nb\r\n')), '+OK\r\n$1\r\nb\r\n');
    r.got = '';
    r.send(cmd('CLIENT', 'REPLY', 'SKIP') + cmd('PING', 'c') + cmd('PING', 'd'));
    assert.equal(await r.until((g) => g.includes('$1\r\nd\r\n')), '$1\r\nd\r\n');
    r.got = '';
    // ON right after SKIP cancels it and is itself answered.
    r.send(cmd('CLIENT', 'REPLY', 'SKIP') + cmd('CLIENT', 'REPLY', 'ON') + cmd('PING'));
    assert.equal(await r.until((g) => g.includes('PONG')), '+OK\r\n+PONG\r\n');
    r.got = '';
    // Errors are silenced too, and SKIP while OFF stays OFF.
    r.send(cmd('CLIENT', 'REPLY', 'OFF') + cmd('NOSUCHCMD') + cmd('CLIENT', 'REPLY', 'SKIP') + cmd('PING', 'e') + cmd('CLIENT', 'REPLY', 'ON'));
    assert.equal(await r.until((g) => g.includes('OK')), '+OK\r\n');
    r.got = '';
    r.send(cmd('CLIENT', 'REPLY', 'MAYBE'));
    assert.equal(await r.until((g) => g.endsWith('\r\n')), '-ERR syntax error\r\n');
    r.close();
    assert.equal(await s.client().get('k'), 'v');
  });

  it('CLIENT PAUSE WRITE holds writes but serves reads; UNPAUSE releases them in order', async () => {
    const admin = s.client();
    const w = s.client();
    const reader = s.client();
    await w.set('pk', '0');
    assert.equal(await admin.call('client', 'pause', '100000', 'WRITE'), 'OK');
    const order: string[] = [];
    const held = w.set('pk', '1').then((r) => order.push(`set:${r}`));
    const held2 = w.incr('pk').then((r) => order.push(`incr:${r}`));
    // Reads (and the admin's own commands) are not paused.
    assert.equal(await reader.get('pk'), '0');
    assert.equal(await reader.ping(), 'PONG');
    // The held client shows as blocked.
    const list = (await admin.call('client', 'list')) as string;
    assert.match(list, /flags=b /);
    assert.match((await admin.call('info', 'clients')) as string, /blocked_clients:1/);
    assert.deepEqual(order, []);
    assert.equal(await admin.call('client', 'unpause'), 'OK');
    await Promise.all([held, held2]);
    assert.deepEqual(order, ['set:OK', 'incr:2']);
  });

  it('CLIENT PAUSE WRITE also holds PUBLISH and an EXEC whose transaction writes', async (t) => {
    const admin = s.client();
    const tx = new RawConnection(s.port);
    tx.send(cmd('MULTI') + cmd('SET', 'tx-k', '1'));
    await tx.until((g) => g.endsWith('+QUEUED\r\n'));
    const ro = new RawConnection(s.port);
    ro.send(cmd('MULTI') + cmd('GET', 'tx-k'));
    await ro.until((g) => g.endsWith('+QUEUED\r\n'));
    await admin.call('client', 'pause', '100000', 'WRITE');
    const pub = new RawConnection(s.port);
    pub.send(cmd('PUBLISH', 'ch', 'm'));
    tx.send(cmd('EXEC'));
    ro.send(cmd('EXEC'));
    // The read-only transaction runs; the writing one and PUBLISH wait.
    await ro.until((g) => g.includes('*1\r\n'));
    await waitFor(async () => /blocked_clients:2/.test((await admin.call('info', 'clients')) as string));
    assert.equal(pub.got, '');
    await admin.call('client', 'unpause');
    assert.equal(await pub.until((g) => g.endsWith('\r\n')), ':0\r\n');
    assert.match(await tx.until((g) => g.includes('*1\r\n+OK\r\n')), /\*1\r\n\+OK\r\n$/);
    for (const r of [tx, ro, pub]) r.close();
  });

  it('SUBSCRIBE confirmations are pushes that CLIENT REPLY OFF does not silence', async (t) => {
    const r = new RawConnection(s.port);
    r.send(cmd('CLIENT', 'REPLY', 'OFF') + cmd('SUBSCRIBE', 'ch1'));
    assert.equal(await r.until((g) => g.endsWith(':1\r\n')), '*3\r\n$9\r\nsubscribe\r\n$3\r\nch1\r\n:1\r\n');
    r.close();
  });

  it('CLIENT PAUSE ALL holds every command and ends by itself after the timeout', async () => {
    const admin = s.client();
    const other = s.client();
    await other.ping();
    const start = Date.now();
    assert.equal(await admin.call('client', 'pause', '300'), 'OK');
    assert.equal(await other.ping(), 'PONG');
    assert.ok(Date.now() - start >= 250, `ping answered after ${Date.now() - start} ms`);
  });

  it('CLIENT PAUSE argument errors', async () => {
    const c = s.client();
    await assert.rejects(c.call('client', 'pause', 'abc'), /^ReplyError: ERR timeout is not an integer or out of range$/);
    await assert.rejects(c.call('client', 'pause', '-1'), /^ReplyError: ERR timeout is negative$/);
    await assert.rejects(c.call('client', 'pause', '10', 'READ'), /^ReplyError: ERR CLIENT PAUSE mode must be WRITE or ALL$/);
    assert.equal(await c.call('client', 'pause', '0'), 'OK');
    assert.equal(await c.set('after-pause-0', '1'), 'OK');
  });

  it('keys do not expire (actively or lazily) while clients are paused', async () => {
    const c = s.client();
    const expiredKeys = async (): Promise<number> =>
      Number(/expired_keys:(\d+)/.exec((await c.call('info', 'stats')) as string)![1]);
    await c.set('exp-a', '1', 'PX', 20);
    await c.set('exp-b', '1', 'PX', 20);
    const before = await expiredKeys();
    await c.call('client', 'pause', '100000', 'WRITE');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await c.get('exp-a'), null);
    assert.equal(await c.get('exp-b'), null);
    assert.equal(await expiredKeys(), before);
    await c.call('client', 'unpause');
    await c.get('exp-a');
    await c.get('exp-b');
    assert.equal(await expiredKeys(), before + 2);
  });

  it('CLIENT UNBLOCK ends a BLPOP with the timeout reply or an UNBLOCKED error', async () => {
    const admin = s.client();
    const blocked = s.client();
    const bid = (await blocked.call('client', 'id')) as number;
    const waiting = blocked.blpop('unblock-list', 0);
    await waitFor(async () => /flags=b /.test((await admin.call('client', 'list', 'id', String(bid))) as string));
    assert.equal(await admin.call('client', 'unblock', String(bid)), 1);
    assert.equal(await waiting, null);
    assert.equal(await admin.call('client', 'unblock', String(bid)), 0);

    const waiting2 = blocked.blpop('unblock-list', 0).then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await waitFor(async () => /flags=b /.test((await admin.call('client', 'list', 'id', String(bid))) as string));
    assert.equal(await admin.call('client', 'unblock', String(bid), 'ERROR'), 1);
    assert.equal(await waiting2, 'UNBLOCKED client unblocked via CLIENT UNBLOCK');
    assert.equal(await blocked.ping(), 'PONG');
    assert.equal(await admin.call('client', 'unblock', '987654'), 0);
    await assert.rejects(admin.call('client', 'unblock', 'x'), /^ReplyError: ERR value is not an integer or out of range$/);
    await assert.rejects(admin.call('client', 'unblock', '1', 'never'), /^ReplyError: ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR$/);
  });

  it('CLIENT NO-EVICT sets the e flag', async () => {
    const c = s.client();
    assert.equal(await c.call('client', 'no-evict', 'on'), 'OK');
    assert.match((await c.call('client', 'info')) as string, / flags=e /);
    assert.equal(await c.call('client', 'no-evict', 'OFF'), 'OK');
    assert.match((await c.call('client', 'info')) as string, / flags=N /);
    await assert.rejects(c.call('client', 'no-evict', 'maybe'), /^ReplyError: ERR syntax error$/);
  });

  it('tracking introspection reports tracking off', async () => {
    const c = s.client();
    assert.equal(await c.call('client', 'getredir'), -1);
    assert.deepEqual(await c.call('client', 'trackinginfo'), ['flags', ['off'], 'redirect', -1, 'prefixes', []]);
    await assert.rejects(c.call('client', 'caching', 'yes'), /^ReplyError: ERR CLIENT CACHING can be called only when the client is in tracking mode/);
  });

  it('redis-cli sees the same CLIENT output', () => {
    const list = cli(s.port, 'client', 'list');
    const mine = list.trimEnd().split('\n').find((l) => l.includes('cmd=client|list'));
    assert.ok(mine && LINE.test(mine), list);
    assert.equal(cli(s.port, 'client', 'setname', 'cli'), 'OK\n');
    assert.match(cli(s.port, 'client', 'id'), /^\d+\n$/);
    assert.equal(cli(s.port, 'client', 'getname'), '\n');
    assert.equal(cli(s.port, 'client', 'kill', '9.9.9.9:1'), 'ERR No such client\n\n');
    assert.equal(cli(s.port, 'client', 'kill', 'id', '999999'), '0\n');
  });
});

/** Reports whether a command is implemented yet (other families land independently). */
async function implemented(port: number, name: string): Promise<boolean> {
  const r = await rawExchange(port, cmd(name, 'probe-arg'), (g) => g.endsWith('\r\n'));
  return !r.startsWith('-ERR unknown command');
}

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('client-output-buffer-limit while a reply is built', () => {
  after(stopAll);

  it('a reply growing past the hard limit stops mid-run and closes the client; others carry on', async () => {
    const n = await startServer();
    const c = n.client();
    await c.config('SET', 'client-output-buffer-limit', 'normal 1000000 0 0');
    await c.hset('myhash', 'a', 'b');
    await c.sadd('myset', 'm');
    for (const command of [cmd('HRANDFIELD', 'myhash', '-999999999'), cmd('SRANDMEMBER', 'myset', '-999999999')]) {
      // Closed long before a billion elements could be produced, and nothing of it sent.
      assert.equal(await rawExchange(n.port, command, () => false, 30000), '');
    }
    await n.waitForLog('scheduled to be closed ASAP for overcoming of output buffer limits');
    assert.equal(await c.ping(), 'PONG');
    assert.equal(await c.hget('myhash', 'a'), 'b');
  });
});
