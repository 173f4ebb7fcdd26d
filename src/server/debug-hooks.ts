/**
 * What DEBUG sets and other subsystems read or supply: hooks the persistence and replication
 * modules install (DEBUG RELOAD, LOADAOF, CHANGE-REPL-ID, REPLICATE) and tunables the data
 * types and persistence read (DEBUG QUICKLIST-PACKED-THRESHOLD, SET-SKIP-CHECKSUM-VALIDATION,
 * AOF-FLUSH-SLEEP, SET-DISABLE-DENY-SCRIPTS). They live here, below the command handlers, so
 * that persistence/, replication/ and scripting/ need not import commands/debug.ts.
 */
import type { Client } from './client.js';
import type { Server } from './server.js';

/** Hooks other subsystems install; each returns null on success or an error reply text. */
export const debugHooks: {
  reload: ((c: Client, opts: { merge: boolean; flush: boolean; save: boolean }) => string | null) | null;
  loadAof: ((c: Client) => string | null) | null;
  changeReplId: ((server: Server) => void) | null;
  /** DEBUG REPLICATE: feeds argv to the replication stream as is (no command runs here). */
  replicate: ((server: Server, argv: string[]) => void) | null;
} = { reload: null, loadAof: null, changeReplId: null, replicate: null };

/** Values DEBUG sets and data types / persistence read. */
export const debugTunables = {
  /** Elements at least this big go into their own quicklist node (plain node). */
  quicklistPackedThreshold: 1 << 30,
  skipChecksumValidation: false,
  aofFlushSleepUs: 0,
  disableDenyScripts: false,
};
