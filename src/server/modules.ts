/**
 * Wires the server's subsystems (blocking operations, WATCH, pub/sub, keyspace notifications,
 * persistence, replication …) into its hooks. Each lives in its own module and exports
 * `install(server)`; this is the one place that lists them.
 */
import type { Server } from './server.js';
import { install as installBlocking } from './blocking.js';
import { install as installWatch } from './watch.js';
import { install as installPubsub } from './pubsub.js';
import { install as installNotify } from './notify.js';

export function installModules(server: Server): void {
  installBlocking(server);
  installWatch(server);
  installPubsub(server);
  installNotify(server);
}
