/**
 * `--load`: the seed's `set name tedu` made visible. A client that finds the master the way a
 * Sentinel-aware client library does (SENTINEL GET-MASTER-ADDR-BY-NAME, then ROLE to make sure
 * the node really is a master), writes and reads it back 20 times a second, and on any error
 * asks the sentinels again. It counts what a user would feel: acknowledged writes, errors (the
 * last one's text), the current and the longest gap between two acknowledged writes.
 */
import { Connection } from '../cli/connection.js';
import { replyText } from '../protocol/reply-parser.js';
import { texts } from '../api/control.js';

export interface LoadStats {
  writes: number;
  reads: number;
  errors: number;
  lastError: string;
  master: string;
  /** Milliseconds since the last acknowledged write (0 while writes flow). */
  currentGapMs: number;
  longestGapMs: number;
}

export class LoadClient {
  readonly stats: LoadStats = { writes: 0, reads: 0, errors: 0, lastError: '', master: '', currentGapMs: 0, longestGapMs: 0 };
  private conn: Connection | null = null;
  private stopped = false;
  private lastAck = Date.now();
  private counter = 0;

  constructor(
    private readonly sentinels: () => string[],
    private readonly name: string,
    private readonly onAck: (at: number, master: string) => void,
    private readonly intervalMs = 50,
  ) {
    void this.run();
  }

  private async connectToMaster(): Promise<Connection | null> {
    for (const addr of this.sentinels()) {
      const i = addr.lastIndexOf(':');
      const s = await Connection.open({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
      if (typeof s === 'string') continue;
      try {
        const [host, port] = texts(await s.command(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name]));
        if (host === undefined || port === undefined) continue;
        const m = await Connection.open({ host, port: Number(port) });
        if (typeof m === 'string') continue;
        if (texts(await m.command(['ROLE']))[0] !== 'master') {
          m.close();
          continue;
        }
        this.stats.master = `${host}:${port}`;
        return m;
      } catch {
        continue;
      } finally {
        s.close();
      }
    }
    return null;
  }

  private fail(message: string): void {
    this.stats.errors++;
    this.stats.lastError = message;
    this.conn?.close();
    this.conn = null;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      try {
        this.conn ??= await this.connectToMaster();
        if (this.conn === null) this.fail('no master reachable through the sentinels');
        else {
          const value = `tedu-${++this.counter}`;
          const w = await withDeadline(this.conn.command(['SET', 'name', value]), 1000);
          if (w.type === 'error') this.fail(w.value);
          else {
            const now = Date.now();
            this.stats.writes++;
            this.stats.longestGapMs = Math.max(this.stats.longestGapMs, now - this.lastAck);
            this.lastAck = now;
            this.onAck(now, this.stats.master);
            const r = await withDeadline(this.conn.command(['GET', 'name']), 1000);
            if (r.type === 'error') this.fail(r.value);
            else if (replyText(r) === value || r.type === 'string') this.stats.reads++;
          }
        }
      } catch (e) {
        this.fail((e as Error).message);
      }
      this.stats.currentGapMs = Date.now() - this.lastAck < this.intervalMs * 4 ? 0 : Date.now() - this.lastAck;
      const wait = Math.max(0, this.intervalMs - (Date.now() - started));
      await new Promise((r) => setTimeout(r, wait).unref());
    }
  }

  stop(): void {
    this.stopped = true;
    this.conn?.close();
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}
