/**
 * What a sentinel knows about each monitored instance: the master it was told to watch, the
 * replicas it discovered from INFO, and the other sentinels it heard from on the hello channel
 * (sentinelRedisInstance in Redis's sentinel.c). Plain data plus the link bookkeeping; all the
 * decisions live in sentinel.ts.
 */
import type { Addr, Connection } from './transport.js';

// Instance flags, as sentinel.c's SRI_*.
export const SRI_MASTER = 1 << 0;
export const SRI_SLAVE = 1 << 1;
export const SRI_SENTINEL = 1 << 2;
export const SRI_S_DOWN = 1 << 3;
export const SRI_O_DOWN = 1 << 4;
export const SRI_MASTER_DOWN = 1 << 5;
export const SRI_FAILOVER_IN_PROGRESS = 1 << 6;
export const SRI_PROMOTED = 1 << 7;
export const SRI_RECONF_SENT = 1 << 8;
export const SRI_RECONF_INPROG = 1 << 9;
export const SRI_RECONF_DONE = 1 << 10;
export const SRI_FORCE_FAILOVER = 1 << 11;
export const SRI_SCRIPT_KILL_SENT = 1 << 12;
export const SRI_MASTER_REBOOT = 1 << 13;

export enum FailoverState {
  None = 0,
  WaitStart = 1,
  SelectSlave = 2,
  SendSlaveofNoone = 3,
  WaitPromotion = 4,
  ReconfSlaves = 5,
  UpdateConfig = 6,
}

export const FAILOVER_STATE_NAMES = ['none', 'wait_start', 'select_slave', 'send_slaveof_noone', 'wait_promotion', 'reconf_slaves', 'update_config'];

/** The command and pub/sub connections to one instance (instanceLink). */
export class InstanceLink {
  cc: Connection | null = null;
  pc: Connection | null = null;
  ccConnected = false;
  pcConnected = false;
  pendingCommands = 0;
  ccConnTime = 0;
  pcConnTime = 0;
  pcLastActivity = 0;
  /** Last time a valid PING reply arrived. */
  lastAvailTime: number;
  /** Time of the oldest PING still unanswered, 0 when none is pending. */
  actPingTime: number;
  lastPingTime = 0;
  lastPongTime: number;
  lastReconnTime = 0;

  /** createInstanceLink(): a new link counts as just heard from (no PING storm, no early sdown). */
  constructor(now: number) {
    this.lastAvailTime = now;
    this.actPingTime = now;
    this.lastPongTime = now;
  }
}

export class Instance {
  flags: number;
  name: string;
  addr: Addr;
  runId: string | null = null;
  /** For replicas and sentinels: the master they belong to. */
  readonly master: Instance | null;
  link: InstanceLink;
  configEpoch = 0;

  // Master-only settings and state.
  quorum = 0;
  downAfterPeriod = 30000;
  failoverTimeout = 180000;
  parallelSyncs = 1;
  authPass: string | null = null;
  authUser: string | null = null;
  /** `sentinel rename-command`: lower-case standard name → the name this master's group knows. */
  readonly renamedCommands = new Map<string, string>();
  notificationScript: string | null = null;
  clientReconfigScript: string | null = null;
  masterRebootDownAfterPeriod = 0;
  masterRebootSinceTime = 0;
  replicas = new Map<string, Instance>();
  sentinels = new Map<string, Instance>();
  leader: string | null = null;
  leaderEpoch = 0;
  failoverEpoch = 0;
  failoverState = FailoverState.None;
  failoverStateChangeTime = 0;
  failoverStartTime = 0;
  failoverDelayLogged = 0;
  promoted: Instance | null = null;

  // What INFO said.
  info = '';
  infoRefresh = 0;
  roleReported: number;
  roleReportedTime: number;
  slaveConfChangeTime: number;
  masterLinkDownTime = 0;
  slaveMasterHost: string | null = null;
  slaveMasterPort = 0;
  slaveMasterLinkStatus = 1; // 0 up, 1 down (SENTINEL_MASTER_LINK_STATUS_*)
  slaveReplOffset = 0;
  slavePriority = 100;
  replicaAnnounced = true;
  /**
   * nodis's durable acknowledgment: the instance's INFO showed `durable_writes:1`, with
   * `durable_replicas` replicas in its set; `masterLastIoSec` is master_last_io_seconds_ago.
   */
  durableWrites = false;
  durableReplicas = 0;
  masterLastIoSec = 0;
  /** master_replid from INFO (a master's history; a replica's: the one its offset counts in). */
  replid = '';
  /** When the durable failover fenced / asked this replica (ms, 0: not asked). */
  durableProbeSent = 0;
  /**
   * Its answer: the offset it holds, and whether that offset can no longer grow (fenced by
   * REPLCONF DURABLE-FENCE, or — a replica without it — its link to the old master silent).
   */
  durableAnswer: { offset: number; replid: string; settled: boolean } | null = null;
  /** We fenced this replica in our current (or last) durable failover. */
  durableFenced = false;
  /** durable_fenced_ms from its last INFO: how long its fence has held (0: not fenced). */
  durableFencedMs = 0;

  sDownSinceTime = 0;
  oDownSinceTime = 0;
  lastPubTime: number;
  lastHelloTime: number;
  lastMasterDownReplyTime: number;
  slaveReconfSentTime = 0;

  constructor(flags: number, name: string, addr: Addr, master: Instance | null, now: number) {
    this.flags = flags;
    this.name = name;
    this.addr = addr;
    this.master = master;
    this.link = new InstanceLink(now);
    this.roleReported = flags & (SRI_MASTER | SRI_SLAVE);
    this.roleReportedTime = now;
    this.slaveConfChangeTime = now;
    // As createSentinelRedisInstance(): the first hello goes out one publish period after the
    // instance is added, by which time its replicas are known and their INFO is fresh.
    this.lastPubTime = now;
    this.lastHelloTime = now;
    this.lastMasterDownReplyTime = now;
    if (master !== null) this.downAfterPeriod = master.downAfterPeriod;
  }

  get isMaster(): boolean {
    return (this.flags & SRI_MASTER) !== 0;
  }
  get isSlave(): boolean {
    return (this.flags & SRI_SLAVE) !== 0;
  }
  get isSentinel(): boolean {
    return (this.flags & SRI_SENTINEL) !== 0;
  }
  get linkDisconnected(): boolean {
    return !this.link.ccConnected || (!this.isSentinel && !this.link.pcConnected);
  }

  /** Redis's "%@" event prefix: `<type> <name> <ip> <port>[ @ <master> <ip> <port>]`. */
  describe(announce: (host: string) => string = (h) => h): string {
    const type = this.isMaster ? 'master' : this.isSlave ? 'slave' : 'sentinel';
    let s = `${type} ${this.name} ${announce(this.addr.host)} ${this.addr.port}`;
    if (this.master !== null) s += ` @ ${this.master.name} ${announce(this.master.addr.host)} ${this.master.addr.port}`;
    return s;
  }

  /** The flags field of SENTINEL MASTERS/REPLICAS. */
  flagNames(tilt: boolean): string {
    const f: string[] = [];
    if (this.flags & SRI_S_DOWN) f.push('s_down');
    if (this.flags & SRI_O_DOWN) f.push('o_down');
    if (this.flags & SRI_MASTER) f.push('master');
    if (this.flags & SRI_SLAVE) f.push('slave');
    if (this.flags & SRI_SENTINEL) f.push('sentinel');
    if (this.linkDisconnected) f.push('disconnected');
    if (this.flags & SRI_MASTER_DOWN) f.push('master_down');
    if (this.flags & SRI_FAILOVER_IN_PROGRESS) f.push('failover_in_progress');
    if (this.flags & SRI_PROMOTED) f.push('promoted');
    if (this.flags & SRI_RECONF_SENT) f.push('reconf_sent');
    if (this.flags & SRI_RECONF_INPROG) f.push('reconf_inprog');
    if (this.flags & SRI_RECONF_DONE) f.push('reconf_done');
    if (this.flags & SRI_FORCE_FAILOVER) f.push('force_failover');
    if (this.flags & SRI_SCRIPT_KILL_SENT) f.push('script_kill_sent');
    void tilt;
    return f.join(',');
  }
}
