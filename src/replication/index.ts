/**
 * Wires replication into the server: the role hooks processCommand consults (READONLY,
 * MASTERDOWN, NOREPLICAS), the propagation target that feeds the stream, the once-per-second
 * replication cron, INFO replication, and `replicaof` from the config file / command line.
 * Also the role switches themselves (replicationSetMaster / replicationUnsetMaster).
 */
import type { Server } from '../server/server.js';
import type { Client } from '../server/client.js';
import { setInfoField } from '../server/info-fields.js';
import { debugHooks } from '../server/debug-hooks.js';
import { setRdbReplicationInfo } from '../persistence/rdb.js';
import { replicaIp, replicationOf, type ReplicationState } from './state.js';
import { masterCron, replicaClosed, refreshGoodReplicas, recordWriteOffset, directReplicaAck } from './master.js';
import { setMaster, unsetMaster } from './roles.js';
import { failoverStateName, updateFailoverStatus } from './failover.js';
import { installShutdownWait } from './shutdown.js';
import { durableOf } from './durable.js';

export function install(server: Server): void {
  const st = replicationOf(server);
  const cfg = server.config;
  // Until the start-up task below connects to the configured master, the start-up load already
  // runs as a replica (Redis sets masterhost while reading the config): it keeps expired keys.
  let beforeStartup = true;
  // Read on every write (notEnoughReplicas): kept as numbers, not looked up by name each time.
  let minReplicas = 0;
  let minReplicasMaxLag = 0;
  cfg.watch('min-replicas-to-write', (v) => (minReplicas = v as number));
  cfg.watch('min-replicas-max-lag', (v) => (minReplicasMaxLag = v as number));
  server.role = {
    isReplica: () => st.masterHost !== null || (beforeStartup && willBeReplica()),
    refuseStale: () =>
      st.masterHost !== null && (st.link === null || st.link.state !== 'connected') && !cfg.getBool('replica-serve-stale-data'),
    notEnoughReplicas: () => {
      if (st.masterHost !== null) return false;
      if (minReplicas > 0 && minReplicasMaxLag > 0 && st.goodReplicas < minReplicas) return true;
      return durable.refusesWrites();
    },
  };
  const durable = durableOf(st);
  const durableGate = {
    before: () => durable.beforeCommand(),
    after: (c: Client, mark: number) => durable.afterCommand(c, mark),
    gate: (c: Client) => durable.gate(c),
  };
  const applyDurable = (on: boolean): void => {
    if (on) durable.start();
    else durable.stop();
    server.hooks.replyGate = on ? durableGate : null;
  };
  st.onGetAckFed = () => durable.noteGetAck();
  server.hooks.beforeReplies.push(() => st.feedPendingGetAck());
  server.hooks.replicaAck = directReplicaAck;
  applyDurable(cfg.getBool('durable-writes'));
  cfg.watch('durable-writes', (v) => applyDurable(v === true));
  server.propagator.addTarget({ kind: 'replication', feed: (db, argv) => st.feedCommand(db, argv), receiving: () => st.receivesCommands() });
  server.hooks.clientClosed.push((c) => {
    if (c.kind === 'replica') replicaClosed(st, c);
    if (c.isMaster) st.link?.clientFreed(c);
  });
  server.hooks.afterCommand.push((c) => recordWriteOffset(st, c));
  trackWritableReplicaKeys(st);
  installShutdownWait(st);
  let lastCron = server.clock.monotonic();
  server.hooks.cron.push(() => {
    // Redis checks a failover's progress and its TIMEOUT in beforeSleep, so at least once per
    // hz tick (FAILOVER ... TIMEOUT 500 ends within ~100 ms of it), not in the 1 s cron below.
    if (st.failover.state === 'waiting-for-sync') updateFailoverStatus(st);
    const now = server.clock.monotonic();
    if (now - lastCron < 1000) return;
    lastCron = now;
    st.cronLoops++;
    st.link?.cron();
    masterCron(st);
  });
  server.hooks.info.set('replication', () => replicationInfo(st));
  setInfoField(server, 'sync_full', () => st.syncFull);
  setInfoField(server, 'sync_partial_ok', () => st.syncPartialOk);
  setInfoField(server, 'sync_partial_err', () => st.syncPartialErr);
  // One buffer for the backlog and the replicas' stream (backlog.ts): what exceeds
  // repl-backlog-size while replicas are attached counts as theirs (getMemoryOverheadData).
  server.replBuffer = {
    total: () => st.backlog?.memory ?? 0,
    excess: () => (st.backlog === null || st.replicas.length === 0 ? 0 : Math.max(0, st.backlog.memory - st.backlog.size)),
    owed: (c) => st.owedTo(c),
  };
  setInfoField(server, 'mem_replication_backlog', () => server.replBacklogMemory());
  setInfoField(server, 'mem_total_replication_buffers', () => st.backlog?.memory ?? 0);
  server.hooks.resetStats.push(() => {
    st.syncFull = st.syncPartialOk = st.syncPartialErr = 0;
  });
  debugHooks.changeReplId = () => st.newHistory();
  // Into the stream in the db it has SELECTed now (replicationFeedSlaves with slaveseldb).
  debugHooks.replicate = (_server, argv) => st.feedCommand(st.selectedDb === -1 ? 0 : st.selectedDb, argv);
  // CONFIG GET / CONFIG REWRITE show the master we replicate from now, not the start-up value.
  const replicaofDef = cfg.def('replicaof');
  if (replicaofDef !== undefined) replicaofDef.get = () => (st.masterHost === null ? '' : `${st.masterHost} ${st.masterPort}`);
  // durable-fenced: the fence of the link now (before start-up: the value read from the file).
  const fencedDef = cfg.def('durable-fenced');
  if (fencedDef !== undefined) fencedDef.get = () => ((st.link !== null ? st.link.fencedSince !== 0 : beforeStartup && cfg.getBool('durable-fenced')) ? 'yes' : 'no');
  cfg.watch('repl-backlog-size', (v) => st.backlog?.resize(v as number, st.oldestNeeded()));
  cfg.watch('min-replicas-max-lag', () => refreshGoodReplicas(st));
  cfg.watch('min-replicas-to-write', () => refreshGoodReplicas(st));
  // Before the start-up load's end: a replica by replicaof, or a cluster replica by nodes.conf
  // (Redis's iAmMaster(): a cluster node's role is its own node's, its master link comes later).
  const willBeReplica = (): boolean => String(cfg.get('replicaof')) !== '' || server.cluster?.isReplica() === true;
  const loadedAux = new Map<string, string>();
  // Keys the start-up load dropped as expired: their DELs join the stream, ahead of the saved
  // history, so the replicas (which still have them) continue partially and delete them too.
  const expiredAtLoad: [number, string][] = [];
  setRdbReplicationInfo(server, {
    expired: (dbId, key) => {
      if (!willBeReplica()) expiredAtLoad.push([dbId, key]);
    },
    save: () => saveInfo(st),
    loaded: (name, value) => {
      // A full sync's RDB carries the master's fields; +FULLRESYNC already gave us those.
      if (st.link === null || (st.link.state !== 'transfer' && st.link.state !== 'loading')) loadedAux.set(name, value);
    },
  });
  server.startupTasks.push(() => {
    beforeStartup = false;
    restoreFromRdb(st, loadedAux, willBeReplica(), expiredAtLoad);
    loadedAux.clear();
    expiredAtLoad.length = 0;
    const target = String(cfg.get('replicaof'));
    if (target === '') return;
    const sp = target.lastIndexOf(' ');
    setMaster(st, target.slice(0, sp), Number(target.slice(sp + 1)));
    // A replica restarted while fenced stays fenced (else it would go back to the old master).
    if (cfg.getBool('durable-fenced')) st.link?.fence();
  });
}

/**
 * A writable replica (replica-read-only no) never expires keys on its own, except the ones its
 * own clients wrote with a TTL: nobody upstream will ever DEL those (expireSlaveKeys).
 */
function trackWritableReplicaKeys(st: ReplicationState): void {
  const server = st.server;
  const tracked = new Map<number, Set<string>>();
  server.hooks.keyModified.push((dbId, key) => {
    // The TTL may be set right after this signal (SET … EX): the cron sorts the keys out.
    if (st.masterHost === null) return;
    // A write from our master makes the key the master's again (e.g. PFCOUNT here touched it,
    // then the master recreated it with a TTL before the cron ran): its expiry is not ours.
    if (server.applyingMasterStream) {
      tracked.get(dbId)?.delete(key);
      return;
    }
    let keys = tracked.get(dbId);
    if (keys === undefined) tracked.set(dbId, (keys = new Set()));
    keys.add(key);
  });
  server.hooks.cron.push(() => {
    if (tracked.size === 0) return;
    if (st.masterHost === null) {
      tracked.clear();
      return;
    }
    const now = server.clock.now();
    for (const [dbId, keys] of tracked) {
      const db = server.dbs[dbId]!;
      for (const key of keys) {
        const when = db.expires.get(key);
        if (when === undefined) keys.delete(key);
        else if (when <= now) {
          db.delete(key);
          server.stats.expiredKeys++;
          keys.delete(key);
        }
      }
      if (keys.size === 0) tracked.delete(dbId);
    }
  });
}

/** The replication AUX fields for a save (rdbPopulateSaveInfo); null when not in a chain. */
function saveInfo(st: ReplicationState): [string, string][] | null {
  let db: number;
  if (st.masterHost === null) {
    if (st.backlog === null) return null;
    db = st.selectedDb === -1 ? 0 : st.selectedDb;
  } else {
    const link = st.link;
    if (link === null) return null;
    db = link.streamDb;
  }
  return [
    ['repl-stream-db', String(db)],
    ['repl-id', st.replid],
    ['repl-offset', String(st.masterReplOffset)],
  ];
}

/**
 * After the start-up load (loadDataFromDisk): a replica resumes the history it saved, so it
 * can PSYNC; a master keeps it as its secondary id, so its replicas can continue with it.
 */
function restoreFromRdb(st: ReplicationState, aux: Map<string, string>, willBeReplica: boolean, expired: [number, string][]): void {
  const id = aux.get('repl-id');
  const offset = Number(aux.get('repl-offset') ?? '-1');
  const db = Number(aux.get('repl-stream-db') ?? '-1');
  if (id === undefined || id.length !== 40 || !Number.isSafeInteger(offset) || offset === -1 || db === -1) return;
  if (willBeReplica) {
    st.replid = id;
    st.masterReplOffset = offset;
    st.restoredStreamDb = db;
  } else {
    st.replid2 = id;
    st.secondReplOffset = offset + 1;
    st.masterReplOffset = offset;
    st.backlog = null;
    st.ensureBacklog();
    // After the saved offset, in our new history (a replica PSYNCs from offset + 1).
    const del = st.server.config.getBool('lazyfree-lazy-expire') ? 'UNLINK' : 'DEL';
    for (const [dbId, key] of expired) st.feedCommand(dbId, [del, key]);
    st.noReplicasSince = st.server.clock.now();
  }
}

/** REPLICAOF / SLAVEOF (replicaofCommand). */
export function replicaofCommand(c: Client): void {
  const server = c.server;
  const st = replicationOf(server);
  const host = c.argv[1]!;
  const portArg = c.argv[2]!;
  if (server.cluster !== null) {
    c.reply.error('ERR REPLICAOF not allowed in cluster mode.');
    return;
  }
  if (st.failover.state !== 'no-failover') {
    c.reply.error('ERR REPLICAOF not allowed while failing over.');
    return;
  }
  if (host.toLowerCase() === 'no' && portArg.toLowerCase() === 'one') {
    if (st.masterHost !== null) {
      unsetMaster(st);
      server.log.notice(`MASTER MODE enabled (user request from '${server.clientInfoString(c)}')`);
    }
    c.reply.ok();
    return;
  }
  if (c.kind === 'replica') {
    c.reply.error('ERR Command is not valid when client is a replica.');
    return;
  }
  const port = /^-?\d+$/.test(portArg) ? Number(portArg) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    c.reply.error('ERR Invalid master port');
    return;
  }
  if (st.masterHost !== null && st.masterHost.toLowerCase() === host.toLowerCase() && st.masterPort === port) {
    server.log.notice('REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.');
    c.reply.status('OK Already connected to specified master');
    return;
  }
  setMaster(st, host, port);
  server.log.notice(`REPLICAOF ${host}:${port} enabled (user request from '${server.clientInfoString(c)}')`);
  c.reply.ok();
}

const REPL_STATE_NAMES = { connect: 'connect', connecting: 'connecting', handshake: 'handshake', transfer: 'sync', loading: 'sync', connected: 'connected' } as const;

/** ROLE (roleCommand). */
export function roleCommand(c: Client): void {
  const st = replicationOf(c.server);
  const r = c.reply;
  if (st.masterHost !== null) {
    const link = st.link;
    r.array(5);
    r.bulk('slave');
    r.bulk(st.masterHost);
    r.integer(st.masterPort);
    r.bulk(link === null ? 'none' : REPL_STATE_NAMES[link.state]);
    r.integer(link !== null && link.client !== null ? st.masterReplOffset : -1);
    return;
  }
  r.array(3);
  r.bulk('master');
  r.integer(st.masterReplOffset);
  const online = st.replicas.filter((l) => l.state === 'online');
  r.array(online.length);
  for (const l of online) {
    r.array(3);
    r.bulk(replicaIp(l));
    r.bulk(String(l.listeningPort));
    r.bulk(String(l.ackOffset));
  }
}

/** The body of INFO replication, field for field as Redis 7.0.15 prints it. */
function replicationInfo(st: ReplicationState): string[] {
  const server = st.server;
  const cfg = server.config;
  const now = server.clock.now();
  const out: string[] = [];
  out.push(`role:${st.masterHost === null ? 'master' : 'slave'}`);
  if (st.masterHost !== null) {
    const link = st.link;
    const connected = link !== null && link.state === 'connected';
    out.push(`master_host:${st.masterHost}`);
    out.push(`master_port:${st.masterPort}`);
    out.push(`master_link_status:${connected ? 'up' : 'down'}`);
    out.push(`master_last_io_seconds_ago:${connected ? Math.floor((now - link.lastIo) / 1000) : -1}`);
    out.push(`master_sync_in_progress:${link !== null && (link.state === 'transfer' || link.state === 'loading') ? 1 : 0}`);
    out.push(`slave_read_repl_offset:${link !== null && link.client !== null ? link.readOffset : st.masterReplOffset}`);
    out.push(`slave_repl_offset:${st.masterReplOffset}`);
    if (link !== null && link.state === 'transfer') {
      const total = link.transferTotal;
      out.push(`master_sync_total_bytes:${total}`);
      out.push(`master_sync_read_bytes:${link.transferRead}`);
      out.push(`master_sync_left_bytes:${total - link.transferRead}`);
      out.push(`master_sync_perc:${(total > 0 ? (link.transferRead / total) * 100 : 0).toFixed(2)}`);
      out.push(`master_sync_last_io_seconds_ago:${Math.floor((now - link.lastIo) / 1000)}`);
    }
    if (!connected) {
      const since = link?.downSince ?? 0;
      out.push(`master_link_down_since_seconds:${since !== 0 ? Math.floor((now - since) / 1000) : -1}`);
    }
    // nodis's durable failover fence (REPLCONF DURABLE-FENCE), only while one is set: how long.
    if (link !== null && link.fencedSince !== 0) out.push(`durable_fenced_ms:${Math.round(server.clock.monotonic() - link.fencedSince)}`);
    out.push(`slave_priority:${cfg.getNumber('replica-priority')}`);
    out.push(`slave_read_only:${cfg.getBool('replica-read-only') ? 1 : 0}`);
    out.push(`replica_announced:${cfg.getBool('replica-announced') ? 1 : 0}`);
  }
  out.push(`connected_slaves:${st.replicas.length}`);
  if (cfg.getNumber('min-replicas-to-write') > 0 && cfg.getNumber('min-replicas-max-lag') > 0) {
    out.push(`min_slaves_good_slaves:${st.goodReplicas}`);
  }
  let id = 0;
  for (const r of st.replicas) {
    const ip = replicaIp(r);
    // nodis's send_bulk is the socket (diskless) transfer, which Redis keeps in WAIT_BGSAVE_END
    // until its child is done: "wait_bgsave" (its own send_bulk is the dump file going out).
    const state = r.state === 'online' ? 'online' : 'wait_bgsave';
    const lag = r.state === 'online' ? Math.floor((now - r.ackTime) / 1000) : 0;
    out.push(`slave${id++}:ip=${ip},port=${r.listeningPort},state=${state},offset=${r.ackOffset},lag=${lag}`);
  }
  durableOf(st).info(out);
  out.push(`master_failover_state:${failoverStateName(st)}`);
  out.push(`master_replid:${st.replid}`);
  out.push(`master_replid2:${st.replid2}`);
  out.push(`master_repl_offset:${st.masterReplOffset}`);
  out.push(`second_repl_offset:${st.secondReplOffset}`);
  out.push(`repl_backlog_active:${st.backlog !== null ? 1 : 0}`);
  out.push(`repl_backlog_size:${cfg.getNumber('repl-backlog-size')}`);
  out.push(`repl_backlog_first_byte_offset:${st.backlog !== null ? st.backlog.firstByteOffset : 0}`);
  out.push(`repl_backlog_histlen:${st.backlog !== null ? st.backlog.histlen : 0}`);
  return out;
}
