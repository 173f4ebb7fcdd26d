/**
 * Client-side caching: CLIENT TRACKING's server side (Redis 7.0.15 tracking.c).
 *
 * Default mode. After a read-only command of a tracking client ran, the keys it named go into
 * the tracking table, key → ids of the clients that may hold it in a local cache. Keys are not
 * per database (Redis's table is one radix tree of names). When a key is modified, expires or
 * is dropped to respect `tracking-table-max-keys`, every client in its entry gets an
 * invalidation and the entry is deleted: a client must read the key again to be told next
 * time. A flush (FLUSHDB/FLUSHALL, loading a dataset) sends one null invalidation ("all keys")
 * to every tracking client and empties the table.
 *
 * BCAST mode. A client registers prefixes instead (the empty prefix matches every key); the
 * prefix table maps prefix → keys modified during this loop turn (with the client that last
 * modified each, for NOLOOP) and the subscribed clients. The keys are broadcast once per loop
 * turn, one message per prefix, keys in byte order, before replies go out.
 *
 * Delivery. RESP3 clients get `>2 invalidate <keys|null>` on their own connection; with
 * REDIRECT the message goes to the other client instead — as a push if it speaks RESP3, as a
 * `__redis__:invalidate` pub/sub message if it is a RESP2 subscriber, and not at all otherwise.
 * When the redirect target is gone a RESP3 client gets `tracking-redir-broken` pushes.
 * Invalidations addressed to the client whose command is running are held and sent after
 * that command's reply (EXEC and scripts included), as trackingHandlePendingKeyInvalidations.
 * Pushes are never dropped by CLIENT REPLY OFF/SKIP (Redis's CLIENT_PUSHING): those written
 * while the recipient's own command runs are held until its reply mode was applied.
 *
 * Cost when nobody tracks: the dispatch hooks (`server.hooks.tracking`, a precheck for the
 * table limit) are installed only while some client has tracking on; a modified key costs
 * two size checks.
 */
import type { Server } from './server.js';
import type { Client } from './client.js';
import type { CommandSpec } from './command-table.js';
import { setInfoField } from './info-fields.js';
import { scriptingIfCreated } from '../scripting/engine.js';

/** A client's tracking state: the CLIENT_TRACKING* flags and fields of Redis's client. */
export interface ClientTracking {
  on: boolean;
  /** Client id invalidations go to; 0 = this connection. Kept after OFF, as in Redis. */
  redirect: number;
  bcast: boolean;
  optin: boolean;
  optout: boolean;
  noloop: boolean;
  /** CLIENT CACHING yes/no was given for the next command. */
  caching: boolean;
  brokenRedirect: boolean;
  /** BCAST prefixes (Redis keeps them until tracking is turned off). */
  prefixes: Set<string> | null;
}

/** What CLIENT TRACKING ON asks for, already validated. */
export interface TrackingRequest {
  redirect: number;
  bcast: boolean;
  optin: boolean;
  optout: boolean;
  noloop: boolean;
  prefixes: readonly string[];
}

/** One prefix of the BCAST table. */
interface BroadcastState {
  /** Keys modified in this loop turn → the client that modified each last (null: expiry…). */
  keys: Map<string, Client | null>;
  clients: Set<Client>;
}

/** Commands whose reads are not tracked themselves (their scripts' reads are). */
const SCRIPT_RO_COMMANDS = new Set(['eval_ro', 'evalsha_ro', 'fcall_ro']);

const INVALIDATE_PUSH = '>2\r\n$10\r\ninvalidate\r\n';
const INVALIDATE_MESSAGE = '*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n';

/**
 * The tracking table: key → client ids, with O(1) random choice for trimming it to
 * `tracking-table-max-keys` (Redis walks its radix tree at random).
 */
class KeyTable {
  private readonly slots = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly ids: Set<number>[] = [];

  get size(): number {
    return this.keys.length;
  }

  get(key: string): Set<number> | undefined {
    const slot = this.slots.get(key);
    return slot === undefined ? undefined : this.ids[slot];
  }

  getOrCreate(key: string): Set<number> {
    const slot = this.slots.get(key);
    if (slot !== undefined) return this.ids[slot]!;
    const set = new Set<number>();
    this.slots.set(key, this.keys.length);
    this.keys.push(key);
    this.ids.push(set);
    return set;
  }

  delete(key: string): void {
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    const last = this.keys.length - 1;
    if (slot !== last) {
      const movedKey = this.keys[last]!;
      this.keys[slot] = movedKey;
      this.ids[slot] = this.ids[last]!;
      this.slots.set(movedKey, slot);
    }
    this.keys.pop();
    this.ids.pop();
  }

  keyAt(slot: number): string {
    return this.keys[slot]!;
  }

  clear(): void {
    this.slots.clear();
    this.keys.length = 0;
    this.ids.length = 0;
  }
}

/**
 * Redis keeps a key's client ids in a radix tree keyed by the id's in-memory (little-endian)
 * bytes, so that is the order invalidations are sent in; it shows when several clients
 * redirect to the same connection.
 */
function compareIdBytes(a: number, b: number): number {
  for (let i = 0; i < 7; i++) {
    const da = a % 256;
    const db = b % 256;
    if (da !== db) return da - db;
    a = Math.floor(a / 256);
    b = Math.floor(b / 256);
  }
  return a - b;
}

/** A RESP array of bulk strings (BCAST messages, whatever the protocol). */
function keysArray(keys: readonly string[]): string {
  let s = `*${keys.length}\r\n`;
  for (const k of keys) s += `$${k.length}\r\n${k}\r\n`;
  return s;
}

/** Prefixes are printed with %s in Redis's errors: they end at a NUL byte. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** True when one string is a prefix of the other (they would invalidate a common key). */
function prefixesOverlap(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  return a.slice(0, n) === b.slice(0, n);
}

class Tracking {
  /** Clients with tracking on (INFO tracking_clients). */
  readonly clientsOn = new Set<Client>();
  readonly table = new KeyTable();
  /** Client ids across the table (INFO tracking_total_items). */
  totalItems = 0;
  readonly prefixTable = new Map<string, BroadcastState>();
  /** BCAST keys wait to be broadcast. */
  private broadcastDue = false;
  private broadcastScheduled = false;
  /** Invalidations held for a tracking client until its running command replied (null = flush). */
  private readonly pending = new Map<Client, (string | null)[]>();
  /** Pushes held for a recipient whose running command's output CLIENT REPLY drops. */
  private readonly held = new Map<Client, string[]>();
  /** Set by a flush's first database so FLUSHALL sends one null, not one per database. */
  private flushInProgress = false;
  maxKeys = 1000000;
  /** trackingLimitUsedSlots' effort grows each time it could not get under the limit. */
  private limitTimeouts = 0;
  private readonly states = new WeakMap<Client, ClientTracking>();
  private readonly precheck = (): string | null => {
    this.limitUsedSlots();
    return null;
  };
  private readonly dispatchHooks = {
    afterCall: (c: Client, spec: CommandSpec): void => this.afterCall(c, spec),
    commandProcessed: (c: Client): void => this.commandProcessed(c),
  };

  constructor(readonly server: Server) {}

  stateOf(c: Client): ClientTracking | undefined {
    return this.states.get(c);
  }

  // ---- enabling and disabling --------------------------------------------------------------------

  /** enableTracking(): flags reset to the request; BCAST prefixes add to those registered. */
  enable(c: Client, req: TrackingRequest): void {
    let t = this.states.get(c);
    if (t === undefined) {
      t = { on: false, redirect: 0, bcast: false, optin: false, optout: false, noloop: false, caching: false, brokenRedirect: false, prefixes: null };
      this.states.set(c, t);
    }
    if (!t.on) {
      t.on = true;
      this.clientsOn.add(c);
      if (this.clientsOn.size === 1) this.activate();
    }
    t.brokenRedirect = false;
    t.redirect = req.redirect;
    t.bcast = req.bcast;
    if (req.bcast) {
      if (req.prefixes.length === 0) this.addPrefix(c, t, '');
      for (const p of req.prefixes) this.addPrefix(c, t, p);
    }
    t.optin = req.optin;
    t.optout = req.optout;
    t.noloop = req.noloop;
  }

  private addPrefix(c: Client, t: ClientTracking, prefix: string): void {
    let bs = this.prefixTable.get(prefix);
    if (bs === undefined) {
      bs = { keys: new Map(), clients: new Set() };
      this.prefixTable.set(prefix, bs);
    }
    if (!bs.clients.has(c)) {
      bs.clients.add(c);
      (t.prefixes ??= new Set()).add(prefix);
    }
  }

  /**
   * disableTracking(): the client's ids stay in the table and are dropped lazily when their
   * keys are invalidated (a client with many keys would otherwise be costly to free).
   */
  disable(c: Client): void {
    const t = this.states.get(c);
    if (t === undefined) return;
    if (t.bcast && t.prefixes !== null) {
      for (const p of t.prefixes) {
        const bs = this.prefixTable.get(p);
        if (bs === undefined) continue;
        bs.clients.delete(c);
        if (bs.clients.size === 0) this.prefixTable.delete(p);
      }
      t.prefixes = null;
    }
    if (t.on) {
      t.on = false;
      t.brokenRedirect = t.bcast = t.optin = t.optout = t.caching = t.noloop = false;
      this.clientsOn.delete(c);
      if (this.clientsOn.size === 0) this.deactivate();
    }
  }

  /**
   * checkPrefixCollisionsOrReply(): the error for prefixes that overlap each other or one the
   * client registered before, or null.
   */
  prefixCollision(c: Client, prefixes: readonly string[]): string | null {
    const existing = this.states.get(c)?.prefixes ?? null;
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i]!;
      // Redis reports the first overlapping prefix in byte order (its rax's order): the smallest
      // one, found in one pass (sorting them all on every call made 200,000 prefixes quadratic).
      if (existing !== null) {
        let first: string | null = null;
        for (const e of existing) if (prefixesOverlap(e, p) && (first === null || e < first)) first = e;
        if (first !== null) {
          return `ERR Prefix '${cString(p)}' overlaps with an existing prefix '${cString(first)}'. Prefixes for a single client must not overlap.`;
        }
      }
      for (let j = i + 1; j < prefixes.length; j++) {
        if (prefixesOverlap(p, prefixes[j]!)) {
          return `ERR Prefix '${cString(p)}' overlaps with another provided prefix '${cString(prefixes[j]!)}'. Prefixes for a single client must not overlap.`;
        }
      }
    }
    return null;
  }

  private activate(): void {
    this.server.hooks.tracking = this.dispatchHooks;
    this.server.hooks.precheck.push(this.precheck);
  }

  private deactivate(): void {
    this.server.hooks.tracking = null;
    const i = this.server.hooks.precheck.indexOf(this.precheck);
    if (i >= 0) this.server.hooks.precheck.splice(i, 1);
  }

  // ---- remembering reads -----------------------------------------------------------------------

  /** After every call() while someone tracks: remember reads, send held invalidations. */
  private afterCall(c: Client, spec: CommandSpec): void {
    this.flushInProgress = false;
    const server = this.server;
    if (spec.isReadonly && !SCRIPT_RO_COMMANDS.has(spec.name)) {
      // A read inside a script makes the script's caller track the keys the script declared.
      const current = server.currentClient;
      const inScript = c.fake && current !== null && current !== c;
      const caller = inScript ? current : c;
      const t = this.states.get(caller);
      if (t !== undefined && t.on && !t.bcast) {
        const cmd = inScript ? caller.cmd : spec;
        if (cmd !== null) this.rememberKeys(caller, t, cmd, caller.argv);
      }
    }
    if (server.executionNesting === 1 && this.pending.size > 0) this.sendPending();
  }

  /** trackingRememberKeys(). */
  private rememberKeys(c: Client, t: ClientTracking, cmd: CommandSpec, argv: readonly string[]): void {
    if ((t.optin && !t.caching) || (t.optout && t.caching)) return;
    const positions = cmd.getKeys(argv);
    if (positions.length === 0) return;
    // Shard channels have key specs (for cluster routing) but are not cached data.
    if (cmd.isPubsub) return;
    for (const pos of positions) {
      const ids = this.table.getOrCreate(argv[pos]!);
      if (!ids.has(c.id)) {
        ids.add(c.id);
        this.totalItems++;
      }
    }
  }

  /** After each command processInput handled: CLIENT CACHING lapses, held pushes go out. */
  private commandProcessed(c: Client): void {
    this.flushInProgress = false;
    if (this.pending.size > 0) this.sendPending();
    const t = this.states.get(c);
    // CACHING applies to the next command, or to the whole next transaction; CLIENT commands
    // keep it (resetClient()); a command held by CLIENT PAUSE has not run yet.
    if (t !== undefined && t.caching && c.multi === null && c.blocked?.kind !== 'pause' && !this.isClientCommand(c.argv)) {
      t.caching = false;
    }
    this.releaseHeld(c);
  }

  private isClientCommand(argv: readonly string[]): boolean {
    if (argv.length < 2 || argv[0]!.toLowerCase() !== 'client') return false;
    return this.server.commands.lookup('client')?.subcommands?.has(argv[1]!.toLowerCase()) ?? false;
  }

  // ---- invalidation ----------------------------------------------------------------------------

  /** signalModifiedKey(): a key changed (or expired, `expired`). */
  keyModified(key: string, expired: boolean): void {
    if (this.table.size === 0 && this.prefixTable.size === 0) return;
    let modifier: Client | null = null;
    if (!expired && this.prefixTable.size > 0) {
      // The client NOLOOP compares with: a script's writes are its Lua client's, not the caller's.
      const script = scriptingIfCreated(this.server);
      modifier = script !== undefined && script.run !== null ? null : this.server.currentClient;
    }
    this.invalidateKey(key, modifier, true);
  }

  /** trackingInvalidateKey(). */
  private invalidateKey(key: string, modifier: Client | null, bcast: boolean): void {
    if (bcast && this.prefixTable.size > 0) this.rememberKeyToBroadcast(key, modifier);
    const ids = this.table.get(key);
    if (ids === undefined) return;
    const server = this.server;
    const current = server.currentClient;
    const order = ids.size > 1 ? [...ids].sort(compareIdBytes) : ids;
    for (const id of order) {
      const target = server.clients.get(id);
      if (target === undefined) continue;
      const t = this.states.get(target);
      // A client that switched to BCAST gets nothing for keys it read before.
      if (t === undefined || !t.on || t.bcast) continue;
      if (t.noloop && target === current) continue;
      // To the running command's client, after its reply.
      if (target === current && server.executionNesting > 0) this.hold(target, key);
      else this.send(target, t, `*1\r\n$${key.length}\r\n${key}\r\n`);
    }
    this.totalItems -= ids.size;
    this.table.delete(key);
  }

  private hold(c: Client, key: string | null): void {
    const list = this.pending.get(c);
    if (list === undefined) this.pending.set(c, [key]);
    else list.push(key);
  }

  /** trackingHandlePendingKeyInvalidations(). */
  private sendPending(): void {
    for (const c of [...this.pending.keys()]) this.sendPendingOf(c);
  }

  private sendPendingOf(c: Client): void {
    const list = this.pending.get(c);
    if (list === undefined) return;
    this.pending.delete(c);
    if (c.closed) return;
    const t = this.states.get(c)!;
    for (const key of list) this.send(c, t, key === null ? this.nullFor(c) : `*1\r\n$${key.length}\r\n${key}\r\n`);
  }

  /** The "all keys" value: a null in the tracking client's own protocol (shared.null[c->resp]). */
  private nullFor(c: Client): string {
    return c.resp === 3 ? '_\r\n' : '$-1\r\n';
  }

  /**
   * sendTrackingMessage(): `value` is the RESP of the keys part (an array, or a null). Goes to
   * the client or its redirect target, in whatever form that connection can receive.
   */
  private send(c: Client, t: ClientTracking, value: string): void {
    // Anything still held for this client belongs before what happens now.
    if (this.pending.size > 0 && this.pending.has(c)) this.sendPendingOf(c);
    let to = c;
    if (t.redirect !== 0) {
      const target = this.server.clients.get(t.redirect);
      if (target === undefined || target.closed) {
        t.brokenRedirect = true;
        if (c.resp === 3) this.deliver(c, `>2\r\n$21\r\ntracking-redir-broken\r\n:${t.redirect}\r\n`);
        return;
      }
      to = target;
    }
    // RESP2 has no pushes: only a redirect target in subscribed mode can be told.
    if (to.resp === 3) this.deliver(to, INVALIDATE_PUSH + value);
    else if (t.redirect !== 0 && to.inPubSubContext) this.deliver(to, INVALIDATE_MESSAGE + value);
  }

  /** Writes a push; CLIENT REPLY OFF/SKIP would drop it if its own command is running. */
  private deliver(to: Client, bytes: string): void {
    if (to.argv.length > 0 && to.replyMode !== 'on') {
      const list = this.held.get(to);
      if (list === undefined) this.held.set(to, [bytes]);
      else list.push(bytes);
      return;
    }
    to.reply.rawString(bytes);
    to.markPendingWrite();
  }

  private releaseHeld(c: Client): void {
    if (this.held.size === 0) return;
    const list = this.held.get(c);
    if (list === undefined) return;
    this.held.delete(c);
    if (c.closed) return;
    for (const b of list) c.reply.rawString(b);
    c.markPendingWrite();
  }

  /** trackingInvalidateKeysOnFlush(): one null to every tracking client; the table empties. */
  flushed(): void {
    const server = this.server;
    if (this.clientsOn.size > 0 && !this.flushInProgress) {
      this.flushInProgress = true;
      for (const c of server.clients.values()) {
        const t = this.states.get(c);
        if (t === undefined || !t.on) continue;
        if (c === server.currentClient) this.hold(c, null);
        else this.send(c, t, this.nullFor(c));
      }
    }
    this.table.clear();
    this.totalItems = 0;
  }

  /** trackingLimitUsedSlots(): drop random keys (invalidating them) down to the limit. */
  limitUsedSlots(): void {
    if (this.maxKeys === 0) return;
    if (this.table.size <= this.maxKeys) {
      this.limitTimeouts = 0;
      return;
    }
    // The effort grows with each call that found the table still over the limit.
    let effort = 100 * (this.limitTimeouts + 1);
    while (effort > 0 && this.table.size > 0) {
      effort--;
      const key = this.table.keyAt(this.server.rng.below(this.table.size));
      this.invalidateKey(key, null, false);
      if (this.table.size <= this.maxKeys) {
        this.limitTimeouts = 0;
        return;
      }
    }
    this.limitTimeouts++;
  }

  // ---- BCAST -------------------------------------------------------------------------------------

  /** trackingRememberKeyToBroadcast(). */
  private rememberKeyToBroadcast(key: string, modifier: Client | null): void {
    let matched = false;
    for (const [prefix, bs] of this.prefixTable) {
      if (prefix.length > key.length) continue;
      if (prefix.length !== 0 && !key.startsWith(prefix)) continue;
      // Re-inserting moves nothing (keys are sorted when sent) but records the last modifier.
      bs.keys.set(key, modifier);
      matched = true;
    }
    if (!matched) return;
    this.broadcastDue = true;
    // Usually the end-of-turn reply flush sends them; writes from timers (expiry) have none.
    if (!this.broadcastScheduled) {
      this.broadcastScheduled = true;
      setImmediate(() => {
        this.broadcastScheduled = false;
        this.broadcast();
      });
    }
  }

  /** trackingBroadcastInvalidationMessages(): once per loop turn. */
  broadcast(): void {
    if (!this.broadcastDue) return;
    this.broadcastDue = false;
    if (this.clientsOn.size === 0) return;
    const prefixes = [...this.prefixTable.keys()].sort();
    for (const prefix of prefixes) {
      const bs = this.prefixTable.get(prefix)!;
      if (bs.keys.size === 0) continue;
      const keys = [...bs.keys.keys()].sort();
      const all = keysArray(keys);
      for (const c of bs.clients) {
        const t = this.states.get(c)!;
        if (t.noloop) {
          // Without the keys this client modified itself.
          const own = keys.filter((k) => bs.keys.get(k) !== c);
          if (own.length > 0) this.send(c, t, own.length === keys.length ? all : keysArray(own));
        } else {
          this.send(c, t, all);
        }
      }
      bs.keys = new Map();
    }
  }

  /** After a top-level command and the blocked clients it served. */
  afterCommand(): void {
    if (this.pending.size > 0) this.sendPending();
  }

  /** Before replies are written: anything held goes out with them. */
  beforeReplies(): void {
    this.flushInProgress = false;
    if (this.pending.size > 0) this.sendPending();
    this.broadcast();
    if (this.held.size > 0) for (const c of [...this.held.keys()]) this.releaseHeld(c);
  }

  clientClosed(c: Client): void {
    this.disable(c);
    this.pending.delete(c);
    this.held.delete(c);
  }
}

const trackers = new WeakMap<Server, Tracking>();

function trackingFor(server: Server): Tracking {
  let t = trackers.get(server);
  if (t === undefined) {
    t = new Tracking(server);
    trackers.set(server, t);
  }
  return t;
}

/** The client's tracking state, if it ever enabled tracking. */
export function clientTracking(c: Client): ClientTracking | undefined {
  return trackingFor(c.server).stateOf(c);
}

/** True while the client has CLIENT TRACKING on. */
export function isTracking(c: Client): boolean {
  return clientTracking(c)?.on === true;
}

/** CLIENT TRACKING ON with validated options. */
export function enableTracking(c: Client, req: TrackingRequest): void {
  trackingFor(c.server).enable(c, req);
}

/** CLIENT TRACKING OFF (also RESET and disconnection). */
export function disableTracking(c: Client): void {
  trackingFor(c.server).disable(c);
}

/** The error for BCAST prefixes that overlap, or null. */
export function trackingPrefixCollision(c: Client, prefixes: readonly string[]): string | null {
  return trackingFor(c.server).prefixCollision(c, prefixes);
}

export function install(server: Server): void {
  const t = trackingFor(server);
  server.config.watch('tracking-table-max-keys', (v) => (t.maxKeys = v as number));
  server.hooks.keyModified.push((_dbId, key, expired) => t.keyModified(key, expired === true));
  server.hooks.dbTouched.push((_dbId, swappedWith) => {
    // SWAPDB invalidates nothing (the names did not change); a flush does.
    if (swappedWith === undefined) t.flushed();
  });
  // After the blocking module's hook: a served blocked client's invalidations follow its reply.
  server.hooks.afterCommand.push(() => t.afterCommand());
  server.hooks.beforeReplies.push(() => t.beforeReplies());
  server.hooks.cron.push(() => {
    if (t.clientsOn.size > 0) t.limitUsedSlots();
  });
  server.hooks.clientClosed.push((c) => t.clientClosed(c));
  server.hooks.resetClient.push((c) => t.disable(c));
  setInfoField(server, 'tracking_clients', () => t.clientsOn.size);
  setInfoField(server, 'tracking_total_keys', () => t.table.size);
  setInfoField(server, 'tracking_total_items', () => t.totalItems);
  setInfoField(server, 'tracking_total_prefixes', () => t.prefixTable.size);
}
