/**
 * Waiting on conditions (never on sleeps) for integration tests: polling, INFO fields, a
 * replica caught up with its master.
 */
import type { Redis } from 'ioredis';

/** Polls `check` every 20 ms until it returns true, or fails after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One INFO section as field → value. */
export async function info(c: Redis, section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await c.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Waits until the replica's link is up and it applied everything its master has fed so far. */
export async function caughtUp(master: Redis, replica: Redis, timeoutMs = 60000): Promise<void> {
  await waitFor(
    'the replica to catch up',
    async () => {
      const ri = await info(replica, 'replication');
      return ri.master_link_status === 'up' && Number(ri.slave_repl_offset) >= Number((await info(master, 'replication')).master_repl_offset);
    },
    timeoutMs,
  );
}
