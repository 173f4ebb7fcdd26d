/**
 * What nodis's own hash tables share — the keyspace's KeyDict and OrderedTable
 * (keyspace/dict.ts, keyspace/ordered-table.ts) and a big hash's FieldTable
 * (types/field-table.ts): the string hash and the iterators' arithmetic over a rebuilt store.
 * It lives here, at the lowest floor that uses it.
 */

/**
 * A 32-bit hash of a key's chars: FNV-1a with a final mix so that the low bits (the shard) depend
 * on every char. Keys over 64 chars hash their first and last 32 chars and their length.
 */
export function keyHash(key: string): number {
  const n = key.length;
  let h = 0x811c9dc5 ^ n;
  if (n <= 64) {
    for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  } else {
    for (let i = 0; i < 32; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    for (let i = n - 32; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/** keyHash() of the latin1 string of buf[start … start + n): the same number, from the bytes (kept beside keyHash: the two must not drift). */
export function keyHashOfBytes(buf: Uint8Array, start: number, n: number): number {
  let h = 0x811c9dc5 ^ n;
  if (n <= 64) {
    for (let i = start; i < start + n; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  } else {
    for (let i = start; i < start + 32; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    for (let i = start + n - 32; i < start + n; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}

/** How many of the ascending `holes` (positions a rebuild dropped) are below `p`. */
export function holesBefore(holes: Int32Array, p: number): number {
  let lo = 0;
  let hi = holes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (holes[mid]! < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The geometry of an open-addressing index over a table of `room` entries (linear probing):
 * at least 2 × room slots, a power of two, so entries + tombstones fill at most half of it.
 * A slot is 0 (empty), -1 (a tombstone), or `tag << idxBits | (entry + 1)`, the tag being
 * hash bits 8 and up (KeyDict's shard is bits 0–7), so a probe passes over other keys' slots
 * without reading their entries. A hash's first slot is `Math.imul(h, SLOT_MIX) >>> slotShift`.
 */
export interface SlotGeometry {
  slots: Int32Array;
  slotShift: number;
  idxBits: number;
  idxMask: number;
  tagMask: number;
}

/** The multiplier that mixes a hash into its first slot (Fibonacci hashing: top bits). */
export const SLOT_MIX = 0x9e3779b1;

/** A fresh, empty index for `room` entries. */
export function slotGeometry(room: number): SlotGeometry {
  const slotBits = 32 - Math.clz32(room * 2 - 1);
  // Entry numbers + 1 go up to `room`, below 2^idxBits - 1 (so -1 is no entry's slot).
  const idxBits = 32 - Math.clz32(room) + 1;
  return {
    slots: new Int32Array(1 << slotBits),
    slotShift: 32 - slotBits,
    idxBits,
    idxMask: (1 << idxBits) - 1,
    tagMask: idxBits >= 31 ? 1 : (1 << (32 - idxBits)) - 1,
  };
}

/**
 * Records entry `e` of hash `h` in the first empty slot of its probe sequence. A tombstone's
 * slot is not reused: the key may sit further along its probe sequence.
 */
export function placeSlot(g: SlotGeometry, h: number, e: number): void {
  const slots = g.slots;
  const last = slots.length - 1;
  let i = Math.imul(h, SLOT_MIX) >>> g.slotShift;
  while (slots[i] !== 0) i = i === last ? 0 : i + 1;
  slots[i] = ((((h >>> 8) & g.tagMask) << g.idxBits) | (e + 1)) | 0;
}
