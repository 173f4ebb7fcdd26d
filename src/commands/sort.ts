/**
 * SORT and SORT_RO (Redis's sort.c): sort a list, set or sorted set numerically or ALPHA,
 * optionally BY weights read from other keys (`weight_*`, or hash fields `obj_*->field`), with
 * LIMIT, ASC/DESC, GET projections and STORE into a list.
 *
 * Ordering follows Redis: numeric sort compares doubles and breaks ties by the element's bytes
 * (so results are deterministic); ALPHA compares bytes (Redis uses strcoll, which is byte order
 * in the C locale servers run in); BY with a constant pattern skips sorting and keeps the
 * native order — except for a set with STORE or inside a script, where Redis forces ALPHA so
 * replicas and the AOF see the same result. JS's sort is stable, like glibc's merge-based qsort.
 * SORT on a sorted set turns it into the skiplist encoding, as Redis's zsetConvert does.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { is, parseDouble, parseInteger } from '../protocol/args.js';
import { NOT_INTEGER, SYNTAX, WRONGTYPE } from '../protocol/errors.js';
import { ListValue } from '../types/list.js';
import { SetValue } from '../types/set.js';
import { HashValue } from '../types/hash.js';
import { ZSet, NIL } from '../types/zset.js';
import { isStringValue, stringOf } from '../types/value.js';
import { aclOf } from '../server/acl.js';
import { scriptingIfCreated } from '../scripting/engine.js';

const NOT_DOUBLE = "ERR One or more scores can't be converted into double";

/** One element being sorted, with its weight (numeric) or comparison string (ALPHA BY). */
interface SortItem {
  value: string;
  score: number;
  cmp: string | null;
}

/**
 * lookupKeyByPattern: `#` is the element itself; otherwise the first `*` is replaced by the
 * element and the key read as a string, or as a hash field after `->`. Null when there is no
 * `*`, the key is missing, or it has the wrong type.
 */
function lookupByPattern(c: Client, pattern: string, subst: string): string | number | null {
  if (pattern === '#') return subst;
  const star = pattern.indexOf('*');
  if (star < 0) return null;
  const arrow = pattern.indexOf('->', star + 1);
  const hasField = arrow >= 0 && arrow + 2 < pattern.length;
  const keyEnd = hasField ? arrow : pattern.length;
  const key = pattern.slice(0, star) + subst + pattern.slice(star + 1, keyEnd);
  const v = c.server.lookupRead(c.db, key);
  if (v === undefined) return null;
  if (hasField) {
    if (!(v instanceof HashValue)) return null;
    return v.get(pattern.slice(arrow + 2)) ?? null;
  }
  if (!isStringValue(v)) return null;
  return typeof v === 'number' ? v : stringOf(v);
}

/** strtod as SORT uses it: leading space allowed, whole string, no NaN, no overflow. */
function sortWeight(s: string): number | null {
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) === 32 || (s.charCodeAt(i) >= 9 && s.charCodeAt(i) <= 13))) i++;
  if (i === s.length) return i === 0 ? 0 : null;
  const body = s.slice(i);
  const v = parseDouble(body);
  if (v === null) return null;
  if (!Number.isFinite(v) && !/inf/i.test(body)) return null;
  return v;
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * BY and GET name keys by the sorted data, beyond what any key spec declares, so Redis allows
 * them only to a user that may read every key. A script's command runs as its caller's user.
 */
function readsEveryKey(c: Client): boolean {
  const user = c.fake ? (scriptingIfCreated(c.server)?.run?.caller ?? c) : c;
  return aclOf(c.server).readsEveryKey(user, c.cmd!, c.argv);
}

function sortGeneric(c: Client, readonly: boolean): void {
  const argv = c.argv;
  let fullKeyAccess: boolean | null = null;
  const mayUsePatterns = (): boolean => (fullKeyAccess ??= readsEveryKey(c));
  let desc = false;
  let alpha = false;
  let limitStart = 0;
  let limitCount = -1;
  let storeKey: string | null = null;
  let sortBy: string | null = null;
  let dontSort = false;
  const gets: string[] = [];
  for (let j = 2; j < argv.length; j++) {
    const left = argv.length - j - 1;
    const a = argv[j]!;
    if (is(a, 'asc')) desc = false;
    else if (is(a, 'desc')) desc = true;
    else if (is(a, 'alpha')) alpha = true;
    else if (is(a, 'limit') && left >= 2) {
      const s = parseInteger(argv[j + 1]!);
      const n = s === null ? null : parseInteger(argv[j + 2]!);
      if (s === null || n === null) return c.reply.error(NOT_INTEGER);
      limitStart = s;
      limitCount = n;
      j += 2;
    } else if (!readonly && is(a, 'store') && left >= 1) {
      storeKey = argv[++j]!;
    } else if (is(a, 'by') && left >= 1) {
      sortBy = argv[++j]!;
      if (!sortBy.includes('*')) dontSort = true;
      else if (!mayUsePatterns()) return c.reply.error('ERR BY option of SORT denied due to insufficient ACL permissions.');
    } else if (is(a, 'get') && left >= 1) {
      if (!mayUsePatterns()) return c.reply.error('ERR GET option of SORT denied due to insufficient ACL permissions.');
      gets.push(argv[++j]!);
    } else {
      return c.reply.error(SYNTAX);
    }
  }
  const sortVal = c.server.lookupRead(c.db, argv[1]!);
  if (sortVal !== undefined && !(sortVal instanceof ListValue) && !(sortVal instanceof SetValue) && !(sortVal instanceof ZSet)) {
    return c.reply.error(WRONGTYPE);
  }
  // Sets have no stable order: sort them when the result is replicated (STORE) or scripted.
  if (dontSort && sortVal instanceof SetValue && (storeKey !== null || c.fake)) {
    dontSort = false;
    alpha = true;
    sortBy = null;
  }
  if (sortVal instanceof ZSet) sortVal.setCompact(false);
  let vectorLen = sortVal === undefined ? 0 : sortVal.size();
  let start = Math.min(Math.max(limitStart, 0), vectorLen);
  limitCount = Math.min(Math.max(limitCount, -1), vectorLen);
  let end = limitCount < 0 ? vectorLen - 1 : start + limitCount - 1;
  if (start >= vectorLen) {
    start = vectorLen - 1;
    end = vectorLen - 2;
  }
  if (end >= vectorLen) end = vectorLen - 1;

  const items: SortItem[] = [];
  const push = (value: string): void => {
    items.push({ value, score: 0, cmp: null });
  };
  if (sortVal instanceof ListValue && dontSort) {
    // Native order (reversed for DESC), only the LIMIT window.
    if (end >= start) {
      const len = sortVal.size();
      for (let k = 0; k < end - start + 1; k++) {
        const idx = desc ? len - start - 1 - k : start + k;
        if (idx < 0 || idx >= len) break;
        push(sortVal.get(idx));
      }
      end -= start;
      start = 0;
    }
  } else if (sortVal instanceof ListValue) {
    for (const v of sortVal.toArray()) push(v);
  } else if (sortVal instanceof SetValue) {
    for (const v of sortVal.values()) push(v);
  } else if (sortVal instanceof ZSet && dontSort) {
    if (end >= start) {
      let n = desc ? sortVal.at(vectorLen - 1 - start) : sortVal.at(start);
      for (let k = end - start + 1; k > 0 && n !== NIL; k--) {
        push(sortVal.member(n));
        n = desc ? sortVal.prev(n) : sortVal.next(n);
      }
    }
    end -= start;
    start = 0;
  } else if (sortVal instanceof ZSet) {
    // Redis loads these from the member dict: insertion order, like our Map.
    for (const m of sortVal.members()) push(m);
  }
  vectorLen = items.length;

  let conversionError = false;
  if (!dontSort) {
    for (const item of items) {
      let by: string | number | null;
      if (sortBy !== null) {
        by = lookupByPattern(c, sortBy, item.value);
        if (by === null) continue;
      } else {
        by = item.value;
      }
      if (alpha) {
        if (sortBy !== null) item.cmp = String(by);
      } else if (typeof by === 'number') {
        item.score = by;
      } else {
        const w = sortWeight(by);
        if (w === null) conversionError = true;
        else item.score = w;
      }
    }
    const byPattern = sortBy !== null;
    items.sort((x, y) => {
      let r: number;
      if (!alpha) {
        r = x.score > y.score ? 1 : x.score < y.score ? -1 : compareBytes(x.value, y.value);
      } else if (byPattern) {
        if (x.cmp === null || y.cmp === null) r = x.cmp === y.cmp ? 0 : x.cmp === null ? -1 : 1;
        else r = compareBytes(x.cmp, y.cmp);
      } else {
        r = compareBytes(x.value, y.value);
      }
      return desc ? -r : r;
    });
  }

  const count = Math.max(0, end - start + 1);
  const outputLen = gets.length > 0 ? gets.length * count : count;
  if (conversionError) return c.reply.error(NOT_DOUBLE);
  if (storeKey === null) {
    const r = c.reply;
    r.array(outputLen);
    for (let j = start; j <= end; j++) {
      const v = items[j]!.value;
      if (gets.length === 0) r.bulk(v);
      for (const g of gets) {
        const got = lookupByPattern(c, g, v);
        if (got === null) r.nullBulk();
        else if (typeof got === 'number') r.bulkInteger(got);
        else r.bulk(got);
      }
    }
    return;
  }
  const list = new ListValue();
  for (let j = start; j <= end; j++) {
    const v = items[j]!.value;
    if (gets.length === 0) list.pushTail(v);
    for (const g of gets) {
      const got = lookupByPattern(c, g, v);
      list.pushTail(got === null ? '' : String(got));
    }
  }
  const db = c.db;
  if (outputLen > 0) {
    db.set(storeKey, list);
    db.modified(storeKey, 'l', 'sortstore', outputLen);
  } else if (db.delete(storeKey)) {
    db.modified(storeKey, 'g', 'del');
  }
  c.reply.integer(outputLen);
}

/**
 * SORT's keys for COMMAND GETKEYS and ACL (db.c sortGetKeys): the sorted key and the last
 * STORE destination; the arguments of LIMIT/GET/BY are skipped so they are never taken for it.
 */
function sortKeys(argv: readonly string[]): number[] {
  const skip: Record<string, number> = { limit: 2, get: 1, by: 1 };
  let store = -1;
  for (let j = 2; j < argv.length; j++) {
    const a = argv[j]!.toLowerCase();
    const n = skip[a];
    if (n !== undefined) j += n;
    else if (a === 'store' && j + 1 < argv.length) store = j + 1;
  }
  return store < 0 ? [1] : [1, store];
}

export const commands: CommandHandlers = {
  sort: { handler: (c) => sortGeneric(c, false), getKeys: sortKeys },
  sort_ro: (c) => sortGeneric(c, true),
};
