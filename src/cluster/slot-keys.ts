/**
 * The keyspace by slot (db 0: a cluster has one database), for the cluster's state: how many
 * keys a slot holds, which, and dropping a slot lost to another master. Read from the
 * database's per-slot index (keyspace/slot-index.ts), started here if the server has not yet.
 */
import type { Database } from '../keyspace/db.js';
import type { SlotKeys } from './view.js';

/** SlotKeys over a database's per-slot index. */
export function slotKeys(db: Database): SlotKeys {
  const index = db.indexSlots();
  return {
    countKeysInSlot: (slot) => index.count(slot),
    keysInSlot: (slot, count) => index.keys(slot, count),
    deleteKeysInSlot: (slot) => {
      const keys = index.keys(slot, Infinity);
      for (const key of keys) db.delete(key);
      return keys.length;
    },
  };
}
