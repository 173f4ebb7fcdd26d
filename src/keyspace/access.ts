/**
 * Per-key access records, as Redis keeps them in each object's 24-bit `lru` field (evict.c):
 *
 * - LRU policies (and every non-LFU policy): the LRU clock of the last access, in seconds modulo
 *   2^24 (LRU_CLOCK_RESOLUTION = 1000 ms). OBJECT IDLETIME and the eviction pool estimate the
 *   idle time from it, wrapping like estimateObjectIdleTime().
 * - LFU policies: `(ldt << 8) | counter` — the time of the last decrement in minutes modulo
 *   2^16, and a logarithmic 8-bit access counter that starts at LFU_INIT_VAL, grows with
 *   probability 1/((counter − LFU_INIT_VAL)·lfu-log-factor + 1) and loses one per
 *   lfu-decay-time minutes without access.
 *
 * As in Redis, switching policy at run time reinterprets the stored numbers rather than
 * converting them ("LRU and LFU data will take some time to adjust").
 *
 * Unlike Redis, records are only kept while the policy is an LRU or LFU one (see `track`).
 *
 * The clocks are cached in `AccessPolicy` and advanced by the server's cron (Redis's
 * server.lruclock), so recording an access costs no clock read. Time comes from the server's
 * injected clock.
 */

export const LRU_CLOCK_MAX = (1 << 24) - 1;
export const LFU_INIT_VAL = 5;

/** The server's view of how to record accesses, refreshed by its cron and CONFIG SET. */
export interface AccessPolicy {
  /**
   * Records are kept only under an LRU or LFU maxmemory-policy, the only ones that evict by
   * them: they cost a map entry (~30 bytes) per key, which users of other policies would pay
   * for nothing but OBJECT IDLETIME. A key without a record counts as last accessed at `epoch`.
   */
  track: boolean;
  /** LRU clock when tracking last started or stopped (or the server started). */
  epoch: number;
  /** True under allkeys-lfu / volatile-lfu. */
  lfu: boolean;
  /** LRU clock: seconds modulo 2^24. */
  lruClock: number;
  /** LFU clock: minutes modulo 2^16. */
  minutes: number;
  /** lfu-log-factor */
  logFactor: number;
  /** lfu-decay-time (minutes; 0 = never decay) */
  decayTime: number;
  /** Uniform random number in [0, 1). */
  random(): number;
}

export function lruClockAt(ms: number): number {
  return Math.floor(ms / 1000) & LRU_CLOCK_MAX;
}

export function lfuMinutesAt(ms: number): number {
  return Math.floor(ms / 60000) & 65535;
}

/** The record of a key just created. */
export function initialAccess(p: AccessPolicy): number {
  return p.lfu ? (p.minutes << 8) | LFU_INIT_VAL : p.lruClock;
}

/** Idle time in ms of an LRU record (estimateObjectIdleTime); no record = idle since `epoch`. */
export function idleMs(p: AccessPolicy, record: number | undefined): number {
  const clock = p.lruClock;
  const lru = (record ?? p.epoch) & LRU_CLOCK_MAX;
  return (clock >= lru ? clock - lru : clock + (LRU_CLOCK_MAX - lru)) * 1000;
}

/** The LFU counter after applying the decay for the time since its last decrement (LFUDecrAndReturn). */
export function lfuCounter(p: AccessPolicy, record: number | undefined): number {
  if (record === undefined) return LFU_INIT_VAL;
  const ldt = (record >>> 8) & 65535;
  const counter = record & 255;
  if (p.decayTime === 0) return counter;
  const elapsed = p.minutes >= ldt ? p.minutes - ldt : 65535 - ldt + p.minutes;
  const periods = Math.floor(elapsed / p.decayTime);
  return periods > counter ? 0 : counter - periods;
}

/** An LFU record after one access: decay, then a logarithmic increment (updateLFU). */
export function lfuTouched(p: AccessPolicy, record: number): number {
  let counter = lfuCounter(p, record);
  if (counter < 255) {
    const base = Math.max(0, counter - LFU_INIT_VAL);
    if (p.random() < 1 / (base * p.logFactor + 1)) counter++;
  }
  return (p.minutes << 8) | counter;
}

/**
 * The record RESTORE … IDLETIME / FREQ (and RDB IDLE/FREQ opcodes) set (objectSetLRUOrLFU):
 * under LFU only a frequency applies, otherwise only an idle time in seconds; null when the
 * given information does not apply to the current policy.
 */
export function restoredAccess(p: AccessPolicy, freq: number, idleSeconds: number): number | null {
  if (p.lfu) return freq >= 0 ? (p.minutes << 8) | freq : null;
  if (idleSeconds < 0) return null;
  let abs = p.lruClock - idleSeconds;
  // The clock wraps: an idle time larger than the clock becomes "half-way in the future",
  // which reads as very idle, as in Redis.
  if (abs < 0) abs = (p.lruClock + Math.floor(LRU_CLOCK_MAX / 2)) % LRU_CLOCK_MAX;
  return abs;
}
