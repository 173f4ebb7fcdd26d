/**
 * Which node serves a command, by the hash slot of its keys (cluster.c getNodeByQuery), and the
 * error that sends the client there (clusterRedirectClient): CROSSSLOT, TRYAGAIN, CLUSTERDOWN,
 * MOVED, ASK.
 *
 * Admission (server/admission.ts) asks this for a client's command, in processCommand's place
 * (after ACL, before OOM), and the script engine for each redis.call (script.c
 * scriptVerifyClusterState); blocked clients are asked again when the slot moves or the cluster
 * goes down (clusterRedirectBlockedClientIfNeeded). The cluster's state is read through
 * ClusterView only, so this runs in-process in tests against a view the test writes.
 *
 * Everything is handled as if it were EXEC: a plain command is a transaction of one.
 */
import type { ClusterNodeRef, ClusterView } from './view.js';
import { keyHashSlot } from './slot.js';

/** Why a command is not served here (Redis's CLUSTER_REDIR_*). */
export const enum Redirect {
  None = 0,
  CrossSlot,
  /** Several keys of a slot being migrated or imported, not all here: TRYAGAIN. */
  Unstable,
  DownState,
  DownReadOnlyState,
  DownUnbound,
  Moved,
  Ask,
}

/** One command of the query: a plain command, or each one EXEC runs. */
export interface RoutedCommand {
  readonly argv: readonly string[];
  /** The argv indexes of its keys (or shard channels), from the command table's key specs. */
  readonly keys: readonly number[];
}

export interface RouteQuery {
  readonly commands: readonly RoutedCommand[];
  /** SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH: shard channels, not keys. */
  readonly shardPubsub: boolean;
  /** MIGRATE: served locally while its slot is open, to move keys freely. */
  readonly migrate: boolean;
  /** A write (the invocation's flags; EXEC's include what it queued). */
  readonly write: boolean;
  /** The client sent ASKING, or the command has the `asking` flag (RESTORE-ASKING). */
  readonly asking: boolean;
  /** The client sent READONLY. */
  readonly readOnlyClient: boolean;
  /** cluster-allow-reads-when-down. */
  readonly allowReadsWhenDown: boolean;
  /** cluster-allow-pubsubshard-when-down. */
  readonly allowPubsubshardWhenDown: boolean;
  /** Whether a key exists here (not expired; nothing touched, nothing deleted). */
  keyExists(key: string): boolean;
}

export interface Route {
  readonly redirect: Redirect;
  /** The node named by MOVED/ASK; null otherwise. */
  readonly node: ClusterNodeRef | null;
  /** The slot of the query's keys, -1 when it has none. */
  readonly slot: number;
}

const HERE: Route = { redirect: Redirect.None, node: null, slot: -1 };

function fail(redirect: Redirect, slot = -1): Route {
  return { redirect, node: null, slot };
}

function same(a: ClusterNodeRef | null, b: ClusterNodeRef | null): boolean {
  return a !== null && b !== null && a.id === b.id;
}

/** Where the query is served: here (Redirect.None), or why not (getNodeByQuery). */
export function routeQuery(view: ClusterView, q: RouteQuery): Route {
  const me = view.myself();
  let firstKey: string | null = null;
  let slot = 0;
  let owner: ClusterNodeRef | null = null;
  let migrating = false;
  let importing = false;
  let multipleKeys = false;
  let missing = 0;
  let existing = 0;
  for (const cmd of q.commands) {
    for (const pos of cmd.keys) {
      const key = cmd.argv[pos]!;
      if (firstKey === null) {
        firstKey = key;
        slot = keyHashSlot(key);
        owner = view.slotOwner(slot);
        // A slot nobody serves: the state may not say "down" yet, the answer is the same.
        if (owner === null) return fail(Redirect.DownUnbound);
        if (same(owner, me) && view.migratingTo(slot) !== null) migrating = true;
        else if (view.importingFrom(slot) !== null) importing = true;
      } else if (key !== firstKey) {
        if (keyHashSlot(key) !== slot) return fail(Redirect.CrossSlot);
        multipleKeys = true;
      }
      // A shard channel is served by the source until the slot's migration completes.
      if ((migrating || importing) && !q.shardPubsub) {
        if (q.keyExists(key)) existing++;
        else missing++;
      }
    }
  }
  // No key at all: served anywhere, whatever the state.
  if (owner === null) return HERE;

  if (!view.isUp()) {
    if (q.shardPubsub) {
      if (!q.allowPubsubshardWhenDown) return fail(Redirect.DownState);
    } else if (!q.allowReadsWhenDown) {
      return fail(Redirect.DownState);
    } else if (q.write) {
      return fail(Redirect.DownReadOnlyState);
    }
  }
  if ((migrating || importing) && q.migrate) return { redirect: Redirect.None, node: null, slot };
  if (migrating && missing > 0) {
    if (existing > 0) return fail(Redirect.Unstable, slot);
    return { redirect: Redirect.Ask, node: view.migratingTo(slot), slot };
  }
  if (importing && q.asking) {
    if (multipleKeys && missing > 0) return fail(Redirect.Unstable, slot);
    return { redirect: Redirect.None, node: null, slot };
  }
  // A replica answers reads of its master's slots to READONLY clients (and shard channels).
  if ((q.readOnlyClient || q.shardPubsub) && !q.write && view.isReplica() && same(view.myMaster(), owner)) {
    return { redirect: Redirect.None, node: null, slot };
  }
  if (!same(owner, me)) return { redirect: Redirect.Moved, node: owner, slot };
  return { redirect: Redirect.None, node: null, slot };
}

/**
 * The error reply for a route that is not served here (without the leading '-').
 * `plaintextInTlsCluster`: the client is not on TLS but the cluster is (MOVED/ASK name pport).
 */
export function redirectionError(view: ClusterView, route: Route, plaintextInTlsCluster: boolean): string {
  switch (route.redirect) {
    case Redirect.CrossSlot:
      return "CROSSSLOT Keys in request don't hash to the same slot";
    case Redirect.Unstable:
      return 'TRYAGAIN Multiple keys request during rehashing of slot';
    case Redirect.DownState:
      return 'CLUSTERDOWN The cluster is down';
    case Redirect.DownReadOnlyState:
      return 'CLUSTERDOWN The cluster is down and only accepts read commands';
    case Redirect.DownUnbound:
      return 'CLUSTERDOWN Hash slot not served';
    case Redirect.Moved:
    case Redirect.Ask:
      return `${route.redirect === Redirect.Ask ? 'ASK' : 'MOVED'} ${route.slot} ${view.endpoint(route.node!, plaintextInTlsCluster)}`;
    case Redirect.None:
      return '';
  }
}

/** A script's redis.call refused by routing (script.c scriptVerifyClusterState's texts). */
export function scriptRoutingError(route: Route): string {
  if (route.redirect === Redirect.DownReadOnlyState) return 'Script attempted to execute a write command while the cluster is down and readonly';
  if (route.redirect === Redirect.DownState) return 'Script attempted to execute a command while the cluster is down';
  return 'Script attempted to access a non local key in a cluster node';
}

const REDIRECTION_CODES = ['MOVED ', 'ASK ', 'CROSSSLOT ', 'TRYAGAIN ', 'CLUSTERDOWN '];

/** True for an error that routing gave (EXEC refused by it is discarded, not EXECABORT). */
export function isRedirection(message: string): boolean {
  for (const code of REDIRECTION_CODES) if (message.startsWith(code)) return true;
  return false;
}

/**
 * A client blocked on `key` (BLPOP, BZPOPMIN, XREAD…) whose slot is no longer served here
 * (clusterRedirectBlockedClientIfNeeded): the error to unblock it with, or null to keep it.
 */
export function blockedRedirection(view: ClusterView, key: string, readOnlyClient: boolean, write: boolean, plaintextInTlsCluster: boolean): string | null {
  if (!view.isUp()) return 'CLUSTERDOWN The cluster is down';
  const slot = keyHashSlot(key);
  let node = view.slotOwner(slot);
  const me = view.myself();
  if (readOnlyClient && !write && view.isReplica() && same(view.myMaster(), node)) node = me;
  if (!same(node, me) && view.importingFrom(slot) === null) {
    if (node === null) return 'CLUSTERDOWN Hash slot not served';
    return redirectionError(view, { redirect: Redirect.Moved, node, slot }, plaintextInTlsCluster);
  }
  return null;
}
