/**
 * Redis Cluster's state machine (cluster.c): the node table, myself, epochs, slots → owner,
 * migrating/importing, failure detection (PFAIL → FAIL with failure reports), replica election,
 * manual failover, UPDATE handling and nodes.conf's text. It knows nothing of sockets, files or
 * timers: `ClusterEnv` gives it the clock, the links, the replication and keyspace hooks and the
 * config file, so the same code runs in the server (cluster/install.ts, cluster/bus.ts) and in
 * the deterministic simulation (cluster/sim.ts).
 */
import {
  Flag, MsgType, MSG_TYPE_COUNT, NAMELEN, NULL_NAME, SLOT_BYTES, MFLAG0_PAUSED, MFLAG0_FORCEACK,
  bitTest, bitSet, bitClear, encode, decode, type Gossip, type Header, type Message,
} from './codec.js';
import { CLUSTER_SLOTS } from './slot.js';

const FAIL_REPORT_VALIDITY_MULT = 2;
const FAIL_UNDO_TIME_MULT = 2;
const MF_TIMEOUT = 5000;
const MF_PAUSE_MULT = 2;
const BLACKLIST_TTL = 60;
const MAX_REJOIN_DELAY = 5000;
const MIN_REJOIN_DELAY = 500;
const WRITABLE_DELAY = 2000;
const CANT_FAILOVER_RELOG_PERIOD = 10;

export const BEFORE_SLEEP_HANDLE_FAILOVER = 1;
export const BEFORE_SLEEP_UPDATE_STATE = 2;
export const BEFORE_SLEEP_SAVE_CONFIG = 4;
export const BEFORE_SLEEP_FSYNC_CONFIG = 8;
export const BEFORE_SLEEP_HANDLE_MANUALFAILOVER = 16;

/** A bus connection, as the state machine sees it. */
export interface BusLink {
  node: ClusterNode | null;
  readonly inbound: boolean;
  readonly ctime: number;
  send(buf: Buffer): void;
  close(): void;
  /** Our address on this connection (MEET teaches a node its own IP). */
  localIp(): string;
  /** The peer's address. */
  peerIp(): string;
  /** Bytes queued and not yet written (CLUSTER LINKS). */
  pendingBytes(): number;
}

export interface ClusterSettings {
  nodeTimeout: number;
  replicaValidityFactor: number;
  migrationBarrier: number;
  requireFullCoverage: boolean;
  allowReplicaMigration: boolean;
  replicaNoFailover: boolean;
  replPingPeriodMs: number;
  announceIp: string;
  announceHostname: string;
  port: number;
  pport: number;
  cport: number;
  preferredEndpoint: string;
  /** cluster-link-sendbuf-limit in bytes; 0: no limit. */
  linkSendbufLimit: number;
}

export interface ClusterLog {
  debug(m: string): void;
  verbose(m: string): void;
  notice(m: string): void;
  warning(m: string): void;
}

export interface ClusterEnv {
  now(): number;
  /** A uniform integer in [0, n). */
  randomInt(n: number): number;
  randomHex(n: number): string;
  readonly log: ClusterLog;
  settings(): ClusterSettings;
  /** Opens an outbound link to node's bus port; `linkConnected` follows when it is up. */
  connect(node: ClusterNode): BusLink;
  /** Writes nodes.conf; false on failure. */
  saveConfig(text: string, fsync: boolean): boolean;
  /** Redis exits when nodes.conf cannot be written. */
  die(message: string): void;
  /** Runs `fn` before the event loop sleeps again (clusterBeforeSleep). */
  schedule(fn: () => void): void;
  repl: {
    setMaster(ip: string, port: number): void;
    unsetMaster(): void;
    /** A replication master is configured (server.masterhost != NULL). */
    hasMaster(): boolean;
    /** master_repl_offset, or the processed offset on a replica. */
    offset(): number;
    /** ms since the last data from our master (or since the link went down). */
    dataAge(): number;
  };
  keys: {
    countKeysInSlot(slot: number): number;
    deleteKeysInSlot(slot: number): number;
    /** Ends the shard channel subscriptions of `slot` (SUNSUBSCRIBE pushes: removeChannelsInSlot). */
    removeChannelsInSlot(slot: number): void;
    flushAll(): void;
  };
  pauseWrites(until: number): void;
  unpauseWrites(): void;
  deliverPublish(channel: string, message: string, shard: boolean): void;
  hasSubscribers(shard: boolean): boolean;
}

export class ClusterNode {
  flags: number;
  ctime: number;
  configEpoch = 0n;
  readonly slots = new Uint8Array(SLOT_BYTES);
  numslots = 0;
  readonly slaves: ClusterNode[] = [];
  slaveof: ClusterNode | null = null;
  pingSent = 0;
  pongReceived = 0;
  dataReceived = 0;
  failTime = 0;
  votedTime = 0;
  replOffsetTime = 0;
  orphanedTime = 0;
  replOffset = 0n;
  ip = '';
  hostname = '';
  port = 0;
  pport = 0;
  cport = 0;
  link: BusLink | null = null;
  inboundLink: BusLink | null = null;
  readonly failReports: { node: ClusterNode; time: number }[] = [];
  lastInPingGossip = 0;

  constructor(public name: string, flags: number, now: number) {
    this.flags = flags;
    this.ctime = now;
  }

  get isMaster(): boolean {
    return (this.flags & Flag.MASTER) !== 0;
  }
  get isSlave(): boolean {
    return (this.flags & Flag.SLAVE) !== 0;
  }
  get timedOut(): boolean {
    return (this.flags & Flag.PFAIL) !== 0;
  }
  get failed(): boolean {
    return (this.flags & Flag.FAIL) !== 0;
  }
  get inHandshake(): boolean {
    return (this.flags & Flag.HANDSHAKE) !== 0;
  }
  get hasAddr(): boolean {
    return (this.flags & Flag.NOADDR) === 0;
  }
  get cantFailover(): boolean {
    return (this.flags & Flag.NOFAILOVER) !== 0;
  }
}

export function verifyNodeId(name: string): boolean {
  return /^[a-z0-9]{40}$/.test(name);
}

const FLAG_NAMES: [number, string][] = [
  [Flag.MYSELF, 'myself'], [Flag.MASTER, 'master'], [Flag.SLAVE, 'slave'], [Flag.PFAIL, 'fail?'], [Flag.FAIL, 'fail'],
  [Flag.HANDSHAKE, 'handshake'], [Flag.NOADDR, 'noaddr'], [Flag.NOFAILOVER, 'nofailover'],
];

export function representFlags(flags: number): string {
  const out = FLAG_NAMES.filter(([f]) => flags & f).map(([, n]) => n);
  return out.length === 0 ? 'noflags' : out.join(',');
}

export class ClusterState {
  myself: ClusterNode;
  currentEpoch = 0n;
  lastVoteEpoch = 0n;
  state: 'ok' | 'fail' = 'fail';
  size = 0;
  readonly nodes = new Map<string, ClusterNode>();
  /** The nodes in the map's order, for sendPing's random picks; null after the table changed. */
  private nodeArray: ClusterNode[] | null = null;
  readonly slots: (ClusterNode | null)[] = new Array<ClusterNode | null>(CLUSTER_SLOTS).fill(null);
  readonly migratingTo: (ClusterNode | null)[] = new Array<ClusterNode | null>(CLUSTER_SLOTS).fill(null);
  readonly importingFrom: (ClusterNode | null)[] = new Array<ClusterNode | null>(CLUSTER_SLOTS).fill(null);
  readonly ownerNotClaimingSlot = new Uint8Array(SLOT_BYTES);
  readonly blacklist = new Map<string, number>();
  failoverAuthTime = 0;
  failoverAuthCount = 0;
  failoverAuthSent = false;
  failoverAuthRank = 0;
  failoverAuthEpoch = 0n;
  cantFailoverReason = 0;
  private cantFailoverLogTime = 0;
  mfEnd = 0;
  mfSlave: ClusterNode | null = null;
  mfMasterOffset = -1n;
  mfCanStart = false;
  readonly statsSent = new Array<number>(MSG_TYPE_COUNT).fill(0);
  readonly statsReceived = new Array<number>(MSG_TYPE_COUNT).fill(0);
  statsPfailNodes = 0;
  /** Links freed for going past cluster-link-sendbuf-limit (CLUSTER INFO's total_cluster_links_buffer_limit_exceeded). */
  statLinksBufferLimitExceeded = 0;
  /** DEBUG DROP-CLUSTER-PACKET-FILTER: a message type received and ignored (-1: none). */
  dropPacketFilter = -1;
  /** cluster-announce-ip as last applied to myself. */
  private announcedIp = '';
  private beforeSleepWork = 0;
  private scheduled = false;
  private iteration = 0;
  private pingsSent = 0;
  private amongMinorityTime = 0;
  private firstUpdateCall = 0;

  constructor(readonly env: ClusterEnv) {
    this.myself = new ClusterNode(env.randomHex(NAMELEN), Flag.MYSELF | Flag.MASTER, env.now());
  }

  // ---- Start-up ----------------------------------------------------------------------------------

  /** clusterInit without a config file: a fresh master. */
  initFresh(): void {
    this.addNode(this.myself);
    this.env.log.notice(`No cluster configuration found, I'm ${this.myself.name}`);
    this.updateMyselfAnnounced();
    this.saveConfigOrDie(true);
  }

  /** clusterLoadConfig: returns an error text for a corrupted file. */
  loadConfig(text: string): string | null {
    let myself: ClusterNode | null = null;
    const now = this.env.now();
    const lookupOrCreate = (name: string): ClusterNode => {
      let n = this.nodes.get(name);
      if (n === undefined) {
        n = new ClusterNode(name, 0, now);
        this.nodes.set(name, n);
        this.nodeArray = null;
      }
      return n;
    };
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const argv = line.trim().split(/\s+/);
      if (argv[0] === '') continue;
      if (argv[0]!.toLowerCase() === 'vars') {
        if (argv.length % 2 === 0) return 'fmterr';
        for (let j = 1; j < argv.length; j += 2) {
          const k = argv[j]!.toLowerCase();
          if (k === 'currentepoch') this.currentEpoch = parseU64(argv[j + 1]!);
          else if (k === 'lastvoteepoch') this.lastVoteEpoch = parseU64(argv[j + 1]!);
          else this.env.log.warning(`Skipping unknown cluster config variable '${argv[j]}'`);
        }
        continue;
      }
      if (argv.length < 8) return 'fmterr';
      if (!verifyNodeId(argv[0]!)) return 'fmterr';
      const n = lookupOrCreate(argv[0]!);
      const addr = argv[1]!;
      const comma = addr.indexOf(',');
      n.hostname = comma >= 0 ? addr.slice(comma + 1) : '';
      const hostPort = comma >= 0 ? addr.slice(0, comma) : addr;
      const colon = hostPort.lastIndexOf(':');
      if (colon < 0) return 'fmterr';
      n.ip = hostPort.slice(0, colon);
      const portPart = hostPort.slice(colon + 1);
      const at = portPart.indexOf('@');
      n.port = atoi(at >= 0 ? portPart.slice(0, at) : portPart);
      n.cport = at >= 0 ? atoi(portPart.slice(at + 1)) : n.port + 10000;
      for (const f of argv[2]!.split(',')) {
        const s = f.toLowerCase();
        if (s === 'myself') {
          myself = n;
          n.flags |= Flag.MYSELF;
        } else if (s === 'master') n.flags |= Flag.MASTER;
        else if (s === 'slave') n.flags |= Flag.SLAVE;
        else if (s === 'fail?') n.flags |= Flag.PFAIL;
        else if (s === 'fail') {
          n.flags |= Flag.FAIL;
          n.failTime = now;
        } else if (s === 'handshake') n.flags |= Flag.HANDSHAKE;
        else if (s === 'noaddr') n.flags |= Flag.NOADDR;
        else if (s === 'nofailover') n.flags |= Flag.NOFAILOVER;
        else if (s !== 'noflags') return 'Unknown flag in redis cluster config file';
      }
      if (argv[3]![0] !== '-') {
        if (!verifyNodeId(argv[3]!)) return 'fmterr';
        const master = lookupOrCreate(argv[3]!);
        n.slaveof = master;
        addSlave(master, n);
      }
      if (atoi(argv[4]!)) n.pingSent = now;
      if (atoi(argv[5]!)) n.pongReceived = now;
      n.configEpoch = n.isSlave && n.slaveof !== null ? 0n : parseU64(argv[6]!);
      for (let j = 8; j < argv.length; j++) {
        const a = argv[j]!;
        if (a[0] === '[') {
          const dash = a.indexOf('-');
          if (dash < 0) return 'fmterr';
          const direction = a[dash + 1];
          const slot = atoi(a.slice(1));
          if (slot < 0 || slot >= CLUSTER_SLOTS) return 'fmterr';
          const close = a.indexOf(']', dash + 3);
          const id = close < 0 ? '' : a.slice(dash + 3, close);
          if (!verifyNodeId(id)) return 'fmterr';
          const cn = lookupOrCreate(id);
          if (direction === '>') this.migratingTo[slot] = cn;
          else this.importingFrom[slot] = cn;
          continue;
        }
        const dash = a.indexOf('-');
        let start = atoi(a);
        const stop = dash >= 0 ? atoi(a.slice(dash + 1)) : start;
        if (start < 0 || start >= CLUSTER_SLOTS || stop < 0 || stop >= CLUSTER_SLOTS) return 'fmterr';
        while (start <= stop) this.addSlot(n, start++);
      }
    }
    if (myself === null) return 'fmterr';
    this.myself = myself;
    this.env.log.notice(`Node configuration loaded, I'm ${myself.name}`);
    const max = this.maxEpoch();
    if (max > this.currentEpoch) this.currentEpoch = max;
    this.updateMyselfAnnounced();
    return null;
  }

  /** Ports, IP and hostname of myself from the cluster-announce-* settings. */
  updateMyselfAnnounced(): void {
    const s = this.env.settings();
    this.myself.port = s.port;
    this.myself.pport = s.pport;
    this.myself.cport = s.cport;
    if (s.announceIp !== '') this.myself.ip = s.announceIp;
    this.announcedIp = s.announceIp;
    this.myself.hostname = s.announceHostname;
  }

  // ---- Node table --------------------------------------------------------------------------------

  addNode(n: ClusterNode): void {
    this.nodes.set(n.name, n);
    this.nodeArray = null;
  }

  private nodeList(): ClusterNode[] {
    return (this.nodeArray ??= [...this.nodes.values()]);
  }

  lookup(name: string): ClusterNode | null {
    if (!verifyNodeId(name)) return null;
    return this.nodes.get(name) ?? null;
  }

  delNode(del: ClusterNode): void {
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if (this.importingFrom[j] === del) this.importingFrom[j] = null;
      if (this.migratingTo[j] === del) this.migratingTo[j] = null;
      if (this.slots[j] === del) this.delSlot(j);
    }
    for (const n of this.nodes.values()) if (n !== del) delFailureReport(n, del);
    for (const s of del.slaves) s.slaveof = null;
    if (del.isSlave && del.slaveof !== null) removeSlave(del.slaveof, del);
    this.nodes.delete(del.name);
    this.nodeArray = null;
    if (del.link !== null) this.freeLink(del.link);
    if (del.inboundLink !== null) this.freeLink(del.inboundLink);
  }

  renameNode(n: ClusterNode, name: string): void {
    this.env.log.debug(`Renaming node ${n.name} into ${name}`);
    this.nodes.delete(n.name);
    n.name = name;
    this.nodes.set(name, n);
    this.nodeArray = null;
  }

  maxEpoch(): bigint {
    let max = 0n;
    for (const n of this.nodes.values()) if (n.configEpoch > max) max = n.configEpoch;
    return max < this.currentEpoch ? this.currentEpoch : max;
  }

  bumpConfigEpochWithoutConsensus(): boolean {
    const max = this.maxEpoch();
    if (this.myself.configEpoch === 0n || this.myself.configEpoch !== max) {
      this.currentEpoch++;
      this.myself.configEpoch = this.currentEpoch;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_FSYNC_CONFIG);
      this.env.log.warning(`New configEpoch set to ${this.myself.configEpoch}`);
      return true;
    }
    return false;
  }

  handleConfigEpochCollision(sender: ClusterNode): void {
    const me = this.myself;
    if (sender.configEpoch !== me.configEpoch || !sender.isMaster || !me.isMaster) return;
    if (sender.name <= me.name) return;
    this.currentEpoch++;
    me.configEpoch = this.currentEpoch;
    this.saveConfigOrDie(true);
    this.env.log.verbose(`WARNING: configEpoch collision with node ${sender.name}. configEpoch set to ${me.configEpoch}`);
  }

  blacklistCleanup(): void {
    const now = Math.floor(this.env.now() / 1000);
    for (const [id, expire] of this.blacklist) if (expire < now) this.blacklist.delete(id);
  }

  blacklistAdd(n: ClusterNode): void {
    this.blacklistCleanup();
    this.blacklist.set(n.name, Math.floor(this.env.now() / 1000) + BLACKLIST_TTL);
  }

  blacklistExists(id: string): boolean {
    this.blacklistCleanup();
    return this.blacklist.has(id);
  }

  failureReportsCount(n: ClusterNode): number {
    const maxtime = this.env.settings().nodeTimeout * FAIL_REPORT_VALIDITY_MULT;
    const now = this.env.now();
    for (let i = n.failReports.length - 1; i >= 0; i--) if (now - n.failReports[i]!.time > maxtime) n.failReports.splice(i, 1);
    return n.failReports.length;
  }

  countNonFailingSlaves(n: ClusterNode): number {
    return n.slaves.filter((s) => !s.failed).length;
  }

  markNodeAsFailingIfNeeded(node: ClusterNode): void {
    const quorum = Math.floor(this.size / 2) + 1;
    if (!node.timedOut || node.failed) return;
    let failures = this.failureReportsCount(node);
    if (this.myself.isMaster) failures++;
    if (failures < quorum) return;
    this.env.log.notice(`Marking node ${node.name} as failing (quorum reached).`);
    node.flags = (node.flags & ~Flag.PFAIL) | Flag.FAIL;
    node.failTime = this.env.now();
    this.sendFail(node.name);
    this.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
  }

  clearNodeFailureIfNeeded(node: ClusterNode): void {
    const now = this.env.now();
    if (node.isSlave || node.numslots === 0) {
      this.env.log.notice(`Clear FAIL state for node ${node.name}: ${node.isSlave ? 'replica' : 'master without slots'} is reachable again.`);
      node.flags &= ~Flag.FAIL;
      this.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
    }
    if (node.isMaster && node.numslots > 0 && now - node.failTime > this.env.settings().nodeTimeout * FAIL_UNDO_TIME_MULT) {
      this.env.log.notice(`Clear FAIL state for node ${node.name}: is reachable again and nobody is serving its slots after some time.`);
      node.flags &= ~Flag.FAIL;
      this.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
    }
  }

  /** CLUSTER MEET: false with 'inval' for a bad address, 'again' when already in progress. */
  startHandshake(ip: string, port: number, cport: number): 'ok' | 'inval' | 'again' {
    const norm = normalizeIp(ip);
    if (norm === null) return 'inval';
    if (port <= 0 || port > 65535 || cport <= 0 || cport > 65535) return 'inval';
    for (const n of this.nodes.values()) {
      if (n.inHandshake && n.ip.toLowerCase() === norm.toLowerCase() && n.port === port && n.cport === cport) return 'again';
    }
    const n = new ClusterNode(this.env.randomHex(NAMELEN), Flag.HANDSHAKE | Flag.MEET, this.env.now());
    n.ip = norm;
    n.port = port;
    n.cport = cport;
    this.addNode(n);
    return 'ok';
  }

  // ---- Slots -------------------------------------------------------------------------------------

  mastersHaveSlaves(): boolean {
    for (const n of this.nodes.values()) if (!n.isSlave && n.slaves.length > 0) return true;
    return false;
  }

  addSlot(n: ClusterNode, slot: number): boolean {
    if (this.slots[slot] !== null) return false;
    if (!bitTest(n.slots, slot)) {
      bitSet(n.slots, slot);
      n.numslots++;
      if (n.numslots === 1 && this.mastersHaveSlaves()) n.flags |= Flag.MIGRATE_TO;
    }
    this.slots[slot] = n;
    return true;
  }

  delSlot(slot: number): boolean {
    const n = this.slots[slot]!;
    if (n === null) return false;
    // The slot leaves this node's shard: its shard channels' subscribers are told (clusterDelSlot).
    const shardMaster = n.isSlave && n.slaveof !== null ? n.slaveof : n;
    const me = this.myself;
    if (me === shardMaster || (me.isSlave && me.slaveof === shardMaster)) this.env.keys.removeChannelsInSlot(slot);
    if (bitTest(n.slots, slot)) {
      bitClear(n.slots, slot);
      n.numslots--;
    }
    this.slots[slot] = null;
    return true;
  }

  delNodeSlots(n: ClusterNode): number {
    let deleted = 0;
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if (bitTest(n.slots, j)) {
        if (this.slots[j] === n) this.delSlot(j);
        else {
          bitClear(n.slots, j);
          n.numslots--;
        }
        deleted++;
      }
    }
    return deleted;
  }

  closeAllSlots(): void {
    this.migratingTo.fill(null);
    this.importingFrom.fill(null);
  }

  private isSlotUnclaimed(slot: number): boolean {
    return this.slots[slot] === null || bitTest(this.ownerNotClaimingSlot, slot);
  }

  setNodeAsMaster(n: ClusterNode): void {
    if (n.isMaster) return;
    if (n.slaveof !== null) {
      removeSlave(n.slaveof, n);
      if (n !== this.myself) n.flags |= Flag.MIGRATE_TO;
    }
    n.flags = (n.flags & ~Flag.SLAVE) | Flag.MASTER;
    n.slaveof = null;
    this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
  }

  /** clusterSetMaster: myself becomes a replica of n. */
  setMaster(n: ClusterNode): void {
    const me = this.myself;
    if (me.isMaster) {
      me.flags = (me.flags & ~(Flag.MASTER | Flag.MIGRATE_TO)) | Flag.SLAVE;
      this.closeAllSlots();
    } else if (me.slaveof !== null) removeSlave(me.slaveof, me);
    me.slaveof = n;
    addSlave(n, me);
    this.env.repl.setMaster(n.ip, n.port);
    this.resetManualFailover();
  }

  updateSlotsConfigWith(sender: ClusterNode, senderConfigEpoch: bigint, slots: Uint8Array): void {
    const me = this.myself;
    const curmaster = me.isMaster ? me : me.slaveof;
    let newmaster: ClusterNode | null = null;
    const dirty: number[] = [];
    let senderSlots = 0;
    let migratedOurSlots = 0;
    if (sender === me) {
      this.env.log.warning('Discarding UPDATE message about myself.');
      return;
    }
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if (bitTest(slots, j)) {
        senderSlots++;
        if (this.slots[j] === sender) {
          bitClear(this.ownerNotClaimingSlot, j);
          continue;
        }
        if (this.importingFrom[j] !== null) continue;
        if (this.isSlotUnclaimed(j) || this.slots[j]!.configEpoch < senderConfigEpoch) {
          if (this.slots[j] === me && this.env.keys.countKeysInSlot(j) > 0 && sender !== me) dirty.push(j);
          if (this.slots[j] === curmaster) {
            newmaster = sender;
            migratedOurSlots++;
          }
          this.delSlot(j);
          this.addSlot(sender, j);
          bitClear(this.ownerNotClaimingSlot, j);
          this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_FSYNC_CONFIG);
        }
      } else if (this.slots[j] === sender) {
        bitSet(this.ownerNotClaimingSlot, j);
      }
    }
    const s = this.env.settings();
    if (newmaster !== null && curmaster !== null && curmaster.numslots === 0 && (s.allowReplicaMigration || senderSlots === migratedOurSlots)) {
      this.env.log.warning(`Configuration change detected. Reconfiguring myself as a replica of ${sender.name}`);
      this.setMaster(sender);
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_FSYNC_CONFIG);
    } else if (me.slaveof !== null && me.slaveof.slaveof !== null && me.slaveof.slaveof !== me) {
      this.env.log.warning(`I'm a sub-replica! Reconfiguring myself as a replica of grandmaster ${me.slaveof.slaveof.name}`);
      this.setMaster(me.slaveof.slaveof);
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_FSYNC_CONFIG);
    } else {
      for (const j of dirty) this.env.keys.deleteKeysInSlot(j);
    }
  }

  // ---- Links -------------------------------------------------------------------------------------

  freeLink(link: BusLink): void {
    link.close();
    const n = link.node;
    if (n !== null) {
      if (n.link === link) n.link = null;
      else if (n.inboundLink === link) n.inboundLink = null;
    }
  }

  /** freeClusterLinkOnBufferLimitReached: drops a link whose unsent bytes went past the limit. */
  private freeLinkOverLimit(link: BusLink, limit: number): void {
    const pending = link.pendingBytes();
    if (pending <= limit) return;
    this.env.log.warning(`Freeing cluster link(${link.inbound ? 'from' : 'to'} node ${link.node?.name ?? ''}, used memory: ${pending}) due to exceeding send buffer memory limit.`);
    this.freeLink(link);
    this.statLinksBufferLimitExceeded++;
  }

  /** The transport's outbound connection is up (clusterLinkConnectHandler). */
  linkConnected(link: BusLink): void {
    const node = link.node;
    if (node === null || node.link !== link) return;
    const oldPingSent = node.pingSent;
    this.sendPing(link, node.flags & Flag.MEET ? MsgType.MEET : MsgType.PING);
    if (oldPingSent) node.pingSent = oldPingSent;
    node.flags &= ~Flag.MEET;
    this.env.log.debug(`Connecting with Node ${node.name} at ${node.ip}:${node.cport}`);
  }

  /** The transport lost a link (read/write error, EOF, failed connect). */
  linkLost(link: BusLink): void {
    this.freeLink(link);
  }

  private setInboundLink(node: ClusterNode, link: BusLink): void {
    if (node.inboundLink !== null && node.inboundLink !== link) this.freeLink(node.inboundLink);
    node.inboundLink = link;
    link.node = node;
  }

  // ---- Messages out ------------------------------------------------------------------------------

  private send(link: BusLink, buf: Buffer, type: number): void {
    if (type < MSG_TYPE_COUNT) this.statsSent[type]!++;
    link.send(buf);
  }

  private broadcast(buf: Buffer, type: number): void {
    for (const n of this.nodes.values()) {
      if (n.link === null || n.flags & (Flag.MYSELF | Flag.HANDSHAKE)) continue;
      this.send(n.link, buf, type);
    }
  }

  buildHeader(type: number): Header {
    const me = this.myself;
    const master = me.isSlave && me.slaveof !== null ? me.slaveof : me;
    const s = this.env.settings();
    let mflags0 = 0;
    if (me.isMaster && this.mfEnd) mflags0 |= MFLAG0_PAUSED;
    return {
      type,
      count: 0,
      currentEpoch: this.currentEpoch,
      configEpoch: master.configEpoch,
      offset: BigInt(this.env.repl.offset()),
      sender: me.name,
      myslots: master.slots,
      slaveof: me.slaveof !== null ? me.slaveof.name : NULL_NAME,
      myip: s.announceIp,
      port: s.port,
      pport: s.pport,
      cport: s.cport,
      flags: me.flags,
      state: this.state === 'ok' ? 0 : 1,
      mflags0,
    };
  }

  private gossipEntry(n: ClusterNode): Gossip {
    return { name: n.name, pingSent: n.pingSent, pongReceived: n.pongReceived, ip: n.ip, port: n.port, cport: n.cport, flags: n.flags, pport: n.pport };
  }

  sendPing(link: BusLink, type: number): void {
    this.pingsSent++;
    const all = this.nodeList();
    let freshnodes = all.length - 2;
    let wanted = Math.max(3, Math.floor(all.length / 10));
    if (wanted > freshnodes) wanted = freshnodes;
    if (!link.inbound && type === MsgType.PING && link.node !== null) link.node.pingSent = this.env.now();
    const h = this.buildHeader(type);
    const gossip: Gossip[] = [];
    let maxiterations = wanted * 3;
    while (freshnodes > 0 && gossip.length < wanted && maxiterations-- > 0) {
      const n = all[this.env.randomInt(all.length)]!;
      if (n === this.myself) continue;
      if (n.flags & Flag.PFAIL) continue;
      if (n.flags & (Flag.HANDSHAKE | Flag.NOADDR) || (n.link === null && n.numslots === 0)) {
        freshnodes--;
        continue;
      }
      if (n.lastInPingGossip === this.pingsSent) continue;
      gossip.push(this.gossipEntry(n));
      n.lastInPingGossip = this.pingsSent;
      freshnodes--;
    }
    let pfailWanted = this.statsPfailNodes;
    for (const n of all) {
      if (pfailWanted <= 0) break;
      if (n.flags & (Flag.HANDSHAKE | Flag.NOADDR) || !(n.flags & Flag.PFAIL)) continue;
      gossip.push(this.gossipEntry(n));
      pfailWanted--;
    }
    this.send(link, encode(h, { gossip, hostname: this.myself.hostname }), type);
  }

  broadcastPong(localSlavesOnly: boolean): void {
    const me = this.myself;
    for (const n of this.nodes.values()) {
      if (n.link === null || n === me || n.inHandshake) continue;
      if (localSlavesOnly) {
        const local = n.isSlave && n.slaveof !== null && (n.slaveof === me || n.slaveof === me.slaveof);
        if (!local) continue;
      }
      this.sendPing(n.link, MsgType.PONG);
    }
  }

  sendFail(name: string): void {
    this.broadcast(encode(this.buildHeader(MsgType.FAIL), { failNode: name }), MsgType.FAIL);
  }

  sendUpdate(link: BusLink | null, node: ClusterNode): void {
    if (link === null) return;
    const slots = new Uint8Array(SLOT_BYTES);
    for (let i = 0; i < SLOT_BYTES; i++) slots[i] = node.slots[i]! & ~this.ownerNotClaimingSlot[i]!;
    this.send(link, encode(this.buildHeader(MsgType.UPDATE), { updateEpoch: node.configEpoch, updateNode: node.name, updateSlots: slots }), MsgType.UPDATE);
  }

  /** clusterPropagatePublish: PUBLISH to every node, SPUBLISH to this node's shard. */
  propagatePublish(channel: string, message: string, shard: boolean): void {
    const type = shard ? MsgType.PUBLISHSHARD : MsgType.PUBLISH;
    const buf = encode(this.buildHeader(type), { channel, message });
    if (!shard) {
      this.broadcast(buf, type);
      return;
    }
    const me = this.myself;
    const master = me.isMaster ? me : me.slaveof;
    if (master === null) return;
    for (const n of [master, ...master.slaves]) {
      if (n === me || n.link === null || n.inHandshake) continue;
      this.send(n.link, buf, type);
    }
  }

  private requestFailoverAuth(): void {
    const h = this.buildHeader(MsgType.AUTH_REQUEST);
    if (this.mfEnd) h.mflags0 |= MFLAG0_FORCEACK;
    this.broadcast(encode(h, {}), MsgType.AUTH_REQUEST);
  }

  private sendFailoverAuth(node: ClusterNode): void {
    if (node.link === null) return;
    this.send(node.link, encode(this.buildHeader(MsgType.AUTH_ACK), {}), MsgType.AUTH_ACK);
  }

  sendMFStart(node: ClusterNode): void {
    if (node.link === null) return;
    this.send(node.link, encode(this.buildHeader(MsgType.MFSTART), {}), MsgType.MFSTART);
  }

  // ---- Messages in -------------------------------------------------------------------------------

  /** clusterProcessPacket. Returns false when the link was freed. */
  processPacket(link: BusLink, buf: Buffer): boolean {
    const type = buf.length >= 14 ? buf.readUInt16BE(12) : -1;
    if (type >= 0 && type < MSG_TYPE_COUNT) this.statsReceived[type]!++;
    if (type === this.dropPacketFilter) {
      this.env.log.warning('Dropping packet that matches debug drop filter');
      return true;
    }
    const decoded = decode(buf);
    if (decoded === null) return true;
    if (typeof decoded === 'string') {
      this.env.log.warning(decoded);
      return true;
    }
    return this.process(link, decoded);
  }

  private getNodeFromLinkAndMsg(link: BusLink, hdr: Header): ClusterNode | null {
    if (link.node !== null && !link.node.inHandshake) return link.node;
    const sender = this.lookup(hdr.sender);
    if (sender !== null && link.node === null) this.setInboundLink(sender, link);
    return sender;
  }

  private nodeIp(link: BusLink, announced: string): string {
    return announced !== '' ? announced : link.peerIp();
  }

  private updateAddressIfNeeded(node: ClusterNode, link: BusLink, hdr: Header): boolean {
    if (link === node.link) return false;
    const ip = this.nodeIp(link, hdr.myip);
    if (node.port === hdr.port && node.cport === hdr.cport && node.pport === hdr.pport && ip === node.ip) return false;
    node.ip = ip;
    node.port = hdr.port;
    node.pport = hdr.pport;
    node.cport = hdr.cport;
    if (node.link !== null) this.freeLink(node.link);
    node.flags &= ~Flag.NOADDR;
    this.env.log.warning(`Address updated for node ${node.name}, now ${node.ip}:${node.port}`);
    if (this.myself.isSlave && this.myself.slaveof === node) this.env.repl.setMaster(node.ip, node.port);
    return true;
  }

  private process(link: BusLink, msg: Message): boolean {
    const hdr = msg.header;
    const type = hdr.type;
    const now = this.env.now();
    const me = this.myself;
    const flags = hdr.flags;
    let senderConfigEpoch = 0n;
    let senderCurrentEpoch = 0n;
    const sender = this.getNodeFromLinkAndMsg(link, hdr);
    if (sender !== null) sender.dataReceived = now;
    if (sender !== null && !sender.inHandshake) {
      senderCurrentEpoch = hdr.currentEpoch;
      senderConfigEpoch = hdr.configEpoch;
      if (senderCurrentEpoch > this.currentEpoch) this.currentEpoch = senderCurrentEpoch;
      if (senderConfigEpoch > sender.configEpoch) {
        sender.configEpoch = senderConfigEpoch;
        this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_FSYNC_CONFIG);
      }
      sender.replOffset = hdr.offset;
      sender.replOffsetTime = now;
      if (this.mfEnd && me.isSlave && me.slaveof === sender && hdr.mflags0 & MFLAG0_PAUSED && this.mfMasterOffset === -1n) {
        this.mfMasterOffset = sender.replOffset;
        this.doBeforeSleep(BEFORE_SLEEP_HANDLE_MANUALFAILOVER);
        this.env.log.warning(`Received replication offset for paused master manual failover: ${this.mfMasterOffset}`);
      }
    }

    if (type === MsgType.PING || type === MsgType.MEET) {
      if ((type === MsgType.MEET || me.ip === '') && this.env.settings().announceIp === '') {
        const ip = link.localIp();
        if (ip !== '' && ip !== me.ip) {
          me.ip = ip;
          this.env.log.warning(`IP address for this node updated to ${me.ip}`);
          this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
        }
      }
      if (sender === null && type === MsgType.MEET) {
        const n = new ClusterNode(this.env.randomHex(NAMELEN), Flag.HANDSHAKE, now);
        n.ip = this.nodeIp(link, hdr.myip);
        n.port = hdr.port;
        n.pport = hdr.pport;
        n.cport = hdr.cport;
        this.addNode(n);
        this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
        this.processGossip(msg, link);
      }
      this.sendPing(link, MsgType.PONG);
    }

    if (type === MsgType.PING || type === MsgType.PONG || type === MsgType.MEET) {
      if (!link.inbound && link.node !== null) {
        if (link.node.inHandshake) {
          if (sender !== null) {
            this.env.log.verbose(`Handshake: we already know node ${sender.name}, updating the address if needed.`);
            if (this.updateAddressIfNeeded(sender, link, hdr)) this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
            this.delNode(link.node);
            return false;
          }
          this.renameNode(link.node, hdr.sender);
          this.env.log.debug(`Handshake with node ${link.node.name} completed.`);
          link.node.flags &= ~Flag.HANDSHAKE;
          link.node.flags |= flags & (Flag.MASTER | Flag.SLAVE);
          this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
        } else if (link.node.name !== hdr.sender) {
          const n = link.node;
          this.env.log.debug(`PONG contains mismatching sender ID. About node ${n.name} added ${now - n.ctime} ms ago, having flags ${n.flags}`);
          n.flags |= Flag.NOADDR;
          n.ip = '';
          n.port = 0;
          n.pport = 0;
          n.cport = 0;
          this.freeLink(link);
          this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
          return false;
        }
      }
      if (sender !== null) {
        sender.flags = (sender.flags & ~Flag.NOFAILOVER) | (flags & Flag.NOFAILOVER);
      }
      if (sender !== null && type === MsgType.PING && !sender.inHandshake && this.updateAddressIfNeeded(sender, link, hdr)) {
        this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
      }
      if (!link.inbound && type === MsgType.PONG && link.node !== null) {
        const n = link.node;
        n.pongReceived = now;
        n.pingSent = 0;
        if (n.timedOut) {
          n.flags &= ~Flag.PFAIL;
          this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
        } else if (n.failed) {
          this.clearNodeFailureIfNeeded(n);
        }
      }
      if (sender !== null) {
        if (hdr.slaveof === NULL_NAME) {
          this.setNodeAsMaster(sender);
        } else {
          const master = this.lookup(hdr.slaveof);
          if (sender.isMaster) {
            this.delNodeSlots(sender);
            sender.flags = (sender.flags & ~(Flag.MASTER | Flag.MIGRATE_TO)) | Flag.SLAVE;
            this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
          }
          if (master !== null && sender.slaveof !== master) {
            if (sender.slaveof !== null) removeSlave(sender.slaveof, sender);
            addSlave(master, sender);
            sender.slaveof = master;
            this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
          }
        }
      }
      let dirtySlots = false;
      if (sender !== null) {
        const senderMaster = sender.isMaster ? sender : sender.slaveof;
        if (senderMaster !== null) dirtySlots = !sameBytes(senderMaster.slots, hdr.myslots);
      }
      if (sender !== null && sender.isMaster && dirtySlots) this.updateSlotsConfigWith(sender, senderConfigEpoch, hdr.myslots);
      if (sender !== null && dirtySlots) {
        for (let j = 0; j < CLUSTER_SLOTS; j++) {
          if (!bitTest(hdr.myslots, j)) continue;
          if (this.slots[j] === sender || this.isSlotUnclaimed(j)) continue;
          if (this.slots[j]!.configEpoch > senderConfigEpoch) {
            this.env.log.verbose(`Node ${sender.name} has old slots configuration, sending an UPDATE message about ${this.slots[j]!.name}`);
            this.sendUpdate(sender.link, this.slots[j]!);
            break;
          }
        }
      }
      if (sender !== null && me.isMaster && sender.isMaster && senderConfigEpoch === me.configEpoch) this.handleConfigEpochCollision(sender);
      if (sender !== null) {
        this.processGossip(msg, link);
        if (msg.hostname !== null) sender.hostname = msg.hostname;
        else if (sender.hostname !== '') sender.hostname = '';
      }
    } else if (type === MsgType.FAIL) {
      if (sender !== null) {
        const failing = this.lookup(msg.failNode);
        if (failing !== null && !(failing.flags & (Flag.FAIL | Flag.MYSELF))) {
          this.env.log.notice(`FAIL message received from ${hdr.sender} about ${msg.failNode}`);
          failing.flags = (failing.flags | Flag.FAIL) & ~Flag.PFAIL;
          failing.failTime = now;
          this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
        }
      } else {
        this.env.log.notice(`Ignoring FAIL message from unknown node ${hdr.sender} about ${msg.failNode}`);
      }
    } else if (type === MsgType.PUBLISH || type === MsgType.PUBLISHSHARD) {
      if (sender === null) return true;
      const shard = type === MsgType.PUBLISHSHARD;
      if (this.env.hasSubscribers(shard)) this.env.deliverPublish(msg.channel, msg.message, shard);
    } else if (type === MsgType.AUTH_REQUEST) {
      if (sender === null) return true;
      this.sendFailoverAuthIfNeeded(sender, hdr);
    } else if (type === MsgType.AUTH_ACK) {
      if (sender === null) return true;
      if (sender.isMaster && sender.numslots > 0 && senderCurrentEpoch >= this.failoverAuthEpoch) {
        this.failoverAuthCount++;
        this.doBeforeSleep(BEFORE_SLEEP_HANDLE_FAILOVER);
      }
    } else if (type === MsgType.MFSTART) {
      if (sender === null || sender.slaveof !== me) return true;
      this.resetManualFailover();
      this.mfEnd = now + MF_TIMEOUT;
      this.mfSlave = sender;
      this.env.pauseWrites(now + MF_TIMEOUT * MF_PAUSE_MULT);
      this.env.log.warning(`Manual failover requested by replica ${sender.name}.`);
      this.sendPing(link, MsgType.PING);
    } else if (type === MsgType.UPDATE) {
      if (sender === null) return true;
      const n = this.lookup(msg.updateNode);
      if (n === null) return true;
      if (n.configEpoch >= msg.updateEpoch) return true;
      if (n.isSlave) this.setNodeAsMaster(n);
      n.configEpoch = msg.updateEpoch;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_FSYNC_CONFIG);
      this.updateSlotsConfigWith(n, msg.updateEpoch, msg.updateSlots);
    } else if (type === MsgType.MODULE) {
      // No module can receive it: nodis loads no modules.
    } else {
      this.env.log.warning(`Received unknown packet type: ${type}`);
    }
    return true;
  }

  private processGossip(msg: Message, link: BusLink): void {
    const sender = link.node ?? this.lookup(msg.header.sender);
    const me = this.myself;
    for (const g of msg.gossip) {
      const flags = g.flags;
      const node = this.lookup(g.name);
      if (node !== null) {
        if (sender !== null && sender.isMaster && node !== me) {
          if (flags & (Flag.FAIL | Flag.PFAIL)) {
            if (addFailureReport(node, sender, this.env.now())) this.env.log.verbose(`Node ${sender.name} reported node ${node.name} as not reachable.`);
            this.markNodeAsFailingIfNeeded(node);
          } else if (delFailureReport(node, sender)) {
            this.env.log.verbose(`Node ${sender.name} reported node ${node.name} is back online.`);
          }
        }
        if (!(flags & (Flag.FAIL | Flag.PFAIL)) && node.pingSent === 0 && this.failureReportsCount(node) === 0) {
          const pongtime = g.pongReceived;
          if (pongtime <= this.env.now() + 500 && pongtime > node.pongReceived) node.pongReceived = pongtime;
        }
        if (node.flags & (Flag.FAIL | Flag.PFAIL) && !(flags & Flag.NOADDR) && !(flags & (Flag.FAIL | Flag.PFAIL)) &&
          (node.ip.toLowerCase() !== g.ip.toLowerCase() || node.port !== g.port || node.cport !== g.cport)) {
          if (node.link !== null) this.freeLink(node.link);
          node.ip = g.ip;
          node.port = g.port;
          node.pport = g.pport;
          node.cport = g.cport;
          node.flags &= ~Flag.NOADDR;
        }
      } else if (sender !== null && !(flags & Flag.NOADDR) && !this.blacklistExists(g.name) && verifyNodeId(g.name)) {
        const n = new ClusterNode(g.name, flags, this.env.now());
        n.ip = g.ip;
        n.port = g.port;
        n.pport = g.pport;
        n.cport = g.cport;
        this.addNode(n);
      }
    }
  }

  private sendFailoverAuthIfNeeded(node: ClusterNode, req: Header): void {
    const me = this.myself;
    const master = node.slaveof;
    const forceAck = (req.mflags0 & MFLAG0_FORCEACK) !== 0;
    const log = this.env.log;
    if (me.isSlave || me.numslots === 0) return;
    if (req.currentEpoch < this.currentEpoch) {
      log.warning(`Failover auth denied to ${node.name}: reqEpoch (${req.currentEpoch}) < curEpoch(${this.currentEpoch})`);
      return;
    }
    if (this.lastVoteEpoch === this.currentEpoch) {
      log.warning(`Failover auth denied to ${node.name}: already voted for epoch ${this.currentEpoch}`);
      return;
    }
    if (node.isMaster || master === null || (!master.failed && !forceAck)) {
      if (node.isMaster) log.warning(`Failover auth denied to ${node.name}: it is a master node`);
      else if (master === null) log.warning(`Failover auth denied to ${node.name}: I don't know its master`);
      else log.warning(`Failover auth denied to ${node.name}: its master is up`);
      return;
    }
    const nodeTimeout = this.env.settings().nodeTimeout;
    const now = this.env.now();
    if (now - master.votedTime < nodeTimeout * 2) {
      log.warning(`Failover auth denied to ${node.name}: can't vote about this master before ${nodeTimeout * 2 - (now - master.votedTime)} milliseconds`);
      return;
    }
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if (!bitTest(req.myslots, j)) continue;
      if (this.isSlotUnclaimed(j) || this.slots[j]!.configEpoch <= req.configEpoch) continue;
      log.warning(`Failover auth denied to ${node.name}: slot ${j} epoch (${this.slots[j]!.configEpoch}) > reqEpoch (${req.configEpoch})`);
      return;
    }
    this.lastVoteEpoch = this.currentEpoch;
    master.votedTime = now;
    this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_FSYNC_CONFIG);
    this.sendFailoverAuth(node);
    log.warning(`Failover auth granted to ${node.name} for epoch ${this.currentEpoch}`);
  }

  // ---- Failover ----------------------------------------------------------------------------------

  private slaveRank(): number {
    const master = this.myself.slaveof;
    if (master === null) return 0;
    const myoffset = BigInt(this.env.repl.offset());
    let rank = 0;
    for (const s of master.slaves) if (s !== this.myself && !s.cantFailover && s.replOffset > myoffset) rank++;
    return rank;
  }

  private logCantFailover(reason: number): void {
    const nowSec = Math.floor(this.env.now() / 1000);
    if (reason === this.cantFailoverReason && nowSec - this.cantFailoverLogTime < CANT_FAILOVER_RELOG_PERIOD) return;
    this.cantFailoverReason = reason;
    const master = this.myself.slaveof;
    if (master !== null && master.failed && this.env.now() - master.failTime < this.env.settings().nodeTimeout + 5000) return;
    const msgs = ['', 'Disconnected from master for longer than allowed. Please check the \'cluster-replica-validity-factor\' configuration option.', 'Waiting the delay before I can start a new failover.', 'Failover attempt expired.', 'Waiting for votes, but majority still not reached.'];
    this.cantFailoverLogTime = nowSec;
    this.env.log.notice(`Currently unable to failover: ${msgs[reason] ?? 'Unknown reason code.'}`);
  }

  failoverReplaceYourMaster(): void {
    const me = this.myself;
    const old = me.slaveof;
    if (me.isMaster || old === null) return;
    this.setNodeAsMaster(me);
    this.env.repl.unsetMaster();
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if (bitTest(old.slots, j)) {
        this.delSlot(j);
        this.addSlot(me, j);
      }
    }
    this.updateState();
    this.saveConfigOrDie(true);
    this.broadcastPong(false);
    this.resetManualFailover();
    this.resetElection();
  }

  /**
   * Forgets the last election, so the next failover (of a later master of ours) starts a new
   * one at a new epoch. Redis 7.0.15 keeps a won election's state until its retry time
   * (4 × node timeout) passes: demoted and failing over again within 2 × node timeout, it
   * "wins" at once with the old votes and the old epoch, below its master's, and no node
   * moves the slots to it (Valkey resets it too, after a win and when a manual failover starts).
   */
  private resetElection(): void {
    this.failoverAuthTime = 0;
    this.failoverAuthCount = 0;
    this.failoverAuthSent = false;
  }

  handleSlaveFailover(): void {
    const me = this.myself;
    const now = this.env.now();
    const s = this.env.settings();
    const authAge = now - this.failoverAuthTime;
    const quorum = Math.floor(this.size / 2) + 1;
    const manual = this.mfEnd !== 0 && this.mfCanStart;
    this.beforeSleepWork &= ~BEFORE_SLEEP_HANDLE_FAILOVER;
    const authTimeout = Math.max(s.nodeTimeout * 2, 2000);
    const authRetry = authTimeout * 2;
    if (me.isMaster || me.slaveof === null || (!me.slaveof.failed && !manual) || (s.replicaNoFailover && !manual) || me.slaveof.numslots === 0) {
      this.cantFailoverReason = 0;
      return;
    }
    let dataAge = this.env.repl.dataAge();
    if (dataAge > s.nodeTimeout) dataAge -= s.nodeTimeout;
    if (s.replicaValidityFactor && dataAge > s.replPingPeriodMs + s.nodeTimeout * s.replicaValidityFactor) {
      if (!manual) {
        this.logCantFailover(1);
        return;
      }
    }
    if (authAge > authRetry) {
      this.failoverAuthTime = now + 500 + this.env.randomInt(500);
      this.failoverAuthCount = 0;
      this.failoverAuthSent = false;
      this.failoverAuthRank = this.slaveRank();
      this.failoverAuthTime += this.failoverAuthRank * 1000;
      if (this.mfEnd) {
        this.failoverAuthTime = now;
        this.failoverAuthRank = 0;
        this.doBeforeSleep(BEFORE_SLEEP_HANDLE_FAILOVER);
      }
      this.env.log.warning(`Start of election delayed for ${this.failoverAuthTime - now} milliseconds (rank #${this.failoverAuthRank}, offset ${this.env.repl.offset()}).`);
      this.broadcastPong(true);
      return;
    }
    if (!this.failoverAuthSent && this.mfEnd === 0) {
      const newrank = this.slaveRank();
      if (newrank > this.failoverAuthRank) {
        const added = (newrank - this.failoverAuthRank) * 1000;
        this.failoverAuthTime += added;
        this.failoverAuthRank = newrank;
        this.env.log.warning(`Replica rank updated to #${newrank}, added ${added} milliseconds of delay.`);
      }
    }
    if (now < this.failoverAuthTime) {
      this.logCantFailover(2);
      return;
    }
    if (authAge > authTimeout) {
      this.logCantFailover(3);
      return;
    }
    if (!this.failoverAuthSent) {
      this.currentEpoch++;
      this.failoverAuthEpoch = this.currentEpoch;
      this.env.log.warning(`Starting a failover election for epoch ${this.currentEpoch}.`);
      this.requestFailoverAuth();
      this.failoverAuthSent = true;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_FSYNC_CONFIG);
      return;
    }
    if (this.failoverAuthCount >= quorum) {
      this.env.log.warning('Failover election won: I\'m the new master.');
      if (me.configEpoch < this.failoverAuthEpoch) {
        me.configEpoch = this.failoverAuthEpoch;
        this.env.log.warning(`configEpoch set to ${me.configEpoch} after successful failover`);
      }
      this.failoverReplaceYourMaster();
    } else {
      this.logCantFailover(4);
    }
  }

  resetManualFailover(): void {
    if (this.mfSlave !== null) this.env.unpauseWrites();
    this.mfEnd = 0;
    this.mfCanStart = false;
    this.mfSlave = null;
    this.mfMasterOffset = -1n;
  }

  private manualFailoverCheckTimeout(): void {
    if (this.mfEnd && this.mfEnd < this.env.now()) {
      this.env.log.warning('Manual failover timed out.');
      this.resetManualFailover();
    }
  }

  private handleManualFailover(): void {
    if (this.mfEnd === 0 || this.mfCanStart || this.mfMasterOffset === -1n) return;
    if (this.mfMasterOffset === BigInt(this.env.repl.offset())) {
      this.mfCanStart = true;
      this.env.log.warning('All master replication stream processed, manual failover can start.');
      this.doBeforeSleep(BEFORE_SLEEP_HANDLE_FAILOVER);
      return;
    }
    this.doBeforeSleep(BEFORE_SLEEP_HANDLE_MANUALFAILOVER);
  }

  /** CLUSTER FAILOVER [FORCE|TAKEOVER], after its checks. */
  startManualFailover(mode: 'default' | 'force' | 'takeover'): void {
    this.resetManualFailover();
    // An election still waiting for votes or for its retry time would keep this one from
    // starting until the manual failover timed out.
    this.resetElection();
    this.mfEnd = this.env.now() + MF_TIMEOUT;
    if (mode === 'takeover') {
      this.env.log.warning('Taking over the master (user request).');
      this.bumpConfigEpochWithoutConsensus();
      this.failoverReplaceYourMaster();
    } else if (mode === 'force') {
      this.env.log.warning('Forced failover user request accepted.');
      this.mfCanStart = true;
    } else {
      this.env.log.warning('Manual failover user request accepted.');
      this.sendMFStart(this.myself.slaveof!);
    }
  }

  private handleSlaveMigration(maxSlaves: number): void {
    const me = this.myself;
    const mymaster = me.slaveof;
    if (this.state !== 'ok' || mymaster === null) return;
    // Step 2 counts the replicas neither failed nor timed out (PFAIL), as Redis does here.
    const okslaves = mymaster.slaves.filter((n) => !n.failed && !n.timedOut).length;
    if (okslaves <= this.env.settings().migrationBarrier) return;
    let target: ClusterNode | null = null;
    let candidate: ClusterNode = me;
    for (const node of this.nodes.values()) {
      let ok = 0;
      let isOrphaned = true;
      if (node.isSlave || node.failed) isOrphaned = false;
      if (!(node.flags & Flag.MIGRATE_TO)) isOrphaned = false;
      if (node.isMaster) ok = this.countNonFailingSlaves(node);
      if (ok > 0) isOrphaned = false;
      if (isOrphaned) {
        if (target === null && node.numslots > 0) target = node;
        if (!node.orphanedTime) node.orphanedTime = this.env.now();
      } else node.orphanedTime = 0;
      if (ok === maxSlaves) for (const s of node.slaves) if (s.name < candidate.name) candidate = s;
    }
    // A replica migrates whatever its dataset: the new master's full sync replaces it.
    if (target !== null && candidate === me && this.env.now() - target.orphanedTime > 5000) {
      this.env.log.warning(`Migrating to orphaned master ${target.name}`);
      this.setMaster(target);
    }
  }

  // ---- Cron and state ----------------------------------------------------------------------------

  /** clusterUpdateMyselfHostname / AnnouncedPorts / Ip: CONFIG SET of cluster-announce-*. */
  refreshMyself(): void {
    const me = this.myself;
    const s = this.env.settings();
    // clusterUpdateMyselfFlags: other nodes learn cluster-replica-no-failover from our header.
    const flags = (me.flags & ~Flag.NOFAILOVER) | (s.replicaNoFailover ? Flag.NOFAILOVER : 0);
    if (flags !== me.flags) {
      me.flags = flags;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
    }
    if (me.hostname !== s.announceHostname) {
      me.hostname = s.announceHostname;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
    }
    if (me.port !== s.port || me.pport !== s.pport || me.cport !== s.cport) {
      me.port = s.port;
      me.pport = s.pport;
      me.cport = s.cport;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
    }
    if (s.announceIp !== this.announcedIp) {
      this.announcedIp = s.announceIp;
      // Without an announced IP the next MEET/PING teaches us our address again.
      me.ip = s.announceIp;
      this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG);
    }
  }

  /** clusterCron, 10 times per second. */
  cron(): void {
    this.iteration++;
    const me = this.myself;
    const s = this.env.settings();
    this.refreshMyself();
    const handshakeTimeout = Math.max(s.nodeTimeout, 1000);
    this.statsPfailNodes = 0;
    let now = this.env.now();
    for (const node of [...this.nodes.values()]) {
      if (node.flags & (Flag.MYSELF | Flag.NOADDR)) continue;
      if (node.flags & Flag.PFAIL) this.statsPfailNodes++;
      if (node.inHandshake && now - node.ctime > handshakeTimeout) {
        this.delNode(node);
        continue;
      }
      // clusterNodeCronFreeLinkOnBufferLimitReached; the outbound link is then made again below.
      if (s.linkSendbufLimit > 0) {
        if (node.link !== null) this.freeLinkOverLimit(node.link, s.linkSendbufLimit);
        if (node.inboundLink !== null) this.freeLinkOverLimit(node.inboundLink, s.linkSendbufLimit);
      }
      if (node.link === null) {
        const link = this.env.connect(node);
        node.link = link;
      }
    }
    if (this.iteration % 10 === 0) {
      let minPongNode: ClusterNode | null = null;
      let minPong = 0;
      const all = [...this.nodes.values()];
      for (let j = 0; j < 5; j++) {
        const n = all[this.env.randomInt(all.length)]!;
        if (n.link === null || n.pingSent !== 0) continue;
        if (n.flags & (Flag.MYSELF | Flag.HANDSHAKE)) continue;
        if (minPongNode === null || minPong > n.pongReceived) {
          minPongNode = n;
          minPong = n.pongReceived;
        }
      }
      if (minPongNode !== null) this.sendPing(minPongNode.link!, MsgType.PING);
    }
    let orphanedMasters = 0;
    let maxSlaves = 0;
    let thisSlaves = 0;
    let updateState = false;
    for (const node of [...this.nodes.values()]) {
      now = this.env.now();
      if (node.flags & (Flag.MYSELF | Flag.NOADDR | Flag.HANDSHAKE)) continue;
      if (me.isSlave && node.isMaster && !node.failed) {
        const ok = this.countNonFailingSlaves(node);
        if (ok === 0 && node.numslots > 0 && node.flags & Flag.MIGRATE_TO) orphanedMasters++;
        if (ok > maxSlaves) maxSlaves = ok;
        if (me.slaveof === node) thisSlaves = ok;
      }
      const pingDelay = now - node.pingSent;
      const dataDelay = now - node.dataReceived;
      if (node.link !== null && now - node.link.ctime > s.nodeTimeout && node.pingSent && pingDelay > s.nodeTimeout / 2 && dataDelay > s.nodeTimeout / 2) {
        this.freeLink(node.link);
      }
      if (node.link !== null && node.pingSent === 0 && now - node.pongReceived > s.nodeTimeout / 2) {
        this.sendPing(node.link, MsgType.PING);
        continue;
      }
      if (this.mfEnd && me.isMaster && this.mfSlave === node && node.link !== null) {
        this.sendPing(node.link, MsgType.PING);
        continue;
      }
      if (node.pingSent === 0) continue;
      const nodeDelay = Math.min(pingDelay, dataDelay);
      if (nodeDelay > s.nodeTimeout && !(node.flags & (Flag.PFAIL | Flag.FAIL))) {
        this.env.log.debug(`*** NODE ${node.name} possibly failing`);
        node.flags |= Flag.PFAIL;
        updateState = true;
      }
    }
    if (me.isSlave && !this.env.repl.hasMaster() && me.slaveof !== null && me.slaveof.hasAddr) {
      this.env.repl.setMaster(me.slaveof.ip, me.slaveof.port);
    }
    this.manualFailoverCheckTimeout();
    if (me.isSlave) {
      this.handleManualFailover();
      this.handleSlaveFailover();
      if (orphanedMasters && maxSlaves >= 2 && thisSlaves === maxSlaves && s.allowReplicaMigration) this.handleSlaveMigration(maxSlaves);
    }
    if (updateState || this.state === 'fail') this.updateState();
  }

  doBeforeSleep(flags: number): void {
    this.beforeSleepWork |= flags;
    if (!this.scheduled) {
      this.scheduled = true;
      this.env.schedule(() => this.beforeSleep());
    }
  }

  beforeSleep(): void {
    this.scheduled = false;
    const flags = this.beforeSleepWork;
    this.beforeSleepWork = 0;
    if (flags & BEFORE_SLEEP_HANDLE_MANUALFAILOVER) {
      if (this.myself.isSlave) {
        this.handleManualFailover();
        this.handleSlaveFailover();
      }
    } else if (flags & BEFORE_SLEEP_HANDLE_FAILOVER) {
      this.handleSlaveFailover();
    }
    if (flags & BEFORE_SLEEP_UPDATE_STATE) this.updateState();
    if (flags & BEFORE_SLEEP_SAVE_CONFIG) this.saveConfigOrDie((flags & BEFORE_SLEEP_FSYNC_CONFIG) !== 0);
  }

  updateState(): void {
    const me = this.myself;
    const now = this.env.now();
    this.beforeSleepWork &= ~BEFORE_SLEEP_UPDATE_STATE;
    if (this.firstUpdateCall === 0) this.firstUpdateCall = now;
    if (me.isMaster && this.state === 'fail' && now - this.firstUpdateCall < WRITABLE_DELAY) return;
    let next: 'ok' | 'fail' = 'ok';
    const s = this.env.settings();
    if (s.requireFullCoverage) {
      for (let j = 0; j < CLUSTER_SLOTS; j++) {
        const n = this.slots[j]!;
        if (n === null || n.flags & Flag.FAIL) {
          next = 'fail';
          break;
        }
      }
    }
    let reachable = 0;
    this.size = 0;
    for (const n of this.nodes.values()) {
      if (n.isMaster && n.numslots) {
        this.size++;
        if ((n.flags & (Flag.FAIL | Flag.PFAIL)) === 0) reachable++;
      }
    }
    if (reachable < Math.floor(this.size / 2) + 1) {
      next = 'fail';
      this.amongMinorityTime = now;
    }
    if (next !== this.state) {
      const rejoin = Math.min(MAX_REJOIN_DELAY, Math.max(MIN_REJOIN_DELAY, s.nodeTimeout));
      if (next === 'ok' && me.isMaster && now - this.amongMinorityTime < rejoin) return;
      this.env.log.warning(`Cluster state changed: ${next}`);
      this.state = next;
    }
  }

  /** clusterReset. */
  reset(hard: boolean): void {
    const me = this.myself;
    if (me.isSlave) {
      this.setNodeAsMaster(me);
      this.env.repl.unsetMaster();
      this.env.keys.flushAll();
    }
    this.closeAllSlots();
    this.resetManualFailover();
    for (let j = 0; j < CLUSTER_SLOTS; j++) this.delSlot(j);
    for (const n of [...this.nodes.values()]) if (n !== me) this.delNode(n);
    if (hard) {
      this.currentEpoch = 0n;
      this.lastVoteEpoch = 0n;
      me.configEpoch = 0n;
      this.env.log.warning('configEpoch set to 0 via CLUSTER RESET HARD');
      this.renameNode(me, this.env.randomHex(NAMELEN));
      this.env.log.notice(`Node hard reset, now I'm ${me.name}`);
    }
    this.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_FSYNC_CONFIG);
  }

  // ---- Descriptions (CLUSTER NODES, nodes.conf) --------------------------------------------------

  /** Slot ranges per node from the slots table (clusterGenNodesSlotsInfo). */
  slotRanges(): Map<ClusterNode, number[]> {
    const out = new Map<ClusterNode, number[]>();
    let n: ClusterNode | null = null;
    let start = -1;
    for (let i = 0; i <= CLUSTER_SLOTS; i++) {
      if (n === null) {
        if (i === CLUSTER_SLOTS) break;
        n = this.slots[i]!;
        start = i;
        continue;
      }
      if (i === CLUSTER_SLOTS || n !== this.slots[i]) {
        let pairs = out.get(n);
        if (pairs === undefined) out.set(n, (pairs = []));
        pairs.push(start, i - 1);
        if (i === CLUSTER_SLOTS) break;
        n = this.slots[i]!;
        start = i;
      }
    }
    return out;
  }

  nodeDescription(node: ClusterNode, ranges: number[] | undefined, usePport = false): string {
    const port = usePport && node.pport ? node.pport : node.port;
    let ci = `${node.name} ${node.ip}:${port}@${node.cport}${node.hostname !== '' ? ',' + node.hostname : ''} ${representFlags(node.flags)} `;
    ci += node.slaveof !== null ? node.slaveof.name : '-';
    const epoch = node.isSlave && node.slaveof !== null ? node.slaveof.configEpoch : node.configEpoch;
    ci += ` ${node.pingSent} ${node.pongReceived} ${epoch} ${node.link !== null || node.flags & Flag.MYSELF ? 'connected' : 'disconnected'}`;
    if (ranges !== undefined) {
      for (let i = 0; i < ranges.length; i += 2) ci += ranges[i] === ranges[i + 1] ? ` ${ranges[i]}` : ` ${ranges[i]}-${ranges[i + 1]}`;
    } else if (node.numslots > 0) {
      let start = -1;
      for (let j = 0; j < CLUSTER_SLOTS; j++) {
        const bit = bitTest(node.slots, j);
        if (bit && start === -1) start = j;
        if (start !== -1 && (!bit || j === CLUSTER_SLOTS - 1)) {
          const end = bit && j === CLUSTER_SLOTS - 1 ? j : j - 1;
          ci += start === end ? ` ${start}` : ` ${start}-${end}`;
          start = -1;
        }
      }
    }
    if (node.flags & Flag.MYSELF) {
      for (let j = 0; j < CLUSTER_SLOTS; j++) {
        if (this.migratingTo[j] !== null) ci += ` [${j}->-${this.migratingTo[j]!.name}]`;
        else if (this.importingFrom[j] !== null) ci += ` [${j}-<-${this.importingFrom[j]!.name}]`;
      }
    }
    return ci;
  }

  nodesDescription(filter: number, usePport = false): string {
    const ranges = this.slotRanges();
    let out = '';
    for (const n of this.nodes.values()) {
      if (n.flags & filter) continue;
      out += this.nodeDescription(n, ranges.get(n), usePport) + '\n';
    }
    return out;
  }

  configText(): string {
    return this.nodesDescription(Flag.HANDSHAKE) + `vars currentEpoch ${this.currentEpoch} lastVoteEpoch ${this.lastVoteEpoch}\n`;
  }

  saveConfig(fsync: boolean): boolean {
    this.beforeSleepWork &= ~BEFORE_SLEEP_SAVE_CONFIG;
    if (fsync) this.beforeSleepWork &= ~BEFORE_SLEEP_FSYNC_CONFIG;
    return this.env.saveConfig(this.configText(), fsync);
  }

  saveConfigOrDie(fsync: boolean): void {
    if (!this.saveConfig(fsync)) this.env.die("Fatal: can't update cluster config file.");
  }
}

function parseU64(s: string): bigint {
  const m = /^\d+/.exec(s);
  return m === null ? 0n : BigInt(m[0]) & 0xffffffffffffffffn;
}

function atoi(s: string): number {
  const m = /^\s*[-+]?\d+/.exec(s);
  return m === null ? 0 : Number(m[0]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function addSlave(master: ClusterNode, slave: ClusterNode): void {
  if (master.slaves.includes(slave)) return;
  master.slaves.push(slave);
  master.slaves.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  master.flags |= Flag.MIGRATE_TO;
}

function removeSlave(master: ClusterNode, slave: ClusterNode): void {
  const i = master.slaves.indexOf(slave);
  if (i < 0) return;
  master.slaves.splice(i, 1);
  if (master.slaves.length === 0) master.flags &= ~Flag.MIGRATE_TO;
}

function addFailureReport(failing: ClusterNode, sender: ClusterNode, now: number): boolean {
  for (const r of failing.failReports) {
    if (r.node === sender) {
      r.time = now;
      return false;
    }
  }
  failing.failReports.push({ node: sender, time: now });
  return true;
}

function delFailureReport(node: ClusterNode, sender: ClusterNode): boolean {
  const i = node.failReports.findIndex((r) => r.node === sender);
  if (i < 0) return false;
  node.failReports.splice(i, 1);
  return true;
}

/** inet_pton + inet_ntop: the canonical text of an IPv4/IPv6 address, null if not one. */
export function normalizeIp(ip: string): string | null {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((p) => p > 255)) return null;
    return parts.join('.');
  }
  if (ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip)) {
    try {
      const u = new URL(`http://[${ip}]/`);
      return u.hostname.slice(1, -1);
    } catch {
      return null;
    }
  }
  return null;
}
