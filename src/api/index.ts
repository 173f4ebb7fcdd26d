/**
 * nodis's programmatic API (`import { startServer, startTopology, startCluster } from 'nodis'`): real
 * nodis-server and nodis-sentinel processes (a replica set, a Sentinel topology, a Redis Cluster) for tests, CI and local development.
 *
 * Design: every server and sentinel is a child process of its own (the isolation of a real
 * deployment: its own event loop, heap, ports, files and crash), started with `node` and the
 * server's entry point directly (no shell, no launcher), linked to this process by Node's IPC
 * channel (src/server/api-link.ts). Over that link the child reports the port the kernel gave
 * it (never a port guessed here), and through it the child learns when this process is gone,
 * even by SIGKILL, and exits after removing its temporary directory. Configuration is a
 * redis.conf written in the node's directory, so restart() finds the same port, data and any
 * CONFIG REWRITE. There is no in-process mode: nodis keeps server state in module scope and
 * process-wide hooks (signals, process.exit on SHUTDOWN, chdir for `dir`, exit on fatal
 * errors), so a server inside the test's own process or a worker thread could not give the
 * same isolation; a child process starts in about the time of a bare `node` (docs/PERFORMANCE.md).
 */
export { startServer, type NodisServer, type ServerOptions, type Directives, type DirectiveValue } from './server.js';
export {
  startReplicaSet,
  startTopology,
  type ReplicaSet,
  type ReplicaSetOptions,
  type Topology,
  type TopologyOptions,
  type NodisSentinel,
  type NodeRef,
  type WaitOptions,
} from './topology.js';
export { startCluster, type ClusterOptions, type NodisCluster, type NodisClusterNode } from './cluster.js';
export { NODIS_VERSION, REDIS_VERSION } from '../server/version.js';
