/**
 * cjson.decode as Redis's lua_cjson.c does it: its own tokenizer, so that what it accepts
 * (strtod numbers incl. hex/inf/nan, since Redis builds it with decode_invalid_numbers on),
 * what it produces (null → cjson.null, a NULL lightuserdata; \u escapes → UTF-8 bytes) and its
 * error texts ("Expected value but found invalid token at character 1") are the same.
 * Input and output strings are bytes (latin1 JS strings).
 */
import { LuaVM } from './lua-wasm.js';

const enum T {
  ObjBegin,
  ObjEnd,
  ArrBegin,
  ArrEnd,
  String,
  Number,
  Boolean,
  Null,
  Colon,
  Comma,
  End,
  Whitespace,
  Error,
  Unknown,
}

const TOKEN_NAMES = ['T_OBJ_BEGIN', 'T_OBJ_END', 'T_ARR_BEGIN', 'T_ARR_END', 'T_STRING', 'T_NUMBER', 'T_BOOLEAN', 'T_NULL', 'T_COLON', 'T_COMMA', 'T_END', 'T_WHITESPACE', 'T_ERROR', 'T_UNKNOWN'];

const CH2TOKEN: T[] = new Array(256).fill(T.Error);
CH2TOKEN[0x7b] = T.ObjBegin;
CH2TOKEN[0x7d] = T.ObjEnd;
CH2TOKEN[0x5b] = T.ArrBegin;
CH2TOKEN[0x5d] = T.ArrEnd;
CH2TOKEN[0x2c] = T.Comma;
CH2TOKEN[0x3a] = T.Colon;
CH2TOKEN[0] = T.End;
for (const c of ' \t\n\r') CH2TOKEN[c.charCodeAt(0)] = T.Whitespace;
for (const c of 'fiInNt"+-0123456789') CH2TOKEN[c.charCodeAt(0)] = T.Unknown;

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', u: 'u' };

/** lua_cjson's per-VM configuration (json_config_t), changed by cjson.encode_max_depth() etc. */
export interface CjsonConfig {
  sparseConvert: number;
  sparseRatio: number;
  sparseSafe: number;
  encodeMaxDepth: number;
  decodeMaxDepth: number;
  /** 0 refuse, 1 allow ("nan"/"inf"), 2 as null. */
  encodeInvalidNumbers: number;
  decodeInvalidNumbers: number;
  encodeNumberPrecision: number;
  encodeKeepBuffer: number;
}

export function defaultCjsonConfig(): CjsonConfig {
  return {
    sparseConvert: 0,
    sparseRatio: 2,
    sparseSafe: 10,
    encodeMaxDepth: 1000,
    decodeMaxDepth: 1000,
    encodeInvalidNumbers: 0,
    decodeInvalidNumbers: 1,
    encodeNumberPrecision: 14,
    encodeKeepBuffer: 1,
  };
}

// C strtod's grammar (after the caller's checks the text starts with a sign, digit, i/I or n/N).
const STRTOD_RE = /^[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)/;

function strtodValue(text: string): number {
  let s = text;
  let sign = 1;
  if (s[0] === '+' || s[0] === '-') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  const lower = s.toLowerCase();
  if (lower.startsWith('inf')) return sign * Infinity;
  if (lower.startsWith('nan')) return NaN;
  if (lower.startsWith('0x')) {
    const m = /^0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/.exec(lower)!;
    let v = m[1] ? parseInt(m[1], 16) : 0;
    const frac = m[2] ?? '';
    for (let i = 0; i < frac.length; i++) v += parseInt(frac[i]!, 16) / 16 ** (i + 1);
    return sign * v * 2 ** Number(m[3] ?? 0);
  }
  return sign * Number(s);
}

interface Token {
  type: T;
  index: number;
  str?: string;
  num?: number;
  bool?: boolean;
  err?: string;
}

class JsonParser {
  pos = 0;
  depth = 0;
  constructor(
    private readonly vm: LuaVM,
    private readonly L: number,
    private readonly data: string,
    private readonly cfg: CjsonConfig,
  ) {}

  private ch(i: number): number {
    return i < this.data.length ? this.data.charCodeAt(i) : 0;
  }

  private fail(exp: string, tok: Token): never {
    const found = tok.type === T.Error ? tok.err! : TOKEN_NAMES[tok.type]!;
    return this.raise(`Expected ${exp} but found ${found} at character ${tok.index + 1}`);
  }

  private raise(msg: string): never {
    return this.vm.raiseError(this.L, msg);
  }

  private setError(tok: Token, err: string): void {
    tok.type = T.Error;
    tok.index = this.pos;
    tok.err = err;
  }

  next(): Token {
    let c: number;
    let type: T;
    for (;;) {
      c = this.ch(this.pos);
      type = CH2TOKEN[c]!;
      if (type !== T.Whitespace) break;
      this.pos++;
    }
    const tok: Token = { type, index: this.pos };
    if (type === T.Error) {
      this.setError(tok, 'invalid token');
      return tok;
    }
    if (type === T.End) return tok;
    if (type !== T.Unknown) {
      this.pos++;
      return tok;
    }
    const rest = this.data.slice(this.pos, this.pos + 5);
    if (c === 0x22) {
      this.stringToken(tok);
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      if (!this.cfg.decodeInvalidNumbers && this.isInvalidNumber()) this.setError(tok, 'invalid number');
      else this.numberToken(tok);
    } else if (rest.startsWith('true')) {
      tok.type = T.Boolean;
      tok.bool = true;
      this.pos += 4;
    } else if (rest === 'false') {
      tok.type = T.Boolean;
      tok.bool = false;
      this.pos += 5;
    } else if (rest.startsWith('null')) {
      tok.type = T.Null;
      this.pos += 4;
    } else if (this.cfg.decodeInvalidNumbers && this.isInvalidNumber()) {
      this.numberToken(tok);
    } else {
      this.setError(tok, 'invalid token');
    }
    return tok;
  }

  /** json_is_invalid_number: the forms strict JSON refuses (accepted here, as Redis does). */
  private isInvalidNumber(): boolean {
    let p = this.pos;
    const d = this.data;
    if (d[p] === '+') return true;
    if (d[p] === '-') p++;
    if (d[p] === '0') {
      const c2 = this.ch(p + 1);
      return (c2 | 0x20) === 0x78 || (c2 >= 0x30 && c2 <= 0x39);
    }
    if (this.ch(p) <= 0x39) return false;
    const three = d.slice(p, p + 3).toLowerCase();
    return three === 'inf' || three === 'nan';
  }

  private numberToken(tok: Token): void {
    const m = STRTOD_RE.exec(this.data.slice(this.pos, this.pos + 400));
    if (m === null) {
      this.setError(tok, 'invalid number');
      return;
    }
    tok.type = T.Number;
    tok.num = strtodValue(m[0]);
    this.pos += m[0].length;
  }

  private stringToken(tok: Token): void {
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.ch(this.pos);
      if (c === 0x22) break;
      if (c === 0) {
        this.setError(tok, 'unexpected end of string');
        return;
      }
      if (c === 0x5c) {
        const e = ESCAPES[this.data[this.pos + 1] ?? ''];
        if (e === 'u') {
          const u = this.unicodeEscape();
          if (u === null) {
            this.setError(tok, 'invalid unicode escape code');
            return;
          }
          out += u;
          continue;
        }
        if (e === undefined) {
          this.setError(tok, 'invalid escape code');
          return;
        }
        out += e;
        this.pos += 2;
        continue;
      }
      out += this.data[this.pos];
      this.pos++;
    }
    this.pos++;
    tok.type = T.String;
    tok.str = out;
  }

  private hex4(at: number): number {
    const h = this.data.slice(at, at + 4);
    return /^[0-9a-fA-F]{4}$/.test(h) ? parseInt(h, 16) : -1;
  }

  /** \uXXXX (and a surrogate pair) → UTF-8 bytes; null when invalid. */
  private unicodeEscape(): string | null {
    let cp = this.hex4(this.pos + 2);
    let len = 6;
    if (cp < 0) return null;
    if ((cp & 0xf800) === 0xd800) {
      if ((cp & 0xfc00) !== 0xd800) return null; // a lone low surrogate
      if (this.data[this.pos + 6] !== '\\' || this.data[this.pos + 7] !== 'u') return null;
      const low = this.hex4(this.pos + 8);
      if (low < 0 || (low & 0xfc00) !== 0xdc00) return null;
      cp = (((cp & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
      len = 12;
    }
    this.pos += len;
    return Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
  }

  private descend(slots: number): void {
    this.depth++;
    if (this.depth <= this.cfg.decodeMaxDepth && this.vm.x.lua_checkstack(this.L, slots) !== 0) return;
    this.raise(`Found too many nested data structures (${this.depth}) at character ${this.pos}`);
  }

  value(tok: Token): void {
    const x = this.vm.x;
    const L = this.L;
    switch (tok.type) {
      case T.String:
        this.vm.pushString(L, tok.str!);
        return;
      case T.Number:
        x.lua_pushnumber(L, tok.num!);
        return;
      case T.Boolean:
        x.lua_pushboolean(L, tok.bool ? 1 : 0);
        return;
      case T.Null:
        x.lua_pushlightuserdata(L, 0);
        return;
      case T.ObjBegin:
        this.object();
        return;
      case T.ArrBegin:
        this.array();
        return;
      default:
        this.fail('value', tok);
    }
  }

  private object(): void {
    const x = this.vm.x;
    this.descend(3);
    x.lua_createtable(this.L, 0, 0);
    let tok = this.next();
    if (tok.type === T.ObjEnd) {
      this.depth--;
      return;
    }
    for (;;) {
      if (tok.type !== T.String) this.fail('object key string', tok);
      this.vm.pushString(this.L, tok.str!);
      tok = this.next();
      if (tok.type !== T.Colon) this.fail('colon', tok);
      this.value(this.next());
      x.lua_rawset(this.L, -3);
      tok = this.next();
      if (tok.type === T.ObjEnd) {
        this.depth--;
        return;
      }
      if (tok.type !== T.Comma) this.fail('comma or object end', tok);
      tok = this.next();
    }
  }

  private array(): void {
    const x = this.vm.x;
    this.descend(2);
    x.lua_createtable(this.L, 0, 0);
    let tok = this.next();
    if (tok.type === T.ArrEnd) {
      this.depth--;
      return;
    }
    for (let i = 1; ; i++) {
      this.value(tok);
      x.lua_rawseti(this.L, -2, i);
      tok = this.next();
      if (tok.type === T.ArrEnd) {
        this.depth--;
        return;
      }
      if (tok.type !== T.Comma) this.fail('comma or array end', tok);
      tok = this.next();
    }
  }

  /** json_decode after the argument checks: one value, then the end. */
  decode(): void {
    if (this.data.length >= 2 && (this.data.charCodeAt(0) === 0 || this.data.charCodeAt(1) === 0)) {
      this.raise('JSON parser does not support UTF-16 or UTF-32');
    }
    this.value(this.next());
    const tok = this.next();
    if (tok.type !== T.End) this.fail('the end', tok);
  }
}

/** cjson.decode(text): pushes the decoded value (raises lua_cjson's errors). */
export function cjsonDecode(vm: LuaVM, L: number, cfg: CjsonConfig): number {
  if (vm.x.lua_gettop(L) !== 1) vm.argError(L, 1, 'expected 1 argument');
  const text = vm.checkString(L, 1);
  new JsonParser(vm, L, text, cfg).decode();
  return 1;
}
