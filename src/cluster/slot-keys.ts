/**
 * The keyspace by slot (db 0: a cluster has one database), for the cluster's state: how many
 * keys a slot holds, which, and dropping a slot lost to another master.
 */
import type { Database } from '../keyspace/db.js';
import type { SlotKeys } from './view.js';
import { keyHashSlot } from './slot.js';

/** SlotKeys over a database, walking its keys. */
export function slotKeys(db: Database): SlotKeys {
  const keysOf = (slot: number, count: number): string[] => {
    const out: string[] = [];
    for (const key of db.dict.keys()) {
      if (out.length >= count) break;
      if (keyHashSlot(key) === slot) out.push(key);
    }
    return out;
  };
  return {
    countKeysInSlot: (slot) => keysOf(slot, Infinity).length,
    keysInSlot: keysOf,
    deleteKeysInSlot: (slot) => {
      const keys = keysOf(slot, Infinity);
      for (const key of keys) db.delete(key);
      return keys.length;
    },
  };
}
