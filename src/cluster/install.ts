/**
 * `cluster-enabled yes`: builds the cluster's state (nodes.conf loaded or created, locked with
 * flock as Redis does), opens the bus, runs clusterCron ten times a second and installs the
 * ClusterView as `Server.cluster`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from '../server/server.js';
import type { ClusterNodeRef, ClusterView } from './view.js';
import { ClusterState, type ClusterEnv, type ClusterNode, type ClusterSettings } from './state.js';
import { ClusterBus } from './bus.js';
import { slotKeys } from './slot-keys.js';
import { PORT_INCR } from './codec.js';
import { replicationOf } from '../replication/state.js';
import { setMaster, unsetMaster } from '../replication/roles.js';
import { publishMessage, unsubscribeShardSlot } from '../server/pubsub.js';

export interface ClusterRuntime {
  readonly state: ClusterState;
  readonly bus: ClusterBus;
  readonly view: ClusterView;
  /** nodes.conf's absolute path. */
  readonly configFile: string;
  stop(): void;
}

const runtimes = new WeakMap<Server, ClusterRuntime>();

export function clusterRuntime(server: Server): ClusterRuntime | null {
  return runtimes.get(server) ?? null;
}

/** clusterCron's period (cluster.c: run_with_period(100)). */
const CRON_PERIOD_MS = 100;

/** The directives settingsOf reads: a change to any of them drops the cached settings. */
const SETTINGS_DIRECTIVES = [
  'tls-cluster', 'port', 'tls-port', 'cluster-announce-tls-port', 'cluster-announce-port', 'cluster-port',
  'cluster-announce-bus-port', 'cluster-node-timeout', 'cluster-replica-validity-factor', 'cluster-migration-barrier',
  'cluster-require-full-coverage', 'cluster-allow-replica-migration', 'cluster-replica-no-failover',
  'repl-ping-replica-period', 'cluster-announce-ip', 'cluster-announce-hostname', 'cluster-preferred-endpoint-type',
  'cluster-link-sendbuf-limit',
];

/**
 * settingsOf, computed once and kept until one of its directives changes (or the bound port
 * does): every bus message's header reads them, and a dozen registry lookups per message were
 * a visible part of an idle cluster's CPU.
 */
function cachedSettings(server: Server): () => ClusterSettings {
  let cached: ClusterSettings | null = null;
  let boundPort = server.boundPort;
  for (const name of SETTINGS_DIRECTIVES) server.config.watch(name, () => { cached = null; });
  return () => {
    if (cached === null || boundPort !== server.boundPort) {
      boundPort = server.boundPort;
      cached = settingsOf(server);
    }
    return cached;
  };
}

export function settingsOf(server: Server): ClusterSettings {
  const cfg = server.config;
  const tlsCluster = cfg.getBool('tls-cluster');
  const port = server.boundPort || cfg.getNumber('port');
  const tlsPort = cfg.getNumber('tls-port');
  let announced = tlsCluster ? tlsPort : port;
  let pport = tlsCluster ? port : 0;
  const announceTls = cfg.getNumber('cluster-announce-tls-port');
  const announcePort = cfg.getNumber('cluster-announce-port');
  if (tlsCluster && announceTls) {
    announced = announceTls;
    pport = announcePort;
  } else if (announcePort) {
    if (tlsCluster) pport = announcePort;
    else announced = announcePort;
  }
  const busPort = cfg.getNumber('cluster-port') || (tlsCluster ? tlsPort : port) + PORT_INCR;
  const announceBus = cfg.getNumber('cluster-announce-bus-port');
  return {
    nodeTimeout: cfg.getNumber('cluster-node-timeout'),
    replicaValidityFactor: cfg.getNumber('cluster-replica-validity-factor'),
    migrationBarrier: cfg.getNumber('cluster-migration-barrier'),
    requireFullCoverage: cfg.getBool('cluster-require-full-coverage'),
    allowReplicaMigration: cfg.getBool('cluster-allow-replica-migration'),
    replicaNoFailover: cfg.getBool('cluster-replica-no-failover'),
    replPingPeriodMs: cfg.getNumber('repl-ping-replica-period') * 1000,
    announceIp: cfg.getString('cluster-announce-ip'),
    announceHostname: cfg.getString('cluster-announce-hostname'),
    port: announced,
    pport,
    cport: announceBus || busPort,
    preferredEndpoint: cfg.getString('cluster-preferred-endpoint-type'),
    linkSendbufLimit: cfg.getNumber('cluster-link-sendbuf-limit'),
  };
}

function refOf(n: ClusterNode): ClusterNodeRef {
  return { id: n.name, ip: n.ip, port: n.port, hostname: n.hostname, pport: n.pport };
}

/**
 * Holds an flock on nodes.conf for the process's life, as clusterLockConfig does: util-linux's
 * flock(1) takes it (non-blocking), says so on stdout, then waits on a pipe only we hold, so the
 * lock is released when this process dies however it dies.
 */
function lockConfig(server: Server, file: string): Promise<boolean> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      fs.closeSync(fs.openSync(file, 'a', 0o644));
      child = spawn('flock', ['--exclusive', '--nonblock', file, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch (e) {
      server.log.warning(`Can't open ${file} in order to acquire a lock: ${(e as Error).message}`);
      resolve(false);
      return;
    }
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      resolve(ok);
    };
    child.stdout!.once('data', () => {
      child.stdout!.destroy();
      done(true);
    });
    child.once('exit', (code) => {
      if (code === 1) {
        server.log.warning(`Sorry, the cluster configuration file ${file} is already used by a different Redis Cluster node. Please make sure that different nodes use different cluster configuration files.`);
      }
      done(false);
    });
    child.once('error', (e) => {
      server.log.warning(`Impossible to lock ${file}: ${e.message}`);
      done(false);
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
  });
}

/**
 * clusterInit. Exits the process (as Redis does) on a corrupted nodes.conf or a bad port.
 * `pickBusPort` (a server started by the API with a kernel-chosen port and no cluster-port): the
 * kernel chooses the bus port too, kept as `cluster-port`, since port + 10000 may be taken or
 * beyond 65535.
 */
export async function startCluster(server: Server, pickBusPort = false): Promise<ClusterRuntime> {
  const cfg = server.config;
  const log = server.log;
  const file = path.resolve(cfg.getString('cluster-config-file'));
  const port = server.boundPort || cfg.getNumber('port');
  const pickBus = pickBusPort && cfg.getNumber('cluster-port') === 0;
  if (cfg.getNumber('cluster-port') === 0 && port > 65535 - PORT_INCR && !pickBus) {
    log.warning('Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.');
    process.exit(1);
  }
  let keys = slotKeys(server.dbs[0]!);
  const env: ClusterEnv = {
    now: () => server.clock.now(),
    randomInt: (n) => Math.floor(server.rng.next() * n),
    randomHex: (n) => server.rng.hex(n),
    log,
    settings: cachedSettings(server),
    connect: (node) => bus.connect(node),
    saveConfig: (text, fsync) => {
      try {
        const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
        try {
          const size = fs.fstatSync(fd).size;
          const content = Buffer.from(text, 'latin1');
          const out = size > content.length ? Buffer.concat([content, Buffer.alloc(size - content.length, '\n')]) : content;
          fs.writeSync(fd, out, 0, out.length, 0);
          if (fsync) fs.fsyncSync(fd);
          if (out.length !== content.length) fs.ftruncateSync(fd, content.length);
        } finally {
          fs.closeSync(fd);
        }
        return true;
      } catch {
        return false;
      }
    },
    die: (message) => {
      log.warning(message);
      process.exit(1);
    },
    schedule: (fn) => setImmediate(fn),
    repl: {
      setMaster: (ip, p) => setMaster(replicationOf(server), ip, p),
      unsetMaster: () => unsetMaster(replicationOf(server)),
      hasMaster: () => replicationOf(server).masterHost !== null,
      offset: () => replicationOf(server).replicaOffset,
      dataAge: () => {
        const link = replicationOf(server).link;
        const now = server.clock.now();
        if (link === null) return now;
        return link.state === 'connected' ? now - link.lastIo : now - link.downSince;
      },
    },
    keys: {
      countKeysInSlot: (slot) => keys.countKeysInSlot(slot),
      deleteKeysInSlot: (slot) => keys.deleteKeysInSlot(slot),
      removeChannelsInSlot: (slot) => unsubscribeShardSlot(server, slot),
      flushAll: () => {
        for (const db of server.dbs) {
          server.signalDbTouched(db.id);
          db.clear();
        }
        server.invalidateUsedMemory();
        keys = slotKeys(server.dbs[0]!);
      },
    },
    pauseWrites: (until) => server.pauseClients('write', Math.max(0, until - server.clock.now())),
    unpauseWrites: () => server.unpauseClients(),
    deliverPublish: (channel, message, shard) => {
      publishMessage(server, channel, message, shard ? 'shard' : 'channel');
    },
    hasSubscribers: () => true,
  };
  const state = new ClusterState(env);
  const bus = new ClusterBus(state, () => (cfg.getBool('tls-cluster') ? server.tls : null));
  if (!(await lockConfig(server, file))) process.exit(1);
  const binds = cfg.getString('bind').split(' ').filter(Boolean).map((b) => b.replace(/^-/, '')).map((b) => (b === '*' ? '0.0.0.0' : b === '::*' ? '::' : b));
  const listenBus = async (busPort: number): Promise<number> => {
    try {
      return await bus.listen(binds.length > 0 ? binds : ['0.0.0.0'], busPort, cfg.getNumber('tcp-backlog'));
    } catch (e) {
      log.warning(`Warning: Could not create server TCP listening socket ${binds[0] ?? '*'}:${busPort}: bind: ${(e as Error).message}`);
      process.exit(1);
    }
  };
  // The chosen bus port is known before nodes.conf is loaded or created (it names our cport).
  if (pickBus) cfg.set('cluster-port', [String(await listenBus(0))], 'args');
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warning(`Loading the cluster node config from ${file}: ${(e as Error).message}`);
      process.exit(1);
    }
  }
  if (text === null || text.length === 0) {
    state.initFresh();
  } else {
    const err = state.loadConfig(text);
    if (err !== null) {
      log.warning(err === 'fmterr' ? 'Unrecoverable error: corrupted cluster config file.' : err);
      process.exit(1);
    }
    state.saveConfigOrDie(true);
  }
  if (!pickBus) await listenBus(cfg.getNumber('cluster-port') || (cfg.getBool('tls-cluster') ? cfg.getNumber('tls-port') : port) + PORT_INCR);
  // A replica loaded from nodes.conf replicates its master once the dataset on disk is loaded
  // (Redis: clusterCron's replicationSetMaster, after the blocking load). Connecting earlier let
  // a quick full sync finish before the start-up load, which then found every key already
  // there ("RDB has duplicated key") and stopped the server (cluster suite 14-consistency-check).
  let started = false;
  server.startupTasks.push(() => {
    started = true;
    const me = state.myself;
    if (me.isSlave && me.slaveof !== null && me.slaveof.hasAddr && me.slaveof.ip !== '' && !env.repl.hasMaster()) env.repl.setMaster(me.slaveof.ip, me.slaveof.port);
  });
  // clusterCron runs after the turn's reads, as Redis runs time events after file events: a node
  // that was stalled (a long command, CPU starvation) reads the PONGs waiting in its sockets
  // before judging anyone's ping delay, so the stall does not make it flag every node PFAIL
  // and gossip failure reports about healthy nodes. Its own timer, not serverCron's hook:
  // serverCron stops while the server loads, and the bus must keep going through an async load.
  let stopped = false;
  const timer = setInterval(() => setImmediate(() => {
    if (!stopped && started) state.cron();
  }), CRON_PERIOD_MS);
  timer.unref();

  const view: ClusterView = {
    isUp: () => state.state === 'ok',
    myself: () => refOf(state.myself),
    isReplica: () => state.myself.isSlave,
    myMaster: () => (state.myself.slaveof === null ? null : refOf(state.myself.slaveof)),
    slotOwner: (slot) => {
      const n = state.slots[slot];
      return n === null || n === undefined ? null : refOf(n);
    },
    migratingTo: (slot) => {
      const n = state.migratingTo[slot];
      return n === null || n === undefined ? null : refOf(n);
    },
    importingFrom: (slot) => {
      const n = state.importingFrom[slot];
      return n === null || n === undefined ? null : refOf(n);
    },
    endpoint: (node, plaintextInTlsCluster) => {
      const type = cfg.getString('cluster-preferred-endpoint-type');
      const host = type === 'ip' ? node.ip : type === 'hostname' ? (node.hostname !== '' ? node.hostname : '?') : '';
      return `${host}:${plaintextInTlsCluster && node.pport ? node.pport : node.port}`;
    },
    publishShard: (channel, message) => state.propagatePublish(channel, message, true),
    publish: (channel, message) => state.propagatePublish(channel, message, false),
  };
  const runtime: ClusterRuntime = {
    state,
    bus,
    view,
    configFile: file,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      bus.close();
    },
  };
  runtimes.set(server, runtime);
  for (const name of ['cluster-announce-hostname', 'cluster-announce-ip', 'cluster-announce-port', 'cluster-announce-bus-port', 'cluster-announce-tls-port']) {
    cfg.onApply(name, () => {
      state.refreshMyself();
      return null;
    });
  }
  server.cluster = view;
  server.hooks.shutdown.push(() => {
    state.saveConfig(true);
    return true;
  });
  return runtime;
}
