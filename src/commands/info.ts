/**
 * INFO [section ...]: the server's report, with Redis 7.0.15's section names, field names and
 * field order (genRedisInfoString in server.c), so tools that parse INFO (redis-cli, Sentinel,
 * the test suite, monitoring agents) read nodis as they read Redis.
 *
 * Extension points, so that subsystems own their numbers without editing this file:
 *  - `server.hooks.info.set(name, () => lines)` replaces a built-in section's body (e.g. the
 *    replication module supplies "replication") or adds a new one (printed after "keyspace",
 *    where Redis prints module sections). Lines are the body only; the "# Title" header is
 *    added here (built-in titles as Redis prints them, others capitalised).
 *  - `setInfoField(server, name, fn)` overrides one field of a built-in section (e.g. the
 *    persistence module reports `rdb_bgsave_in_progress`, pub/sub reports `pubsub_channels`).
 */
import { arena } from '../types/value-arena.js';
import os from 'node:os';
import type { CommandHandlers, CommandSpec } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { STARTUP_MEMORY, type Server } from '../server/server.js';
import { REDIS_VERSION, NODIS_VERSION } from '../server/version.js';
import { latencyStatsLines } from '../server/latency.js';
import { clusterRuntime } from '../cluster/install.js';
import { pubsubChannelCount, pubsubPatternCount, pubsubShardChannelCount } from '../server/pubsub.js';
import { bytesToHuman, infoFieldOverrides, type FieldFn, type FieldValue } from '../server/info-fields.js';

/** "#:\n\r" are replaced by '_' in names INFO prints (getSafeInfoString). */
function safeInfoString(s: string): string {
  return s.replace(/[#:\n\r]/g, '_');
}

/** Memory the process held when INFO first ran (Redis's used_memory_startup). */

/** Default sections (INFO, INFO default), in Redis's order. */
const DEFAULT_SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu', 'module_list', 'errorstats', 'cluster', 'keyspace'];

/** Every built-in section in print order, with its title. */
const BUILTIN: [string, string][] = [
  ['server', 'Server'],
  ['clients', 'Clients'],
  ['memory', 'Memory'],
  ['persistence', 'Persistence'],
  ['stats', 'Stats'],
  ['replication', 'Replication'],
  ['cpu', 'CPU'],
  ['modules', 'Modules'],
  ['commandstats', 'Commandstats'],
  ['errorstats', 'Errorstats'],
  ['latencystats', 'Latencystats'],
  ['cluster', 'Cluster'],
  ['keyspace', 'Keyspace'],
];
const BUILTIN_NAMES = new Set(BUILTIN.map(([n]) => n));

class SectionBuilder {
  lines: string[] = [];
  constructor(private readonly overrides: ReadonlyMap<string, FieldFn> | undefined) {}
  field(name: string, value: FieldValue | null | (() => FieldValue)): void {
    const o = this.overrides?.get(name);
    const v = o !== undefined ? o() : typeof value === 'function' ? value() : value;
    if (v !== null) this.lines.push(`${name}:${v}`);
  }
}

function fixed2(n: number): string {
  return (Number.isFinite(n) ? n : 0).toFixed(2);
}

function secUsec(us: number): string {
  const s = Math.floor(us / 1e6);
  return `${s}.${String(Math.floor(us - s * 1e6)).padStart(6, '0')}`;
}

function serverSection(s: Server, b: SectionBuilder): void {
  const now = s.clock.now();
  const uptime = Math.floor((now - s.stats.startTimeMs) / 1000);
  b.field('redis_version', REDIS_VERSION);
  b.field('redis_git_sha1', '00000000');
  b.field('redis_git_dirty', 0);
  b.field('redis_build_id', '0');
  b.field('redis_mode', s.log.role === 'X' ? 'sentinel' : 'standalone');
  b.field('os', `${os.type()} ${os.release()} ${os.machine()}`);
  b.field('arch_bits', 64);
  b.field('monotonic_clock', 'POSIX clock_gettime');
  b.field('multiplexing_api', 'epoll');
  b.field('atomicvar_api', 'c11-builtin');
  b.field('gcc_version', '0.0.0');
  b.field('process_id', process.pid);
  b.field('process_supervised', 'no');
  b.field('run_id', s.runId);
  b.field('tcp_port', s.boundPort || s.config.getNumber('port'));
  b.field('server_time_usec', Math.floor(now * 1000));
  b.field('uptime_in_seconds', uptime);
  b.field('uptime_in_days', Math.floor(uptime / 86400));
  b.field('hz', s.settings.hz);
  b.field('configured_hz', s.config.getNumber('hz'));
  b.field('lru_clock', Math.floor(now / 1000) & ((1 << 24) - 1));
  b.field('executable', s.executable);
  b.field('config_file', s.configFile);
  b.field('io_threads_active', 0);
  // Only while a SHUTDOWN waits for lagging replicas (the replication module supplies it).
  b.field('shutdown_in_milliseconds', null);
  b.field('nodis_version', NODIS_VERSION);
}

function clientsSection(s: Server, b: SectionBuilder): void {
  let connected = 0;
  let blocked = 0;
  let inTimeoutTable = 0;
  let maxIn = 0;
  let maxOut = 0;
  for (const c of s.clients.values()) {
    if (c.kind !== 'replica') connected++;
    if (c.blocked !== null) {
      blocked++;
      if (c.blocked.deadline > 0) inTimeoutTable++;
    }
    if (c.parser.pendingBytes > maxIn) maxIn = c.parser.pendingBytes;
    const out = s.outputBytes(c);
    if (out > maxOut) maxOut = out;
  }
  b.field('connected_clients', connected);
  // getClusterConnectionsCount: two links per known node.
  b.field('cluster_connections', s.cluster === null ? 0 : ((clusterRuntime(s)?.state.nodes.size ?? 1) - 1) * 2);
  b.field('maxclients', s.settings.maxclients);
  b.field('client_recent_max_input_buffer', maxIn);
  b.field('client_recent_max_output_buffer', maxOut);
  b.field('blocked_clients', blocked);
  b.field('tracking_clients', 0);
  b.field('clients_in_timeout_table', inTimeoutTable);
}

function memorySection(s: Server, b: SectionBuilder): void {
  const used = s.usedMemory();
  if (used > s.usedMemoryPeak) s.usedMemoryPeak = used;
  const peak = s.usedMemoryPeak;
  const mu = process.memoryUsage();
  const startup = STARTUP_MEMORY;
  s.clientsMemory();
  const clientsMem = s.clientsNormalMemory;
  const replicasMem = s.replicaClientsMemory;
  let dbOverhead = 0;
  for (const db of s.dbs) dbOverhead += db.memoryBytes() - db.memory;
  const overhead = startup + clientsMem + replicasMem + s.replBacklogMemory() + dbOverhead;
  const dataset = Math.max(0, used - overhead);
  const netUsed = used - startup;
  const totalSystem = os.totalmem();
  const maxmemory = s.settings.maxmemory;
  b.field('used_memory', used);
  b.field('used_memory_human', bytesToHuman(used));
  b.field('used_memory_rss', mu.rss);
  b.field('used_memory_rss_human', bytesToHuman(mu.rss));
  b.field('used_memory_peak', peak);
  b.field('used_memory_peak_human', bytesToHuman(peak));
  b.field('used_memory_peak_perc', `${fixed2((used / peak) * 100)}%`);
  b.field('used_memory_overhead', overhead);
  b.field('used_memory_startup', startup);
  b.field('used_memory_dataset', dataset);
  b.field('used_memory_dataset_perc', `${fixed2(netUsed > 0 ? (dataset / netUsed) * 100 : 0)}%`);
  b.field('allocator_allocated', mu.heapUsed);
  b.field('allocator_active', mu.heapTotal);
  b.field('allocator_resident', mu.rss);
  b.field('total_system_memory', totalSystem);
  b.field('total_system_memory_human', bytesToHuman(totalSystem));
  b.field('used_memory_lua', 0);
  b.field('used_memory_vm_eval', 0);
  b.field('used_memory_lua_human', '0B');
  b.field('used_memory_scripts_eval', 0);
  b.field('number_of_cached_scripts', 0);
  b.field('number_of_functions', 0);
  b.field('number_of_libraries', 0);
  b.field('used_memory_vm_functions', 0);
  b.field('used_memory_vm_total', 0);
  b.field('used_memory_vm_total_human', '0B');
  b.field('used_memory_functions', 0);
  b.field('used_memory_scripts', 0);
  b.field('used_memory_scripts_human', '0B');
  b.field('maxmemory', maxmemory);
  b.field('maxmemory_human', bytesToHuman(maxmemory));
  b.field('maxmemory_policy', s.config.getString('maxmemory-policy'));
  b.field('allocator_frag_ratio', fixed2(mu.heapTotal / Math.max(1, mu.heapUsed)));
  b.field('allocator_frag_bytes', Math.max(0, mu.heapTotal - mu.heapUsed));
  b.field('allocator_rss_ratio', fixed2(mu.rss / Math.max(1, mu.heapTotal)));
  b.field('allocator_rss_bytes', mu.rss - mu.heapTotal);
  b.field('rss_overhead_ratio', '1.00');
  b.field('rss_overhead_bytes', 0);
  b.field('mem_fragmentation_ratio', fixed2(mu.rss / Math.max(1, used)));
  b.field('mem_fragmentation_bytes', mu.rss - used);
  b.field('mem_not_counted_for_evict', replicasMem);
  b.field('mem_replication_backlog', 0);
  b.field('mem_total_replication_buffers', 0);
  b.field('mem_clients_slaves', replicasMem);
  b.field('mem_clients_normal', clientsMem);
  b.field('mem_cluster_links', 0);
  b.field('mem_aof_buffer', 0);
  b.field('mem_allocator', 'libc');
  // nodis's own: long string values held as bytes in slabs (types/value-arena.ts).
  b.field('value_arena_values', arena.live);
  b.field('value_arena_value_bytes', arena.liveBytes);
  b.field('value_arena_slab_bytes', arena.slabBytes);
  b.field('active_defrag_running', 0);
  b.field('lazyfree_pending_objects', 0);
  b.field('lazyfreed_objects', s.stats.lazyfreedObjects);
}

function persistenceSection(s: Server, b: SectionBuilder): void {
  b.field('loading', 0);
  b.field('async_loading', 0);
  b.field('current_cow_peak', 0);
  b.field('current_cow_size', 0);
  b.field('current_cow_size_age', 0);
  b.field('current_fork_perc', '0.00');
  b.field('current_save_keys_processed', 0);
  b.field('current_save_keys_total', 0);
  b.field('rdb_changes_since_last_save', s.dirty);
  b.field('rdb_bgsave_in_progress', 0);
  b.field('rdb_last_save_time', Math.floor(s.lastSave / 1000));
  b.field('rdb_last_bgsave_status', 'ok');
  b.field('rdb_last_bgsave_time_sec', -1);
  b.field('rdb_current_bgsave_time_sec', -1);
  b.field('rdb_saves', 0);
  b.field('rdb_last_cow_size', 0);
  b.field('rdb_last_load_keys_expired', 0);
  b.field('rdb_last_load_keys_loaded', 0);
  b.field('aof_enabled', 0);
  b.field('aof_rewrite_in_progress', 0);
  b.field('aof_rewrite_scheduled', 0);
  b.field('aof_last_rewrite_time_sec', -1);
  b.field('aof_current_rewrite_time_sec', -1);
  b.field('aof_last_bgrewrite_status', 'ok');
  b.field('aof_rewrites', 0);
  b.field('aof_rewrites_consecutive_failures', 0);
  b.field('aof_last_write_status', 'ok');
  b.field('aof_last_cow_size', 0);
  b.field('module_fork_in_progress', 0);
  b.field('module_fork_last_cow_size', 0);
}

function average(arr: number[]): number {
  if (arr.length === 0) return 0;
  let sum = 0;
  for (const v of arr) sum += v;
  return sum / arr.length;
}

function statsSection(s: Server, b: SectionBuilder): void {
  const st = s.stats;
  const inst = st.instantaneous;
  b.field('total_connections_received', st.totalConnections);
  b.field('total_commands_processed', st.totalCommands);
  b.field('instantaneous_ops_per_sec', Math.round(average(inst.commands)));
  b.field('total_net_input_bytes', st.netInputBytes);
  b.field('total_net_output_bytes', st.netOutputBytes);
  b.field('total_net_repl_input_bytes', 0);
  b.field('total_net_repl_output_bytes', 0);
  b.field('instantaneous_input_kbps', fixed2(average(inst.netIn) / 1024));
  b.field('instantaneous_output_kbps', fixed2(average(inst.netOut) / 1024));
  b.field('instantaneous_input_repl_kbps', '0.00');
  b.field('instantaneous_output_repl_kbps', '0.00');
  b.field('rejected_connections', st.rejectedConnections);
  b.field('sync_full', 0);
  b.field('sync_partial_ok', 0);
  b.field('sync_partial_err', 0);
  b.field('expired_keys', st.expiredKeys);
  b.field('expired_stale_perc', fixed2(st.expiredStalePerc * 100));
  b.field('expired_time_cap_reached_count', st.expiredTimeCapReached);
  b.field('expire_cycle_cpu_milliseconds', 0);
  b.field('evicted_keys', st.evictedKeys);
  b.field('evicted_clients', s.clientEviction.evicted);
  b.field('total_eviction_exceeded_time', 0);
  b.field('current_eviction_exceeded_time', 0);
  b.field('keyspace_hits', st.keyspaceHits);
  b.field('keyspace_misses', st.keyspaceMisses);
  b.field('pubsub_channels', pubsubChannelCount(s));
  b.field('pubsub_patterns', pubsubPatternCount(s));
  b.field('pubsubshard_channels', pubsubShardChannelCount(s));
  b.field('latest_fork_usec', 0);
  b.field('total_forks', 0);
  b.field('migrate_cached_sockets', 0);
  b.field('slave_expires_tracked_keys', 0);
  b.field('active_defrag_hits', 0);
  b.field('active_defrag_misses', 0);
  b.field('active_defrag_key_hits', 0);
  b.field('active_defrag_key_misses', 0);
  b.field('total_active_defrag_time', 0);
  b.field('current_active_defrag_time', 0);
  b.field('tracking_total_keys', 0);
  b.field('tracking_total_items', 0);
  b.field('tracking_total_prefixes', 0);
  b.field('unexpected_error_replies', st.unexpectedErrorReplies);
  b.field('total_error_replies', st.totalErrorReplies);
  b.field('dump_payload_sanitizations', 0);
  b.field('total_reads_processed', st.totalReadsProcessed);
  b.field('total_writes_processed', st.totalWritesProcessed);
  b.field('io_threaded_reads_processed', 0);
  b.field('io_threaded_writes_processed', 0);
  b.field('reply_buffer_shrinks', 0);
  b.field('reply_buffer_expands', 0);
}

const replIds = new WeakMap<Server, string>();

/** The replication id a master without the replication module reports (stable per process). */
export function defaultReplId(s: Server): string {
  let id = replIds.get(s);
  if (id === undefined) replIds.set(s, (id = s.rng.hex(40)));
  return id;
}

/** Changes the default replication id (DEBUG CHANGE-REPL-ID without the replication module). */
export function changeDefaultReplId(s: Server): void {
  replIds.set(s, s.rng.hex(40));
}

function replicationSection(s: Server, b: SectionBuilder): void {
  b.field('role', 'master');
  b.field('connected_slaves', 0);
  b.field('master_failover_state', 'no-failover');
  b.field('master_replid', defaultReplId(s));
  b.field('master_replid2', '0'.repeat(40));
  b.field('master_repl_offset', 0);
  b.field('second_repl_offset', -1);
  b.field('repl_backlog_active', 0);
  b.field('repl_backlog_size', s.config.getNumber('repl-backlog-size'));
  b.field('repl_backlog_first_byte_offset', 0);
  b.field('repl_backlog_histlen', 0);
}

function cpuSection(_s: Server, b: SectionBuilder): void {
  const u = process.cpuUsage();
  b.field('used_cpu_sys', secUsec(u.system));
  b.field('used_cpu_user', secUsec(u.user));
  b.field('used_cpu_sys_children', '0.000000');
  b.field('used_cpu_user_children', '0.000000');
  b.field('used_cpu_sys_main_thread', secUsec(u.system));
  b.field('used_cpu_user_main_thread', secUsec(u.user));
}

function commandstatsSection(s: Server, b: SectionBuilder): void {
  const emit = (spec: CommandSpec): void => {
    const st = spec.stats;
    if (st.calls === 0 && st.failedCalls === 0 && st.rejectedCalls === 0) return;
    const usec = Math.round(st.usec);
    const perCall = st.calls === 0 ? 0 : st.usec / st.calls;
    b.lines.push(
      `cmdstat_${safeInfoString(spec.fullName)}:calls=${st.calls},usec=${usec},usec_per_call=${perCall.toFixed(2)},rejected_calls=${st.rejectedCalls},failed_calls=${st.failedCalls}`,
    );
  };
  for (const spec of s.commands.all()) emit(spec);
}

function errorstatsSection(s: Server, b: SectionBuilder): void {
  // Redis keeps errors in a radix tree, so they print in byte order.
  const codes = [...s.stats.errorCodes.keys()].sort((a, b2) => (a < b2 ? -1 : a > b2 ? 1 : 0));
  for (const code of codes) b.lines.push(`errorstat_${safeInfoString(code)}:count=${s.stats.errorCodes.get(code)}`);
}

function keyspaceSection(s: Server, b: SectionBuilder): void {
  for (const db of s.dbs) {
    const keys = db.dict.size;
    const expires = db.expires.size;
    if (keys > 0 || expires > 0) b.lines.push(`db${db.id}:keys=${keys},expires=${expires},avg_ttl=${db.avgTtl}`);
  }
}

const GENERATORS: Record<string, (s: Server, b: SectionBuilder) => void> = {
  server: serverSection,
  clients: clientsSection,
  memory: memorySection,
  persistence: persistenceSection,
  stats: statsSection,
  replication: replicationSection,
  cpu: cpuSection,
  modules: () => {},
  commandstats: commandstatsSection,
  errorstats: errorstatsSection,
  latencystats: (s, b) => b.lines.push(...latencyStatsLines(s)),
  cluster: (s, b) => b.field('cluster_enabled', s.cluster === null ? 0 : 1),
  keyspace: keyspaceSection,
};

/**
 * Builds the INFO text for the requested section arguments (as INFO receives them):
 * none = default sections; "all" = every section but module-generated ones; "everything" = all.
 */
export function genInfoString(s: Server, args: readonly string[]): string {
  const wanted = new Set<string>();
  let all = false;
  let everything = false;
  if (args.length === 0) {
    for (const n of DEFAULT_SECTIONS) wanted.add(n);
  } else {
    for (const a of args) {
      const n = a.toLowerCase();
      if (n === 'default') for (const d of DEFAULT_SECTIONS) wanted.add(d);
      else if (n === 'all') all = true;
      else if (n === 'everything') all = everything = true;
      else wanted.add(n);
    }
  }
  const overrides = infoFieldOverrides(s);
  const parts: string[] = [];
  const emit = (title: string, lines: string[]): void => {
    parts.push(`# ${title}\r\n${lines.map((l) => `${l}\r\n`).join('')}`);
  };
  for (const [name, title] of BUILTIN) {
    const asked = all || wanted.has(name) || (name === 'modules' && wanted.has('module_list'));
    if (!asked) continue;
    const hook = s.hooks.info.get(name);
    if (hook !== undefined) {
      emit(title, hook());
      continue;
    }
    const b = new SectionBuilder(overrides);
    GENERATORS[name]!(s, b);
    emit(title, b.lines);
  }
  // Sections other modules registered (Redis prints module sections last).
  for (const [name, fn] of s.hooks.info) {
    if (BUILTIN_NAMES.has(name)) continue;
    if (everything || wanted.has(name)) emit(name.charAt(0).toUpperCase() + name.slice(1), fn());
  }
  return parts.join('\r\n');
}

function info(c: Client): void {
  c.reply.verbatim(genInfoString(c.server, c.argv.slice(1)));
}

/** The value of one INFO field (`s` in the test suite), for tests and other modules. */
export function infoField(s: Server, section: string, field: string): string | undefined {
  const text = genInfoString(s, [section]);
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(text);
  return m === null ? undefined : m[1]!.replace(/\r$/, '');
}

export const commands: CommandHandlers = { info };
