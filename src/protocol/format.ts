/**
 * Number and string formatting exactly as Redis prints them.
 */
import { formatLongDoubleHuman, longDoubleFromDouble } from '../types/long-double.js';

/**
 * sds.c's sdscatrepr(): bytes (latin1) in double quotes with C escapes and \xNN for anything
 * not printable in the C locale. MONITOR, redis-cli, config text and AOF manifests all use it.
 */
export function repr(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    switch (c) {
      case 0x5c: out += '\\\\'; break;
      case 0x22: out += '\\"'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x07: out += '\\a'; break;
      case 0x08: out += '\\b'; break;
      default:
        out += c >= 0x20 && c < 0x7f ? s[i] : '\\x' + c.toString(16).padStart(2, '0');
    }
  }
  return out + '"';
}

/**
 * C's `%.17g` (what Redis 7.0 uses for scores and RESP3 doubles): 17 significant digits,
 * trailing zeros trimmed, exponent form when the exponent is < -4 or >= 17. inf/-inf/nan as Redis.
 */
export function formatDouble(d: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (Number.isNaN(d)) return 'nan';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  return formatG(d, 17);
}

/** C's `%.<precision>g`. */
export function formatG(d: number, precision: number): string {
  const exp = Math.floor(Math.log10(Math.abs(d)));
  let s = d.toExponential(precision - 1); // d.ddddde±x
  let [mant, e] = s.split('e') as [string, string];
  let x = parseInt(e, 10);
  void exp;
  if (x < -4 || x >= precision) {
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const sign = x < 0 ? '-' : '+';
    const abs = Math.abs(x);
    return `${mant}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  s = d.toFixed(Math.max(0, precision - 1 - x));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/**
 * Redis's long-double "human friendly" format used by INCRBYFLOAT and HINCRBYFLOAT:
 * `%.17Lf` with trailing zeros (and a trailing dot) removed, of the double widened exactly to a
 * long double. For the arithmetic itself use types/long-double.ts (`incrByFloatText`): Redis
 * adds in long double precision, which a double cannot reproduce (10.5 + 0.1 prints "10.6").
 */
export function formatHumanFriendly(d: number): string {
  return formatLongDoubleHuman(longDoubleFromDouble(d));
}
