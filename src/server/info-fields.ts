/**
 * The registry of INFO field overrides: a subsystem (persistence, replication, scripting,
 * tracking …) supplies the value of one built-in INFO field with `setInfoField`, and INFO
 * (src/commands/info.ts) reads them back. It lives in server/, below the command handlers, so
 * that subsystems report their numbers without importing commands/.
 */
import type { Server } from './server.js';

export type FieldValue = string | number;
/** null leaves the field out (conditional fields such as shutdown_in_milliseconds). */
export type FieldFn = () => FieldValue | null;

const fieldOverrides = new WeakMap<Server, Map<string, FieldFn>>();

/** Lets a subsystem supply the value of one built-in INFO field. */
export function setInfoField(server: Server, name: string, fn: FieldFn): void {
  let m = fieldOverrides.get(server);
  if (m === undefined) fieldOverrides.set(server, (m = new Map()));
  m.set(name, fn);
}

/** Redis's bytesToHuman(). */
export function bytesToHuman(n: number): string {
  const K = 1024;
  if (n < K) return `${n}B`;
  if (n < K ** 2) return `${(n / K).toFixed(2)}K`;
  if (n < K ** 3) return `${(n / K ** 2).toFixed(2)}M`;
  if (n < K ** 4) return `${(n / K ** 3).toFixed(2)}G`;
  if (n < K ** 5) return `${(n / K ** 4).toFixed(2)}T`;
  if (n < K ** 6) return `${(n / K ** 5).toFixed(2)}P`;
  return `${n}B`;
}

/** The fields overridden for one server (undefined when none are). */
export function infoFieldOverrides(server: Server): ReadonlyMap<string, FieldFn> | undefined {
  return fieldOverrides.get(server);
}
