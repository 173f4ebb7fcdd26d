/**
 * Keyspace notifications (Redis 7.0.15 notify.c).
 *
 * Every write reports its event through the keyspace's write API (`Database.modified()`,
 * `removed()`, `notify()` → `server.notify(cls, event, key, db)`); this module decides from `notify-keyspace-events` whether the event's
 * class is enabled and publishes it as ordinary Pub/Sub messages:
 *   `__keyspace@<db>__:<key>`   carrying the event name   (flag K)
 *   `__keyevent@<db>__:<event>` carrying the key name     (flag E)
 * The directive's canonical text form (CONFIG GET) is produced by the config registry
 * (canonicalNotifyFlags, keyspaceEventsFlagsToString); here it is turned into a per-class
 * lookup so the common "notifications off" case costs one comparison per write.
 */
import type { Server, NotifyClass } from './server.js';
import { publishMessage } from './pubsub.js';

/** The classes `A` stands for (NOTIFY_ALL: everything but `n` new-key and `m` key-miss). */
const ALL_CLASSES = 'g$lshzxetd';

/** Parsed notify-keyspace-events. */
interface NotifyFlags {
  keyspace: boolean;
  keyevent: boolean;
  /** Enabled event classes, by flag character. */
  classes: Set<string>;
}

/** keyspaceEventsStringToFlags over the canonical string (already validated by the config). */
export function parseNotifyFlags(text: string): NotifyFlags {
  const flags: NotifyFlags = { keyspace: false, keyevent: false, classes: new Set() };
  for (const ch of text) {
    if (ch === 'K') flags.keyspace = true;
    else if (ch === 'E') flags.keyevent = true;
    else if (ch === 'A') for (const c of ALL_CLASSES) flags.classes.add(c);
    else flags.classes.add(ch);
  }
  return flags;
}

export function install(server: Server): void {
  let flags = parseNotifyFlags('');
  /** False when nothing can be published (no K/E, or no class): the fast path. */
  let enabled = false;
  server.config.watch('notify-keyspace-events', (v) => {
    flags = parseNotifyFlags(String(v));
    enabled = (flags.keyspace || flags.keyevent) && flags.classes.size > 0;
  });
  server.hooks.notify = (cls: NotifyClass, event: string, key: string, dbId: number): void => {
    if (!enabled || !flags.classes.has(cls)) return;
    if (flags.keyspace) publishMessage(server, `__keyspace@${dbId}__:${key}`, event, 'channel');
    if (flags.keyevent) publishMessage(server, `__keyevent@${dbId}__:${event}`, key, 'channel');
  };
}
