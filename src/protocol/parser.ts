/**
 * Incremental RESP request parser, over Buffers.
 *
 * Requests are either multibulk (`*<n>\r\n$<len>\r\n<bytes>\r\n…`, what every client library
 * sends) or inline (`PING\r\n`, what telnet and redis-cli's `-x`-less paths may send). Arguments
 * come out as latin1 strings: one JS char per byte, so user data is never decoded as UTF-8.
 *
 * The parser is pull-based: `feed()` appends bytes, `next()` returns one complete argv or null.
 * This lets the server stop taking commands from a client (blocked, paused) while its bytes wait,
 * exactly as Redis leaves them in the query buffer. Protocol errors throw `ProtocolError`, whose
 * message is Redis's reply text; the connection is then closed after the reply.
 *
 * Limits follow networking.c: PROTO_INLINE_MAX_SIZE for lines, `proto-max-bulk-len` for bulks,
 * INT_MAX for multibulk counts, and the stricter unauthenticated limits.
 */

export const PROTO_INLINE_MAX_SIZE = 64 * 1024;
const INT_MAX = 2147483647;
/** Bulks at least this large are gathered chunk by chunk instead of re-concatenated per read. */
const BIG_ARG = 32 * 1024;
/** scanSecondArgs() looks at commands of at most this many arguments. */
const SCAN_MAX_ARGS = 8;

const CR = 13;
const LF = 10;

export class ProtocolError extends Error {
  /** Short reason for the log line (Redis's setProtocolError errstr). */
  readonly reason: string;
  constructor(reply: string, reason: string) {
    super(reply);
    this.reason = reason;
  }
}

export interface ParserLimits {
  /** `proto-max-bulk-len`; ignored for the master link. */
  maxBulkLen: number;
  /** True until the client has authenticated when a password is required. */
  authRequired: boolean;
  /** The replication link from our master: no bulk-length limit. */
  fromMaster: boolean;
}

const EMPTY = Buffer.alloc(0);
/** Commands of up to this many arguments, whole in the buffer, take RespParser.wholeCommand. */
const WHOLE_MAX_ARGS = 6;
/**
 * Where each bulk of the command RespParser.wholeCommand() scans starts, and its length: scratch
 * filled and read within one call (nothing it calls parses), so one array serves every parser.
 * A parser's own array was one more object per client read at every request — at -P 1, with
 * 50 clients served in turn, a cache miss more per command (docs/PERFORMANCE.md, "lua7").
 */
const SPANS = new Int32Array(2 * WHOLE_MAX_ARGS);
/** Arguments up to this long may be the previous command's string again (RespParser.argument). */
const REUSE_MAX = 64;
/** A plain SET's value this long is left in the read buffer (LONG_ARG in argv; types/value-arena.ts). */
const LONG_ARG_MIN = 512;
/** And at most this long (ARENA_MAX: a chunk never spans slabs). */
const LONG_ARG_MAX = 64 * 1024;
const LONG_ARGS_ON = process.env.NODIS_VALUE_ARENA !== '0';
/** Stands in argv for a long argument left as bytes (Parser.longBuf). */
export const LONG_ARG = '\u0000nodis:long-argument\u0000';
/** …at this many first places of a command. */
const REUSE_ARGS = 32;

/** Up to the first four bytes of b[s, s + n), packed (commandName()'s first comparison). */
function nameHead(b: Uint8Array, s: number, n: number): number {
  if (n >= 4) return b[s]! | (b[s + 1]! << 8) | (b[s + 2]! << 16) | (b[s + 3]! << 24);
  if (n === 3) return b[s]! | (b[s + 1]! << 8) | (b[s + 2]! << 16);
  if (n === 2) return b[s]! | (b[s + 1]! << 8);
  return n === 1 ? b[s]! : 0;
}

/** A new parser's lastArgs (copied per parser: every connection makes one). */
const NO_LAST_ARGS: readonly string[] = new Array<string>(REUSE_ARGS).fill('');

export class RespParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Chunks received while waiting for a large bulk, merged once it is complete. */
  private waiting: Buffer[] = [];
  private waitingLen = 0;
  private needBytes = 0;

  // Multibulk state carried across reads.
  private argv: string[] | null = null;
  private argsLeft = 0;
  private bulkLen = -1;

  /** Bytes of the arguments of the command being read, already taken out of the buffer (argv_len_sum). */
  partialArgBytes = 0;

  /** The last command name read (commandName()). */
  private lastName = '';

  /** Commands handed back by the server (a paused client's command), served first. */
  private requeued: string[][] = [];

  constructor(readonly limits: ParserLimits) {}

  /** Puts a parsed command back so the next `next()` returns it again. */
  unshift(argv: string[]): void {
    this.requeued.unshift(argv);
  }

  /** The buffer scanSecondArgs() positions are in (valid until the next feed or next()). */
  get buffered(): Buffer {
    return this.buf;
  }

  /** Bytes received but not yet turned into commands (the query buffer length). */
  get pendingBytes(): number {
    return this.buf.length - this.pos + this.waitingLen;
  }

  /**
   * Room promised to a large bulk still arriving (sdsMakeRoomForNonGreedy in Redis's
   * processMultibulkBuffer: a bulk of 32 KB or more gets its whole length reserved once its
   * header is read). Not for the master link, which Redis does not pre-size.
   */
  get reservedBytes(): number {
    if (this.needBytes === 0 || this.limits.fromMaster) return 0;
    return Math.max(0, this.needBytes - this.pendingBytes);
  }

  /** Appends bytes read from the socket. */
  feed(chunk: Buffer): void {
    if (this.needBytes > 0) {
      this.waiting.push(chunk);
      this.waitingLen += chunk.length;
      if (this.buf.length - this.pos + this.waitingLen < this.needBytes) return;
      const parts = [this.pos < this.buf.length ? this.buf.subarray(this.pos) : EMPTY, ...this.waiting];
      this.buf = Buffer.concat(parts);
      this.pos = 0;
      this.waiting = [];
      this.waitingLen = 0;
      this.needBytes = 0;
      return;
    }
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /**
   * The memory of `chunk`, the last one fed, is about to be reused by the caller: what the
   * parser still holds of it — an unread tail, or the chunk waiting for a large bulk — is copied
   * out. A fully read chunk (the common case) costs nothing. By identity, not by its memory
   * (`buffer`, a getter that is a call into V8's runtime): every chunk fed before was released
   * in its turn, so this one is the only borrowed memory the parser can hold (feed() keeps the
   * chunk itself, pushes it to `waiting`, or copies it).
   */
  release(chunk: Buffer): void {
    if (this.buf === chunk) {
      this.buf = this.pos < chunk.length ? Buffer.from(chunk.subarray(this.pos)) : EMPTY;
      this.pos = 0;
    }
    const waiting = this.waiting;
    const last = waiting.length - 1;
    if (last >= 0 && waiting[last] === chunk) waiting[last] = Buffer.from(chunk);
  }

  /** Returns the next complete command, an empty array for a blank line, or null for "need more". */
  next(): string[] | null {
    if (this.requeued.length > 0) return this.requeued.shift()!;
    if (this.needBytes > 0) return null;
    if (this.argv === null) {
      if (this.pos >= this.buf.length) return null;
      if (this.buf[this.pos] !== 0x2a /* '*' */) return this.parseInline();
      const count = this.readMultibulkCount();
      if (count === null) return null;
      if (count <= 0) return [];
      if (count <= WHOLE_MAX_ARGS) {
        const whole = this.wholeCommand(count);
        if (whole !== null) return whole;
      }
      this.argv = [];
      this.argsLeft = count;
    }
    return this.parseMultibulkArgs();
  }

  /**
   * Where the second argument (a key, for most commands) of each complete command waiting in
   * the buffer starts and how long it is, for the first `starts.length` commands of 2 to
   * SCAN_MAX_ARGS arguments; answers how many were found. A pure read: the parser's state does
   * not move (the server only uses it to read the keys' table entries ahead of the commands,
   * Server.prefetchKeys). Stops at anything else: an incomplete, inline, long or malformed
   * command, which next() then reads and judges as always.
   */
  scanSecondArgs(starts: Int32Array, lens: Int32Array): number {
    if (this.requeued.length > 0 || this.needBytes > 0 || this.argv !== null) return 0;
    const buf = this.buf;
    const max = starts.length;
    let p = this.pos;
    let n = 0;
    while (n < max && p < buf.length && buf[p] === 0x2a /* '*' */) {
      const cr = findCR(buf, p);
      if (cr < 0 || cr + 1 >= buf.length) break;
      const count = parseInteger(buf, p + 1, cr);
      if (count === null || count < 2 || count > SCAN_MAX_ARGS) break;
      p = cr + 2;
      let i = 0;
      for (; i < count; i++) {
        const s = this.bulkStart(p);
        if (s < 0) break;
        if (i === 1) {
          starts[n] = s;
          lens[n] = this.scannedLen;
        }
        p = s + this.scannedLen + 2;
      }
      if (i < count) break;
      n++;
    }
    this.scanEnded = p >= buf.length && this.waitingLen === 0;
    return n;
  }

  /** True when the last scanSecondArgs() covered everything buffered (no command left after them). */
  get scanReachedEnd(): boolean {
    return this.scanEnded;
  }

  private scanEnded = false;

  /** Drops all buffered input (after a protocol error, or RESET of a master link). */
  clear(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.waiting = [];
    this.waitingLen = 0;
    this.needBytes = 0;
    this.argv = null;
    this.argsLeft = 0;
    this.bulkLen = -1;
    this.partialArgBytes = 0;
  }

  private readMultibulkCount(): number | null {
    const cr = findCR(this.buf, this.pos);
    if (cr < 0) {
      if (this.buf.length - this.pos > PROTO_INLINE_MAX_SIZE) {
        throw new ProtocolError('ERR Protocol error: too big mbulk count string', 'too big mbulk count string');
      }
      return null;
    }
    if (cr + 1 >= this.buf.length) return null; // need the \n too
    const n = parseInteger(this.buf, this.pos + 1, cr);
    if (n === null || n > INT_MAX) {
      throw new ProtocolError('ERR Protocol error: invalid multibulk length', 'invalid mbulk count');
    }
    if (n > 10 && this.limits.authRequired) {
      throw new ProtocolError('ERR Protocol error: unauthenticated multibulk length', 'unauth mbulk count');
    }
    this.pos = cr + 2;
    return n;
  }

  /**
   * The common case: a command of at most 6 arguments (GET, SET, INCR, LPUSH, HSET, EVALSHA of
   * one key and one argument…) whole in the buffer. Its argv is built at its final size in one
   * literal, not grown by push from an empty array (which allocates room for 17 and changes the
   * array's elements kind once per command). Anything else — incomplete, over a limit,
   * malformed — returns null before consuming a byte, and the incremental path below takes the
   * command, errors included.
   */
  private wholeCommand(count: number): string[] | null {
    const buf = this.buf;
    const spans = SPANS;
    let p = this.pos;
    for (let i = 0; i < count; i++) {
      const s = this.bulkStart(p);
      if (s < 0) return null;
      const n = this.scannedLen;
      spans[2 * i] = s;
      spans[2 * i + 1] = n;
      p = s + n + 2;
    }
    this.pos = p;
    const name = this.commandName(buf, spans[0]!, spans[1]!);
    if (count === 1) return [name];
    const a1 = this.argument(1, buf, spans[2]!, spans[3]!);
    if (count === 2) return [name, a1];
    if (count === 3 && spans[5]! >= LONG_ARG_MIN && spans[5]! <= LONG_ARG_MAX && LONG_ARGS_ON && (name === 'SET' || name === 'set')) {
      // The value stays bytes in the read buffer until SET copies them into the arena.
      this.longBuf = buf;
      this.longStart = spans[4]!;
      this.longLen = spans[5]!;
      return (this.longArgv = [name, a1, LONG_ARG]);
    }
    const a2 = this.argument(2, buf, spans[4]!, spans[5]!);
    if (count === 3) return [name, a1, a2];
    const a3 = this.argument(3, buf, spans[6]!, spans[7]!);
    if (count === 4) return [name, a1, a2, a3];
    const a4 = this.argument(4, buf, spans[8]!, spans[9]!);
    if (count === 5) return [name, a1, a2, a3, a4];
    return [name, a1, a2, a3, a4, this.argument(5, buf, spans[10]!, spans[11]!)];
  }

  /**
   * The argv next() returned with a LONG_ARG in it. A client can send LONG_ARG's text as an
   * ordinary value, so a LONG_ARG counts only in this very array (`holdsLongArgument`): its
   * text elsewhere is a value like any other, never a read of stale bytes.
   */
  longArgv: readonly string[] | null = null;

  /** Whether `argv` is the array next() returned with its value left as bytes (LONG_ARG). */
  holdsLongArgument(argv: readonly string[]): boolean {
    return argv === this.longArgv && argv[2] === LONG_ARG;
  }

  /** Where the LONG_ARG of the command next() just returned is (valid until the next call). */
  longBuf: Buffer = EMPTY;
  longStart = 0;
  longLen = 0;

  /** The LONG_ARG of the command next() just returned, as a string. */
  longArgument(): string {
    return this.longBuf.latin1Slice(this.longStart, this.longStart + this.longLen);
  }

  /** The previous command's argument at each of the first REUSE_ARGS positions (argument()). */
  private readonly lastArgs: string[] = NO_LAST_ARGS.slice(); // a copy: `fill` is a call into V8's C++ per parser

  /**
   * Argument `i` of a command: the previous command's string at that position again when
   * the bytes are the same, as commandName does for names. Pipelines repeat the key of one
   * collection (`LPUSH mylist …`, `HSET myhash …`) and values (flags, tokens, redis-benchmark's
   * `xxx`); the string a write keeps is then one the heap already holds, and the parser's fresh
   * one — which the scavenger would copy and promote when a write keeps it — is never made.
   * Strings are immutable, so which of two equal strings an argv holds cannot be seen. The
   * last byte is compared first: keys and values that differ (counters, random keys) mostly
   * differ there, so a miss costs one comparison. Up to REUSE_MAX bytes at the first REUSE_ARGS
   * places (MSET's ten values among them); anything else is built.
   */
  private argument(i: number, b: Buffer, s: number, n: number): string {
    if (n > REUSE_MAX || i >= REUSE_ARGS) return latin1String(b, s, n);
    const last = this.lastArgs[i]!;
    if (last.length === n) {
      const end = n - 1;
      if (end < 0) return last;
      if (last.charCodeAt(end) === b[s + end]) {
        let j = 0;
        while (j < end && last.charCodeAt(j) === b[s + j]) j++;
        if (j === end) return last;
      }
    }
    const arg = latin1String(b, s, n);
    this.lastArgs[i] = arg;
    return arg;
  }


  /** Length of the bulk bulkStart() last found. */
  private scannedLen = 0;

  /**
   * Where the bytes of the bulk whose `$` header is at `p` start, when the bulk is whole in the
   * buffer and within the limits (its length in `scannedLen`); -1 otherwise.
   */
  private bulkStart(p: number): number {
    const buf = this.buf;
    if (p >= buf.length || buf[p] !== 0x24 /* '$' */) return -1;
    const cr = findCR(buf, p);
    if (cr < 0 || cr + 1 >= buf.length) return -1;
    const len = parseInteger(buf, p + 1, cr);
    if (len === null || len < 0 || (!this.limits.fromMaster && len > this.limits.maxBulkLen)) return -1;
    if (len > 16384 && this.limits.authRequired) return -1;
    if (buf.length - (cr + 2) < len + 2) return -1;
    this.scannedLen = len;
    return cr + 2;
  }

  private parseMultibulkArgs(): string[] | null {
    const argv = this.argv!;
    const buf = this.buf;
    while (this.argsLeft > 0) {
      if (this.bulkLen < 0) {
        const cr = findCR(buf, this.pos);
        if (cr < 0) {
          if (buf.length - this.pos > PROTO_INLINE_MAX_SIZE) {
            throw new ProtocolError('ERR Protocol error: too big bulk count string', 'too big bulk count string');
          }
          return null;
        }
        if (cr + 1 >= buf.length) return null;
        if (buf[this.pos] !== 0x24 /* '$' */) {
          throw new ProtocolError(
            `ERR Protocol error: expected '$', got '${String.fromCharCode(buf[this.pos]!)}'`,
            'expected $ but got something else',
          );
        }
        const len = parseInteger(buf, this.pos + 1, cr);
        if (len === null || len < 0 || (!this.limits.fromMaster && len > this.limits.maxBulkLen)) {
          throw new ProtocolError('ERR Protocol error: invalid bulk length', 'invalid bulk length');
        }
        if (len > 16384 && this.limits.authRequired) {
          throw new ProtocolError('ERR Protocol error: unauthenticated bulk length', 'unauth bulk length');
        }
        this.pos = cr + 2;
        this.bulkLen = len;
      }
      if (buf.length - this.pos < this.bulkLen + 2) {
        if (this.bulkLen >= BIG_ARG) this.needBytes = this.bulkLen + 2;
        return null;
      }
      argv.push(argv.length === 0 ? this.commandName(buf, this.pos, this.bulkLen) : this.argument(argv.length, buf, this.pos, this.bulkLen));
      this.partialArgBytes += this.bulkLen;
      this.pos += this.bulkLen + 2;
      this.bulkLen = -1;
      this.argsLeft--;
    }
    this.argv = null;
    this.partialArgBytes = 0;
    return argv;
  }

  /**
   * A command name: the previous command's string again when the bytes are the same (clients
   * mostly send runs of one command), so no string is built and the command table's lookup
   * finds its hash already computed.
   */
  private commandName(b: Buffer, s: number, n: number): string {
    const last = this.lastName;
    // The first four bytes in one comparison (all of PING, GET, SET, INCR…), the rest one by
    // one: a loop of charCodeAt per byte was a third of this function's time on a PING.
    if (last.length === n && nameHead(b, s, n) === this.lastNameHead) {
      let i = 4;
      while (i < n && last.charCodeAt(i) === b[s + i]) i++;
      if (i >= n) return last;
    }
    const name = latin1String(b, s, n);
    if (n <= 32) {
      this.lastName = name;
      this.lastNameHead = nameHead(b, s, n);
    }
    return name;
  }

  /** nameHead() of lastName's bytes. */
  private lastNameHead = 0;

  private parseInline(): string[] | null {
    const lf = findBefore(this.buf, LF, this.pos);
    if (lf < 0) {
      if (this.buf.length - this.pos > PROTO_INLINE_MAX_SIZE) {
        throw new ProtocolError('ERR Protocol error: too big inline request', 'too big inline request');
      }
      return null;
    }
    let end = lf;
    if (end > this.pos && this.buf[end - 1] === CR) end--;
    const line = this.buf.latin1Slice(this.pos, end);
    this.pos = lf + 1;
    const args = splitArgs(line);
    if (args === null) {
      throw new ProtocolError('ERR Protocol error: unbalanced quotes in request', 'unbalanced quotes in inline request');
    }
    return args;
  }
}

/**
 * Index of the first CR at or after `from`, or -1. Headers (`*3`, `$16`) are a few bytes long,
 * where a JS loop beats Buffer#indexOf's native call several times over; past a short run the
 * line is unusual (inline or garbage) and indexOf takes over.
 */
function findCR(buf: Buffer, from: number): number {
  const stop = Math.min(buf.length, from + 24);
  for (let i = from; i < stop; i++) {
    const c = buf[i];
    if (c === CR) return i;
    if (c === 0) return -1; // strchr() stops at a NUL: Redis waits for more data
  }
  return stop < buf.length ? findBefore(buf, CR, stop) : -1;
}

/** Index of the first `byte` at or after `from` with no NUL before it (C's strchr), or -1. */
function findBefore(buf: Buffer, byte: number, from: number): number {
  const at = buf.indexOf(byte, from);
  if (at < 0) return -1;
  const nul = buf.indexOf(0, from);
  return nul >= 0 && nul < at ? -1 : at;
}

const fromCodes = String.fromCharCode;

/**
 * buf[start, start + n) as a latin1 string. Short arguments (command names, small keys and
 * values) are built from their char codes: measured 3–4× faster than latin1Slice's native call
 * up to 8 bytes and ~1.5× at 16, ~2× at 20 (redis-benchmark's INCR key `counter:<12 digits>`,
 * 2026-12-06 str16); at 32 and beyond the two were even. Longer ones use latin1Slice.
 */
function latin1String(b: Buffer, s: number, n: number): string {
  switch (n) {
    case 0:
      return '';
    case 1:
      return fromCodes(b[s]!);
    case 2:
      return fromCodes(b[s]!, b[s + 1]!);
    case 3:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!);
    case 4:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!);
    case 5:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!);
    case 6:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!);
    case 7:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!);
    case 8:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!);
    case 9:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!);
    case 10:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!);
    case 11:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!);
    case 12:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!);
    case 13:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!);
    case 14:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!);
    case 15:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!);
    case 16:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!);
    case 17:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!);
    case 18:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!);
    case 19:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!);
    case 20:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!);
    case 21:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!);
    case 22:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!);
    case 23:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!);
    case 24:
      return fromCodes(b[s]!, b[s + 1]!, b[s + 2]!, b[s + 3]!, b[s + 4]!, b[s + 5]!, b[s + 6]!, b[s + 7]!, b[s + 8]!, b[s + 9]!, b[s + 10]!, b[s + 11]!, b[s + 12]!, b[s + 13]!, b[s + 14]!, b[s + 15]!, b[s + 16]!, b[s + 17]!, b[s + 18]!, b[s + 19]!, b[s + 20]!, b[s + 21]!, b[s + 22]!, b[s + 23]!);
    default:
      return b.latin1Slice(s, s + n);
  }
}

/** The magnitudes of LLONG_MAX and LLONG_MIN, the bounds string2ll() accepts. */
const LLONG_MAX_DIGITS = '9223372036854775807';
const LLONG_MIN_DIGITS = '9223372036854775808';

/**
 * Parses a signed decimal integer from buf[start, end) the way string2ll does (no sign-only,
 * no "-0", no leading zeros, within a long long); null if invalid. Values past 2^53 come back
 * rounded, which only callers comparing against far smaller limits ever see.
 */
export function parseInteger(buf: Buffer, start: number, end: number): number | null {
  if (start >= end || end - start >= 21 /* LONG_STR_SIZE */) return null;
  let i = start;
  let negative = false;
  if (buf[i] === 0x2d /* - */) {
    negative = true;
    i++;
    if (i >= end) return null;
  }
  if (buf[i] === 0x30) return end - start === 1 ? 0 : null; // only "0" itself starts with 0
  let n = 0;
  for (let j = i; j < end; j++) {
    const d = buf[j]! - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  if (n > Number.MAX_SAFE_INTEGER && end - i >= 19) {
    // Compare digit strings for the exact long long bound.
    if (end - i > 19 || buf.latin1Slice(i, end) > (negative ? LLONG_MIN_DIGITS : LLONG_MAX_DIGITS)) return null;
  }
  return negative ? -n : n;
}

function isHexDigit(c: string): boolean {
  return /^[0-9a-fA-F]$/.test(c);
}

/**
 * Splits a line into arguments like sdssplitargs: whitespace separated, "double quotes" with
 * C escapes (\n \r \t \b \a \\ \" \xHH), 'single quotes' with only \' escaped. A closing quote
 * must be followed by whitespace or the end.
 * As in sdssplitargs, isspace() (which includes \v and \f) separates arguments and must follow a
 * closing quote, but only space, \n, \r and \t end an unquoted token: `a\vb` is one argument.
 * Returns null on unbalanced quotes.
 */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (c: string | undefined): boolean =>
    c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\v' || c === '\f';
  for (;;) {
    while (i < n && isSpace(line[i])) i++;
    if (i >= n) return out;
    let current = '';
    let inDq = false;
    let inSq = false;
    for (;;) {
      const c = line[i];
      if (inDq) {
        if (c === undefined) return null;
        if (c === '\\' && line[i + 1] === 'x' && isHexDigit(line[i + 2] ?? '') && isHexDigit(line[i + 3] ?? '')) {
          current += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < n) {
          i++;
          const e = line[i]!;
          current += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (c === '"') {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          inDq = false;
          i++;
          break;
        } else {
          current += c;
        }
      } else if (inSq) {
        if (c === undefined) return null;
        if (c === '\\' && line[i + 1] === "'") {
          i++;
          current += "'";
        } else if (c === "'") {
          if (i + 1 < n && !isSpace(line[i + 1])) return null;
          inSq = false;
          i++;
          break;
        } else {
          current += c;
        }
      } else {
        if (c === undefined || c === ' ' || c === '\n' || c === '\r' || c === '\t') break;
        if (c === '"') inDq = true;
        else if (c === "'") inSq = true;
        else current += c;
      }
      i++;
    }
    out.push(current);
  }
}
