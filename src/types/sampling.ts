/**
 * O(1) uniform random picks over a JS Map/Set, which have no random access of their own.
 *
 * Redis picks random hash fields and set members straight from its dict buckets
 * (dictGetFairRandomKey). A JS collection can only be walked, so a collection that is asked for
 * random elements builds a side array of its keys once (O(n)) and keeps it exact afterwards:
 * additions are appended, and a removal of an element whose slot is known (SPOP removes the
 * element it just picked) is a swap-remove. A removal at an unknown slot (SREM, HDEL) drops the
 * array; the next pick rebuilds it. Collections never sampled pay nothing; sampled ones pay one
 * pointer per element. That keeps SADD+SPOP work queues O(1) per operation.
 */
import type { Random } from '../core/clock.js';

export class SampleIndex {
  private slots: string[] | null = null;

  /** A key was added to the owning collection. */
  added(key: string): void {
    if (this.slots !== null) this.slots.push(key);
  }

  /** A key was removed at an unknown slot: the index is rebuilt on the next pick. */
  invalidate(): void {
    this.slots = null;
  }

  /**
   * Index of a uniformly random slot; `keys` rebuilds the index when needed. The caller must
   * know the collection is not empty.
   */
  pickSlot(rng: Random, size: number, keys: () => Iterable<string>): number {
    if (this.slots === null || this.slots.length !== size) this.slots = Array.from(keys());
    return rng.below(this.slots.length);
  }

  /** The key at a slot returned by pickSlot (valid until the next mutation). */
  keyAt(slot: number): string {
    return this.slots![slot]!;
  }

  /** Removes the slot that pickSlot returned (its key was just deleted from the collection). */
  removeSlot(slot: number): void {
    const slots = this.slots!;
    const last = slots.pop()!;
    if (slot < slots.length) slots[slot] = last;
  }
}
