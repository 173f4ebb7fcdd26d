/**
 * The cluster bus over TCP: the listener on the bus port (port + 10000 or cluster-port), inbound
 * and outbound links, and the framing of messages ("RCmb" + totlen) handed to the state machine.
 * With `tls-cluster yes` every link is TLS, as Redis's (connCreateTLS / connCreateAcceptedTLS):
 * an accepted link exists once its handshake and tls-auth-clients' certificate check passed, an
 * outgoing one counts as connected once its handshake is done.
 */
import net from 'node:net';
import { directWriterFor, type DirectWriter } from '../server/direct-writes.js';
import { connectSharedReads, setSharedReader, sharedReadsEnabled, toSharedReads } from '../server/shared-reads.js';
import { HEADER_LEN } from './codec.js';
import type { BusLink, ClusterNode, ClusterState } from './state.js';

/** Largest message accepted (a PUBLISH carries its payload; Redis has no hard cap either). */
const MAX_MESSAGE = 512 * 1024 * 1024;
/** "RCmb" read as a big-endian 32-bit number. */
const SIGNATURE = 0x52436d62;

function plainIp(addr: string | undefined): string {
  if (addr === undefined) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export class SocketLink implements BusLink {
  node: ClusterNode | null;
  readonly ctime: number;
  /** The start of a message not read whole yet (always a copy: a shared read's chunk is reused). */
  private partial: Buffer | null = null;
  private closed = false;
  /** Writes to the socket's handle (direct-writes.ts), once the link is connected; null: socket.write. */
  private direct: DirectWriter | null = null;

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
    // Plain links read into the clients' shared buffer (shared-reads.ts); TLS ones get 'data' events.
    if (!setSharedReader(socket, (d) => this.onData(d))) socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', () => this.lost());
    socket.on('close', () => this.lost());
  }

  /** Called once the link is connected: from then on writes may go to the handle. */
  connected(): void {
    this.direct = directWriterFor(this.socket);
  }

  send(buf: Buffer): void {
    if (this.closed) return;
    const socket = this.socket;
    // Past the Writable (direct-writes.ts) while it holds nothing; a failed write destroys the socket.
    if (this.direct !== null && socket.writableLength === 0 && !socket.destroyed) this.direct.write(buf);
    else socket.write(buf);
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
    return this.socket.writableLength + (this.direct?.queued ?? 0);
  }

  private lost(): void {
    if (this.closed) return;
    if (this.node !== null) this.bus.state.env.log.debug(`I/O error with Node ${this.node.name}`);
    this.bus.state.linkLost(this);
  }

  /**
   * `d` may be the shared read buffer (valid during this call only): whole messages go to the
   * state machine as views of it (processPacket keeps no reference to its buffer); the start of
   * an incomplete one is copied.
   */
  private onData(d: Buffer): void {
    if (this.closed) return;
    let buf = d;
    if (this.partial !== null) {
      buf = Buffer.concat([this.partial, d]);
      this.partial = null;
    }
    let at = 0;
    while (!this.closed && buf.length - at >= 8) {
      const totlen = buf.readUInt32BE(at + 4);
      if (buf.readUInt32BE(at) !== SIGNATURE || totlen < HEADER_LEN || totlen > MAX_MESSAGE) {
        this.bus.state.env.log.warning('Bad message length or signature received on the Cluster bus.');
        this.bus.state.linkLost(this);
        return;
      }
      if (buf.length - at < totlen) break;
      this.bus.state.processPacket(this, buf.subarray(at, at + totlen));
      at += totlen;
    }
    if (!this.closed && at < buf.length) this.partial = buf === d ? Buffer.from(buf.subarray(at)) : buf.subarray(at);
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
    // Connections arrive paused: a plain one is moved onto shared reads (shared-reads.ts); a TLS
    // one (tls-cluster is read per connection) is wrapped as it is, which a paused socket allows.
    const paused = sharedReadsEnabled();
    for (const host of hosts) {
      const srv = net.createServer({ pauseOnConnect: paused }, (raw) => {
        const tls = this.tls();
        if (tls === null) this.accept(paused ? (toSharedReads(raw) ?? raw.resume()) : raw);
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
    link.connected();
    this.links.add(link);
    this.state.env.log.verbose(`Accepting cluster node connection from ${link.peerIp()}:${socket.remotePort ?? 0}`);
  }

  connect(node: ClusterNode): BusLink {
    const target = { host: node.ip, port: node.cport };
    const secure = this.tls()?.dial(target) ?? null;
    const socket = secure ?? (sharedReadsEnabled() ? connectSharedReads(target) : net.connect(target));
    const link = new SocketLink(socket, false, node, this.state.env.now(), this);
    this.links.add(link);
    socket.once(secure !== null ? 'secureConnect' : 'connect', () => {
      link.connected();
      this.state.linkConnected(link);
    });
    return link;
  }

  close(): void {
    for (const l of [...this.links]) l.close();
    for (const s of this.servers) s.close();
  }
}
