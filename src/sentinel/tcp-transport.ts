/**
 * The real link layer: RESP client connections over TCP (or TLS, with tls-replication) (replies parsed with the shared reply
 * parser). Replies are matched to callbacks in order, as hiredis does; on a pub/sub connection
 * `message` pushes go to `onMessage`. A connect that does not complete within the timeout is
 * reported as closed, so the state machine sees a down instance rather than waiting forever.
 */
import dns from 'node:dns';
import net from 'node:net';
import { type Reply, ReplyParser, encodeCommand } from '../protocol/reply-parser.js';
import type { Addr, Connection, ConnectionEvents, Transport } from './transport.js';


class TcpConnection implements Connection {
  private readonly socket: net.Socket;
  private readonly parser = new ReplyParser();
  private readonly callbacks: ((r: Reply) => void)[] = [];
  private closed = false;
  private connected = false;

  constructor(
    addr: Addr,
    private readonly events: ConnectionEvents,
    connectTimeoutMs: number,
    dialTls: ((addr: Addr) => net.Socket) | null,
  ) {
    // With tls-replication every link (masters, replicas, other sentinels) is TLS; it is up
    // once the handshake is done.
    this.socket = dialTls !== null ? dialTls(addr) : net.createConnection({ host: addr.host, port: addr.port });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(connectTimeoutMs);
    this.socket.on(dialTls !== null ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      this.socket.setTimeout(0);
      this.socket.setKeepAlive(true, 15000);
      if (!this.closed) this.events.onConnect();
    });
    this.socket.on('timeout', () => {
      if (!this.connected) this.fail();
    });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.parser.feed(chunk);
    for (;;) {
      let r: Reply | undefined;
      try {
        r = this.parser.next();
      } catch {
        this.fail();
        return;
      }
      if (r === undefined) return;
      if ((r.type === 'array' || r.type === 'push') && r.elements.length === 3 && r.elements[0]!.type === 'string' && r.elements[0]!.value.toString('latin1') === 'message') {
        const [, ch, payload] = r.elements as [Reply, Reply, Reply];
        if (ch.type === 'string' && payload.type === 'string') this.events.onMessage?.(ch.value.toString('latin1'), payload.value.toString('latin1'));
        continue;
      }
      const cb = this.callbacks.shift();
      cb?.(r);
      if (this.closed) return;
    }
  }

  private fail(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.events.onClose();
  }

  command(argv: string[], cb?: (reply: Reply) => void): void {
    if (this.closed) return;
    this.callbacks.push(cb ?? (() => {}));
    this.socket.write(encodeCommand(argv));
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  localAddress(): string | null {
    const a = this.socket.localAddress;
    if (a === undefined) return null;
    return a.startsWith('::ffff:') ? a.slice(7) : a;
  }
}

/** How long a resolved address is trusted before it is looked up again. */
const RESOLVE_TTL_MS = 30_000;

export class TcpTransport implements Transport {
  private readonly resolved = new Map<string, { ip: string | null; at: number; pending: boolean }>();

  constructor(
    private readonly connectTimeoutMs = 1000,
    private readonly dialTls: ((addr: Addr) => net.Socket) | null = null,
  ) {}

  connect(addr: Addr, events: ConnectionEvents): Connection {
    return new TcpConnection(addr, events, this.connectTimeoutMs, this.dialTls);
  }

  resolve(host: string): string | null {
    if (net.isIP(host) !== 0) return host;
    let e = this.resolved.get(host);
    if (e === undefined) this.resolved.set(host, (e = { ip: null, at: 0, pending: false }));
    if (!e.pending && Date.now() - e.at > RESOLVE_TTL_MS) {
      e.pending = true;
      const entry = e;
      dns.lookup(host, (err, address) => {
        entry.pending = false;
        entry.at = Date.now();
        if (err === null) entry.ip = address;
      });
    }
    return e.ip;
  }
}
