/**
 * Pub/Sub state and delivery (Redis 7.0.15 pubsub.c).
 *
 * The server keeps three indexes, each channel/pattern → its subscribers in subscription order:
 * classic channels, patterns, and shard channels (SSUBSCRIBE/SPUBLISH; without cluster mode a
 * shard channel is simply a separate namespace that patterns never match). Every client keeps
 * the mirror sets (`c.channels`, `c.patterns`, `c.shardChannels`); while any is non-empty a RESP2
 * client is in subscribed mode (processCommand enforces it) and its output buffer is governed by
 * the `pubsub` class of client-output-buffer-limit.
 *
 * Messages are written straight into each subscriber's reply writer (an array in RESP2, a `>`
 * push in RESP3) and flushed at the end of the loop turn, like any other reply.
 */
import type { Server } from './server.js';
import type { Client } from './client.js';
import { stringMatch } from '../keyspace/glob.js';
import { keyHashSlot } from '../cluster/slot.js';

export type SubscriptionKind = 'channel' | 'shard';

interface PubsubState {
  readonly channels: Map<string, Set<Client>>;
  readonly patterns: Map<string, Set<Client>>;
  readonly shardChannels: Map<string, Set<Client>>;
}

const states = new WeakMap<Server, PubsubState>();

function stateOf(server: Server): PubsubState {
  let s = states.get(server);
  if (s === undefined) {
    s = { channels: new Map(), patterns: new Map(), shardChannels: new Map() };
    states.set(server, s);
  }
  return s;
}

function serverIndex(s: PubsubState, kind: SubscriptionKind): Map<string, Set<Client>> {
  return kind === 'shard' ? s.shardChannels : s.channels;
}

/** The client's set of `kind` for reading (a shared empty one while it has none). */
function subscribedTo(c: Client, kind: SubscriptionKind): ReadonlySet<string> {
  return kind === 'shard' ? c.shardChannels : c.channels;
}

/** The client's set of `kind` for changing (made on first use: Client.subscriptionSet). */
function clientSet(c: Client, kind: SubscriptionKind): Set<string> {
  return c.subscriptionSet(kind);
}

/** Subscriptions counted in SUBSCRIBE/PSUBSCRIBE replies (clientSubscriptionsCount). */
function subscriptionCount(c: Client, kind: SubscriptionKind): number {
  return kind === 'shard' ? c.shardChannels.size : c.channels.size + c.patterns.size;
}

/** The 3-element header of every pub/sub reply: an array in RESP2, a push in RESP3. */
function header(c: Client, n: number): void {
  c.reply.push(n);
}

function addIndex(index: Map<string, Set<Client>>, name: string, c: Client): void {
  let subs = index.get(name);
  if (subs === undefined) {
    subs = new Set();
    index.set(name, subs);
  }
  subs.add(c);
}

function removeIndex(index: Map<string, Set<Client>>, name: string, c: Client): void {
  const subs = index.get(name);
  if (subs === undefined) return;
  subs.delete(c);
  if (subs.size === 0) index.delete(name);
}

/** SUBSCRIBE / SSUBSCRIBE one channel, with its confirmation. */
export function subscribeChannel(c: Client, channel: string, kind: SubscriptionKind): void {
  const s = stateOf(c.server);
  if (!subscribedTo(c, kind).has(channel)) {
    clientSet(c, kind).add(channel);
    c.subscriptions++;
    addIndex(serverIndex(s, kind), channel, c);
    if (kind === 'channel') notePeak(c.server, s);
  }
  header(c, 3);
  c.reply.bulk(kind === 'shard' ? 'ssubscribe' : 'subscribe');
  c.reply.bulk(channel);
  c.reply.integer(subscriptionCount(c, kind));
}

/** UNSUBSCRIBE / SUNSUBSCRIBE one channel; `channel` null is the "subscribed to nothing" reply. */
export function unsubscribeChannel(c: Client, channel: string | null, kind: SubscriptionKind, notify: boolean): boolean {
  let removed = false;
  if (channel !== null && subscribedTo(c, kind).has(channel) && clientSet(c, kind).delete(channel)) {
    removed = true;
    c.subscriptions--;
    removeIndex(serverIndex(stateOf(c.server), kind), channel, c);
  }
  if (notify) {
    header(c, 3);
    c.reply.bulk(kind === 'shard' ? 'sunsubscribe' : 'unsubscribe');
    if (channel === null) c.reply.nullBulk();
    else c.reply.bulk(channel);
    c.reply.integer(subscriptionCount(c, kind));
  }
  return removed;
}

/** UNSUBSCRIBE / SUNSUBSCRIBE without arguments. */
export function unsubscribeAllChannels(c: Client, kind: SubscriptionKind, notify: boolean): number {
  let count = 0;
  for (const channel of [...subscribedTo(c, kind)]) if (unsubscribeChannel(c, channel, kind, notify)) count++;
  if (notify && count === 0) unsubscribeChannel(c, null, kind, true);
  return count;
}

export function subscribePattern(c: Client, pattern: string): void {
  const s = stateOf(c.server);
  if (!c.patterns.has(pattern)) {
    c.subscriptionSet('pattern').add(pattern);
    c.subscriptions++;
    addIndex(s.patterns, pattern, c);
  }
  header(c, 3);
  c.reply.bulk('psubscribe');
  c.reply.bulk(pattern);
  c.reply.integer(subscriptionCount(c, 'channel'));
}

export function unsubscribePattern(c: Client, pattern: string | null, notify: boolean): boolean {
  let removed = false;
  if (pattern !== null && c.patterns.has(pattern) && c.subscriptionSet('pattern').delete(pattern)) {
    removed = true;
    c.subscriptions--;
    removeIndex(stateOf(c.server).patterns, pattern, c);
  }
  if (notify) {
    header(c, 3);
    c.reply.bulk('punsubscribe');
    if (pattern === null) c.reply.nullBulk();
    else c.reply.bulk(pattern);
    c.reply.integer(subscriptionCount(c, 'channel'));
  }
  return removed;
}

export function unsubscribeAllPatterns(c: Client, notify: boolean): number {
  let count = 0;
  for (const pattern of [...c.patterns]) if (unsubscribePattern(c, pattern, notify)) count++;
  if (notify && count === 0) unsubscribePattern(c, null, true);
  return count;
}

/**
 * Ends every shard channel subscription of `slot`, telling each subscriber (SUNSUBSCRIBE
 * push): the slot left this node's shard (cluster.c removeChannelsInSlot).
 */
export function unsubscribeShardSlot(server: Server, slot: number): number {
  const s = states.get(server);
  if (s === undefined || s.shardChannels.size === 0) return 0;
  let count = 0;
  for (const [channel, clients] of [...s.shardChannels]) {
    if (keyHashSlot(channel) !== slot) continue;
    count++;
    for (const c of [...clients]) {
      unsubscribeChannel(c, channel, 'shard', true);
      c.markPendingWrite();
    }
  }
  return count;
}

/** Drops every subscription without replying (RESET, disconnect). */
export function unsubscribeAll(c: Client): void {
  if (!c.inPubSubContext) return;
  unsubscribeAllChannels(c, 'channel', false);
  unsubscribeAllChannels(c, 'shard', false);
  unsubscribeAllPatterns(c, false);
}

/**
 * Delivers a message to the channel's subscribers and, for classic channels, to every matching
 * pattern's subscribers. Returns the number of deliveries (PUBLISH's reply).
 */
export function publishMessage(server: Server, channel: string, message: string, kind: SubscriptionKind): number {
  const s = states.get(server);
  if (s === undefined) return 0;
  let receivers = 0;
  const subs = serverIndex(s, kind).get(channel);
  if (subs !== undefined) {
    const kindBulk = kind === 'shard' ? 'smessage' : 'message';
    for (const c of subs) {
      if (c.closed) continue;
      header(c, 3);
      c.reply.bulk(kindBulk);
      c.reply.bulk(channel);
      c.reply.bulk(message);
      c.markPendingWrite();
      receivers++;
    }
  }
  if (kind === 'shard' || s.patterns.size === 0) return receivers;
  for (const [pattern, clients] of s.patterns) {
    if (!stringMatch(pattern, channel, false)) continue;
    for (const c of clients) {
      if (c.closed) continue;
      header(c, 4);
      c.reply.bulk('pmessage');
      c.reply.bulk(pattern);
      c.reply.bulk(channel);
      c.reply.bulk(message);
      c.markPendingWrite();
      receivers++;
    }
  }
  return receivers;
}

/** Active channel names (PUBSUB CHANNELS / SHARDCHANNELS), optionally filtered by a glob. */
export function activeChannels(server: Server, kind: SubscriptionKind, pattern: string | null): string[] {
  const s = states.get(server);
  if (s === undefined) return [];
  const out: string[] = [];
  for (const name of serverIndex(s, kind).keys()) {
    if (pattern === null || stringMatch(pattern, name, false)) out.push(name);
  }
  return out;
}

/** Subscribers of one channel, not counting pattern subscribers (PUBSUB NUMSUB / SHARDNUMSUB). */
export function channelSubscriberCount(server: Server, kind: SubscriptionKind, channel: string): number {
  return states.get(server) ? serverIndex(states.get(server)!, kind).get(channel)?.size ?? 0 : 0;
}

/** INFO stats `pubsub_channels`: channels with at least one subscriber. */
export function pubsubChannelCount(server: Server): number {
  return states.get(server)?.channels.size ?? 0;
}

/** INFO stats `pubsub_patterns` and PUBSUB NUMPAT: distinct patterns subscribed. */
export function pubsubPatternCount(server: Server): number {
  return states.get(server)?.patterns.size ?? 0;
}

/** INFO stats `pubsubshard_channels`. */
export function pubsubShardChannelCount(server: Server): number {
  return states.get(server)?.shardChannels.size ?? 0;
}

function notePeak(server: Server, s: PubsubState): void {
  if (s.channels.size > server.stats.pubsubChannelsPeak) server.stats.pubsubChannelsPeak = s.channels.size;
}

export function install(server: Server): void {
  stateOf(server);
  server.hooks.resetClient.push((c) => unsubscribeAll(c));
  server.hooks.clientClosed.push((c) => unsubscribeAll(c));
}
