/**
 * CLUSTER subcommands of the keyspace by slot (KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT) and
 * the routing commands ASKING, READONLY, READWRITE. Reached only with `cluster-enabled yes`
 * (commands/cluster.ts).
 */
import type { CommandHandlers } from '../server/command-table.js';

export const commands: CommandHandlers = {};
