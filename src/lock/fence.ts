/**
 * The resource side of fencing (Kleppmann, "How to do distributed locking", 2016): a lock
 * holder can be paused past its lease, or a failover can hand the lock to a second client, so
 * the protected resource itself must refuse a write carrying an older token than one it has
 * already accepted. `Fence` does that for a resource in the application's memory; `fencedSet`
 * is the same check as one atomic Redis script, an example of a storage write that rejects an
 * older token.
 */
import { ClientAdapter, type LockClient } from './client.js';
import { asNumber } from './held.js';
import { FENCED_SET } from './scripts.js';

export class FencingError extends Error {
  override readonly name = 'FencingError';
  constructor(
    readonly resource: string,
    readonly token: number,
    readonly highest: number,
  ) {
    super(`stale fencing token ${token} for "${resource}": ${highest} was already accepted`);
  }
}

/**
 * Remembers the highest token each resource accepted. `check` accepts equal tokens (the same
 * holder writing again) and larger ones; an older token throws FencingError.
 */
export class Fence {
  private readonly highest = new Map<string, number>();

  check(resource: string, token: number): void {
    const h = this.highest.get(resource) ?? -Infinity;
    if (token < h) throw new FencingError(resource, token, h);
    this.highest.set(resource, token);
  }

  /** The highest token `resource` accepted, or undefined. */
  highestFor(resource: string): number | undefined {
    return this.highest.get(resource);
  }
}

const defaultFence = new Fence();

/** `checkFence(resource, token)`: the process-wide Fence's check (throws FencingError). */
export function checkFence(resource: string, token: number, fence: Fence = defaultFence): void {
  fence.check(resource, token);
}

/**
 * SET `key` to `value` only if `token` is at least the highest token `key` accepted (kept in
 * `<key>:fence-seen`, same slot). Resolves true when written; rejects with FencingError.
 */
export async function fencedSet(client: LockClient, key: string, value: string, token: number): Promise<true> {
  const adapter = ClientAdapter.of(client);
  const seenKey = key.includes('{') ? `${key}:fence-seen` : `{${key}}:fence-seen`;
  const ok = asNumber(await adapter.run(FENCED_SET, [key, seenKey], [value, token])) === 1;
  if (!ok) throw new FencingError(key, token, Number(await adapter.send(['GET', seenKey])));
  return true;
}
