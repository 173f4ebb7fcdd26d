/**
 * CLUSTER subcommands of the topology — nodes, slots, epochs, failover — over the cluster's
 * state (src/cluster/). Reached only with `cluster-enabled yes` (commands/cluster.ts).
 */
import type { CommandHandlers } from '../server/command-table.js';

export const commands: CommandHandlers = {};
