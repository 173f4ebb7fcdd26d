/**
 * The replication backlog: a fixed-size ring buffer holding the last `repl-backlog-size` bytes
 * of the replication stream, so a replica that lost its link can continue with `+CONTINUE`
 * from its offset instead of a full resync (PSYNC).
 *
 * Offsets are replication offsets: the first byte ever fed has offset 1 (as in Redis, where
 * `master_repl_offset` counts bytes fed and `repl_backlog_first_byte_offset` is
 * `master_repl_offset - histlen + 1`).
 */
export class ReplicationBacklog {
  private buf: Buffer;
  /** Next write position in `buf`. */
  private idx = 0;
  /** Bytes of history held (≤ size). */
  histlen = 0;
  /** Replication offset of the last byte written (master_repl_offset at the time). */
  private endOffset: number;

  constructor(size: number, startOffset: number) {
    this.buf = Buffer.alloc(Math.max(1, size));
    this.endOffset = startOffset;
  }

  get size(): number {
    return this.buf.length;
  }

  /** Offset of the first byte held (repl_backlog_first_byte_offset). */
  get firstByteOffset(): number {
    return this.endOffset - this.histlen + 1;
  }

  /** Appends stream bytes; `endOffset` advances by their length. */
  append(data: Buffer): void {
    const size = this.buf.length;
    this.endOffset += data.length;
    if (data.length >= size) {
      data.copy(this.buf, 0, data.length - size);
      this.idx = 0;
      this.histlen = size;
      return;
    }
    const first = Math.min(size - this.idx, data.length);
    data.copy(this.buf, this.idx, 0, first);
    if (first < data.length) data.copy(this.buf, 0, first);
    this.idx = (this.idx + data.length) % size;
    this.histlen = Math.min(size, this.histlen + data.length);
  }

  /** True when the bytes from `offset` (inclusive) to the end are still held. */
  covers(offset: number): boolean {
    return this.histlen > 0 ? offset >= this.firstByteOffset && offset <= this.endOffset + 1 : offset === this.endOffset + 1;
  }

  /** The held bytes from `offset` to the end (call only when `covers(offset)`). */
  copyFrom(offset: number): Buffer {
    const len = this.endOffset + 1 - offset;
    if (len <= 0) return Buffer.alloc(0);
    const size = this.buf.length;
    const start = (this.idx - len + size * 2) % size;
    if (start + len <= size) return Buffer.from(this.buf.subarray(start, start + len));
    return Buffer.concat([this.buf.subarray(start), this.buf.subarray(0, len - (size - start))]);
  }

  /** CONFIG SET repl-backlog-size: keeps the newest history that still fits. */
  resize(size: number): void {
    size = Math.max(1, size);
    if (size === this.buf.length) return;
    const keep = Math.min(size, this.histlen);
    const tail = this.copyFrom(this.endOffset + 1 - keep);
    this.buf = Buffer.alloc(size);
    tail.copy(this.buf, 0);
    this.histlen = keep;
    this.idx = keep % size;
  }

  /** Starts over at `offset` (a replica that did a full sync: history before it is gone). */
  reset(offset: number): void {
    this.idx = 0;
    this.histlen = 0;
    this.endOffset = offset;
  }
}
