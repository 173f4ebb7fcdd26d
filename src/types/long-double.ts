/**
 * x87 80-bit `long double` arithmetic, exactly as Redis's INCRBYFLOAT / HINCRBYFLOAT do it on
 * x86-64: parse with strtold (round-to-nearest-even into a 64-bit significand), add with one
 * correctly rounded operation, print with `%.17Lf` and strip trailing zeros (ld2string's
 * LD_STR_HUMAN mode).
 *
 * Doubles are not enough: 10.5 + 0.1 is 10.59999999999999964 as a double but prints "10.6" from
 * a long double. Values are kept exact as `mantissa * 2^exponent` in BigInts; these commands are
 * not hot, and exactness is the point.
 */

/** A finite long double `(-1)^neg * mant * 2^exp` (mant < 2^64), or an infinity. */
export interface LongDouble {
  neg: boolean;
  mant: bigint;
  exp: number;
  inf: boolean;
}

const SIGNIFICAND_BITS = 64;
/** Exponent of the lowest denormal bit: 2^-16445. */
const MIN_EXP = -16445;
/** Values with mant * 2^exp >= 2^16384 overflow. */
const MAX_BITS_EXP = 16384;
/** MAX_LONG_DOUBLE_CHARS in Redis: longer inputs are refused, longer outputs come out empty. */
export const MAX_LONG_DOUBLE_CHARS = 5 * 1024;

const ZERO: LongDouble = { neg: false, mant: 0n, exp: 0, inf: false };

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Rounds the exact value `num / den * 2^exp2` (num >= 0, den > 0) to a long double with
 * round-half-even, including denormals and overflow to infinity.
 */
function roundRational(neg: boolean, num: bigint, den: bigint, exp2: number): LongDouble {
  if (num === 0n) return { neg, mant: 0n, exp: 0, inf: false };
  // Scale so the integer quotient has at least 66 bits (64 kept + guard bits), remainder sticky.
  let shift = SIGNIFICAND_BITS + 2 - (bitLength(num) - bitLength(den));
  if (shift < 0) shift = 0;
  const scaledNum = num << BigInt(shift);
  let q = scaledNum / den;
  let sticky = scaledNum % den !== 0n;
  let e = exp2 - shift;
  // Drop bits beyond 64 significant ones, but never below the denormal quantum.
  let drop = bitLength(q) - SIGNIFICAND_BITS;
  if (e + drop < MIN_EXP) drop = MIN_EXP - e;
  if (drop > 0) {
    const d = BigInt(drop);
    const rest = q & ((1n << d) - 1n);
    q >>= d;
    e += drop;
    const half = 1n << (d - 1n);
    const roundUp = rest > half || (rest === half && (sticky || (q & 1n) === 1n));
    sticky = sticky || rest !== 0n;
    if (roundUp) {
      q += 1n;
      if (bitLength(q) > SIGNIFICAND_BITS) {
        q >>= 1n;
        e += 1;
      }
    }
  } else if (drop < 0) {
    // Fewer bits than 64 (only possible when den divides exactly): normalise upwards.
    q <<= BigInt(-drop);
    e += drop;
  }
  if (q === 0n) return { neg, mant: 0n, exp: 0, inf: false };
  if (e + bitLength(q) > MAX_BITS_EXP) return { neg, mant: 0n, exp: 0, inf: true };
  return { neg, mant: q, exp: e, inf: false };
}

/** True when the exact value is zero (either sign). */
function isZero(v: LongDouble): boolean {
  return !v.inf && v.mant === 0n;
}

/**
 * strtold with Redis's string2ld checks: the whole input must be consumed, no leading space,
 * no NaN, and no overflow/underflow (ERANGE to ±inf or zero). Returns null when refused.
 */
export function parseLongDouble(s: string): LongDouble | null {
  const n = s.length;
  if (n === 0 || n >= MAX_LONG_DOUBLE_CHARS) return null;
  let i = 0;
  let neg = false;
  const c0 = s.charCodeAt(0);
  if (c0 === 43 || c0 === 45) {
    neg = c0 === 45;
    i = 1;
  }
  const body = s.slice(i).toLowerCase();
  if (body === 'inf' || body === 'infinity') return { neg, mant: 0n, exp: 0, inf: true };
  if (body.startsWith('0x')) return parseHex(neg, body.slice(2));
  const m = /^(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/.exec(body);
  if (m === null) return null;
  const intPart = m[1]!;
  const fracPart = m[2] ?? '';
  if (intPart.length === 0 && fracPart.length === 0) return null;
  const digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits.length === 0) return { neg, mant: 0n, exp: 0, inf: false };
  const exp10 = (m[3] === undefined ? 0 : Number(m[3])) - fracPart.length;
  // Magnitude guards keep BigInt powers bounded; long double spans roughly 1e-4951 .. 1e4932.
  const magnitude = exp10 + digits.length;
  if (magnitude > 4940) return null; // overflow → ERANGE with ±HUGE_VAL
  if (magnitude < -4960) return null; // underflow to zero → ERANGE
  const mant = BigInt(digits);
  const v = exp10 >= 0 ? roundRational(neg, mant * 10n ** BigInt(exp10), 1n, 0) : roundRational(neg, mant, 10n ** BigInt(-exp10), 0);
  if (v.inf || isZero(v)) return null;
  return v;
}

function parseHex(neg: boolean, body: string): LongDouble | null {
  const m = /^([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$/.exec(body);
  if (m === null) return null;
  const intPart = m[1]!;
  const fracPart = m[2] ?? '';
  if (intPart.length === 0 && fracPart.length === 0) return null;
  const digits = (intPart + fracPart).replace(/^0+/, '');
  if (digits.length === 0) return { neg, mant: 0n, exp: 0, inf: false };
  const exp2 = (m[3] === undefined ? 0 : Number(m[3])) - 4 * fracPart.length;
  const magnitude = exp2 + 4 * digits.length;
  if (magnitude > MAX_BITS_EXP + 4 || magnitude < MIN_EXP - 8) return null;
  const v = roundRational(neg, BigInt('0x' + digits), 1n, exp2);
  if (v.inf || isZero(v)) return null;
  return v;
}

/** A long double holding an int64 exactly (the value of an int-encoded string). */
export function longDoubleFromInteger(n: bigint | number): LongDouble {
  const b = typeof n === 'bigint' ? n : BigInt(n);
  return roundRational(b < 0n, b < 0n ? -b : b, 1n, 0);
}

/** A long double holding a double exactly. */
export function longDoubleFromDouble(d: number): LongDouble {
  if (!Number.isFinite(d)) return { neg: d < 0, mant: 0n, exp: 0, inf: true };
  const neg = d < 0 || Object.is(d, -0);
  if (d === 0) return { neg, mant: 0n, exp: 0, inf: false };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(d));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  const frac = bits & ((1n << 52n) - 1n);
  const mant = biased === 0 ? frac : frac | (1n << 52n);
  const exp = (biased === 0 ? 1 : biased) - 1075;
  return roundRational(neg, mant, 1n, exp);
}

/** a + b, correctly rounded. NaN (inf + -inf) comes back as null. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | null {
  if (a.inf || b.inf) {
    if (a.inf && b.inf && a.neg !== b.neg) return null;
    return a.inf ? a : b;
  }
  if (a.mant === 0n) return b.mant === 0n ? { ...ZERO, neg: a.neg && b.neg } : b;
  if (b.mant === 0n) return a;
  const e = Math.min(a.exp, b.exp);
  const av = a.mant << BigInt(a.exp - e);
  const bv = b.mant << BigInt(b.exp - e);
  const sum = (a.neg ? -av : av) + (b.neg ? -bv : bv);
  if (sum === 0n) return { ...ZERO };
  return roundRational(sum < 0n, sum < 0n ? -sum : sum, 1n, e);
}

export function isInfinite(v: LongDouble): boolean {
  return v.inf;
}

/**
 * ld2string(LD_STR_HUMAN): `%.17Lf`, trailing zeros and dot removed, "-0" printed as "0".
 * Output longer than Redis's buffer comes out empty, as in Redis.
 */
export function formatLongDoubleHuman(v: LongDouble): string {
  if (v.inf) return v.neg ? '-inf' : 'inf';
  const scale = 10n ** 17n;
  let r: bigint;
  if (v.exp >= 0) {
    r = (v.mant << BigInt(v.exp)) * scale;
  } else {
    const num = v.mant * scale;
    const sh = BigInt(-v.exp);
    r = num >> sh;
    const rest = num & ((1n << sh) - 1n);
    const half = 1n << (sh - 1n);
    if (rest > half || (rest === half && (r & 1n) === 1n)) r += 1n;
  }
  let digits = r.toString().padStart(18, '0');
  const point = digits.length - 17;
  let out = (v.neg ? '-' : '') + digits.slice(0, point) + '.' + digits.slice(point);
  if (out.length + 1 > MAX_LONG_DOUBLE_CHARS) return '';
  let end = out.length;
  while (out.charCodeAt(end - 1) === 48) end--;
  if (out.charCodeAt(end - 1) === 46) end--;
  out = out.slice(0, end);
  digits = out;
  return digits === '-0' ? '0' : digits;
}

/**
 * INCRBYFLOAT's arithmetic on string bytes: `current` (null for a missing key) plus `incr`.
 * Returns the new value's text, or an error kind the caller maps to Redis's messages.
 */
export function incrByFloatText(current: string | null, incr: string): string | 'not-float' | 'nan-or-inf' {
  const base = current === null ? ZERO : parseLongDouble(current);
  if (base === null) return 'not-float';
  const by = parseLongDouble(incr);
  if (by === null) return 'not-float';
  const sum = addLongDouble(base, by);
  if (sum === null || sum.inf) return 'nan-or-inf';
  return formatLongDoubleHuman(sum);
}
