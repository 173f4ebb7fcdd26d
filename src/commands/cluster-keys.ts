/**
 * CLUSTER subcommands of the keyspace by slot (KEYSLOT, COUNTKEYSINSLOT, GETKEYSINSLOT) and
 * the routing commands ASKING, READONLY, READWRITE. Reached only with `cluster-enabled yes`
 * (commands/cluster.ts). Slot counts and keys come from db 0's per-slot index
 * (keyspace/slot-index.ts), never from a walk over the keyspace.
 */
import type { Client } from '../server/client.js';
import type { CommandHandlers } from '../server/command-table.js';
import { parseInteger } from '../protocol/args.js';
import { NOT_INTEGER } from '../protocol/errors.js';
import { CLUSTER_SLOTS, keyHashSlot } from '../cluster/slot.js';

/** getLongLongFromObjectOrReply: the integer, or null after replying the error. */
function integerArg(c: Client, arg: string): number | null {
  const n = parseInteger(arg);
  if (n === null) c.reply.error(NOT_INTEGER);
  return n;
}

function countKeysInSlot(c: Client): void {
  const slot = integerArg(c, c.argv[2]!);
  if (slot === null) return;
  if (slot < 0 || slot >= CLUSTER_SLOTS) {
    c.reply.error('ERR Invalid slot');
    return;
  }
  c.reply.integer(c.server.dbs[0]!.indexSlots().count(slot));
}

function getKeysInSlot(c: Client): void {
  const slot = integerArg(c, c.argv[2]!);
  if (slot === null) return;
  const max = integerArg(c, c.argv[3]!);
  if (max === null) return;
  if (slot < 0 || slot >= CLUSTER_SLOTS || max < 0) {
    c.reply.error('ERR Invalid slot or number of keys');
    return;
  }
  const keys = c.server.dbs[0]!.indexSlots().keys(slot, max);
  c.reply.array(keys.length);
  for (const key of keys) c.reply.bulk(key);
}

export const commands: CommandHandlers = {
  'cluster|keyslot': (c) => c.reply.integer(keyHashSlot(c.argv[2]!)),
  'cluster|countkeysinslot': countKeysInSlot,
  'cluster|getkeysinslot': getKeysInSlot,
  asking: (c) => {
    c.clusterAsking = true;
    c.reply.ok();
  },
  readonly: (c) => {
    c.clusterReadOnly = true;
    c.reply.ok();
  },
  readwrite: (c) => {
    c.clusterReadOnly = false;
    c.reply.ok();
  },
};
