/**
 * The link layer under the Sentinel state machine. The core never touches sockets: it asks a
 * `Transport` for connections to an address and gets replies, pub/sub messages and close
 * notifications back as callbacks. `tcp-transport.ts` implements it over real sockets (a RESP
 * client), `sim-network.ts` over a simulated network driven by a simulated clock, so the very
 * same decisions run in production and in seeded simulation tests.
 */
import { type Reply, replyText as protocolReplyText } from '../protocol/reply-parser.js';

export interface Addr {
  host: string;
  port: number;
}

export function addrKey(a: Addr): string {
  return `${a.host}:${a.port}`;
}

export function sameAddr(a: Addr, b: Addr): boolean {
  return a.port === b.port && a.host.toLowerCase() === b.host.toLowerCase();
}

export interface ConnectionEvents {
  /** The connection is established and commands may flow. */
  onConnect(): void;
  /** The connection failed or was closed by the peer (not called after our own close()). */
  onClose(): void;
  /** A pub/sub message (only on connections that sent SUBSCRIBE). */
  onMessage?(channel: string, payload: string): void;
}

export interface Connection {
  /** Sends a command; `cb` runs when (and only if) its reply arrives. */
  command(argv: string[], cb?: (reply: Reply) => void): void;
  /** Closes the connection; no further callbacks are made. */
  close(): void;
  /** Our side's IP address, used as the announced address in hello messages. */
  localAddress(): string | null;
}

export interface Transport {
  connect(addr: Addr, events: ConnectionEvents): Connection;
  /**
   * The IP address a hostname resolves to, once known (resolve-hostnames with
   * announce-hostnames no reports it). Lookups run in the background and are cached, so the
   * first call for a name may answer null. Absent: addresses are reported as given.
   */
  resolve?(host: string): string | null;
}

/** A reply's text (status, error, bulk, number…), or null for aggregates and nulls. */
export function replyText(r: Reply): string | null {
  return protocolReplyText(r) ?? null;
}

export const status = (value: string): Reply => ({ type: 'status', value });
export const errorReply = (value: string): Reply => ({ type: 'error', value });
export const bulkReply = (value: string): Reply => ({ type: 'string', value: Buffer.from(value, 'latin1') });
export const intReply = (value: number | bigint): Reply => ({ type: 'integer', value: BigInt(value) });
export const arrayReply = (elements: Reply[]): Reply => ({ type: 'array', elements });
