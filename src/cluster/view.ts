/**
 * What the rest of the server sees of Redis Cluster: the contract between the cluster's state
 * (nodes, slots, epochs, the bus: src/cluster/state.ts and friends) and the code that routes
 * commands by slot (admission's MOVED/ASK/CROSSSLOT/TRYAGAIN/CLUSTERDOWN checks, ASKING,
 * READONLY, sharded Pub/Sub, src/cluster/routing.ts).
 *
 * `Server.cluster` is null unless `cluster-enabled yes`.
 */

/** A node as a redirection names it. */
export interface ClusterNodeRef {
  /** The 40-hex-char node id. */
  readonly id: string;
  /** The announced IP, as CLUSTER NODES shows it. */
  readonly ip: string;
  /** The announced client port (the TLS port when tls-cluster is on). */
  readonly port: number;
  /** The announced hostname, '' when none. */
  readonly hostname: string;
  /** The announced plaintext port when tls-cluster is on (clusterMsg's pport), else 0. */
  readonly pport: number;
}

export interface ClusterView {
  /** cluster_state:ok — false answers -CLUSTERDOWN to commands that need the cluster. */
  isUp(): boolean;
  /** This node. */
  myself(): ClusterNodeRef;
  /** This node is a replica (of `myMaster()`). */
  isReplica(): boolean;
  /** The master this node replicates, null for a master. */
  myMaster(): ClusterNodeRef | null;
  /** The master that serves `slot`, null when unassigned. */
  slotOwner(slot: number): ClusterNodeRef | null;
  /** CLUSTER SETSLOT <slot> MIGRATING <node>: the node it moves to, else null. */
  migratingTo(slot: number): ClusterNodeRef | null;
  /** CLUSTER SETSLOT <slot> IMPORTING <node>: the node it comes from, else null. */
  importingFrom(slot: number): ClusterNodeRef | null;
  /**
   * How a redirection names `node` ("host:port"), per cluster-preferred-endpoint-type; the
   * port is `node.pport` (when known) for a plaintext client of a TLS cluster, as
   * clusterRedirectClient's use_pport.
   */
  endpoint(node: ClusterNodeRef, plaintextInTlsCluster: boolean): string;
  /** Send a sharded Pub/Sub message to the other nodes of this node's shard (SPUBLISH). */
  publishShard(channel: string, message: string): void;
  /** Send a Pub/Sub message to every node of the cluster (PUBLISH in cluster mode). */
  publish(channel: string, message: string): void;
}

/** What the cluster's state needs of the keyspace, by slot (db 0: a cluster has one db). */
export interface SlotKeys {
  countKeysInSlot(slot: number): number;
  /** Up to `count` keys of `slot`. */
  keysInSlot(slot: number, count: number): string[];
  /** Delete every key of `slot` (a slot lost to another master); returns how many. */
  deleteKeysInSlot(slot: number): number;
}
