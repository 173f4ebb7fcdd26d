import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { stringMatch, matchesEverything } from '../src/keyspace/glob.js';

/**
 * A literal, recursive transcription of Redis 7.0.15's stringmatchlen_impl (util.c), reading
 * NUL past the end like C does. The iterative stringMatch must agree with it everywhere.
 */
function redisReference(pattern: string, str: string, nocase: boolean): boolean {
  const P = (i: number): number => (i < pattern.length ? pattern.charCodeAt(i) : 0);
  const S = (i: number): number => (i < str.length ? str.charCodeAt(i) : 0);
  const low = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);
  const sgn = (c: number): number => (c >= 128 ? c - 256 : c);
  const skip = { v: false };
  const impl = (p: number, plen: number, s: number, slen: number): boolean => {
    while (plen > 0 && slen > 0) {
      switch (P(p)) {
        case 42:
          while (plen > 0 && P(p + 1) === 42) { p++; plen--; }
          if (plen === 1) return true;
          while (slen > 0) {
            if (impl(p + 1, plen - 1, s, slen)) return true;
            if (skip.v) return false;
            s++; slen--;
          }
          skip.v = true;
          return false;
        case 63:
          s++; slen--;
          break;
        case 91: {
          p++; plen--;
          const not = P(p) === 94;
          if (not) { p++; plen--; }
          let match = false;
          for (;;) {
            if (P(p) === 92 && plen >= 2) {
              p++; plen--;
              if (P(p) === S(s)) match = true;
            } else if (P(p) === 93) {
              break;
            } else if (plen <= 0) {
              // (C reads past the end for "[^" at the very end; the port stops there.)
              p = pattern.length - 1; plen = 1;
              break;
            } else if (plen >= 3 && P(p + 1) === 45) {
              let start = sgn(P(p)), end = sgn(P(p + 2)), c = sgn(S(s));
              if (start > end) [start, end] = [end, start];
              if (nocase) { start = low(start); end = low(end); c = low(c); }
              p += 2; plen -= 2;
              if (c >= start && c <= end) match = true;
            } else if (nocase ? low(P(p)) === low(S(s)) : P(p) === S(s)) {
              match = true;
            }
            p++; plen--;
          }
          if (not) match = !match;
          if (!match) return false;
          s++; slen--;
          break;
        }
        default:
          if (P(p) === 92 && plen >= 2) { p++; plen--; }
          if (nocase ? low(P(p)) !== low(S(s)) : P(p) !== S(s)) return false;
          s++; slen--;
          break;
      }
      p++; plen--;
      if (slen === 0) {
        while (P(p) === 42 && p < pattern.length) { p++; plen--; }
        break;
      }
    }
    return plen === 0 && slen === 0;
  };
  return impl(0, pattern.length, 0, str.length);
}

/**
 * A regular-expression model for patterns made of literals, `?` and `*`: the usual glob, except
 * that an empty subject only matches the empty pattern (Redis never enters its loop then).
 */
function regexModel(pattern: string, str: string): boolean {
  if (str === '') return pattern === '';
  const re = pattern.replace(/\?/g, '[\\s\\S]').replace(/\*+/g, '[\\s\\S]*');
  return new RegExp(`^${re}$`).test(str);
}

const alphabet = fc.constantFrom('a', 'b', 'A', '*', '?', '[', ']', '^', '-', '\\', 'z', '\xff', '\x80', '\x00');
const patternArb = fc.array(alphabet, { maxLength: 10 }).map((a) => a.join(''));
const subjectArb = fc.array(fc.constantFrom('a', 'b', 'A', 'B', 'z', '-', ']', '\\', '\xff', '\x80', '\x00', '*'), { maxLength: 10 }).map((a) => a.join(''));

describe('stringMatch (Redis stringmatchlen)', () => {
  it('handles the documented forms', () => {
    const yes: [string, string][] = [
      ['h?llo', 'hello'], ['h*llo', 'heeeello'], ['h*llo', 'hllo'], ['h[ae]llo', 'hallo'],
      ['h[^e]llo', 'hallo'], ['h[a-b]llo', 'hbllo'], ['h[b-a]llo', 'hallo'], ['h\\*llo', 'h*llo'],
      ['*', 'x'], ['a*', 'a'], ['*a', 'ba'], ['[\\]]', ']'], ['[a-]', '^'] /* the range is ']'..'a' */, ['', ''],
      ['foo*bar*baz', 'fooXbarYbaz'], ['[x', 'x'] /* an unterminated set ends with the pattern */, ['[^', 'x'],
    ];
    for (const [p, s] of yes) assert.equal(stringMatch(p, s), true, `${p} ~ ${s}`);
    const no: [string, string][] = [
      ['h?llo', 'hllo'], ['h[ae]llo', 'hillo'], ['h[^e]llo', 'hello'], ['h\\*llo', 'hallo'],
      ['*', ''] /* Redis: a star never matches the empty string */, ['a', ''], ['', 'a'],
      ['a*b', 'a'], ['x[', 'x'], ['[a-]', 'b'], ['[', 'x'],
    ];
    for (const [p, s] of no) assert.equal(stringMatch(p, s), false, `${p} !~ ${s}`);
  });

  it('honours nocase, including in ranges but not in escapes inside sets', () => {
    assert.equal(stringMatch('HELLO', 'hello', true), true);
    assert.equal(stringMatch('HELLO', 'hello'), false);
    assert.equal(stringMatch('[A-C]x', 'bX', true), true);
    assert.equal(stringMatch('[\\A]', 'a', true), false);
  });

  it('compares range bounds as signed chars, like Redis on x86', () => {
    // 'a'..'\xff' becomes -1..97 after the swap, so '\x80' (-128) is outside, '0' is inside.
    assert.equal(stringMatch('[a-\xff]', '\x80'), false);
    assert.equal(stringMatch('[a-\xff]', '0'), true);
  });

  it('stays linear on adversarial patterns (skipLongerMatches) and deep star chains', () => {
    const s = 'a'.repeat(20000);
    const p = '*a'.repeat(5000) + 'b';
    const t0 = Date.now();
    assert.equal(stringMatch(p, s), false);
    assert.ok(Date.now() - t0 < 2000);
    // 100k stars: the iterative matcher has no recursion to overflow.
    assert.equal(stringMatch('*x'.repeat(100000), 'x'.repeat(100000)), true);
  });

  it('agrees with a literal port of stringmatchlen on random inputs', () => {
    fc.assert(
      fc.property(patternArb, subjectArb, fc.boolean(), (p, s, nocase) => {
        assert.equal(stringMatch(p, s, nocase), redisReference(p, s, nocase), JSON.stringify([p, s, nocase]));
      }),
      { numRuns: 20000 },
    );
  });

  it('agrees with a regular-expression model for ?/* patterns', () => {
    const simple = fc.array(fc.constantFrom('a', 'b', '?', '*'), { maxLength: 8 }).map((a) => a.join(''));
    const subj = fc.array(fc.constantFrom('a', 'b'), { maxLength: 8 }).map((a) => a.join(''));
    fc.assert(
      fc.property(simple, subj, (p, s) => {
        assert.equal(stringMatch(p, s), regexModel(p, s), JSON.stringify([p, s]));
      }),
      { numRuns: 5000 },
    );
  });

  it('recognises the match-everything pattern', () => {
    assert.equal(matchesEverything('*'), true);
    assert.equal(matchesEverything('**'), false);
  });
});
