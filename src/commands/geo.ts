/**
 * GEO commands (Redis's geo.c): GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO],
 * GEORADIUSBYMEMBER[_RO], GEOSEARCH and GEOSEARCHSTORE.
 *
 * A geo set is an ordinary sorted set whose scores are 52-bit interleaved geohashes
 * (types/geohash.ts). GEOADD is ZADD: like Redis, it rewrites its arguments into
 * `zadd key [NX|XX] [CH] score member …` and runs the ZADD handler, so the encoding rules,
 * replies, `zadd` keyspace event and the propagated command are ZADD's own. A search scans the
 * score ranges of the 9 cells around the centre, keeps the points inside the circle or box,
 * sorts them by distance (a stable sort, as glibc's qsort is; Redis's partial pqsort when COUNT
 * cuts the result) and replies or stores them.
 *
 * Every access to the sorted set goes through the small adapter below (scanScoreRange,
 * memberScore, newResultSet), so a change in how ZSet exposes its nodes touches only it.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { ZSet, NIL } from '../types/zset.js';
import { commands as zsetCommands, zsetLimits, parseScore } from './zsets.js';
import { is, parseInt64 } from '../protocol/args.js';
import { NOT_INTEGER, NOT_FLOAT, SYNTAX, WRONGTYPE } from '../protocol/errors.js';
import { formatHumanFriendly } from '../protocol/format.js';
import { longDoubleFromDouble } from '../types/long-double.js';
import {
  GEO_LAT_MAX,
  GEO_LAT_MIN,
  GEO_LONG_MAX,
  GEO_LONG_MIN,
  decodeScore,
  distance,
  distanceIfWithin,
  encodeScoreText,
  isZeroHash,
  scoresOfBox,
  searchCells,
  standardGeohash,
  type GeoShape,
} from '../types/geohash.js';

const UNSUPPORTED_UNIT = 'ERR unsupported unit provided. please use M, KM, FT, MI';
const CANNOT_DECODE_MEMBER = 'ERR could not decode requested zset member';

// ---- the sorted-set adapter -----------------------------------------------------------------------

/** Visits the members with min <= score < max in score order until `visit` returns false. */
function scanScoreRange(z: ZSet, min: number, max: number, visit: (member: string, score: number) => boolean): void {
  for (let n = z.firstInRange({ min, max, minex: false, maxex: true }); n !== NIL; n = z.next(n)) {
    const score = z.nodeScore(n);
    if (score >= max) return;
    if (!visit(z.member(n), score)) return;
  }
}

function memberScore(z: ZSet, member: string): number | undefined {
  return z.score(member);
}

/**
 * A stored search result: built as a skip list, then shrunk to a listpack when small enough
 * (zsetConvertToListpackIfNeeded), as georadiusGeneric does.
 */
function newResultSet(c: Client, entries: readonly (readonly [string, number])[]): ZSet {
  const z = new ZSet(false);
  for (const [member, score] of entries) {
    // A search never finds a member twice (Redis asserts it); the guard keeps the set sound.
    if (memberScore(z, member) === undefined) z.insertNew(member, score);
  }
  z.convertToCompactIfFits(zsetLimits(c));
  return z;
}

/** The sorted set at `key` for reading (undefined if missing); WRONGTYPE replied → null. */
function geoSetAt(c: Client, key: string): ZSet | undefined | null {
  const v = c.server.lookupRead(c.db, key);
  if (v === undefined) return undefined;
  if (v instanceof ZSet) return v;
  c.reply.error(WRONGTYPE);
  return null;
}

// ---- argument parsing -----------------------------------------------------------------------------

/** getDoubleFromObjectOrReply: Redis's strict double, with an optional custom message. */
function doubleArg(c: Client, s: string, msg?: string): number | null {
  const v = parseScore(s);
  if (v === null) c.reply.error(msg === undefined ? NOT_FLOAT : `ERR ${msg}`);
  return v;
}

/** C's `%.<digits>f` of a double, exactly (round half to even on the exact binary value). */
function formatFixed(d: number, digits: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  const ld = longDoubleFromDouble(d);
  const scale = 10n ** BigInt(digits);
  let r: bigint;
  if (ld.exp >= 0) {
    r = (ld.mant << BigInt(ld.exp)) * scale;
  } else {
    const num = ld.mant * scale;
    const sh = BigInt(-ld.exp);
    r = num >> sh;
    const rest = num & ((1n << sh) - 1n);
    const half = 1n << (sh - 1n);
    if (rest > half || (rest === half && (r & 1n) === 1n)) r += 1n;
  }
  const s = r.toString().padStart(digits + 1, '0');
  return `${ld.neg ? '-' : ''}${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
}

/** extractLongLatOrReply: longitude then latitude, both parsed before the range check. */
function lonLatArg(c: Client, lonArg: string, latArg: string): [number, number] | null {
  const lon = doubleArg(c, lonArg);
  if (lon === null) return null;
  const lat = doubleArg(c, latArg);
  if (lat === null) return null;
  if (lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX) {
    c.reply.error(`ERR invalid longitude,latitude pair ${formatFixed(lon, 6)},${formatFixed(lat, 6)}`);
    return null;
  }
  return [lon, lat];
}

/** extractUnitOrReply: meters per unit, or null after replying. */
function unitArg(c: Client, s: string): number | null {
  if (is(s, 'm')) return 1;
  if (is(s, 'km')) return 1000;
  if (is(s, 'ft')) return 0.3048;
  if (is(s, 'mi')) return 1609.34;
  c.reply.error(UNSUPPORTED_UNIT);
  return null;
}

/** extractDistanceOrReply: `<radius> <unit>`. */
function radiusArgs(c: Client, radiusArg: string, unit: string, shape: GeoShape): boolean {
  const radius = doubleArg(c, radiusArg, 'need numeric radius');
  if (radius === null) return false;
  if (radius < 0) {
    c.reply.error('ERR radius cannot be negative');
    return false;
  }
  shape.radius = radius;
  const conversion = unitArg(c, unit);
  if (conversion === null) return false;
  shape.conversion = conversion;
  return true;
}

/** extractBoxOrReply: `<width> <height> <unit>`. */
function boxArgs(c: Client, widthArg: string, heightArg: string, unit: string, shape: GeoShape): boolean {
  const width = doubleArg(c, widthArg, 'need numeric width');
  if (width === null) return false;
  const height = doubleArg(c, heightArg, 'need numeric height');
  if (height === null) return false;
  if (height < 0 || width < 0) {
    c.reply.error('ERR height or width cannot be negative');
    return false;
  }
  shape.width = width;
  shape.height = height;
  const conversion = unitArg(c, unit);
  if (conversion === null) return false;
  shape.conversion = conversion;
  return true;
}

/** longLatFromMember: a member's decoded position, or null when it is not in the set. */
function memberPosition(z: ZSet, member: string): [number, number] | null {
  const score = memberScore(z, member);
  if (score === undefined) return null;
  const xy = [0, 0];
  decodeScore(score, xy);
  return [xy[0]!, xy[1]!];
}

// ---- reply formatting -----------------------------------------------------------------------------

/** llrint: round to nearest, ties to even. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const diff = v - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** addReplyDoubleDistance: fixedpoint_d2string with 4 decimals ("0.7750"). */
export function formatDistance(d: number): string {
  if (d === 0) return '0.0000';
  const scaled = roundHalfEven(d * 10000);
  const negative = scaled < 0;
  const digits = String(Math.abs(scaled)).padStart(5, '0');
  return `${negative ? '-' : ''}${digits.slice(0, digits.length - 4)}.${digits.slice(digits.length - 4)}`;
}

/** addReplyHumanLongDouble: %.17Lf trimmed; a bulk string in RESP2, a RESP3 double otherwise. */
function replyCoordinate(c: Client, d: number): void {
  const text = formatHumanFriendly(d);
  if (c.reply.proto === 3) c.reply.rawString(`,${text}\r\n`);
  else c.reply.bulk(text);
}

// ---- GEOADD ---------------------------------------------------------------------------------------

/** GEOADD key [NX|XX] [CH] longitude latitude member [...]: rewritten into ZADD and run as it. */
function geoadd(c: Client): void {
  const argv = c.argv;
  let nx = false, xx = false;
  let longIdx = 2;
  for (; longIdx < argv.length; longIdx++) {
    const opt = argv[longIdx]!;
    if (is(opt, 'nx')) nx = true;
    else if (is(opt, 'xx')) xx = true;
    else if (!is(opt, 'ch')) break; // CH is ZADD's business
  }
  if ((argv.length - longIdx) % 3 !== 0 || (xx && nx)) return c.reply.error(SYNTAX);
  const zaddArgv = ['zadd', ...argv.slice(1, longIdx)];
  for (let i = longIdx; i < argv.length; i += 3) {
    const xy = lonLatArg(c, argv[i]!, argv[i + 1]!);
    if (xy === null) return;
    zaddArgv.push(encodeScoreText(xy[0], xy[1])!, argv[i + 2]!);
  }
  // replaceClientCommandVector + zaddCommand: ZADD's handler does the work and what propagates
  // is the ZADD (MONITOR and SLOWLOG still show the GEOADD, as in Redis).
  const entry = zsetCommands['zadd']!;
  const zadd = typeof entry === 'function' ? entry : entry.handler;
  const original = c.argv;
  c.argv = zaddArgv;
  try {
    zadd(c);
  } finally {
    c.argv = original;
  }
  c.propagateArgv = zaddArgv;
}

// ---- GEOHASH / GEOPOS / GEODIST ---------------------------------------------------------------------

function geohash(c: Client): void {
  const z = geoSetAt(c, c.argv[1]!);
  if (z === null) return;
  const argv = c.argv;
  c.reply.array(argv.length - 2);
  for (let j = 2; j < argv.length; j++) {
    const score = z === undefined ? undefined : memberScore(z, argv[j]!);
    if (score === undefined) c.reply.nullBulk();
    else c.reply.bulk(standardGeohash(score));
  }
}

function geopos(c: Client): void {
  const z = geoSetAt(c, c.argv[1]!);
  if (z === null) return;
  const argv = c.argv;
  c.reply.array(argv.length - 2);
  for (let j = 2; j < argv.length; j++) {
    const xy = z === undefined ? null : memberPosition(z, argv[j]!);
    if (xy === null) {
      c.reply.nullArray();
    } else {
      c.reply.array(2);
      replyCoordinate(c, xy[0]);
      replyCoordinate(c, xy[1]);
    }
  }
}

/** GEODIST key member1 member2 [unit]: the unit is checked before the key. */
function geodist(c: Client): void {
  const argv = c.argv;
  let toMeters = 1;
  if (argv.length === 5) {
    const u = unitArg(c, argv[4]!);
    if (u === null) return;
    toMeters = u;
  } else if (argv.length > 5) {
    return c.reply.error(SYNTAX);
  }
  const z = geoSetAt(c, argv[1]!);
  if (z === null) return;
  if (z === undefined) return c.reply.nullBulk();
  const a = memberPosition(z, argv[2]!);
  const b = a === null ? null : memberPosition(z, argv[3]!);
  if (a === null || b === null) return c.reply.nullBulk();
  c.reply.bulk(formatDistance(distance(a[0], a[1], b[0], b[1]) / toMeters));
}

// ---- the search -----------------------------------------------------------------------------------

/** A point found by a search (geoPoint). */
interface GeoPoint {
  member: string;
  score: number;
  longitude: number;
  latitude: number;
  /** Meters from the centre until the reply divides by the unit. */
  dist: number;
}

/**
 * membersOfAllNeighbors: scans the cells (skipping a cell equal to the last one scanned, which
 * happens with huge radiuses) and collects the points inside the shape; with `limit` (COUNT …
 * ANY) stops as soon as that many are found.
 */
function pointsInShape(z: ZSet, shape: GeoShape, limit: number): GeoPoint[] {
  const cells = searchCells(shape);
  const found: GeoPoint[] = [];
  const xy = new Float64Array(2);
  // Redis's last_processed starts at 0 and "0" also means "nothing yet": a neighbour equal to
  // the centre cell is therefore scanned again, as in Redis.
  let lastProcessed = 0;
  const visit = (member: string, score: number): boolean => {
    decodeScore(score, xy);
    const dist = distanceIfWithin(shape, xy[0]!, xy[1]!);
    if (dist >= 0) found.push({ member, score, longitude: xy[0]!, latitude: xy[1]!, dist });
    return !(found.length > 0 && limit > 0 && found.length >= limit);
  };
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    if (isZeroHash(cell)) continue;
    if (lastProcessed !== 0) {
      const last = cells[lastProcessed]!;
      if (cell.bits === last.bits && cell.step === last.step) continue;
    }
    if (found.length > 0 && limit > 0 && found.length >= limit) break;
    const { min, max } = scoresOfBox(cell);
    scanScoreRange(z, min, max, visit);
    lastProcessed = i;
  }
  return found;
}

function compareAsc(a: GeoPoint, b: GeoPoint): number {
  return a.dist > b.dist ? 1 : a.dist === b.dist ? 0 : -1;
}

function compareDesc(a: GeoPoint, b: GeoPoint): number {
  return -compareAsc(a, b);
}

/**
 * Redis's pqsort (Bentley & McIlroy quicksort that only recurses into partitions overlapping
 * [left, right]): used when COUNT keeps fewer points than were found, so that ties among the
 * kept points come out in the same order as in Redis.
 */
export function partialSort<T>(a: T[], cmp: (x: T, y: T) => number, left: number, right: number): void {
  const swap = (i: number, j: number): void => {
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  };
  const vecswap = (i: number, j: number, n: number): void => {
    for (let k = 0; k < n; k++) swap(i + k, j + k);
  };
  const med3 = (i: number, j: number, k: number): number =>
    cmp(a[i]!, a[j]!) < 0
      ? cmp(a[j]!, a[k]!) < 0 ? j : cmp(a[i]!, a[k]!) < 0 ? k : i
      : cmp(a[j]!, a[k]!) > 0 ? j : cmp(a[i]!, a[k]!) < 0 ? i : k;
  /** True when the element range [from, to] lies wholly on one side of [left, right]. */
  const outside = (from: number, to: number): boolean => (left < from && right < from) || (left > to && right > to);
  const sort = (base: number, n: number): void => {
    for (;;) {
      if (n < 7) {
        for (let pm = base + 1; pm < base + n; pm++) {
          for (let pl = pm; pl > base && cmp(a[pl - 1]!, a[pl]!) > 0; pl--) swap(pl, pl - 1);
        }
        return;
      }
      let pm = base + Math.floor(n / 2);
      if (n > 7) {
        let pl = base;
        let pn = base + n - 1;
        if (n > 40) {
          const d = Math.floor(n / 8);
          pl = med3(pl, pl + d, pl + 2 * d);
          pm = med3(pm - d, pm, pm + d);
          pn = med3(pn - 2 * d, pn - d, pn);
        }
        pm = med3(pl, pm, pn);
      }
      swap(base, pm);
      let pa = base + 1, pb = base + 1;
      let pc = base + n - 1, pd = base + n - 1;
      for (;;) {
        let r: number;
        while (pb <= pc && (r = cmp(a[pb]!, a[base]!)) <= 0) {
          if (r === 0) {
            swap(pa, pb);
            pa++;
          }
          pb++;
        }
        while (pb <= pc && (r = cmp(a[pc]!, a[base]!)) >= 0) {
          if (r === 0) {
            swap(pc, pd);
            pd--;
          }
          pc--;
        }
        if (pb > pc) break;
        swap(pb, pc);
        pb++;
        pc--;
      }
      const pn = base + n;
      let r = Math.min(pa - base, pb - pa);
      vecswap(base, pb - r, r);
      r = Math.min(pd - pc, pn - pd - 1);
      vecswap(pb, pn - r, r);
      r = pb - pa;
      if (r > 1 && !outside(base, base + r - 1)) sort(base, r);
      r = pd - pc;
      if (r <= 1) return;
      base = pn - r;
      n = r;
      if (outside(base, base + r - 1)) return;
    }
  };
  sort(0, a.length);
}

const RADIUS_COORDS = 1;
const RADIUS_MEMBER = 2;
const RADIUS_NOSTORE = 4;
const GEOSEARCH = 8;
const GEOSEARCHSTORE = 16;

type Sort = 'none' | 'asc' | 'desc';

/**
 * georadiusGeneric: GEORADIUS key lon lat radius unit …, GEORADIUSBYMEMBER key member radius
 * unit …, GEOSEARCH key FROMMEMBER|FROMLONLAT … BYRADIUS|BYBOX …, GEOSEARCHSTORE dst src ….
 * Argument checks run in Redis's order, so the first error reported is Redis's.
 */
function georadiusGeneric(c: Client, srcKeyIndex: number, flags: number): void {
  const argv = c.argv;
  let storeKey: string | null = null;
  let storeDist = false;
  const z = geoSetAt(c, argv[srcKeyIndex]!);
  if (z === null) return;

  const shape: GeoShape = { kind: 'radius', longitude: 0, latitude: 0, conversion: 1, radius: 0, width: 0, height: 0 };
  let baseArgs: number;
  if (flags & RADIUS_COORDS) {
    baseArgs = 6;
    const xy = lonLatArg(c, argv[2]!, argv[3]!);
    if (xy === null) return;
    [shape.longitude, shape.latitude] = xy;
    if (!radiusArgs(c, argv[4]!, argv[5]!, shape)) return;
  } else if (flags & RADIUS_MEMBER) {
    baseArgs = 5;
    // Without a source key the member and radius are not looked at: the reply is empty anyway.
    if (z !== undefined) {
      const xy = memberPosition(z, argv[2]!);
      if (xy === null) return c.reply.error(CANNOT_DECODE_MEMBER);
      [shape.longitude, shape.latitude] = xy;
      if (!radiusArgs(c, argv[3]!, argv[4]!, shape)) return;
    }
  } else {
    baseArgs = 2;
    if (flags & GEOSEARCHSTORE) {
      baseArgs = 3;
      storeKey = argv[1]!;
    }
  }

  let withDist = false, withHash = false, withCoords = false;
  let fromMember = false, fromLonLat = false, byRadius = false, byBox = false;
  let sort: Sort = 'none';
  let any = false;
  let count = 0;
  const remaining = argv.length - baseArgs;
  for (let i = 0; i < remaining; i++) {
    const arg = argv[baseArgs + i]!;
    const next = (k: number): string => argv[baseArgs + i + k]!;
    if (is(arg, 'withdist')) {
      withDist = true;
    } else if (is(arg, 'withhash')) {
      withHash = true;
    } else if (is(arg, 'withcoord')) {
      withCoords = true;
    } else if (is(arg, 'any')) {
      any = true;
    } else if (is(arg, 'asc')) {
      sort = 'asc';
    } else if (is(arg, 'desc')) {
      sort = 'desc';
    } else if (is(arg, 'count') && i + 1 < remaining) {
      const n = parseInt64(next(1));
      if (n === null) return c.reply.error(NOT_INTEGER);
      if (n <= 0n) return c.reply.error('ERR COUNT must be > 0');
      count = Number(n);
      i++;
    } else if (is(arg, 'store') && i + 1 < remaining && !(flags & RADIUS_NOSTORE) && !(flags & GEOSEARCH)) {
      storeKey = next(1);
      storeDist = false;
      i++;
    } else if (is(arg, 'storedist') && i + 1 < remaining && !(flags & RADIUS_NOSTORE) && !(flags & GEOSEARCH)) {
      storeKey = next(1);
      storeDist = true;
      i++;
    } else if (is(arg, 'storedist') && flags & GEOSEARCH && flags & GEOSEARCHSTORE) {
      storeDist = true;
    } else if (is(arg, 'frommember') && i + 1 < remaining && flags & GEOSEARCH && !fromLonLat) {
      // Without a source key parsing goes on, and the empty reply comes at the end.
      if (z !== undefined) {
        const xy = memberPosition(z, next(1));
        if (xy === null) return c.reply.error(CANNOT_DECODE_MEMBER);
        [shape.longitude, shape.latitude] = xy;
      }
      fromMember = true;
      i++;
    } else if (is(arg, 'fromlonlat') && i + 2 < remaining && flags & GEOSEARCH && !fromMember) {
      const xy = lonLatArg(c, next(1), next(2));
      if (xy === null) return;
      [shape.longitude, shape.latitude] = xy;
      fromLonLat = true;
      i += 2;
    } else if (is(arg, 'byradius') && i + 2 < remaining && flags & GEOSEARCH && !byBox) {
      if (!radiusArgs(c, next(1), next(2), shape)) return;
      shape.kind = 'radius';
      byRadius = true;
      i += 2;
    } else if (is(arg, 'bybox') && i + 3 < remaining && flags & GEOSEARCH && !byRadius) {
      if (!boxArgs(c, next(1), next(2), next(3), shape)) return;
      shape.kind = 'box';
      byBox = true;
      i += 3;
    } else {
      return c.reply.error(SYNTAX);
    }
  }

  if (storeKey !== null && (withDist || withHash || withCoords)) {
    const what = flags & GEOSEARCHSTORE ? 'GEOSEARCHSTORE' : 'STORE option in GEORADIUS';
    return c.reply.error(`ERR ${what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options`);
  }
  if (flags & GEOSEARCH && !(fromMember || fromLonLat)) {
    return c.reply.error(`ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for ${argv[0]}`);
  }
  if (flags & GEOSEARCH && !(byRadius || byBox)) {
    return c.reply.error(`ERR exactly one of BYRADIUS and BYBOX can be specified for ${argv[0]}`);
  }
  if (any && count === 0) return c.reply.error('ERR the ANY argument requires COUNT argument');

  if (z === undefined) {
    if (storeKey !== null) {
      if (c.db.delete(storeKey)) c.db.modified(storeKey, 'g', 'del');
      c.reply.zero();
    } else {
      c.reply.emptyArray();
    }
    return;
  }

  // COUNT without an order means "the closest N".
  if (count !== 0 && sort === 'none' && !any) sort = 'asc';

  const points = pointsInShape(z, shape, any ? count : 0);
  if (points.length === 0 && storeKey === null) return c.reply.emptyArray();

  const returned = count === 0 || points.length < count ? points.length : count;
  if (sort !== 'none') {
    const cmp = sort === 'asc' ? compareAsc : compareDesc;
    if (returned === points.length) points.sort(cmp);
    else partialSort(points, cmp, 0, returned - 1);
  }

  if (storeKey === null) {
    const r = c.reply;
    const options = (withDist ? 1 : 0) + (withCoords ? 1 : 0) + (withHash ? 1 : 0);
    r.array(returned);
    for (let i = 0; i < returned; i++) {
      const p = points[i]!;
      if (options > 0) r.array(options + 1);
      r.bulk(p.member);
      if (withDist) r.bulk(formatDistance(p.dist / shape.conversion));
      if (withHash) r.integer(Math.trunc(p.score));
      if (withCoords) {
        r.array(2);
        replyCoordinate(c, p.longitude);
        replyCoordinate(c, p.latitude);
      }
    }
    return;
  }

  if (returned > 0) {
    const entries: (readonly [string, number])[] = [];
    for (let i = 0; i < returned; i++) {
      const p = points[i]!;
      entries.push([p.member, storeDist ? p.dist / shape.conversion : p.score]);
    }
    const result = newResultSet(c, entries);
    c.db.set(storeKey, result);
    c.db.modified(storeKey, 'z', flags & GEOSEARCH ? 'geosearchstore' : 'georadiusstore', returned);
  } else if (c.db.delete(storeKey)) {
    c.db.modified(storeKey, 'g', 'del');
  }
  c.reply.integer(returned);
}

export const commands: CommandHandlers = {
  geoadd,
  geohash,
  geopos,
  geodist,
  georadius: (c) => georadiusGeneric(c, 1, RADIUS_COORDS),
  georadiusbymember: (c) => georadiusGeneric(c, 1, RADIUS_MEMBER),
  georadius_ro: (c) => georadiusGeneric(c, 1, RADIUS_COORDS | RADIUS_NOSTORE),
  georadiusbymember_ro: (c) => georadiusGeneric(c, 1, RADIUS_MEMBER | RADIUS_NOSTORE),
  geosearch: (c) => georadiusGeneric(c, 1, GEOSEARCH),
  geosearchstore: (c) => georadiusGeneric(c, 2, GEOSEARCH | GEOSEARCHSTORE),
};
