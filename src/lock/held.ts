/**
 * What every primitive shares: the errors, the durability step (WAIT after a grant), the
 * waiting loop (BLPOP on a wake-up list, never a sleep-and-retry loop against the lock key),
 * and the `Held` handle with its fencing token, its AbortSignal and its validity clock.
 */
import { randomBytes } from 'node:crypto';
import { ClientAdapter, type Reply, type Script } from './client.js';

export type LockErrorCode =
  /** `acquire({ wait })` ran out of time. */
  | 'TIMEOUT'
  /** The grant did not reach enough replicas in time; it was released again. */
  | 'NOT_DURABLE'
  /** release/extend of a lock this holder no longer owns (expired, or taken after a failover). */
  | 'NOT_OWNED'
  /** The server could not be reached or answered with an error. */
  | 'UNAVAILABLE';

export class LockError extends Error {
  override readonly name = 'LockError';
  constructor(
    readonly code: LockErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How many replicas must acknowledge a grant (and every renewal) before it counts. */
export interface Durability {
  /** A number, or 'majority' of the replicas (default): ⌊n/2⌋+1 of the most ever seen connected. */
  replicas?: number | 'majority';
  /** WAIT's timeout in ms (default 1000). */
  timeout?: number;
}

export interface CommonOptions {
  /** Lease in ms (default 30 000); `using()` renews it every ttl/3 while the function runs. */
  ttl?: number;
  /** `false`: no WAIT (a failover may erase a grant); default `{ replicas: 'majority' }`. */
  durability?: Durability | false;
  /**
   * Longest single BLPOP while waiting, in ms (default 1000). Holders using this library wake a
   * waiter when they release; a holder that doesn't (redis-py) is noticed within this time.
   */
  maxWaitSlice?: number;
}

export interface AcquireOptions {
  /** How long to wait for the lock in ms (default: forever); 0 tries once. */
  wait?: number;
}

export const DEFAULT_TTL = 30_000;

/** A 32-hex-digit owner id, the shape of redis-py's `uuid1().hex` token. */
export function ownerId(): string {
  return randomBytes(16).toString('hex');
}

/** `<name>:<suffix>` in the same cluster slot as `name` (a hash tag is added unless one exists). */
export function sibling(name: string, suffix: string): string {
  const open = name.indexOf('{');
  const close = open >= 0 ? name.indexOf('}', open + 1) : -1;
  if (close > open + 1) return `${name}:${suffix}`;
  return `{${name}}:${suffix}`;
}

/** The per-primitive scripts and keys the shared machinery drives. */
export interface Primitive {
  readonly name: string;
  readonly adapter: ClientAdapter;
  readonly options: Required<Omit<CommonOptions, 'durability'>> & { durability: Durability | false };
  /** Runs the acquire script once: a fencing token, or ms until the holder's lease ends. */
  tryOnce(owner: string, ttl: number, joinQueue: boolean): Promise<{ token: number } | { retryIn: number }>;
  /** The list a waiter blocks on. */
  wakeKey(owner: string): string;
  /** Gives up a place in a fair queue (no-op for the others). */
  leave(owner: string): Promise<void>;
  releaseScript(owner: string): Promise<boolean>;
  extendScript(owner: string, ttl: number): Promise<boolean>;
}

export function resolveOptions(o: CommonOptions): Primitive['options'] {
  const ttl = o.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError('nodis/lock: ttl must be a positive integer (ms)');
  return { ttl, durability: o.durability ?? {}, maxWaitSlice: o.maxWaitSlice ?? 1000 };
}

export function asNumber(r: Reply): number {
  return typeof r === 'number' ? r : Number(String(r));
}

/** Parses the `{1, token}` / `{0, ms}` answer of every acquire script. */
export function parseAcquire(r: Reply): { token: number } | { retryIn: number } {
  const a = r as Reply[];
  return asNumber(a[0]!) === 1 ? { token: asNumber(a[1]!) } : { retryIn: asNumber(a[1]!) };
}

/**
 * The replicas WAIT must count for `d` on this master, from INFO replication. A nodis master in
 * durable-acknowledgment mode (`durable_writes:1`, docs/CONSISTENCY.md) replied to the grant
 * only once a majority of its replica set held it — and refuses writes without its lease — so
 * the default majority needs no WAIT there: 0.
 */
async function replicasWanted(adapter: ClientAdapter, d: Durability): Promise<number> {
  if (typeof d.replicas === 'number') return d.replicas;
  const info = String(await adapter.send(['INFO', 'replication']));
  if (/^durable_writes:1\r?$/m.test(info)) return 0;
  const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? '0');
  // A master that lost its replicas (a zombie after a failover) must not lower the bar.
  adapter.replicasSeen = Math.max(adapter.replicasSeen, connected);
  const n = adapter.replicasSeen;
  return n === 0 ? 0 : Math.floor(n / 2) + 1;
}

/**
 * WAIT until `d`'s replicas have the writes so far; resolves with the count, or rejects with
 * NOT_DURABLE (after `undo`) when too few acknowledged.
 */
export async function makeDurable(p: Primitive, what: string): Promise<number> {
  const d = p.options.durability;
  if (d === false) return 0;
  const wanted = await replicasWanted(p.adapter, d);
  if (wanted === 0) return 0;
  const acked = asNumber(await p.adapter.send(['WAIT', wanted, d.timeout ?? 1000]));
  if (acked < wanted) {
    throw new LockError('NOT_DURABLE', `${what} of "${p.name}" reached ${acked} of ${wanted} replicas`);
  }
  return acked;
}

function unavailable(e: unknown): LockError {
  return e instanceof LockError ? e : new LockError('UNAVAILABLE', `nodis/lock: ${(e as Error).message}`, { cause: e });
}

/**
 * The acquire loop shared by every primitive: try, and if busy, block on the wake-up list for
 * at most min(time left, holder's remaining lease, maxWaitSlice); `wait` counts like redis-py's
 * blocking_timeout (never longer in total, at least one try).
 */
export async function acquireWith(p: Primitive, ttl: number, opts: AcquireOptions, make: (owner: string, token: number, started: number) => Held): Promise<Held> {
  const wait = opts.wait ?? Infinity;
  const deadline = performance.now() + wait;
  const owner = ownerId();
  try {
    for (;;) {
      const started = performance.now();
      let r: Awaited<ReturnType<Primitive['tryOnce']>>;
      try {
        r = await p.tryOnce(owner, ttl, wait > 0);
      } catch (e) {
        // Durable mode: a grant a majority did not acknowledge in time may still have been
        // applied — give it back before reporting the failure.
        if (String((e as Error).message).startsWith('NOREPLICAS')) await p.releaseScript(owner).catch(() => false);
        throw e;
      }
      if ('token' in r) {
        try {
          await makeDurable(p, 'acquisition');
        } catch (e) {
          await p.releaseScript(owner).catch(() => false);
          throw e;
        }
        return make(owner, r.token, started);
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        await p.leave(owner).catch(() => undefined);
        throw new LockError('TIMEOUT', `could not acquire "${p.name}" within ${wait} ms`);
      }
      const slice = Math.max(1, Math.min(left, r.retryIn > 0 ? r.retryIn : p.options.maxWaitSlice, p.options.maxWaitSlice));
      await p.adapter.withBlocking((send) => send(['BLPOP', p.wakeKey(owner), (slice / 1000).toFixed(3)]));
    }
  } catch (e) {
    throw unavailable(e);
  }
}

/**
 * A granted lock (or read/write share, or semaphore permit). `signal` aborts the moment the
 * grant can no longer be trusted: released, found not owned, or its lease ran out locally
 * without a durable renewal (the server may already have handed it to someone else).
 */
export class Held {
  private readonly controller = new AbortController();
  private expiry: NodeJS.Timeout | undefined;
  private validUntilMs: number;
  private released = false;

  constructor(
    private readonly primitive: Primitive,
    /** The owner id stored on the server (the redis-py-compatible lock value). */
    readonly owner: string,
    /** Fencing token: larger than every token handed out before for this name. */
    readonly token: number,
    started: number,
    ttl: number,
  ) {
    this.validUntilMs = started;
    this.arm(started, ttl);
  }

  get name(): string {
    return this.primitive.name;
  }

  /** Aborted when the grant is lost; `reason` is a LockError. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** performance.now() after which this holder must assume the grant is gone. */
  get validUntil(): number {
    return this.validUntilMs;
  }

  /** Validity counts from before the request was sent, less a clock drift allowance. */
  private arm(started: number, ttl: number): void {
    clearTimeout(this.expiry);
    this.validUntilMs = started + ttl - (Math.floor(ttl * 0.01) + 2);
    const left = this.validUntilMs - performance.now();
    this.expiry = setTimeout(() => this.lose('EXPIRED', `lease of "${this.name}" ran out`), Math.max(0, left));
    this.expiry.unref();
  }

  /** Marks the grant lost (idempotent). */
  lose(code: LockErrorCode | 'EXPIRED' | 'RELEASED', message: string): void {
    clearTimeout(this.expiry);
    if (!this.controller.signal.aborted) {
      this.controller.abort(new LockError(code === 'EXPIRED' || code === 'RELEASED' ? 'NOT_OWNED' : code, message));
    }
  }

  /** Sets the remaining lease to `ms` (default: the primitive's ttl), durably. */
  async extend(ms: number = this.primitive.options.ttl): Promise<void> {
    if (this.signal.aborted) throw new LockError('NOT_OWNED', `"${this.name}" is no longer held`);
    const started = performance.now();
    let ok: boolean;
    try {
      ok = await this.primitive.extendScript(this.owner, ms);
    } catch (e) {
      throw unavailable(e);
    }
    if (!ok) {
      this.lose('NOT_OWNED', `"${this.name}" is no longer owned`);
      throw new LockError('NOT_OWNED', `cannot extend "${this.name}": no longer owned`);
    }
    await makeDurable(this.primitive, 'extension');
    if (!this.signal.aborted) this.arm(started, ms);
  }

  /** Releases the grant and wakes a waiter; rejects with NOT_OWNED if it was already lost. */
  async release(): Promise<void> {
    if (this.released) throw new LockError('NOT_OWNED', `"${this.name}" was already released`);
    this.released = true;
    const wasLost = this.signal.aborted;
    this.lose('RELEASED', `"${this.name}" was released`);
    let ok: boolean;
    try {
      ok = await this.primitive.releaseScript(this.owner);
    } catch (e) {
      throw unavailable(e);
    }
    if (!ok && !wasLost) throw new LockError('NOT_OWNED', `cannot release "${this.name}": no longer owned`);
    if (!ok) throw new LockError('NOT_OWNED', `cannot release "${this.name}": it was lost before`);
  }
}

/**
 * acquire → fn(held) with a watchdog renewing the lease every ttl/3 → release. A renewal that
 * finds the grant gone aborts `held.signal` at once; one that fails to reach the server is
 * retried at the next tick, and the lease's own timer aborts the signal when it runs out.
 */
export async function usingWith<T>(acquire: () => Promise<Held>, ttl: number, fn: (held: Held) => Promise<T> | T): Promise<T> {
  const held = await acquire();
  let renewing = false;
  const tick = setInterval(() => {
    if (renewing || held.signal.aborted) return;
    renewing = true;
    held
      .extend(ttl)
      .catch(() => undefined)
      .finally(() => (renewing = false));
  }, Math.max(1, Math.floor(ttl / 3)));
  try {
    return await fn(held);
  } finally {
    clearInterval(tick);
    await held.release().catch(() => undefined);
  }
}
