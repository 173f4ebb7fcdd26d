/**
 * The replica side of replication: the link to our master (replication.c's connectWithMaster,
 * syncWithMaster, readSyncBulkPayload and the master client).
 *
 * A state machine fed by socket events and the once-per-second cron:
 *   connect → connecting → handshake (PING, AUTH, REPLCONF listening-port / ip-address /
 *   capa eof / capa psync2, PSYNC <replid> <offset+1>) → transfer (+FULLRESYNC: the RDB as
 *   `$<len>` or `$EOF:<40-byte mark>`, then load it) → connected (+CONTINUE or after the load).
 * Any failure goes back to `connect` and the cron retries every second, as Redis does.
 *
 * Once connected, the socket belongs to the master client: a real Client with isMaster set,
 * so its commands bypass READONLY and run through the same processCommand()/call() path as
 * everyone's. Its replies are discarded (REPLCONF GETACK answers on the link itself). The
 * bytes of every applied command are fed verbatim to our own stream (offset, backlog,
 * sub-replicas), which is what makes chained replication and PSYNC2 work.
 */
import net from 'node:net';
import type { Server } from '../server/server.js';
import { Client, NO_ARGV } from '../server/client.js';
import { encodeCommand } from '../server/propagate.js';
import { countDirectCall } from '../server/executor.js';
import { ProtocolError } from '../protocol/parser.js';
import { disconnectAllBlockedClients } from '../server/blocking.js';
import type { ReplicationState } from './state.js';
import { loadRdb, loadRdbSliced, canLoadWhileReceiving, StreamedRdbLoad } from './rdb-transfer.js';
import { startLoading, stopLoading, loadingProgress } from '../persistence/loading.js';
import { StreamConsumer, adoptContinueId, adoptFullSync, psyncRequest } from './psync.js';
import { directWriterFor, type DirectWriter } from '../server/direct-writes.js';
import { connectSharedReads, setSharedReader, sharedReadsEnabled } from '../server/shared-reads.js';

/** The line of rdb.c (7.0.15) whose rdbReportReadError reports an RDB cut short. */
const RDB_EOF_ERROR_LINE = 3240;

/** `loading`: the received image is being loaded in slices (the link waits, bytes are kept). */
export type LinkState = 'connect' | 'connecting' | 'handshake' | 'transfer' | 'loading' | 'connected';

/** Handshake steps, in the order the replies arrive. */
type Step = 'pong' | 'auth' | 'port' | 'ip' | 'capa' | 'psync';

const EOF_MARK_SIZE = 40;

/** `REPLCONF ACK <offset>` up to the offset's length: the part every ACK shares. */
const ACK_PREFIX = '*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n';
/** Room after ACK_PREFIX for `$<digits>\r\n<offset>\r\n` (offsets below 2^63: 19 digits). */
const ACK_ROOM = 32;

/**
 * Writes `$<n>\r\n<offset>\r\n` after ACK_PREFIX in `buf` (which starts with it); answers
 * the length of the whole ACK.
 */
export function encodeAck(buf: Buffer, offset: number): number {
  let digits = 1;
  for (let v = offset; v >= 10; v = Math.floor(v / 10)) digits++;
  let at = ACK_PREFIX.length;
  buf[at++] = 0x24; // '$'
  if (digits >= 10) buf[at++] = 48 + Math.floor(digits / 10);
  buf[at++] = 48 + (digits % 10);
  buf[at++] = 13;
  buf[at++] = 10;
  const end = at + digits;
  for (let p = end - 1, v = offset; p >= at; p--, v = Math.floor(v / 10)) buf[p] = 48 + (v % 10);
  buf[end] = 13;
  buf[end + 1] = 10;
  return end + 2;
}

export class MasterLink {
  state: LinkState = 'connect';
  socket: net.Socket | null = null;
  /** The master client once connected. */
  client: Client | null = null;
  /** Bytes received and not yet consumed by the handshake / transfer. */
  private inbuf: Buffer = Buffer.alloc(0);
  private steps: Step[] = [];
  /** Transfer: -1 while reading the `$` line, then the size (or -2 with an EOF mark). */
  private transferSize = -1;
  private transferMark = '';
  private transferChunks: Buffer[] = [];
  /** The image being loaded as it arrives (rdb-transfer.ts), instead of kept in transferChunks. */
  private streamLoad: StreamedRdbLoad | null = null;
  /** True while the server shows LOADING (or async loading) for a diskless load. */
  private disklessLoading = false;
  transferRead = 0;
  private fullSyncReplid = '';
  private fullSyncOffset = 0;
  /** ms of the last byte received (master_last_io_seconds_ago, repl-timeout). */
  lastIo: number;
  /** ms the link went down (master_link_down_since_seconds), 0 = never up yet. */
  downSince = 0;
  /**
   * True from +FULLRESYNC until the new image is loaded: the old history is gone (Redis discards
   * its cached master) and the new one not yet ours, so our offset reads 0 (replicationGetSlaveOffset).
   */
  historyDiscarded = false;
  /** Which received bytes each applied command used (fed to our own stream). */
  private consumer: StreamConsumer | null = null;
  /** Writes ACKs straight to the socket's handle while connected (direct-writes.ts), or null. */
  private ackWriter: DirectWriter | null = null;
  /** False after a failed load: the next PSYNC asks for a full resync. */
  private canPartial = true;
  /** The master closed the link while the image was loading (handled once it is loaded). */
  private lostWhileLoading = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Durable failover fence (REPLCONF DURABLE-FENCE): the time (ms) it was set, 0 = none. While
   * set, the link stays down — our offset cannot grow while a sentinel compares it with the
   * other replicas', and the old master cannot renew its lease with us. It does not expire: it
   * holds until this link is replaced (REPLICAOF another master, or NO ONE) or a sentinel lifts
   * it (DURABLE-FENCE 0) — a fence that expired before a slow reconfiguration let the old master
   * acknowledge a write the promoted replica lacked (docs/CONSISTENCY.md).
   */
  fencedSince = 0;

  constructor(
    readonly st: ReplicationState,
    readonly host: string,
    readonly port: number,
    /** Told whether the target of a FAILOVER in progress accepted our PSYNC (roles.ts ends it). */
    private readonly onFailoverPsync: (accepted: boolean) => void,
  ) {
    this.lastIo = st.server.clock.now();
  }

  private get server(): Server {
    return this.st.server;
  }

  /** master_sync_total_bytes: the RDB's size, -1 when streamed with an EOF mark. */
  get transferTotal(): number {
    return this.transferSize >= 0 ? this.transferSize : -1;
  }

  /** Bytes read from the master so far (slave_read_repl_offset). */
  get readOffset(): number {
    return this.st.masterReplOffset + (this.client === null ? 0 : this.client.parser.pendingBytes);
  }

  /** connectWithMaster. */
  connect(): void {
    if (this.state !== 'connect') return;
    if (this.fencedSince !== 0) return;
    const log = this.server.log;
    log.notice(`Connecting to MASTER ${this.host}:${this.port}`);
    this.state = 'connecting';
    this.lastIo = this.server.clock.now();
    // bind-source-addr: the local address the master sees this replica connect from.
    const source = this.server.config.getString('bind-source-addr');
    const target = source === '' ? { host: this.host, port: this.port } : { host: this.host, port: this.port, localAddress: source };
    // tls-replication: the link is TLS, and the handshake's end is the "connect" Redis waits for.
    const secure = this.server.config.getBool('tls-replication');
    // A plain link reads into the shared buffer (shared-reads.ts): no Buffer and no stream
    // event per read of the stream; what is kept past a read is copied (onSharedRead).
    const shared = !secure && source === '' && sharedReadsEnabled();
    const sock = (secure ? this.server.tls.dial(target) : null) ?? (shared ? connectSharedReads(target) : net.connect(target));
    this.socket = sock;
    sock.setNoDelay(true);
    log.notice('MASTER <-> REPLICA sync started');
    sock.on(secure ? 'secureConnect' : 'connect', () => {
      if (this.socket !== sock) return;
      log.notice('Non blocking connect for SYNC fired the event.');
      this.state = 'handshake';
      this.startHandshake();
    });
    if (!setSharedReader(sock, (chunk) => this.onSharedRead(sock, chunk))) {
      sock.on('data', (chunk: Buffer) => {
        if (this.socket !== sock) return;
        this.onData(chunk);
      });
    }
    sock.on('error', (e) => {
      if (this.socket !== sock) return;
      if (this.state === 'connecting') log.warning(`Error condition on socket for SYNC: ${describeSocketError(e)}`);
    });
    // The link goes when its EOF is read ('end', right after the read), as Redis frees the
    // master client on a 0-byte read; 'close' comes only when Node closes the handle, later in
    // the loop turn, after other clients' commands (an INFO there said the link was up).
    const lost = (): void => {
      if (this.socket !== sock) return;
      if (this.state === 'loading') {
        this.lostWhileLoading = true;
        return;
      }
      this.linkDown(this.state === 'connected' ? 'Connection with master lost.' : null);
    };
    sock.on('end', lost);
    sock.on('close', lost);
  }

  private send(argv: string[]): void {
    this.socket?.write(Buffer.from(encodeCommand(argv), 'latin1'));
  }

  private startHandshake(): void {
    const cfg = this.server.config;
    // Pipelined: each reply is checked in order as it arrives.
    this.send(['PING']);
    this.steps = ['pong'];
    const pass = cfg.getString('masterauth');
    if (pass !== '') {
      const user = cfg.getString('masteruser');
      this.send(user !== '' ? ['AUTH', user, pass] : ['AUTH', pass]);
      this.steps.push('auth');
    }
    const announcePort = cfg.getNumber('replica-announce-port');
    const tlsPort = cfg.getBool('tls-replication') ? cfg.getNumber('tls-port') : 0;
    this.send(['REPLCONF', 'listening-port', String(announcePort !== 0 ? announcePort : tlsPort !== 0 ? tlsPort : this.server.boundPort || cfg.getNumber('port'))]);
    this.steps.push('port');
    const announceIp = cfg.getString('replica-announce-ip');
    if (announceIp !== '') {
      this.send(['REPLCONF', 'ip-address', announceIp]);
      this.steps.push('ip');
    }
    this.send(['REPLCONF', 'capa', 'eof', 'capa', 'psync2']);
    this.steps.push('capa');
  }

  /** Sends PSYNC once the preceding replies are in (slaveTryPartialResynchronization). */
  private sendPsync(): void {
    const st = this.st;
    const log = this.server.log;
    const { replid, offset } = psyncRequest(st, this.canPartial);
    if (this.canPartial) {
      log.notice(`Trying a partial resynchronization (request ${replid}:${offset}).`);
    } else {
      log.notice('Partial resynchronization not possible (no cached master)');
    }
    // A master handing over (FAILOVER) asks its target to promote itself.
    if (st.failover.state === 'failover-in-progress') this.send(['PSYNC', replid, String(offset), 'FAILOVER']);
    else this.send(['PSYNC', replid, String(offset)]);
    this.steps.push('psync');
  }

  /**
   * A read of a shared-read link: `chunk` is valid only during this call. The stream is applied
   * from it directly and what the parser and the consumer still hold of it is copied after; the
   * handshake and the transfer keep their bytes, so they get a copy to begin with.
   */
  private onSharedRead(sock: net.Socket, chunk: Buffer): void {
    if (this.socket !== sock) return;
    if (this.state !== 'connected') {
      this.onData(Buffer.from(chunk));
      return;
    }
    const c = this.client;
    const consumer = this.consumer;
    this.onData(chunk);
    c?.parser.release(chunk);
    consumer?.release(chunk);
  }

  private onData(chunk: Buffer): void {
    const now = (this.lastIo = this.server.clock.now());
    this.server.stats.netInputBytes += chunk.length;
    if (this.state === 'connected') {
      // The read's time for the master client too: one clock read per read of the stream.
      this.feedStream(chunk, now);
      return;
    }
    this.inbuf = this.inbuf.length === 0 ? chunk : Buffer.concat([this.inbuf, chunk]);
    if (this.state === 'loading') return; // the stream starts once the image is loaded
    for (;;) {
      const state = this.state as LinkState;
      if (this.socket === null || state === 'connected') break;
      if (state === 'handshake') {
        if (!this.handshakeStep()) return;
      } else if (state === 'transfer') {
        if (!this.transferStep()) return;
      } else {
        // 'loading': finishLoading() feeds what arrived meanwhile.
        return;
      }
    }
    // Bytes that followed the RDB (or +CONTINUE) are the start of the stream.
    if ((this.state as LinkState) === 'connected' && this.inbuf.length > 0) {
      const rest = this.inbuf;
      this.inbuf = Buffer.alloc(0);
      this.feedStream(rest);
    }
  }

  /** Reads a CRLF-terminated line from inbuf, or null if incomplete. */
  private readLine(): string | null {
    const nl = this.inbuf.indexOf(10);
    if (nl < 0) return null;
    const end = nl > 0 && this.inbuf[nl - 1] === 13 ? nl - 1 : nl;
    const line = this.inbuf.latin1Slice(0, end);
    this.inbuf = this.inbuf.subarray(nl + 1);
    return line;
  }

  /** Consumes one handshake reply; false when more bytes are needed or the link failed. */
  private handshakeStep(): boolean {
    const step = this.steps[0];
    if (step === undefined) return false;
    const line = this.readLine();
    if (line === null) return false;
    // Masters send newlines to keep the link alive while they prepare.
    if (line === '') return true;
    this.steps.shift();
    const log = this.server.log;
    const isError = line.startsWith('-');
    switch (step) {
      case 'pong':
        // NOAUTH / NOPERM mean the master is alive and AUTH follows (as Redis accepts).
        if (isError && !line.startsWith('-NOAUTH') && !line.startsWith('-NOPERM') && !line.startsWith('-ERR operation not permitted')) {
          log.warning(`Error reply to PING from master: '${line.slice(1)}'`);
          return this.fail();
        }
        log.notice('Master replied to PING, replication can continue...');
        return true;
      case 'auth':
        if (isError) {
          log.warning(`Unable to AUTH to MASTER: ${line.slice(1)}`);
          return this.fail();
        }
        return true;
      case 'port':
        if (isError) log.notice(`(Non critical) Master does not understand REPLCONF listening-port: ${line.slice(1)}`);
        return true;
      case 'ip':
        if (isError) log.notice(`(Non critical) Master does not understand REPLCONF ip-address: ${line.slice(1)}`);
        return true;
      case 'capa':
        if (isError) log.notice(`(Non critical) Master does not understand REPLCONF capa: ${line.slice(1)}`);
        this.sendPsync();
        return true;
      case 'psync':
        return this.psyncReply(line);
    }
  }

  /** +FULLRESYNC / +CONTINUE / errors (slaveTryPartialResynchronization's reply half). */
  private psyncReply(line: string): boolean {
    const log = this.server.log;
    const st = this.st;
    if (st.failover.state === 'failover-in-progress') {
      if (line.startsWith('+FULLRESYNC') || line.startsWith('+CONTINUE')) {
        this.onFailoverPsync(true);
      } else {
        this.onFailoverPsync(false);
        return false;
      }
    }
    if (line.startsWith('+FULLRESYNC')) {
      const parts = line.split(' ');
      this.fullSyncReplid = parts[1] ?? '';
      this.fullSyncOffset = Number(parts[2] ?? '-1');
      log.notice(`Full resync from master: ${this.fullSyncReplid}:${this.fullSyncOffset}`);
      this.historyDiscarded = true;
      this.state = 'transfer';
      this.transferSize = -1;
      this.transferChunks = [];
      this.transferRead = 0;
      return true;
    }
    if (line.startsWith('+CONTINUE')) {
      const newId = line.slice('+CONTINUE'.length).trim();
      log.notice('Successful partial resynchronization with master.');
      // The master's history continues ours under a new id (it was promoted): keep the old
      // id valid up to here, and let our own replicas reconnect to learn the new one.
      if (adoptContinueId(st, newId)) {
        log.notice(`Master replication ID changed to ${newId}`);
        st.disconnectReplicas();
      }
      log.notice('MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.');
      this.becomeConnected(null);
      return true;
    }
    if (line.startsWith('-NOMASTERLINK') || line.startsWith('-LOADING')) {
      log.notice(`Master is currently unable to PSYNC but should be in the future: ${line.slice(1)}`);
      return this.fail();
    }
    log.warning(`Unexpected reply to PSYNC from master: ${line}`);
    return this.fail();
  }

  /** Reads the RDB payload (readSyncBulkPayload). */
  private transferStep(): boolean {
    const log = this.server.log;
    if (this.transferSize === -1) {
      const line = this.readLine();
      if (line === null) return false;
      if (line === '') return true;
      if (line.startsWith('-')) {
        log.warning(`MASTER aborted replication with an error: ${line.slice(1)}`);
        return this.fail();
      }
      if (!line.startsWith('$')) {
        log.warning(`Bad protocol from MASTER, the first byte is not '$' (we received '${line}'), are you sure the host and port are right?`);
        return this.fail();
      }
      if (line.startsWith('$EOF:') && line.length === 5 + EOF_MARK_SIZE) {
        this.transferMark = line.slice(5);
        this.transferSize = -2;
      } else {
        this.transferSize = Number(line.slice(1));
      }
      this.beginTransfer();
      return true;
    }
    if (this.inbuf.length === 0) return false;
    const stream = this.streamLoad;
    if (this.transferSize === -2) {
      if (stream !== null) stream.append(this.inbuf);
      else this.transferChunks.push(this.inbuf);
      this.transferRead += this.inbuf.length;
      this.inbuf = Buffer.alloc(0);
      if (this.disklessLoading) loadingProgress(this.server, this.transferRead);
      // As Redis: the mark must end a read (the master holds the stream until our first ACK).
      const tail = stream !== null ? stream.tail(EOF_MARK_SIZE) : this.lastBytes(EOF_MARK_SIZE);
      if (tail !== this.transferMark) return false;
      if (stream !== null) return this.finishTransfer(null, true);
      const image = Buffer.concat(this.transferChunks);
      this.transferChunks = [];
      return this.finishTransfer(image.subarray(0, image.length - EOF_MARK_SIZE), true);
    }
    const want = this.transferSize - this.transferRead;
    const take = Math.min(want, this.inbuf.length);
    if (stream !== null) stream.append(this.inbuf.subarray(0, take));
    else this.transferChunks.push(this.inbuf.subarray(0, take));
    this.transferRead += take;
    this.inbuf = this.inbuf.subarray(take);
    if (this.disklessLoading) loadingProgress(this.server, this.transferRead);
    if (this.transferRead < this.transferSize) return false;
    if (stream !== null) return this.finishTransfer(null, false);
    const image = Buffer.concat(this.transferChunks);
    this.transferChunks = [];
    return this.finishTransfer(image, false);
  }

  /**
   * The payload starts. With repl-diskless-load (swapdb, or on-empty-db on an empty dataset)
   * Redis loads it straight from the socket: the server is LOADING meanwhile — or, with swapdb
   * and the same replication id (the old data is an earlier point of the same history), async
   * loading, serving the old dataset — and a failed transfer leaves the old dataset in place.
   * nodis keeps the image in memory until it is whole and loads it then, so the old dataset
   * stays untouched until success in every mode; these states give clients Redis's view.
   */
  private beginTransfer(): void {
    const server = this.server;
    const log = server.log;
    const eof = this.transferSize === -2;
    const mode = server.config.getString('repl-diskless-load');
    const diskless = mode === 'swapdb' || (mode === 'on-empty-db' && server.dbs.every((db) => db.dict.size === 0));
    const to = diskless ? 'to parser' : 'to disk';
    log.notice(eof
      ? `MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF ${to}`
      : `MASTER <-> REPLICA sync: receiving ${this.transferSize} bytes from master ${to}`);
    const async = mode === 'swapdb' && this.st.replid === this.fullSyncReplid;
    // Parsed as it arrives, into databases of its own (an async load keeps the whole image).
    this.streamLoad?.abort();
    this.streamLoad = !async && canLoadWhileReceiving(server) ? new StreamedRdbLoad(server, eof ? EOF_MARK_SIZE : 0) : null;
    if (!diskless) return;
    log.notice('MASTER <-> REPLICA sync: Loading DB in memory');
    startLoading(server, eof ? 0 : this.transferSize);
    server.asyncLoading = async;
    this.disklessLoading = true;
  }

  /** Leaves the LOADING / async-loading state of a diskless load, if in it. */
  private endDisklessLoading(): void {
    if (!this.disklessLoading) return;
    this.disklessLoading = false;
    this.server.asyncLoading = false;
    stopLoading(this.server);
  }

  private lastBytes(n: number): string {
    let s = '';
    for (let i = this.transferChunks.length - 1; i >= 0 && s.length < n; i--) {
      // Only the chunk's tail: the mark is 40 bytes, a chunk up to 64 KB, read on every chunk.
      const chunk = this.transferChunks[i]!;
      s = chunk.latin1Slice(Math.max(0, chunk.length - (n - s.length)), chunk.length) + s;
    }
    return s.length >= n ? s.slice(s.length - n) : '';
  }

  /** Loads the received RDB (null: the streamed load's) and goes online with the master's id and offset. */
  private finishTransfer(image: Buffer | null, usedMark: boolean): boolean {
    const server = this.server;
    const log = server.log;
    const st = this.st;
    const diskless = this.disklessLoading;
    this.endDisklessLoading();
    // Our own replicas were fed a history we are about to replace.
    st.disconnectReplicas();
    log.notice('MASTER <-> REPLICA sync: Flushing old data');
    if (!diskless) log.notice('MASTER <-> REPLICA sync: Loading DB in memory');
    if (!server.asyncLoading) {
      // Loaded in slices while clients get -LOADING; the stream waits in inbuf.
      const sock = this.socket;
      this.state = 'loading';
      this.lostWhileLoading = false;
      const stream = this.streamLoad;
      this.streamLoad = null;
      (stream !== null ? stream.finish() : loadRdbSliced(server, image!)).then(
        () => this.finishLoading(sock, usedMark),
        (e: unknown) => {
          log.warning(`Failed trying to load the MASTER synchronization DB from socket: ${(e as Error).message}`);
          this.canPartial = false;
          if (this.state === 'loading' && this.socket === sock) this.fail();
        },
      );
      return false;
    }
    // swapdb with our own history (async loading): the old dataset is served until the
    // load, which runs at once.
    try {
      loadRdb(server, image!);
    } catch (e) {
      log.warning(`Failed trying to load the MASTER synchronization DB from socket: ${(e as Error).message}`);
      this.canPartial = false;
      return this.fail();
    }
    this.syncLoaded(usedMark);
    return true;
  }

  /** The sliced load ended: go online, then feed the stream bytes that arrived meanwhile. */
  private finishLoading(sock: net.Socket | null, usedMark: boolean): void {
    // REPLICAOF NO ONE / another master meanwhile: the link was closed, nothing to resume.
    if (this.state !== 'loading' || this.socket !== sock) return;
    this.syncLoaded(usedMark);
    if (this.lostWhileLoading) {
      this.linkDown('Connection with master lost.');
      return;
    }
    if (this.inbuf.length > 0) {
      const rest = this.inbuf;
      this.inbuf = Buffer.alloc(0);
      this.feedStream(rest);
    }
  }

  /** The image is in: take the master's id and offset and go online (readSyncBulkPayload's end). */
  private syncLoaded(usedMark: boolean): void {
    const st = this.st;
    const log = this.server.log;
    adoptFullSync(st, this.fullSyncReplid, this.fullSyncOffset);
    this.historyDiscarded = false;
    st.backlog = null;
    st.ensureBacklog();
    this.canPartial = true;
    log.notice('MASTER <-> REPLICA sync: Finished with success');
    // The master SELECTs before its first command after a full sync.
    this.becomeConnected(0);
    // A diskless master holds the stream until this first ACK.
    if (usedMark) this.sendAck();
  }

  /** Creates the master client on the link (replicationCreateMasterClient). */
  private becomeConnected(db: number | null): void {
    const server = this.server;
    const sock = this.socket!;
    const c = new Client(server, server.newClientId(), sock, server.dbs[db ?? 0]!);
    c.kind = 'master';
    c.isMaster = true;
    c.setAuthenticated('default');
    c.parser.limits.fromMaster = true;
    // Replies to the master are discarded, but an error means our dataset may have diverged:
    // logged as Redis does (afterErrorReply). An unknown command leaves c.cmd at the previous
    // one, hence '<unknown>' as Redis's NULL lastcmd prints.
    c.reply.onError = (msg) => {
      server.recordError(c, msg);
      server.stats.unexpectedErrorReplies++;
      const cmd = msg.startsWith('ERR unknown command') || c.cmd === null ? '<unknown>' : c.cmd.fullName;
      server.log.warning(`== CRITICAL == This replica is sending an error to its master: '${msg.slice(0, 4096)}' after processing the command '${cmd}'`);
    };
    if (db === null) {
      const keep = this.lastDb ?? this.st.restoredStreamDb;
      if (keep !== null) c.db = server.dbs[keep] ?? c.db;
    }
    server.registerClient(c);
    this.client = c;
    this.consumer = new StreamConsumer(c.parser);
    this.ackWriter = directWriterFor(sock);
    this.state = 'connected';
    this.downSince = 0;
    this.sendAck();
  }

  /**
   * The db the master client had SELECTed when the link dropped (kept for +CONTINUE, also
   * across REPLICAOF to another master: Redis's cached master keeps its db).
   */
  lastDb: number | null = null;

  /** The master stream's current db (what an RDB saved now records as repl-stream-db). */
  get streamDb(): number {
    if (this.client !== null) return this.client.db.id;
    return this.lastDb ?? this.st.restoredStreamDb ?? 0;
  }

  /** Applies stream bytes: runs each complete command, then proxies its exact bytes. */
  private feedStream(chunk: Buffer, now = this.server.clock.now()): void {
    const c = this.client;
    if (c === null || c.closed) return;
    this.consumer!.feed(chunk);
    c.lastInteraction = now;
    this.processStream();
  }

  /**
   * Runs every complete command received. Our offset moves after each one (a REPLCONF GETACK
   * answers with the offset of the commands before it, as Redis's c->reploff); the bytes they
   * used go to our own stream (backlog, sub-replicas) once, after the loop — Redis feeds them
   * once per read too (replicationFeedStreamFromMasterStream at the end of processInputBuffer).
   * Nothing reads the backlog between two commands of one read: sub-replicas' PSYNCs and
   * INFO are other clients' commands, served in other callbacks.
   */
  private processStream(): void {
    const c = this.client;
    if (c === null) return;
    const server = this.server;
    const st = this.st;
    const consumer = this.consumer!;
    const before = st.masterReplOffset;
    // Bytes of the commands applied by this call: read after each command, since once the
    // loop stops at a command cut by the read's end the parser is already inside that command
    // (counting those bytes made a PSYNC after a killed link resume mid-command: psync2-reg).
    let applied = 0;
    let protocolError: ProtocolError | null = null;
    while (!c.closed && c.blocked === null) {
      // CLIENT PAUSE holds the master's writes back too; resume when it ends.
      if (server.pause.mode !== null) {
        if (this.retryTimer === null) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.processStream();
          }, 10);
        }
        break;
      }
      let argv: string[] | null;
      try {
        argv = c.parser.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        protocolError = e;
        break;
      }
      if (argv === null) break;
      if (argv.length > 0) {
        c.argv = argv;
        server.applyingMasterStream = true;
        try {
          if (argv.length !== 3 || !this.directGetAck(c, argv)) server.applyMasterCommand(c);
        } finally {
          server.applyingMasterStream = false;
        }
        c.argv = NO_ARGV;
        if (c.reply.len > 0) c.reply.truncate(0);
      }
      applied = consumer.untaken;
      st.masterReplOffset = before + applied;
    }
    const bytes = consumer.take(applied);
    if (bytes !== null) st.feedApplied(bytes, before);
    if (protocolError !== null) this.masterProtocolError(c, protocolError);
  }

  /**
   * REPLCONF GETACK from the stream, answered in the stream's loop (replconfCommand's getack
   * branch: our offset, that of the commands before it) without the generic command path, and
   * counted as call() counts it (cmdstat_replconf). False: not one (or inside MULTI, where
   * processCommand queues it), run it as any command.
   */
  private directGetAck(c: Client, argv: string[]): boolean {
    const server = this.server;
    const spec = server.commands.lookup(argv[0]!);
    if (spec === undefined || spec.fullName !== 'replconf' || c.multi !== null) return false;
    const opt = argv[1]!;
    if (opt !== 'GETACK' && (opt.length !== 6 || opt.toLowerCase() !== 'getack')) return false;
    const start = server.clock.monotonic();
    this.sendAck();
    countDirectCall(server, c, spec, argv, start);
    server.afterCommandHooks(c);
    return true;
  }

  /**
   * The master's stream is not RESP (setProtocolError for a CLIENT_MASTER, then freeClient): the
   * commands before the bad bytes stay applied, the link is closed and — its state is not cached
   * after a protocol error — the next sync is a full one.
   */
  private masterProtocolError(c: Client, e: ProtocolError): void {
    const server = this.server;
    server.log.warning(`Protocol error (${e.reason}) from client: ${server.clientInfoString(c)}.`);
    c.parser.clear();
    this.canPartial = false;
    this.linkDown('Connection with master lost.', false);
  }

  /** REPLCONF ACK <applied offset> (replicationSendAck). */
  sendAck(): void {
    const sock = this.socket;
    if (this.state !== 'connected' || sock === null) return;
    const off = this.st.masterReplOffset;
    // Past Node's Writable (one ACK per read of the stream) while the stream holds nothing to
    // keep the order; then the ACK is encoded into one buffer reused while the kernel takes
    // each write whole (no string and no Buffer per ACK).
    const w = this.ackWriter;
    if (w !== null && sock.writableLength === 0 && !sock.destroyed) {
      const buf = this.ackBuffer ?? Buffer.from(ACK_PREFIX + '$'.padEnd(ACK_ROOM, ' '), 'latin1');
      const n = encodeAck(buf, off);
      const r = w.write(buf.subarray(0, n));
      // 'queued': libuv still reads it; the next ACK takes a fresh one.
      this.ackBuffer = r === 'done' ? buf : null;
    } else {
      const text = String(off);
      sock.write(Buffer.from(`${ACK_PREFIX}$${text.length}\r\n${text}\r\n`, 'latin1'));
    }
  }

  /** sendAck's buffer, while its last write completed at once (null: make a new one). */
  private ackBuffer: Buffer | null = null;

  /** A handshake or transfer failure: drop the socket and let the cron retry. */
  private fail(): boolean {
    this.linkDown(null);
    return false;
  }

  /** The link is gone (socket closed, timeout, master client killed). */
  linkDown(message: string | null, cacheMaster = true): void {
    const wasConnected = this.state === 'connected';
    if (message !== null) this.server.log.notice(message);
    const sock = this.socket;
    this.socket = null;
    this.ackWriter = null;
    this.inbuf = Buffer.alloc(0);
    const received = this.transferChunks.reduce((n, chunk) => n + chunk.length, 0) + (this.streamLoad?.received ?? 0);
    this.transferChunks = [];
    this.streamLoad?.abort();
    this.streamLoad = null;
    if (this.disklessLoading) {
      this.logShortRead(received);
      this.endDisklessLoading();
    }
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const c = this.client;
    this.client = null;
    if (c !== null) {
      this.lastDb = c.db.id;
      if (!c.closed) this.server.freeClient(c);
    }
    if (sock !== null && !sock.destroyed) sock.destroy();
    // A link that never came up stays down "since ever" (0), as Redis's repl_down_since: INFO
    // says -1, and a cluster replica that never synced is too stale to win an election.
    if (wasConnected) {
      if (cacheMaster) this.server.log.notice('Caching the disconnected master state.');
      this.downSince = this.server.clock.now();
    }
    this.state = 'connect';
  }

  /**
   * The link dropped in the middle of a diskless load: Redis's loader hits the end of the
   * socket's stream and says so (rdbLoadRio's eoferr, rdbReportError for a socket, then
   * readSyncBulkPayload), with the bytes loaded so far as the offset. nodis held the bytes
   * instead of loading them, so the old dataset (swapdb) is untouched either way.
   */
  private logShortRead(received: number): void {
    const log = this.server.log;
    log.warning('Short read or OOM loading DB. Unrecoverable error, aborting now.');
    log.warning(
      `Internal error in RDB reading offset ${received}, function at rdb.c:${RDB_EOF_ERROR_LINE} -> Unexpected EOF reading RDB file. ` +
        'Failure loading rdb format from socket, assuming connection error, resuming operation.',
    );
    log.warning('Failed trying to load the MASTER synchronization DB from socket: Connection lost');
    if (this.server.config.getString('repl-diskless-load') === 'swapdb') {
      log.notice('MASTER <-> REPLICA sync: Discarding temporary DB in background');
    }
  }

  /** Cancels everything for good (REPLICAOF NO ONE / another master). */
  close(): void {
    this.endDisklessLoading();
    this.streamLoad?.abort();
    this.streamLoad = null;
    const c = this.client;
    this.client = null;
    this.state = 'connect';
    const sock = this.socket;
    this.socket = null;
    this.ackWriter = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (c !== null && !c.closed) this.server.freeClient(c);
    if (sock !== null && !sock.destroyed) sock.destroy();
  }

  /** Once a second: reconnect, timeouts, ACK (replicationCron's replica half). */
  cron(): void {
    const server = this.server;
    const now = server.clock.now();
    const timeout = server.config.getNumber('repl-timeout') * 1000;
    if ((this.state === 'connecting' || this.state === 'handshake') && now - this.lastIo > timeout) {
      server.log.warning('Timeout connecting to the MASTER...');
      this.linkDown(null);
    } else if (this.state === 'transfer' && now - this.lastIo > timeout) {
      server.log.warning("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
      this.linkDown(null);
    } else if (this.state === 'connected' && now - this.lastIo > timeout) {
      server.log.warning('MASTER timeout: no data nor PING received...');
      this.linkDown('Connection with master lost.');
    }
    if (this.state === 'connect') this.connect();
    else if (this.state === 'connected') this.sendAck();
    // A newline keeps the master from timing us out while we load (replicationSendNewlineToMaster).
    else if (this.state === 'loading' && !this.lostWhileLoading) this.socket?.write('\n');
  }

  /** Fences the link: it goes down now and stays down until re-pointed or lifted. */
  fence(): void {
    if (this.fencedSince === 0) this.fencedSince = Math.max(1, this.server.clock.monotonic());
    if (this.state !== 'connect') this.linkDown('Link to the master fenced by a durable failover.');
  }

  /** Lifts the fence (a sentinel aborted its failover, or found the fence stale). */
  unfence(): void {
    if (this.fencedSince === 0) return;
    this.fencedSince = 0;
    this.server.log.notice('Durable failover fence lifted.');
    this.connect();
  }

  /** Our master client was freed by someone else (CLIENT KILL TYPE master). */
  clientFreed(c: Client): void {
    if (c === this.client) this.linkDown('Connection with master lost.');
  }
}

/** Switches a master into a replica: blocked clients are told, the link starts. */
export function prepareForReplicaRole(server: Server): void {
  disconnectAllBlockedClients(server);
}

function describeSocketError(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'Connection refused';
  if (e.code === 'ETIMEDOUT') return 'Connection timed out';
  if (e.code === 'EHOSTUNREACH') return 'No route to host';
  return e.message;
}
