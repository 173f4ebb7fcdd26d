/**
 * sds.c sdssplitargs(): how redis-cli splits a typed line into arguments.
 *
 * Works on latin1 strings (one char per byte). "double quotes" understand \n \r \t \b \a, \xHH
 * and backslash-anything; 'single quotes' only \'. A closing quote must be followed by a space
 * or the end of the line. Returns null on unbalanced quotes (redis-cli: "Invalid argument(s)").
 */

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\v' || c === '\f';
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);

export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let p = 0;
  const n = line.length;
  // sdssplitargs works on C strings: input ends at the first NUL.
  const at = (i: number): string | undefined => (i < n && line[i] !== '\0' ? line[i] : undefined);
  for (;;) {
    while (at(p) !== undefined && isSpace(at(p))) p++;
    if (at(p) === undefined) return out;
    let inq = false;
    let insq = false;
    let done = false;
    let current = '';
    while (!done) {
      const c = at(p);
      if (inq) {
        if (c === '\\' && at(p + 1) === 'x' && isHex(at(p + 2)) && isHex(at(p + 3))) {
          current += String.fromCharCode(parseInt(at(p + 2)! + at(p + 3)!, 16));
          p += 3;
        } else if (c === '\\' && at(p + 1) !== undefined) {
          p++;
          const e = at(p)!;
          current += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (c === '"') {
          if (at(p + 1) !== undefined && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === undefined) {
          return null;
        } else {
          current += c;
        }
      } else if (insq) {
        if (c === '\\' && at(p + 1) === "'") {
          p++;
          current += "'";
        } else if (c === "'") {
          if (at(p + 1) !== undefined && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === undefined) {
          return null;
        } else {
          current += c;
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case undefined:
            done = true;
            break;
          case '"':
            inq = true;
            break;
          case "'":
            insq = true;
            break;
          default:
            current += c;
        }
      }
      if (at(p) !== undefined) p++;
    }
    out.push(current);
  }
}
