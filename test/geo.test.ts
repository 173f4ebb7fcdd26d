/**
 * GEO commands against a real nodis-server, replies compared byte for byte with Debian's
 * redis-server 7.0.15 in RESP2 and RESP3: every GEOADD option, GEOPOS/GEOHASH/GEODIST, the radius
 * and box searches with every option, STORE/STOREDIST results (read back with ZRANGE WITHSCORES
 * and OBJECT ENCODING), argument errors in Redis's order, a seeded random search workload, the
 * keyspace events and the propagated (AOF) form of each write.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, diffAgainstRedis, keyEventsOf, runRaw } from './helpers/redis-compare.js';

type Script = string[][];

const SICILY: string[] = ['13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'];
const NYC: string[] = [
  '-73.9454966', '40.747533', 'lic market',
  '-73.9733487', '40.7648057', 'central park n/q/r',
  '-73.9903085', '40.7362513', 'union square',
  '-74.0131604', '40.7126674', 'wtc one',
  '-73.7858139', '40.6428986', 'jfk',
  '-73.9375699', '40.7498929', 'q4',
  '-73.9564142', '40.7480973', '4545',
];
const CENTRE = ['-73.9798091', '40.7598464'];

const scripts: Record<string, Script> = {
  'GEOADD options, replies and errors': [
    ['GEOADD', '@g', ...SICILY],
    ['GEOADD', '@g', ...SICILY],
    ['GEOADD', '@g', 'CH', '13.361389', '38.2', 'Palermo', '1', '1', 'new'],
    ['GEOADD', '@g', 'NX', '0', '0', 'Palermo', '2', '2', 'nx-new'],
    ['GEOADD', '@g', 'XX', '0', '0', 'Palermo', '2', '2', 'xx-missing'],
    ['GEOADD', '@g', 'XX', 'CH', '1', '1', 'Palermo'],
    ['GEOADD', '@g', 'ch', 'nx', 'CH', '5', '5', 'nxch'],
    ['GEOADD', '@g', 'XX', 'NX', '1', '1', 'a'],
    ['GEOADD', '@g', 'GT', '1', '1', 'a'],
    ['GEOADD', '@g', 'CH', 'XX', 'foo', '1', '1', 'a'],
    ['GEOADD', '@g', '1', '1'],
    ['GEOADD', '@g', '1', '1', 'a', '2'],
    ['GEOADD', '@g', 'ch', 'ch', 'ch'],
    ['GEOADD', '@g', 'foo', 'bar', 'x'],
    ['GEOADD', '@g', '1', 'bar', 'x'],
    ['GEOADD', '@g', '1', '1', 'ok', '200', '100', 'x'],
    ['GEOADD', '@g', '-180.5', '0', 'x'],
    ['GEOADD', '@g', '0', '85.06', 'x'],
    ['GEOADD', '@g', '0', '-85.06', 'x'],
    ['GEOADD', '@g', '0.0078125', '-100', 'x'],
    ['GEOADD', '@g', '200', '-0.0000000001', 'x'],
    ['GEOADD', '@g', 'inf', '0', 'x'],
    ['GEOADD', '@g', '1e300', '0', 'x'],
    ['GEOADD', '@g', '1e400', '0', 'x'],
    ['GEOADD', '@g', 'nan', '0', 'x'],
    ['GEOADD', '@g', ' 1', '0', 'x'],
    ['GEOADD', '@g', '0x10', '0', 'hex'],
    ['GEOADD', '@g', '180', '85.05112878', 'ne', '-180', '-85.05112878', 'sw', '180', '0', 'e', '0', '85.05112878', 'n'],
    ['GEOADD', '@g', '179.99999999999997', '85.05112877999998', 'almost-ne'],
    ['ZRANGE', '@g', '0', '-1', 'WITHSCORES'],
    ['OBJECT', 'ENCODING', '@g'],
    ['SET', '@str', 'x'],
    ['GEOADD', '@str', '1', '1', 'a'],
    ['GEOADD', '@str', '1', '100', 'a'],
  ],
  'GEOPOS, GEOHASH and GEODIST': [
    ['GEOADD', '@g', ...SICILY, '-5.6', '42.6', 'wiki', '0', '0', 'origin', '-0', '-0', 'negzero'],
    ['GEOPOS', '@g', 'Palermo', 'missing', 'Catania', 'wiki', 'origin', 'negzero'],
    ['GEOPOS', '@missing', 'a', 'b'],
    ['GEOPOS', '@g'],
    ['GEOHASH', '@g', 'Palermo', 'Catania', 'missing', 'wiki', 'origin'],
    ['GEOHASH', '@missing', 'a'],
    ['GEOHASH', '@g'],
    ['GEODIST', '@g', 'Palermo', 'Catania'],
    ['GEODIST', '@g', 'Palermo', 'Catania', 'km'],
    ['GEODIST', '@g', 'Palermo', 'Catania', 'MI'],
    ['GEODIST', '@g', 'Palermo', 'Catania', 'Ft'],
    ['GEODIST', '@g', 'Palermo', 'Catania', 'm'],
    ['GEODIST', '@g', 'Palermo', 'Palermo'],
    ['GEODIST', '@g', 'origin', 'negzero'],
    ['GEODIST', '@g', 'Palermo', 'missing'],
    ['GEODIST', '@g', 'missing', 'Palermo'],
    ['GEODIST', '@missing', 'a', 'b'],
    ['GEODIST', '@g', 'Palermo', 'Catania', 'yards'],
    ['GEODIST', '@missing', 'a', 'b', 'yards'],
    ['GEODIST', '@g', 'Palermo', 'Catania', 'km', 'extra'],
    ['SET', '@str', 'x'],
    ['GEODIST', '@str', 'a', 'b'],
    ['GEODIST', '@str', 'a', 'b', 'parsecs'],
    ['GEOPOS', '@str', 'a'],
    ['GEOHASH', '@str', 'a'],
    // Scores that no GEOADD writes still decode (as (uint64_t)score does on x86-64).
    ['ZADD', '@odd', '-1', 'a', '1e30', 'b', '-inf', 'c', 'inf', 'd', '1.5', 'e', '-4294967297.5', 'f', '9.3e18', 'h', '2e19', 'i', '-9.3e18', 'j', '4503599627370496', 'k'],
    ['GEOPOS', '@odd', 'a', 'b', 'c', 'd', 'e', 'f', 'h', 'i', 'j', 'k'],
    ['GEOHASH', '@odd', 'a', 'b', 'c', 'd', 'e', 'f', 'h', 'i', 'j', 'k'],
    ['GEODIST', '@odd', 'a', 'c', 'km'],
  ],
  'GEORADIUS and GEORADIUSBYMEMBER': [
    ['GEOADD', '@nyc', ...NYC],
    ['GEORADIUS', '@nyc', ...CENTRE, '3', 'km', 'ASC'],
    ['GEORADIUS', '@nyc', ...CENTRE, '3', 'km'],
    ['GEORADIUS', '@nyc', ...CENTRE, '3', 'km', 'WITHDIST', 'ASC'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '3'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '3', 'ANY'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '3', 'ANY', 'ASC'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '2', 'DESC'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '100', 'DESC', 'WITHCOORD', 'WITHHASH', 'WITHDIST'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10000', 'm', 'withhash'],
    ['GEORADIUS', '@nyc', ...CENTRE, '6', 'mi', 'withcoord', 'asc'],
    ['GEORADIUS', '@nyc', ...CENTRE, '30000', 'ft', 'withdist', 'desc'],
    ['GEORADIUS', '@nyc', ...CENTRE, '0', 'km'],
    ['GEORADIUS', '@nyc', '0', '0', '10', 'km'],
    ['GEORADIUS', '@nyc', ...CENTRE, '50000', 'km', 'withdist'],
    ['GEORADIUS', '@nyc', ...CENTRE, 'inf', 'km', 'count', '2'],
    ['GEORADIUS_RO', '@nyc', ...CENTRE, '3', 'km', 'WITHDIST', 'ASC'],
    ['GEORADIUSBYMEMBER', '@nyc', 'wtc one', '7', 'km'],
    ['GEORADIUSBYMEMBER', '@nyc', 'wtc one', '7', 'km', 'withdist'],
    ['GEORADIUSBYMEMBER', '@nyc', 'wtc one', '7', 'km', 'withdist', 'withcoord', 'withhash', 'count', '2', 'desc'],
    ['GEORADIUSBYMEMBER_RO', '@nyc', 'jfk', '20', 'km', 'ASC'],
    ['GEORADIUSBYMEMBER', '@nyc', 'nobody', '7', 'km'],
    ['GEORADIUSBYMEMBER', '@nyc', 'nobody', 'x', 'km'],
    ['GEORADIUSBYMEMBER', '@nyc', 'jfk', 'x', 'km'],
    ['GEORADIUSBYMEMBER', '@nyc', 'jfk', '-1', 'km'],
    ['GEORADIUSBYMEMBER', '@nyc', 'jfk', '1', 'parsec'],
    ['GEORADIUSBYMEMBER', '@missing', 'jfk', 'x', 'parsec', 'withdist'],
    ['GEORADIUSBYMEMBER', '@missing', 'jfk', 'x', 'parsec', 'store', '@dst'],
    ['GEORADIUSBYMEMBER', '@missing', 'jfk', 'x', 'parsec', 'bogus'],
    ['GEORADIUS', '@missing', ...CENTRE, '3', 'km'],
    ['GEORADIUS', '@missing', '500', '0', '3', 'km'],
    // Argument errors.
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'ANY', 'ASC'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '0'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '-3'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', 'x'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'COUNT', '99999999999999999999'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'FROMMEMBER', 'jfk'],
    ['GEORADIUS', '@nyc', ...CENTRE, '-10', 'km'],
    ['GEORADIUS', '@nyc', ...CENTRE, 'ten', 'km'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'furlongs'],
    ['GEORADIUS', '@nyc', '181', '0', 'ten', 'furlongs'],
    ['GEORADIUS', '@nyc', 'x', '0', '10', 'km'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'store'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'store', '@dst', 'withdist'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'storedist', '@dst', 'withhash'],
    ['GEORADIUS_RO', '@nyc', ...CENTRE, '10', 'km', 'store', '@dst'],
    ['GEORADIUSBYMEMBER_RO', '@nyc', 'jfk', '10', 'km', 'storedist', '@dst'],
    ['SET', '@str', 'x'],
    ['GEORADIUS', '@str', '500', '0', '3', 'km'],
    ['GEORADIUSBYMEMBER', '@str', 'm', '1', 'km', 'store', '@dst'],
  ],
  'GEORADIUS STORE and STOREDIST': [
    ['GEOADD', '@nyc', ...NYC],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'STORE', '@dst'],
    ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES'],
    ['OBJECT', 'ENCODING', '@dst'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'STOREDIST', '@dst', 'COUNT', '3', 'DESC'],
    ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'mi', 'STORE', '@dst', 'STOREDIST', '@dst2'],
    ['ZRANGE', '@dst2', '0', '-1', 'WITHSCORES'],
    ['EXISTS', '@dst'],
    ['GEORADIUSBYMEMBER', '@nyc', 'jfk', '1', 'km', 'storedist', '@dst2'],
    ['ZRANGE', '@dst2', '0', '-1', 'WITHSCORES'],
    ['GEORADIUSBYMEMBER', '@nyc', 'jfk', '20', 'km', 'storedist', '@dst2', 'asc'],
    ['ZRANGE', '@dst2', '0', '-1', 'WITHSCORES'],
    ['SET', '@dst3', 'not a zset', 'EX', '1000'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'STORE', '@dst3'],
    ['TYPE', '@dst3'],
    ['TTL', '@dst3'],
    ['GEORADIUS', '@nyc', '0', '0', '10', 'km', 'STORE', '@dst3'],
    ['EXISTS', '@dst3'],
    ['GEORADIUS', '@missing', '0', '0', '10', 'km', 'STORE', '@dst2'],
    ['EXISTS', '@dst2'],
    ['GEORADIUS', '@missing', '0', '0', '10', 'km', 'STORE', '@dst2'],
    ['GEORADIUS', '@nyc', ...CENTRE, '10', 'km', 'STORE', '@nyc'],
    ['ZRANGE', '@nyc', '0', '-1', 'WITHSCORES'],
  ],
  'GEOSEARCH with every option': [
    ['GEOADD', '@nyc', ...NYC],
    ['GEOSEARCH', '@nyc', 'FROMLONLAT', ...CENTRE, 'BYBOX', '6', '6', 'km', 'ASC'],
    ['GEOSEARCH', '@nyc', 'FROMLONLAT', ...CENTRE, 'BYBOX', '6', '6', 'km', 'WITHDIST', 'ASC'],
    ['GEOSEARCH', '@nyc', 'FROMLONLAT', ...CENTRE, 'BYRADIUS', '3', 'km', 'DESC', 'WITHCOORD'],
    ['GEOSEARCH', '@nyc', 'FROMMEMBER', 'wtc one', 'BYBOX', '14', '14', 'km'],
    ['GEOSEARCH', '@nyc', 'FROMMEMBER', 'wtc one', 'BYBOX', '14', '14', 'km', 'WITHHASH', 'WITHDIST', 'WITHCOORD'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '30000', 'ft', 'count', '2', 'any'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '30', 'mi', 'count', '2', 'any', 'desc', 'withdist'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '30', 'mi', 'count', '4', 'withdist'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', '100', '2', 'mi', 'withdist', 'asc'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'frommember', 'q4', 'byradius', '3', 'km', 'byradius', '4', 'km'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', '0', '0', 'fromlonlat', ...CENTRE, 'bybox', '1', '1', 'km', 'bybox', '7', '7', 'km'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'bybox', '0', '0', 'km'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'bybox', 'inf', '1', 'km'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', '0', '0', 'byradius', '1', 'km'],
    ['GEOSEARCH', '@missing', 'frommember', 'x', 'byradius', '1', 'km'],
    ['GEOSEARCH', '@missing', 'fromlonlat', '0', '0', 'byradius', '1', 'km'],
    // Errors, in Redis's order.
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'frommember', 'xxx', 'bybox', '6', '6', 'km', 'asc'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'fromlonlat', ...CENTRE, 'bybox', '6', '6', 'km'],
    ['GEOSEARCH', '@nyc', 'bybox', '3', '3', 'km', 'asc', 'desc', 'withhash', 'withdist', 'withcoord'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'byradius', '3', 'km', 'bybox', '3', '3', 'km', 'asc'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'bybox', '3', '3', 'km', 'byradius', '3', 'km'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'asc', 'desc', 'withhash', 'withdist', 'withcoord'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'bybox', '6', '6', 'km', 'asc', 'storedist'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', ...CENTRE, 'bybox', '6', '6', 'km', 'store', '@dst'],
    ['GEOSEARCH', '@nyc', 'frommember', 'nobody', 'bybox', '6', '6', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'nobody', 'bybox', 'x', '6', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', 'x', '6', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', '6', 'y', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', '-6', '6', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', '6', '-6', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', '6', '6', 'parsec'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'bybox', '6', '6'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '6'],
    ['GEOSEARCH', '@nyc', 'frommember'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', '1'],
    ['GEOSEARCH', '@nyc', 'fromlonlat', '181', '0', 'byradius', '1', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '-1', 'km'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '1', 'km', 'any'],
    ['GEOSEARCH', '@nyc', 'frommember', 'jfk', 'byradius', '1', 'km', 'count', '0'],
    ['GEOSEARCH', '@missing', 'frommember', 'x', 'bybox', '1', '1', 'km', 'any'],
    ['GEOSEARCH', '@missing', 'byradius', '1', 'km'],
    ['geosearch', '@missing', 'fromlonlat', '0', '0'],
    ['GeoSearch', '@missing', 'byradius', '1', 'km'],
    ['SET', '@str', 'x'],
    ['GEOSEARCH', '@str', 'bogus'],
  ],
  'GEOSEARCHSTORE': [
    ['GEOADD', '@nyc', ...NYC],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMLONLAT', ...CENTRE, 'BYBOX', '6', '6', 'km', 'ASC'],
    ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMMEMBER', 'jfk', 'BYRADIUS', '20', 'km', 'STOREDIST'],
    ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMMEMBER', 'jfk', 'BYRADIUS', '20', 'mi', 'STOREDIST', 'COUNT', '2', 'DESC'],
    ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMMEMBER', 'jfk', 'BYRADIUS', '20', 'mi', 'COUNT', '2', 'ANY'],
    ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES'],
    ['OBJECT', 'ENCODING', '@dst'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMLONLAT', '0', '0', 'BYRADIUS', '20', 'mi'],
    ['EXISTS', '@dst'],
    ['GEOSEARCHSTORE', '@dst', '@missing', 'FROMLONLAT', '0', '0', 'BYRADIUS', '20', 'mi'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMLONLAT', ...CENTRE, 'BYBOX', '6', '6', 'km', 'WITHDIST'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMLONLAT', ...CENTRE, 'BYBOX', '6', '6', 'km', 'STORE', '@x'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMLONLAT', ...CENTRE],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'BYBOX', '6', '6', 'km'],
    ['GEOSEARCHSTORE', '@dst', '@nyc', 'FROMMEMBER', 'nobody', 'BYBOX', '6', '6', 'km'],
    ['SET', '@str', 'x'],
    ['GEOSEARCHSTORE', '@dst', '@str', 'FROMMEMBER', 'x', 'BYBOX', '6', '6', 'km'],
    ['GEOSEARCHSTORE', '@str', '@nyc', 'FROMMEMBER', 'jfk', 'BYBOX', '1', '1', 'km'],
    ['TYPE', '@str'],
  ],
  'edge cases: poles, antimeridian, huge radius, ties': [
    ['GEOADD', '@k1', '-0.15307903289794921875', '85', 'n1', '0.3515625', '85.00019260486917005437', 'n2'],
    ['GEORADIUSBYMEMBER', '@k1', 'n1', '4891.94', 'm', 'withdist'],
    ['GEOADD', '@k2', '45', '65', 'n1', '-135', '85.05', 'n2'],
    ['GEORADIUSBYMEMBER', '@k2', 'n1', '5009431', 'm', 'withdist', 'withhash'],
    ['GEOADD', '@p', '179.5', '36', 'point1', '-179.5', '36', 'point2'],
    ['GEOSEARCH', '@p', 'fromlonlat', '179', '37', 'bybox', '400', '400', 'km', 'asc', 'withdist'],
    ['GEOSEARCH', '@p', 'fromlonlat', '-179', '37', 'bybox', '400', '400', 'km', 'asc', 'withdist'],
    ['GEOSEARCH', '@p', 'fromlonlat', '180', '85.05112878', 'byradius', '20000', 'km', 'withcoord'],
    ['GEOADD', '@users', '-47.271613776683807', '-54.534504198047678', 'user_000000'],
    ['GEORADIUS', '@users', '0', '0', '50000', 'km', 'WITHCOORD'],
    ['GEOADD', '@s', '-122.407107', '37.794300', '1', '-122.227336', '37.794300', '2'],
    ['GEORADIUS', '@s', '-122.407107', '37.794300', '30', 'mi', 'ASC', 'WITHDIST'],
    // Equal distances: the full sort is stable, COUNT uses Redis's partial quicksort.
    ['GEOADD', '@ties', ...Array.from({ length: 60 }, (_, i) => [String((i % 6) * 0.001), String(Math.floor(i / 6) % 3 * 0.001), `m${String(i).padStart(2, '0')}`]).flat()],
    ['GEOSEARCH', '@ties', 'fromlonlat', '0', '0', 'byradius', '10', 'km', 'asc'],
    ['GEOSEARCH', '@ties', 'fromlonlat', '0', '0', 'byradius', '10', 'km', 'desc'],
    ['GEOSEARCH', '@ties', 'fromlonlat', '0', '0', 'byradius', '10', 'km', 'count', '7'],
    ['GEOSEARCH', '@ties', 'fromlonlat', '0', '0', 'byradius', '10', 'km', 'count', '23', 'desc'],
    ['GEOSEARCH', '@ties', 'fromlonlat', '0', '0', 'byradius', '10', 'km', 'count', '45', 'asc', 'withdist'],
    ['GEOSEARCH', '@ties', 'fromlonlat', '0.0025', '0.001', 'bybox', '1', '1', 'km', 'count', '59', 'withdist'],
    ['GEOSEARCHSTORE', '@tiesdst', '@ties', 'fromlonlat', '0', '0', 'byradius', '10', 'km', 'count', '13', 'storedist'],
    ['ZRANGE', '@tiesdst', '0', '-1', 'WITHSCORES'],
  ],
};

/** A small deterministic PRNG (mulberry32), so the random workload is the same every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random points clustered around a few centres, and random searches with random options. */
function randomWorkload(seed: number): Script {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const script: Script = [];
  const centres = Array.from({ length: 4 }, () => [-180 + rnd() * 360, -70 + rnd() * 140] as const);
  const add: string[] = [];
  for (let i = 0; i < 400; i++) {
    const [clon, clat] = pick(centres);
    const lon = Math.max(-180, Math.min(180, clon + (rnd() - 0.5) * 4));
    const lat = Math.max(-80, Math.min(80, clat + (rnd() - 0.5) * 4));
    add.push(String(lon), String(lat), `p${i}`);
  }
  script.push(['GEOADD', '@r', ...add]);
  for (let i = 0; i < 60; i++) {
    const [clon, clat] = pick(centres);
    const from = rnd() < 0.3 ? ['FROMMEMBER', `p${Math.floor(rnd() * 400)}`] : ['FROMLONLAT', String(clon + (rnd() - 0.5) * 2), String(clat + (rnd() - 0.5) * 2)];
    const unit = pick(['m', 'km', 'mi', 'ft']);
    const scale = ({ m: 1000, km: 1, mi: 0.6, ft: 3280 } as Record<string, number>)[unit]!;
    const by = rnd() < 0.5
      ? ['BYRADIUS', String(Math.round((10 + rnd() * 200) * scale * 100) / 100), unit]
      : ['BYBOX', String(Math.round((10 + rnd() * 400) * scale)), String(Math.round((10 + rnd() * 400) * scale)), unit];
    const opts: string[] = [];
    if (rnd() < 0.5) opts.push(pick(['ASC', 'DESC']));
    if (rnd() < 0.4) opts.push('COUNT', String(1 + Math.floor(rnd() * 30)), ...(rnd() < 0.3 ? ['ANY'] : []));
    if (rnd() < 0.3) {
      // STOREDIST scores show distances to 17 digits, where libm and V8's sin/cos/asin can
      // differ in the last bit: compared by member order here, numerically in another test.
      const storeDist = rnd() < 0.5;
      script.push(['GEOSEARCHSTORE', '@dst', '@r', ...from, ...by, ...opts, ...(storeDist ? ['STOREDIST'] : [])]);
      script.push(storeDist ? ['ZRANGE', '@dst', '0', '-1'] : ['ZRANGE', '@dst', '0', '-1', 'WITHSCORES']);
    } else {
      for (const w of ['WITHDIST', 'WITHCOORD', 'WITHHASH']) if (rnd() < 0.5) opts.push(w);
      script.push(['GEOSEARCH', '@r', ...from, ...by, ...opts]);
    }
    const a = `p${Math.floor(rnd() * 400)}`;
    const b = `p${Math.floor(rnd() * 400)}`;
    script.push(['GEODIST', '@r', a, b, unit], ['GEOPOS', '@r', a, b], ['GEOHASH', '@r', a, b]);
  }
  return script;
}

describe('GEO commands', () => {
  let s: RunningServer;
  let r: RunningServer;
  before(async () => {
    [s, r] = await Promise.all([startServer(), startRedis()]);
  });
  after(stopAll);

  describe('compared with redis-server', () => {
    let n = 0;
    const all: Record<string, Script> = { ...scripts, 'seeded random searches (1)': randomWorkload(1), 'seeded random searches (2)': randomWorkload(20240611) };
    for (const [name, script] of Object.entries(all)) {
      for (const proto of [2, 3] as const) {
        it(`${name} (RESP${proto})`, async () => {
          const diff = await diffAgainstRedis(s.port, r.port, `t${n++}`, script, proto);
          assert.equal(diff, null, diff ?? '');
        });
      }
    }
  });

  it('STOREDIST distances equal redis-server\'s to within a few ulps', async () => {
    const script = randomWorkload(7).filter((argv) => argv[0] === 'GEOADD' || (argv[0] === 'GEOSEARCHSTORE' && argv.includes('STOREDIST')));
    assert.ok(script.length > 3);
    const mine = s.client();
    const theirs = r.client();
    for (const argv of script) {
      const cmd = argv.map((a) => a.replace(/^@/, 'ulp:'));
      assert.deepEqual(await mine.call(cmd[0]!, ...cmd.slice(1)), await theirs.call(cmd[0]!, ...cmd.slice(1)));
      if (cmd[0] !== 'GEOSEARCHSTORE') continue;
      const a = (await mine.call('zrange', cmd[1]!, '0', '-1', 'withscores')) as string[];
      const b = (await theirs.call('zrange', cmd[1]!, '0', '-1', 'withscores')) as string[];
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i += 2) {
        assert.equal(a[i], b[i]);
        const x = Number(a[i + 1]), y = Number(b[i + 1]);
        assert.ok(Math.abs(x - y) <= 4 * Number.EPSILON * Math.max(Math.abs(y), 1e-300), `${a[i]}: ${x} vs ${y}`);
      }
    }
  });

  it('stores the listpack or skiplist encoding Redis would', async () => {
    const big: string[] = [];
    for (let i = 0; i < 200; i++) big.push(String(i * 0.0001), '0', `m${i}`);
    const script: Script = [
      ['GEOADD', '@big', ...big],
      ['OBJECT', 'ENCODING', '@big'],
      ['GEOSEARCHSTORE', '@small', '@big', 'FROMLONLAT', '0', '0', 'BYRADIUS', '10', 'km', 'COUNT', '128'],
      ['OBJECT', 'ENCODING', '@small'],
      ['GEOSEARCHSTORE', '@large', '@big', 'FROMLONLAT', '0', '0', 'BYRADIUS', '10', 'km', 'COUNT', '129'],
      ['OBJECT', 'ENCODING', '@large'],
      ['GEOADD', '@long', '1', '1', 'x'.repeat(65)],
      ['OBJECT', 'ENCODING', '@long'],
      ['GEORADIUS', '@long', '1', '1', '1', 'km', 'STORE', '@long2'],
      ['OBJECT', 'ENCODING', '@long2'],
    ];
    const diff = await diffAgainstRedis(s.port, r.port, 'enc', script, 2);
    assert.equal(diff, null, diff ?? '');
  });

  it('emits the same keyspace events as redis-server', async () => {
    const args = ['--notify-keyspace-events', 'KEA'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const script: Script = [
      ['GEOADD', '@g', ...NYC],
      ['GEOADD', '@g', ...NYC],
      ['GEOADD', '@g', 'XX', '0', '0', 'jfk'],
      ['GEOADD', '@g', 'NX', '0', '0', 'jfk'],
      ['GEOADD', '@g', '0', '100', 'bad'],
      ['GEORADIUS', '@g', ...CENTRE, '10', 'km', 'STORE', '@d1'],
      ['GEORADIUSBYMEMBER', '@g', 'q4', '10', 'km', 'STOREDIST', '@d2'],
      ['GEOSEARCHSTORE', '@d3', '@g', 'FROMMEMBER', 'q4', 'BYRADIUS', '10', 'km'],
      ['GEOSEARCHSTORE', '@d3', '@g', 'FROMLONLAT', '100', '0', 'BYRADIUS', '10', 'km'],
      ['GEOSEARCHSTORE', '@d2', '@missing', 'FROMLONLAT', '100', '0', 'BYRADIUS', '10', 'km'],
      ['GEORADIUS', '@g', '100', '0', '10', 'km', 'STORE', '@d1'],
      ['GEORADIUS', '@g', '100', '0', '10', 'km', 'STORE', '@d1'],
      ['GEOSEARCH', '@g', 'FROMMEMBER', 'q4', 'BYRADIUS', '10', 'km'],
      ['GEOPOS', '@missing', 'x'],
    ];
    const got = await keyEventsOf(mine.port, 'ev', script);
    assert.notEqual(got, null);
    assert.ok(got!.includes('zadd ev:g') && got!.includes('georadiusstore ev:d1') && got!.includes('geosearchstore ev:d3'), got!.join('\n'));
    assert.deepEqual(got, await keyEventsOf(theirs.port, 'ev', script));
  });

  it('propagates to the AOF exactly as redis-server does (GEOADD as ZADD)', async () => {
    const args = ['--appendonly', 'yes'];
    const [mine, theirs] = await Promise.all([startServer({ args }), startRedis(args)]);
    const script: Script = [
      ['GEOADD', 'g', ...NYC],
      ['GEOADD', 'g', ...NYC],
      ['GEOADD', 'g', 'CH', 'XX', '0', '0', 'jfk', '1', '1', 'nobody'],
      ['geoadd', 'g', 'nx', 'ch', '180', '1', 'edge'],
      ['GEOADD', 'g', '0', '100', 'bad'],
      ['GEORADIUS', 'g', ...CENTRE, '10', 'km', 'STORE', 'd1'],
      ['GEORADIUS', 'g', ...CENTRE, '10', 'km', 'STOREDIST', 'd2', 'COUNT', '2'],
      ['GEOSEARCHSTORE', 'd3', 'g', 'FROMMEMBER', 'q4', 'BYRADIUS', '10', 'km', 'STOREDIST'],
      ['GEOSEARCHSTORE', 'd3', 'g', 'FROMLONLAT', '100', '0', 'BYRADIUS', '10', 'km'],
      ['GEOSEARCHSTORE', 'd3', 'g', 'FROMLONLAT', '100', '0', 'BYRADIUS', '10', 'km'],
      ['GEOSEARCHSTORE', 'd2', 'missing', 'FROMLONLAT', '100', '0', 'BYRADIUS', '10', 'km'],
      ['GEOSEARCH', 'g', 'FROMMEMBER', 'q4', 'BYRADIUS', '10', 'km'],
      ['MULTI'],
      ['GEOADD', 'g', '1', '1', 'in-multi'],
      ['GEORADIUS', 'g', '1', '1', '10', 'km', 'STORE', 'd4'],
      ['EXEC'],
      ['EVAL', "redis.call('geoadd', KEYS[1], 2, 2, 'in-script'); return redis.call('geosearchstore', KEYS[2], KEYS[1], 'frommember', 'in-script', 'byradius', 1000, 'km')", '2', 'g', 'd5'],
      ['SET', 'end', 'x'],
    ];
    const aofOf = async (srv: RunningServer): Promise<string> => {
      await runRaw(srv.port, script);
      const dir = path.join(srv.dir, 'appendonlydir');
      for (;;) {
        const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.incr.aof')) : [];
        const text = files.map((f) => fs.readFileSync(path.join(dir, f), 'latin1')).join('');
        if (text.includes('$3\r\nend\r\n')) return text;
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const [got, want] = await Promise.all([aofOf(mine), aofOf(theirs)]);
    assert.ok(got.includes('$4\r\nzadd\r\n'), got);
    assert.equal(got, want);
  });

  it('MONITOR and SLOWLOG show the GEOADD the client sent', async () => {
    const c = s.client();
    await c.call('slowlog', 'reset');
    await c.call('config', 'set', 'slowlog-log-slower-than', '0');
    await c.call('geoadd', 'mon', '1', '2', 'here');
    const entries = (await c.call('slowlog', 'get', '10')) as unknown[][];
    await c.call('config', 'set', 'slowlog-log-slower-than', '10000');
    const commands = entries.map((e) => (e[3] as string[]).join(' '));
    assert.ok(commands.includes('geoadd mon 1 2 here'), commands.join('\n'));
  });
});
