/**
 * The keys of a database by hash slot (Redis's slot_to_keys, cluster.c): kept only when
 * `cluster-enabled yes`, so CLUSTER COUNTKEYSINSLOT is O(1) and GETKEYSINSLOT and dropping a
 * slot lost to another master touch only that slot's keys.
 *
 * Database's write paths (set, load, delete, clear, swapWith) keep it; with the cluster off
 * `Database.slots` is null and the only cost is that null test on a key's creation and removal.
 * Each slot is a Set (insertion order, like Redis's per-slot list), created on first use.
 */
import { CLUSTER_SLOTS, keyHashSlot } from '../cluster/slot.js';

export class SlotIndex {
  private readonly bySlot: (Set<string> | undefined)[] = new Array<Set<string> | undefined>(CLUSTER_SLOTS);

  /** A key was created. */
  added(key: string): void {
    const slot = keyHashSlot(key);
    let keys = this.bySlot[slot];
    if (keys === undefined) this.bySlot[slot] = keys = new Set();
    keys.add(key);
  }

  /** A key was removed. */
  removed(key: string): void {
    const keys = this.bySlot[keyHashSlot(key)];
    if (keys !== undefined) keys.delete(key);
  }

  count(slot: number): number {
    return this.bySlot[slot]?.size ?? 0;
  }

  /** Up to `count` keys of `slot`, oldest first. */
  keys(slot: number, count: number): string[] {
    const out: string[] = [];
    const keys = this.bySlot[slot];
    if (keys === undefined) return out;
    for (const key of keys) {
      if (out.length >= count) break;
      out.push(key);
    }
    return out;
  }

  clear(): void {
    this.bySlot.fill(undefined);
  }
}
