/**
 * Every redis.conf directive nodis knows, with Redis 7.0.15's defaults, types and ranges
 * (config.c's standardConfig table). `active: false` marks directives whose feature nodis does
 * not have yet: they are validated and stored, and start-up warns once that they have no effect.
 */
import type { ConfigDef } from './registry.js';
import { ConfigError } from './registry.js';

const MB = 1024 * 1024;
const GB = 1024 * MB;
const LLONG_MAX = Number.MAX_SAFE_INTEGER;
const INT_MAX = 2147483647;

const bool = (name: string, dflt: boolean, extra: Partial<ConfigDef> = {}): ConfigDef => ({
  name, type: 'bool', default: dflt ? 'yes' : 'no', ...extra,
});
const int = (name: string, dflt: number, min: number, max: number, extra: Partial<ConfigDef> = {}): ConfigDef => ({
  name, type: 'int', default: String(dflt), min, max, ...extra,
});
const mem = (name: string, dflt: number, min: number, max: number, extra: Partial<ConfigDef> = {}): ConfigDef => ({
  name, type: 'memory', default: String(dflt), min, max, ...extra,
});
const str = (name: string, dflt: string, extra: Partial<ConfigDef> = {}): ConfigDef => ({
  name, type: 'string', default: dflt, ...extra,
});
const enm = (name: string, dflt: string, values: string[], extra: Partial<ConfigDef> = {}): ConfigDef => ({
  name, type: 'enum', default: dflt, enumValues: values, ...extra,
});

/** `save "900 1 300 10"` style: pairs of integers, or "" to disable. */
function parseSave(value: string): string {
  const words = value.split(/\s+/).filter(Boolean);
  if (words.length % 2 !== 0) throw new ConfigError('Invalid save parameters');
  for (const w of words) if (!/^\d+$/.test(w)) throw new ConfigError('Invalid save parameters');
  return words.join(' ');
}

/** `client-output-buffer-limit <class> <hard> <soft> <seconds> [...]`, merged into all classes. */
let obufState = 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60';
function parseObuf(value: string): string {
  const words = value.split(/\s+/).filter(Boolean);
  if (words.length % 4 !== 0) throw new ConfigError('Wrong number of arguments in buffer limit configuration.');
  const current = new Map<string, string[]>();
  const cur = obufState.split(' ');
  for (let i = 0; i < cur.length; i += 4) current.set(cur[i]!, cur.slice(i + 1, i + 4));
  for (let i = 0; i < words.length; i += 4) {
    let cls = words[i]!.toLowerCase();
    if (cls === 'replica') cls = 'slave';
    if (!['normal', 'slave', 'pubsub'].includes(cls)) throw new ConfigError('Invalid client class specified in buffer limit configuration.');
    const vals: string[] = [];
    for (let j = 1; j <= 3; j++) {
      const w = words[i + j]!;
      const n = j === 3 ? (/^\d+$/.test(w) ? Number(w) : null) : parseMemoryStrict(w);
      if (n === null || n < 0) throw new ConfigError('Error in hard, soft or soft_seconds setting in buffer limit configuration.');
      vals.push(String(n));
    }
    current.set(cls, vals);
  }
  obufState = ['normal', 'slave', 'pubsub'].map((c) => `${c} ${current.get(c)!.join(' ')}`).join(' ');
  return obufState;
}

function parseMemoryStrict(w: string): number | null {
  const m = /^(\d+)([a-z]*)$/i.exec(w);
  if (!m) return null;
  const units: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1024, m: 1e6, mb: MB, g: 1e9, gb: GB };
  const mul = units[m[2]!.toLowerCase()];
  return mul === undefined ? null : Number(m[1]) * mul;
}

/** `replicaof <host> <port>` or `no one`. Stored as "host port" or "". */
function parseReplicaof(value: string, args: string[]): string {
  if (args.length === 2 && args[0]!.toLowerCase() === 'no' && args[1]!.toLowerCase() === 'one') return '';
  if (value === '') return '';
  if (args.length !== 2) throw new ConfigError('wrong number of arguments');
  if (!/^\d+$/.test(args[1]!) || Number(args[1]) > 65535) throw new ConfigError('Invalid master port');
  return `${args[0]} ${args[1]}`;
}

const LOGLEVELS = ['debug', 'verbose', 'notice', 'warning', 'nothing'];

export const DIRECTIVES: ConfigDef[] = [
  // Network
  int('port', 6379, 0, 65535, { immutable: false }),
  str('bind', '* -::*'),
  int('tcp-backlog', 511, 0, INT_MAX, { immutable: true }),
  str('unixsocket', '', { immutable: true }),
  int('unixsocketperm', 0, 0, 0o777, { immutable: true }),
  int('timeout', 0, 0, INT_MAX),
  int('tcp-keepalive', 300, 0, INT_MAX),
  bool('protected-mode', true),
  mem('proto-max-bulk-len', 512 * MB, 1024 * 1024, LLONG_MAX),
  mem('client-query-buffer-limit', GB, 1024 * 1024, LLONG_MAX),
  int('maxclients', 10000, 1, INT_MAX),
  // General
  bool('daemonize', false, { immutable: true }),
  str('pidfile', '', { immutable: true }),
  enm('loglevel', 'notice', LOGLEVELS),
  str('logfile', '', { immutable: true }),
  int('databases', 16, 1, INT_MAX, { immutable: true }),
  int('hz', 10, 0, INT_MAX),
  str('requirepass', '', { sensitive: true }),
  bool('always-show-logo', false, { immutable: true }),
  // Memory
  mem('maxmemory', 0, 0, LLONG_MAX),
  enm('maxmemory-policy', 'noeviction', ['volatile-lru', 'volatile-lfu', 'volatile-random', 'volatile-ttl', 'allkeys-lru', 'allkeys-lfu', 'allkeys-random', 'noeviction']),
  bool('lazyfree-lazy-expire', false),
  bool('lazyfree-lazy-user-del', false),
  bool('lazyfree-lazy-user-flush', false),
  bool('lazyfree-lazy-eviction', false),
  bool('lazyfree-lazy-server-del', false),
  // Slow log
  { name: 'slowlog-log-slower-than', type: 'int', default: '10000', min: -1, max: LLONG_MAX },
  int('slowlog-max-len', 128, 0, LLONG_MAX),
  int('latency-monitor-threshold', 0, 0, LLONG_MAX),
  // Persistence (feature in the persistence issue)
  { name: 'save', type: 'special', default: '3600 1 300 100 60 10000', parse: parseSave, active: false },
  str('dir', '', { parse: undefined }),
  str('dbfilename', 'dump.rdb'),
  bool('appendonly', false, { active: false }),
  // Replication (feature in the replication issue)
  { name: 'replicaof', aliases: ['slaveof'], type: 'special', default: '', parse: parseReplicaof, active: false },
  bool('replica-read-only', true, { aliases: ['slave-read-only'] }),
  // Clients
  { name: 'client-output-buffer-limit', type: 'special', default: obufState, parse: (v) => parseObuf(v) },
  // Notifications, scripting
  str('notify-keyspace-events', '', { active: false }),
  int('busy-reply-threshold', 5000, 0, LLONG_MAX, { aliases: ['lua-time-limit'], active: false }),
  enm('enable-debug-command', 'no', ['no', 'yes', 'local']),
  enm('enable-protected-configs', 'no', ['no', 'yes', 'local']),
  enm('enable-module-command', 'no', ['no', 'yes', 'local']),
];
