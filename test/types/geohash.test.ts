/**
 * Unit tests of the geohash arithmetic (src/types/geohash.ts) and of the GEO reply helpers that
 * need no server: encode/decode round trips within a cell, known scores and geohash strings from
 * Redis, neighbour cells, search-cell coverage, distances, distance formatting and Redis's
 * partial sort.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import '../helpers/property.js';
import {
  GEO_LAT_MAX,
  GEO_LAT_MIN,
  WGS84_LAT_RANGE,
  WGS84_LONG_RANGE,
  decodeArea,
  decodeScore,
  distance,
  distanceIfWithin,
  encode,
  encodeScore,
  encodeScoreText,
  estimateStepsByRadius,
  isZeroHash,
  neighbors,
  scoresOfBox,
  searchCells,
  standardGeohash,
  type GeoShape,
} from '../../src/types/geohash.js';
import { formatDistance, partialSort } from '../../src/commands/geo.js';
import { formatHumanFriendly } from '../../src/protocol/format.js';

const lonArb = fc.double({ min: -180, max: 180, noNaN: true });
const latArb = fc.double({ min: GEO_LAT_MIN, max: GEO_LAT_MAX, noNaN: true });
/** Points off the east and north edges, where a cell index can overflow into the next bit. */
const innerLonArb = fc.double({ min: -180, max: 179.9999, noNaN: true });
const innerLatArb = fc.double({ min: GEO_LAT_MIN, max: 85.05, noNaN: true });

/** Half a 26-step cell, the most a decoded centre can be away from the encoded point. */
const HALF_CELL_LON = 360 / 2 ** 26 / 2;
const HALF_CELL_LAT = (GEO_LAT_MAX - GEO_LAT_MIN) / 2 ** 26 / 2;

describe('geohash encoding', () => {
  it('scores of known places are the ones redis-server stores', () => {
    // From Redis's unit/geo "Check geoset values".
    assert.equal(encodeScoreText(-74.0131604, 40.7126674), '1791873972053020');
    assert.equal(encodeScoreText(-73.9903085, 40.7362513), '1791875485187452');
    assert.equal(encodeScoreText(-73.9564142, 40.7480973), '1791875796750882');
    assert.equal(encodeScoreText(-73.7858139, 40.6428986), '1791895905559723');
    // The edges: exactly on the east or north limit the index overflows into bits 52/53, and
    // the decimal text stays exact beyond 2^53 (what GEOADD propagates).
    assert.equal(encodeScoreText(180, 0), '10133099161583616');
    assert.equal(encodeScoreText(180, 1), BigInt(encodeScoreText(180, 1)!).toString());
    assert.equal(encodeScoreText(0, GEO_LAT_MAX), '6755399441055744');
    assert.equal(encodeScoreText(-180, GEO_LAT_MIN), '0');
    assert.equal(encodeScoreText(180.0000001, 0), null);
    assert.equal(encodeScoreText(0, 85.06), null);
  });

  it('decoding a score returns the centre of its cell, within half a cell of the point', () => {
    fc.assert(
      fc.property(innerLonArb, innerLatArb, (lon, lat) => {
        const score = encodeScore(lon, lat)!;
        assert.equal(String(score), encodeScoreText(lon, lat));
        const xy = new Float64Array(2);
        decodeScore(score, xy);
        assert.ok(Math.abs(xy[0]! - lon) <= HALF_CELL_LON + 1e-12, `lon ${lon} → ${xy[0]}`);
        assert.ok(Math.abs(xy[1]! - lat) <= HALF_CELL_LAT + 1e-12, `lat ${lat} → ${xy[1]}`);
        // Decoded positions are fixed points: encoding them again gives the same score.
        assert.equal(encodeScore(xy[0]!, xy[1]!), score);
      }),
    );
  });

  it('every point of the indexable area, edges included, encodes and decodes inside it', () => {
    fc.assert(
      fc.property(lonArb, latArb, (lon, lat) => {
        const score = encodeScore(lon, lat);
        assert.notEqual(score, null);
        const xy = new Float64Array(2);
        decodeScore(score!, xy);
        assert.ok(xy[0]! >= -180 && xy[0]! <= 180 && xy[1]! >= GEO_LAT_MIN && xy[1]! <= GEO_LAT_MAX);
      }),
    );
  });

  it('decodes any score as Redis does, clamped to the indexable area', () => {
    // Values checked against redis-server: GEOPOS of members ZADDed with these scores.
    const pos = (score: number): string => {
      const xy = new Float64Array(2);
      decodeScore(score, xy);
      return `${formatHumanFriendly(xy[0]!)} ${formatHumanFriendly(xy[1]!)}`;
    };
    assert.equal(pos(-1), '180 85.0511287799999991');
    assert.equal(pos(Infinity), '-179.99999731779098511 -85.05112751263942528');
    // -inf converts to 2^63: the top (longitude) bit alone.
    assert.equal(pos(-Infinity), '180 -85.05112751263942528');
    // 1.5 truncates to 1: the lowest latitude bit.
    assert.equal(pos(1.5), '-179.99999731779098511 -85.05112497791824921');
    assert.equal(pos(-4294967297.5), '180 85.0511287799999991');
    assert.equal(pos(2e19), '-179.99999731779098511 -85.05112751263942528');
  });

  it('GEOHASH strings are standard geohashes', () => {
    // Wikipedia's example, as in Redis's unit/geo.
    assert.equal(standardGeohash(encodeScore(-5.6, 42.6)!), 'ezs42e44yx0');
    assert.equal(standardGeohash(encodeScore(-73.9375699, 40.7498929)!), 'dr5rvd233d0');
    assert.equal(standardGeohash(encodeScore(-73.7858139, 40.6428986)!), 'dr5x0yyf1c0');
    assert.equal(standardGeohash(-1), 'bp05b5048p0');
  });
});

describe('geohash cells', () => {
  it('a point lies in its cell at every step, and the cell score range holds its score', () => {
    fc.assert(
      fc.property(innerLonArb, innerLatArb, fc.integer({ min: 1, max: 26 }), (lon, lat, step) => {
        const hash = encode(WGS84_LONG_RANGE, WGS84_LAT_RANGE, lon, lat, step)!;
        const area = decodeArea(hash)!;
        // Within rounding: the offset arithmetic can put a point a hair off its cell's edge.
        assert.ok(area.longitude.min - 1e-9 <= lon && lon <= area.longitude.max + 1e-9);
        assert.ok(area.latitude.min - 1e-9 <= lat && lat <= area.latitude.max + 1e-9);
        const score = encodeScore(lon, lat)!;
        const { min, max } = scoresOfBox(hash);
        assert.ok(min <= score && score < max, `${min} <= ${score} < ${max}`);
      }),
    );
  });

  it('neighbours are the adjacent cells, wrapping around in longitude', () => {
    fc.assert(
      fc.property(innerLonArb, innerLatArb, fc.integer({ min: 2, max: 26 }), (lon, lat, step) => {
        const hash = encode(WGS84_LONG_RANGE, WGS84_LAT_RANGE, lon, lat, step)!;
        const area = decodeArea(hash)!;
        const n = neighbors(hash);
        for (const cell of Object.values(n)) assert.equal(cell.step, step);
        const east = decodeArea(n.east)!;
        const west = decodeArea(n.west)!;
        const north = decodeArea(n.north)!;
        const south = decodeArea(n.south)!;
        const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;
        // Same row / column.
        assert.ok(close(east.latitude.min, area.latitude.min) && close(west.latitude.max, area.latitude.max));
        assert.ok(close(north.longitude.min, area.longitude.min) && close(south.longitude.max, area.longitude.max));
        // Adjacent, or wrapped around the antimeridian / the poles.
        assert.ok(close(east.longitude.min, area.longitude.max) || (close(area.longitude.max, 180) && close(east.longitude.min, -180)));
        assert.ok(close(west.longitude.max, area.longitude.min) || (close(area.longitude.min, -180) && close(west.longitude.max, 180)));
        assert.ok(close(north.latitude.min, area.latitude.max) || close(area.latitude.max, GEO_LAT_MAX));
        assert.ok(close(south.latitude.max, area.latitude.min) || close(area.latitude.min, GEO_LAT_MIN));
        // Diagonals combine both moves.
        assert.deepEqual(decodeArea(n.northEast)!.longitude, east.longitude);
        assert.deepEqual(decodeArea(n.northEast)!.latitude, north.latitude);
        assert.deepEqual(decodeArea(n.southWest)!.longitude, west.longitude);
        assert.deepEqual(decodeArea(n.southWest)!.latitude, south.latitude);
      }),
    );
  });

  it('the search cells contain every point within the radius (away from the poles)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -180, max: 180, noNaN: true }),
        fc.double({ min: -70, max: 70, noNaN: true }),
        fc.double({ min: 1, max: 500_000, noNaN: true }),
        fc.double({ min: 0, max: 2 * Math.PI, noNaN: true }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (lon, lat, radius, bearing, fraction) => {
          const shape: GeoShape = { kind: 'radius', longitude: lon, latitude: lat, conversion: 1, radius, width: 0, height: 0 };
          // A point at `fraction` of the radius in direction `bearing` (equirectangular offset).
          const dLat = ((radius * fraction * Math.cos(bearing)) / 6372797.560856) * (180 / Math.PI);
          let pLon = lon + ((radius * fraction * Math.sin(bearing)) / 6372797.560856 / Math.cos((lat * Math.PI) / 180)) * (180 / Math.PI);
          const pLat = lat + dLat;
          if (pLon > 180) pLon -= 360;
          if (pLon < -180) pLon += 360;
          const score = encodeScore(pLon, pLat)!;
          const xy = new Float64Array(2);
          decodeScore(score, xy);
          if (distanceIfWithin(shape, xy[0]!, xy[1]!) < 0) return; // only points the check accepts
          const cells = searchCells(shape).filter((c) => !isZeroHash(c));
          assert.ok(cells.some((c) => {
            const { min, max } = scoresOfBox(c);
            return min <= score && score < max;
          }), `point ${pLon},${pLat} not covered for ${lon},${lat} r=${radius}`);
        },
      ),
    );
  });

  it('estimates the step from the radius as Redis does', () => {
    assert.equal(estimateStepsByRadius(0, 0), 26);
    assert.equal(estimateStepsByRadius(50_000_000, 0), 1);
    // 1000 m doubles 15 times to pass the Mercator width: 1 + 15 - 2.
    assert.equal(estimateStepsByRadius(1000, 0), 14);
    assert.equal(estimateStepsByRadius(1000, 70), 13);
    assert.equal(estimateStepsByRadius(1000, -81), 12);
    assert.equal(estimateStepsByRadius(0.001, 0), 26);
  });
});

describe('distances', () => {
  it('haversine with Redis earth radius', () => {
    const palermo = [13.361389, 38.115556] as const;
    const catania = [15.087269, 37.502669] as const;
    const xyP = new Float64Array(2);
    const xyC = new Float64Array(2);
    decodeScore(encodeScore(...palermo)!, xyP);
    decodeScore(encodeScore(...catania)!, xyC);
    assert.equal(formatDistance(distance(xyP[0]!, xyP[1]!, xyC[0]!, xyC[1]!)), '166274.1516');
    assert.equal(formatDistance(distance(xyP[0]!, xyP[1]!, xyC[0]!, xyC[1]!) / 1000), '166.2742');
    assert.equal(distance(1, 2, 1, 2), 0);
    assert.equal(distance(10, 20, 10, 21), distance(10, 21, 10, 20));
  });

  it('formats distances with 4 decimals, rounding half to even like llrint', () => {
    assert.equal(formatDistance(0), '0.0000');
    assert.equal(formatDistance(0.775), '0.7750');
    assert.equal(formatDistance(0.00001), '0.0000');
    assert.equal(formatDistance(6.0642951598391699e-05), '0.0001');
    assert.equal(formatDistance(1 / 32), '0.0312'); // 312.5 after scaling, exactly → even
    assert.equal(formatDistance(3 / 32), '0.0938'); // 937.5 → 938
    assert.equal(formatDistance(12345.67891), '12345.6789');
    assert.equal(formatDistance(-1.5), '-1.5000');
  });
});

describe('partialSort (Redis pqsort)', () => {
  it('leaves the k smallest elements first, in order, and permutes the rest', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 200 }), fc.nat(), (values, kSeed) => {
        if (values.length === 0) return;
        const k = (kSeed % values.length) + 1;
        const items = values.map((v, i) => ({ v, i }));
        partialSort(items, (a, b) => (a.v > b.v ? 1 : a.v === b.v ? 0 : -1), 0, k - 1);
        const sorted = [...values].sort((a, b) => a - b);
        assert.deepEqual(items.slice(0, k).map((x) => x.v), sorted.slice(0, k));
        assert.deepEqual(items.map((x) => x.i).sort((a, b) => a - b), values.map((_, i) => i));
      }),
    );
  });
});
