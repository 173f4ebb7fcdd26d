/**
 * The LOADING state (startLoading / loadingAbsProgress / stopLoading in rdb.c) and the pacing
 * of sliced loads.
 *
 * Redis loads its files synchronously but calls processEventsWhileBlocked every
 * `loading-process-events-interval-bytes`, so clients connect meanwhile, get `-LOADING` for
 * commands without the `loading` flag (server.ts checks `server.loading`), and read INFO's
 * loading_* fields. nodis gets the same by driving the loaders as generators (one step per key
 * or command) from an async loop that yields to the event loop between slices: a slice ends
 * when that many bytes were consumed or a few ms passed, whichever comes first.
 *
 * `key-load-delay` (µs per key or command, negative = one µs with probability 1/|n|, as
 * debugDelay does) is a test knob for slow loads; here the owed delay is slept between slices,
 * so the server stays responsive while loading slowly.
 */
import { performance } from 'node:perf_hooks';
import type { Server } from '../server/server.js';

/** What INFO reports while loading. */
interface LoadingProgress {
  startTimeSec: number;
  totalBytes: number;
  loadedBytes: number;
}

const progressByServer = new WeakMap<Server, LoadingProgress>();

/** startLoading: the server is loading `totalBytes` (0 if unknown). */
export function startLoading(server: Server, totalBytes: number): void {
  server.loading = true;
  progressByServer.set(server, { startTimeSec: Math.floor(server.clock.now() / 1000), totalBytes, loadedBytes: 0 });
}

/** loadingAbsProgress. */
export function loadingProgress(server: Server, loadedBytes: number): void {
  const p = progressByServer.get(server);
  if (p !== undefined) p.loadedBytes = loadedBytes;
}

/** stopLoading. */
export function stopLoading(server: Server): void {
  server.loading = false;
  progressByServer.delete(server);
}

/** INFO persistence's loading_* lines (only while loading), as genRedisInfoString prints them. */
export function loadingInfoLines(server: Server): string[] {
  const p = progressByServer.get(server);
  if (!server.loading || p === undefined) return [];
  let perc = 0;
  let remaining = 1;
  if (p.totalBytes > 0) {
    perc = (p.loadedBytes / p.totalBytes) * 100;
    remaining = p.totalBytes - p.loadedBytes;
  }
  const elapsed = Math.floor(server.clock.now() / 1000) - p.startTimeSec;
  const eta = elapsed === 0 ? 1 : Math.floor((elapsed * remaining) / (p.loadedBytes + 1));
  return [
    `loading_start_time:${p.startTimeSec}`,
    `loading_total_bytes:${p.totalBytes}`,
    'loading_rdb_used_mem:0',
    `loading_loaded_bytes:${p.loadedBytes}`,
    `loading_loaded_perc:${perc.toFixed(2)}`,
    `loading_eta_seconds:${eta}`,
  ];
}

/** Longest a loading slice runs before clients get a turn. */
const SLICE_MS = 10;

/**
 * Runs a loader generator (each step yields the absolute input offset reached) to completion,
 * in slices between which the event loop runs. `base` is added to the offsets for INFO (a
 * file after others).
 */
export async function runSliced<T>(server: Server, steps: Generator<number, T>, base = 0): Promise<T> {
  const interval = Math.max(1024, server.config.getNumber('loading-process-events-interval-bytes'));
  let owedUs = 0;
  for (;;) {
    const deadline = performance.now() + SLICE_MS;
    const delayUs = server.config.getNumber('key-load-delay');
    let sliceStart = -1;
    let n = 0;
    for (;;) {
      const next = steps.next();
      if (next.done === true) return next.value;
      const pos = next.value;
      if (sliceStart < 0) sliceStart = pos;
      if (delayUs > 0) owedUs += delayUs;
      else if (delayUs < 0 && Math.floor(Math.random() * -delayUs) === 0) owedUs += 1;
      if (owedUs >= 1000 || pos - sliceStart >= interval) {
        loadingProgress(server, base + pos);
        break;
      }
      if ((++n & 31) === 0 && performance.now() >= deadline) {
        loadingProgress(server, base + pos);
        break;
      }
    }
    if (owedUs >= 1000) {
      const ms = Math.floor(owedUs / 1000);
      owedUs -= ms * 1000;
      await new Promise((resolve) => setTimeout(resolve, ms));
    } else {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * What a synchronous load (DEBUG RELOAD, DEBUG LOADAOF) calls between slices to serve other
 * clients (processEventsWhileBlocked); set by the command running the load, for its duration.
 */
const eventsWhileLoading = new WeakMap<Server, () => void>();

/** Runs `load` with `events` called between the slices of any synchronous load it starts. */
export function withEventsWhileLoading<T>(server: Server, events: () => void, load: () => T): T {
  eventsWhileLoading.set(server, events);
  try {
    return load();
  } finally {
    eventsWhileLoading.delete(server);
  }
}

/**
 * Runs a loader generator to completion in one go (DEBUG RELOAD, DEBUG LOADAOF). With `server`
 * and a caller that set withEventsWhileLoading, other clients are served every slice (as often
 * as runSliced yields), so they get -LOADING instead of waiting for the whole load.
 */
export function runToEnd<T>(steps: Generator<number, T>, server?: Server, base = 0): T {
  const events = server === undefined ? undefined : eventsWhileLoading.get(server);
  if (events === undefined) {
    for (;;) {
      const next = steps.next();
      if (next.done === true) return next.value;
    }
  }
  const interval = Math.max(1024, server!.config.getNumber('loading-process-events-interval-bytes'));
  let deadline = performance.now() + SLICE_MS;
  let sliceStart = -1;
  for (let n = 1; ; n++) {
    const next = steps.next();
    if (next.done === true) return next.value;
    const pos = next.value;
    if (sliceStart < 0) sliceStart = pos;
    if (pos - sliceStart >= interval || ((n & 31) === 0 && performance.now() >= deadline)) {
      loadingProgress(server!, base + pos);
      events();
      deadline = performance.now() + SLICE_MS;
      sliceStart = -1;
    }
  }
}
