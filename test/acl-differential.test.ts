/**
 * The ACL, differentially: every command and subcommand of Redis 7.0.15's command table, with
 * keys and channels inside and outside the users' patterns, run by users with restricted keys
 * (`~`, `%R~`, `%W~`), channels, command sets, categories, first-arg rules and selectors, against
 * nodis and redis-server side by side. Each call's outcome (allowed, or the exact ACL error
 * text) and the ACL LOG entries (count, reason, context, object, username) must match.
 *
 * Contexts: ACL DRYRUN, plain calls, MULTI (queue time) + EXEC, EXEC after the user's rules
 * changed, EVAL and FCALL through redis.pcall (and the error redis.call raises), and
 * redis.acl_check_cmd. The argv of each command is generated from COMMAND DOCS (required
 * arguments, plus optional ones that hold keys), with a hand-written table for the commands
 * that read keys named by their data or whose keys hide behind options.
 *
 * Commands that would disturb the servers (SHUTDOWN, MONITOR, REPLICAOF, SUBSCRIBE, ACL SETUSER,
 * CLIENT KILL…) run for real only where both servers' ACL DRYRUN deny them; elsewhere their
 * verdict is compared through DRYRUN and MULTI … DISCARD (the ACL check happens at queue time).
 *
 * The sweep runs twice: with acl-pubsub-default resetchannels (Redis's default) and allchannels.
 * ACL_DIFF_USERS=all runs every user (about 90 s on a loaded machine); the default is a slice
 * (CI_USERS, and one user under allchannels); ACL_DIFF_USERS=name,name picks users.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, stopAll } from './helpers/server.js';
import { encodeCommand, replyEnd, REDIS_SERVER } from './helpers/redis-compare.js';

// ---- RESP values ----------------------------------------------------------------------------

type Value = { err: string } | string | number | null | Value[];

function parseValue(buf: string, pos: number): [Value, number] {
  const eol = buf.indexOf('\r\n', pos);
  const type = buf[pos];
  const header = buf.slice(pos + 1, eol);
  const next = eol + 2;
  if (type === '-') return [{ err: header }, next];
  if (type === '+') return [header, next];
  if (type === ':') return [Number(header), next];
  if (type === '$') {
    const n = Number(header);
    return n < 0 ? [null, next] : [buf.slice(next, next + n), next + n + 2];
  }
  if (type === '*') {
    const n = Number(header);
    if (n < 0) return [null, next];
    const out: Value[] = [];
    let p = next;
    for (let i = 0; i < n; i++) {
      const [v, q] = parseValue(buf, p);
      out.push(v);
      p = q;
    }
    return [out, p];
  }
  throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
}

function isErr(v: Value): v is { err: string } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** One RESP2 connection that pipelines batches of commands. */
class Conn {
  private sock: net.Socket;
  private buf = '';
  private pos = 0;
  closed = false;
  private sent: readonly (readonly string[])[] = [];
  private waiting: { n: number; got: Value[]; resolve: (v: Value[]) => void; reject: (e: Error) => void } | null = null;
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.drain();
    });
    this.sock.on('error', (e) => this.waiting?.reject(e));
    this.sock.on('close', () => {
      this.closed = true;
      const w = this.waiting;
      if (w !== null) w.reject(new Error(`port ${port} closed the connection at ${JSON.stringify(this.sent[w.got.length])} (reply ${w.got.length})`));
    });
  }
  private drain(): void {
    const w = this.waiting;
    while (w !== null && w.got.length < w.n) {
      const end = replyEnd(this.buf, this.pos);
      if (end < 0) break;
      w.got.push(parseValue(this.buf, this.pos)[0]);
      this.pos = end;
    }
    if (this.pos > 1 << 20) {
      this.buf = this.buf.slice(this.pos);
      this.pos = 0;
    }
    if (w !== null && w.got.length >= w.n) {
      this.waiting = null;
      w.resolve(w.got);
    }
  }
  send(cmds: readonly (readonly string[])[]): Promise<Value[]> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('closed'));
      const timer = setTimeout(() => reject(new Error('timed out')), 120000);
      this.waiting = {
        n: cmds.length,
        got: [],
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.sent = cmds;
      this.sock.write(Buffer.from(cmds.map(encodeCommand).join(''), 'latin1'));
      this.drain();
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

// ---- the users ------------------------------------------------------------------------------

const USERS: [string, string[]][] = [
  // The issue's user: one command, keys foo*.
  ['getonly', ['+get', '~foo*']],
  // Everything, keys limited; no channels.
  ['allfoo', ['allcommands', '~foo*', 'resetchannels']],
  // Read-only ro*, write-only wo*, both on foo*; channels chan*.
  ['rw', ['+@all', '-@dangerous', '%R~ro*', '%W~wo*', '~foo*', 'resetchannels', '&chan*']],
  // Categories and single commands.
  ['cats', ['+@read', '+@write', '-@keyspace', '+del', '-@dangerous', '-hset', '+client|id', '+client|setname', '~foo*', '%R~ro*', '&*']],
  // First-arg and subcommand rules.
  ['firstarg', ['-@all', '+select|0', '+client|id', '+config|get', '+acl|whoami', '+object|encoding', '+ping|hello', '+set|foo:0', '~foo*']],
  // Selectors: the root reads foo*; one selector writes lists on bar*, another reads ro*.
  ['sel', ['+get', '+@pubsub', '~foo*', 'resetchannels', '(+set +@list ~bar* &chan*)', '(%R~ro* +@read -@slow)', '(%W~wo* +@write &news*)']],
  // Pub/sub only, channel patterns.
  ['pub', ['+@pubsub', '+@connection', 'resetchannels', '&chan*', '&news:1', '~foo*']],
  // No keys at all, everything else.
  ['keyless', ['+@all', '-@dangerous', 'resetkeys', '&*']],
  // Reads every key, writes foo*: SORT BY/GET allowed, its STORE only into foo*.
  ['readall', ['+@all', '-@dangerous', '%R~*', '%W~foo*', '&*']],
  // Full key access only through selectors (SORT's patterns need one selector that reads all).
  ['selsort', ['+sort', '+sort_ro', '+@read', '~foo*', '(+sort %R~*)', '(+@write %W~*)']],
  // No channel rule at all: acl-pubsub-default (resetchannels) decides.
  ['nochan', ['+@all', '-@dangerous', '~foo*']],
  // Nothing but what needs no auth.
  ['none', ['-@all', 'resetkeys', 'resetchannels']],
];

const PASS = 'p';

/**
 * The users `npm test` runs: between them every kind of rule and denial. The whole set runs
 * with ACL_DIFF_USERS=all.
 */
const CI_USERS = ['getonly', 'rw', 'firstarg', 'sel', 'pub', 'selsort'];

// ---- argv generation ------------------------------------------------------------------------

interface ArgDoc {
  name: string;
  type: string;
  token?: string;
  flags: string[];
  arguments?: ArgDoc[];
}

function pairs(flat: Value): Map<string, Value> {
  const m = new Map<string, Value>();
  if (!Array.isArray(flat)) return m;
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]!);
  return m;
}

function argDocs(v: Value | undefined): ArgDoc[] {
  if (!Array.isArray(v)) return [];
  return v.map((a) => {
    const m = pairs(a);
    const doc: ArgDoc = { name: String(m.get('name')), type: String(m.get('type')), flags: Array.isArray(m.get('flags')) ? (m.get('flags') as string[]) : [] };
    if (m.has('token')) doc.token = String(m.get('token'));
    if (m.has('arguments')) doc.arguments = argDocs(m.get('arguments'));
    return doc;
  });
}

interface CommandInfo {
  fullName: string;
  words: string[];
  arity: number;
  flags: string[];
  args: ArgDoc[];
}

type Variant = 'in' | 'out' | 'mixed' | 'ro' | 'wo';

function keyName(variant: Variant, i: number): string {
  if (variant === 'mixed') return i === 0 ? 'foo:0' : `bar:${i}`;
  return `${variant === 'in' ? 'foo' : variant === 'out' ? 'bar' : variant}:${i}`;
}

function channelName(variant: Variant, i: number, pattern: boolean): string {
  const inside = variant === 'in' || variant === 'ro' || variant === 'wo' || (variant === 'mixed' && i === 0);
  return `${inside ? 'chan' : 'news'}:${i}${pattern ? '*' : ''}`;
}

function hasKey(a: ArgDoc): boolean {
  return a.type === 'key' || (a.arguments ?? []).some(hasKey);
}

/** A minimal argv from the argument docs: required arguments, and optional ones with keys. */
function generate(cmd: CommandInfo, variant: Variant): { argv: string[]; keys: number; channels: number } {
  const out: (string | { numkeys: true })[] = [...cmd.words];
  let keys = 0;
  let channels = 0;
  const numkeysAt: number[] = [];
  const channelCommand = /subscribe|publish/.test(cmd.fullName);
  const emit = (a: ArgDoc): void => {
    if (a.token !== undefined) out.push(a.token);
    switch (a.type) {
      case 'key':
        out.push(keyName(variant, keys++));
        return;
      case 'pure-token':
        if (a.token === undefined) out.push(a.name);
        return;
      case 'oneof':
        emit(a.arguments!.find(hasKey) ?? a.arguments![0]!);
        return;
      case 'block':
        list(a.arguments ?? []);
        return;
      case 'integer':
        if (a.name === 'numkeys' || a.name === 'numkeys') {
          numkeysAt.push(out.length);
          out.push({ numkeys: true });
        } else out.push(a.name === 'port' ? '1' : '1');
        return;
      case 'double':
        out.push(a.name === 'timeout' ? '0.01' : '1');
        return;
      case 'pattern':
        out.push(channelCommand ? channelName(variant, channels++, true) : '*');
        return;
      default:
        if (channelCommand && (a.name === 'channel' || a.name === 'shardchannel')) out.push(channelName(variant, channels++, false));
        else if (a.name === 'host') out.push('127.0.0.1');
        else if (a.name === 'id') out.push('0');
        else out.push('v');
    }
  };
  const list = (args: ArgDoc[]): void => {
    for (const a of args) {
      const optional = a.flags.includes('optional');
      if (optional && !hasKey(a)) continue;
      const times = a.flags.includes('multiple') ? 2 : 1;
      for (let t = 0; t < times; t++) emit(a);
    }
  };
  list(cmd.args);
  // numkeys counts the keys after it.
  const argv = out.map((x, i) => {
    if (typeof x === 'string') return x;
    let n = 0;
    for (let j = i + 1; j < out.length; j++) if (typeof out[j] === 'string' && /^(foo|bar|ro|wo):\d+$/.test(out[j] as string)) n++;
    return String(n);
  });
  while (argv.length < Math.abs(cmd.arity)) argv.push('v');
  if (cmd.arity > 0) argv.length = cmd.arity;
  return { argv, keys, channels };
}

/** Calls whose keys are named by their data or hide behind options. `@` = a key in the variant. */
const HAND: string[][] = [
  ['sort', '@0', 'by', 'nosort', 'get', 'secret_*'],
  ['sort', '@0', 'by', 'w_*', 'get', '#'],
  ['sort', '@0', 'get', '#', 'store', '@1'],
  ['sort', '@0', 'by', 'nosort', 'get', 'secret_*', 'store', '@1'],
  ['sort_ro', '@0', 'by', 'nosort', 'get', 'secret_*'],
  ['sort_ro', '@0', 'by', 'w_*->f'],
  ['migrate', '127.0.0.1', '1', '', '0', '10', 'keys', '@0', '@1'],
  ['migrate', '127.0.0.1', '1', '@0', '0', '10', 'copy', 'replace'],
  ['georadius', '@0', '0', '0', '1', 'km', 'store', '@1'],
  ['georadius', '@0', '0', '0', '1', 'km', 'storedist', '@1'],
  ['georadius', '@0', '0', '0', '1', 'km'],
  ['georadiusbymember', '@0', 'm', '1', 'km', 'store', '@1'],
  ['georadiusbymember', '@0', 'm', '1', 'km', 'storedist', '@1'],
  ['georadius_ro', '@0', '0', '0', '1', 'km'],
  ['geosearchstore', '@1', '@0', 'fromlonlat', '0', '0', 'byradius', '1', 'km', 'storedist'],
  ['xreadgroup', 'group', 'g', 'c', 'count', '1', 'streams', '@0', '@1', '>', '>'],
  ['xread', 'count', '1', 'streams', '@0', '@1', '0', '0'],
  ['xgroup', 'create', '@0', 'g', '$', 'mkstream'],
  ['bitop', 'and', '@0', '@1', '@2'],
  ['bitop', 'not', '@1', '@0'],
  ['zunionstore', '@0', '2', '@1', '@2', 'weights', '1', '2'],
  ['zinterstore', '@0', '2', '@1', '@2'],
  ['zdiffstore', '@0', '2', '@1', '@2'],
  ['zrangestore', '@0', '@1', '0', '-1'],
  ['sunionstore', '@0', '@1', '@2'],
  ['sinterstore', '@0', '@1'],
  ['sdiffstore', '@0', '@1', '@2'],
  ['pfmerge', '@0', '@1'],
  ['lmove', '@0', '@1', 'left', 'right'],
  ['rpoplpush', '@0', '@1'],
  ['smove', '@0', '@1', 'm'],
  ['lmpop', '2', '@0', '@1', 'left'],
  ['zmpop', '2', '@0', '@1', 'min'],
  ['sintercard', '2', '@0', '@1'],
  ['zintercard', '2', '@0', '@1'],
  ['object', 'encoding', '@0'],
  ['object', 'freq', '@0'],
  ['dump', '@0'],
  ['restore', '@0', '0', 'bogus-payload'],
  ['copy', '@0', '@1'],
  ['copy', '@0', '@1', 'db', '1', 'replace'],
  ['rename', '@0', '@1'],
  ['renamenx', '@0', '@1'],
  ['move', '@0', '1'],
  ['mset', '@0', 'a', '@1', 'b'],
  ['msetnx', '@0', 'a', '@1', 'b'],
  ['mget', '@0', '@1'],
  ['set', '@0', 'v', 'get'],
  ['set', '@0', 'v', 'nx'],
  ['bitfield', '@0', 'get', 'u8', '0'],
  ['bitfield', '@0', 'set', 'u8', '0', '1'],
  ['bitfield_ro', '@0', 'get', 'u8', '0'],
  ['lcs', '@0', '@1'],
  ['memory', 'usage', '@0'],
  ['touch', '@0', '@1'],
  ['exists', '@0', '@1'],
  ['unlink', '@0', '@1'],
  ['watch', '@0', '@1'],
  ['getex', '@0', 'persist'],
  ['getdel', '@0'],
  ['eval', 'return 1', '2', '@0', '@1'],
  ['eval_ro', 'return 1', '1', '@0'],
  ['fcall', 'pc', '1', '@0', 'ping'],
  ['fcall_ro', 'pc', '1', '@0', 'ping'],
  ['publish', '#0', 'hi'],
  ['spublish', '#0', 'hi'],
  ['subscribe', '#0', '#1'],
  ['ssubscribe', '#0'],
  ['psubscribe', '#0*', '#1*'],
  ['psubscribe', 'chan*'],
  ['psubscribe', '*'],
  ['pubsub', 'numsub', '#0'],
  ['pubsub', 'channels', '#0*'],
  ['client', 'kill', 'user', 'nosuchuser'],
  ['client', 'kill', 'id', '999999'],
  ['client', 'id'],
  ['client', 'setname', 'x'],
  ['select', '0'],
  ['select', '1'],
  ['select', '0'],
  ['ping', 'hello'],
  ['ping', 'other'],
  ['set', 'foo:0', 'v'],
  ['config', 'get', 'maxmemory'],
  // Failed authentication is logged (reason auth) and leaves the connection's user alone.
  ['auth', 'getonly', 'wrong'],
  ['auth', 'nosuchuser', 'x'],
  ['hello', '2', 'auth', 'getonly', 'wrong'],
  ['acl', 'whoami'],
  ['keys', '*'],
  ['scan', '0'],
  ['randomkey'],
  ['flushdb'],
  ['flushall'],
  ['swapdb', '0', '1'],
  ['blpop', '@0', '@1', '0.01'],
  ['blmove', '@0', '@1', 'left', 'left', '0.01'],
  ['xadd', '@0', '*', 'f', 'v'],
  ['xautoclaim', '@0', 'g', 'c', '0', '0'],
  ['hset', '@0', 'f', 'v'],
  ['hget', '@0', 'f'],
  ['incr', '@0'],
  ['append', '@0', 'x'],
  ['getrange', '@0', '0', '1'],
  ['strlen', '@0'],
  ['type', '@0'],
  ['expire', '@0', '100'],
  ['ttl', '@0'],
  ['persist', '@0'],
];

function handArgv(t: string[], variant: Variant): string[] {
  return t.map((a) => {
    if (/^@\d$/.test(a)) return keyName(variant, Number(a.slice(1)));
    const m = /^#(\d)(\*?)$/.exec(a);
    if (m !== null) return channelName(variant, Number(m[1]), m[2] === '*');
    return a;
  });
}

/** Commands that must not run for real unless both servers deny them (checked by DRYRUN). */
const NOEXEC = new Set([
  'shutdown', 'monitor', 'debug', 'replicaof', 'slaveof', 'failover', 'sync', 'psync', 'replconf', 'quit', 'reset',
  'multi', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe',
  'client|kill', 'client|pause', 'client|reply', 'client|tracking', 'acl|setuser', 'acl|deluser', 'acl|load', 'acl|save',
  'acl|log', 'config|set', 'config|rewrite', 'config|resetstat', 'module|load', 'module|loadex', 'module|unload',
  'function|flush', 'function|delete', 'function|restore', 'function|load', 'save', 'bgsave', 'bgrewriteaof', 'pfselftest',
  'flushall', 'flushdb', 'swapdb', 'script|flush',
]);

/** Run even inside MULTI, and end the connection or its user: compared by DRYRUN only there. */
const LEAVES_CONNECTION = new Set(['quit', 'reset']);

// ---- verdicts -------------------------------------------------------------------------------

const ACL_TEXT = /NOPERM|no permissions|user executing the script|insufficient ACL|ACLs rules changed/;

/** What the ACL decided, as far as a reply shows it: 'allowed' or the exact denial text. */
function verdict(v: Value): string {
  if (isErr(v)) return ACL_TEXT.test(v.err) ? v.err : 'allowed';
  if (typeof v === 'string' && ACL_TEXT.test(v) && v.startsWith('This user has no permissions')) return v;
  return 'allowed';
}

/** A DRYRUN reply: OK, the denial text, or an error (compared exactly). */
function dryVerdict(v: Value): string {
  if (v === 'OK') return 'allowed';
  if (isErr(v)) return `error: ${v.err}`;
  return String(v);
}

function logEntries(v: Value): string[] {
  if (!Array.isArray(v)) return [`not a log: ${JSON.stringify(v)}`];
  return v.map((e) => {
    const m = pairs(e);
    return ['count', 'reason', 'context', 'object', 'username'].map((k) => String(m.get(k))).join(' ');
  });
}

// ---- the sweep ------------------------------------------------------------------------------

const CALL_SCRIPT = 'return redis.call(unpack(ARGV))';
const SCRIPT_BATCH = 50;
/**
 * Lua that runs the length-prefixed calls in `args` one by one; `outcome` (Lua code over `call`)
 * turns each into one string of the reply.
 */
const batchBody = (outcome: string): string => `
local out, i = {}, 1
while i <= #args do
  local n, call = tonumber(args[i]), {}
  for j = 1, n do call[j] = args[i + j] end
  i = i + n + 1
  ${outcome}
end
return out`;
/** redis.pcall: '-<error>' or '+' for each call. */
const BATCH_BODY = batchBody(`local r = redis.pcall(unpack(call))
  if type(r) == 'table' and r.err then out[#out + 1] = '-' .. r.err else out[#out + 1] = '+' end`);
const BATCH_SCRIPT = `local args = ARGV ${BATCH_BODY}`;
/** redis.acl_check_cmd: '1', '0' or '-<error>' for each call. */
const CHECK_BATCH_SCRIPT = `local args = ARGV ${batchBody(`local ok, r = pcall(redis.acl_check_cmd, unpack(call))
  if not ok then out[#out + 1] = '-' .. (type(r) == 'table' and r.err or tostring(r))
  else out[#out + 1] = r and '1' or '0' end`)}`;
const LIBRARY =
  "#!lua name=acldiff\nredis.register_function('pc', function(keys, args) return redis.pcall(unpack(args)) end)\n" +
  "redis.register_function('c', function(keys, args) return redis.call(unpack(args)) end)\n" +
  `redis.register_function('pcbatch', function(keys, args) ${BATCH_BODY} end)`;

interface Case {
  name: string;
  argv: string[];
}

/**
 * Runs the sweep for `users` (undefined: all) on a nodis and a redis-server started with
 * `serverArgs`; fails on any difference. `kindsSeen`: also require every kind of denial.
 */
async function sweep(serverArgs: string[], only: string[] | undefined, kindsSeen: boolean): Promise<void> {
  {
    const args = ['--acllog-max-len', '100000', ...serverArgs];
    const [nodis, redis] = await Promise.all([startServer({ args }), startServer({ bin: REDIS_SERVER, args })]);
    const servers = [nodis, redis];
    const admins = servers.map((s) => new Conn(s.port));
    const both = (cmds: string[][]): Promise<Value[][]> => Promise.all(admins.map((a) => a.send(cmds)));

    // The command table, from redis-server.
    const [, redisAdmin] = admins as [Conn, Conn];
    const [docsReply] = await redisAdmin.send([['command', 'docs']]);
    const [infoReply] = await redisAdmin.send([['command', 'info']]);
    const [nodisList] = await admins[0]!.send([['command', 'list']]);
    const nodisHas = new Set(nodisList as string[]);
    const arity = new Map<string, number>();
    const flags = new Map<string, string[]>();
    const walkInfo = (entries: Value): void => {
      for (const e of entries as Value[][]) {
        arity.set(String(e[0]), Number(e[1]));
        flags.set(String(e[0]), e[2] as string[]);
        if (Array.isArray(e[9])) walkInfo(e[9]);
      }
    };
    walkInfo(infoReply!);
    const commands: CommandInfo[] = [];
    const missing: string[] = [];
    const walkDocs = (docs: Map<string, Value>, parent: string | null): void => {
      for (const [name, d] of docs) {
        const m = pairs(d);
        const fullName = parent === null ? name : name;
        const words = fullName.split('|');
        if (m.has('subcommands')) walkDocs(pairs(m.get('subcommands')!), fullName);
        if (parent === null && m.has('subcommands')) continue;
        if (!nodisHas.has(fullName)) {
          missing.push(fullName);
          continue;
        }
        commands.push({ fullName, words, arity: arity.get(fullName)!, flags: flags.get(fullName) ?? [], args: argDocs(m.get('arguments')) });
      }
    };
    walkDocs(pairs(docsReply!), null);
    commands.sort((a, b) => (a.fullName < b.fullName ? -1 : 1));

    const cases: Case[] = [];
    for (const cmd of commands) {
      const seen = new Set<string>();
      for (const variant of ['in', 'out', 'mixed', 'ro', 'wo'] as Variant[]) {
        const g = generate(cmd, variant);
        if (variant !== 'in' && g.keys === 0 && g.channels === 0) break;
        if (variant === 'mixed' && g.keys + g.channels < 2) continue;
        const k = JSON.stringify(g.argv);
        if (!seen.has(k)) cases.push({ name: cmd.fullName, argv: g.argv });
        seen.add(k);
      }
    }
    for (const t of HAND) {
      for (const variant of ['in', 'out', 'mixed', 'ro', 'wo'] as Variant[]) {
        cases.push({ name: t[1] !== undefined && commands.some((c) => c.fullName === `${t[0]}|${t[1]}`) ? `${t[0]}|${t[1]}` : t[0]!, argv: handArgv(t, variant) });
      }
    }

    // Setup on both: data, the FCALL library, the users and their twins per context.
    const setup: string[][] = [
      ['function', 'load', 'replace', LIBRARY],
      ['set', 'secret_x', 's3cr3t'],
      ['rpush', 'foo:0', 'a'],
      ['rpush', 'bar:0', 'a'],
    ];
    const contextUsers: [string, string, string[]][] = [];
    for (const [name, rules] of USERS) {
      contextUsers.push([name, name, rules]);
      contextUsers.push([name, `${name}_m`, [...rules, '+multi', '+exec', '+discard']]);
      contextUsers.push([name, `${name}_s`, [...rules, '+eval', '+fcall']]);
    }
    for (const r of await both(setup)) for (const v of r) assert.ok(!isErr(v), `setup: ${JSON.stringify(v)}`);
    // Creating the users must give the same replies; a user both servers refuse (a selector's
    // channel after acl-pubsub-default allchannels) is left out of the sweep.
    const [creN, creR] = await both(contextUsers.map(([, u, rules]) => ['acl', 'setuser', u, 'reset', 'on', `>${PASS}`, ...rules]));
    assert.deepEqual(creN, creR, 'ACL SETUSER replies');
    const refused = new Set(contextUsers.filter((_, i) => isErr(creR![i]!)).map(([base]) => base));
    // ACL LIST: the same rules; single-command rules come in each server's table order (a
    // documented difference), and nodis has no LOLWUT.
    const [[listN], [listR]] = await both([['acl', 'list']]);
    const sortSingles = (rules: string): string => {
      const words = rules.split(' ').filter((w) => w !== '' && !/^[+-]lolwut$/.test(w));
      const single = words.filter((w) => /^[+-][^@]/.test(w)).sort();
      return [...words.filter((w) => !/^[+-][^@]/.test(w)), ...single].join(' ');
    };
    const normalise = (lines: Value): string[] =>
      (lines as string[]).map((line) => {
        const selectors = [...line.matchAll(/\(([^)]*)\)/g)].map((m) => `(${sortSingles(m[1]!)})`);
        return [sortSingles(line.replace(/ ?\([^)]*\)/g, '')), ...selectors].join(' ');
      });
    assert.deepEqual(normalise(listN!), normalise(listR!), 'ACL LIST after creating the users');

    const differences: string[] = [];
    let compared = 0;
    const contextsSeen = new Set<string>();
    const denials = new Map<string, number>();
    const compare = (context: string, user: string, what: string, a: string, b: string): void => {
      compared++;
      const kind = context === 'acl_check_cmd' ? (b === '"0"' ? 'false' : b === '"1"' ? null : 'error') : /the '[^']*' command|run this command|execute the command/.test(b) ? 'command' : /key|touch the specified/.test(b) ? 'key' : /channel/.test(b) ? 'channel' : /SORT/.test(b) ? 'sort' : null;
      if (kind !== null && b !== 'allowed') denials.set(`${context} ${kind}`, (denials.get(`${context} ${kind}`) ?? 0) + 1);
      contextsSeen.add(context);
      if (a !== b && differences.length < 200) differences.push(`[${context}] ${user}: ${what}\n    nodis: ${a}\n    redis: ${b}`);
    };
    const compareLog = async (context: string, user: string): Promise<void> => {
      const [[ln], [lr]] = await both([['acl', 'log', '100000']]);
      await both([['acl', 'log', 'reset']]);
      const en = logEntries(ln!);
      const er = logEntries(lr!);
      let at = 0;
      while (at < en.length && at < er.length && en[at] === er[at]) at++;
      const around = (l: string[]): string => `${l.length} entries; from #${at}: ${JSON.stringify(l.slice(at, at + 4))}`;
      compare(`${context} ACL LOG`, user, 'entries', at === en.length && at === er.length ? 'same' : around(en), at === en.length && at === er.length ? 'same' : around(er));
    };
    const dryrun = async (user: string): Promise<boolean[]> => {
      const [dn, dr] = await both(cases.map((c) => ['acl', 'dryrun', user, ...c.argv]));
      const denied: boolean[] = [];
      for (let i = 0; i < cases.length; i++) {
        const a = dryVerdict(dn![i]!);
        const b = dryVerdict(dr![i]!);
        compare('dryrun', user, cases[i]!.argv.join(' '), a, b);
        denied.push(a !== 'allowed' && b !== 'allowed');
      }
      return denied;
    };
    const runAs = async (user: string, cmds: string[][]): Promise<Value[][]> => {
      const conns = servers.map((s) => new Conn(s.port));
      try {
        const replies = await Promise.all(conns.map((c) => c.send([['auth', user, PASS], ...cmds])));
        for (const r of replies) assert.equal(r[0], 'OK', `auth ${user}`);
        return replies.map((r) => r.slice(1));
      } finally {
        for (const c of conns) c.close();
      }
    };
    const runnable = (c: Case, denied: boolean): boolean => !NOEXEC.has(c.name) || denied;

    for (const [base, rules] of USERS) {
      if ((only !== undefined && !only.includes(base)) || refused.has(base)) continue;
      await both([['acl', 'log', 'reset']]);

      // ACL DRYRUN and plain calls.
      const denied = await dryrun(base);
      const plain = cases.filter((c, i) => runnable(c, denied[i]!));
      const [pn, pr] = await runAs(base, plain.map((c) => c.argv));
      for (let i = 0; i < plain.length; i++) compare('plain', base, plain[i]!.argv.join(' '), verdict(pn![i]!), verdict(pr![i]!));
      await compareLog('plain', base);

      // MULTI: the check at queue time; EXEC runs what was allowed (DISCARD for the disturbing).
      const mu = `${base}_m`;
      const multi: string[][] = [];
      const inMulti = cases.filter((c) => !LEAVES_CONNECTION.has(c.name));
      for (const c of inMulti) multi.push(['multi'], c.argv, [NOEXEC.has(c.name) ? 'discard' : 'exec']);
      const [mn, mr] = await runAs(mu, multi);
      for (let i = 0; i < inMulti.length; i++) {
        const what = inMulti[i]!.argv.join(' ');
        compare('multi', mu, what, verdict(mn![3 * i + 1]!), verdict(mr![3 * i + 1]!));
        const ex = (v: Value): string => (Array.isArray(v) ? v.map(verdict).join(',') : verdict(v));
        compare('exec', mu, what, ex(mn![3 * i + 2]!), ex(mr![3 * i + 2]!));
      }
      await compareLog('multi', mu);

      // EXEC after the rules changed: queued by an unrestricted user, executed as this one.
      const xu = `${base}_x`;
      await both([['acl', 'setuser', xu, 'reset', 'on', `>${PASS}`, '+@all', '~*', '&*']]);
      const queued = cases.filter((c) => !NOEXEC.has(c.name) && !(flags.get(c.name) ?? []).includes('no_multi') && c.name !== 'exec' && c.name !== 'discard' && c.name !== 'watch' && c.name !== 'unwatch' && c.name !== 'auth' && c.name !== 'hello');
      const xconns = servers.map((s) => new Conn(s.port));
      try {
        const q = await Promise.all(xconns.map((c) => c.send([['auth', xu, PASS], ['multi'], ...queued.map((x) => x.argv)])));
        for (const r of q) for (const v of r) assert.ok(!isErr(v), `queueing as ${xu}: ${JSON.stringify(v)}`);
        await both([['acl', 'setuser', xu, 'reset', 'on', `>${PASS}`, ...rules, '+multi', '+exec']]);
        const [[en], [er]] = await Promise.all(xconns.map((c) => c.send([['exec']])));
        assert.ok(Array.isArray(en) && Array.isArray(er), `EXEC replies ${JSON.stringify(en).slice(0, 200)} / ${JSON.stringify(er).slice(0, 200)}`);
        for (let i = 0; i < queued.length; i++) compare('exec-changed', xu, queued[i]!.argv.join(' '), verdict(en[i]!), verdict(er[i]!));
      } finally {
        for (const c of xconns) c.close();
      }
      await compareLog('exec-changed', xu);

      // Scripts: EVAL and FCALL with redis.pcall, as the caller's user.
      const su = `${base}_s`;
      const sdenied = await dryrun(su);
      const scripted = cases.filter((c, i) => runnable(c, sdenied[i]!));
      // Batches of calls, each prefixed by its length, run by one script each (one EVAL per call
      // costs more than the whole sweep otherwise); each call's outcome comes back on its own.
      const batches = (list: Case[], head: string[]): string[][] => {
        const out: string[][] = [];
        for (let i = 0; i < list.length; i += SCRIPT_BATCH) {
          const args: string[] = [];
          for (const c of list.slice(i, i + SCRIPT_BATCH)) args.push(String(c.argv.length), ...c.argv);
          out.push([...head, ...args]);
        }
        return out;
      };
      const flat = (replies: Value[]): Value[] => replies.flatMap((r) => (Array.isArray(r) ? r : [r]));
      const outcome = (v: Value): string => (typeof v === 'string' && v.startsWith('-') ? verdict({ err: v.slice(1) }) : verdict(v));
      const evalBatches = batches(scripted, ['eval', BATCH_SCRIPT, '0']);
      const fcallBatches = batches(scripted, ['fcall', 'pcbatch', '0']);
      // redis.acl_check_cmd runs nothing, so every case goes through it.
      const checkBatches = batches(cases, ['eval', CHECK_BATCH_SCRIPT, '0']);
      // redis.call raises the denial as the script's error, with the script's location: the first
      // call of each command that both servers deny, by EVAL and by FCALL, compared whole.
      const raisedNames = new Set<string>();
      const raised = cases.filter((c, i) => sdenied[i]! && !raisedNames.has(c.name) && raisedNames.add(c.name) !== undefined);
      const callCalls: string[][] = [];
      for (const c of raised) callCalls.push(['eval', CALL_SCRIPT, '0', ...c.argv], ['fcall', 'c', '0', ...c.argv]);
      const [sn, sr] = await runAs(su, [...evalBatches, ...fcallBatches, ...checkBatches, ...callCalls]);
      const part = (r: Value[], from: number, n: number): Value[] => r.slice(from, from + n);
      const [en, er] = [flat(part(sn!, 0, evalBatches.length)), flat(part(sr!, 0, evalBatches.length))];
      const [fn, fr] = [flat(part(sn!, evalBatches.length, fcallBatches.length)), flat(part(sr!, evalBatches.length, fcallBatches.length))];
      const checkFrom = evalBatches.length + fcallBatches.length;
      const [cn, cr] = [flat(part(sn!, checkFrom, checkBatches.length)), flat(part(sr!, checkFrom, checkBatches.length))];
      for (let i = 0; i < scripted.length; i++) {
        const what = scripted[i]!.argv.join(' ');
        compare('eval', su, what, outcome(en[i] ?? null), outcome(er[i] ?? null));
        compare('fcall', su, what, outcome(fn[i] ?? null), outcome(fr[i] ?? null));
      }
      for (let i = 0; i < cases.length; i++) {
        compare('acl_check_cmd', su, cases[i]!.argv.join(' '), JSON.stringify(cn[i]), JSON.stringify(cr[i]));
      }
      const callFrom = checkFrom + checkBatches.length;
      for (let i = 0; i < raised.length; i++) {
        const what = raised[i]!.argv.join(' ');
        compare('eval redis.call', su, what, JSON.stringify(sn![callFrom + 2 * i]), JSON.stringify(sr![callFrom + 2 * i]));
        compare('fcall redis.call', su, what, JSON.stringify(sn![callFrom + 2 * i + 1]), JSON.stringify(sr![callFrom + 2 * i + 1]));
      }
      await compareLog('script', su);
    }

    const userCount = USERS.filter(([u]) => (only === undefined || only.includes(u)) && !refused.has(u)).length;
    const summary =
      `ACL differential${serverArgs.length > 0 ? ` (${serverArgs.join(' ')})` : ''}: ${commands.length} commands and subcommands (${cases.length} argvs) × ${userCount} users × ` +
      `${contextsSeen.size} contexts (${[...contextsSeen].filter((c) => !c.endsWith('LOG')).join(', ')} + ACL LOG): ` +
      `${compared} comparisons, ${differences.length} differences` +
      (missing.length > 0 ? `; not in nodis: ${missing.join(', ')}` : '') +
      (refused.size > 0 ? `; users both servers refuse: ${[...refused].join(', ')}` : '');
    console.log(summary);
    console.log(`redis-server's denials by context and kind: ${JSON.stringify(Object.fromEntries([...denials].sort()))}`);
    assert.deepEqual(differences, [], summary);
    assert.ok(commands.length > 300, `only ${commands.length} commands`);
    // The sweep saw every kind of denial in every context (a harness that allowed all would not).
    if (kindsSeen) {
      for (const context of ['dryrun', 'plain', 'multi', 'eval', 'fcall', 'exec-changed']) {
        for (const kind of ['command', 'key', 'channel']) assert.ok((denials.get(`${context} ${kind}`) ?? 0) > 0, `no ${kind} denials in ${context}`);
      }
      assert.ok((denials.get('acl_check_cmd false') ?? 0) > 0, 'redis.acl_check_cmd never said no');
      for (const context of ['plain', 'exec', 'eval']) assert.ok((denials.get(`${context} sort`) ?? 0) > 0, `no SORT denials in ${context}`);
    }
    for (const a of admins) a.close();
  }
}

describe('ACL equals redis-server on every command (differential)', () => {
  after(() => stopAll());
  const chosen = process.env.ACL_DIFF_USERS ?? CI_USERS.join(',');
  const only = chosen === 'all' ? undefined : chosen.split(',');

  it('the same allow/deny, error text and ACL LOG for every command × user × context', { timeout: 600000 }, async () => {
    await sweep([], only, only === undefined || chosen === CI_USERS.join(','));
  });

  it('the same with acl-pubsub-default allchannels (users without channel rules get &*)', { timeout: 600000 }, async () => {
    await sweep(['--acl-pubsub-default', 'allchannels'], only === undefined ? undefined : ['nochan'], false);
  });

  it('subscribers whose channels are revoked are disconnected, as by redis-server', { timeout: 60000 }, async () => {
    const servers = await Promise.all([startServer(), startServer({ bin: REDIS_SERVER })]);
    const run = async (port: number): Promise<string[]> => {
      const admin = new Conn(port);
      const out: string[] = [];
      const setuser = async (...rules: string[]): Promise<void> => {
        out.push(JSON.stringify(await admin.send([['acl', 'setuser', 'ps', ...rules]])));
      };
      await setuser('reset', 'on', '>p', '+@all', '~*', 'resetchannels', '&chan*');
      const subs: [string, string[]][] = [
        ['subscribe chan:1', ['subscribe', 'chan:1']],
        ['psubscribe chan*', ['psubscribe', 'chan*']],
        ['ssubscribe chan:2', ['ssubscribe', 'chan:2']],
        ['psubscribe chan:1', ['psubscribe', 'chan:1']],
        ['not subscribed', ['ping']],
      ];
      const conns: Conn[] = [];
      for (const [, cmd] of subs) {
        const c = new Conn(port);
        out.push(JSON.stringify(await c.send([['auth', 'ps', PASS], cmd])));
        conns.push(c);
      }
      const alive = async (step: string): Promise<void> => {
        for (let i = 0; i < conns.length; i++) {
          const state = await conns[i]!.send([['ping']]).then(() => 'alive', () => 'closed');
          out.push(`${step}: ${subs[i]![0]} ${state}`);
        }
      };
      await setuser('&news*');
      await alive('a channel added');
      await setuser('resetchannels', '&chan:1', '&chan:2');
      await alive('chan* narrowed to chan:1 chan:2');
      await setuser('allchannels');
      await alive('allchannels');
      await setuser('resetchannels');
      await alive('resetchannels');
      await setuser('+@all');
      const late = new Conn(port);
      out.push(JSON.stringify(await late.send([['auth', 'ps', PASS], ['subscribe', 'chan:1'], ['ping']])));
      out.push(JSON.stringify(await admin.send([['acl', 'log']]).then((r) => logEntries(r[0]!))));
      for (const c of [...conns, late, admin]) c.close();
      return out;
    };
    const [mine, theirs] = await Promise.all(servers.map((s) => run(s.port)));
    assert.deepEqual(mine, theirs);
    assert.ok(theirs.includes('chan* narrowed to chan:1 chan:2: psubscribe chan* closed'), theirs.join('\n'));
    assert.ok(theirs.includes('chan* narrowed to chan:1 chan:2: subscribe chan:1 alive'), theirs.join('\n'));
  });
});
