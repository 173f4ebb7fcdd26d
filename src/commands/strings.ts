/**
 * String commands. (Minimal GET/SET; the full family is being written.)
 */
import type { CommandHandlers } from './registry.js';
import type { Client } from '../server/client.js';
import { encodeString, isStringValue } from '../types/value.js';

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

function get(c: Client): void {
  const v = c.server.lookupRead(c.db, c.argv[1]!);
  if (v === undefined) c.reply.nullBulk();
  else if (typeof v === 'string') c.reply.bulk(v);
  else if (typeof v === 'number') c.reply.bulkInteger(v);
  else if (isStringValue(v)) c.reply.bulkBytes(v);
  else c.reply.error(WRONGTYPE);
}

function set(c: Client): void {
  const key = c.argv[1]!;
  c.db.set(key, encodeString(c.argv[2]!));
  c.server.modified(c.db, key, '$', 'set');
  c.reply.ok();
}

export const commands: CommandHandlers = { get, set };
