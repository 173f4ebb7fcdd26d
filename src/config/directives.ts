/**
 * Every redis.conf directive of Redis 7.0.15 (config.c's standardConfig table, in its order),
 * with Redis's defaults as CONFIG GET prints them, types, ranges, aliases and flags. Directives
 * that only the config-file loader knows (include, rename-command, user, loadmodule, sentinel)
 * are handled by config/load.ts.
 *
 * `active: false` marks directives whose feature nodis does not have yet: they are validated
 * and stored like Redis does (so CONFIG GET/SET/REWRITE round-trip), and start-up warns once
 * when one is set to a non-default value.
 */
import type { ConfigDef, ConfigValue, SpecialContext } from './registry.js';
import { ConfigError } from './registry.js';

const MB = 1024 * 1024;
const INT_MAX = 2147483647;
const INT_MIN = -2147483648;
const UINT_MAX = 4294967295n;
const LONG_MAX = 9223372036854775807n;
const LLONG_MAX = LONG_MAX;
const ULLONG_MAX = 18446744073709551615n;
const SSIZE_MAX = LONG_MAX;

type Extra = Partial<ConfigDef>;
const inert: Extra = { active: false };
/** VOLATILE_CONFIG: a file path that CONFIG SET reloads even when unchanged. */
const volatile: Extra = { volatile: true };

const bool = (name: string, dflt: boolean, extra: Extra = {}): ConfigDef => ({
  name, type: 'bool', default: dflt ? 'yes' : 'no', ...extra,
});
/** Signed integers (int, long, long long, time_t, off_t in config.c). */
const int = (name: string, dflt: number, min: number | bigint, max: number | bigint, extra: Extra = {}): ConfigDef => ({
  name, type: 'int', default: String(dflt), min, max, ...extra,
});
/** Unsigned integers (unsigned int, size_t): negative input wraps and fails the range check. */
const uint = (name: string, dflt: number, min: number | bigint, max: number | bigint, extra: Extra = {}): ConfigDef =>
  int(name, dflt, min, max, { unsigned: true, ...extra });
const mem = (name: string, dflt: number, min: number | bigint, max: number | bigint, extra: Extra = {}): ConfigDef => ({
  name, type: 'memory', default: String(dflt), min, max, ...extra,
});
/** String directives; `emptyIsNull` ones are "unset" when empty (CONFIG REWRITE drops them). */
const str = (name: string, dflt: string, extra: Extra = {}): ConfigDef => ({
  name, type: 'string', default: dflt, ...extra,
});
const strNull = (name: string, extra: Extra = {}): ConfigDef => str(name, '', { emptyIsNull: true, ...extra });
const enm = (name: string, dflt: string, values: string[], extra: Extra = {}): ConfigDef => ({
  name, type: 'enum', default: dflt, enumValues: values, ...extra,
});
const special = (name: string, dflt: string, parse: ConfigDef['parse'], extra: Extra = {}): ConfigDef => ({
  name, type: 'special', default: dflt, parse, ...extra,
});

// ---- Validators (config.c's is_valid_fn) --------------------------------------------------------

const baseName = (what: string, kind: string, allowEmpty: boolean) => (v: ConfigValue): string | null => {
  const s = String(v);
  if (!allowEmpty && s === '') return `${what} can't be empty`;
  if (s.includes('/')) return `${what} can't be a path, just a ${kind}`;
  return null;
};

const shutdownFlags = (v: ConfigValue): string | null => {
  const words = String(v).split(' ');
  return words.includes('save') && words.includes('nosave') ? "shutdown options SAVE and NOSAVE can't be used simultaneously" : null;
};

const hostname = (v: ConfigValue): string | null => {
  const s = String(v);
  if (s.length >= 256) return 'Hostnames must be less than 256 characters';
  if (!/^[A-Za-z0-9.-]*$/.test(s)) return 'Hostnames may only contain alphanumeric characters, hyphens or dots';
  return null;
};

const PROC_TITLE_VARS = new Set(['title', 'listen-addr', 'server-mode', 'port', 'tls-port', 'unixsocket', 'config-file']);
const procTitleTemplate = (v: ConfigValue): string | null => {
  const s = String(v);
  const bad = 'template format is invalid or contains unknown variables';
  // Every {variable} must be known and no brace may be left unpaired.
  const rest = s.replace(/\{([^{}]*)\}/g, (_m, name: string) => (PROC_TITLE_VARS.has(name) ? '' : '{'));
  if (/[{}]/.test(rest)) return bad;
  // Expanded with an empty title, the template must still say something.
  const expanded = s.replace(/\{title\}/g, '').replace(/\{[^{}]*\}/g, 'x');
  return expanded.trim() === '' ? bad : null;
};

// nodis has no active defragmentation, like a Redis built without jemalloc (Debian's build).
const noDefrag = (v: ConfigValue): string | null =>
  v === true
    ? 'Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution'
    : null;

/** Redis clamps hz to 1..500 instead of refusing (updateHZ). */
const clampHz = (v: ConfigValue): ConfigValue => Math.min(500, Math.max(1, v as number));

// ---- Special directives -------------------------------------------------------------------------

/** strtoll with an end-pointer check: optional spaces and sign, then digits to the end. */
function strtollStrict(s: string): number | null {
  if (s === '') return 0;
  if (!/^\s*[+-]?\d+$/.test(s)) return null;
  return Number(s.trim());
}

/** `save <seconds> <changes> [...]`, or `save ""` to disable. */
function parseSave(args: string[], ctx: SpecialContext): string {
  let words = args;
  if (words.length === 1 && words[0] === '') words = [];
  if (words.length % 2 !== 0) throw new ConfigError('Invalid save parameters');
  const pairs: string[] = [];
  for (let j = 0; j < words.length; j++) {
    const n = strtollStrict(words[j]!);
    if (n === null || (j % 2 === 0 && n < 1) || (j % 2 === 1 && n < 0)) throw new ConfigError('Invalid save parameters');
    pairs.push(String(n));
  }
  // In a config file `save` lines accumulate, but the first one replaces the defaults.
  if (ctx.loading && !ctx.firstInFile && !(args.length === 1 && args[0] === '')) {
    return [ctx.current, ...pairs].filter((s) => s !== '').join(' ');
  }
  return pairs.join(' ');
}

/** Output buffer classes in Redis's order, with the name CONFIG GET prints. */
const OBUF_CLASSES = ['normal', 'slave', 'pubsub'] as const;
export const OBUF_DEFAULT = 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60';

function memtoull(w: string): number | null {
  const m = /^(\d*)(b|k|kb|m|mb|g|gb|)$/i.exec(w);
  if (!m) return null;
  const units: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1024, m: 1e6, mb: MB, g: 1e9, gb: 1024 * MB };
  return Number(m[1] === '' ? 0 : m[1]) * units[m[2]!.toLowerCase()]!;
}

/** `client-output-buffer-limit <class> <hard> <soft> <soft-seconds> [...]`, merged per class. */
function parseObuf(args: string[], ctx: SpecialContext): string {
  if (args.length % 4 !== 0) throw new ConfigError('Wrong number of arguments in buffer limit configuration.');
  const current = new Map<string, string[]>();
  const cur = ctx.current.split(' ');
  for (let i = 0; i + 3 < cur.length; i += 4) current.set(cur[i]!, cur.slice(i + 1, i + 4));
  const updates = new Map<string, string[]>();
  for (let i = 0; i < args.length; i += 4) {
    let cls = args[i]!.toLowerCase();
    if (cls === 'replica') cls = 'slave';
    if (!(OBUF_CLASSES as readonly string[]).includes(cls)) {
      throw new ConfigError('Invalid client class specified in buffer limit configuration.');
    }
    const hard = memtoull(args[i + 1]!);
    const soft = memtoull(args[i + 2]!);
    const secs = strtollStrict(args[i + 3]!);
    if (hard === null || soft === null || secs === null || secs < 0 || /^\s/.test(args[i + 3]!)) {
      throw new ConfigError('Error in hard, soft or soft_seconds setting in buffer limit configuration.');
    }
    updates.set(cls, [String(hard), String(soft), String(secs)]);
  }
  for (const [cls, v] of updates) current.set(cls, v);
  return OBUF_CLASSES.map((c) => `${c} ${current.get(c)!.join(' ')}`).join(' ');
}

function parseOomValues(args: string[]): string {
  if (args.length !== 3) throw new ConfigError('wrong number of arguments');
  for (const a of args) {
    const n = strtollStrict(a);
    if (n === null || n < -2000 || n > 2000) {
      throw new ConfigError('Invalid oom-score-adj-values, elements must be between -2000 and 2000.');
    }
  }
  return args.map((a) => String(strtollStrict(a))).join(' ');
}

/** Keyspace-event flags in keyspaceEventsFlagsToString()'s canonical order. */
const NOTIFY_ALL = 'g$lshzxetd';
export function canonicalNotifyFlags(classes: string): string | null {
  const set = new Set<string>();
  for (const ch of classes) {
    if (ch === 'A') for (const c of NOTIFY_ALL) set.add(c);
    else if ('g$lshzxeKEtmdn'.includes(ch)) set.add(ch);
    else return null;
  }
  let out = '';
  if ([...NOTIFY_ALL].every((c) => set.has(c))) out = 'A';
  else for (const c of 'g$lshzxetdn') if (set.has(c)) out += c;
  for (const c of 'KEm') if (set.has(c)) out += c;
  return out;
}

function parseNotify(args: string[]): string {
  if (args.length !== 1) throw new ConfigError('wrong number of arguments');
  const flags = canonicalNotifyFlags(args[0]!);
  if (flags === null) throw new ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
  return flags;
}

function parseBind(args: string[]): string {
  if (args.length > 16) throw new ConfigError('Too many bind addresses specified.');
  if (args.length === 1 && args[0] === '') return '';
  return args.join(' ');
}

function parseReplicaof(args: string[]): string {
  if (args.length !== 2) throw new ConfigError('wrong number of arguments');
  if (args[0]!.toLowerCase() === 'no' && args[1]!.toLowerCase() === 'one') return '';
  const port = /^[+-]?\d+$/.test(args[1]!) ? Number(args[1]) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new ConfigError('Invalid master port');
  return `${args[0]} ${port}`;
}

/** `%f` then trimDoubleString: "99.900000" → "99.9", "50.000000" → "50". */
function formatPercentile(n: number): string {
  return n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

function parsePercentiles(args: string[]): string {
  if (args.length === 1 && args[0] === '') return '';
  const out: string[] = [];
  for (const a of args) {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(a)) throw new ConfigError('Invalid latency-tracking-info-percentiles parameters');
    const n = Number(a);
    if (n > 100 || n < 0) throw new ConfigError('latency-tracking-info-percentiles parameters should sit between [0.0,100.0]');
    out.push(formatPercentile(n));
  }
  return out.join(' ');
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EFBIG: 'File too large',
  EIO: 'Input/output error',
  EROFS: 'Read-only file system',
  EBADF: 'Bad file descriptor',
};

/** strerror() text for a Node error, as Redis prints it. */
export function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return ERRNO_TEXT[code] ?? (e as Error).message;
}

/** `dir`: changes the working directory at once (files are created relative to it). */
function parseDir(args: string[]): string {
  if (args.length !== 1) throw new ConfigError('wrong number of arguments');
  try {
    process.chdir(args[0]!);
  } catch (e) {
    throw new ConfigError(strerror(e));
  }
  return process.cwd();
}

const SHUTDOWN_FLAGS = ['default', 'save', 'nosave', 'now', 'force'];
const PROTECTED_ACTION = ['no', 'yes', 'local'];

export const DIRECTIVES: ConfigDef[] = [
  // Booleans
  bool('rdbchecksum', true, { immutable: true }),
  bool('daemonize', false, { immutable: true }),
  bool('io-threads-do-reads', false, { immutable: true, ...inert }),
  bool('always-show-logo', false, { immutable: true }),
  bool('protected-mode', true),
  bool('rdbcompression', true),
  bool('rdb-del-sync-files', false, inert),
  bool('activerehashing', true, inert),
  bool('stop-writes-on-bgsave-error', true),
  bool('set-proc-title', true, { immutable: true, ...inert }),
  bool('dynamic-hz', true, inert),
  bool('lazyfree-lazy-eviction', false),
  bool('lazyfree-lazy-expire', false),
  bool('lazyfree-lazy-server-del', false, inert),
  bool('lazyfree-lazy-user-del', false),
  bool('lazyfree-lazy-user-flush', false),
  bool('repl-disable-tcp-nodelay', false, inert),
  bool('repl-diskless-sync', true),
  bool('aof-rewrite-incremental-fsync', true),
  bool('no-appendfsync-on-rewrite', false, inert),
  bool('cluster-require-full-coverage', true),
  bool('rdb-save-incremental-fsync', true, inert),
  bool('aof-load-truncated', true),
  bool('aof-use-rdb-preamble', true),
  bool('aof-timestamp-enabled', false),
  bool('cluster-replica-no-failover', false, { aliases: ['cluster-slave-no-failover'] }),
  bool('replica-lazy-flush', false, { aliases: ['slave-lazy-flush'], ...inert }),
  bool('replica-serve-stale-data', true, { aliases: ['slave-serve-stale-data'] }),
  bool('replica-read-only', true, { aliases: ['slave-read-only'] }),
  bool('replica-ignore-maxmemory', true, { aliases: ['slave-ignore-maxmemory'], ...inert }),
  bool('jemalloc-bg-thread', true, inert),
  bool('activedefrag', false, { validate: noDefrag, ...inert }),
  bool('syslog-enabled', false, { immutable: true, ...inert }),
  bool('cluster-enabled', false, { immutable: true }),
  bool('appendonly', false, { denyLoading: true }),
  bool('cluster-allow-reads-when-down', false),
  bool('cluster-allow-pubsubshard-when-down', true, inert),
  bool('crash-log-enabled', true),
  bool('crash-memcheck-enabled', true, inert),
  bool('use-exit-on-panic', false, { hidden: true, ...inert }),
  bool('disable-thp', true, { immutable: true, ...inert }),
  bool('cluster-allow-replica-migration', true),
  bool('replica-announced', true),
  bool('latency-tracking', true),
  bool('aof-disable-auto-gc', false),
  bool('replica-ignore-disk-write-errors', false, inert),

  // Strings
  str('aclfile', '', { immutable: true }),
  strNull('unixsocket', { immutable: true }),
  strNull('pidfile', { immutable: true }),
  strNull('replica-announce-ip', { aliases: ['slave-announce-ip'] }),
  strNull('masteruser', { sensitive: true }),
  strNull('cluster-announce-ip'),
  str('cluster-config-file', 'nodes.conf', { immutable: true }),
  strNull('cluster-announce-hostname', { validate: hostname }),
  str('syslog-ident', 'redis', { immutable: true, ...inert }),
  str('dbfilename', 'dump.rdb', { protected: true, validate: baseName('dbfilename', 'filename', true) }),
  str('appendfilename', 'appendonly.aof', { immutable: true, validate: baseName('appendfilename', 'filename', false) }),
  str('appenddirname', 'appendonlydir', { immutable: true, validate: baseName('appenddirname', 'dirname', false) }),
  strNull('server_cpulist', { immutable: true, ...inert }),
  strNull('bio_cpulist', { immutable: true, ...inert }),
  strNull('aof_rewrite_cpulist', { immutable: true, ...inert }),
  strNull('bgsave_cpulist', { immutable: true, ...inert }),
  str('ignore-warnings', '', inert),
  str('proc-title-template', '{title} {listen-addr} {server-mode}', { validate: procTitleTemplate, ...inert }),
  strNull('bind-source-addr'),
  str('logfile', '', { immutable: true }),
  strNull('masterauth', { sensitive: true }),
  strNull('requirepass', { sensitive: true }),

  // Enums
  enm('supervised', 'no', ['upstart', 'systemd', 'auto', 'no'], { immutable: true, ...inert }),
  enm('syslog-facility', 'local0', ['user', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'], { immutable: true, ...inert }),
  enm('repl-diskless-load', 'disabled', ['disabled', 'on-empty-db', 'swapdb'], { denyLoading: true }),
  enm('loglevel', 'notice', ['debug', 'verbose', 'notice', 'warning']),
  enm('maxmemory-policy', 'noeviction', ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction']),
  enm('appendfsync', 'everysec', ['everysec', 'always', 'no']),
  enm('oom-score-adj', 'no', ['no', 'yes', 'relative', 'absolute'], { enumSynonyms: { relative: 'yes' } }),
  enm('acl-pubsub-default', 'resetchannels', ['allchannels', 'resetchannels']),
  enm('sanitize-dump-payload', 'no', ['no', 'yes', 'clients']),
  enm('enable-protected-configs', 'no', PROTECTED_ACTION, { immutable: true }),
  enm('enable-debug-command', 'no', PROTECTED_ACTION, { immutable: true }),
  enm('enable-module-command', 'no', PROTECTED_ACTION, { immutable: true }),
  enm('cluster-preferred-endpoint-type', 'ip', ['ip', 'hostname', 'unknown-endpoint']),
  enm('propagation-error-behavior', 'ignore', ['ignore', 'panic', 'panic-on-replicas'], inert),
  enm('shutdown-on-sigint', 'default', SHUTDOWN_FLAGS, { enumMulti: true, multiArg: true, validate: shutdownFlags }),
  enm('shutdown-on-sigterm', 'default', SHUTDOWN_FLAGS, { enumMulti: true, multiArg: true, validate: shutdownFlags }),

  // Integers
  int('databases', 16, 1, INT_MAX, { immutable: true }),
  int('port', 6379, 0, 65535),
  int('io-threads', 1, 1, 128, { immutable: true, ...inert }),
  int('auto-aof-rewrite-percentage', 100, 0, INT_MAX),
  int('cluster-replica-validity-factor', 10, 0, INT_MAX, { aliases: ['cluster-slave-validity-factor'] }),
  int('list-max-listpack-size', -2, INT_MIN, INT_MAX, { aliases: ['list-max-ziplist-size'] }),
  int('tcp-keepalive', 300, 0, INT_MAX),
  int('cluster-migration-barrier', 1, 0, INT_MAX),
  int('active-defrag-cycle-min', 1, 1, 99, inert),
  int('active-defrag-cycle-max', 25, 1, 99, inert),
  int('active-defrag-threshold-lower', 10, 0, 1000, inert),
  int('active-defrag-threshold-upper', 100, 0, 1000, inert),
  int('lfu-log-factor', 10, 0, INT_MAX),
  int('lfu-decay-time', 1, 0, INT_MAX),
  int('replica-priority', 100, 0, INT_MAX, { aliases: ['slave-priority'] }),
  int('repl-diskless-sync-delay', 5, 0, INT_MAX),
  int('maxmemory-samples', 5, 1, INT_MAX),
  int('maxmemory-eviction-tenacity', 10, 0, 100),
  int('timeout', 0, 0, INT_MAX),
  int('replica-announce-port', 0, 0, 65535, { aliases: ['slave-announce-port'] }),
  int('tcp-backlog', 511, 0, INT_MAX, { immutable: true }),
  int('cluster-port', 0, 0, 65535, { immutable: true }),
  int('cluster-announce-bus-port', 0, 0, 65535),
  int('cluster-announce-port', 0, 0, 65535),
  int('cluster-announce-tls-port', 0, 0, 65535),
  int('repl-timeout', 60, 1, INT_MAX),
  int('repl-ping-replica-period', 10, 1, INT_MAX, { aliases: ['repl-ping-slave-period'] }),
  int('list-compress-depth', 0, 0, INT_MAX),
  int('rdb-key-save-delay', 0, INT_MIN, INT_MAX, { hidden: true }),
  int('key-load-delay', 0, INT_MIN, INT_MAX, { hidden: true }),
  int('active-expire-effort', 1, 1, 10, inert),
  int('hz', 10, 0, INT_MAX, { normalize: clampHz }),
  int('min-replicas-to-write', 0, 0, INT_MAX, { aliases: ['min-slaves-to-write'] }),
  int('min-replicas-max-lag', 10, 0, INT_MAX, { aliases: ['min-slaves-max-lag'] }),
  // nodis's durable acknowledgment (replication/durable.ts): majority-acknowledged writes.
  // nodis's own directives: NODIS_DIRECTIVES below lists them (Redis has none of these).
  bool('durable-writes', false),
  int('durable-replicas', 2, 0, INT_MAX),
  int('durable-timeout', 1000, 1, INT_MAX),
  int('durable-lease', 500, 1, INT_MAX),
  // A replica's durable failover fence (REPLCONF DURABLE-FENCE), so CONFIG REWRITE keeps it
  // across a restart: read-only, CONFIG GET shows whether the link is fenced now. Hidden from
  // CONFIG GET patterns (as Redis hides its own test-only configs): tools that CONFIG SET every
  // value CONFIG GET * lists back (the suite's introspection test) would fail on it.
  bool('durable-fenced', false, { immutable: true, hidden: true }),
  int('watchdog-period', 0, 0, INT_MAX, { hidden: true, ...inert }),
  int('shutdown-timeout', 10, 0, INT_MAX),
  int('repl-diskless-sync-max-replicas', 0, 0, INT_MAX),

  // Unsigned int
  uint('maxclients', 10000, 1, UINT_MAX),
  uint('unixsocketperm', 0, 0, 0o777, { octal: true, immutable: true }),
  uint('socket-mark-id', 0, 0, UINT_MAX, { immutable: true, ...inert }),

  // Unsigned long (checked as signed by config.c)
  int('active-defrag-max-scan-fields', 1000, 1, LONG_MAX, inert),
  int('slowlog-max-len', 128, 0, LONG_MAX),
  int('acllog-max-len', 128, 0, LONG_MAX),

  // Long long
  int('busy-reply-threshold', 5000, 0, LONG_MAX, { aliases: ['lua-time-limit'] }),
  int('cluster-node-timeout', 15000, 0, LLONG_MAX),
  int('slowlog-log-slower-than', 10000, -1, LLONG_MAX),
  int('latency-monitor-threshold', 0, 0, LLONG_MAX),
  mem('proto-max-bulk-len', 512 * MB, 1024 * 1024, LONG_MAX),
  int('stream-node-max-entries', 100, 0, LLONG_MAX),
  mem('repl-backlog-size', MB, 1, LLONG_MAX),

  // Unsigned long long
  mem('maxmemory', 0, 0, ULLONG_MAX, { unsigned: true }),
  mem('cluster-link-sendbuf-limit', 0, 0, ULLONG_MAX, { unsigned: true }),

  // size_t / ssize_t
  uint('hash-max-listpack-entries', 512, 0, LONG_MAX, { aliases: ['hash-max-ziplist-entries'] }),
  uint('set-max-intset-entries', 512, 0, LONG_MAX),
  uint('zset-max-listpack-entries', 128, 0, LONG_MAX, { aliases: ['zset-max-ziplist-entries'] }),
  mem('active-defrag-ignore-bytes', 100 * MB, 1, LLONG_MAX, { unsigned: true, ...inert }),
  mem('hash-max-listpack-value', 64, 0, LONG_MAX, { unsigned: true, aliases: ['hash-max-ziplist-value'] }),
  mem('stream-node-max-bytes', 4096, 0, LONG_MAX, { unsigned: true }),
  mem('zset-max-listpack-value', 64, 0, LONG_MAX, { unsigned: true, aliases: ['zset-max-ziplist-value'] }),
  mem('hll-sparse-max-bytes', 3000, 0, LONG_MAX, { unsigned: true }),
  uint('tracking-table-max-keys', 1000000, 0, LONG_MAX),
  mem('client-query-buffer-limit', 1024 * MB, 1024 * 1024, LONG_MAX, { unsigned: true }),
  mem('maxmemory-clients', 0, -100, SSIZE_MAX, { allowPercent: true }),

  // time_t / off_t
  int('repl-backlog-ttl', 3600, 0, LONG_MAX),
  mem('auto-aof-rewrite-min-size', 64 * MB, 0, LLONG_MAX),
  int('loading-process-events-interval-bytes', 2 * MB, 1024, INT_MAX, { hidden: true }),

  // TLS (server/tls.ts; nodis keeps no server-side session cache, so its size has no effect)
  int('tls-port', 0, 0, 65535),
  int('tls-session-cache-size', 20 * 1024, 0, INT_MAX, inert),
  int('tls-session-cache-timeout', 300, 0, INT_MAX),
  bool('tls-cluster', false),
  bool('tls-replication', false),
  enm('tls-auth-clients', 'yes', ['no', 'yes', 'optional']),
  bool('tls-prefer-server-ciphers', false),
  bool('tls-session-caching', true),
  strNull('tls-cert-file', volatile),
  strNull('tls-key-file', volatile),
  strNull('tls-key-file-pass'),
  strNull('tls-client-cert-file', volatile),
  strNull('tls-client-key-file', volatile),
  strNull('tls-client-key-file-pass'),
  strNull('tls-dh-params-file', volatile),
  strNull('tls-ca-cert-file', volatile),
  strNull('tls-ca-cert-dir', volatile),
  strNull('tls-protocols'),
  strNull('tls-ciphers'),
  strNull('tls-ciphersuites'),

  // Special
  special('dir', '', parseDir, { protected: true, denyLoading: true, get: () => process.cwd() }),
  special('save', '3600 1 300 100 60 10000', parseSave, { multiArg: true }),
  special('client-output-buffer-limit', OBUF_DEFAULT, parseObuf, { multiArg: true }),
  special('oom-score-adj-values', '0 200 800', parseOomValues, { multiArg: true }),
  special('notify-keyspace-events', '', parseNotify),
  special('bind', '* -::*', parseBind, { multiArg: true }),
  special('replicaof', '', parseReplicaof, { aliases: ['slaveof'], immutable: true, multiArg: true }),
  special('latency-tracking-info-percentiles', '50 99 99.9', parsePercentiles, { multiArg: true, ...inert }),
];

/** Directives the loader accepts and ignores, as Redis does (argc counted with the name). */
export const DEPRECATED_DIRECTIVES = new Map<string, [number, number]>([
  ['list-max-ziplist-entries', [2, 2]],
  ['list-max-ziplist-value', [2, 2]],
  ['lua-replicate-commands', [2, 2]],
]);

/** Directives of nodis's own, beyond Redis 7.0.15's table (durable acknowledgment). */
export const NODIS_DIRECTIVES: readonly string[] = ['durable-writes', 'durable-replicas', 'durable-timeout', 'durable-lease', 'durable-fenced'];
