/**
 * LZF, the compression Redis uses for RDB strings (rdbcompression) and compressed quicklist
 * nodes (lzf_c.c / lzf_d.c). The format: a control byte `c`;
 *   c < 32       → a literal run of c+1 bytes follows;
 *   otherwise    → a back reference: length (c >> 5) + 2 (7 means "add the next byte"), offset
 *                  ((c & 0x1f) << 8 | next byte) + 1 back from the output position.
 * The compressor is a straightforward hash-of-3-bytes matcher like liblzf's (not byte-identical
 * output, which the format does not require).
 */

const HLOG = 14;
const HSIZE = 1 << HLOG;
const MAX_LIT = 1 << 5;
const MAX_OFF = 1 << 13;
const MAX_REF = (1 << 8) + (1 << 3);

const hashTable = new Int32Array(HSIZE);
/**
 * Positions are stored offset by a per-call base, so entries from earlier calls read as
 * negative (absent) without clearing the 64 KB table for every small string.
 */
let tableBase = 0;

/**
 * Compresses `input` into at most `maxOut` bytes; returns null when the result would not fit
 * (Redis then stores the string uncompressed).
 */
export function lzfCompress(input: Uint8Array, maxOut: number): Buffer | null {
  const inLen = input.length;
  if (inLen < 4 || maxOut <= 0) return null;
  // Slack so a step may overshoot by a few bytes before the bound check refuses it.
  const out = Buffer.allocUnsafe(maxOut + 8);
  if (tableBase + inLen + 1 > 0x3fffffff) {
    hashTable.fill(0);
    tableBase = 0;
  }
  const base = tableBase + 1;
  tableBase += inLen + 1;
  let ip = 0;
  let ctrlPos = 0;
  let op = 1;
  let lit = 0;
  const hashAt = (p: number): number =>
    Math.imul((input[p]! << 16) | (input[p + 1]! << 8) | input[p + 2]!, 0x9e3779b1) >>> (32 - HLOG);
  while (ip < inLen) {
    if (op > maxOut) return null;
    if (ip + 2 < inLen) {
      const h = hashAt(ip);
      const ref = hashTable[h]! - base;
      hashTable[h] = ip + base;
      const off = ip - ref - 1;
      if (ref >= 0 && off < MAX_OFF && input[ref] === input[ip] && input[ref + 1] === input[ip + 1] && input[ref + 2] === input[ip + 2]) {
        let len = 3;
        const maxLen = Math.min(inLen - ip, MAX_REF);
        while (len < maxLen && input[ref + len] === input[ip + len]) len++;
        // Close the literal run (or take back its unused control byte).
        if (lit > 0) out[ctrlPos] = lit - 1;
        else op--;
        const code = len - 2;
        if (code < 7) {
          out[op++] = (code << 5) | (off >> 8);
        } else {
          out[op++] = (7 << 5) | (off >> 8);
          out[op++] = code - 7;
        }
        out[op++] = off & 0xff;
        ctrlPos = op++;
        lit = 0;
        const end = ip + len;
        for (let p = ip + 1; p < end && p + 2 < inLen; p++) hashTable[hashAt(p)] = p + base;
        ip = end;
        continue;
      }
    }
    out[op++] = input[ip++]!;
    if (++lit === MAX_LIT) {
      out[ctrlPos] = MAX_LIT - 1;
      ctrlPos = op++;
      lit = 0;
    }
  }
  if (lit > 0) out[ctrlPos] = lit - 1;
  else op--;
  if (op > maxOut) return null;
  return Buffer.from(out.subarray(0, op));
}

/** Decompresses into exactly `outLen` bytes; returns null on malformed input. */
export function lzfDecompress(input: Uint8Array, outLen: number): Buffer | null {
  const out = Buffer.allocUnsafe(outLen);
  let ip = 0;
  let op = 0;
  const inLen = input.length;
  while (ip < inLen) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const len = ctrl + 1;
      if (op + len > outLen || ip + len > inLen) return null;
      for (let i = 0; i < len; i++) out[op++] = input[ip++]!;
    } else {
      let len = ctrl >> 5;
      if (len === 7) {
        if (ip >= inLen) return null;
        len += input[ip++]!;
      }
      if (ip >= inLen) return null;
      const ref = op - ((ctrl & 0x1f) << 8) - input[ip++]! - 1;
      len += 2;
      if (ref < 0 || op + len > outLen) return null;
      for (let i = 0; i < len; i++) out[op++] = out[ref + i]!;
    }
  }
  return op === outLen ? out : null;
}
