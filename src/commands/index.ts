/**
 * Every command family's handlers, gathered for the command table. A family lives in one file:
 * find a command in src/commands/<family>.ts.
 */
import type { CommandHandlers } from '../server/command-table.js';
import { commands as connection } from './connection.js';
import { commands as server } from './server.js';
import { commands as keys } from './keys.js';
import { commands as strings } from './strings.js';
import { commands as bitops } from './bitops.js';
import { commands as hyperloglog } from './hyperloglog.js';
import { commands as lists } from './lists.js';
import { commands as hashes } from './hashes.js';
import { commands as sets } from './sets.js';
import { commands as zsets } from './zsets.js';
import { commands as sort } from './sort.js';
import { commands as pubsub } from './pubsub.js';
import { commands as transactions } from './transactions.js';
import { commands as scripting } from './scripting.js';
import { commands as persistence } from './persistence.js';
import { commands as replication } from './replication.js';
import { commands as config } from './config.js';
import { commands as client } from './client.js';
import { commands as info } from './info.js';
import { commands as command } from './command.js';
import { commands as debug } from './debug.js';
import { commands as aof } from './aof.js';
import { commands as streams } from './streams.js';
import { commands as geo } from './geo.js';
import { commands as acl } from './acl.js';
import { commands as migrate } from './migrate.js';
import { commands as clusterModule } from './cluster-module.js';
import { commands as cluster } from './cluster.js';
import { commands as lolwut } from './lolwut.js';

export function allCommandHandlers(): CommandHandlers[] {
  return [connection, server, keys, strings, bitops, hyperloglog, lists, hashes, sets, zsets, geo, sort, pubsub, transactions, scripting, persistence, replication, config, client, info, command, debug, aof, streams, acl, cluster, clusterModule, migrate, lolwut];
}
