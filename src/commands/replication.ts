/**
 * Replication commands: REPLICAOF/SLAVEOF, SYNC/PSYNC, REPLCONF, WAIT, ROLE and FAILOVER. The logic lives
 * in src/replication/ (master side, replica side, shared state); these are the entry points.
 */
import type { CommandHandlers } from '../server/command-table.js';
import { replicaofCommand, roleCommand } from '../replication/index.js';
import { syncCommand, replconfCommand, waitCommand } from '../replication/master.js';
import { failoverCommand } from '../replication/failover.js';

export const commands: CommandHandlers = {
  replicaof: replicaofCommand,
  slaveof: replicaofCommand,
  sync: syncCommand,
  psync: syncCommand,
  replconf: replconfCommand,
  wait: waitCommand,
  role: roleCommand,
  failover: failoverCommand,
};
