/**
 * CLIENT TRACKING (server-assisted client-side caching), side by side with Debian's
 * redis-server 7.0.15: every scenario runs in lockstep on both servers over raw sockets, and
 * each connection's complete byte stream — replies, RESP3 `invalidate` pushes, RESP2
 * `__redis__:invalidate` messages, `tracking-redir-broken` — must be identical. Connections are
 * opened so that their client ids are equal on both servers (REDIRECT ids, GETREDIR and
 * TRACKINGINFO then compare as bytes too). A last part drives node-redis v5's client-side cache
 * against both servers.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createClient } from 'redis';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { encodeCommand, replyEnd, REDIS_SERVER } from './helpers/redis-compare.js';

/** Frames a client did not ask for: RESP3 pushes and RESP2 pub/sub messages. */
function isPush(frame: string): boolean {
  return frame.startsWith('>') || frame.startsWith('*3\r\n$7\r\nmessage\r\n') || frame.startsWith('*4\r\n$8\r\npmessage\r\n');
}

/** A raw connection that splits what it receives into RESP frames. */
class Conn {
  private readonly sock: net.Socket;
  private buf = '';
  /** Every frame received, with whether it counts in the transcript. */
  readonly frames: { text: string; recorded: boolean }[] = [];
  private readonly waiters: (() => void)[] = [];
  private replies = 0;
  private asked = 0;
  closed = false;

  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      for (;;) {
        const end = replyEnd(this.buf, 0);
        if (end < 0) break;
        const text = this.buf.slice(0, end);
        this.buf = this.buf.slice(end);
        this.frames.push({ text, recorded: true });
        if (!isPush(text)) this.replies++;
      }
      this.wake();
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.sock.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `pred` holds. */
  until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; frames ${JSON.stringify(this.frames.map((f) => f.text))}`)), ms);
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          reject(new Error(`connection closed waiting for ${what}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Sends commands (pipelined) and resolves with their replies once all arrived. */
  async send(commands: readonly (readonly string[])[], record = true): Promise<string[]> {
    const first = this.asked;
    this.asked += commands.length;
    this.sock.write(Buffer.from(commands.map(encodeCommand).join(''), 'latin1'));
    const target = this.asked;
    await this.until(() => this.replies >= target, `${commands.length} replies to ${JSON.stringify(commands)}`);
    const out: string[] = [];
    let n = 0;
    for (const f of this.frames) {
      if (isPush(f.text)) continue;
      if (n >= first && n < target) {
        out.push(f.text);
        if (!record) f.recorded = false;
      }
      n++;
    }
    return out;
  }

  pushes(): number {
    return this.frames.filter((f) => isPush(f.text)).length;
  }

  transcript(): string {
    return this.frames
      .filter((f) => f.recorded)
      .map((f) => f.text)
      .join('');
  }

  /** Drops what was received so far from the transcript. */
  forget(): void {
    for (const f of this.frames) f.recorded = false;
  }

  /** Sends a command that gets no reply (while CLIENT REPLY is OFF). */
  write(argv: readonly string[]): void {
    this.sock.write(Buffer.from(encodeCommand(argv), 'latin1'));
  }

  /** QUIT, waiting for the server to close the connection. */
  async quit(): Promise<void> {
    await this.send([['QUIT']]);
    await this.until(() => this.closed, 'close after QUIT');
  }

  close(): void {
    this.sock.destroy();
  }
}

const show = (s: string): string => JSON.stringify(s).replace(/\\r\\n/g, '|');

/**
 * One scenario run on nodis and redis-server in lockstep. `cmd` returns nodis's reply after
 * checking redis-server answered the same bytes; `finish` compares every connection's whole
 * byte stream.
 */
class Pair {
  private readonly open_ = new Map<string, [Conn, Conn]>();
  readonly ids = new Map<string, number>();

  constructor(
    readonly nodis: RunningServer,
    readonly redis: RunningServer,
  ) {}

  /** Opens `name` on both servers with the same client id, in RESP2 or RESP3. */
  async open(name: string, resp: 2 | 3 = 2): Promise<number> {
    const ports = [this.nodis.port, this.redis.port];
    const conns: Conn[] = [];
    const ids: number[] = [];
    for (const port of ports) {
      const c = new Conn(port);
      conns.push(c);
      ids.push(await this.idOf(c));
    }
    // Client ids only grow: reopen on the server that is behind until both agree.
    for (let tries = 0; ids[0] !== ids[1]; tries++) {
      assert.ok(tries < 2000, 'could not align client ids');
      const behind = ids[0]! < ids[1]! ? 0 : 1;
      conns[behind]!.close();
      conns[behind] = new Conn(ports[behind]!);
      ids[behind] = await this.idOf(conns[behind]!);
    }
    for (const c of conns) {
      if (resp === 3) await c.send([['HELLO', '3']]);
      c.forget();
    }
    this.open_.set(name, [conns[0]!, conns[1]!]);
    this.ids.set(name, ids[0]!);
    return ids[0]!;
  }

  private async idOf(c: Conn): Promise<number> {
    const [r] = await c.send([['CLIENT', 'ID']]);
    return Number(r!.slice(1, -2));
  }

  id(name: string): string {
    return String(this.ids.get(name)!);
  }

  /** The connection `name` on nodis and on redis-server. */
  conns(name: string): [Conn, Conn] {
    const p = this.open_.get(name);
    assert.ok(p, `no connection ${name}`);
    return p;
  }

  /** Runs one command on `name` on both servers; the replies must be the same bytes. */
  async cmd(name: string, ...argv: string[]): Promise<string> {
    const [mine] = await this.pipeline(name, [argv]);
    return mine[0]!;
  }

  /** Several commands sent at once. */
  async pipeline(name: string, commands: string[][], record = true): Promise<[string[], string[]]> {
    const [n, r] = this.conns(name);
    const [mine, theirs] = await Promise.all([n.send(commands, record), r.send(commands, record)]);
    if (record) assert.deepEqual(mine.map(show), theirs.map(show), `replies on ${name} to ${JSON.stringify(commands)}`);
    return [mine, theirs];
  }

  /** A command whose reply differs by nature (CLIENT LIST, INFO): returned, not compared. */
  async query(name: string, ...argv: string[]): Promise<[string, string]> {
    const [mine, theirs] = await this.pipeline(name, [argv], false);
    return [mine[0]!, theirs[0]!];
  }

  /** Waits until `name` received `count` pushes on both servers. */
  async pushes(name: string, count: number): Promise<void> {
    for (const c of this.conns(name)) await c.until(() => c.pushes() >= count, `${count} pushes on ${name}`);
  }

  /** Waits until INFO (asked on `name`) shows `count` blocked clients on both servers. */
  async blockedClients(name: string, count: number): Promise<void> {
    for (let i = 0; ; i++) {
      const [n, r] = await this.query(name, 'INFO', 'clients');
      if (infoField(n, 'blocked_clients') === String(count) && infoField(r, 'blocked_clients') === String(count)) return;
      assert.ok(i < 500, 'clients never blocked');
      await new Promise((res) => setTimeout(res, 5));
    }
  }

  async quit(name: string): Promise<void> {
    const [n, r] = this.conns(name);
    await Promise.all([n.quit(), r.quit()]);
  }

  /** PINGs every open connection, then compares each one's byte stream. */
  async finish(): Promise<void> {
    for (const [name, [n, r]] of this.open_) {
      if (!n.closed || !r.closed) await Promise.all([n.send([['PING']]), r.send([['PING']])]);
      assert.equal(show(n.transcript()), show(r.transcript()), `byte stream of connection ${name}`);
    }
    for (const [n, r] of this.open_.values()) {
      n.close();
      r.close();
    }
  }
}

/** `flags=` and `redir=` of a CLIENT INFO line. */
function trackingFields(line: string): string {
  return `${/ flags=(\S+)/.exec(line)![1]} ${/ redir=(\S+)/.exec(line)![1]}`;
}

/** A field of INFO's text. */
function infoField(info: string, name: string): string {
  return new RegExp(`\r\n${name}:(\\S*)\r\n`).exec(info)![1]!;
}


describe('CLIENT TRACKING against redis-server 7.0.15, byte for byte', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  let p: Pair;

  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startServer({ bin: REDIS_SERVER })]);
  });
  after(stopAll);

  const fresh = async (): Promise<Pair> => {
    p = new Pair(nodis, redis);
    await p.open('admin');
    await p.cmd('admin', 'FLUSHALL');
    await p.cmd('admin', 'CONFIG', 'SET', 'tracking-table-max-keys', '1000000');
    return p;
  };

  it('RESP3 default mode: reads are remembered, writes by anyone invalidate once', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('w');
    await p.cmd('w', 'MSET', 'k1', '1', 'k2', '2', 'k3', '3');
    await p.cmd('w', 'HSET', 'h', 'f', '1');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('a', 'GET', 'k1');
    await p.cmd('a', 'MGET', 'k2', 'k3', 'missing');
    await p.cmd('a', 'HGET', 'h', 'f');
    await p.cmd('a', 'STRLEN', 'k1');
    await p.cmd('w', 'SET', 'k1', 'x'); // invalidates k1 (read twice, one message)
    await p.cmd('w', 'SET', 'k1', 'y'); // not read since: nothing
    await p.cmd('w', 'DEL', 'k2', 'k3');
    await p.cmd('w', 'SET', 'missing', '1'); // a read it while it did not exist
    await p.cmd('w', 'INCR', 'never-read');
    // The client's own write: the invalidation follows its reply.
    await p.cmd('a', 'HDEL', 'h', 'f');
    await p.cmd('a', 'GET', 'k1');
    await p.cmd('a', 'APPEND', 'k1', 'z');
    // A read-only command that fails (WRONGTYPE) still registers its key, as in Redis.
    await p.cmd('w', 'LPUSH', 'list', 'a');
    await p.cmd('a', 'GET', 'list');
    await p.cmd('w', 'LPUSH', 'list', 'b');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('a', 'CLIENT', 'GETREDIR');
    await p.cmd('a', 'GET', 'k1');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'off');
    await p.cmd('w', 'SET', 'k1', 'after-off');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('a', 'CLIENT', 'GETREDIR');
    await p.finish();
  });

  it('RESP2 with REDIRECT to a subscribed client, RESP3 targets and broken redirects', async () => {
    await fresh();
    const rid = await p.open('r');
    await p.cmd('r', 'SUBSCRIBE', '__redis__:invalidate');
    await p.open('a');
    await p.open('b');
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', String(rid));
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', String(rid));
    await p.cmd('a', 'CLIENT', 'GETREDIR');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('a', 'MGET', 'x', 'y');
    await p.cmd('b', 'GET', 'x');
    // Both clients read x: two messages on the one target, in Redis's order.
    await p.cmd('w', 'SET', 'x', '1');
    await p.cmd('a', 'SET', 'y', 'own');
    await p.cmd('w', 'FLUSHALL');
    // RESP3 redirect target.
    const tid = await p.open('t', 3);
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', String(tid));
    await p.cmd('a', 'GET', 'z');
    await p.cmd('w', 'SET', 'z', '1');
    await p.cmd('w', 'FLUSHDB');
    // A RESP2 target that is not subscribed receives nothing.
    const nid = await p.open('n');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', String(nid));
    await p.cmd('b', 'GET', 'q');
    await p.cmd('w', 'SET', 'q', '1');
    // The target goes away: RESP2 clients just lose the messages, RESP3 ones are told.
    const c3 = await p.open('c3', 3);
    void c3;
    await p.cmd('c3', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', String(nid));
    await p.cmd('c3', 'GET', 'q');
    await p.cmd('b', 'GET', 'q');
    await p.quit('n');
    await p.cmd('w', 'SET', 'q', '2');
    await p.cmd('b', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('c3', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('c3', 'GET', 'q');
    await p.cmd('w', 'FLUSHALL');
    const [nInfo, rInfo] = await p.query('c3', 'CLIENT', 'INFO');
    assert.equal(trackingFields(nInfo), trackingFields(rInfo));
    assert.equal(trackingFields(nInfo), `tR ${nid}`);
    await p.finish();
  });

  it('BCAST with prefixes: one batched message per prefix per event-loop turn', async () => {
    await fresh();
    await p.open('b', 3);
    await p.open('e', 3);
    const rid = await p.open('r');
    await p.cmd('r', 'SUBSCRIBE', '__redis__:invalidate');
    await p.open('w');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'user:', 'PREFIX', 'order:');
    await p.cmd('e', 'CLIENT', 'TRACKING', 'on', 'BCAST');
    await p.cmd('b', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('e', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('w', 'MSET', 'user:2', 'a', 'order:9', 'b', 'other', 'c', 'user:1', 'd');
    await p.pipeline('w', [['MULTI'], ['SET', 'user:3', '1'], ['INCR', 'order:1'], ['DEL', 'user:2'], ['SET', 'x', '1'], ['EXEC']]);
    await p.pipeline('w', [['SET', 'order:a', '1'], ['SET', 'order:b', '2'], ['SET', 'user:z', '3']]);
    // Adding a prefix keeps the old ones.
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'cart:');
    await p.cmd('b', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('w', 'SET', 'cart:1', '1');
    // Overlaps with registered prefixes are refused.
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'us');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'cart:big');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'user:');
    // BCAST redirected to a RESP2 subscriber.
    await p.open('c');
    await p.cmd('c', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'REDIRECT', String(rid), 'PREFIX', 'user:');
    await p.cmd('w', 'SET', 'user:9', '1');
    const [nInfo, rInfo] = await p.query('b', 'CLIENT', 'INFO');
    assert.equal(trackingFields(nInfo), trackingFields(rInfo));
    assert.equal(trackingFields(nInfo), 'tB 0');
    // Keys are not remembered in BCAST mode; FLUSHALL still reaches every tracking client.
    await p.cmd('b', 'GET', 'nope');
    await p.cmd('w', 'FLUSHALL');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'off');
    await p.cmd('b', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('w', 'SET', 'user:1', '1');
    await p.finish();
  });

  it('switching from default to BCAST drops pre-BCAST keys', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('a', 'GET', 'k');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'off');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'z');
    await p.cmd('w', 'SET', 'k', '1');
    await p.cmd('w', 'SET', 'zz', '1');
    await p.finish();
  });

  it('OPTIN and OPTOUT with CLIENT CACHING, which lasts one command or one transaction', async () => {
    await fresh();
    await p.open('i', 3);
    await p.open('o', 3);
    await p.open('w');
    await p.cmd('i', 'CLIENT', 'TRACKING', 'on', 'OPTIN');
    await p.cmd('i', 'GET', 'k1'); // not tracked
    await p.cmd('i', 'CLIENT', 'CACHING', 'yes');
    await p.cmd('i', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('i', 'GET', 'k2'); // tracked
    await p.cmd('i', 'GET', 'k3'); // not: CACHING lapsed
    await p.cmd('i', 'CLIENT', 'CACHING', 'yes');
    await p.cmd('i', 'CLIENT', 'ID'); // CLIENT commands keep it
    await p.cmd('i', 'GET', 'k4'); // tracked
    await p.cmd('i', 'CLIENT', 'CACHING', 'yes');
    await p.cmd('i', 'PING'); // any other command ends it
    await p.cmd('i', 'GET', 'k5');
    await p.cmd('i', 'CLIENT', 'CACHING', 'yes');
    await p.pipeline('i', [['MULTI'], ['GET', 'k6'], ['GET', 'k7'], ['EXEC']]); // both tracked
    await p.cmd('i', 'GET', 'k8'); // not
    await p.cmd('i', 'CLIENT', 'CACHING', 'yes');
    await p.cmd('i', 'NOSUCHCOMMAND'); // even a rejected command ends it
    await p.cmd('i', 'GET', 'k9');
    await p.cmd('i', 'CLIENT', 'CACHING', 'no');
    await p.cmd('i', 'CLIENT', 'CACHING', 'maybe');
    await p.cmd('o', 'CLIENT', 'TRACKING', 'on', 'OPTOUT');
    await p.cmd('o', 'GET', 'k1'); // tracked
    await p.cmd('o', 'CLIENT', 'CACHING', 'no');
    await p.cmd('o', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('o', 'GET', 'k2'); // not tracked
    await p.cmd('o', 'GET', 'k3'); // tracked
    await p.cmd('o', 'CLIENT', 'CACHING', 'yes');
    await p.cmd('o', 'CLIENT', 'TRACKING', 'on', 'OPTIN');
    for (let i = 1; i <= 9; i++) await p.cmd('w', 'SET', `k${i}`, 'v');
    await p.finish();
  });

  it('NOLOOP skips changes made by the client itself, in default and BCAST mode', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('b', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'NOLOOP');
    await p.cmd('a', 'MGET', 'mine', 'theirs');
    await p.cmd('a', 'SET', 'mine', '1');
    await p.cmd('w', 'SET', 'theirs', '1');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'NOLOOP');
    await p.cmd('b', 'SET', 'own', '1');
    await p.cmd('w', 'SET', 'foreign', '1');
    // Mixed in one turn: only the keys b did not write last.
    await p.pipeline('w', [['MULTI'], ['SET', 'k1', '1'], ['SET', 'k2', '1'], ['EXEC']]);
    await p.pipeline('b', [['MULTI'], ['SET', 'k3', '1'], ['SET', 'k4', '1'], ['EXEC']]);
    // A script's writes are the Lua client's: BCAST NOLOOP does not filter them…
    await p.cmd('b', 'EVAL', "return redis.call('set', KEYS[1], 'x')", '1', 'scripted');
    // …while default-mode NOLOOP compares with the caller.
    await p.cmd('a', 'GET', 'scripted');
    await p.cmd('a', 'EVAL', "return redis.call('set', KEYS[1], 'y')", '1', 'scripted');
    await p.cmd('w', 'SET', 'scripted', 'z');
    await p.finish();
  });

  it('invalidations inside MULTI/EXEC and scripts come after the reply', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('a', 'MSET', 'a', '1', 'b', '2');
    await p.cmd('a', 'MGET', 'a', 'b');
    await p.pipeline('a', [['MULTI'], ['INCR', 'a'], ['GET', 'b'], ['SET', 'b', '3'], ['EXEC']]);
    await p.cmd('a', 'GET', 'a');
    await p.pipeline('a', [['MULTI'], ['FLUSHDB'], ['EXEC']]);
    // Reads inside EXEC are tracked.
    await p.pipeline('a', [['MULTI'], ['GET', 'm1'], ['EXISTS', 'm2'], ['EXEC']]);
    await p.cmd('w', 'MSET', 'm1', '1', 'm2', '2');
    // A script that reads makes the caller track the keys it declared; EVAL_RO alone does not.
    await p.cmd('a', 'EVAL', "return redis.call('set', 'other', 'bar')", '2', 's1', 's2');
    await p.cmd('w', 'MSET', 's1', '1', 's2', '1');
    await p.cmd('a', 'EVAL', "return redis.call('get', 'other')", '2', 's1', 's2');
    await p.cmd('w', 'MSET', 's2', '2', 's1', '2');
    await p.cmd('a', 'EVAL_RO', "return redis.call('ping')", '1', 's1');
    await p.cmd('w', 'SET', 's1', '3');
    await p.cmd('a', 'EVAL_RO', "return redis.call('get', KEYS[1])", '1', 's1');
    await p.cmd('w', 'SET', 's1', '4');
    // A script writing a key its caller tracks: the invalidation follows the script's reply.
    await p.cmd('a', 'GET', 'own');
    await p.cmd('a', 'EVAL', "redis.call('set', KEYS[1], '1') return redis.call('get', KEYS[1])", '1', 'own');
    await p.finish();
  });

  it('FLUSHALL and FLUSHDB send one null invalidation and empty the table', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('b');
    const rid = await p.open('r');
    await p.cmd('r', 'SUBSCRIBE', '__redis__:invalidate');
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', String(rid));
    await p.cmd('a', 'GET', 'k');
    await p.cmd('b', 'GET', 'k');
    const [before] = await p.query('w', 'INFO', 'stats');
    assert.equal(infoField(before, 'tracking_total_keys'), '1');
    assert.equal(infoField(before, 'tracking_total_items'), '2');
    await p.cmd('w', 'FLUSHALL');
    const [afterFlush, redisAfter] = await p.query('w', 'INFO', 'stats');
    assert.equal(infoField(afterFlush, 'tracking_total_keys'), infoField(redisAfter, 'tracking_total_keys'));
    assert.equal(infoField(afterFlush, 'tracking_total_keys'), '0');
    await p.cmd('w', 'SET', 'k', '1'); // nothing: the table was emptied
    await p.cmd('w', 'SELECT', '3');
    await p.cmd('w', 'FLUSHDB', 'ASYNC'); // any database: tracking is not per database
    await p.cmd('a', 'FLUSHALL'); // the flusher itself: after its reply
    await p.pipeline('w', [['MULTI'], ['FLUSHDB'], ['FLUSHALL'], ['EXEC']]);
    await p.finish();
  });

  it('expired keys are invalidated (active and lazy expiry), also to BCAST NOLOOP writers', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('b', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('w', 'SET', 'e1', 'v', 'PX', '200');
    await p.cmd('a', 'GET', 'e1');
    await p.pushes('a', 1); // the active expiry cycle deletes it
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'NOLOOP');
    await p.cmd('b', 'SET', 'e2', 'v', 'PX', '30');
    await p.cmd('b', 'SET', 'e3', 'v'); // b's own write: never sent to b
    await p.pushes('b', 1); // e2's expiry is not b's write
    // Lazy expiry inside a transaction of the NOLOOP client itself.
    await p.cmd('w', 'DEBUG', 'SET-ACTIVE-EXPIRE', '0');
    await p.cmd('a', 'SET', 'e4', 'v', 'PX', '100');
    await p.cmd('a', 'GET', 'e4');
    await p.cmd('w', 'DEBUG', 'SLEEP', '0.15');
    await p.cmd('a', 'MGET', 'e4', 'e3');
    await p.cmd('w', 'DEBUG', 'SET-ACTIVE-EXPIRE', '1');
    await p.finish();
  });

  it('CLIENT TRACKING, CACHING errors and argument parsing', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('x');
    const bad: string[][] = [
      ['CLIENT', 'TRACKING'],
      ['CLIENT', 'TRACKING', 'maybe'],
      ['CLIENT', 'TRACKING', 'on', 'NOSUCHOPTION'],
      ['CLIENT', 'TRACKING', 'on', 'REDIRECT'],
      ['CLIENT', 'TRACKING', 'on', 'PREFIX'],
      ['CLIENT', 'TRACKING', 'on', 'REDIRECT', 'abc'],
      ['CLIENT', 'TRACKING', 'on', 'REDIRECT', '0'],
      ['CLIENT', 'TRACKING', 'on', 'REDIRECT', '-5'],
      ['CLIENT', 'TRACKING', 'on', 'REDIRECT', '99999'],
      ['CLIENT', 'TRACKING', 'on', 'REDIRECT', p.id('x'), 'REDIRECT', p.id('x')],
      ['CLIENT', 'TRACKING', 'off', 'REDIRECT', '99999'],
      ['CLIENT', 'TRACKING', 'on', 'PREFIX', 'a'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'OPTIN'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'OPTOUT'],
      ['CLIENT', 'TRACKING', 'on', 'OPTIN', 'OPTOUT'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'FOOBAR', 'PREFIX', 'FOO'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'FOO', 'PREFIX', 'FOOBAR'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'same', 'PREFIX', 'same'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'a\r\nb', 'PREFIX', 'a'],
      ['CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', '', 'PREFIX', 'a'],
      ['CLIENT', 'CACHING', 'yes'],
      ['CLIENT', 'CACHING', 'no'],
      ['CLIENT', 'CACHING'],
      ['CLIENT', 'CACHING', 'yes', 'no'],
      ['CLIENT', 'GETREDIR', 'x'],
      ['CLIENT', 'TRACKINGINFO', 'x'],
    ];
    for (const argv of bad) await p.cmd('a', ...argv);
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', p.id('x'), 'noloop', 'Optin');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'OPTOUT');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST');
    await p.cmd('a', 'CLIENT', 'CACHING', 'yes');
    await p.cmd('a', 'CLIENT', 'CACHING', 'no');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'OFF');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'off');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'FOO', 'PREFIX', 'BAR');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'FO');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'BARB');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'BAZ', 'PREFIX', 'FOOD');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'BCAST');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    // RESET turns tracking off.
    await p.cmd('a', 'RESET');
    await p.cmd('a', 'CLIENT', 'TRACKINGINFO');
    await p.finish();
  });

  it('CLIENT LIST flags, INFO counters and a client blocked in BLMOVE', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('b', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on', 'REDIRECT', p.id('w'));
    await p.cmd('b', 'CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'p1', 'PREFIX', 'p2');
    await p.cmd('a', 'MGET', 'i1', 'i2', 'i3');
    const [list, redisList] = await p.query('w', 'CLIENT', 'LIST');
    // Only this scenario's connections (closed ones may linger for a moment).
    const mineIds = new Set([...p.ids.values()].map(String));
    const fields = (text: string): string[] =>
      text
        .split('\n')
        .filter((l) => mineIds.has(/^id=(\d+)/.exec(l)?.[1] ?? ''))
        .map((l) => `${/^id=(\d+)/.exec(l)![1]} ${trackingFields(l)}`)
        .sort();
    assert.deepEqual(fields(list), fields(redisList));
    assert.ok(fields(list).includes(`${p.id('a')} t ${p.id('w')}`));
    assert.ok(fields(list).includes(`${p.id('b')} tB 0`));
    assert.ok(fields(list).includes(`${p.id('w')} N -1`));
    const [info, redisInfo] = await p.query('w', 'INFO');
    for (const name of ['tracking_clients', 'tracking_total_keys', 'tracking_total_items', 'tracking_total_prefixes']) {
      assert.equal(infoField(info, name), infoField(redisInfo, name), name);
    }
    assert.equal(infoField(info, 'tracking_clients'), '2');
    assert.equal(infoField(info, 'tracking_total_prefixes'), '2');
    // A blocked client served by another's push gets its invalidation after its reply.
    await p.open('c', 3);
    await p.cmd('c', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('w', 'RPUSH', 'dst', 'a');
    await p.cmd('c', 'LRANGE', 'dst', '0', '-1');
    const [cn, cr] = p.conns('c');
    const blmove = ['BLMOVE', 'src', 'dst', 'LEFT', 'LEFT', '0'];
    const served = Promise.all([cn.send([blmove]), cr.send([blmove])]);
    await p.blockedClients('w', 1);
    await p.cmd('w', 'RPUSH', 'src', 'foo');
    await served;
    await p.finish();
  });

  it('CLIENT REPLY OFF does not silence invalidation pushes', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    await p.cmd('a', 'GET', 'k');
    await p.cmd('a', 'GET', 'j');
    const [an, ar] = p.conns('a');
    for (const c of [an, ar]) c.write(['CLIENT', 'REPLY', 'OFF']);
    await p.cmd('w', 'SET', 'k', '1');
    // Its own write's invalidation is held past its (silenced) reply, not dropped with it.
    for (const c of [an, ar]) c.write(['SET', 'j', 'own']);
    await p.pushes('a', 2);
    await p.cmd('a', 'CLIENT', 'REPLY', 'ON');
    await p.finish();
  });

  it('tracking-table-max-keys evicts keys with invalidations, growing its effort', async () => {
    await fresh();
    await p.open('a', 3);
    await p.open('w');
    await p.cmd('a', 'CLIENT', 'TRACKING', 'on');
    for (let i = 0; i < 250; i++) await p.cmd('a', 'GET', `key${i}`);
    await p.cmd('w', 'CONFIG', 'SET', 'tracking-table-max-keys', '1');
    // The limit applies at the next command or cron run: 100 keys, then 200 more effort.
    await p.pushes('a', 249);
    const [info, redisInfo] = await p.query('w', 'INFO', 'stats');
    assert.equal(infoField(info, 'tracking_total_keys'), '1');
    assert.equal(infoField(redisInfo, 'tracking_total_keys'), '1');
    // Which keys went is random: compare counts, not bytes.
    const [an, ar] = p.conns('a');
    assert.equal(an.pushes(), ar.pushes());
    assert.equal(an.pushes(), 249);
    for (const c of [an, ar]) c.forget();
    await p.cmd('w', 'CONFIG', 'SET', 'tracking-table-max-keys', '1000000');
    await p.finish();
  });
});

describe('node-redis v5 client-side cache', () => {
  let nodis: RunningServer;
  let redis: RunningServer;

  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startServer({ bin: REDIS_SERVER })]);
  });
  after(stopAll);

  /** Reads through the cache while another client writes; returns what the app observed. */
  async function observe(port: number): Promise<string[]> {
    const url = `redis://127.0.0.1:${port}`;
    const cached = createClient({ url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 0 } });
    const writer = createClient({ url });
    await Promise.all([cached.connect(), writer.connect()]);
    const log: string[] = [];
    const csc = cached.clientSideCache!;
    const note = (what: string, v: unknown): void => {
      const s = csc.stats();
      log.push(`${what}=${JSON.stringify(v)} hits=${s.hitCount} misses=${s.missCount} size=${csc.size()}`);
    };
    /** Waits (on the cache's own invalidation) until the entry count drops to `n`. */
    const cacheSizeIs = async (n: number): Promise<void> => {
      for (let i = 0; csc.size() !== n; i++) {
        assert.ok(i < 500, `cache never reached ${n} entries`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    try {
      await writer.set('csc:a', '1');
      await writer.hSet('csc:h', 'f', 'x');
      note('get', await cached.get('csc:a'));
      note('get', await cached.get('csc:a'));
      note('hget', await cached.hGet('csc:h', 'f'));
      note('hget', await cached.hGet('csc:h', 'f'));
      await writer.set('csc:a', '2');
      await cacheSizeIs(1);
      note('get', await cached.get('csc:a'));
      note('get', await cached.get('csc:a'));
      await writer.flushAll();
      await cacheSizeIs(0);
      note('get', await cached.get('csc:a'));
      note('hget', await cached.hGet('csc:h', 'f'));
      await cached.set('csc:a', 'own');
      await cacheSizeIs(1);
      note('get', await cached.get('csc:a'));
      const info = await writer.info('stats');
      log.push(`keys=${/tracking_total_keys:(\d+)/.exec(info)![1]} items=${/tracking_total_items:(\d+)/.exec(info)![1]}`);
    } finally {
      await Promise.all([cached.quit(), writer.quit()]);
    }
    return log;
  }

  it('sees invalidations identically on nodis and redis-server', async () => {
    const [mine, theirs] = await Promise.all([observe(nodis.port), observe(redis.port)]);
    assert.deepEqual(mine, theirs);
    // The cache really served hits and was really invalidated.
    assert.match(mine[1]!, /^get="1" hits=1 misses=1 size=1$/);
    assert.match(mine[4]!, /^get="2" hits=2 misses=3 size=2$/);
    assert.match(mine[6]!, /^get=null hits=3 misses=4 size=1$/);
  });
});
