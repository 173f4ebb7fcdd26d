/**
 * FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] — the coordinated switch-over of
 * Redis 6.2+ (failoverCommand / updateFailoverStatus in replication.c):
 *   1. writes are paused and the state is `waiting-for-sync`;
 *   2. once a replica (the given one, or any) has ACKed our whole offset — or the timeout
 *      passed with FORCE — we become its replica (`failover-in-progress`) and our PSYNC
 *      carries FAILOVER, which makes it promote itself with the same history;
 *   3. its +CONTINUE (or +FULLRESYNC) ends the failover and lifts the pause.
 * Without FORCE, a timeout (or FAILOVER ABORT) cancels it and we stay master.
 */
import type { Client } from '../server/client.js';
import type { FailoverStateName, ReplicationState, ReplicaLink } from './state.js';
import { replicaIp, replicationOf } from './state.js';
import { abortFailover, setMaster, unsetMaster } from './roles.js';

export function failoverStateName(st: ReplicationState): FailoverStateName {
  return st.failover.state;
}

function findReplica(st: ReplicationState, host: string, port: number): ReplicaLink | undefined {
  return st.replicas.find((l) => replicaIp(l) === host && l.listeningPort === port);
}

/** FAILOVER (failoverCommand). */
export function failoverCommand(c: Client): void {
  const st = replicationOf(c.server);
  const argv = c.argv;
  if (argv.length === 2 && argv[1]!.toLowerCase() === 'abort') {
    if (st.failover.state === 'no-failover') {
      c.reply.error('ERR No failover in progress.');
      return;
    }
    abortFailover(st, 'Failover manually aborted');
    c.reply.ok();
    return;
  }
  let timeout = 0;
  let force = false;
  let host: string | null = null;
  let port = 0;
  for (let j = 1; j < argv.length; j++) {
    const a = argv[j]!.toLowerCase();
    if (a === 'timeout' && j + 1 < argv.length && timeout === 0) {
      const v = argv[j + 1]!;
      if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
        c.reply.error('ERR value is not an integer or out of range');
        return;
      }
      timeout = Number(v);
      if (timeout <= 0) {
        c.reply.error('ERR FAILOVER timeout must be greater than 0');
        return;
      }
      j++;
    } else if (a === 'to' && j + 2 < argv.length && host === null) {
      const v = argv[j + 2]!;
      if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
        c.reply.error('ERR value is not an integer or out of range');
        return;
      }
      port = Number(v);
      host = argv[j + 1]!;
      j += 2;
    } else if (a === 'force' && !force) {
      force = true;
    } else {
      c.reply.error('ERR syntax error');
      return;
    }
  }
  const log = c.server.log;
  if (st.failover.state !== 'no-failover') {
    c.reply.error('ERR FAILOVER already in progress.');
    return;
  }
  if (st.isReplica) {
    c.reply.error('ERR FAILOVER is not valid when server is a replica.');
    return;
  }
  if (st.replicas.length === 0) {
    c.reply.error('ERR FAILOVER requires connected replicas.');
    return;
  }
  if (force && (timeout === 0 || host === null)) {
    c.reply.error('ERR FAILOVER with force option requires both a timeout and target HOST and IP.');
    return;
  }
  if (host !== null) {
    const r = findReplica(st, host, port);
    if (r === undefined) {
      c.reply.error('ERR FAILOVER target HOST and PORT is not a replica.');
      return;
    }
    if (r.state !== 'online') {
      c.reply.error('ERR FAILOVER target replica is not online.');
      return;
    }
    log.notice(`FAILOVER requested to ${host}:${port}.`);
  } else {
    log.notice('FAILOVER requested to any replica.');
  }
  st.failover = {
    state: 'waiting-for-sync',
    targetHost: host,
    targetPort: port,
    endTime: timeout > 0 ? c.server.clock.now() + timeout : 0,
    force,
  };
  c.server.pauseClients('write', 2 ** 31 - 1);
  c.reply.ok();
}

/** updateFailoverStatus: on every ACK and cron tick while waiting for a replica to catch up. */
export function updateFailoverStatus(st: ReplicationState): void {
  const f = st.failover;
  if (f.state !== 'waiting-for-sync') return;
  const log = st.server.log;
  if (f.endTime !== 0 && f.endTime <= st.server.clock.now()) {
    if (f.force) {
      log.notice(`FAILOVER to ${f.targetHost}:${f.targetPort} time out exceeded, failing over.`);
      f.state = 'failover-in-progress';
      setMaster(st, f.targetHost!, f.targetPort);
    } else {
      abortFailover(st, 'Replica never caught up before timeout');
    }
    return;
  }
  let replica: ReplicaLink | undefined;
  if (f.targetHost !== null) {
    replica = findReplica(st, f.targetHost, f.targetPort);
  } else {
    replica = st.replicas.find((l) => l.ackOffset === st.masterReplOffset);
    if (replica !== undefined) {
      f.targetHost = replicaIp(replica);
      f.targetPort = replica.listeningPort;
    }
  }
  if (replica !== undefined && replica.ackOffset === st.masterReplOffset) {
    f.state = 'failover-in-progress';
    log.notice(`Failover target ${f.targetHost}:${f.targetPort} is synced, failing over.`);
    setMaster(st, f.targetHost!, f.targetPort);
  }
}

/**
 * PSYNC <replid> <offset> FAILOVER received by a replica: promote ourselves when the id is
 * ours (our master is handing over). Returns an error text, or null to go on with the PSYNC.
 */
export function psyncFailover(st: ReplicationState, c: Client): string | null {
  const log = st.server.log;
  log.warning(`Failover request received for replid ${c.argv[1]}.`);
  if (!st.isReplica) return "ERR PSYNC FAILOVER can't be sent to a master.";
  if (c.argv[1] !== st.replid) return 'ERR PSYNC FAILOVER replid must match my replid.';
  unsetMaster(st);
  log.notice(`MASTER MODE enabled (failover request from '${st.server.clientInfoString(c)}')`);
  return null;
}
