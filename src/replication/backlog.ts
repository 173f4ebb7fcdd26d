/**
 * The replication buffer (Redis 7's shared replication buffer, replication.c's
 * repl_buffer_blocks): the stream is stored once, in blocks of at least 16 KB, and both the
 * backlog and the replicas read it from there.
 *
 *  - The backlog is the last `repl-backlog-size` bytes of it, so a replica that lost its link
 *    can continue with `+CONTINUE` from its offset instead of a full resync (PSYNC).
 *  - A replica that has not been sent its part of the stream yet (waiting for its full sync's
 *    RDB, or behind a socket that does not drain) holds only its offset into the buffer: the
 *    blocks from there on are kept for it, so memory does not grow with the number of
 *    replicas, and the backlog's history (`histlen`) may outgrow `repl-backlog-size` — every
 *    byte still held can serve a partial resync, as in Redis.
 *  - Blocks nobody needs any more are dropped as soon as they are (trim).
 *
 * Offsets are replication offsets: the first byte ever fed has offset 1 (as in Redis, where
 * `master_repl_offset` counts bytes fed and `repl_backlog_first_byte_offset` is
 * `master_repl_offset - histlen + 1`).
 */

/** Redis's PROTO_REPLY_CHUNK_BYTES: the smallest block of the replication buffer. */
export const REPL_BLOCK_BYTES = 16 * 1024;

/** Up to this many bytes an argument is copied by char code (a native write costs more there). */
const SHORT_ARG = 32;

/** Digits of a non-negative integer in decimal. */
function decimalDigits(v: number): number {
  let d = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    d++;
  }
  return d;
}

/** Writes `<type><v>\r\n` at `at` (v ≥ 0); returns the position after it. */
function writeHeader(buf: Buffer, at: number, type: number, v: number): number {
  buf[at++] = type;
  const end = at + decimalDigits(v);
  for (let p = end - 1; p >= at; p--) {
    buf[p] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  buf[end] = 13;
  buf[end + 1] = 10;
  return end + 2;
}

interface Block {
  buf: Buffer;
  /** Bytes of `buf` in use. */
  used: number;
  /** Replication offset of `buf[0]`. */
  offset: number;
}

export class ReplicationBacklog {
  private blocks: Block[] = [];
  /** Replication offset of the last byte written (master_repl_offset at the time). */
  private endOffset: number;
  /** Replication offset of the first byte of history (repl_backlog_first_byte_offset). */
  private start: number;
  /** Bytes allocated for the blocks held (repl_buffer_mem). */
  memory = 0;

  constructor(
    private limit: number,
    startOffset: number,
  ) {
    this.limit = Math.max(1, limit);
    this.endOffset = startOffset;
    this.start = startOffset + 1;
  }

  /** repl-backlog-size. */
  get size(): number {
    return this.limit;
  }

  /** Bytes of history held: at most `size`, unless replicas still need older bytes. */
  get histlen(): number {
    return this.endOffset + 1 - this.start;
  }

  /** Offset of the first byte held (repl_backlog_first_byte_offset). */
  get firstByteOffset(): number {
    return this.start;
  }

  /**
   * Appends stream bytes (copied into the buffer: the last block's room first, then a new block
   * of at least 16 KB, as feedReplicationBuffer); `endOffset` advances by their length.
   * `keepFrom` is the oldest offset a replica still needs (Infinity: none).
   */
  append(data: Buffer, keepFrom = Infinity): void {
    let done = 0;
    const last = this.blocks[this.blocks.length - 1];
    if (last !== undefined) {
      done = Math.min(data.length, last.buf.length - last.used);
      data.copy(last.buf, last.used, 0, done);
      last.used += done;
    }
    if (done < data.length) {
      const cap = Math.max(REPL_BLOCK_BYTES, data.length - done);
      const block = { buf: Buffer.allocUnsafe(cap), used: data.length - done, offset: this.endOffset + 1 + done };
      data.copy(block.buf, 0, done);
      this.blocks.push(block);
      this.memory += cap;
    }
    this.endOffset += data.length;
    this.trim(keepFrom);
  }

  /**
   * Appends a command encoded as a latin1 string straight into the last block's room (no Buffer
   * of its own, no copy) and returns a view of those bytes — or null, writing nothing, when they
   * do not fit there (the caller then appends a Buffer: the block boundary is crossed as usual).
   */
  appendLatin1(text: string, keepFrom = Infinity): Buffer | null {
    const last = this.blocks[this.blocks.length - 1];
    const n = text.length;
    if (last === undefined || last.buf.length - last.used < n) return null;
    const at = last.used;
    last.buf.latin1Write(text, at);
    last.used = at + n;
    this.endOffset += n;
    this.trim(keepFrom);
    return last.buf.subarray(at, at + n);
  }

  /**
   * appendLatin1 for a command given as its arguments: encoded as a RESP multibulk straight into
   * the last block's room, without building the encoded string first (the string's pieces, its
   * flattening and the native write were ~1.5% of a SET + WAIT master's CPU: docs/PERFORMANCE.md,
   * wait5). Short arguments are copied by char code, long ones by one native write. Returns a
   * view of the bytes, or null, writing nothing, when they do not fit there.
   */
  appendCommand(argv: readonly string[], keepFrom = Infinity): Buffer | null {
    const last = this.blocks[this.blocks.length - 1];
    if (last === undefined) return null;
    let n = 3 + decimalDigits(argv.length);
    for (let i = 0; i < argv.length; i++) {
      const len = argv[i]!.length;
      n += 5 + decimalDigits(len) + len;
    }
    const buf = last.buf;
    const from = last.used;
    if (buf.length - from < n) return null;
    let at = writeHeader(buf, from, 0x2a /* '*' */, argv.length);
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      const len = a.length;
      at = writeHeader(buf, at, 0x24 /* '$' */, len);
      if (len <= SHORT_ARG) {
        for (let j = 0; j < len; j++) buf[at++] = a.charCodeAt(j);
      } else {
        at += buf.latin1Write(a, at);
      }
      buf[at++] = 13;
      buf[at++] = 10;
    }
    last.used = at;
    this.endOffset += n;
    this.trim(keepFrom);
    return buf.subarray(from, at);
  }

  /**
   * Drops the history older than both `repl-backlog-size` and `keepFrom` (the oldest offset a
   * replica still needs), and the blocks that held only that.
   */
  trim(keepFrom = Infinity): void {
    const newStart = Math.max(this.start, Math.min(keepFrom, this.endOffset + 1 - this.limit));
    this.start = newStart;
    let drop = 0;
    while (drop < this.blocks.length - 1 && this.blocks[drop]!.offset + this.blocks[drop]!.used <= newStart) {
      this.memory -= this.blocks[drop]!.buf.length;
      drop++;
    }
    if (drop > 0) this.blocks.splice(0, drop);
  }

  /** True when the bytes from `offset` (inclusive) to the end are still held. */
  covers(offset: number): boolean {
    return offset >= this.start && offset <= this.endOffset + 1;
  }

  /**
   * The held bytes from `offset` on, as views into the buffer (call only when `covers(offset)`);
   * with `maxBytes`, whole blocks stop once that many bytes were collected.
   */
  viewsFrom(offset: number, maxBytes = Infinity): Buffer[] {
    const out: Buffer[] = [];
    const blocks = this.blocks;
    // The last block starting at or before `offset`.
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid]!.offset <= offset) lo = mid;
      else hi = mid - 1;
    }
    let n = 0;
    for (let i = lo; i < blocks.length && n < maxBytes; i++) {
      const b = blocks[i]!;
      const from = Math.max(0, offset - b.offset);
      if (from < b.used) {
        out.push(b.buf.subarray(from, b.used));
        n += b.used - from;
      }
    }
    return out;
  }

  /** The held bytes from `offset` to the end, in one buffer of their own (call only when `covers(offset)`). */
  copyFrom(offset: number): Buffer {
    return Buffer.concat(this.viewsFrom(offset));
  }

  /** CONFIG SET repl-backlog-size: keeps the newest history that still fits. */
  resize(size: number, keepFrom = Infinity): void {
    this.limit = Math.max(1, size);
    this.trim(keepFrom);
  }

  /** Starts over at `offset` (a replica that did a full sync: history before it is gone). */
  reset(offset: number): void {
    this.blocks = [];
    this.memory = 0;
    this.endOffset = offset;
    this.start = offset + 1;
  }
}
