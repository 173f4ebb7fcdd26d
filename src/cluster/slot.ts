/**
 * Key → hash slot, as Redis Cluster computes it (cluster.c keyHashSlot): CRC16-XMODEM of the
 * key, or of the part between the first `{` and the next `}` when that part is not empty,
 * modulo 16384. Keys are latin1 strings here (one char per byte), as everywhere in nodis.
 */
export const CLUSTER_SLOTS = 16384;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/** CRC16-XMODEM (poly 0x1021, init 0) of chars [start, end) of a latin1 string. */
export function crc16(s: string, start = 0, end = s.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ s.charCodeAt(i)) & 0xff];
  return crc;
}

/** The hash slot of a key, hash tags included. */
export function keyHashSlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key, open + 1, close) & (CLUSTER_SLOTS - 1);
  }
  return crc16(key) & (CLUSTER_SLOTS - 1);
}

/**
 * How `redis-cli --cluster create` spreads the slots over `masters` masters (clusterManagerCommandCreate):
 * contiguous ranges [first, last], computed in C floats, each end rounded (lround).
 */
export function allocateSlots(masters: number): [number, number][] {
  const perNode = Math.fround(CLUSTER_SLOTS / masters);
  const ranges: [number, number][] = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < masters; i++) {
    let last = Math.round(Math.fround(Math.fround(cursor + perNode) - 1));
    if (last > CLUSTER_SLOTS || i === masters - 1) last = CLUSTER_SLOTS - 1;
    if (last < first) last = first;
    ranges.push([first, last]);
    first = last + 1;
    cursor = Math.fround(cursor + perNode);
  }
  return ranges;
}
