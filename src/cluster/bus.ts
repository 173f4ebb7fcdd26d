/**
 * The cluster bus over TCP: the listener on the bus port (port + 10000 or cluster-port), inbound
 * and outbound links, and the framing of messages ("RCmb" + totlen) handed to the state machine.
 * With `tls-cluster yes` every link is TLS, as Redis's (connCreateTLS / connCreateAcceptedTLS):
 * an accepted link exists once its handshake and tls-auth-clients' certificate check passed, an
 * outgoing one counts as connected once its handshake is done.
 */
import net from 'node:net';
import { HEADER_LEN } from './codec.js';
import type { BusLink, ClusterNode, ClusterState } from './state.js';

/** Largest message accepted (a PUBLISH carries its payload; Redis has no hard cap either). */
const MAX_MESSAGE = 512 * 1024 * 1024;

function plainIp(addr: string | undefined): string {
  if (addr === undefined) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export class SocketLink implements BusLink {
  node: ClusterNode | null;
  readonly ctime: number;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;

  constructor(
    readonly socket: net.Socket,
    readonly inbound: boolean,
    node: ClusterNode | null,
    now: number,
    private readonly bus: ClusterBus,
  ) {
    this.node = node;
    this.ctime = now;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.lost());
    socket.on('close', () => this.lost());
  }

  send(buf: Buffer): void {
    if (this.closed) return;
    this.socket.write(buf);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.bus.links.delete(this);
    this.socket.destroy();
  }

  localIp(): string {
    return plainIp(this.socket.localAddress);
  }

  peerIp(): string {
    return plainIp(this.socket.remoteAddress);
  }

  pendingBytes(): number {
    return this.socket.writableLength;
  }

  private lost(): void {
    if (this.closed) return;
    if (this.node !== null) this.bus.state.env.log.debug(`I/O error with Node ${this.node.name}`);
    this.bus.state.linkLost(this);
  }

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.chunks.push(d);
    this.buffered += d.length;
    while (!this.closed && this.buffered >= 8) {
      const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [head];
      const totlen = head.readUInt32BE(4);
      if (head.toString('latin1', 0, 4) !== 'RCmb' || totlen < HEADER_LEN || totlen > MAX_MESSAGE) {
        this.bus.state.env.log.warning('Bad message length or signature received on the Cluster bus.');
        this.bus.state.linkLost(this);
        return;
      }
      if (this.buffered < totlen) return;
      const msg = head.subarray(0, totlen);
      const rest = head.subarray(totlen);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      // `msg` is a view of the socket's own chunk (Node hands each read a fresh buffer), so it
      // goes to the state machine without a copy.
      this.bus.state.processPacket(this, msg);
    }
  }
}

/** The server's TLS as the bus uses it (server/tls.ts's ServerTls). */
export interface BusTls {
  accept(raw: net.Socket, onReady: (socket: net.Socket) => void): void;
  dial(o: { host: string; port: number }): net.Socket | null;
}

export class ClusterBus {
  readonly links = new Set<SocketLink>();
  private readonly servers: net.Server[] = [];

  /** `tls`: tls-cluster's (read per link, as CONFIG SET may change it), null for plain TCP. */
  constructor(
    readonly state: ClusterState,
    private readonly tls: () => BusTls | null = () => null,
  ) {}

  /** Listens on every host; with port 0 the kernel picks the first host's port and the others take it. Resolves with the port. */
  async listen(hosts: string[], port: number, backlog: number): Promise<number> {
    for (const host of hosts) {
      const srv = net.createServer((raw) => {
        const tls = this.tls();
        if (tls === null) this.accept(raw);
        else tls.accept(raw, (socket) => this.accept(socket));
      });
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ host, port, backlog, ipv6Only: host.includes(':') }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      this.servers.push(srv);
      const a = srv.address();
      if (port === 0 && a !== null && typeof a === 'object') port = a.port;
    }
    return port;
  }

  private accept(socket: net.Socket): void {
    const link = new SocketLink(socket, true, null, this.state.env.now(), this);
    this.links.add(link);
    this.state.env.log.verbose(`Accepting cluster node connection from ${link.peerIp()}:${socket.remotePort ?? 0}`);
  }

  connect(node: ClusterNode): BusLink {
    const target = { host: node.ip, port: node.cport };
    const secure = this.tls()?.dial(target) ?? null;
    const socket = secure ?? net.connect(target);
    const link = new SocketLink(socket, false, node, this.state.env.now(), this);
    this.links.add(link);
    socket.once(secure !== null ? 'secureConnect' : 'connect', () => this.state.linkConnected(link));
    return link;
  }

  close(): void {
    for (const l of [...this.links]) l.close();
    for (const s of this.servers) s.close();
  }
}
