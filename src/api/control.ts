/**
 * What the API asks the processes it started: one command on a fresh connection (with a
 * deadline, since a paused process never answers), INFO parsed into fields, and a poll that
 * waits on a condition with a deadline instead of sleeping.
 */
import { Connection } from '../cli/connection.js';
import { replyText, type Reply } from '../protocol/reply-parser.js';

/** Sends one command; throws on a connection error, an error reply or after `timeoutMs`. */
export async function command(host: string, port: number, argv: readonly string[], timeoutMs = 2000): Promise<Reply> {
  const conn = await Connection.open({ host, port });
  if (typeof conn === 'string') throw new Error(`${host}:${port}: ${conn}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = await Promise.race([
      conn.command(argv),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${host}:${port}: no reply to ${argv[0]} within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    if (reply.type === 'error') throw new Error(`${host}:${port}: ${reply.value}`);
    return reply;
  } finally {
    clearTimeout(timer);
    conn.close();
  }
}

/** INFO [section] as name → value. */
export async function info(host: string, port: number, section = 'replication'): Promise<Map<string, string>> {
  const text = replyText(await command(host, port, ['INFO', section])) ?? '';
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) fields.set(line.slice(0, i), line.slice(i + 1));
  }
  return fields;
}

/** An array reply's elements as text (nested arrays as arrays of text). */
export function texts(reply: Reply): string[] {
  return reply.type === 'array' || reply.type === 'set' || reply.type === 'push' || reply.type === 'map' ? reply.elements.map((e) => replyText(e) ?? '') : [];
}

/** The entries of an array of flat field/value arrays (SENTINEL REPLICAS, SENTINEL SENTINELS). */
export function records(reply: Reply): Map<string, string>[] {
  if (reply.type !== 'array') return [];
  return reply.elements.map((e) => {
    const t = texts(e);
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < t.length; i += 2) m.set(t[i]!, t[i + 1]!);
    return m;
  });
}

/** Polls `check` every 25 ms until it returns a value other than null/false; throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | null | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await check();
      if (v !== null && v !== false) return v;
    } catch (e) {
      lastError = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`nodis: timed out after ${timeoutMs} ms waiting for ${what}${lastError !== '' ? ` (last error: ${lastError})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
