/**
 * Incremental RESP2/RESP3 *reply* parser, over Buffers — the client side of the protocol.
 *
 * The server parses requests (parser.ts); everything that talks *to* a Redis-like server
 * (nodis-cli, a replica's link to its master, sentinel's links) parses replies with this.
 * Feed bytes with `feed()`, pull complete replies with `next()` (undefined until one is whole).
 * Nested aggregates are built with an explicit stack, so a deep reply cannot overflow the JS
 * stack and a reply split over any number of reads parses the same.
 *
 * Representation follows hiredis, which is what redis-cli formats: bulk strings stay Buffers
 * (user bytes are never decoded), status/error/double/bignum keep their wire text as latin1
 * strings (redis-cli prints a double's text as received), integers are bigint (int64 exact),
 * a verbatim string drops its `txt:` prefix but remembers the format. Attributes (`|`) are not
 * part of hiredis's grammar; like hiredis, they are a protocol error, unless the parser is made
 * with `skipAttributes` (Lua's redis.call parser reads and ignores them, as Redis's does).
 */

export type Reply =
  | { type: 'status'; value: string }
  | { type: 'error'; value: string }
  | { type: 'integer'; value: bigint }
  | { type: 'double'; value: string }
  | { type: 'bignum'; value: string }
  | { type: 'bool'; value: boolean }
  /** `resp3`: the reply was RESP3's null (`_`), not RESP2's null bulk or array (`$-1`, `*-1`). */
  | { type: 'nil'; resp3?: true }
  | { type: 'string'; value: Buffer }
  | { type: 'verbatim'; format: string; value: Buffer }
  | { type: 'array' | 'set' | 'push'; elements: Reply[] }
  /** `elements` alternates key, value (as hiredis keeps it). */
  | { type: 'map'; elements: Reply[] };

export type AggregateType = 'array' | 'set' | 'push' | 'map';

/** Malformed input; the message is hiredis's reader error text. */
export class ReplyProtocolError extends Error {}

const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);

interface Frame {
  /** 'attribute': read and then dropped (skipAttributes). */
  type: AggregateType | 'attribute';
  elements: Reply[];
  /** Number of child replies still expected. */
  left: number;
}

export class ReplyParser {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private stack: Frame[] = [];
  private ready: Reply[] = [];
  private readonly skipAttributes: boolean;

  constructor(opts: { skipAttributes?: boolean } = {}) {
    this.skipAttributes = opts.skipAttributes === true;
  }

  /** Appends received bytes. */
  feed(chunk: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
    } else {
      this.buf = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.pos = 0;
  }

  /** Bytes received but not yet consumed by a complete reply element. */
  get pending(): number {
    return this.buf.length - this.pos;
  }

  /** The next complete reply, or undefined when more bytes are needed. Throws on bad input. */
  next(): Reply | undefined {
    if (this.ready.length > 0) return this.ready.shift();
    for (;;) {
      const item = this.parseOne();
      if (item === undefined) return undefined;
      const done = this.attach(item);
      if (done !== undefined) return done;
    }
  }

  /** Hands a finished element to its parent aggregate; returns a top-level reply when complete. */
  private attach(item: Reply | Frame): Reply | undefined {
    let value: Reply;
    if ('left' in item) {
      if (item.left > 0) {
        this.stack.push(item);
        return undefined;
      }
      if (item.type === 'attribute') return undefined;
      value = { type: item.type, elements: item.elements } as Reply;
    } else {
      value = item;
    }
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) return value;
      top.elements.push(value);
      if (--top.left > 0) return undefined;
      this.stack.pop();
      if (top.type === 'attribute') return undefined;
      value = { type: top.type, elements: top.elements } as Reply;
    }
  }

  /** Index of the CR of the line starting at `from`, or -1 if the line is incomplete. */
  private lineEnd(from: number): number {
    const cr = this.buf.indexOf(CR, from);
    if (cr < 0 || cr + 1 >= this.buf.length) return -1;
    return cr;
  }

  private parseOne(): Reply | Frame | undefined {
    if (this.pos >= this.buf.length) return undefined;
    const typeByte = this.buf[this.pos];
    const end = this.lineEnd(this.pos + 1);
    if (end < 0) return undefined;
    const line = this.buf.toString('latin1', this.pos + 1, end);
    const afterLine = end + 2;
    switch (typeByte) {
      case 0x2b: // +
        this.pos = afterLine;
        return { type: 'status', value: line };
      case 0x2d: // -
        this.pos = afterLine;
        return { type: 'error', value: line };
      case 0x3a: // :
        this.pos = afterLine;
        return { type: 'integer', value: parseInteger(line, 'integer') };
      case 0x2c: // ,
        this.pos = afterLine;
        if (!isValidDouble(line)) throw new ReplyProtocolError(line.length >= 326 ? 'Double value is too large' : 'Bad double value');
        return { type: 'double', value: line };
      case 0x28: // (
        this.pos = afterLine;
        if (!/^[-+]?\d+$/.test(line)) throw new ReplyProtocolError('Bad bignum value');
        return { type: 'bignum', value: line };
      case 0x5f: // _
        this.pos = afterLine;
        if (line !== '') throw new ReplyProtocolError('Bad nil value');
        return { type: 'nil', resp3: true };
      case 0x23: // #
        this.pos = afterLine;
        if (line !== 't' && line !== 'f') throw new ReplyProtocolError('Bad bool value');
        return { type: 'bool', value: line === 't' };
      case 0x24: // $
      case 0x3d: {
        // = verbatim
        const len = parseInteger(line, 'bulk');
        if (len < -1n || len > 512n * 1024n * 1024n) throw new ReplyProtocolError('Bulk string length out of range');
        if (len === -1n) {
          this.pos = afterLine;
          return { type: 'nil' };
        }
        const n = Number(len);
        if (this.buf.length < afterLine + n + 2) return undefined;
        const body = Buffer.from(this.buf.subarray(afterLine, afterLine + n));
        this.pos = afterLine + n + 2;
        if (typeByte === 0x24) return { type: 'string', value: body };
        if (n < 4 || body[3] !== 0x3a) throw new ReplyProtocolError('Verbatim string 4 bytes of content type are missing or incorrectly encoded.');
        return { type: 'verbatim', format: body.toString('latin1', 0, 3), value: body.subarray(4) };
      }
      case 0x2a: // *
      case 0x25: // %
      case 0x7e: // ~
      case 0x3e: {
        // > push
        const count = parseInteger(line, 'multi-bulk');
        this.pos = afterLine;
        if (count === -1n && typeByte === 0x2a) return { type: 'nil' };
        if (count < 0n || count > 4294967295n) throw new ReplyProtocolError('Multi-bulk length out of range');
        const type: AggregateType = typeByte === 0x2a ? 'array' : typeByte === 0x25 ? 'map' : typeByte === 0x7e ? 'set' : 'push';
        const left = Number(count) * (type === 'map' ? 2 : 1);
        return { type, elements: [], left };
      }
      case 0x7c: {
        // | attribute
        if (!this.skipAttributes) break;
        const count = parseInteger(line, 'multi-bulk');
        if (count < 0n || count > 4294967295n) throw new ReplyProtocolError('Multi-bulk length out of range');
        this.pos = afterLine;
        return { type: 'attribute', elements: [], left: Number(count) * 2 };
      }
    }
    throw new ReplyProtocolError(`Protocol error, got ${reprByte(typeByte!)} as reply type byte`);
  }
}

/** hiredis: "inf", "-inf", or a whole-string strtod() parse that is finite. */
function isValidDouble(line: string): boolean {
  if (line.length >= 326) return false;
  const lower = line.toLowerCase();
  if (lower === 'inf' || lower === '-inf') return true;
  const m = /^[\t\n\v\f\r ]*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/.exec(line);
  return m !== null && Number.isFinite(Number(m[1]));
}

function parseInteger(line: string, what: string): bigint {
  if (!/^-?\d+$/.test(line)) throw new ReplyProtocolError(`Bad ${what} value`);
  return BigInt(line);
}

/** hiredis's chrtos(): how a bad type byte is quoted in its error. */
function reprByte(b: number): string {
  const ch = String.fromCharCode(b);
  switch (ch) {
    case '\\':
    case '"':
      return `"\\${ch}"`;
    case '\n':
      return '"\\n"';
    case '\r':
      return '"\\r"';
    case '\t':
      return '"\\t"';
    case '\x07':
      return '"\\a"';
    case '\b':
      return '"\\b"';
    default:
      return b >= 0x20 && b < 0x7f ? `"${ch}"` : `"\\x${b.toString(16).padStart(2, '0')}"`;
  }
}

/** Encodes a command as a RESP multibulk (what every client sends). Strings are latin1 bytes. */
export function encodeCommand(argv: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`, 'latin1')];
  for (const arg of argv) {
    const b = typeof arg === 'string' ? Buffer.from(arg, 'latin1') : arg;
    parts.push(Buffer.from(`$${b.length}\r\n`, 'latin1'), b, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n', 'latin1');

/** A reply's bytes as a latin1 string (status, error, string, verbatim, double, bignum), else undefined. */
export function replyText(r: Reply): string | undefined {
  switch (r.type) {
    case 'status':
    case 'error':
    case 'double':
    case 'bignum':
      return r.value;
    case 'string':
    case 'verbatim':
      return r.value.toString('latin1');
    case 'integer':
      return r.value.toString();
    default:
      return undefined;
  }
}
