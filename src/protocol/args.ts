/**
 * Parsing of command arguments with Redis's exact rules (util.c's string2ll / strtod checks).
 * Each parser returns null for invalid input; callers reply with the matching error from
 * errors.ts. Arguments are latin1 strings (bytes).
 */

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * string2ll: an optional '-', then digits with no leading zeros (except "0"), no spaces, no '+',
 * within int64. Returns a bigint (exact for the whole int64 range) or null.
 */
export function parseInt64(s: string): bigint | null {
  const n = s.length;
  if (n === 0 || n > 20) return null;
  let i = 0;
  if (s.charCodeAt(0) === 45) {
    if (n === 1) return null;
    i = 1;
  }
  const first = s.charCodeAt(i);
  if (first === 48) return n === 1 ? 0n : null;
  if (first < 49 || first > 57) return null;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) return null;
  }
  const v = BigInt(s);
  if (v < INT64_MIN || v > INT64_MAX) return null;
  return v;
}

/**
 * Like parseInt64 but returns a JS number; null if invalid or outside int64. Values beyond
 * ±2^53 lose precision — use parseInt64 where exactness matters (INCRBY, SETRANGE offsets).
 */
export function parseInteger(s: string): number | null {
  // Fast path for short canonical integers.
  const n = s.length;
  if (n > 0 && n <= 15) {
    let i = 0;
    if (s.charCodeAt(0) === 45) {
      if (n === 1) return null;
      i = 1;
    }
    const first = s.charCodeAt(i);
    if (first === 48) return n === 1 ? 0 : null;
    if (first < 49 || first > 57) return null;
    let v = first - 48;
    for (let j = i + 1; j < n; j++) {
      const c = s.charCodeAt(j);
      if (c < 48 || c > 57) return null;
      v = v * 10 + (c - 48);
    }
    return i === 1 ? -v : v;
  }
  const b = parseInt64(s);
  return b === null ? null : Number(b);
}

/**
 * strtod as Redis uses it for floats (getDoubleFromObject / getLongDoubleFromObject): the whole
 * string must parse, no leading space, NaN refused. Accepts inf/-inf/+inf/infinity in any case,
 * exponents and hex floats as strtod does.
 */
export function parseDouble(s: string): number | null {
  const n = s.length;
  if (n === 0 || n > 5000) return null;
  // Plain integers of up to 15 digits (ZADD's common scores), read digit by digit: exact, as
  // strtod reads them, and without the lowercase copy and the regular expression below.
  if (n <= 16) {
    let i = s.charCodeAt(0) === 45 ? 1 : 0; // '-'
    if (n - i >= 1 && n - i <= 15) {
      let v = 0;
      for (; i < n; i++) {
        const d = s.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      if (i === n) return s.charCodeAt(0) === 45 ? -v : v;
    }
  }
  const c0 = s.charCodeAt(0);
  if (c0 === 32 || (c0 >= 9 && c0 <= 13)) return null;
  const last = s.charCodeAt(n - 1);
  if (last === 32 || (last >= 9 && last <= 13)) return null;
  const lower = s.toLowerCase();
  let body = lower;
  let sign = 1;
  if (body[0] === '+' || body[0] === '-') {
    if (body[0] === '-') sign = -1;
    body = body.slice(1);
  }
  if (body === 'inf' || body === 'infinity') return sign * Infinity;
  if (body.startsWith('0x')) {
    const m = /^0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/.exec(body);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return null;
    let v = parseInt(m[1] || '0', 16);
    const frac = m[2] ?? '';
    for (let i = 0; i < frac.length; i++) v += parseInt(frac[i]!, 16) / 16 ** (i + 1);
    if (m[3] !== undefined) v *= 2 ** Number(m[3]);
    return sign * v;
  }
  if (!/^(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(body)) return null;
  const v = Number(body);
  if (Number.isNaN(v)) return null;
  return sign * v;
}

/** Case-insensitive comparison of an argument with a lowercase keyword. */
export function is(arg: string, lowerKeyword: string): boolean {
  return arg.length === lowerKeyword.length && arg.toLowerCase() === lowerKeyword;
}
