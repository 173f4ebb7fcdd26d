/**
 * TLS as Redis 7.0 configures it (tls.c's tlsConfigure / createSSLContext), on Node's `tls`
 * module. One settings record — the `tls-*` directives — becomes two secure contexts: the
 * server's (accepted connections) and the client's (a replica dialing its master, MIGRATE, the
 * sentinel's links), the latter from `tls-client-cert-file`/`-key-file` when both are set and
 * from `tls-cert-file`/`-key-file` otherwise, as Redis does.
 *
 * Configuration is atomic: everything is read and checked first, and a failure throws a
 * TlsConfigError carrying the line Redis logs ("Failed to load certificate: …"), leaving the
 * contexts in use untouched. OpenSSL's error strings are given in OpenSSL 3's own
 * `error:XXXXXXXX:library::reason` form.
 *
 * Peers are checked as Redis checks them: a connecting side verifies the server's chain against
 * the CA but not its host name (Redis sets SSL_VERIFY_PEER and no host check); an accepting side
 * asks for a client certificate according to `tls-auth-clients` (server/tls.ts).
 *
 * Used by nodis-server, nodis-sentinel and nodis-cli, so it lives on the lowest floor.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { createRequire } from 'node:module';

/**
 * node:tls, loaded on first use: most servers never use TLS, loading it costs start-up time, and
 * it cannot be part of a V8 start-up snapshot (docs/PERFORMANCE.md "Start-up").
 */
let tlsModule: typeof tls | null = null;
function nodeTls(): typeof tls {
  return (tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof tls);
}

export type TlsAuthClients = 'no' | 'yes' | 'optional';

/** The `tls-*` directives (empty string: unset). */
export interface TlsSettings {
  certFile: string;
  keyFile: string;
  keyFilePass: string;
  clientCertFile: string;
  clientKeyFile: string;
  clientKeyFilePass: string;
  dhParamsFile: string;
  caCertFile: string;
  caCertDir: string;
  protocols: string;
  ciphers: string;
  ciphersuites: string;
  preferServerCiphers: boolean;
  sessionCaching: boolean;
  sessionCacheTimeout: number;
  authClients: TlsAuthClients;
  replication: boolean;
  cluster: boolean;
}

/** How a settings record reads the `tls-*` directives (a config registry, or the sentinel's lines). */
export interface TlsDirectiveReader {
  str(name: string): string;
  bool(name: string): boolean;
  num(name: string): number;
}

/** The `tls-*` directives as a settings record (one place for both the server and the sentinel). */
export function tlsSettingsFrom(r: TlsDirectiveReader): TlsSettings {
  const auth = r.str('tls-auth-clients').toLowerCase();
  return {
    certFile: r.str('tls-cert-file'),
    keyFile: r.str('tls-key-file'),
    keyFilePass: r.str('tls-key-file-pass'),
    clientCertFile: r.str('tls-client-cert-file'),
    clientKeyFile: r.str('tls-client-key-file'),
    clientKeyFilePass: r.str('tls-client-key-file-pass'),
    dhParamsFile: r.str('tls-dh-params-file'),
    caCertFile: r.str('tls-ca-cert-file'),
    caCertDir: r.str('tls-ca-cert-dir'),
    protocols: r.str('tls-protocols'),
    ciphers: r.str('tls-ciphers'),
    ciphersuites: r.str('tls-ciphersuites'),
    preferServerCiphers: r.bool('tls-prefer-server-ciphers'),
    sessionCaching: r.bool('tls-session-caching'),
    sessionCacheTimeout: r.num('tls-session-cache-timeout'),
    authClients: auth === 'no' || auth === 'optional' ? auth : 'yes',
    replication: r.bool('tls-replication'),
    cluster: r.bool('tls-cluster'),
  };
}

/** A configuration failure; the message is the line Redis logs at WARNING. */
export class TlsConfigError extends Error {}

export interface TlsContexts {
  /** For accepted connections. */
  server: tls.SecureContext;
  /** For connections this process opens. */
  client: tls.SecureContext;
}

const PROTOCOLS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type Protocol = (typeof PROTOCOLS)[number];
/** The OpenSSL option that turns each protocol off (read on use: node:crypto loads on first use). */
function noProtocolOption(p: Protocol): number {
  const k = crypto.constants;
  return { TLSv1: k.SSL_OP_NO_TLSv1, 'TLSv1.1': k.SSL_OP_NO_TLSv1_1, 'TLSv1.2': k.SSL_OP_NO_TLSv1_2, 'TLSv1.3': k.SSL_OP_NO_TLSv1_3 }[p];
}
const PEM_CERT = '-----BEGIN CERTIFICATE-----';
/** OpenSSL's default TLSv1.3 suites (what Redis gets when tls-ciphersuites is unset). */
export function defaultTls13Suites(): string {
  return nodeTls().DEFAULT_CIPHERS.split(':').filter((c) => c.startsWith('TLS_')).join(':');
}

/** parseProtocolsConfig: unset means TLSv1.2 and TLSv1.3. */
function parseProtocols(text: string): Protocol[] {
  if (text === '') return ['TLSv1.2', 'TLSv1.3'];
  const out = new Set<Protocol>();
  for (const word of text.split(' ')) {
    const p = PROTOCOLS.find((name) => name.toLowerCase() === word.toLowerCase());
    if (p === undefined) throw new TlsConfigError("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
    out.add(p);
  }
  return PROTOCOLS.filter((p) => out.has(p));
}

/** OpenSSL 3's ERR_error_string_n text for an error Node reports (or a system error). */
export function opensslErrorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { reason?: string; library?: string };
  const m = /error:([0-9A-Fa-f]{8}):([^:]*):[^:]*:([^:\n]*)/.exec(err.message ?? '');
  if (m !== null) return `error:${m[1]!.toUpperCase()}:${m[2]}::${m[3]!.trim()}`;
  if (typeof err.errno === 'number' && err.syscall !== undefined) {
    const errno = Math.abs(err.errno);
    return `error:${(0x80000000 + errno).toString(16).toUpperCase()}:system library::${systemErrorText(err)}`;
  }
  return err.message ?? String(e);
}

/** Just OpenSSL's reason text of an error Node reports ("certificate verify failed"), if any. */
export function opensslReason(e: unknown): string | null {
  const m = /error:[0-9A-Fa-f]{8}:[^:]*:[^:]*:([^:\n]*)/.exec((e as Error).message ?? '');
  return m === null ? null : m[1]!.trim();
}

/** strerror() for a Node system error. */
function systemErrorText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'No such file or directory';
    case 'EACCES': return 'Permission denied';
    case 'EISDIR': return 'Is a directory';
    case 'ENOTDIR': return 'Not a directory';
    default: return err.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  }
}

function readOrThrow(file: string, fail: (detail: string) => string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TlsConfigError(fail(opensslErrorText(e)));
  }
}

/** Every certificate in a CA directory (OpenSSL looks them up by hash; reading all is the same set). */
function readCaDir(dir: string): Buffer[] {
  const out: Buffer[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (e) {
    throw new TlsConfigError(`Failed to configure CA certificate(s) file/directory: ${opensslErrorText(e)}`);
  }
  for (const name of names) {
    const file = path.join(dir, name);
    let text: Buffer;
    try {
      if (!fs.statSync(file).isFile()) continue;
      text = fs.readFileSync(file);
    } catch {
      continue;
    }
    if (text.includes(PEM_CERT)) out.push(text);
  }
  return out;
}

/** The options shared by both contexts: protocols, ciphers, CA. */
interface CommonOptions {
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  secureOptions: number;
  ciphers: string;
  ca: Buffer[] | undefined;
}

function commonOptions(s: TlsSettings): CommonOptions {
  const protocols = parseProtocols(s.protocols);
  let secureOptions = crypto.constants.SSL_OP_NO_SSLv2 | crypto.constants.SSL_OP_NO_SSLv3 | crypto.constants.SSL_OP_NO_COMPRESSION;
  const first = PROTOCOLS.indexOf(protocols[0]!);
  const last = PROTOCOLS.indexOf(protocols[protocols.length - 1]!);
  for (let i = first; i <= last; i++) if (!protocols.includes(PROTOCOLS[i]!)) secureOptions |= noProtocolOption(PROTOCOLS[i]!);

  let ca: Buffer[] | undefined;
  if (s.caCertFile !== '' || s.caCertDir !== '') {
    ca = [];
    if (s.caCertFile !== '') ca.push(readOrThrow(s.caCertFile, (d) => `Failed to configure CA certificate(s) file/directory: ${d}`));
    if (s.caCertDir !== '') ca.push(...readCaDir(s.caCertDir));
    // Node skips what is not a certificate; OpenSSL refuses a file without one.
    if (s.caCertFile !== '' && !ca[0]!.includes(PEM_CERT)) {
      throw new TlsConfigError('Failed to configure CA certificate(s) file/directory: error:05800088:x509 certificate routines::no certificate or crl found');
    }
    try {
      nodeTls().createSecureContext({ ca });
    } catch (e) {
      throw new TlsConfigError(`Failed to configure CA certificate(s) file/directory: ${opensslErrorText(e)}`);
    }
  }
  // Node takes TLSv1.2 ciphers and TLSv1.3 suites in one list; each half is checked alone first.
  const cipherList = s.ciphers !== '' ? s.ciphers : 'DEFAULT';
  const suites = s.ciphersuites !== '' ? s.ciphersuites : defaultTls13Suites();
  try {
    nodeTls().createSecureContext({ ciphers: cipherList, maxVersion: 'TLSv1.2' });
  } catch {
    throw new TlsConfigError(`Failed to configure ciphers: ${s.ciphers}`);
  }
  try {
    nodeTls().createSecureContext({ ciphers: suites, minVersion: 'TLSv1.3' });
  } catch {
    throw new TlsConfigError(`Failed to configure ciphersuites: ${s.ciphersuites}`);
  }
  return {
    minVersion: protocols[0]!,
    maxVersion: protocols[protocols.length - 1]!,
    secureOptions,
    ciphers: `${cipherList}:${suites}`,
    ca,
  };
}

/** createSSLContext: the certificate chain and its key, checked as OpenSSL loads them. */
function keyPairOptions(certFile: string, keyFile: string, pass: string): tls.SecureContextOptions {
  const cert = readOrThrow(certFile, (d) => `Failed to load certificate: ${certFile}: ${d}`);
  try {
    nodeTls().createSecureContext({ cert });
  } catch (e) {
    throw new TlsConfigError(`Failed to load certificate: ${certFile}: ${opensslErrorText(e)}`);
  }
  const key = readOrThrow(keyFile, (d) => `Failed to load private key: ${keyFile}: ${d}`);
  const opts: tls.SecureContextOptions = { cert, key, passphrase: pass };
  try {
    nodeTls().createSecureContext(opts);
  } catch (e) {
    throw new TlsConfigError(`Failed to load private key: ${keyFile}: ${opensslErrorText(e)}`);
  }
  return opts;
}

/** tlsConfigure: both contexts, or a TlsConfigError with Redis's log line. */
export function configureTls(s: TlsSettings): TlsContexts {
  if (s.certFile === '') throw new TlsConfigError('No tls-cert-file configured!');
  if (s.keyFile === '') throw new TlsConfigError('No tls-key-file configured!');
  if ((s.authClients !== 'no' || s.cluster || s.replication) && s.caCertFile === '' && s.caCertDir === '') {
    throw new TlsConfigError('Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!');
  }
  const common = commonOptions(s);
  const serverPair = keyPairOptions(s.certFile, s.keyFile, s.keyFilePass);
  let dhparam: Buffer | 'auto' = 'auto';
  if (s.dhParamsFile !== '') {
    try {
      dhparam = fs.readFileSync(s.dhParamsFile);
    } catch (e) {
      throw new TlsConfigError(`Failed to load ${s.dhParamsFile}: ${systemErrorText(e as NodeJS.ErrnoException)}`);
    }
    try {
      // Node ignores a PEM that holds no DH parameters; OpenSSL's decoder refuses it.
      if (!/-----BEGIN (X9\.42 )?DH PARAMETERS-----/.test(dhparam.toString('latin1'))) throw new Error('no DH parameters');
      nodeTls().createSecureContext({ dhparam });
    } catch {
      throw new TlsConfigError(`${s.dhParamsFile}: failed to read DH params.`);
    }
  }
  let secureOptions = common.secureOptions;
  // tls-session-caching no: no resumption at all (Node keeps no server-side session cache, so
  // resumption is by ticket; turning tickets off is SSL_SESS_CACHE_OFF's effect).
  if (!s.sessionCaching) secureOptions |= crypto.constants.SSL_OP_NO_TICKET;
  const server = nodeTls().createSecureContext({
    ...common,
    ...serverPair,
    secureOptions,
    dhparam,
    honorCipherOrder: s.preferServerCiphers,
    sessionIdContext: 'redis',
    ...(s.sessionCaching && s.sessionCacheTimeout > 0 ? { sessionTimeout: s.sessionCacheTimeout } : {}),
  });
  const clientPair = s.clientCertFile !== '' && s.clientKeyFile !== ''
    ? keyPairOptions(s.clientCertFile, s.clientKeyFile, s.clientKeyFilePass)
    : serverPair;
  const client = nodeTls().createSecureContext({ ...common, ...clientPair });
  return { server, client };
}

/** True when any directive needs TLS contexts (tlsConfigure runs only then). */
export function tlsWanted(tlsPort: number, s: Pick<TlsSettings, 'replication' | 'cluster'>): boolean {
  return tlsPort !== 0 || s.replication || s.cluster;
}

export interface DialOptions {
  host: string;
  port: number;
  localAddress?: string;
  /** SNI (redis-cli --sni); by default none is sent for an IP, the host name otherwise. */
  servername?: string;
  /** Skip verification of the server's certificate (redis-cli --insecure). */
  insecure?: boolean;
}

/**
 * Opens a TLS connection as Redis's client side does: the server's chain is verified against the
 * configured CA, its name is not. Emits 'secureConnect' once the handshake is done.
 */
export function dialTls(ctx: tls.SecureContext, o: DialOptions): tls.TLSSocket {
  return nodeTls().connect({
    host: o.host,
    port: o.port,
    ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}),
    secureContext: ctx,
    rejectUnauthorized: o.insecure !== true,
    checkServerIdentity: () => undefined,
    ...(o.servername !== undefined ? { servername: o.servername } : {}),
  });
}

/** Node's TLSWrap keeps the chain's verification result; TLSSocket exposes it only through tls.Server. */
interface VerifyingHandle {
  verifyError(): Error | null | undefined;
}

/**
 * The server side of the handshake on an accepted socket, with Redis's client-certificate policy
 * (`tls-auth-clients`): `onReady` gets the socket once both passed; `onFail` gets OpenSSL's
 * error text ("error:0A0000C7:SSL routines::peer did not return a certificate") and the socket
 * is destroyed.
 */
export function acceptTls(raw: net.Socket, ctx: tls.SecureContext, mode: TlsAuthClients, onReady: (socket: tls.TLSSocket) => void, onFail: (reason: string) => void): void {
  raw.setNoDelay(true);
  const socket = new (nodeTls().TLSSocket)(raw, {
    isServer: true,
    secureContext: ctx,
    requestCert: mode !== 'no',
    // `yes` makes OpenSSL fail a handshake without a certificate (SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
    // the chain of one that was sent is checked below, since Node's verify callback accepts all.
    rejectUnauthorized: mode === 'yes',
  });
  let settled = false;
  const fail = (reason: string): void => {
    settled = true;
    onFail(reason);
    socket.destroy();
  };
  socket.on('error', (e) => {
    if (!settled) fail(opensslErrorText(e));
  });
  socket.once('close', () => {
    if (!settled) fail('error:0A000126:SSL routines::unexpected eof while reading');
  });
  socket.once('secure', () => {
    if (settled) return;
    if (mode !== 'no') {
      const offered = Object.keys(socket.getPeerCertificate()).length > 0;
      if (!offered && mode === 'yes') return fail('error:0A0000C7:SSL routines::peer did not return a certificate');
      const verifyError = (socket as unknown as { _handle: VerifyingHandle | null })._handle?.verifyError();
      if (offered && verifyError) return fail('error:0A000086:SSL routines::certificate verify failed');
    }
    settled = true;
    onReady(socket);
  });
}
