/**
 * CLUSTER and every subcommand, ASKING, READONLY and READWRITE. With `cluster-enabled no`
 * each replies `-ERR This instance has cluster support disabled`, as Redis 7.0.15 does (HELP
 * included: Redis checks cluster_enabled before anything else); clients such as redis-py,
 * ioredis and RedisInsight send CLUSTER INFO to detect cluster mode.
 *
 * With the cluster on, the handlers live in two files: the topology (nodes, slots, epochs,
 * failover: cluster-topology.ts) and the keyspace by slot and routing (cluster-keys.ts).
 */
import type { CommandHandlers, Handler } from '../server/command-table.js';
import { commandMetadata } from '../server/command-table.js';
import { clusterDisabled } from './cluster-module.js';
import { commands as topology } from './cluster-topology.js';
import { commands as keys } from './cluster-keys.js';

function handlerOf(entry: CommandHandlers[string] | undefined): Handler | null {
  if (entry === undefined) return null;
  return typeof entry === 'function' ? entry : entry.handler;
}

function whenEnabled(name: string): Handler {
  const handler = handlerOf(topology[name]) ?? handlerOf(keys[name]);
  if (handler === null) return clusterDisabled;
  return (c) => (c.server.cluster === null ? clusterDisabled(c) : handler(c));
}

const names = ['asking', 'readonly', 'readwrite', ...Object.keys(commandMetadata()['cluster']?.subcommands ?? {}).map((sub) => `cluster|${sub}`)];

export const commands: CommandHandlers = Object.fromEntries(names.map((name) => [name, whenEnabled(name)]));
