/**
 * A test's raw master: the replies a replica's handshake needs, so a test can then write the
 * replication stream byte by byte where it wants.
 */
import net from 'node:net';
import { startServer, type RunningServer } from './server.js';

/**
 * Answers the handshake commands that arrived on `sock` since the replica's bytes were `before`
 * (they are `now`): one reply per PING and per REPLCONF listening-port / ip-address / capa, in
 * order. PSYNC is the caller's.
 */
export function answerHandshake(sock: net.Socket, before: string, now: string): void {
  const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;
  for (let i = count(before, /PING\r\n/g); i < count(now, /PING\r\n/g); i++) sock.write('+PONG\r\n');
  const confs = (s: string): number => count(s, /REPLCONF\r\n\$(14|10|4)\r\n(listening-port|ip-address|capa)/g);
  for (let i = confs(before); i < confs(now); i++) sock.write('+OK\r\n');
}

/** An RDB with no keys (checksum 0: not checked). */
export const EMPTY_RDB = Buffer.concat([Buffer.from('REDIS0010', 'latin1'), Buffer.of(0xff), Buffer.alloc(8)]);

/** One connection of the replica to the raw master: what it sent, and a way to wait on it. */
export interface Link {
  sock: net.Socket;
  text(): string;
  until(what: string, cond: (text: string) => boolean, timeoutMs?: number): Promise<void>;
}

/**
 * A raw master: answers each connection's handshake; a PSYNC gets `onPsync(args)`'s reply.
 * Every connection is handed to `onLink` as it is accepted.
 */
export async function rawMaster(onPsync: (replid: string, offset: number, link: Link) => void, onLink: (link: Link) => void): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    let text = '';
    const waiters = new Set<() => void>();
    const link: Link = {
      sock,
      text: () => text,
      until: (what, cond, timeoutMs = 20000) =>
        new Promise((resolve, reject) => {
          if (cond(text)) return resolve();
          const t = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(text)}`));
          }, timeoutMs);
          const check = (): void => {
            if (!cond(text)) return;
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          };
          waiters.add(check);
        }),
    };
    onLink(link);
    sock.on('data', (d) => {
      const before = text;
      text += d.toString('latin1');
      answerHandshake(sock, before, text);
      const psync = /PSYNC\r\n\$\d+\r\n([^\r]+)\r\n\$\d+\r\n(-?\d+)\r\n/.exec(text);
      if (psync !== null && !/PSYNC\r\n\$\d+\r\n([^\r]+)\r\n\$\d+\r\n(-?\d+)\r\n/.test(before)) onPsync(psync[1]!, Number(psync[2]), link);
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** `+FULLRESYNC <replid> 0` and an empty RDB: the replica starts over at offset 0. */
export function sendFullResync(sock: net.Socket, replid: string): void {
  sock.write(`+FULLRESYNC ${replid} 0\r\n$${EMPTY_RDB.length}\r\n`);
  sock.write(EMPTY_RDB);
}

/** A nodis replica of `master` (no PINGs of its own in the stream: repl-ping-replica-period 60). */
export async function startReplicaOf(master: net.Server): Promise<RunningServer> {
  const port = (master.address() as net.AddressInfo).port;
  return startServer({ args: ['--replicaof', '127.0.0.1', String(port), '--repl-ping-replica-period', '60'] });
}
