/**
 * What one client holds (getClientMemoryUsage in networking.c) and client eviction
 * (`maxmemory-clients`, evictClients in networking.c).
 *
 * A client's memory is its structure and reply chunk, its query buffer and parsed arguments,
 * its queued MULTI commands and WATCHed keys, its output not yet sent, and the overhead of its
 * Pub/Sub subscriptions and tracking prefixes, each as Redis sizes it. CLIENT LIST's `tot-mem`
 * and eviction read the same figure.
 *
 * Eviction, as Redis does it: each client's figure is refreshed when it reads input, before
 * each of its commands (unless it is NO-EVICT) and by the cron for every client; the total of
 * normal and Pub/Sub clients (NO-EVICT ones included) is kept incrementally. Whenever it is at
 * or above the limit, the largest evictable clients (normal or Pub/Sub, not NO-EVICT) are
 * closed until it is below — Redis picks from power-of-two size buckets, largest first; the
 * exact order inside a bucket is not part of its contract. The limit is `maxmemory-clients`
 * in bytes or, as "N%", that share of `maxmemory`; never below 128 KB, so a bad setting cannot
 * cut every client off.
 */
import type { Client } from './client.js';
import type { Server } from './server.js';
import { clientTracking } from './tracking.js';
import { watchedKeyCount } from './watch.js';

/** Redis's static reply buffer size: output beyond it counts as the reply list (oll/omem). */
const REPLY_CHUNK_BYTES = 16 * 1024;
/** An estimate of the fixed per-client overhead (sizeof(client) and friends in Redis). */
const CLIENT_STRUCT_BYTES = 1920;
/** sizeof(listNode) + sizeof(watchedKey): one WATCHed key. */
const WATCHED_KEY_BYTES = 48;
/** sizeof(multiCmd) per queued command, beside its arguments. */
const MULTI_CMD_BYTES = 8;
/** sizeof(listNode): one pattern subscription. */
const PATTERN_BYTES = 24;
/** sizeof(dictEntry) per channel, plus a bucket pointer per slot of the channels dict. */
const CHANNEL_ENTRY_BYTES = 24;
const DICT_SLOT_BYTES = 8;
/** sizeof(raxNode) * sizeof(raxNode*) per node of the tracking prefixes' radix tree. */
const RAX_NODE_BYTES = 32;
/** getClientEvictionLimit's floor. */
const MIN_EVICTION_LIMIT = 128 * 1024;

/** A client's memory, field by field as CLIENT LIST prints it. */
export interface ClientMemory {
  qbuf: number;
  /** Room reserved for a large bulk still arriving (qbuf-free). */
  qbufFree: number;
  argvMem: number;
  multiMem: number;
  rbs: number;
  obl: number;
  oll: number;
  omem: number;
  total: number;
}

/** Size of a command as it sits in the query buffer (multibulk form). */
function encodedCommandSize(argv: readonly string[]): number {
  let n = 3 + String(argv.length).length;
  for (const a of argv) n += 5 + String(a.length).length + a.length;
  return n;
}

function argvBytes(argv: readonly string[]): number {
  let n = 0;
  for (const a of argv) n += a.length;
  return n;
}

/** Memory of a dict of `n` entries (dictMemUsage): entries plus a power-of-two slot table. */
function dictBytes(n: number): number {
  if (n === 0) return 0;
  return n * CHANNEL_ENTRY_BYTES + 2 ** Math.ceil(Math.log2(Math.max(4, n))) * DICT_SLOT_BYTES;
}

/** getClientMemoryUsage, with the parts CLIENT LIST shows. */
export function clientMemory(c: Client): ClientMemory {
  // While a client runs its command, the command is still in its query buffer (as in Redis).
  const executing = c.argv.length > 0;
  const qbuf = c.parser.pendingBytes + (executing ? encodedCommandSize(c.argv) : 0);
  // A large bulk counts whole from its header on, as Redis sizes the query buffer for it:
  // tot-mem and eviction do not depend on how much of it the socket has delivered yet.
  const qbufFree = c.parser.reservedBytes;
  // Arguments of a command still being read are held as Redis holds them, in argv.
  const argvMem = executing ? argvBytes(c.argv) : c.parser.partialArgBytes;
  let multiMem = watchedKeyCount(c) * WATCHED_KEY_BYTES;
  if (c.multi !== null) for (const q of c.multi) multiMem += argvBytes(q.argv) + MULTI_CMD_BYTES * q.argv.length;
  const out = c.server.obufBytes(c);
  const obl = Math.min(out, REPLY_CHUNK_BYTES);
  const omem = out - obl;
  const oll = omem === 0 ? 0 : Math.ceil(omem / REPLY_CHUNK_BYTES);
  const rbs = c.reply.buf.length;
  let total = CLIENT_STRUCT_BYTES + qbuf + qbufFree + argvMem + multiMem + rbs + omem;
  total += c.patterns.size * PATTERN_BYTES + dictBytes(c.channels.size) + dictBytes(c.shardChannels.size);
  const prefixes = clientTracking(c)?.prefixes;
  if (prefixes !== undefined && prefixes !== null) total += (prefixes.size + 1) * RAX_NODE_BYTES;
  return { qbuf, qbufFree, argvMem, multiMem, rbs, obl, oll, omem, total };
}

/** Normal and Pub/Sub clients (MONITORs count as normal) are the ones eviction weighs. */
function counted(c: Client): boolean {
  return !c.fake && !c.isMaster && c.kind !== 'master' && (c.kind !== 'replica' || c.isMonitor);
}

/** The per-client figures and their running total, for one server. */
export class ClientEviction {
  /** Each counted client's last figure (those in the total). */
  private readonly last = new Map<Client, number>();
  /** Sum of `last`: stat_clients_type_memory[NORMAL] + [PUBSUB]. */
  private total = 0;
  /** Clients closed by eviction (INFO evicted_clients). */
  evicted = 0;

  constructor(private readonly server: Server) {}

  /** getClientEvictionLimit in bytes, 0 when eviction is off (set by applyLimit). */
  private limit = 0;

  /** getClientEvictionLimit: from maxmemory-clients and maxmemory. */
  private computeLimit(): number {
    const setting = this.server.config.getNumber('maxmemory-clients');
    let bytes: number;
    if (setting < 0 && this.server.settings.maxmemory > 0) bytes = Math.floor((this.server.settings.maxmemory * -setting) / 100);
    else if (setting > 0) bytes = setting;
    else return 0;
    return Math.max(bytes, MIN_EVICTION_LIMIT);
  }

  /** updateClientMemoryUsage: refreshes one client's figure in the total. */
  update(c: Client): void {
    if (c.closed || !counted(c)) return;
    const mem = clientMemory(c).total;
    this.total += mem - (this.last.get(c) ?? 0);
    this.last.set(c, mem);
  }

  /** A client is gone: its figure leaves the total. */
  forget(c: Client): void {
    const mem = this.last.get(c);
    if (mem === undefined) return;
    this.total -= mem;
    this.last.delete(c);
  }

  /**
   * Refreshes `c` (when it may be evicted: a NO-EVICT client is refreshed by the cron only, as
   * in updateClientMemUsageAndBucket) and evicts while over the limit. True if `c` was evicted.
   */
  check(c: Client): boolean {
    const limit = this.limit;
    if (limit === 0) return false;
    if (!c.noEvict) this.update(c);
    if (this.total < limit) return false;
    this.evict(limit);
    return c.closed;
  }

  /** clientsCron's part: every client's figure refreshed, then eviction if over the limit. */
  cron(): void {
    const limit = this.limit;
    if (limit === 0) return;
    for (const c of this.server.clients.values()) this.update(c);
    if (this.total >= limit) this.evict(limit);
  }

  /**
   * maxmemory-clients or maxmemory changed (applyClientMaxMemoryUsage): the evictable clients'
   * figures refreshed and eviction run; turned off, the figures are dropped.
   */
  applyLimit(): void {
    this.limit = this.computeLimit();
    if (this.limit === 0) {
      this.last.clear();
      this.total = 0;
      return;
    }
    for (const c of this.server.clients.values()) if (!c.noEvict) this.update(c);
    if (this.total >= this.limit) this.evict(this.limit);
  }

  /** evictClients: closes the largest evictable clients while the total is at the limit. */
  private evict(limit: number): void {
    while (this.total >= limit) {
      let victim: Client | null = null;
      let largest = -1;
      for (const [c, mem] of this.last) {
        if (c.noEvict || c.closed || mem <= largest) continue;
        victim = c;
        largest = mem;
      }
      if (victim === null) {
        this.server.log.warning('Over client maxmemory after evicting all evictable clients');
        return;
      }
      this.server.log.notice(`Evicting client: ${this.server.clientInfoString(victim)}`);
      this.evicted++;
      this.server.freeClient(victim);
      this.forget(victim);
    }
  }
}
