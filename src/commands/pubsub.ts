/**
 * Pub/Sub commands (Redis 7.0.15 pubsub.c): SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
 * PUBLISH, the shard variants SSUBSCRIBE / SUNSUBSCRIBE / SPUBLISH, and PUBSUB introspection.
 * The subscription state and message delivery live in src/server/pubsub.ts.
 *
 * PUBLISH changes no data but reaches replicas (forceCommandPropagation with PROPAGATE_REPL):
 * the handler sets `c.forcePropagation`, and call() hands it to the Propagator as a
 * replication-only command.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import {
  activeChannels,
  channelSubscriberCount,
  publishMessage,
  pubsubPatternCount,
  subscribeChannel,
  subscribePattern,
  unsubscribeAllChannels,
  unsubscribeAllPatterns,
  unsubscribeChannel,
  unsubscribePattern,
  type SubscriptionKind,
} from '../server/pubsub.js';
import { replyHelp, subcommandSyntaxError } from './help.js';

/**
 * CLIENT_DENY_BLOCKING: inside EXEC or a script a client expects one reply per command, so it
 * cannot enter subscribed mode — except SUBSCRIBE/PSUBSCRIBE in MULTI, kept for compatibility.
 */
function denyBlocking(c: Client): boolean {
  return c.server.executionNesting > 1 || c.fake;
}

function subscribe(c: Client): void {
  if (denyBlocking(c) && c.multi === null) {
    c.reply.error("ERR SUBSCRIBE isn't allowed for a DENY BLOCKING client");
    return;
  }
  for (let i = 1; i < c.argv.length; i++) subscribeChannel(c, c.argv[i]!, 'channel');
}

function ssubscribe(c: Client): void {
  if (denyBlocking(c)) {
    c.reply.error("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    return;
  }
  for (let i = 1; i < c.argv.length; i++) subscribeChannel(c, c.argv[i]!, 'shard');
}

function psubscribe(c: Client): void {
  if (denyBlocking(c) && c.multi === null) {
    c.reply.error("ERR PSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    return;
  }
  for (let i = 1; i < c.argv.length; i++) subscribePattern(c, c.argv[i]!);
}

function unsubscribeGeneric(c: Client, kind: SubscriptionKind): void {
  if (c.argv.length === 1) unsubscribeAllChannels(c, kind, true);
  else for (let i = 1; i < c.argv.length; i++) unsubscribeChannel(c, c.argv[i]!, kind, true);
}

function unsubscribe(c: Client): void {
  unsubscribeGeneric(c, 'channel');
}

function sunsubscribe(c: Client): void {
  unsubscribeGeneric(c, 'shard');
}

function punsubscribe(c: Client): void {
  if (c.argv.length === 1) unsubscribeAllPatterns(c, true);
  else for (let i = 1; i < c.argv.length; i++) unsubscribePattern(c, c.argv[i]!, true);
}

function publishGeneric(c: Client, kind: SubscriptionKind): void {
  const receivers = publishMessage(c.server, c.argv[1]!, c.argv[2]!, kind);
  // In a cluster the message travels on the bus (PUBLISH to every node, SPUBLISH to the
  // shard), not in the replication stream (pubsubPublishMessageAndPropagateToCluster).
  const cluster = c.server.cluster;
  if (cluster === null) c.forcePropagation = true;
  else if (kind === 'shard') cluster.publishShard(c.argv[1]!, c.argv[2]!);
  else cluster.publish(c.argv[1]!, c.argv[2]!);
  c.reply.integer(receivers);
}

function publish(c: Client): void {
  publishGeneric(c, 'channel');
}

function spublish(c: Client): void {
  publishGeneric(c, 'shard');
}

// ---- PUBSUB ----------------------------------------------------------------------------------------

const PUBSUB_HELP = [
  'CHANNELS [<pattern>]',
  "    Return the currently active channels matching a <pattern> (default: '*').",
  'NUMPAT',
  '    Return number of subscriptions to patterns.',
  'NUMSUB [<channel> ...]',
  '    Return the number of subscribers for the specified channels, excluding',
  '    pattern subscriptions(default: no channels).',
  'SHARDCHANNELS [<pattern>]',
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  'SHARDNUMSUB [<shardchannel> ...]',
  '    Return the number of subscribers for the specified shard level channel(s)',
];

function channelList(c: Client, kind: SubscriptionKind): void {
  if (c.argv.length > 3) {
    subcommandSyntaxError(c);
    return;
  }
  const names = activeChannels(c.server, kind, c.argv.length === 3 ? c.argv[2]! : null);
  c.reply.array(names.length);
  for (const n of names) c.reply.bulk(n);
}

function numsubGeneric(c: Client, kind: SubscriptionKind): void {
  c.reply.array((c.argv.length - 2) * 2);
  for (let i = 2; i < c.argv.length; i++) {
    c.reply.bulk(c.argv[i]!);
    c.reply.integer(channelSubscriberCount(c.server, kind, c.argv[i]!));
  }
}

export const commands: CommandHandlers = {
  subscribe,
  unsubscribe,
  psubscribe,
  punsubscribe,
  publish,
  ssubscribe,
  sunsubscribe,
  spublish,
  'pubsub|help': (c) => replyHelp(c, PUBSUB_HELP),
  'pubsub|channels': (c) => channelList(c, 'channel'),
  'pubsub|shardchannels': (c) => channelList(c, 'shard'),
  'pubsub|numsub': (c) => numsubGeneric(c, 'channel'),
  'pubsub|shardnumsub': (c) => numsubGeneric(c, 'shard'),
  'pubsub|numpat': (c) => c.reply.integer(pubsubPatternCount(c.server)),
};
