/**
 * "The server is ready" across bundles: start.js and launch.js (code-cache.ts) load the server's
 * bundle, main.js, which says when it accepts connections. Each bundle has its own copy of this
 * module, so the hooks live on one global list.
 */
const KEY = Symbol.for('nodis.serverReadyHooks');

function hooks(): (() => void)[] {
  const g = globalThis as unknown as Record<symbol, (() => void)[] | undefined>;
  return (g[KEY] ??= []);
}

/** Runs `fn` once the server accepts connections (work that must not delay start-up). */
export function onServerReady(fn: () => void): void {
  hooks().push(fn);
}

/** Called by the server once it accepts connections. */
export function serverReady(): void {
  for (const fn of hooks().splice(0)) fn();
}
