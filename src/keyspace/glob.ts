/**
 * Glob-style matching with Redis's exact semantics (util.c's stringmatchlen, 7.0.15), used by
 * KEYS, SCAN MATCH, pub/sub patterns and CONFIG GET.
 *
 *   *        any run of bytes (but see below: a pattern never matches the empty string by
 *            way of a star, exactly like Redis — KEYS and SCAN special-case the pattern "*")
 *   ?        any single byte
 *   [abc]    one byte from the set; `[^abc]` negates; `[a-z]` ranges (reversed bounds are
 *            swapped, bytes compare as signed chars as on x86); `\x` inside escapes x;
 *            an unterminated set ends at the end of the pattern
 *   \x       the byte x literally
 *
 * Redis 7.0.15 avoids exponential backtracking with its `skipLongerMatches` flag: once the
 * part of the pattern after a star fails to match at every remaining position, no earlier star
 * can help either. That makes its recursion equivalent to the classic iterative matcher that
 * backtracks only to the most recent star, which is what this is — same results (the tests
 * check it against a literal recursive port), but no recursion, so a pattern with 100k stars
 * cannot overflow the JS stack.
 *
 * Patterns and subjects are latin1 strings (one char per byte).
 */

const STAR = 42; // *
const QUESTION = 63; // ?
const OPEN = 91; // [
const CLOSE = 93; // ]
const BACKSLASH = 92; // \
const CARET = 94; // ^
const DASH = 45; // -

/** C's tolower() in the "C" locale on a (signed) char value. */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** A byte as a signed char (x86), as stringmatchlen's range test sees it. */
function signed(c: number): number {
  return c >= 128 ? c - 256 : c;
}

/** True if `str` matches the glob `pattern` (see the file comment). */
export function stringMatch(pattern: string, str: string, nocase = false): boolean {
  const plen = pattern.length;
  const slen = str.length;
  let p = 0;
  let s = 0;
  // The most recent star: pattern index just after it, and the string index it is trying.
  let starP = -1;
  let starS = 0;

  for (;;) {
    let failed = false;
    while (p < plen && s < slen) {
      const pc = pattern.charCodeAt(p);
      if (pc === STAR) {
        while (p + 1 < plen && pattern.charCodeAt(p + 1) === STAR) p++;
        if (p + 1 === plen) return true;
        starP = p + 1;
        starS = s;
        p = starP;
        continue;
      }
      if (pc === QUESTION) {
        s++;
      } else if (pc === OPEN) {
        p++;
        const not = p < plen && pattern.charCodeAt(p) === CARET;
        if (not) p++;
        const sc = str.charCodeAt(s);
        let match = false;
        for (;;) {
          if (p >= plen) {
            // Unterminated set: stop at the end of the pattern (the p++ below consumes it).
            p = plen - 1;
            break;
          }
          const c = pattern.charCodeAt(p);
          if (c === BACKSLASH && plen - p >= 2) {
            p++;
            if (pattern.charCodeAt(p) === sc) match = true;
          } else if (c === CLOSE) {
            break;
          } else if (plen - p >= 3 && pattern.charCodeAt(p + 1) === DASH) {
            let start = signed(c);
            let end = signed(pattern.charCodeAt(p + 2));
            let ch = signed(sc);
            if (start > end) {
              const t = start;
              start = end;
              end = t;
            }
            if (nocase) {
              start = lower(start);
              end = lower(end);
              ch = lower(ch);
            }
            p += 2;
            if (ch >= start && ch <= end) match = true;
          } else if (nocase ? lower(c) === lower(sc) : c === sc) {
            match = true;
          }
          p++;
        }
        if (not) match = !match;
        if (!match) {
          failed = true;
          break;
        }
        s++;
      } else {
        let want = pc;
        if (pc === BACKSLASH && plen - p >= 2) want = pattern.charCodeAt(++p);
        const sc = str.charCodeAt(s);
        if (nocase ? lower(want) !== lower(sc) : want !== sc) {
          failed = true;
          break;
        }
        s++;
      }
      p++;
      if (s === slen) {
        while (p < plen && pattern.charCodeAt(p) === STAR) p++;
        break;
      }
    }
    if (!failed && p === plen && s === slen) return true;
    // Mismatch: retry the most recent star one byte further along, if it has room.
    if (starP < 0) return false;
    starS++;
    if (starS >= slen) return false;
    p = starP;
    s = starS;
  }
}

/** True when the pattern matches every key (KEYS/SCAN skip matching for a lone "*"). */
export function matchesEverything(pattern: string): boolean {
  return pattern.length === 1 && pattern.charCodeAt(0) === STAR;
}
