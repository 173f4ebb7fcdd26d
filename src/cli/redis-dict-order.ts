/**
 * The order in which redis-cli walks one of its own dicts (dict.c with dictSdsHash, seed zero,
 * as redis-cli never sets one). `--cluster check` and `fix` keep open and uncovered slots in
 * such dicts and print and fix them in the dict's iteration order, so nodis-cli replays the
 * same inserts — table sizes, incremental rehash steps, chaining at the bucket's head — to get
 * the same order, byte for byte.
 */

const MASK64 = (1n << 64n) - 1n;
const rotl = (x: bigint, b: bigint): bigint => ((x << b) | (x >> (64n - b))) & MASK64;

/** SipHash-1-2 (Redis's siphash.c: one compression round, two finalization rounds), key zero. */
export function siphash12(data: Buffer): bigint {
  let v0 = 0x736f6d6570736575n;
  let v1 = 0x646f72616e646f6dn;
  let v2 = 0x6c7967656e657261n;
  let v3 = 0x7465646279746573n;
  const round = (): void => {
    v0 = (v0 + v1) & MASK64;
    v1 = rotl(v1, 13n) ^ v0;
    v0 = rotl(v0, 32n);
    v2 = (v2 + v3) & MASK64;
    v3 = rotl(v3, 16n) ^ v2;
    v0 = (v0 + v3) & MASK64;
    v3 = rotl(v3, 21n) ^ v0;
    v2 = (v2 + v1) & MASK64;
    v1 = rotl(v1, 17n) ^ v2;
    v2 = rotl(v2, 32n);
  };
  const full = data.length - (data.length % 8);
  for (let i = 0; i < full; i += 8) {
    const m = data.readBigUInt64LE(i);
    v3 ^= m;
    round();
    v0 ^= m;
  }
  let b = BigInt(data.length & 0xff) << 56n;
  for (let i = data.length - 1; i >= full; i--) b |= BigInt(data[i]!) << BigInt(8 * (i - full));
  v3 ^= b;
  round();
  v0 ^= b;
  v2 ^= 0xffn;
  round();
  round();
  return (v0 ^ v1 ^ v2 ^ v3) & MASK64;
}

const INITIAL_SIZE = 4;

/** A dict of string keys (values elsewhere) that iterates as redis-cli's would. */
export class RedisDictOrder {
  private tables: (string[][] | null)[] = [null, null];
  private used = [0, 0];
  private rehashIdx = -1;
  private readonly hashes = new Map<string, bigint>();

  private hash(key: string): bigint {
    let h = this.hashes.get(key);
    if (h === undefined) {
      h = siphash12(Buffer.from(key, 'latin1'));
      this.hashes.set(key, h);
    }
    return h;
  }

  private index(key: string, table: number): number {
    return Number(this.hash(key) & BigInt(this.tables[table]!.length - 1));
  }

  private rehashing(): boolean {
    return this.rehashIdx !== -1;
  }

  /** dictRehash(d, 1). */
  private rehashStep(): void {
    let emptyVisits = 10;
    const t0 = this.tables[0]!;
    if (this.used[0] !== 0) {
      while (t0[this.rehashIdx]!.length === 0) {
        this.rehashIdx++;
        if (--emptyVisits === 0) return;
      }
      // The chain from its head, each entry pushed onto the head of its new bucket.
      for (const key of t0[this.rehashIdx]!) {
        this.tables[1]![this.index(key, 1)]!.unshift(key);
        this.used[0]!--;
        this.used[1]!++;
      }
      t0[this.rehashIdx] = [];
      this.rehashIdx++;
    }
    if (this.used[0] === 0) {
      this.tables = [this.tables[1]!, null];
      this.used = [this.used[1]!, 0];
      this.rehashIdx = -1;
    }
  }

  private expand(size: number): void {
    let real = INITIAL_SIZE;
    while (real < size) real *= 2;
    const table = Array.from({ length: real }, (): string[] => []);
    if (this.tables[0] === null) {
      this.tables[0] = table;
      return;
    }
    if (real === this.tables[0].length) return;
    this.tables[1] = table;
    this.rehashIdx = 0;
  }

  private has(key: string): boolean {
    for (const t of [0, 1]) {
      const table = this.tables[t];
      if (table === null) break;
      if (table[this.index(key, t)]!.includes(key)) return true;
      if (!this.rehashing()) break;
    }
    return false;
  }

  /** dictAdd / dictReplace: inserts the key unless it is there. */
  add(key: string): void {
    if (this.rehashing()) this.rehashStep();
    if (!this.rehashing()) {
      if (this.tables[0] === null) this.expand(INITIAL_SIZE);
      else if (this.used[0]! >= this.tables[0].length) this.expand(this.used[0]! + 1);
    }
    if (this.has(key)) return;
    const t = this.rehashing() ? 1 : 0;
    this.tables[t]![this.index(key, t)]!.unshift(key);
    this.used[t]!++;
  }

  /** An unsafe iterator's walk: table 0's buckets, then table 1's while rehashing. */
  keys(): string[] {
    const keys: string[] = [];
    for (const t of [0, 1]) {
      const table = this.tables[t];
      if (table === null) break;
      for (const bucket of table) keys.push(...bucket);
      if (!this.rehashing()) break;
    }
    return keys;
  }
}
