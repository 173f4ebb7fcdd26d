/**
 * The geohash arithmetic behind the GEO commands, as Redis 7.0.15 does it (geohash.c,
 * geohash_helper.c): no protocol and no data structures here, only numbers.
 *
 * A position is stored as a sorted-set score: longitude and latitude are each scaled to a 26-bit
 * cell index over [-180, 180] and [-85.05112878, 85.05112878] (the Web Mercator limits), and
 * the two indexes are interleaved bit by bit (latitude in the even bits, longitude in the odd)
 * into a 52-bit integer, which a double holds exactly. Interleaving makes nearby cells share
 * score prefixes, so the cells of a coarser "step" are contiguous score ranges: a radius or box
 * search picks a step from the radius, takes the cell around the centre plus its 8 neighbours,
 * scans each cell's score range and keeps the points the distance check accepts.
 *
 * Every operation follows Redis's own order of floating-point operations, since results that
 * land on a boundary (a point exactly at the radius, a distance printed to 4 decimals) must come
 * out the same. Hot paths (encoding a GEOADD position, decoding a scanned score) stay on 32-bit
 * halves in plain numbers; the per-query cell arithmetic uses BigInt for the 64-bit masks.
 */

/** Bits per coordinate at full precision (26 * 2 = 52 bits of score). */
export const GEO_STEP_MAX = 26;
export const GEO_LAT_MIN = -85.05112878;
export const GEO_LAT_MAX = 85.05112878;
export const GEO_LONG_MIN = -180;
export const GEO_LONG_MAX = 180;
/** Earth's quadratic mean radius for WGS-84, as Redis uses it for every distance. */
export const EARTH_RADIUS_IN_METERS = 6372797.560856;
const MERCATOR_MAX = 20037726.37;
const D_R = Math.PI / 180.0;

const TWO_32 = 4294967296;
const TWO_63 = 9223372036854775808;
const TWO_53 = 9007199254740992;

/** A cell: `step` bits per coordinate, interleaved into `bits` (2 * step bits, or more at the edges). */
export interface GeoHashBits {
  bits: bigint;
  step: number;
}

export interface GeoHashRange {
  min: number;
  max: number;
}

/** The longitude/latitude rectangle a cell covers. */
export interface GeoHashArea {
  hash: GeoHashBits;
  longitude: GeoHashRange;
  latitude: GeoHashRange;
}

export interface GeoHashNeighbors {
  north: GeoHashBits;
  east: GeoHashBits;
  west: GeoHashBits;
  south: GeoHashBits;
  northEast: GeoHashBits;
  southEast: GeoHashBits;
  northWest: GeoHashBits;
  southWest: GeoHashBits;
}

/** The ranges Redis indexes (EPSG:900913): no poles. */
export const WGS84_LONG_RANGE: GeoHashRange = { min: GEO_LONG_MIN, max: GEO_LONG_MAX };
export const WGS84_LAT_RANGE: GeoHashRange = { min: GEO_LAT_MIN, max: GEO_LAT_MAX };
/** The standard geohash ranges (GEOHASH re-encodes into these). */
export const STANDARD_LAT_RANGE: GeoHashRange = { min: -90, max: 90 };

// ---- bit interleaving over 32-bit halves ----------------------------------------------------------

/** Spreads the low 16 bits of v to the even bit positions of a 32-bit word. */
function spread16(v: number): number {
  v &= 0xffff;
  v = (v | (v << 8)) & 0x00ff00ff;
  v = (v | (v << 4)) & 0x0f0f0f0f;
  v = (v | (v << 2)) & 0x33333333;
  v = (v | (v << 1)) & 0x55555555;
  return v >>> 0;
}

/** Gathers the even bits of a 32-bit word into 16 bits (the inverse of spread16). */
function compact16(w: number): number {
  w &= 0x55555555;
  w = (w | (w >>> 1)) & 0x33333333;
  w = (w | (w >>> 2)) & 0x0f0f0f0f;
  w = (w | (w >>> 4)) & 0x00ff00ff;
  w = (w | (w >>> 8)) & 0x0000ffff;
  return w;
}

/** interleave64: x (uint32) to the even bits, y (uint32) to the odd bits; as [hi, lo] words. */
function interleave(x: number, y: number, out: Uint32Array): void {
  out[1] = spread16(x) | (spread16(y) << 1);
  out[0] = spread16(x >>> 16) | (spread16(y >>> 16) << 1);
}

const words = new Uint32Array(2);

function wordsToBigInt(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

// ---- encoding ---------------------------------------------------------------------------------------

/**
 * geohashEncode: the cell of `step` bits per coordinate holding the point, or null when the point
 * is outside the indexable area or the given ranges.
 */
export function encode(longRange: GeoHashRange, latRange: GeoHashRange, longitude: number, latitude: number, step: number): GeoHashBits | null {
  if (!encodeWords(longRange, latRange, longitude, latitude, step)) return null;
  return { bits: wordsToBigInt(words[0]!, words[1]!), step };
}

function encodeWords(longRange: GeoHashRange, latRange: GeoHashRange, longitude: number, latitude: number, step: number): boolean {
  if (step > 32 || step === 0) return false;
  if (longitude > GEO_LONG_MAX || longitude < GEO_LONG_MIN || latitude > GEO_LAT_MAX || latitude < GEO_LAT_MIN) return false;
  if (latitude < latRange.min || latitude > latRange.max || longitude < longRange.min || longitude > longRange.max) return false;
  let latOffset = (latitude - latRange.min) / (latRange.max - latRange.min);
  let longOffset = (longitude - longRange.min) / (longRange.max - longRange.min);
  const scale = 2 ** step;
  latOffset *= scale;
  longOffset *= scale;
  // C converts the offsets to uint32_t: truncation (they are within [0, 2^step]).
  interleave(latOffset >>> 0, longOffset >>> 0, words);
  return true;
}

/**
 * The score GEOADD stores for a position (geohashEncodeWGS84 at step 26, aligned to 52 bits), as
 * the exact decimal integer Redis writes into the rewritten ZADD. Null when out of range.
 */
export function encodeScoreText(longitude: number, latitude: number): string | null {
  if (!encodeWords(WGS84_LONG_RANGE, WGS84_LAT_RANGE, longitude, latitude, GEO_STEP_MAX)) return null;
  const hi = words[0]!, lo = words[1]!;
  const value = hi * TWO_32 + lo;
  // Beyond 2^53 (only a point exactly on the east or north edge) the double is not exact.
  return value <= TWO_53 ? String(value) : wordsToBigInt(hi, lo).toString();
}

/** The score as a number (what ZADD stores after parsing encodeScoreText's string). */
export function encodeScore(longitude: number, latitude: number): number | null {
  if (!encodeWords(WGS84_LONG_RANGE, WGS84_LAT_RANGE, longitude, latitude, GEO_STEP_MAX)) return null;
  return words[0]! * TWO_32 + words[1]!;
}

/** geohashAlign52Bits: the cell's bits as the first score of its range. */
export function align52Bits(hash: GeoHashBits): bigint {
  return BigInt.asUintN(64, hash.bits << BigInt(52 - hash.step * 2));
}

/** scoresOfGeoHashBox: the score range [min, max) holding every point of a cell. */
export function scoresOfBox(hash: GeoHashBits): { min: number; max: number } {
  const min = Number(align52Bits(hash));
  const max = Number(align52Bits({ bits: BigInt.asUintN(64, hash.bits + 1n), step: hash.step }));
  return { min, max };
}

// ---- decoding ---------------------------------------------------------------------------------------

/**
 * `(uint64_t)score` as x86-64 code compiled by GCC computes it, split into [hi, lo] words:
 * truncation; negative values wrap (two's complement); values beyond the int64 range (and the
 * infinities) give cvttsd2si's "integer indefinite" 2^63, or 0 above 2^64.
 */
function scoreToWords(score: number, out: Uint32Array): void {
  if (score >= TWO_63) {
    const t = score - TWO_63;
    if (t >= TWO_63) {
      out[0] = 0;
      out[1] = 0;
      return;
    }
    const hi = Math.floor(t / TWO_32);
    out[0] = (hi + 0x80000000) >>> 0;
    out[1] = t - hi * TWO_32;
    return;
  }
  if (!(score >= -TWO_63)) {
    out[0] = 0x80000000;
    out[1] = 0;
    return;
  }
  const t = Math.trunc(score);
  if (t >= 0) {
    const hi = Math.floor(t / TWO_32);
    out[0] = hi;
    out[1] = t - hi * TWO_32;
    return;
  }
  const a = -t;
  const ahi = Math.floor(a / TWO_32);
  const alo = a - ahi * TWO_32;
  if (alo === 0) {
    out[0] = (TWO_32 - ahi) >>> 0;
    out[1] = 0;
  } else {
    out[0] = (TWO_32 - 1 - ahi) >>> 0;
    out[1] = TWO_32 - alo;
  }
}

/**
 * geohashDecode over [hi, lo] words: the cell's rectangle. `ilato + 1` wraps as uint32 does.
 * Writes [lonMin, lonMax, latMin, latMax].
 */
function decodeWords(hi: number, lo: number, step: number, longRange: GeoHashRange, latRange: GeoHashRange, out: Float64Array): void {
  const ilato = (compact16(lo) | (compact16(hi) << 16)) >>> 0;
  const ilono = (compact16(lo >>> 1) | (compact16(hi >>> 1) << 16)) >>> 0;
  const latScale = latRange.max - latRange.min;
  const longScale = longRange.max - longRange.min;
  const cells = 2 ** step;
  out[2] = latRange.min + ((ilato * 1.0) / cells) * latScale;
  out[3] = latRange.min + ((((ilato + 1) >>> 0) * 1.0) / cells) * latScale;
  out[0] = longRange.min + ((ilono * 1.0) / cells) * longScale;
  out[1] = longRange.min + ((((ilono + 1) >>> 0) * 1.0) / cells) * longScale;
}

const box = new Float64Array(4);

/** geohashDecode: the rectangle of a cell (null for the all-zero "no cell" value). */
export function decodeArea(hash: GeoHashBits, longRange: GeoHashRange = WGS84_LONG_RANGE, latRange: GeoHashRange = WGS84_LAT_RANGE): GeoHashArea | null {
  if (hash.bits === 0n && hash.step === 0) return null;
  const hi = Number((hash.bits >> 32n) & 0xffffffffn);
  const lo = Number(hash.bits & 0xffffffffn);
  decodeWords(hi, lo, hash.step, longRange, latRange, box);
  return {
    hash,
    longitude: { min: box[0]!, max: box[1]! },
    latitude: { min: box[2]!, max: box[3]! },
  };
}

/**
 * decodeGeohash: a stored score back to the centre of its 52-bit cell, clamped to the indexable
 * area; writes [longitude, latitude] into `xy`. Any score decodes (Redis never fails here).
 */
export function decodeScore(score: number, xy: Float64Array | number[]): void {
  scoreToWords(score, words);
  decodeWords(words[0]!, words[1]!, GEO_STEP_MAX, WGS84_LONG_RANGE, WGS84_LAT_RANGE, box);
  let lon = (box[0]! + box[1]!) / 2;
  if (lon > GEO_LONG_MAX) lon = GEO_LONG_MAX;
  if (lon < GEO_LONG_MIN) lon = GEO_LONG_MIN;
  let lat = (box[2]! + box[3]!) / 2;
  if (lat > GEO_LAT_MAX) lat = GEO_LAT_MAX;
  if (lat < GEO_LAT_MIN) lat = GEO_LAT_MIN;
  xy[0] = lon;
  xy[1] = lat;
}

const GEO_ALPHABET = '0123456789bcdefghjkmnpqrstuvwxyz';

/**
 * GEOHASH's string for a stored score: decode, re-encode with the standard latitude range
 * [-90, 90] at 26 steps, and spell 10 base32 characters plus an 11th that is always '0'.
 */
export function standardGeohash(score: number): string {
  const xy = new Float64Array(2);
  decodeScore(score, xy);
  const hash = encode(WGS84_LONG_RANGE, STANDARD_LAT_RANGE, xy[0]!, xy[1]!, GEO_STEP_MAX);
  const bits = hash === null ? 0n : hash.bits;
  let out = '';
  for (let i = 0; i < 10; i++) out += GEO_ALPHABET[Number((bits >> BigInt(52 - (i + 1) * 5)) & 0x1fn)];
  return out + GEO_ALPHABET[0];
}

// ---- neighbours -------------------------------------------------------------------------------------

const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const ODD_BITS = 0xaaaaaaaaaaaaaaaan;
const EVEN_BITS = 0x5555555555555555n;

/**
 * geohash_move_x / geohash_move_y: one cell along an axis, wrapping around. Longitude bits sit
 * at the odd positions, latitude bits at the even ones; `d` > 0 moves east/north, < 0 west/south.
 */
function move(hash: GeoHashBits, d: number, axis: bigint, other: bigint): GeoHashBits {
  if (d === 0) return hash;
  const shift = BigInt(64 - hash.step * 2);
  let moving = hash.bits & axis;
  const fixed = hash.bits & other;
  const zz = other >> shift;
  if (d > 0) moving = U64(moving + (zz + 1n));
  else moving = U64((moving | zz) - (zz + 1n));
  moving &= axis >> shift;
  return { bits: moving | fixed, step: hash.step };
}

const moveX = (hash: GeoHashBits, d: number): GeoHashBits => move(hash, d, ODD_BITS, EVEN_BITS);
const moveY = (hash: GeoHashBits, d: number): GeoHashBits => move(hash, d, EVEN_BITS, ODD_BITS);

/** geohashNeighbors: the 8 cells around one, at the same step. */
export function neighbors(hash: GeoHashBits): GeoHashNeighbors {
  return {
    east: moveX(hash, 1),
    west: moveX(hash, -1),
    south: moveY(hash, -1),
    north: moveY(hash, 1),
    northWest: moveY(moveX(hash, -1), 1),
    northEast: moveY(moveX(hash, 1), 1),
    southEast: moveY(moveX(hash, 1), -1),
    southWest: moveY(moveX(hash, -1), -1),
  };
}

// ---- distances ----------------------------------------------------------------------------------------

const degRad = (ang: number): number => ang * D_R;
const radDeg = (ang: number): number => ang / D_R;

/** geohashGetLatDistance: the north-south distance between two latitudes, in meters. */
export function latDistance(lat1d: number, lat2d: number): number {
  return EARTH_RADIUS_IN_METERS * Math.abs(degRad(lat2d) - degRad(lat1d));
}

/** geohashGetDistance: haversine great-circle distance in meters. */
export function distance(lon1d: number, lat1d: number, lon2d: number, lat2d: number): number {
  const lon1r = degRad(lon1d);
  const lon2r = degRad(lon2d);
  const v = Math.sin((lon2r - lon1r) / 2);
  // Same longitude: only the latitude difference matters (and it is cheaper).
  if (v === 0.0) return latDistance(lat1d, lat2d);
  const lat1r = degRad(lat1d);
  const lat2r = degRad(lat2d);
  const u = Math.sin((lat2r - lat1r) / 2);
  const a = u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v;
  return 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(a));
}

// ---- search areas -------------------------------------------------------------------------------------

/** A GEOSEARCH area: a circle (radius) or an axis-aligned box (width × height), in `unit`s. */
export interface GeoShape {
  kind: 'radius' | 'box';
  /** Centre: longitude, latitude. */
  longitude: number;
  latitude: number;
  /** Meters per unit (km: 1000). */
  conversion: number;
  radius: number;
  width: number;
  height: number;
}

/**
 * geoWithinShape's distance checks: the distance in meters from the centre when the point is
 * inside the shape, or -1 when it is outside.
 */
export function distanceIfWithin(shape: GeoShape, lon: number, lat: number): number {
  if (shape.kind === 'radius') {
    const d = distance(shape.longitude, shape.latitude, lon, lat);
    return d > shape.radius * shape.conversion ? -1 : d;
  }
  // geohashGetDistanceIfInRectangle: the cheap latitude test first.
  const widthM = shape.width * shape.conversion;
  const heightM = shape.height * shape.conversion;
  if (latDistance(lat, shape.latitude) > heightM / 2) return -1;
  if (distance(lon, lat, shape.longitude, lat) > widthM / 2) return -1;
  return distance(shape.longitude, shape.latitude, lon, lat);
}

/** geohashEstimateStepsByRadius: the coarsest step whose cells still cover the radius well. */
export function estimateStepsByRadius(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26;
  let step = 1;
  while (rangeMeters < MERCATOR_MAX) {
    rangeMeters *= 2;
    step++;
  }
  step -= 2;
  // Wider range towards the poles.
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  if (step < 1) step = 1;
  if (step > 26) step = 26;
  return step;
}

/** geohashBoundingBox: [minLon, minLat, maxLon, maxLat] around the shape. */
export function boundingBox(shape: GeoShape): [number, number, number, number] {
  const { longitude, latitude } = shape;
  const height = shape.conversion * (shape.kind === 'radius' ? shape.radius : shape.height / 2);
  const width = shape.conversion * (shape.kind === 'radius' ? shape.radius : shape.width / 2);
  const latDelta = radDeg(height / EARTH_RADIUS_IN_METERS);
  const longDeltaTop = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(latitude + latDelta)));
  const longDeltaBottom = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(latitude - latDelta)));
  // The hemispheres widen in opposite directions.
  const southern = latitude < 0;
  return [
    southern ? longitude - longDeltaBottom : longitude - longDeltaTop,
    latitude - latDelta,
    southern ? longitude + longDeltaBottom : longitude + longDeltaTop,
    latitude + latDelta,
  ];
}

const ZERO_HASH: GeoHashBits = { bits: 0n, step: 0 };

/** True for the "no cell" value the search skips. */
export function isZeroHash(h: GeoHashBits): boolean {
  return h.bits === 0n && h.step === 0;
}

/**
 * geohashCalculateAreasByShapeWGS84: the 9 cells to scan, in Redis's order (centre, N, S, E, W,
 * NE, NW, SE, SW); cells that cannot hold a match are the zero hash.
 */
export function searchCells(shape: GeoShape): GeoHashBits[] {
  const [minLon, minLat, maxLon, maxLat] = boundingBox(shape);
  const { longitude, latitude } = shape;
  const radiusMeters =
    (shape.kind === 'radius' ? shape.radius : Math.sqrt((shape.width / 2) * (shape.width / 2) + (shape.height / 2) * (shape.height / 2))) *
    shape.conversion;
  let steps = estimateStepsByRadius(radiusMeters, latitude);
  const encodeAt = (s: number): GeoHashBits => encode(WGS84_LONG_RANGE, WGS84_LAT_RANGE, longitude, latitude, s) ?? { bits: 0n, step: s };
  let hash = encodeAt(steps);
  let nb = neighbors(hash);
  // The estimated step may be too coarse near a cell edge: one level up covers more.
  const north = decodeArea(nb.north)!;
  const south = decodeArea(nb.south)!;
  const east = decodeArea(nb.east)!;
  const west = decodeArea(nb.west)!;
  const decrease = north.latitude.max < maxLat || south.latitude.min > minLat || east.longitude.max < maxLon || west.longitude.min > minLon;
  if (steps > 1 && decrease) {
    steps--;
    hash = encodeAt(steps);
    nb = neighbors(hash);
  }
  const area = decodeArea(hash) ?? { hash, longitude: { min: 0, max: 0 }, latitude: { min: 0, max: 0 } };
  // Drop the neighbours entirely outside the bounding box.
  if (steps >= 2) {
    if (area.latitude.min < minLat) {
      nb.south = ZERO_HASH;
      nb.southWest = ZERO_HASH;
      nb.southEast = ZERO_HASH;
    }
    if (area.latitude.max > maxLat) {
      nb.north = ZERO_HASH;
      nb.northEast = ZERO_HASH;
      nb.northWest = ZERO_HASH;
    }
    if (area.longitude.min < minLon) {
      nb.west = ZERO_HASH;
      nb.southWest = ZERO_HASH;
      nb.northWest = ZERO_HASH;
    }
    if (area.longitude.max > maxLon) {
      nb.east = ZERO_HASH;
      nb.southEast = ZERO_HASH;
      nb.northEast = ZERO_HASH;
    }
  }
  return [hash, nb.north, nb.south, nb.east, nb.west, nb.northEast, nb.northWest, nb.southEast, nb.southWest];
}
