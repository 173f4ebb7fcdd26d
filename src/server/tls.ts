/**
 * The server's TLS: the secure contexts built from the `tls-*` directives (core/tls.ts), the
 * handshake of accepted connections on `tls-port`, and outgoing TLS connections (a replica's
 * link to its master with tls-replication, MIGRATE with tls-cluster).
 *
 * As in Redis, the contexts exist only when something needs them (tls-port, tls-replication or
 * tls-cluster) and are rebuilt by CONFIG SET of any `tls-*` directive: a failure keeps the old
 * ones and fails the CONFIG SET with "Unable to update TLS configuration. Check server logs.".
 * New connections use the new contexts; established ones keep theirs.
 *
 * An accepted connection becomes a client only once its handshake is done and its certificate
 * passed `tls-auth-clients` (read per connection, as Redis reads it at accept): `yes` demands a
 * certificate signed by the CA, `optional` checks one if offered, `no` asks for none. A failed
 * handshake is logged as Redis logs it ("Error accepting a client connection: error:…") and
 * never reaches the client table, so it cannot disturb anyone else.
 */
import type net from 'node:net';
import type tls from 'node:tls';
import type { ConfigRegistry } from '../config/registry.js';
import { type DialOptions, type TlsAuthClients, type TlsContexts, type TlsSettings, TlsConfigError, tlsSettingsFrom, acceptTls, configureTls, dialTls, tlsWanted } from '../core/tls.js';
import type { Logger } from './log.js';

/** The `tls-*` directives of a config registry as core/tls.ts's settings record. */
export function tlsSettingsOf(config: ConfigRegistry): TlsSettings {
  return tlsSettingsFrom({ str: (n) => config.getString(n), bool: (n) => config.getBool(n), num: (n) => config.getNumber(n) });
}

/** The directives whose CONFIG SET rebuilds the contexts (config.c's applyTlsCfg). */
export const TLS_CONTEXT_DIRECTIVES = [
  'tls-session-cache-size', 'tls-session-cache-timeout', 'tls-cluster', 'tls-replication', 'tls-prefer-server-ciphers',
  'tls-session-caching', 'tls-cert-file', 'tls-key-file', 'tls-key-file-pass', 'tls-client-cert-file',
  'tls-client-key-file', 'tls-client-key-file-pass', 'tls-dh-params-file', 'tls-ca-cert-file', 'tls-ca-cert-dir',
  'tls-protocols', 'tls-ciphers', 'tls-ciphersuites',
];

export class ServerTls {
  private contexts: TlsContexts | null = null;

  constructor(
    private readonly config: ConfigRegistry,
    private readonly log: Logger,
  ) {}

  /** isTlsConfigured(). */
  get configured(): boolean {
    return this.contexts !== null;
  }

  /** tlsConfigure(): builds both contexts; on failure logs Redis's line and keeps the old ones. */
  configure(): boolean {
    try {
      this.contexts = configureTls(tlsSettingsOf(this.config));
      return true;
    } catch (e) {
      if (!(e instanceof TlsConfigError)) throw e;
      this.log.warning(e.message);
      return false;
    }
  }

  /** applyTlsCfg: reconfigures when TLS is in use (tls-port, tls-replication or tls-cluster). */
  applyConfig(): boolean {
    const wanted = tlsWanted(this.config.getNumber('tls-port'), { replication: this.config.getBool('tls-replication'), cluster: this.config.getBool('tls-cluster') });
    return !wanted || this.configure();
  }

  /**
   * Runs the server side of the handshake on an accepted socket; `onReady` gets the TLS socket
   * once the handshake and the client-certificate check passed.
   */
  accept(raw: net.Socket, onReady: (socket: tls.TLSSocket) => void): void {
    if (this.contexts === null) {
      raw.destroy();
      return;
    }
    const mode = this.config.getString('tls-auth-clients') as TlsAuthClients;
    acceptTls(raw, this.contexts.server, mode, onReady, (reason) => this.log.warning(`Error accepting a client connection: ${reason}`));
  }

  /** Opens an outgoing TLS connection with the client context (null: TLS is not configured). */
  dial(o: DialOptions): tls.TLSSocket | null {
    return this.contexts === null ? null : dialTls(this.contexts.client, o);
  }
}
