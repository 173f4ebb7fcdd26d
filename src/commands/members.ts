/** Shared by the collection families: removing members named on the command line. */
import type { Client } from '../server/client.js';
import type { NotifyClass } from '../server/server.js';

/** A collection members can be deleted from (a hash's fields, a set's members). */
export interface MemberCollection {
  delete(member: string): boolean;
  size(): number;
}

/**
 * HDEL / SREM: deletes argv[2..] from `value` (stored at `key`), replying how many went. The
 * key goes with the last member, and then `del` follows the command's own event, as in Redis.
 */
export function deleteMembers(c: Client, key: string, value: MemberCollection, cls: NotifyClass, event: string): void {
  let deleted = 0;
  let keyRemoved = false;
  for (let i = 2; i < c.argv.length; i++) {
    if (value.delete(c.argv[i]!)) {
      deleted++;
      if (value.size() === 0) {
        c.db.delete(key);
        keyRemoved = true;
        break;
      }
    }
  }
  if (deleted > 0) {
    c.db.modified(key, cls, event, deleted);
    if (keyRemoved) c.db.notify('g', 'del', key);
  }
  c.reply.integer(deleted);
}
