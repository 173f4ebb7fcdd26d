/**
 * Differential testing: the same commands to nodis and to the real redis-server 7.0.15, replies
 * compared exactly (errors compared by their text).
 */
import type { Redis } from 'ioredis';

export type Reply = null | number | string | Reply[];

/** A command's raw reply as bytes-faithful strings, or `ERR:<message>` for an error reply. */
export async function rawReply(client: Redis, args: (string | Buffer)[]): Promise<Reply> {
  try {
    const r = (await client.callBuffer(args[0] as string, ...args.slice(1))) as unknown;
    return normalise(r);
  } catch (e) {
    return `ERR:${(e as Error).message}`;
  }
}

function normalise(r: unknown): Reply {
  if (r === null || r === undefined) return null;
  if (typeof r === 'number') return r;
  if (Buffer.isBuffer(r)) return r.toString('latin1');
  if (Array.isArray(r)) return r.map(normalise);
  return String(r);
}

/** Runs each command on both servers in order and returns the mismatches (empty when equal). */
export async function compareServers(nodis: Redis, redis: Redis, commands: (string | Buffer)[][]): Promise<string[]> {
  const diffs: string[] = [];
  for (const cmd of commands) {
    const [a, b] = await Promise.all([rawReply(nodis, cmd), rawReply(redis, cmd)]);
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      diffs.push(`${cmd.map(String).join(' ')}\n  nodis: ${JSON.stringify(a)}\n  redis: ${JSON.stringify(b)}`);
    }
  }
  return diffs;
}
