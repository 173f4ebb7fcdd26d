/**
 * DEBUG: the test and diagnostics backdoor (debug.c). Refused unless `enable-debug-command`
 * allows it (a precheck installed by `install(server)`, with Redis's exact message).
 *
 * Subcommands that need other subsystems go through `debugHooks`, which those subsystems set:
 * RELOAD and LOADAOF (persistence), CHANGE-REPL-ID (replication). Without a hook they answer
 * an error instead of pretending. Tunables that data types read (QUICKLIST-PACKED-THRESHOLD,
 * SET-SKIP-CHECKSUM-VALIDATION) live in `debugTunables`.
 */
import { idleMs } from '../keyspace/access.js';
import type { CommandHandlers, CommandSpec } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';
import { isStringValue, stringLength, stringOf, type RedisValue } from '../types/value.js';
import { NO_SUCH_KEY, NOT_INTEGER } from '../protocol/errors.js';
import { parseDouble, parseInteger } from '../protocol/args.js';
import { replyHelp, subcommandSyntaxError } from './help.js';
import { clusterRuntime } from '../cluster/install.js';
import { datasetDigest, valueDigest } from '../keyspace/digest.js';
import { encodingOf, estimateValueSize } from './object.js';
import { debugHooks, debugTunables } from '../server/debug-hooks.js';
import { changeDefaultReplId } from './info.js';
import { rewriteConfigFile } from '../config/rewrite.js';
import { strerror } from '../config/directives.js';
import { debugSegfault, serverAssert, serverPanic } from '../server/crash.js';
import { withEventsWhileLoading } from '../persistence/loading.js';
import { beginBusy, endBusy, processEventsWhileBlocked } from '../scripting/busy.js';

const HELP = [
  'AOF-FLUSH-SLEEP <microsec>',
  '    Server will sleep before flushing the AOF, this is used for testing.',
  'ASSERT',
  '    Crash by assertion failed.',
  'CHANGE-REPL-ID',
  '    Change the replication IDs of the instance.',
  '    Dangerous: should be used only for testing the replication subsystem.',
  'CONFIG-REWRITE-FORCE-ALL',
  '    Like CONFIG REWRITE but writes all configuration options, including',
  '    keywords not listed in original configuration file or default values.',
  'CRASH-AND-RECOVER [<milliseconds>]',
  '    Hard crash and restart after a <milliseconds> delay (default 0).',
  'DIGEST',
  '    Output a hex signature representing the current DB content.',
  'DIGEST-VALUE <key> [<key> ...]',
  '    Output a hex signature of the values of all the specified keys.',
  'ERROR <string>',
  '    Return a Redis protocol error with <string> as message. Useful for clients',
  '    unit tests to simulate Redis errors.',
  'LEAK <string>',
  '    Create a memory leak of the input string.',
  'LOG <message>',
  '    Write <message> to the server log.',
  'HTSTATS <dbid>',
  '    Return hash table statistics of the specified Redis database.',
  'HTSTATS-KEY <key>',
  '    Like HTSTATS but for the hash table stored at <key>\'s value.',
  'LOADAOF',
  '    Flush the AOF buffers on disk and reload the AOF in memory.',
  'REPLICATE <string>',
  '    Replicates the provided string to replicas, allowing data divergence.',
  'OBJECT <key>',
  '    Show low level info about `key` and associated value.',
  'DROP-CLUSTER-PACKET-FILTER <packet-type>',
  '    Drop all packets that match the filtered type. Set to -1 allow all packets.',
  'OOM',
  '    Crash the server simulating an out-of-memory error.',
  'PANIC',
  '    Crash the server simulating a panic.',
  'POPULATE <count> [<prefix>] [<size>]',
  '    Create <count> string keys named key:<num>. If <prefix> is specified then',
  '    it is used instead of the \'key\' prefix. These are not propagated to',
  '    replicas. Cluster slots are not respected so keys not belonging to the',
  '    current node can be created in cluster mode.',
  'PROTOCOL <type>',
  '    Reply with a test value of the specified type. <type> can be: string,',
  '    integer, double, bignum, null, array, set, map, attrib, push, verbatim,',
  '    true, false.',
  'RELOAD [option ...]',
  '    Save the RDB on disk and reload it back to memory. Valid <option> values:',
  '    * MERGE: conflicting keys will be loaded from RDB.',
  '    * NOFLUSH: the existing database will not be removed before load, but',
  '      conflicting keys will generate an exception and kill the server.',
  '    * NOSAVE: the database will be loaded from an existing RDB file.',
  '    Examples:',
  '    * DEBUG RELOAD: verify that the server is able to persist, flush and reload',
  '      the database.',
  '    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an',
  '      existing RDB file.',
  '    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB',
  '      file to the database.',
  'RESTART [<milliseconds>]',
  '    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).',
  'SDSLEN <key>',
  '    Show low level SDS string info representing `key` and value.',
  'SEGFAULT',
  '    Crash the server with sigsegv.',
  'SET-ACTIVE-EXPIRE <0|1>',
  '    Setting it to 0 disables expiring keys in background when they are not',
  '    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the',
  '    default.',
  'QUICKLIST-PACKED-THRESHOLD <size>',
  '    Sets the threshold for elements to be inserted as plain vs packed nodes',
  '    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.',
  'SET-SKIP-CHECKSUM-VALIDATION <0|1>',
  '    Enables or disables checksum checks for RDB files and RESTORE\'s payload.',
  'SLEEP <seconds>',
  '    Stop the server for <seconds>. Decimals allowed.',
  'STRINGMATCH-TEST',
  '    Run a fuzz tester against the stringmatchlen() function.',
  'STRUCTSIZE',
  '    Return the size of different Redis core C structures.',
  'LISTPACK <key>',
  '    Show low level info about the listpack encoding of <key>.',
  'QUICKLIST <key> [<0|1>]',
  '    Show low level info about the quicklist encoding of <key>.',
  '    The optional argument (0 by default) sets the level of detail',
  'CLIENT-EVICTION',
  '    Show low level client eviction pools info (maxmemory-clients).',
  'PAUSE-CRON <0|1>',
  '    Stop periodic cron job processing.',
  'REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>',
  '    Sets the time (in milliseconds) to wait between client reply buffer peak resets.',
  '    In case NEVER is provided the last observed peak will never be reset',
  '    In case RESET is provided the peak reset time will be restored to the default value',
  'REPLYBUFFER RESIZING <0|1>',
  '    Enable or disable the reply buffer resize cron job',
  'CLUSTERLINK KILL <to|from|all> <node-id>',
  '    Kills the link based on the direction to/from (both) with the provided node.',
];

/** C's atoi: leading whitespace, optional sign, digits; 0 when none. */
function atoi(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number(m[1]);
}

/** Blocks the event loop, as DEBUG SLEEP blocks Redis's main thread. */
function sleepSync(ms: number): void {
  if (ms <= 0) return;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** rdbSavedObjectLen, approximately: the bytes the value would take in an RDB file. */
function serializedLength(v: RedisValue): number {
  const lenBytes = (n: number): number => (n < 64 ? 1 : n < 16384 ? 2 : n <= 0xffffffff ? 5 : 9);
  if (isStringValue(v)) {
    const s = stringOf(v);
    if (/^-?\d+$/.test(s) && s.length <= 11) {
      const n = Number(s);
      if (n >= -128 && n <= 127) return 2;
      if (n >= -32768 && n <= 32767) return 3;
      if (n >= -2147483648 && n <= 2147483647) return 5;
    }
    return lenBytes(s.length) + s.length;
  }
  return estimateValueSize(v, 5);
}

/** DEBUG OBJECT's address: stable per value for the life of the process. */
const addresses = new WeakMap<object, number>();
let nextAddress = 0x7f0000000000;
function addressOf(v: RedisValue): string {
  if (typeof v !== 'object') return `0x${(0x7f1000000000 + (stringLength(v) & 0xffff) * 16).toString(16)}`;
  let a = addresses.get(v);
  if (a === undefined) addresses.set(v, (a = nextAddress += 64));
  return `0x${a.toString(16)}`;
}

function debugObject(c: Client): void {
  const key = c.argv[2]!;
  const v = c.db.dict.get(key);
  if (v === undefined) {
    c.reply.error(NO_SUCH_KEY);
    return;
  }
  const extra = !isStringValue(v) && typeof v.debugObjectExtra === 'function' ? v.debugObjectExtra() : '';
  // The key's access record as Redis prints its `lru` field, and the idle time read from it.
  const record = c.db.access.get(key);
  const lru = record ?? c.server.access.epoch;
  const idle = Math.floor(idleMs(c.server.access, record) / 1000);
  c.reply.status(
    `Value at:${addressOf(v)} refcount:1 encoding:${encodingOf(v)} serializedlength:${serializedLength(v)} lru:${lru} lru_seconds_idle:${idle}${extra}`,
  );
}

/**
 * dictGetStats's text for a table of `elements` entries. nodis's tables are V8 Maps, whose
 * bucket layout is not observable: for the keyspace, the table size is the one Redis's dict
 * would have (KeyDict.tableSize, a model); chain lengths and a rehashing target are never
 * reported (docs/COMPATIBILITY.md).
 */
function tableStats(elements: number, tableSize: number | null = null): string {
  const header = 'Hash table 0 stats (main hash table):\n';
  if (elements === 0) return `${header}No stats available for empty dictionaries\n`;
  const size = tableSize === null ? '' : ` table size: ${tableSize}\n`;
  return `${header}${size} number of elements: ${elements}\n`;
}

/** DEBUG HTSTATS <dbid>: the keyspace and expires tables of one database. */
function debugHtstats(c: Client): void {
  const dbid = parseInteger(c.argv[2]!);
  if (dbid === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  const db = c.server.dbs[dbid];
  if (db === undefined) {
    c.reply.error('ERR Out of range database');
    return;
  }
  c.reply.verbatim(`[Dictionary HT]\n${tableStats(db.dict.size, db.dict.tableSize)}[Expires HT]\n${tableStats(db.expires.size, db.expires.tableSize)}`);
}

/** DEBUG HTSTATS-KEY <key>: the hash table of a hashtable- or skiplist-encoded value. */
function debugHtstatsKey(c: Client): void {
  const v = c.db.dict.get(c.argv[2]!);
  if (v === undefined) {
    c.reply.error(NO_SUCH_KEY);
    return;
  }
  const encoding = encodingOf(v);
  if (isStringValue(v) || (encoding !== 'hashtable' && encoding !== 'skiplist')) {
    c.reply.error('ERR The value stored at the specified key is not represented using an hash table');
    return;
  }
  c.reply.verbatim(tableStats(v.size()));
}

function debugProtocol(c: Client): void {
  const r = c.reply;
  switch (c.argv[2]!.toLowerCase()) {
    case 'string':
      r.bulk('Hello World');
      return;
    case 'integer':
      r.integer(12345);
      return;
    case 'double':
      r.double(3.141);
      return;
    case 'bignum':
      r.bigNumber('1234567999999999999999999999999999999');
      return;
    case 'null':
      r.nullBulk();
      return;
    case 'array':
      r.array(3);
      for (let j = 0; j < 3; j++) r.integer(j);
      return;
    case 'set':
      r.set(3);
      for (let j = 0; j < 3; j++) r.integer(j);
      return;
    case 'map':
      r.map(3);
      for (let j = 0; j < 3; j++) {
        r.integer(j);
        r.bool(j === 1);
      }
      return;
    case 'attrib':
      if (r.proto === 3) {
        r.rawString('|1\r\n');
        r.bulk('key-popularity');
        r.array(2);
        r.bulk('key:123');
        r.integer(90);
      }
      r.bulk('Some real reply following the attribute');
      return;
    case 'push':
      if (r.proto < 3) {
        r.error('ERR RESP2 is not supported by this command');
        return;
      }
      r.push(2);
      r.bulk('server-cpu-usage');
      r.integer(42);
      r.bulk('Some real reply following the push reply');
      return;
    case 'true':
      r.bool(true);
      return;
    case 'false':
      r.bool(false);
      return;
    case 'verbatim':
      r.verbatim('This is a verbatim\nstring');
      return;
    default:
      r.error(
        'ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false',
      );
  }
}

function debugPopulate(c: Client): void {
  const argv = c.argv;
  const count = parseInteger(argv[2]!);
  if (count === null || count < 0) {
    c.reply.error(count === null ? NOT_INTEGER : 'ERR value is out of range, must be positive');
    return;
  }
  let valsize = 0;
  if (argv.length === 5) {
    const n = parseInteger(argv[4]!);
    if (n === null || n < 0) {
      c.reply.error(n === null ? NOT_INTEGER : 'ERR value is out of range, must be positive');
      return;
    }
    valsize = n;
  }
  const prefix = argv.length >= 4 ? argv[3]! : 'key';
  const db = c.db;
  for (let j = 0; j < count; j++) {
    const key = `${prefix}:${j}`;
    if (db.lookup(key) !== undefined) continue;
    let val = `value:${j}`;
    if (valsize !== 0) val = valsize <= val.length ? val.slice(0, valsize) : val + '\0'.repeat(valsize - val.length);
    db.set(key, val);
    // Like Redis: WATCH sees the keys, but nothing is propagated (dirty is not touched).
    db.signalModified(key);
  }
  c.reply.ok();
}

/** memtoull: a memory value like "1gb", "100mb", "4096". Returns null when malformed. */
function parseMemory(s: string): number | null {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(s);
  if (m === null) return null;
  const units: Record<string, number> = { b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]!;
}

/** DEBUG CLUSTERLINK KILL <to|from|all> <node-id>: frees the bus links as debug.c does; clusterCron reconnects. */
function debugClusterLinkKill(c: Client): void {
  const cluster = clusterRuntime(c.server);
  if (cluster === null) return c.reply.error('ERR Debug option only available for cluster mode enabled setup!');
  const name = c.argv[4]!;
  const node = cluster.state.lookup(name);
  if (node === null) return c.reply.error(`ERR Unknown node ${name}`);
  const dir = c.argv[3]!.toLowerCase();
  const kill = (link: typeof node.link): void => {
    if (link !== null) cluster.state.freeLink(link);
  };
  if (dir === 'from') kill(node.inboundLink);
  else if (dir === 'to') kill(node.link);
  else if (dir === 'all') {
    kill(node.link);
    kill(node.inboundLink);
  } else return c.reply.error(`ERR Unknown direction ${c.argv[3]!}`);
  c.reply.ok();
}

function debug(c: Client): void {
  const argv = c.argv;
  const argc = argv.length;
  const sub = argv[1]!.toLowerCase();
  const server = c.server;
  const r = c.reply;
  if (sub === 'help' && argc === 2) {
    replyHelp(c, HELP);
  } else if (sub === 'log' && argc === 3) {
    server.log.warning(`DEBUG LOG: ${argv[2]}`);
    r.ok();
  } else if (sub === 'leak' && argc === 3) {
    r.ok();
  } else if (sub === 'sleep' && argc === 3) {
    const secs = parseDouble(argv[2]!) ?? 0;
    sleepSync(Math.floor(secs * 1e6) / 1000);
    r.ok();
  } else if (sub === 'drop-cluster-packet-filter' && argc === 3) {
    const type = /^-?\d+$/.test(argv[2]!) ? Number(argv[2]) : NaN;
    if (!Number.isSafeInteger(type)) return r.error('ERR value is not an integer or out of range');
    const cluster = clusterRuntime(server);
    if (cluster !== null) cluster.state.dropPacketFilter = type;
    r.ok();
  } else if (sub === 'clusterlink' && argc === 5 && argv[2]!.toLowerCase() === 'kill') {
    debugClusterLinkKill(c);
  } else if (sub === 'set-active-expire' && argc === 3) {
    server.settings.activeExpireEnabled = atoi(argv[2]!) !== 0;
    r.ok();
  } else if (sub === 'quicklist-packed-threshold' && argc === 3) {
    const sz = parseMemory(argv[2]!);
    if (sz === null || sz > 4 * 1024 ** 3) {
      r.error('ERR argument must be a memory value bigger than 1 and smaller than 4gb');
    } else {
      debugTunables.quicklistPackedThreshold = sz === 0 ? 1 << 30 : sz;
      r.ok();
    }
  } else if (sub === 'set-skip-checksum-validation' && argc === 3) {
    debugTunables.skipChecksumValidation = atoi(argv[2]!) !== 0;
    r.ok();
  } else if (sub === 'aof-flush-sleep' && argc === 3) {
    debugTunables.aofFlushSleepUs = atoi(argv[2]!);
    r.ok();
  } else if (sub === 'set-disable-deny-scripts' && argc === 3) {
    debugTunables.disableDenyScripts = atoi(argv[2]!) !== 0;
    r.ok();
  } else if (sub === 'object' && argc === 3) {
    debugObject(c);
  } else if (sub === 'htstats' && argc === 3) {
    debugHtstats(c);
  } else if (sub === 'htstats-key' && argc === 3) {
    debugHtstatsKey(c);
  } else if (sub === 'populate' && argc >= 3 && argc <= 5) {
    debugPopulate(c);
  } else if (sub === 'digest' && argc === 2) {
    r.status(datasetDigest(server.dbs));
  } else if (sub === 'digest-value' && argc >= 2) {
    r.array(argc - 2);
    for (let j = 2; j < argc; j++) r.status(valueDigest(c.db, argv[j]!));
  } else if (sub === 'protocol' && argc === 3) {
    debugProtocol(c);
  } else if (sub === 'error' && argc === 3) {
    // The text goes out as the error line itself (no "ERR " prefix added).
    r.error(argv[2]!);
  } else if (sub === 'change-repl-id' && argc === 2) {
    server.log.warning('Changing replication IDs after receiving DEBUG change-repl-id');
    if (debugHooks.changeReplId !== null) debugHooks.changeReplId(server);
    else changeDefaultReplId(server);
    r.ok();
  } else if (sub === 'replicate' && argc >= 3) {
    debugHooks.replicate?.(server, argv.slice(2));
    r.ok();
  } else if (sub === 'stringmatch-test' && argc === 2) {
    r.status('Apparently Redis did not crash: test passed');
  } else if (sub === 'config-rewrite-force-all' && argc === 2) {
    // Every directive is written, defaults included (tests use it to check the file parses).
    if (server.configFile === '') {
      r.error('ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address');
      return;
    }
    try {
      rewriteConfigFile(server.configFile, server.config, { sentinelMode: server.log.role === 'X', forceWrite: true });
      r.ok();
    } catch (e) {
      r.error(`ERR CONFIG-REWRITE-FORCE-ALL failed: ${strerror(e)}`);
    }
  } else if (sub === 'segfault') {
    // nodis cannot fault on purpose: it takes the path a fatal signal takes (report, then death).
    debugSegfault(server);
  } else if (sub === 'panic') {
    serverPanic(server, `DEBUG PANIC called at Unix time ${Math.floor(server.clock.now() / 1000)}`);
  } else if (sub === 'assert') {
    serverAssert(server, '1 == 2');
  } else if (sub === 'jmap') {
    r.ok();
  } else if (sub === 'pause-cron' && argc === 3) {
    if (atoi(argv[2]!) !== 0) server.stopCron();
    else server.startCron();
    r.ok();
  } else if (sub === 'replybuffer' && argc === 4) {
    // nodis's reply buffers have no peak-reset or resize cron to tune.
    const what = argv[2]!.toLowerCase();
    if (what === 'peak-reset-time' || what === 'resizing') r.ok();
    else r.error('ERR Syntax error');
  } else if (sub === 'reload') {
    const opts = { merge: false, flush: true, save: true };
    for (let j = 2; j < argc; j++) {
      const o = argv[j]!.toLowerCase();
      if (o === 'merge') opts.merge = true;
      else if (o === 'noflush') opts.flush = false;
      else if (o === 'nosave') opts.save = false;
      else {
        r.error('ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.');
        return;
      }
    }
    if (debugHooks.reload === null) {
      r.error('ERR DEBUG RELOAD is not available: this server has no RDB persistence');
      return;
    }
    const reload = debugHooks.reload;
    const err = whileServingOthers(c, () => reload(c, opts));
    if (err !== null) r.error(err);
    else {
      server.log.warning('DB reloaded by DEBUG RELOAD');
      r.ok();
    }
  } else if (sub === 'loadaof') {
    if (debugHooks.loadAof === null) {
      r.error('ERR DEBUG LOADAOF is not available: this server has no AOF persistence');
      return;
    }
    const loadAof = debugHooks.loadAof;
    const err = whileServingOthers(c, () => loadAof(c));
    if (err !== null) r.error(err);
    else {
      server.dirtySaved(server.dirty);
      c.preventPropagation = true;
      server.log.warning('Append Only File loaded by DEBUG LOADAOF');
      r.ok();
    }
  } else {
    subcommandSyntaxError(c);
  }
}

/** allowProtectedAction: "yes", or "local" for loopback and unix-socket clients. */
function allowProtectedAction(setting: string, c: Client): boolean {
  if (setting === 'yes') return true;
  if (setting !== 'local') return false;
  const ra = c.remoteAddress;
  return ra === undefined || ra === '127.0.0.1' || ra === '::1' || ra === '::ffff:127.0.0.1' || c.fake;
}

/**
 * Refuses the PROTECTED commands — DEBUG, and MODULE LOAD/LOADEX/UNLOAD — unless
 * enable-debug-command / enable-module-command allow them (processCommand in server.c).
 */
export function install(server: Server): void {
  server.hooks.protectedCommandError = (c: Client, spec: CommandSpec): string | null => {
    if (!spec.isProtected) return null;
    const top = spec.parent?.name ?? spec.name;
    const [name, option] = top === 'debug' ? ['DEBUG', 'enable-debug-command'] : top === 'module' ? ['MODULE', 'enable-module-command'] : [null, null];
    if (name === null || allowProtectedAction(server.config.getString(option), c)) return null;
    return `ERR ${name} command not allowed. If the ${option} option is set to "local", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.`;
  };
}

export const commands: CommandHandlers = { debug };

/**
 * Runs a synchronous load (DEBUG RELOAD / LOADAOF) while other clients are served between its
 * slices, as Redis's processEventsWhileBlocked: they get -LOADING, INFO, PING, new connections.
 */
function whileServingOthers<T>(c: Client, load: () => T): T {
  const server = c.server;
  let began = false;
  const events = (): void => {
    if (!began) {
      beginBusy(server); // accept new connections from the next slice on
      began = true;
    }
    processEventsWhileBlocked(server, c);
  };
  try {
    return withEventsWhileLoading(server, events, load);
  } finally {
    if (began) endBusy(server);
  }
}
