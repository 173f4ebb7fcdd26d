/**
 * sanitize-dump-payload for RESTORE: nodis validates every payload fully, whatever the setting.
 *
 * Redis decides per load whether to run its deep integrity validation (`yes` always, `no`
 * never, `clients` for ordinary clients only) and, without it, keeps a damaged listpack as it
 * is, to fail an assertion (and exit) when a command reaches the damage. nodis decodes every
 * value into its own structures, so it always checks everything the deep validation checks and
 * refuses any damage: RESTORE then replies "Bad data format". The setting (and the ACL
 * skip-sanitize-payload flag) stays accepted and stored, for clients that set it.
 * A refused payload is logged the way Redis logs it in a RESTORE (verbose level).
 */
import type { Client } from '../server/client.js';
import type { RedisValue } from '../types/value.js';
import { RdbFormatError } from './bytes.js';
import { decodeDumpPayload, type LoadLimits } from './rdb-decode.js';

/**
 * Decodes a verified DUMP payload for RESTORE into `key`; null when it is refused (the caller
 * replies "Bad data format") or loads empty.
 */
export function decodeRestorePayload(c: Client, key: string, payload: Buffer, limits: LoadLimits): RedisValue | null {
  const server = c.server;
  try {
    return decodeDumpPayload(payload, limits);
  } catch (e) {
    if (e instanceof RdbFormatError) {
      // rdbReportCorruptRDB in a RESTORE context: logged at verbose level, the command fails.
      if (server.log.enabled('verbose')) server.log.verbose(`Internal error in RDB reading offset 0, function at rdb.c:0 -> ${e.message}`);
    } else {
      // Not a format error the decoder recognised (e.g. an allocation a corrupt length asked
      // for): still refused, but worth a closer look.
      server.log.warning(`RESTORE of key '${key}' failed decoding the payload: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    return null;
  }
}
