/**
 * BGREWRITEAOF: rewrites the append-only file from a snapshot of the dataset, in the background
 * (persistence/aof.ts does the work; this is only the command's reply).
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { aofOf } from '../persistence/aof.js';

function bgrewriteaof(c: Client): void {
  const aof = aofOf(c.server);
  if (aof === undefined) {
    c.reply.error('ERR Background append only file rewriting is not available');
    return;
  }
  // Inside EXEC (or a script) the rewrite is only scheduled, as Redis does with server.in_exec.
  const res = aof.bgrewriteCommand(c.server.executionNesting > 1 || c.multi !== null);
  if (res.ok) c.reply.status(res.text);
  else c.reply.error(res.text);
}

export const commands: CommandHandlers = { bgrewriteaof };
