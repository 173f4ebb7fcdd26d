/**
 * Side-by-side checks against the real redis-server: run the same pipelined commands on nodis
 * and on Redis 7.0.15 over raw sockets (RESP2, or RESP3 after HELLO 3) and return each reply's
 * exact bytes, so tests can compare reply types and contents byte for byte.
 */
import net from 'node:net';
import { startServer, type RunningServer } from './server.js';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Starts the reference redis-server on a free port, without persistence. */
export function startRedis(args: string[] = []): Promise<RunningServer> {
  return startServer({ bin: REDIS_SERVER, args });
}

/** Encodes a command as a RESP multibulk (arguments are latin1 strings = bytes). */
export function encodeCommand(argv: readonly string[]): string {
  let s = `*${argv.length}\r\n`;
  for (const a of argv) s += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
  return s;
}

/** End offset of the complete RESP reply starting at `pos`, or -1 if more bytes are needed. */
export function replyEnd(buf: string, pos: number): number {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return -1;
  const type = buf[pos];
  const header = buf.slice(pos + 1, eol);
  let next = eol + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
    case '_':
    case ',':
    case '#':
    case '(':
      return next;
    case '$':
    case '=':
    case '!': {
      const n = Number(header);
      if (n < 0) return next;
      return buf.length >= next + n + 2 ? next + n + 2 : -1;
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      let n = Number(header);
      if (n < 0) return next;
      if (type === '%' || type === '|') n *= 2;
      for (let i = 0; i < n; i++) {
        next = replyEnd(buf, next);
        if (next < 0) return -1;
      }
      return next;
    }
    default:
      throw new Error(`bad RESP type ${JSON.stringify(type)} in ${JSON.stringify(buf.slice(pos, pos + 40))}`);
  }
}

/** Runs commands pipelined on a fresh connection; returns each reply's raw RESP text. */
export function runRaw(port: number, commands: readonly (readonly string[])[], proto: 2 | 3 = 2, timeoutMs = 10000): Promise<string[]> {
  const all = proto === 3 ? [['HELLO', '3'], ...commands] : commands;
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let pos = 0;
    const replies: string[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`timed out after ${replies.length} replies; pending ${JSON.stringify(got.slice(pos, pos + 200))}`));
    }, timeoutMs);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      for (;;) {
        const end = replyEnd(got, pos);
        if (end < 0) break;
        replies.push(got.slice(pos, end));
        pos = end;
      }
      if (replies.length >= all.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(proto === 3 ? replies.slice(1) : replies);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.write(Buffer.from(all.map(encodeCommand).join(''), 'latin1'));
  });
}

/**
 * Runs a script on both servers and returns the first difference as readable text (or null).
 * Keys in the script are written `@name`; each run gets its own prefix so scripts don't collide.
 */
export async function diffAgainstRedis(
  nodisPort: number,
  redisPort: number,
  prefix: string,
  script: readonly (readonly string[])[],
  proto: 2 | 3,
): Promise<string | null> {
  const commands = script.map((argv) => argv.map((a) => (a.startsWith('@') ? `${prefix}:${a.slice(1)}` : a)));
  const [mine, theirs] = await Promise.all([runRaw(nodisPort, commands, proto), runRaw(redisPort, commands, proto)]);
  for (let i = 0; i < commands.length; i++) {
    if (mine[i] !== theirs[i]) {
      const show = (r: string | undefined): string => JSON.stringify(r && r.length > 400 ? `${r.slice(0, 400)}…` : r);
      return `RESP${proto} ${JSON.stringify(commands[i]).slice(0, 300)}\n  nodis: ${show(mine[i])}\n  redis: ${show(theirs[i])}`;
    }
  }
  return null;
}

/**
 * Runs a script on a server started with `--notify-keyspace-events KEA` and returns the keyevent
 * notifications it produced, as "event key" lines, in order. Returns null when the server has
 * no PSUBSCRIBE (pub/sub not available).
 */
export async function keyEventsOf(port: number, prefix: string, script: readonly (readonly string[])[]): Promise<string[] | null> {
  const { Redis } = await import('ioredis');
  const sub = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null });
  sub.on('error', () => {});
  try {
    const events: string[] = [];
    const endKey = `${prefix}:end-of-script`;
    let finished: () => void = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    sub.on('pmessageBuffer', (_pattern: Buffer, channel: Buffer, message: Buffer) => {
      const event = channel.toString('latin1').replace(/^__keyevent@\d+__:/, '');
      const key = message.toString('latin1');
      if (key === endKey) finished();
      else events.push(`${event} ${key}`);
    });
    try {
      await sub.psubscribe('__keyevent@0__:*');
    } catch {
      return null;
    }
    const commands = script.map((argv) => argv.map((a) => (a.startsWith('@') ? `${prefix}:${a.slice(1)}` : a)));
    await runRaw(port, [...commands, ['SET', endKey, '1']]);
    await done;
    return events;
  } finally {
    sub.disconnect();
  }
}
