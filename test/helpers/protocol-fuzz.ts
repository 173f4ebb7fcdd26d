/**
 * Differential protocol fuzzer: the same bytes to nodis and to redis-server 7.0.15, each input on
 * a fresh connection, and the two servers' complete answers compared — the reply bytes and
 * whether the server closed the connection.
 *
 * Inputs come in four classes, each generated from (seed, index) alone so any one failure can be
 * replayed by its seed and index:
 *  - `edge`:     the malformed classes worth checking every run (NUL in inline and length lines,
 *                \v and \f in inline tokens, "-0" and long-long bounds as lengths, leading zeros,
 *                quotes, bare CR/LF, unknown type bytes), combined with a random valid command;
 *  - `bytes`:    random bytes, biased towards protocol characters;
 *  - `mutated`:  a valid RESP or inline pipeline with bytes flipped, inserted, deleted or cut;
 *  - `args`:     a known command with random arguments (numbers, bounds, flags, binary), in
 *                multibulk or inline form.
 *
 * Every input is followed by the same end marker (an ECHO), so a server that parsed everything
 * answers it; one still waiting for bytes (as Redis does after a NUL in a line) stays silent and
 * the run ends after a short idle time, which both servers must then share. Keys are unique per
 * input, so inputs run concurrently without touching each other's data; inputs naming commands
 * that change server state outside their own keys are replaced by a PING.
 */
import net from 'node:net';
import { Random } from '../../src/core/clock.js';
import { encodeCommand } from './redis-compare.js';

export type FuzzClass = 'edge' | 'bytes' | 'mutated' | 'args';
export const FUZZ_CLASSES: readonly FuzzClass[] = ['edge', 'bytes', 'mutated', 'args'];

export interface FuzzInput {
  index: number;
  cls: FuzzClass;
  bytes: Buffer;
}

export interface Outcome {
  reply: string;
  closed: boolean;
}

export interface Mismatch {
  seed: number;
  index: number;
  cls: FuzzClass;
  input: string;
  nodis: Outcome;
  redis: Outcome;
}

const MARKER_REPLY = '$12\r\n__fuzz_end__\r\n';
const MARKER = encodeCommand(['ECHO', '__fuzz_end__']);

/** Words whose commands change state beyond the input's own keys, or block, or end the server. */
const UNSAFE = /shutdown|debug|flush|config|monitor|subscribe|client|replicaof|slaveof|sync|save|multi|hello|auth|select|swapdb|move|wait|bl|brpop|bzpop|bzm|xread|migrate|script|function|eval|fcall|acl|failover|cluster|reset|lastsave|module|latency|slowlog|memory|object|pfdebug|pfselftest|quit|keys|scan|randomkey|dbsize|info|time|lpos|srandmember|spop|zrandmember|hrandfield|role|command|restore|dump|sort|readonly|readwrite|asking|psync|replconf|lolwut|bitfield_ro|touch|lru|lfu|idle|punsub|unsub|watch|exec|discard|expire|ttl|persist|copy|rename/i;

/** Commands the `args` class calls (deterministic, key-local: no XADD, whose `*` ids follow the clock). */
const COMMANDS: readonly (readonly [string, number])[] = [
  ['GET', 1], ['SET', 2], ['SETNX', 2], ['SETRANGE', 3], ['GETRANGE', 3], ['APPEND', 2], ['STRLEN', 1],
  ['INCR', 1], ['INCRBY', 2], ['DECRBY', 2], ['INCRBYFLOAT', 2], ['MSET', 4], ['MGET', 2], ['GETDEL', 1],
  ['LPUSH', 2], ['RPUSH', 3], ['LRANGE', 3], ['LINDEX', 2], ['LSET', 3], ['LTRIM', 3], ['LINSERT', 4], ['LREM', 3],
  ['HSET', 3], ['HGET', 2], ['HINCRBY', 3], ['HINCRBYFLOAT', 3], ['HMGET', 3], ['HDEL', 2], ['HSTRLEN', 2],
  ['SADD', 3], ['SREM', 2], ['SISMEMBER', 2], ['SMISMEMBER', 3], ['SCARD', 1], ['SINTERCARD', 3],
  ['ZADD', 3], ['ZINCRBY', 3], ['ZRANGE', 3], ['ZRANGEBYSCORE', 3], ['ZCOUNT', 3], ['ZSCORE', 2], ['ZRANK', 2],
  ['ZREMRANGEBYRANK', 3], ['ZLEXCOUNT', 3], ['SETBIT', 3], ['GETBIT', 2], ['BITCOUNT', 3], ['BITPOS', 3],
  ['PFADD', 3], ['PFCOUNT', 1], ['XLEN', 1], ['XRANGE', 3], ['EXISTS', 2], ['TYPE', 1], ['ECHO', 1],
  ['PING', 0], ['STRALGO', 3], ['GEOADD', 4], ['GEODIST', 3], ['LPOP', 2], ['RPOP', 2],
];

const TOKENS: readonly string[] = [
  '0', '1', '-1', '-0', '+1', '01', '1.5', '-1.5', '1e3', 'inf', '-inf', '+inf', 'nan', '', ' ',
  '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809',
  '2147483647', '2147483648', '4294967296', '18446744073709551615', '0x10', '1 ', ' 1',
  'NX', 'XX', 'GT', 'LT', 'CH', 'INCR', 'EX', 'PX', 'KEEPTTL', 'GET', 'WITHSCORES', 'LIMIT',
  'BYSCORE', 'BYLEX', 'REV', 'BEFORE', 'AFTER', 'BIT', 'BYTE', 'MAXLEN', '~', '=', '*', '[a', '(1',
  '-', '+', '\x00', '\xff\xfe', 'a\r\nb', 'k', 'v',
];

/** Valid commands the `edge` and `mutated` classes start from ({k} becomes the input's key). */
const CORPUS: readonly string[][] = [
  ['PING'], ['ECHO', 'hi'], ['SET', '{k}', 'v'], ['GET', '{k}'], ['INCR', '{k}'], ['RPUSH', '{k}', 'a', 'b'],
  ['HSET', '{k}', 'f', '1'], ['EXISTS', '{k}'], ['STRLEN', '{k}'], ['ZADD', '{k}', '1', 'm'],
];

function pick<T>(rng: Random, xs: readonly T[]): T {
  return xs[rng.below(xs.length)]!;
}

function keyFor(seed: number, index: number): string {
  return `fz:${seed}:${index}`;
}

function corpusCommand(rng: Random, key: string): string[] {
  return pick(rng, CORPUS).map((a) => (a === '{k}' ? key : a));
}

function inline(argv: readonly string[]): string {
  return `${argv.join(' ')}\r\n`;
}

/** The malformed fragments every run checks, in Redis-significant places. */
function edgeFragment(rng: Random, key: string): string {
  const n = pick(rng, ['-0', '0', '00', '01', '-01', '+1', ' 1', '1 ', '-', '', '-1', '-2',
    '-9223372036854775808', '-9223372036854775809', '9223372036854775807', '9223372036854775808',
    '2147483648', '2147483647', '99999999999999999999', '-99999999999999999999', '1\x00', '\x001', '1\x0b', 'x']);
  const cmd = corpusCommand(rng, key);
  switch (rng.below(12)) {
    case 0: return `*${n}\r\n${encodeCommand(cmd)}`;
    case 1: return `*1\r\n$${n}\r\nPING\r\n${encodeCommand(cmd)}`;
    case 2: return `*2\r\n$4\r\nECHO\r\n$${n}\r\n${'x'.repeat(rng.below(4))}\r\n`;
    case 3: return `${cmd.join(' ')}\x00${pick(rng, [' x', '', '\r\n'])}\r\n`;
    case 4: return `${cmd.join(pick(rng, ['\x0b', '\x0c', ' \x0b ', '\x0c ', '\t', ' \t\x0c']))}\r\n`;
    case 5: return `${pick(rng, ['ECHO "a"\x0bb', "ECHO 'a'\x0c", 'ECHO "a\x0bb"', 'ECHO a\x0b"b"', 'ECHO "\\x4', 'ECHO "\\x41\\q"', 'ECHO "a"b', "ECHO 'a\\'b'"])}\r\n`;
    case 6: return `*${pick(rng, ['1\r', '1\n', '1\rx', '\r\n', ''])}$4\r\nPING\r\n`;
    case 7: return `${pick(rng, ['\r\n', '\n', '\r', ' \r\n', '\x0b\r\n', '\x00\r\n'])}${encodeCommand(cmd)}`;
    case 8: return `*1\r\n${pick(rng, ['\r\n', '\n', 'x\r\n', '\x00\r\n', '$\r\n', '$\x00\r\n', ':1\r\n', '+a\r\n'])}`;
    case 9: return `*2\r\n$4\r\nECHO\r\n$3\r\nab${pick(rng, ['c\r\n', 'c\r\r', 'c\n\n', 'cde', '\r\n'])}`;
    case 10: return `${inline(cmd)}*${n}\r\n`;
    default: return `${'\x00'.repeat(1 + rng.below(3))}${inline(cmd)}`;
  }
}

const PROTOCOL_BYTES = '*$\r\n-+:0123456789 "\'\\\x00\x0b\x0cPINGECHO';

function randomBytes(rng: Random): string {
  const n = 1 + rng.below(40);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.below(3) === 0 ? String.fromCharCode(rng.below(256)) : pick(rng, [...PROTOCOL_BYTES]);
  return s;
}

function mutated(rng: Random, key: string): string {
  let s = '';
  const cmds = 1 + rng.below(3);
  for (let i = 0; i < cmds; i++) {
    const cmd = corpusCommand(rng, key);
    s += rng.below(4) === 0 ? inline(cmd) : encodeCommand(cmd);
  }
  const edits = 1 + rng.below(3);
  for (let e = 0; e < edits && s.length > 0; e++) {
    const at = rng.below(s.length);
    const byte = rng.below(2) === 0 ? String.fromCharCode(rng.below(256)) : pick(rng, [...PROTOCOL_BYTES]);
    switch (rng.below(4)) {
      case 0: s = s.slice(0, at) + byte + s.slice(at + 1); break;
      case 1: s = s.slice(0, at) + byte + s.slice(at); break;
      case 2: s = s.slice(0, at) + s.slice(at + 1); break;
      default: s = s.slice(0, at); break;
    }
  }
  return s;
}

function commandArgs(rng: Random, key: string): string {
  const [name, minArgs] = pick(rng, COMMANDS);
  const argc = Math.max(0, minArgs + rng.below(4) - 1);
  const argv = [name];
  for (let i = 0; i < argc; i++) argv.push(i === 0 && name !== 'ECHO' && name !== 'PING' ? key : rng.below(4) === 0 ? `${rng.below(1000) - 500}` : pick(rng, TOKENS));
  if (rng.below(5) === 0 && argv.every((a) => /^[!-~]+$/.test(a) && !/["']/.test(a))) return inline(argv);
  return encodeCommand(argv);
}

/** Input `index` of the run seeded `seed` (deterministic). */
export function generateInput(seed: number, index: number, classes: readonly FuzzClass[] = FUZZ_CLASSES): FuzzInput {
  const rng = new Random((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const cls = classes[index % classes.length]!;
  const key = keyFor(seed, index);
  let s: string;
  switch (cls) {
    case 'edge': s = edgeFragment(rng, key); break;
    case 'bytes': s = randomBytes(rng); break;
    case 'mutated': s = mutated(rng, key); break;
    default: s = commandArgs(rng, key); break;
  }
  // Inputs that would name a server-wide or blocking command become a PING (see UNSAFE).
  if (UNSAFE.test(s.replace(/fz:\d+:\d+/g, ''))) s = inline(['PING']);
  return { index, cls, bytes: Buffer.from(s, 'latin1') };
}

/**
 * Sends `bytes` and then the end marker on a fresh connection; resolves with everything the
 * server answered once it answered the marker, closed, or stayed silent for `idleMs`.
 */
export function exchange(port: number, bytes: Buffer, idleMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    let closed = false;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      sock.destroy();
      resolve({ reply, closed });
    };
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(finish, idleMs);
    };
    sock.on('connect', () => {
      sock.write(bytes);
      sock.write(MARKER);
      arm();
    });
    sock.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.endsWith(MARKER_REPLY)) finish();
      else arm();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', () => {});
  });
}

function same(a: Outcome, b: Outcome): boolean {
  return a.reply === b.reply && a.closed === b.closed;
}

export interface FuzzOptions {
  seed: number;
  count: number;
  nodisPort: number;
  redisPort: number;
  /** Inputs in flight at once. */
  concurrency?: number;
  /** Silence that ends an input whose marker was not answered (retried longer on a mismatch). */
  idleMs?: number;
  classes?: readonly FuzzClass[];
  /** Called after each input, e.g. for progress. */
  onInput?: (done: number) => void;
}

/** Runs `count` inputs against both servers; returns the mismatches (empty when all agree). */
export async function fuzz(opts: FuzzOptions): Promise<Mismatch[]> {
  const concurrency = opts.concurrency ?? 16;
  const idleMs = opts.idleMs ?? 250;
  const mismatches: Mismatch[] = [];
  let nextIndex = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < opts.count) {
      const input = generateInput(opts.seed, nextIndex++, opts.classes);
      let [a, b] = await Promise.all([exchange(opts.nodisPort, input.bytes, idleMs), exchange(opts.redisPort, input.bytes, idleMs)]);
      if (!same(a, b)) {
        // A loaded machine can delay one side past the idle time: check again, patiently.
        [a, b] = await Promise.all([exchange(opts.nodisPort, input.bytes, idleMs * 8), exchange(opts.redisPort, input.bytes, idleMs * 8)]);
      }
      if (!same(a, b)) {
        mismatches.push({ seed: opts.seed, index: input.index, cls: input.cls, input: input.bytes.toString('latin1'), nodis: a, redis: b });
      }
      opts.onInput?.(++finished);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  mismatches.sort((x, y) => x.index - y.index);
  return mismatches;
}

/** One mismatch as readable text, with what it takes to replay it. */
export function describeMismatch(m: Mismatch): string {
  return `seed ${m.seed} input ${m.index} (${m.cls}): ${JSON.stringify(m.input)}\n` +
    `  nodis: ${JSON.stringify(m.nodis.reply)}${m.nodis.closed ? ' (closed)' : ''}\n` +
    `  redis: ${JSON.stringify(m.redis.reply)}${m.redis.closed ? ' (closed)' : ''}`;
}
