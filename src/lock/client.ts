/**
 * The lock library's view of a Redis client: "send this command", "give me a connection I may
 * block on", and "run this script". ioredis (standalone, Sentinel-managed), node-redis clients
 * and node-redis Sentinel objects are recognised by their shape, so the library imports neither
 * package and depends on nothing at run time: the application brings its own client.
 *
 * Blocking waits (BLPOP on a wake-up list) need a connection of their own, or they would stall
 * every other command on the application's client. The adapter keeps a small pool of
 * duplicated connections, one per concurrent waiter, and closes the idle ones after a while.
 */
import { createHash } from 'node:crypto';

/** A reply as both clients hand it back in RESP2: strings, integers, nil, arrays. */
export type Reply = string | number | null | Reply[] | Buffer;

/** The part of ioredis the library uses (`Redis` and Sentinel-managed `Redis`). */
export interface IoredisLike {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  duplicate(): IoredisLike;
  disconnect(): void;
  options: object;
}

/** The part of a node-redis v4/v5 client the library uses. */
export interface NodeRedisLike {
  sendCommand(args: string[]): Promise<unknown>;
  duplicate(): NodeRedisLike;
  connect(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<void>;
}

/** The part of a node-redis `createSentinel()` object the library uses. */
export interface NodeRedisSentinelLike {
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
  acquire(): Promise<{ sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>; release(): void }>;
  getMasterNode(): unknown;
}

/** Any client the library accepts. */
export type LockClient = IoredisLike | NodeRedisLike | NodeRedisSentinelLike;

/** A connection that may block (BLPOP); handed back to the pool with `done()`. */
interface BlockingConnection {
  send(args: string[]): Promise<Reply>;
  close(): void;
}

/** How long an idle blocking connection stays in the pool. */
const IDLE_CLOSE_MS = 2000;

function isIoredis(c: LockClient): c is IoredisLike {
  return typeof (c as IoredisLike).call === 'function' && typeof (c as IoredisLike).options === 'object';
}

function isNodeRedisSentinel(c: LockClient): c is NodeRedisSentinelLike {
  return typeof (c as NodeRedisSentinelLike).getMasterNode === 'function' && typeof (c as NodeRedisSentinelLike).acquire === 'function';
}

function isNodeRedis(c: LockClient): c is NodeRedisLike {
  return typeof (c as NodeRedisLike).sendCommand === 'function' && typeof (c as NodeRedisLike).duplicate === 'function';
}

/** A Lua script with its SHA1, sent by EVALSHA and loaded by EVAL on NOSCRIPT. */
export class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

export class ClientAdapter {
  private readonly idle: { conn: BlockingConnection; timer: NodeJS.Timeout }[] = [];
  private readonly open = new Set<BlockingConnection>();
  /** The most replicas this process has seen connected to the master (see `durability`). */
  replicasSeen = 0;

  private constructor(private readonly client: LockClient) {}

  private static readonly adapters = new WeakMap<object, ClientAdapter>();

  /** One adapter per client object, so every lock on a client shares the blocking pool. */
  static of(client: LockClient): ClientAdapter {
    let a = ClientAdapter.adapters.get(client);
    if (a === undefined) {
      if (!isIoredis(client) && !isNodeRedisSentinel(client) && !isNodeRedis(client)) {
        throw new TypeError('nodis/lock: expected an ioredis or node-redis client');
      }
      a = new ClientAdapter(client);
      ClientAdapter.adapters.set(client, a);
    }
    return a;
  }

  /** Sends one command on the application's client. */
  send(args: (string | number)[]): Promise<Reply> {
    const c = this.client;
    const strs = args.map(String);
    if (isIoredis(c)) return c.call(strs[0]!, ...strs.slice(1)) as Promise<Reply>;
    if (isNodeRedisSentinel(c)) return c.sendCommand(false, strs) as Promise<Reply>;
    return (c as NodeRedisLike).sendCommand(strs) as Promise<Reply>;
  }

  /** EVALSHA, falling back to EVAL (which also caches the script) when the server lacks it. */
  async run(script: Script, keys: string[], args: (string | number)[]): Promise<Reply> {
    const tail = [keys.length, ...keys, ...args];
    try {
      return await this.send(['EVALSHA', script.sha, ...tail]);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      return this.send(['EVAL', script.source, ...tail]);
    }
  }

  /** Runs `fn` on a connection of its own that may block; the connection returns to the pool. */
  async withBlocking<T>(fn: (send: (args: string[]) => Promise<Reply>) => Promise<T>): Promise<T> {
    const pooled = this.idle.pop();
    let conn: BlockingConnection;
    if (pooled !== undefined) {
      clearTimeout(pooled.timer);
      conn = pooled.conn;
    } else {
      conn = await this.openBlocking();
      this.open.add(conn);
    }
    let healthy = true;
    try {
      return await fn((args) => conn.send(args));
    } catch (e) {
      healthy = false;
      throw e;
    } finally {
      if (healthy) {
        const entry = {
          conn,
          timer: setTimeout(() => {
            const i = this.idle.indexOf(entry);
            if (i >= 0) this.idle.splice(i, 1);
            this.open.delete(conn);
            conn.close();
          }, IDLE_CLOSE_MS),
        };
        this.idle.push(entry);
      } else {
        // A connection whose command failed may still have a BLPOP in flight: never reuse it.
        this.open.delete(conn);
        conn.close();
      }
    }
  }

  /** Closes every pooled blocking connection now (the application's client is left alone). */
  close(): void {
    for (const e of this.idle.splice(0)) clearTimeout(e.timer);
    for (const c of this.open) c.close();
    this.open.clear();
  }

  private async openBlocking(): Promise<BlockingConnection> {
    const c = this.client;
    if (isIoredis(c)) {
      const d = c.duplicate();
      // A blocking connection must not retry a BLPOP that timed out on a dead socket forever.
      (d as unknown as { on?: (ev: string, f: () => void) => void }).on?.('error', () => undefined);
      return { send: (a) => d.call(a[0]!, ...a.slice(1)) as Promise<Reply>, close: () => d.disconnect() };
    }
    if (isNodeRedisSentinel(c)) {
      const lease = await c.acquire();
      return { send: (a) => lease.sendCommand(false, a) as Promise<Reply>, close: () => lease.release() };
    }
    const d = (c as NodeRedisLike).duplicate();
    (d as unknown as { on?: (ev: string, f: () => void) => void }).on?.('error', () => undefined);
    await d.connect();
    return {
      send: (a) => d.sendCommand(a) as Promise<Reply>,
      close: () => {
        if (typeof d.destroy === 'function') d.destroy();
        else void d.disconnect?.().catch(() => undefined);
      },
    };
  }
}

/** Closes the blocking connections the lock library opened for `client`. */
export function closeLockConnections(client: LockClient): void {
  ClientAdapter.of(client).close();
}
