/**
 * One client connection to a Redis-like server, shaped like hiredis's blocking redisContext:
 * `send()` appends a command, `read()` waits for the next reply. redis-cli's control flow is
 * sequential (write, then block on the reply), and keeping that shape makes its behaviour —
 * pipelined TYPE calls in --bigkeys, reply-per-repeat in -r — easy to follow.
 *
 * Failures carry hiredis's error strings (`Connection refused`, `Server closed the connection`,
 * `Connection reset by peer`) because redis-cli prints them verbatim.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { defaultTls13Suites, opensslReason } from '../core/tls.js';
import type { CliSslConfig } from './options.js';
import { ReplyParser, ReplyProtocolError, encodeCommand, type Reply } from '../protocol/reply-parser.js';

export type ConnTarget = { host: string; port: number } | { path: string };

/** hiredis's REDIS_ERR_* classes: redis-cli reconnects on io/eof in interactive mode. */
export type ConnErrorKind = 'io' | 'eof' | 'protocol' | 'other';

export class ConnError extends Error {
  constructor(
    readonly kind: ConnErrorKind,
    message: string,
  ) {
    super(message);
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ENOTSOCK: 'Socket operation on non-socket',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EINVAL: 'Invalid argument',
};

/** strerror()-style text for a Node socket error. */
export function errnoText(err: NodeJS.ErrnoException): string {
  return (err.code && ERRNO_TEXT[err.code]) ?? err.message;
}

/** How a connection negotiates TLS (redis-cli --tls): the context and the per-connection bits. */
export interface CliTls {
  context: tls.SecureContext;
  sni: string | null;
  insecure: boolean;
}

/** Where OpenSSL's default verify paths point on Debian (SSL_CTX_set_default_verify_paths). */
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * cliSecureConnection()'s SSL_CTX: the CA to verify with (the system's when neither --cacert nor
 * --cacertdir is given), the client certificate and key, ciphers. Returns redis-cli's error text
 * on failure.
 */
export function cliTlsContext(ssl: CliSslConfig): tls.SecureContext | string {
  let ca: Buffer[] | undefined;
  if (ssl.cacert !== null || ssl.cacertdir !== null) {
    ca = [];
    try {
      if (ssl.cacert !== null) {
        const text = fs.readFileSync(ssl.cacert);
        if (!text.includes('-----BEGIN CERTIFICATE-----')) return 'Invalid CA Certificate File/Directory';
        ca.push(text);
      }
      // OpenSSL looks a directory up lazily: a missing one only means nothing verifies.
      if (ssl.cacertdir !== null && fs.existsSync(ssl.cacertdir)) {
        for (const name of fs.readdirSync(ssl.cacertdir)) {
          const file = `${ssl.cacertdir}/${name}`;
          if (fs.statSync(file).isFile()) ca.push(fs.readFileSync(file));
        }
      }
      tls.createSecureContext({ ca });
    } catch {
      return 'Invalid CA Certificate File/Directory';
    }
  } else if (fs.existsSync(SYSTEM_CA_BUNDLE)) {
    ca = [fs.readFileSync(SYSTEM_CA_BUNDLE)];
  }
  const opts: tls.SecureContextOptions = { minVersion: 'TLSv1', ...(ca !== undefined ? { ca } : {}) };
  if (ssl.cert !== null) {
    try {
      opts.cert = fs.readFileSync(ssl.cert);
      tls.createSecureContext({ cert: opts.cert });
    } catch {
      return 'Invalid client certificate';
    }
  }
  if (ssl.key !== null) {
    try {
      opts.key = fs.readFileSync(ssl.key);
      tls.createSecureContext({ ...opts });
    } catch {
      return 'Invalid private key';
    }
  }
  if (ssl.ciphers !== null) {
    try {
      tls.createSecureContext({ ciphers: ssl.ciphers, maxVersion: 'TLSv1.2' });
    } catch {
      return 'Error while configuring ciphers';
    }
  }
  if (ssl.ciphersuites !== null) {
    try {
      tls.createSecureContext({ ciphers: ssl.ciphersuites, minVersion: 'TLSv1.3' });
    } catch {
      return 'Error while setting cypher suites';
    }
  }
  if (ssl.ciphers !== null || ssl.ciphersuites !== null) {
    opts.ciphers = `${ssl.ciphers ?? 'DEFAULT'}:${ssl.ciphersuites ?? defaultTls13Suites()}`;
  }
  return tls.createSecureContext(opts);
}

/** hiredis's "SSL_connect failed: <reason>" for a failed handshake. */
function handshakeErrorText(err: NodeJS.ErrnoException): string {
  // Node verifies the chain after the handshake and reports X509 codes; OpenSSL would have failed it.
  const x509 = typeof err.code === 'string' && !err.code.startsWith('ERR_') && !err.code.startsWith('E');
  if (x509 || err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'SSL_connect failed: certificate verify failed';
  const reason = opensslReason(err);
  return `SSL_connect failed: ${reason ?? errnoText(err)}`;
}

export class Connection {
  private parser = new ReplyParser();
  private replies: Reply[] = [];
  private waiter: (() => void) | null = null;
  /** Set once the link failed; every later read() throws it. */
  error: ConnError | null = null;
  /**
   * True once a read has reported the failure. hiredis only learns that a link is dead when a
   * read or write fails, and redis-cli's reconnect logic keys off that, not off the socket event.
   */
  noticed = false;
  /**
   * What happens to RESP3 pushes: a handler gets them, 'discard' drops them (hiredis's default
   * auto-free), null hands them to read() like any reply (redis-cli in SUBSCRIBE mode).
   */
  onPush: ((r: Reply) => void) | 'discard' | null = 'discard';

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.parser.feed(chunk);
      try {
        for (let r = this.parser.next(); r !== undefined; r = this.parser.next()) this.replies.push(r);
      } catch (e) {
        this.fail(new ConnError('protocol', e instanceof ReplyProtocolError ? e.message : String(e)));
        socket.destroy();
      }
      this.wake();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A TLS alert from the server (a refused client certificate) reaches hiredis as a reset.
      const alert = err.code?.startsWith('ERR_SSL_') === true;
      const io = alert || err.code === 'ECONNRESET' || err.code === 'EPIPE';
      this.fail(new ConnError(io ? 'io' : 'other', alert ? 'Connection reset by peer' : errnoText(err)));
    });
    socket.on('close', () => this.fail(new ConnError('eof', 'Server closed the connection')));
  }

  /** Connects, resolving to the connection or to hiredis's error text. */
  static open(target: ConnTarget, secure: CliTls | null = null): Promise<Connection | string> {
    return new Promise((resolve) => {
      const socket = 'path' in target ? net.connect(target.path) : net.connect({ host: target.host, port: target.port });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.destroy();
        resolve(errnoText(err));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 15000);
        if (secure === null) {
          resolve(new Connection(socket));
          return;
        }
        // redisInitiateSSL on the connected socket: verify the chain (unless --insecure), not the name.
        const tlsSocket = tls.connect({
          socket,
          secureContext: secure.context,
          rejectUnauthorized: !secure.insecure,
          checkServerIdentity: () => undefined,
          ...(secure.sni !== null ? { servername: secure.sni } : {}),
        });
        const onTlsError = (err: NodeJS.ErrnoException): void => {
          tlsSocket.destroy();
          resolve(handshakeErrorText(err));
        };
        tlsSocket.once('error', onTlsError);
        tlsSocket.once('secureConnect', () => {
          tlsSocket.off('error', onTlsError);
          resolve(new Connection(tlsSocket));
        });
      });
    });
  }

  private fail(err: ConnError): void {
    if (this.error === null) this.error = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }

  /** Queues a command (latin1 strings or Buffers) on the socket. */
  send(argv: readonly (string | Buffer)[]): void {
    if (this.error === null) this.socket.write(encodeCommand(argv));
  }

  /** Writes raw bytes (used by --pipe style callers). */
  write(data: Buffer): void {
    if (this.error === null) this.socket.write(data);
  }

  /** The next reply; pushes go to `onPush` when a handler is installed. Throws ConnError. */
  async read(): Promise<Reply> {
    for (;;) {
      while (this.replies.length > 0) {
        const r = this.replies.shift()!;
        if (r.type === 'push' && this.onPush !== null) {
          if (this.onPush !== 'discard') this.onPush(r);
          continue;
        }
        return r;
      }
      if (this.error) {
        this.noticed = true;
        throw this.error;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Sends one command and waits for its reply. */
  async command(argv: readonly (string | Buffer)[]): Promise<Reply> {
    this.send(argv);
    return this.read();
  }

  /**
   * Hands the socket over for raw byte I/O (SYNC's payload is not RESP; --pipe streams
   * unparsed input): no more replies are parsed. Callers detach with nothing in flight.
   */
  detach(): net.Socket {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    return this.socket;
  }

  /** Drops the link without waiting (SIGINT during SUBSCRIBE/MONITOR, `connect`, exit). */
  close(): void {
    this.socket.destroy();
  }

  get isBroken(): boolean {
    return this.error !== null;
  }
}
