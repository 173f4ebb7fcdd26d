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
import { install as installClientCommands } from '../commands/client.js';
import { install as installLatency } from './latency.js';
import { install as installDebug } from '../commands/debug.js';
import { install as installReplication } from '../replication/index.js';
import { install as installRdb } from '../persistence/rdb.js';
import { install as installAof } from '../persistence/aof.js';
import { install as installScripting } from '../scripting/install.js';
import { install as installAcl } from './acl.js';
import { install as installEviction } from './evict.js';

export function installModules(server: Server): void {
  installAcl(server);
  installBlocking(server);
  installWatch(server);
  installPubsub(server);
  installNotify(server);
  installClientCommands(server);
  installLatency(server);
  installDebug(server);
  installRdb(server);
  installAof(server);
  // After persistence: its start-up load runs first, then replication reads what it restored.
  installReplication(server);
  installScripting(server);
  installEviction(server);
}
