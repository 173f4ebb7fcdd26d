/**
 * Reply formatting, byte for byte as redis-cli 7.0 prints it (cliFormatReplyTTY / Raw / CSV /
 * Json in redis-cli.c).
 *
 * Everything is built as a latin1 string (one JS char per byte) and only turned into a Buffer
 * at the edge, so user bytes pass through untouched: TTY mode quotes them with sdscatrepr's
 * escapes, raw mode writes them as they came.
 */
import type { Reply } from '../protocol/reply-parser.js';

export type OutputMode = 'standard' | 'raw' | 'csv' | 'json' | 'quoted-json';

export interface FormatOptions {
  /** -d: separator between the elements of an aggregate in raw mode. */
  multiBulkDelimiter: string;
  /** -D: separator after each reply in raw mode. */
  commandDelimiter: string;
}

import { repr } from '../protocol/format.js';

export { repr };

/** True when cliFormatReplyTTY renders the reply over several lines. */
function isMultiline(r: Reply): boolean {
  switch (r.type) {
    case 'array':
    case 'set':
    case 'push':
      if (r.elements.length === 0) return false;
      if (r.elements.length > 1) return true;
      return isMultiline(r.elements[0]!);
    case 'map':
      if (r.elements.length === 0) return false;
      if (r.elements.length > 2) return true;
      return isMultiline(r.elements[1]!);
    default:
      return false;
  }
}

/** A reply type redis-cli's formatters do not know: it prints this and exits 1. */
export class UnknownReplyType extends Error {
  constructor(readonly code: number) {
    super(`Unknown reply type: ${code}`);
  }
}

/** hiredis's numeric reply-type codes (used in redis-cli's diagnostics). */
export const REPLY_TYPE_CODE: Record<Reply['type'], number> = {
  string: 1,
  array: 2,
  integer: 3,
  nil: 4,
  status: 5,
  error: 6,
  double: 7,
  bool: 8,
  map: 9,
  set: 10,
  push: 12,
  bignum: 13,
  verbatim: 14,
};

const EMPTY_NAME: Record<string, string> = { array: '(empty array)\n', map: '(empty hash)\n', set: '(empty set)\n', push: '(empty push)\n' };

/** The human-readable rendering used when stdout is a terminal. */
export function formatTTY(r: Reply, prefix = ''): string {
  switch (r.type) {
    case 'error':
      return `(error) ${cString(r.value)}\n`;
    case 'status':
      return cString(r.value) + '\n';
    case 'integer':
      return `(integer) ${r.value}\n`;
    case 'double':
      return `(double) ${r.value}\n`;
    case 'string':
      return repr(r.value.toString('latin1')) + '\n';
    case 'verbatim':
      return r.value.toString('latin1') + '\n';
    case 'nil':
      return '(nil)\n';
    case 'bool':
      return r.value ? '(true)\n' : '(false)\n';
    case 'bignum':
      throw new UnknownReplyType(REPLY_TYPE_CODE.bignum);
    case 'array':
    case 'map':
    case 'set':
    case 'push': {
      const els = r.elements;
      if (els.length === 0) return EMPTY_NAME[r.type]!;
      const count = r.type === 'map' ? els.length / 2 : els.length;
      const idxlen = String(count).length;
      const childPrefix = prefix + ' '.repeat(idxlen + 2);
      const sep = r.type === 'set' ? '~' : r.type === 'map' ? '#' : ')';
      let out = '';
      for (let i = 0; i < els.length; i++) {
        const human = (r.type === 'map' ? i / 2 : i) + 1;
        out += (i === 0 ? '' : prefix) + String(human).padStart(idxlen, ' ') + sep + ' ';
        out += formatTTY(els[i]!, childPrefix);
        if (r.type === 'map') {
          i++;
          out = out.slice(0, -1) + ' => ';
          if (isMultiline(els[i]!)) out += '\n' + childPrefix;
          out += formatTTY(els[i]!, childPrefix);
        }
      }
      return out;
    }
  }
}

/** --raw: the bytes themselves, aggregates joined by the -d delimiter. */
export function formatRaw(r: Reply, opts: FormatOptions): string {
  switch (r.type) {
    case 'nil':
      return '';
    case 'error':
      return r.value + '\n';
    case 'status':
    case 'double':
      return r.value;
    case 'string':
    case 'verbatim':
      return r.value.toString('latin1');
    case 'bool':
      return r.value ? '(true)' : '(false)';
    case 'integer':
      return r.value.toString();
    case 'bignum':
      throw new UnknownReplyType(REPLY_TYPE_CODE.bignum);
    case 'set':
    case 'array':
    case 'push': {
      let out = '';
      r.elements.forEach((e, i) => {
        if (i > 0) out += opts.multiBulkDelimiter;
        out += formatRaw(e, opts);
      });
      return out;
    }
    case 'map': {
      let out = '';
      for (let i = 0; i < r.elements.length; i += 2) {
        if (i > 0) out += opts.multiBulkDelimiter;
        out += formatRaw(r.elements[i]!, opts) + ' ' + formatRaw(r.elements[i + 1]!, opts);
      }
      return out;
    }
  }
}

/** --csv. */
export function formatCSV(r: Reply): string {
  switch (r.type) {
    case 'error':
      return 'ERROR,' + repr(cString(r.value));
    case 'status':
      return repr(r.value);
    case 'integer':
      return r.value.toString();
    case 'double':
      return r.value;
    case 'string':
    case 'verbatim':
      return repr(r.value.toString('latin1'));
    case 'nil':
      return 'NULL';
    case 'bool':
      return r.value ? 'true' : 'false';
    case 'bignum':
      throw new UnknownReplyType(REPLY_TYPE_CODE.bignum);
    default:
      return r.elements.map(formatCSV).join(',');
  }
}

/** cli_common.c escapeJsonString(): bytes above 0x7f pass through (they are UTF-8 already). */
function jsonEscape(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x5c:
        out += '\\\\';
        break;
      case 0x22:
        out += '\\"';
        break;
      case 0x0a:
        out += '\\n';
        break;
      case 0x0c:
        out += '\\f';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x08:
        out += '\\b';
        break;
      default:
        out += c <= 0x1f ? '\\u' + c.toString(16).padStart(4, '0') : s[i];
    }
  }
  return out + '"';
}

function jsonString(s: string, quoted: boolean): string {
  return quoted ? repr(s).replace(/\\/g, '\\\\') : jsonEscape(s);
}

/** --json / --quoted-json. */
export function formatJSON(r: Reply, quoted: boolean): string {
  switch (r.type) {
    case 'error':
      return 'error:' + jsonString(cString(r.value), quoted);
    case 'status':
      return jsonString(r.value, quoted);
    case 'integer':
      return r.value.toString();
    case 'double':
      return r.value;
    case 'string':
    case 'verbatim':
      return jsonString(r.value.toString('latin1'), quoted);
    case 'nil':
      return 'null';
    case 'bool':
      return r.value ? 'true' : 'false';
    case 'bignum':
      throw new UnknownReplyType(REPLY_TYPE_CODE.bignum);
    case 'array':
    case 'set':
    case 'push':
      return '[' + r.elements.map((e) => formatJSON(e, quoted)).join(',') + ']';
    case 'map': {
      const parts: string[] = [];
      for (let i = 0; i < r.elements.length; i += 2) {
        const key = r.elements[i]!;
        let k: string;
        if (key.type === 'error' || key.type === 'status' || key.type === 'string' || key.type === 'verbatim') {
          k = formatJSON(key, quoted);
        } else {
          const s = formatJSON(key, quoted);
          k = s.startsWith('"') ? s : `"${s}"`;
        }
        parts.push(k + ':' + formatJSON(r.elements[i + 1]!, quoted));
      }
      return '{' + parts.join(',') + '}';
    }
  }
}

/** cliFormatReply(): one reply in the chosen output mode, with its trailing separator. */
export function formatReply(r: Reply, mode: OutputMode, opts: FormatOptions, verbatim = false): string {
  if (verbatim) return formatRaw(r, opts);
  switch (mode) {
    case 'standard':
      return formatTTY(r);
    case 'raw':
      return formatRaw(r, opts) + opts.commandDelimiter;
    case 'csv':
      return formatCSV(r) + '\n';
    case 'json':
    case 'quoted-json':
      return formatJSON(r, mode === 'quoted-json') + '\n';
  }
}

/** redis-cli prints status/error text with printf("%s"): it stops at the first NUL byte. */
function cString(s: string): string {
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul);
}

/** The RESP3 client-tracking invalidation push, as cliFormatInvalidateTTY shows it. */
export function isInvalidate(r: Reply): boolean {
  return (
    r.type === 'push' &&
    r.elements.length === 2 &&
    r.elements[0]!.type === 'string' &&
    r.elements[0]!.value.toString('latin1').startsWith('invalidate') &&
    r.elements[1]!.type === 'array'
  );
}

export function formatInvalidateTTY(r: Reply): string {
  if (r.type !== 'push') return '';
  const keys = r.elements[1]!;
  if (keys.type !== 'array') return '';
  const names = keys.elements.map((k) => `'${k.type === 'string' ? cString(k.value.toString('latin1')) : ''}'`);
  return '-> invalidate: ' + names.join(', ') + '\n';
}
