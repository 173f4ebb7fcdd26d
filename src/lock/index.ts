/**
 * nodis/lock — distributed locks for ioredis and node-redis clients, against any Redis 6+ or
 * nodis server, standalone or Sentinel-managed.
 *
 * Design, and why:
 * - **Same value format as redis-py.** An exclusive lock is the owner's 32-hex token under the
 *   lock's own key, taken with SET NX PX and released/extended by redis-py's own Lua checks,
 *   so a Python `r.lock(name)` and a `Lock` on the same name exclude each other.
 * - **Fencing tokens that only grow, also across failovers.** Every grant runs, in the same
 *   script, a hybrid logical clock on `<name>:fence`: max(last + 1, server TIME in µs). On one
 *   master it grows by ≥ 1 per grant; a failover can drop the last grants, but the promoted
 *   replica's clock is ahead of the lost ones by at least the failure-detection time, so the
 *   next token is larger still (scripts.ts has the argument; scripts/lock-harness.mjs checks it
 *   under real SIGKILL/SIGSTOP failovers). The protected resource enforces it (fence.ts).
 * - **Durable grants.** After the acquire script the client sends WAIT for a majority of the
 *   replicas (of the most it has ever seen connected, so a master cut off from its replicas
 *   cannot lower the bar); too few acknowledgements release the grant and reject with
 *   LockError('NOT_DURABLE'). Renewals are made durable the same way. Redis's own docs say WAIT
 *   does not make Redis strongly consistent: the grant can still be lost if every acknowledging
 *   replica fails too — that is what fencing is for.
 * - **A lease clock on the client.** `held.signal` aborts when the lease runs out without a
 *   durable renewal (counted from before the request, less drift), when a renewal finds the
 *   lock gone, or on release. `using()` runs a watchdog renewing every ttl/3.
 * - **Waiting without polling.** A busy acquire blocks (BLPOP on its own pooled connection) on
 *   a wake-up list that release pushes to, for at most the holder's remaining lease; the fair
 *   variant queues waiter ids and wakes the head on its own list (FIFO).
 * - No run-time dependency: the client is recognised by shape (client.ts).
 */
export { Lock, LockPrimitive, ReadWriteLock, Semaphore, type LockOptions, type SemaphoreOptions } from './primitives.js';
export { Held, LockError, DEFAULT_TTL, type AcquireOptions, type CommonOptions, type Durability, type LockErrorCode } from './held.js';
export { Fence, FencingError, checkFence, fencedSet } from './fence.js';
export { closeLockConnections, type LockClient, type IoredisLike, type NodeRedisLike, type NodeRedisSentinelLike } from './client.js';
