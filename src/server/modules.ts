/**
 * Wires the server's optional subsystems (pub/sub, keyspace notifications, WATCH, blocking
 * operations, persistence, replication …) into its hooks. Each subsystem lives in its own module
 * and exports an `install(server)`.
 */
import type { Server } from './server.js';

export function installModules(server: Server): void {
  void server;
}
