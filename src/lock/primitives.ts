/**
 * The three primitives on the shared machinery of held.ts: an exclusive `Lock` (optionally
 * fair: FIFO among waiters), a `ReadWriteLock` and a counting `Semaphore`. Each is a set of
 * keys plus the scripts of scripts.ts; waiting, durability, fencing and the watchdog are common.
 */
import { ClientAdapter, type LockClient } from './client.js';
import {
  acquireWith,
  asNumber,
  Held,
  LockError,
  parseAcquire,
  resolveOptions,
  sibling,
  usingWith,
  type AcquireOptions,
  type CommonOptions,
  type Primitive,
} from './held.js';
import { LOCK_ACQUIRE, LOCK_EXTEND, LOCK_RELEASE, QUEUE_LEAVE, RW_ACQUIRE, RW_EXTEND, RW_RELEASE, SEM_ACQUIRE, SEM_EXTEND, SEM_RELEASE } from './scripts.js';

type Script = typeof RW_ACQUIRE;

/**
 * A primitive whose grants can be shared (both sides of a ReadWriteLock, Semaphore): the name,
 * its fencing counter and wake-up list, and its three scripts; `limit` is the script's extra
 * argument (the side, or the number of permits), read at each attempt: the primitive is made
 * in the base class's constructor, before a subclass's own fields are set.
 */
function sharedPrimitive(
  adapter: ClientAdapter,
  name: string,
  options: Primitive['options'],
  scripts: { acquire: Script; release: Script; extend: Script },
  limit: () => string | number,
): Primitive {
  const fence = sibling(name, 'fence');
  const wake = sibling(name, 'wake');
  return {
    name,
    adapter,
    options,
    tryOnce: async (owner, ttl, join) => parseAcquire(await adapter.run(scripts.acquire, [name, fence, wake], [owner, ttl, limit(), options.maxWaitSlice * 2, join ? '1' : '0'])),
    wakeKey: () => wake,
    leave: async () => undefined,
    releaseScript: async (owner) => asNumber(await adapter.run(scripts.release, [name, wake], [owner])) === 1,
    extendScript: async (owner, ttl) => asNumber(await adapter.run(scripts.extend, [name], [owner, ttl])) === 1,
  };
}

export interface LockOptions extends CommonOptions {
  /** FIFO among waiters (a queue of waiter ids; each waiter is woken on its own list). */
  fair?: boolean;
}

/** What Lock, both sides of a ReadWriteLock and Semaphore share: acquire, tryAcquire, using. */
export abstract class LockPrimitive {
  protected readonly p: Primitive;
  constructor(client: LockClient, name: string, options: CommonOptions) {
    if (typeof name !== 'string' || name === '') throw new TypeError('nodis/lock: name must be a non-empty string');
    this.p = this.primitive(ClientAdapter.of(client), name, resolveOptions(options));
  }
  protected abstract primitive(adapter: ClientAdapter, name: string, options: Primitive['options']): Primitive;

  get name(): string {
    return this.p.name;
  }

  /** Waits for the grant (`wait` ms, default forever); rejects with LockError. */
  acquire(opts: AcquireOptions = {}): Promise<Held> {
    return acquireWith(this.p, this.p.options.ttl, opts, (owner, token, started) => new Held(this.p, owner, token, started, this.p.options.ttl));
  }

  /** One try: the grant, or null when it is taken. */
  async tryAcquire(): Promise<Held | null> {
    try {
      return await this.acquire({ wait: 0 });
    } catch (e) {
      if (e instanceof LockError && e.code === 'TIMEOUT') return null;
      throw e;
    }
  }

  /** acquire, run `fn` with a watchdog renewing every ttl/3, release (also when `fn` throws). */
  using<T>(fn: (held: Held) => Promise<T> | T, opts: AcquireOptions = {}): Promise<T> {
    return usingWith(() => this.acquire(opts), this.p.options.ttl, fn);
  }
}

/**
 * An exclusive lock stored exactly like redis-py's `Lock` (the owner's token under `name`), so
 * a Python `r.lock(name)` and this lock exclude each other.
 */
export class Lock extends LockPrimitive {
  constructor(client: LockClient, name: string, options: LockOptions = {}) {
    super(client, name, options);
    this.fair = options.fair === true;
  }
  private fair = false;

  protected primitive(adapter: ClientAdapter, name: string, options: Primitive['options']): Primitive {
    const fence = sibling(name, 'fence');
    const wake = sibling(name, 'wake');
    const queue = sibling(name, 'queue');
    const qtimes = sibling(name, 'queue-times');
    const wakePrefix = `${wake}:`;
    // A queued waiter re-polls at least every maxWaitSlice; three missed polls and it is dropped.
    const lease = (): number => (this.fair ? options.maxWaitSlice * 3 + 1000 : 0);
    // A waiter re-announces itself on every try, so the flag outlives one BLPOP slice.
    const flagLease = options.maxWaitSlice * 2;
    return {
      name,
      adapter,
      options,
      tryOnce: async (owner, ttl, join) => parseAcquire(await adapter.run(LOCK_ACQUIRE, [name, fence, queue, qtimes, wake], [owner, ttl, lease(), join ? '1' : '0', flagLease])),
      wakeKey: (owner) => (this.fair ? wakePrefix + owner : wake),
      leave: async (owner) => {
        if (this.fair) await adapter.run(QUEUE_LEAVE, [name, queue, qtimes, wake], [owner, wakePrefix]);
      },
      releaseScript: async (owner) => asNumber(await adapter.run(LOCK_RELEASE, [name, wake, queue], [owner, wakePrefix])) === 1,
      extendScript: async (owner, ttl) => asNumber(await adapter.run(LOCK_EXTEND, [name], [owner, ttl])) === 1,
    };
  }

  /** Whether anyone (this library, redis-py, …) holds the lock now. */
  async isLocked(): Promise<boolean> {
    return asNumber(await this.p.adapter.send(['EXISTS', this.p.name])) === 1;
  }
}

/** One side of a ReadWriteLock: many readers at once, or one writer. */
class RwSide extends LockPrimitive {
  constructor(
    client: LockClient,
    name: string,
    options: CommonOptions,
    private readonly mode: 'read' | 'write',
  ) {
    super(client, name, options);
  }
  protected primitive(adapter: ClientAdapter, name: string, options: Primitive['options']): Primitive {
    return sharedPrimitive(adapter, name, options, { acquire: RW_ACQUIRE, release: RW_RELEASE, extend: RW_EXTEND }, () => this.mode);
  }
}

/**
 * A read-write lock: `readLock` grants are shared, `writeLock` grants exclusive. Readers that
 * keep arriving can delay a writer (no writer preference); both sides share one fencing counter.
 */
export class ReadWriteLock {
  readonly readLock: LockPrimitive;
  readonly writeLock: LockPrimitive;
  constructor(client: LockClient, name: string, options: CommonOptions = {}) {
    this.readLock = new RwSide(client, name, options, 'read');
    this.writeLock = new RwSide(client, name, options, 'write');
  }
}

export interface SemaphoreOptions extends CommonOptions {
  /** How many holders at once. */
  permits: number;
}

/** A counting semaphore: at most `permits` holders, each with its own lease and fencing token. */
export class Semaphore extends LockPrimitive {
  constructor(client: LockClient, name: string, options: SemaphoreOptions) {
    if (!Number.isInteger(options.permits) || options.permits < 1) throw new RangeError('nodis/lock: permits must be a positive integer');
    super(client, name, options);
    this.permits = options.permits;
  }
  private permits = 1;

  protected primitive(adapter: ClientAdapter, name: string, options: Primitive['options']): Primitive {
    return sharedPrimitive(adapter, name, options, { acquire: SEM_ACQUIRE, release: SEM_RELEASE, extend: SEM_EXTEND }, () => this.permits);
  }
}
