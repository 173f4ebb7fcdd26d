/**
 * The special modes that run one loop against the server and exit: --scan, --bigkeys,
 * --memkeys, --hotkeys, --stat, --latency, --latency-history, --eval. Each follows the same
 * function in redis-cli.c (scanMode, findBigKeys, findHotKeys, statMode, latencyMode, evalMode),
 * including its exact printf layouts and its error lines.
 */
import fs from 'node:fs';
import type { Reply } from '../protocol/reply-parser.js';
import { ConnError } from './connection.js';
import { repr } from './format.js';
import { err, exit, fixed, out, zeroPadFixed } from './io.js';
import type { Session } from './session.js';
import { sleep } from './session.js';

/** Set by SIGINT in the long-running scan loops (longStatLoopModeStop). */
let cancelLoop = false;
function stopOnSigint(): void {
  process.on('SIGINT', () => {
    cancelLoop = true;
  });
}

const str = (r: Reply | undefined): string =>
  r === undefined ? '' : r.type === 'string' || r.type === 'verbatim' ? r.value.toString('latin1') : r.type === 'status' || r.type === 'error' ? r.value : '';

async function mustCommand(s: Session, argv: (string | Buffer)[]): Promise<Reply> {
  const r = await s.command(argv);
  if (r === null) {
    err('\nI/O error\n');
    exit(1);
  }
  return r;
}

/** sendScan(): one SCAN step; returns the new cursor and the keys (latin1). */
async function scanStep(s: Session, cursor: string): Promise<[string, string[]]> {
  const argv = ['SCAN', cursor];
  if (s.config.pattern !== null) argv.push('MATCH', s.config.pattern);
  if (s.config.scanCount !== null) argv.push('COUNT', String(s.config.scanCount));
  const r = await mustCommand(s, argv);
  if (r.type === 'error') {
    err(`SCAN error: ${r.value}\n`);
    exit(1);
  }
  if (r.type !== 'array') {
    err('Non ARRAY response from SCAN!\n');
    exit(1);
  }
  if (r.elements.length !== 2) {
    err('Invalid element count from SCAN!\n');
    exit(1);
  }
  const keys = r.elements[1]!;
  const next = BigInt.asUintN(64, BigInt(/^\d+/.exec(str(r.elements[0]))?.[0] ?? '0')).toString();
  return [next, keys.type === 'array' ? keys.elements.map(str) : []];
}

export async function scanMode(s: Session): Promise<never> {
  stopOnSigint();
  let cursor = '0';
  do {
    const [next, keys] = await scanStep(s, cursor);
    cursor = next;
    for (const k of keys) {
      // printf("%s\n") stops at a NUL byte in raw mode.
      out((s.config.output === 'standard' ? repr(k) : cStr(k)) + '\n');
    }
    if (s.config.intervalUs) await sleep(s.config.intervalUs / 1000);
  } while (!cancelLoop && cursor !== '0');
  exit(0);
}

const cStr = (k: string): string => (k.includes('\0') ? k.slice(0, k.indexOf('\0')) : k);

async function dbSize(s: Session): Promise<number> {
  const r = await mustCommand(s, ['DBSIZE']);
  if (r.type === 'error') {
    err(`Couldn't determine DBSIZE: ${r.value}\n`);
    exit(1);
  }
  if (r.type !== 'integer') {
    err('Non INTEGER response from DBSIZE!\n');
    exit(1);
  }
  return Number(r.value);
}

interface TypeInfo {
  name: string;
  sizeCmd: string | null;
  sizeUnit: string;
  biggest: number;
  count: number;
  totalSize: number;
  biggestKey: string | null;
}

const typeInfo = (name: string, sizeCmd: string | null, sizeUnit: string): TypeInfo => ({
  name,
  sizeCmd,
  sizeUnit,
  biggest: 0,
  count: 0,
  totalSize: 0,
  biggestKey: null,
});

/** Pipelines `commands` and collects their replies in order. */
async function pipeline(s: Session, commands: (string | Buffer)[][]): Promise<Reply[]> {
  const conn = s.conn!;
  for (const c of commands) conn.send(c);
  const replies: Reply[] = [];
  for (let i = 0; i < commands.length; i++) {
    try {
      replies.push(await conn.read());
    } catch (e) {
      if (!(e instanceof ConnError)) throw e;
      replies.push({ type: 'error', value: `\u0000${e.message}` });
    }
  }
  return replies;
}

/**
 * findBigKeys(). The summary walks redis-cli's types dict, whose iteration order for the six
 * built-in types is fixed (its hash seed is zero): that order is reproduced here.
 */
export async function bigKeysMode(s: Session, memkeys: boolean): Promise<never> {
  const builtins = [
    typeInfo('string', 'STRLEN', 'bytes'),
    typeInfo('list', 'LLEN', 'items'),
    typeInfo('set', 'SCARD', 'members'),
    typeInfo('hash', 'HLEN', 'fields'),
    typeInfo('zset', 'ZCARD', 'members'),
    typeInfo('stream', 'XLEN', 'entries'),
  ];
  const types = new Map(builtins.map((t) => [t.name, t]));
  stopOnSigint();
  const totalKeys = await dbSize(s);
  out('\n# Scanning the entire keyspace to find biggest keys as well as\n');
  out('# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n');
  out('# per 100 SCAN commands (not usually needed).\n\n');
  let sampled = 0;
  let totlen = 0;
  let scanLoops = 0;
  let pct = 0;
  let cursor = '0';
  do {
    pct = (100 * sampled) / totalKeys;
    const [next, keys] = await scanStep(s, cursor);
    cursor = next;
    scanLoops++;
    // Types, pipelined.
    const typeReplies = await pipeline(
      s,
      keys.map((k) => ['TYPE', k]),
    );
    const keyTypes: (TypeInfo | null)[] = typeReplies.map((r, i) => {
      if (r.type === 'error' && r.value.startsWith('\u0000')) {
        err(`Error getting type for key '${cStr(keys[i]!)}' (1: ${r.value.slice(1)})\n`);
        exit(1);
      }
      if (r.type !== 'status') {
        if (r.type === 'error') err(`TYPE returned an error: ${r.value}\n`);
        else err(`Invalid reply type (${r.type}) for TYPE on key '${cStr(keys[i]!)}'!\n`);
        exit(1);
      }
      const known = types.get(r.value);
      if (known) return known;
      if (r.value === 'none') return null;
      const t = typeInfo(r.value, null, '?');
      types.set(r.value, t);
      return t;
    });
    // Sizes, pipelined, skipping vanished keys (and unknown types unless --memkeys).
    const wanted = keys.map((_, i) => keyTypes[i] !== null && (keyTypes[i]!.sizeCmd !== null || memkeys));
    const sizeCommands: string[][] = [];
    keys.forEach((k, i) => {
      if (!wanted[i]) return;
      if (!memkeys) sizeCommands.push([keyTypes[i]!.sizeCmd!, k]);
      else if (s.config.memkeysSamples === 0) sizeCommands.push(['MEMORY', 'USAGE', k]);
      else sizeCommands.push(['MEMORY', 'USAGE', k, 'SAMPLES', String(s.config.memkeysSamples)]);
    });
    const sizeReplies = await pipeline(s, sizeCommands);
    let next2 = 0;
    const sizes = keys.map((k, i) => {
      if (!wanted[i]) return 0;
      const r = sizeReplies[next2++]!;
      if (r.type === 'error' && r.value.startsWith('\u0000')) {
        err(`Error getting size for key '${cStr(k)}' (1: ${r.value.slice(1)})\n`);
        exit(1);
      }
      if (r.type !== 'integer') {
        err(`Warning:  ${!memkeys ? keyTypes[i]!.sizeCmd : 'MEMORY USAGE'} on '${cStr(k)}' failed (may have changed type)\n`);
        return 0;
      }
      return Number(r.value);
    });
    keys.forEach((k, i) => {
      const t = keyTypes[i];
      if (!t) return;
      t.totalSize += sizes[i]!;
      t.count++;
      totlen += k.length;
      sampled++;
      if (t.biggest < sizes[i]!) {
        t.biggestKey = repr(k);
        out(`[${zeroPadFixed(pct, 5, 2)}%] Biggest ${t.name.padEnd(6)} found so far '${t.biggestKey}' with ${sizes[i]} ${!memkeys ? t.sizeUnit : 'bytes'}\n`);
        t.biggest = sizes[i]!;
      }
      if (sampled % 1000000 === 0) out(`[${zeroPadFixed(pct, 5, 2)}%] Sampled ${sampled} keys so far\n`);
    });
    if (s.config.intervalUs && scanLoops % 100 === 0) await sleep(s.config.intervalUs / 1000);
  } while (!cancelLoop && cursor !== '0');

  out('\n-------- summary -------\n\n');
  if (cancelLoop) out(`[${zeroPadFixed(pct, 5, 2)}%] `);
  out(`Sampled ${sampled} keys in the keyspace!\n`);
  out(`Total key length in bytes is ${totlen} (avg len ${fixed(totlen ? totlen / sampled : 0, 2)})\n\n`);
  const ordered = summaryOrder([...types.values()]);
  for (const t of ordered) {
    if (t.biggestKey !== null) out(`Biggest ${t.name.padStart(6)} found '${t.biggestKey}' has ${t.biggest} ${!memkeys ? t.sizeUnit : 'bytes'}\n`);
  }
  out('\n');
  for (const t of ordered) {
    out(
      `${t.count} ${t.name}s with ${t.totalSize} ${!memkeys ? t.sizeUnit : 'bytes'} (${zeroPadFixed(sampled ? (100 * t.count) / sampled : 0, 5, 2)}% of keys, avg size ${fixed(
        t.count ? t.totalSize / t.count : 0,
        2,
      )})\n`,
    );
  }
  exit(0);
}

/** redis-cli's dict iteration order for the built-in type names; module types follow. */
const SUMMARY_ORDER = ['list', 'hash', 'string', 'stream', 'set', 'zset'];
function summaryOrder(types: TypeInfo[]): TypeInfo[] {
  const rank = (t: TypeInfo): number => {
    const i = SUMMARY_ORDER.indexOf(t.name);
    return i < 0 ? SUMMARY_ORDER.length : i;
  };
  return [...types].sort((a, b) => rank(a) - rank(b));
}

const HOTKEYS_SAMPLE = 16;

/** findHotKeys(): needs an LFU maxmemory-policy on the server. */
export async function hotKeysMode(s: Session): Promise<never> {
  stopOnSigint();
  const totalKeys = await dbSize(s);
  out('\n# Scanning the entire keyspace to find hot keys as well as\n');
  out('# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n');
  out('# per 100 SCAN commands (not usually needed).\n\n');
  const counters = new Array<number>(HOTKEYS_SAMPLE).fill(0);
  const hotkeys = new Array<string | null>(HOTKEYS_SAMPLE).fill(null);
  let sampled = 0;
  let scanLoops = 0;
  let pct = 0;
  let cursor = '0';
  do {
    pct = (100 * sampled) / totalKeys;
    const [next, keys] = await scanStep(s, cursor);
    cursor = next;
    scanLoops++;
    const replies = await pipeline(
      s,
      keys.map((k) => ['OBJECT', 'FREQ', k]),
    );
    const freqs = replies.map((r, i) => {
      if (r.type === 'integer') return Number(r.value);
      if (r.type === 'error') {
        if (r.value.startsWith('\u0000')) err(`Error getting freq for key '${repr(keys[i]!)}' (1: ${r.value.slice(1)})\n`);
        else err(`Error: ${r.value}\n`);
        exit(1);
      }
      err(`Warning: OBJECT freq on '${repr(keys[i]!)}' failed (may have been deleted)\n`);
      return 0;
    });
    keys.forEach((key, i) => {
      sampled++;
      if (sampled % 1000000 === 0) out(`[${zeroPadFixed(pct, 5, 2)}%] Sampled ${sampled} keys so far\n`);
      let k = 0;
      while (k < HOTKEYS_SAMPLE && freqs[i]! > counters[k]!) k++;
      if (k === 0) return;
      k--;
      if (!(k === 0 || counters[k] === 0)) {
        counters.copyWithin(0, 1, k + 1);
        hotkeys.copyWithin(0, 1, k + 1);
      }
      counters[k] = freqs[i]!;
      hotkeys[k] = repr(key);
      out(`[${zeroPadFixed(pct, 5, 2)}%] Hot key '${hotkeys[k]}' found so far with counter ${freqs[i]}\n`);
    });
    if (s.config.intervalUs && scanLoops % 100 === 0) await sleep(s.config.intervalUs / 1000);
  } while (!cancelLoop && cursor !== '0');
  out('\n-------- summary -------\n\n');
  if (cancelLoop) out(`[${zeroPadFixed(pct, 5, 2)}%] `);
  out(`Sampled ${sampled} keys in the keyspace!\n`);
  for (let i = 1; i <= HOTKEYS_SAMPLE; i++) {
    const k = HOTKEYS_SAMPLE - i;
    if (counters[k]! > 0) out(`hot key found with counter: ${counters[k]}\tkeyname: ${hotkeys[k]}\n`);
  }
  exit(0);
}

/** reconnectingRedisCommand(): retries once a second, showing "Reconnecting... n". */
export async function reconnectingCommand(s: Session, argv: string[]): Promise<Reply> {
  let tries = 0;
  for (;;) {
    while (s.conn === null || s.conn.noticed) {
      out('\r\x1b[0K');
      out(`Reconnecting... ${++tries}\r`);
      s.conn?.close();
      s.conn = null;
      // A plain connect: redis-cli does not redo AUTH/SELECT here.
      await s.connectBare();
      await sleep(1000);
    }
    const r = await s.command(argv);
    if (r !== null) {
      if (tries > 0) out('\r\x1b[0K');
      return r;
    }
    if (s.conn && s.conn.error && s.conn.error.kind !== 'io' && s.conn.error.kind !== 'eof') {
      err(`Error: ${s.conn.error.message}\n`);
      exit(1);
    }
  }
}

/** getInfoField(): the value after "field:" up to \r or a comma. */
function infoField(info: string, field: string): string | null {
  const p = info.indexOf(field);
  if (p < 0) return null;
  const start = p + field.length + 1;
  let end = info.indexOf('\r', start);
  const comma = info.indexOf(',', start);
  if (end < 0) end = info.length;
  if (comma >= 0 && comma < end) end = comma;
  return info.slice(start, end);
}

const LONG_MIN = -(2n ** 63n);
function infoLong(info: string, field: string): bigint {
  const v = infoField(info, field);
  if (v === null) return LONG_MIN;
  const m = /^\s*[-+]?\d+/.exec(v);
  return m ? BigInt(m[0].trim()) : 0n;
}

/** bytesToHuman(). */
export function bytesToHuman(n: bigint): string {
  let sign = '';
  if (n < 0n) {
    sign = '-';
    n = -n;
  }
  const x = Number(n);
  if (n < 1024n) return `${sign}${n}B`;
  if (n < 1024n * 1024n) return `${sign}${fixed(x / 1024, 2)}K`;
  if (n < 1024n ** 3n) return `${sign}${fixed(x / (1024 * 1024), 2)}M`;
  if (n < 1024n ** 4n) return `${sign}${fixed(x / 1024 ** 3, 2)}G`;
  // redis-cli leaves the buffer untouched beyond a terabyte: only the sign is written.
  return sign;
}

export async function statMode(s: Session): Promise<never> {
  if (s.config.intervalUs === 0) s.config.intervalUs = 1000000;
  let requests = 0n;
  for (let i = 0; ; i++) {
    const reply = await reconnectingCommand(s, ['INFO']);
    if (reply.type === 'error') {
      err(`ERROR: ${reply.value}\n`);
      exit(1);
    }
    const info = str(reply);
    if (i % 20 === 0) {
      out(
        '------- data ------ --------------------- load -------------------- - child -\n' +
          'keys       mem      clients blocked requests            connections          \n',
      );
    }
    let keys = 0n;
    for (let j = 0; j < 20; j++) {
      const k = infoLong(info, `db${j}:keys`);
      if (k !== LONG_MIN) keys += k;
    }
    let line = String(keys).padEnd(11);
    line += bytesToHuman(infoLong(info, 'used_memory')).padEnd(8);
    line += ' ' + String(infoLong(info, 'connected_clients')).padEnd(8);
    line += String(infoLong(info, 'blocked_clients')).padEnd(8);
    const total = infoLong(info, 'total_commands_processed');
    line += `${total} (+${requests === 0n ? 0n : total - requests})`.padEnd(19);
    requests = total;
    line += ' ' + String(infoLong(info, 'total_connections_received')).padEnd(12);
    const children = infoLong(info, 'bgsave_in_progress') | (infoLong(info, 'aof_rewrite_in_progress') << 1n) | (infoLong(info, 'loading') << 2n);
    line += children === 1n ? 'SAVE' : children === 2n ? 'AOF' : children === 3n ? 'SAVE+AOF' : children === 4n ? 'LOAD' : '';
    out(line + '\n');
    await sleep(s.config.intervalUs / 1000);
  }
}

function latencyPrint(s: Session, min: number, max: number, avg: number, count: number): void {
  switch (s.config.output) {
    case 'standard':
      out(`min: ${min}, max: ${max}, avg: ${fixed(avg, 2)} (${count} samples)`);
      break;
    case 'csv':
      out(`${min},${max},${fixed(avg, 2)},${count}\n`);
      break;
    case 'raw':
      out(`${min} ${max} ${fixed(avg, 2)} ${count}\n`);
      break;
    case 'json':
      out(`{"min": ${min}, "max": ${max}, "avg": ${fixed(avg, 2)}, "count": ${count}}\n`);
      break;
    default:
      break;
  }
}

/** latencyMode(): PING every 10 ms; --latency-history resets the window every -i (15 s). */
export async function latencyMode(s: Session, history: boolean): Promise<never> {
  const historyInterval = s.config.intervalUs ? s.config.intervalUs / 1000 : 15000;
  const interval = s.config.intervalUs === 0 ? 1000 : s.config.intervalUs / 1000;
  let historyStart = Date.now();
  let min = 0;
  let max = 0;
  let tot = 0;
  let count = 0;
  let avg = 0;
  if (!s.conn) exit(1);
  for (;;) {
    const start = Date.now();
    await reconnectingCommand(s, ['PING']);
    const latency = Date.now() - start;
    count++;
    if (count === 1) {
      min = max = tot = latency;
      avg = latency;
    } else {
      if (latency < min) min = latency;
      if (latency > max) max = latency;
      tot += latency;
      avg = tot / count;
    }
    if (s.config.output === 'standard') {
      out('\x1b[0G\x1b[2K');
      latencyPrint(s, min, max, avg, count);
    } else if (history) {
      latencyPrint(s, min, max, avg, count);
    } else if (Date.now() - historyStart > interval) {
      latencyPrint(s, min, max, avg, count);
      exit(0);
    }
    if (history && Date.now() - historyStart > historyInterval) {
      out(` -- ${fixed((Date.now() - historyStart) / 1000, 2)} seconds range\n`);
      historyStart = Date.now();
      min = max = tot = count = 0;
    }
    await sleep(10);
  }
}

/** evalMode() without the Lua debugger: EVAL <file> <numkeys> keys… , args…. */
export async function evalMode(s: Session, args: string[]): Promise<number> {
  let script: string;
  try {
    script = fs.readFileSync(s.config.evalFile!).toString('latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    err(`Can't open file '${s.config.evalFile}': ${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : String(e)}\n`);
    exit(1);
  }
  let gotComma = false;
  const keys: string[] = [];
  const argv: string[] = [];
  for (const a of args) {
    if (!gotComma && a === ',') {
      gotComma = true;
      continue;
    }
    (gotComma ? argv : keys).push(a);
  }
  const ok = await s.issueCommand(['EVAL', script, String(keys.length), ...keys, ...argv]);
  return ok ? 0 : 1;
}
