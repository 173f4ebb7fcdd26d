/**
 * A test's raw master: the replies a replica's handshake needs, so a test can then write the
 * replication stream byte by byte where it wants.
 */
import type net from 'node:net';

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
