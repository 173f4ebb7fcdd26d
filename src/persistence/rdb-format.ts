/**
 * Constants of the RDB format (rdb.h), version 10 as Redis 7.0 writes it.
 *
 * File layout: "REDIS0010", AUX fields, FUNCTION2 records, then per database SELECTDB and
 * RESIZEDB followed by its keys ([EXPIRETIME_MS] [IDLE|FREQ] <type> <key> <value>), EOF, and
 * the 8-byte CRC64 of everything before it (zero when rdbchecksum is off).
 */

export const RDB_VERSION = 10;

/** Value types. */
export const enum RdbType {
  String = 0,
  List = 1,
  Set = 2,
  Zset = 3,
  Hash = 4,
  Zset2 = 5,
  ModulePreGa = 6,
  Module2 = 7,
  HashZipmap = 9,
  ListZiplist = 10,
  SetIntset = 11,
  ZsetZiplist = 12,
  HashZiplist = 13,
  ListQuicklist = 14,
  StreamListpacks = 15,
  HashListpack = 16,
  ZsetListpack = 17,
  ListQuicklist2 = 18,
  StreamListpacks2 = 19,
}

/** Opcodes (values no type uses). */
export const enum RdbOpcode {
  Function2 = 245,
  FunctionPreGa = 246,
  ModuleAux = 247,
  Idle = 248,
  Freq = 249,
  Aux = 250,
  ResizeDb = 251,
  ExpireTimeMs = 252,
  ExpireTime = 253,
  SelectDb = 254,
  Eof = 255,
}

/** Special string encodings (the 11xxxxxx length prefix). */
export const enum RdbEnc {
  Int8 = 0,
  Int16 = 1,
  Int32 = 2,
  Lzf = 3,
}

/** Quicklist 2 node containers. */
export const QUICKLIST_NODE_PLAIN = 1;
export const QUICKLIST_NODE_PACKED = 2;

/** True for type bytes that are values (rdbIsObjectType). */
export function isObjectType(t: number): boolean {
  return (t >= 0 && t <= 7) || (t >= 9 && t <= 19);
}
