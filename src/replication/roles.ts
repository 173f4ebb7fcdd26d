/**
 * Role switches (replicationSetMaster / replicationUnsetMaster): a master becoming a replica
 * keeps its data until the sync replaces it and PSYNCs with its own id and offset; a replica
 * becoming a master keeps its data and continues its history under a new id (PSYNC2).
 *
 * This module owns every role transition, including the end of a FAILOVER (cleared once the
 * target accepted our PSYNC, or rolled back to master). It sits above replica.ts (it creates
 * the MasterLink and hands it the failover outcome as a callback) and below failover.ts, so
 * the replication modules import one another without a cycle.
 */
import type { ReplicationState } from './state.js';
import { newFailoverState } from './state.js';
import { MasterLink, prepareForReplicaRole } from './replica.js';
import { applyOomScore } from '../server/oom-score.js';

/** replicationSetMaster: start replicating from host:port (keeping our data until the sync). */
export function setMaster(st: ReplicationState, host: string, port: number): void {
  const server = st.server;
  const wasMaster = st.masterHost === null;
  // The stream's db goes with the cached master state: a +CONTINUE from the next master
  // (or this one again, after a detour) goes on in it.
  const streamDb = st.link?.streamDb ?? null;
  st.link?.close();
  st.link = null;
  prepareForReplicaRole(server);
  st.masterHost = host;
  st.masterPort = port;
  server.log.role = 'S';
  if (wasMaster) {
    server.log.notice(
      'Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.',
    );
  }
  const link = new MasterLink(st, host, port, (accepted) => {
    if (accepted) clearFailoverState(st);
    else abortFailover(st, 'Failover target rejected psync request');
  });
  link.lastDb = streamDb;
  st.link = link;
  applyOomScore(server);
  link.connect();
}

/** replicationUnsetMaster: become a master, keeping the data and continuing the history. */
export function unsetMaster(st: ReplicationState): void {
  if (st.masterHost === null) return;
  st.masterHost = null;
  st.server.log.role = 'M';
  st.link?.close();
  st.link = null;
  st.shiftReplid();
  // Our replicas must learn the new id; they continue with a partial resync.
  st.disconnectReplicas();
  st.selectedDb = -1;
  st.noReplicasSince = st.server.clock.now();
  applyOomScore(st.server);
}

/** clearFailoverState: back to normal, writes resume. */
export function clearFailoverState(st: ReplicationState): void {
  st.failover = newFailoverState();
  st.server.unpauseClients();
}

/** abortFailover: a failover in progress is rolled back (we become master again). */
export function abortFailover(st: ReplicationState, why: string): void {
  const f = st.failover;
  if (f.state === 'no-failover') return;
  const log = st.server.log;
  if (f.targetHost !== null) log.notice(`FAILOVER to ${f.targetHost}:${f.targetPort} aborted: ${why}`);
  else log.notice(`FAILOVER to any replica aborted: ${why}`);
  if (f.state === 'failover-in-progress') unsetMaster(st);
  clearFailoverState(st);
}
