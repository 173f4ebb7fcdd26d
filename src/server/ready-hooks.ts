/**
 * "The server is ready" across bundles: start.js and launch.js (code-cache.ts) load the server's
 * bundle, main.js, which says when it accepts connections. Each bundle has its own copy of this
 * module, so the hooks live on one global list.
 */
const KEY = Symbol.for('nodis.serverReadyHooks');
const SERVED_KEY = Symbol.for('nodis.firstCommandHooks');

function hooks(key = KEY): (() => void)[] {
  const g = globalThis as unknown as Record<symbol, (() => void)[] | undefined>;
  return (g[key] ??= []);
}

/** Runs `fn` once the server accepts connections (work that must not delay start-up). */
export function onServerReady(fn: () => void): void {
  hooks().push(fn);
}

/** Called by the server once it accepts connections. */
export function serverReady(): void {
  for (const fn of hooks().splice(0)) fn();
}

/**
 * Runs `fn` once the server has executed its first client command (the code cache is written
 * then: it holds the bytecode of that command's path too, which a cache written at "ready"
 * lacks, so the next start's first command does not compile it).
 */
export function onFirstCommand(fn: () => void): void {
  hooks(SERVED_KEY).push(fn);
}

/** Whether anything waits for the first command (the server then watches for it, once). */
export function firstCommandWanted(): boolean {
  return hooks(SERVED_KEY).length > 0;
}

/** Called by the server after its first client command. */
export function firstCommandServed(): void {
  for (const fn of hooks(SERVED_KEY).splice(0)) fn();
}
