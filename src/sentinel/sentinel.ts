/**
 * The Sentinel state machine — Redis 7.0's sentinel.c algorithm, step for step, so that nodis
 * and Redis sentinels can share a quorum (same hello format, same is-master-down-by-addr votes,
 * same epochs, same replica selection).
 *
 * Everything is driven from outside: `tick()` runs from a timer on the injected `Clock` (10–19
 * times a second, randomised like Redis's hz so that sentinels desynchronise their elections),
 * replies and pub/sub messages arrive through the injected `Transport`, and random choices come
 * from the injected `Random`. Nothing reads the real time or opens a socket here, which is what
 * lets test/sentinel-sim.test.ts run many seeded runs with crashes, partitions and clock jumps.
 *
 * Side effects leave through `SentinelHooks`: `event` (log line + Pub/Sub message) and
 * `flushConfig` (the caller persists `this` — see config.ts — fsynced, after every change).
 * User scripts (notification and client-reconfig) are queued in a `ScriptQueue` (scripts.ts)
 * and started through the injected `ScriptRunner`.
 */
import type { Clock, Random } from '../core/clock.js';
import type { Reply } from '../protocol/reply-parser.js';
import {
  FailoverState,
  Instance,
  InstanceLink,
  SRI_FAILOVER_IN_PROGRESS,
  SRI_FORCE_FAILOVER,
  SRI_MASTER,
  SRI_MASTER_DOWN,
  SRI_MASTER_REBOOT,
  SRI_O_DOWN,
  SRI_PROMOTED,
  SRI_RECONF_DONE,
  SRI_RECONF_INPROG,
  SRI_RECONF_SENT,
  SRI_S_DOWN,
  SRI_SCRIPT_KILL_SENT,
  SRI_SENTINEL,
  SRI_SLAVE,
} from './instance.js';
import { NO_SCRIPT_RUNNER, ScriptQueue, type ScriptRunner } from './scripts.js';
import { type Addr, type Transport, replyText, sameAddr } from './transport.js';

export const SENTINEL_PING_PERIOD = 1000;
export const SENTINEL_INFO_PERIOD = 10000;
export const SENTINEL_PUBLISH_PERIOD = 2000;
export const SENTINEL_ASK_PERIOD = 1000;
export const SENTINEL_TILT_TRIGGER = 2000;
export const SENTINEL_TILT_PERIOD = SENTINEL_PING_PERIOD * 30;
export const SENTINEL_SLAVE_RECONF_TIMEOUT = 10000;
export const SENTINEL_MIN_LINK_RECONNECT_PERIOD = 15000;
export const SENTINEL_ELECTION_TIMEOUT = 10000;
export const SENTINEL_MAX_DESYNC = 1000;
export const SENTINEL_MAX_PENDING_COMMANDS = 100;
export const HELLO_CHANNEL = '__sentinel__:hello';

/**
 * The timing parameters SENTINEL DEBUG can change (Redis keeps them in globals of sentinel.c;
 * here they belong to the Sentinel so simulated sentinels stay independent). Names are Redis's
 * option names; the values are the defaults above.
 */
export const DEBUG_PARAMETERS = [
  ['info-period', 'infoPeriod'],
  ['ping-period', 'pingPeriod'],
  ['ask-period', 'askPeriod'],
  ['publish-period', 'publishPeriod'],
  ['default-down-after', 'defaultDownAfter'],
  ['default-failover-timeout', 'defaultFailoverTimeout'],
  ['tilt-trigger', 'tiltTrigger'],
  ['tilt-period', 'tiltPeriod'],
  ['slave-reconf-timeout', 'slaveReconfTimeout'],
  ['min-link-reconnect-period', 'minLinkReconnectPeriod'],
  ['election-timeout', 'electionTimeout'],
  ['script-max-runtime', 'scriptMaxRuntime'],
  ['script-retry-delay', 'scriptRetryDelay'],
] as const;

export type SentinelPeriods = Record<(typeof DEBUG_PARAMETERS)[number][1], number>;

export function defaultPeriods(): SentinelPeriods {
  return {
    infoPeriod: SENTINEL_INFO_PERIOD,
    pingPeriod: SENTINEL_PING_PERIOD,
    askPeriod: SENTINEL_ASK_PERIOD,
    publishPeriod: SENTINEL_PUBLISH_PERIOD,
    defaultDownAfter: 30000,
    defaultFailoverTimeout: 180000,
    tiltTrigger: SENTINEL_TILT_TRIGGER,
    tiltPeriod: SENTINEL_TILT_PERIOD,
    slaveReconfTimeout: SENTINEL_SLAVE_RECONF_TIMEOUT,
    minLinkReconnectPeriod: SENTINEL_MIN_LINK_RECONNECT_PERIOD,
    electionTimeout: SENTINEL_ELECTION_TIMEOUT,
    scriptMaxRuntime: 60000,
    scriptRetryDelay: 30000,
  };
}

export type LogLevel = 'debug' | 'verbose' | 'notice' | 'warning';

export interface SentinelHooks {
  /** A Sentinel event: logged, and (unless debug) published on channel `type`. */
  event(level: LogLevel, type: string, message: string): void;
  /** State changed: persist the configuration now. */
  flushConfig(): void;
  /** Free-form log lines that are not events. */
  log?(level: LogLevel, line: string): void;
}

export interface SentinelOptions {
  clock: Clock;
  random: Random;
  transport: Transport;
  hooks: SentinelHooks;
  myid?: string;
  announceIp?: string | null;
  announcePort?: number;
  /** Our own listening port, announced when announce-port is 0. */
  port: number;
  /** Starts user scripts; without one no script path is accepted. */
  scripts?: ScriptRunner;
}

export interface MasterSettings {
  name: string;
  addr: Addr;
  quorum: number;
}

export type SimFailure = 'none' | 'crash-after-election' | 'crash-after-promotion';

export class Sentinel {
  readonly clock: Clock;
  readonly random: Random;
  readonly transport: Transport;
  readonly hooks: SentinelHooks;
  myid: string;
  currentEpoch = 0;
  readonly masters = new Map<string, Instance>();
  tilt = false;
  tiltStartTime = 0;
  previousTime: number;
  previousMono: number;
  announceIp: string | null;
  announcePort: number;
  port: number;
  denyScriptsReconfig = true;
  resolveHostnames = false;
  announceHostnames = false;
  sentinelAuthUser: string | null = null;
  sentinelAuthPass: string | null = null;
  simFailure: SimFailure = 'none';
  /** SENTINEL DEBUG's timing parameters. */
  readonly periods: SentinelPeriods = defaultPeriods();
  /** Called instead of process.exit() by SENTINEL SIMULATE-FAILURE. */
  onSimulatedCrash: (() => void) | null = null;
  /** Notification and client-reconfig script executions (sentinel.scripts_queue). */
  readonly scripts: ScriptQueue;
  private timer: ReturnType<Clock['setTimer']> | null = null;
  private running = false;

  /**
   * An address as this sentinel reports it (announceSentinelAddr): the hostname it was given
   * with announce-hostnames, otherwise the IP it resolves to (the name until the background
   * lookup answers). Asked for every report, so lookups stay warm.
   */
  announce(host: string): string {
    const ip = this.transport.resolve?.(host) ?? null;
    return this.announceHostnames || ip === null ? host : ip;
  }

  constructor(opts: SentinelOptions) {
    this.clock = opts.clock;
    this.random = opts.random;
    this.transport = opts.transport;
    this.hooks = opts.hooks;
    this.myid = opts.myid ?? opts.random.hex(40);
    this.announceIp = opts.announceIp ?? null;
    this.announcePort = opts.announcePort ?? 0;
    this.port = opts.port;
    this.previousTime = this.clock.now();
    this.previousMono = this.now();
    this.scripts = new ScriptQueue({
      runner: opts.scripts ?? NO_SCRIPT_RUNNER,
      now: () => this.now(),
      maxRuntime: () => this.periods.scriptMaxRuntime,
      retryDelay: () => this.periods.scriptRetryDelay,
      event: (level, type, message) => this.event(level, type, null, message),
      log: (level, line) => this.hooks.log?.(level, line),
    });
  }

  /**
   * Durations are measured on the monotonic clock (a deliberate difference from Redis, which
   * uses the wall clock everywhere): a wall-clock step then cannot make a stale replica look
   * fresh. The wall clock is still watched for jumps, which enter TILT as in Redis.
   */
  now(): number {
    // Offset so that a zero timestamp ("never") reads as long ago, as Redis's mstime() does.
    return this.clock.monotonic() + 1e12;
  }

  // ---------------------------------------------------------------- lifecycle

  start(): void {
    if (this.running) return;
    this.running = true;
    this.previousTime = this.clock.now();
    this.previousMono = this.now();
    for (const m of this.masters.values()) this.event('warning', '+monitor', m, `quorum ${m.quorum}`);
    this.schedule();
  }

  /** Stops the timer and closes every connection (a crash, or shutdown). */
  stop(): void {
    this.running = false;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    for (const m of this.masters.values()) this.releaseAllLinks(m);
  }

  private schedule(): void {
    // Redis randomises hz between 10 and 19 each tick, so sentinels drift apart.
    const hz = 10 + this.random.below(10);
    this.timer = this.clock.setTimer(Math.floor(1000 / hz), () => {
      this.timer = null;
      if (!this.running) return;
      this.tick();
      if (this.running) this.schedule();
    });
  }

  /** sentinelTimer(). */
  tick(): void {
    this.checkTiltCondition();
    for (const master of [...this.masters.values()]) {
      if (!this.masters.has(master.name)) continue;
      this.handleInstance(master);
      for (const r of [...master.replicas.values()]) this.handleInstance(r);
      for (const s of [...master.sentinels.values()]) this.handleInstance(s);
      if (master.failoverState === FailoverState.UpdateConfig) this.failoverSwitchToPromotedSlave(master);
    }
    this.scripts.runPending();
    this.scripts.collectTerminated();
    this.scripts.killTimedOut();
  }

  // ---------------------------------------------------------------- events

  /**
   * sentinelEvent(): the message starts with the instance's "%@" description unless
   * `describe` is false (Redis's events about `ri` whose format has no "%@", such as
   * +switch-master and +new-epoch). WARNING events about an instance also run its master's
   * notification script with `<type> <message>`.
   */
  event(level: LogLevel, type: string, ri: Instance | null, extra = '', describe = true): void {
    let msg = ri !== null && describe ? ri.describe((h) => this.announce(h)) : '';
    if (extra !== '') msg = msg === '' ? extra : `${msg} ${extra}`;
    this.hooks.event(level, type, msg);
    if (level === 'warning' && ri !== null) {
      const master = ri.isMaster ? ri : ri.master;
      if (master !== null && master.notificationScript !== null) this.scripts.schedule(master.notificationScript, [type, msg]);
    }
  }

  /**
   * sentinelCallClientReconfScript(): `<master-name> <role> <state> <from-ip> <from-port>
   * <to-ip> <to-port>`; Redis 7.0 only ever calls it with state "start".
   */
  private callClientReconfScript(master: Instance, role: 'leader' | 'observer', state: string, from: Addr, to: Addr): void {
    if (master.clientReconfigScript === null) return;
    this.scripts.schedule(master.clientReconfigScript, [master.name, role, state, this.announce(from.host), String(from.port), this.announce(to.host), String(to.port)]);
  }

  private flush(): void {
    this.hooks.flushConfig();
  }

  // ---------------------------------------------------------------- monitor / remove / reset

  /** SENTINEL MONITOR and `sentinel monitor` in the config: returns an error text or null. */
  monitor(name: string, addr: Addr, quorum: number, generateEvent: boolean): string | null {
    if (this.masters.has(name)) return 'ERR Duplicated master name';
    if (quorum <= 0) return 'ERR Quorum must be 1 or greater.';
    const m = new Instance(SRI_MASTER, name, addr, null, this.now());
    m.downAfterPeriod = this.periods.defaultDownAfter;
    m.failoverTimeout = this.periods.defaultFailoverTimeout;
    m.quorum = quorum;
    this.masters.set(name, m);
    if (generateEvent) this.event('warning', '+monitor', m, `quorum ${quorum}`);
    return null;
  }

  remove(name: string): boolean {
    const m = this.masters.get(name);
    if (m === undefined) return false;
    this.event('warning', '-monitor', m);
    this.releaseAllLinks(m);
    this.masters.delete(name);
    return true;
  }

  /** sentinelDropConnections(): every link is closed and re-established (new credentials). */
  dropConnections(): void {
    for (const m of this.masters.values()) this.releaseAllLinks(m);
  }

  private releaseAllLinks(m: Instance): void {
    for (const ri of [m, ...m.replicas.values(), ...m.sentinels.values()]) this.closeLink(ri);
  }

  /** sentinelResetMaster(). */
  resetMaster(m: Instance, resetSentinels: boolean, generateEvent: boolean): void {
    for (const r of m.replicas.values()) this.closeLink(r);
    m.replicas.clear();
    if (resetSentinels) {
      for (const s of m.sentinels.values()) this.closeLink(s);
      m.sentinels.clear();
    }
    this.closeLink(m);
    m.link = new InstanceLink(this.now());
    m.flags &= SRI_MASTER;
    m.leader = null;
    m.failoverState = FailoverState.None;
    m.failoverStateChangeTime = 0;
    m.failoverStartTime = 0;
    m.promoted = null;
    m.runId = null;
    m.roleReported = SRI_MASTER;
    m.roleReportedTime = this.now();
    m.info = '';
    m.infoRefresh = 0;
    if (generateEvent) this.event('warning', '+reset-master', m);
  }

  /** SENTINEL RESET <pattern> helper: resets one master with its sentinels. */
  resetByPattern(match: (name: string) => boolean): number {
    let n = 0;
    for (const m of this.masters.values()) {
      if (!match(m.name)) continue;
      this.resetMaster(m, true, true);
      n++;
    }
    if (n > 0) this.flush();
    return n;
  }

  /** sentinelResetMasterAndChangeAddress(). */
  resetMasterAndChangeAddress(m: Instance, addr: Addr): void {
    const replicaAddrs: Addr[] = [];
    for (const r of m.replicas.values()) if (!sameAddr(r.addr, addr)) replicaAddrs.push(r.addr);
    if (!sameAddr(m.addr, addr)) replicaAddrs.push(m.addr);
    this.resetMaster(m, false, false);
    m.addr = addr;
    m.oDownSinceTime = 0;
    m.sDownSinceTime = 0;
    // Re-added replicas are announced as new ones, as redis-sentinel does (+slave each).
    for (const a of replicaAddrs) {
      const name = `${a.host}:${a.port}`;
      if (m.replicas.has(name)) continue;
      const r = new Instance(SRI_SLAVE, name, a, m, this.now());
      m.replicas.set(name, r);
      this.event('notice', '+slave', r);
    }
    this.flush();
  }

  // ---------------------------------------------------------------- links

  private closeLink(ri: Instance): void {
    const l = ri.link;
    l.cc?.close();
    l.pc?.close();
    l.cc = null;
    l.pc = null;
    l.ccConnected = false;
    l.pcConnected = false;
    l.pendingCommands = 0;
  }

  private closeCc(ri: Instance): void {
    ri.link.cc?.close();
    ri.link.cc = null;
    ri.link.ccConnected = false;
    ri.link.pendingCommands = 0;
  }

  private closePc(ri: Instance): void {
    ri.link.pc?.close();
    ri.link.pc = null;
    ri.link.pcConnected = false;
  }

  private authFor(ri: Instance): { user: string | null; pass: string | null } {
    if (ri.isSentinel) return { user: this.sentinelAuthUser, pass: this.sentinelAuthPass };
    const m = ri.master ?? ri;
    return { user: m.authUser, pass: m.authPass };
  }

  private sendAuthAndName(ri: Instance, conn: import('./transport.js').Connection, kind: 'cmd' | 'pubsub'): void {
    const { user, pass } = this.authFor(ri);
    if (pass !== null) conn.command(this.mapCommand(ri, user !== null ? ['AUTH', user, pass] : ['AUTH', pass]));
    conn.command(this.mapCommand(ri, ['CLIENT', 'SETNAME', `sentinel-${this.myid.slice(0, 8)}-${kind}`]));
  }

  /** sentinelReconnectInstance(). */
  private reconnectInstance(ri: Instance): void {
    const l = ri.link;
    if (!ri.linkDisconnected) return;
    if (ri.addr.port === 0) return;
    const now = this.now();
    if (now - l.lastReconnTime < this.periods.pingPeriod) return;
    l.lastReconnTime = now;

    if (l.cc === null) {
      const conn = this.transport.connect(ri.addr, {
        onConnect: () => {
          if (l.cc !== conn) return;
          l.ccConnected = true;
          l.ccConnTime = this.now();
          l.pendingCommands = 0;
          this.sendAuthAndName(ri, conn, 'cmd');
          this.sendPing(ri);
          // Redis queues the tick's INFO behind this PING on the connection being made, so
          // the INFO reply (a role change) is seen before the next sdown check.
          this.sendPeriodicCommands(ri);
        },
        onClose: () => {
          if (l.cc !== conn) return;
          l.cc = null;
          l.ccConnected = false;
          l.pendingCommands = 0;
        },
      });
      l.cc = conn;
    }
    if (!ri.isSentinel && l.pc === null) {
      const conn = this.transport.connect(ri.addr, {
        onConnect: () => {
          if (l.pc !== conn) return;
          l.pcConnected = true;
          l.pcConnTime = this.now();
          l.pcLastActivity = this.now();
          this.sendAuthAndName(ri, conn, 'pubsub');
          conn.command(this.mapCommand(ri, ['SUBSCRIBE', HELLO_CHANNEL]), (reply) => {
            l.pcLastActivity = this.now();
            // An error instead of the subscription (-NOAUTH when our credentials are no longer
            // accepted): hiredis drops a subscribed connection on such a reply, so Redis's
            // sentinel shows the link as disconnected and retries each ping period. Same here.
            if (reply.type === 'error' && l.pc === conn) this.closePc(ri);
          });
        },
        onClose: () => {
          if (l.pc !== conn) return;
          l.pc = null;
          l.pcConnected = false;
        },
        onMessage: (channel, payload) => {
          if (l.pc !== conn) return;
          l.pcLastActivity = this.now();
          if (channel !== HELLO_CHANNEL) return;
          // Our own hello comes back to us; ignore it.
          if (payload.split(',')[2] === this.myid) return;
          this.processHelloMessage(payload);
        },
      });
      l.pc = conn;
    }
  }

  /** Sends a command on the instance's command link, counting it as pending. */
  /** sentinelInstanceMapCommand(): a master's renamed commands apply to it and its replicas. */
  private mapCommand(ri: Instance, argv: string[]): string[] {
    if (ri.isSentinel) return argv;
    const m = ri.master ?? ri;
    if (m.renamedCommands.size === 0) return argv;
    const to = m.renamedCommands.get(argv[0]!.toLowerCase());
    return to === undefined ? argv : [to, ...argv.slice(1)];
  }

  private send(ri: Instance, argv: string[], cb?: (r: Reply) => void): boolean {
    const l = ri.link;
    const conn = l.cc;
    if (conn === null || !l.ccConnected) return false;
    l.pendingCommands++;
    conn.command(this.mapCommand(ri, argv), (r) => {
      if (l.cc !== conn) return;
      l.pendingCommands--;
      cb?.(r);
    });
    return true;
  }

  // ---------------------------------------------------------------- periodic commands

  /** sentinelSendPeriodicCommands(). */
  private sendPeriodicCommands(ri: Instance): void {
    // Redis's link->disconnected: a connection closed (one still being made counts as there).
    const l = ri.link;
    if (l.cc === null || !l.ccConnected || (!ri.isSentinel && l.pc === null)) return;
    if (ri.link.pendingCommands >= SENTINEL_MAX_PENDING_COMMANDS) return;
    const now = this.now();
    let infoPeriod = this.periods.infoPeriod;
    if (ri.isSlave && ri.master !== null && ri.master.flags & (SRI_O_DOWN | SRI_FAILOVER_IN_PROGRESS)) infoPeriod = 1000;
    else if (ri.isSlave && ri.masterLinkDownTime !== 0) infoPeriod = 1000; // 7.0: replica lost its master
    let pingPeriod = ri.downAfterPeriod;
    if (pingPeriod > this.periods.pingPeriod) pingPeriod = this.periods.pingPeriod;

    if (!ri.isSentinel && (ri.infoRefresh === 0 || now - ri.infoRefresh > infoPeriod)) this.sendInfo(ri);
    if (now - ri.link.lastPongTime > pingPeriod && now - ri.link.lastPingTime > pingPeriod / 2) this.sendPing(ri);
    if (now - ri.lastPubTime > this.periods.publishPeriod) this.sendHello(ri);
  }

  private sendInfo(ri: Instance): boolean {
    return this.send(ri, ['INFO'], (r) => {
      if (r.type === 'string') this.refreshInstanceInfo(ri, r.value.toString('latin1'));
    });
  }

  private sendPing(ri: Instance): void {
    const ok = this.send(ri, ['PING'], (r) => {
      const l = ri.link;
      const text = replyText(r) ?? '';
      if (r.type === 'status' || r.type === 'error') {
        if (text.startsWith('PONG') || text.startsWith('LOADING') || text.startsWith('MASTERDOWN')) {
          l.lastAvailTime = this.now();
          l.actPingTime = 0;
        } else if (text.startsWith('BUSY') && ri.flags & SRI_S_DOWN && !(ri.flags & SRI_SCRIPT_KILL_SENT)) {
          this.send(ri, ['SCRIPT', 'KILL']);
          ri.flags |= SRI_SCRIPT_KILL_SENT;
        }
      }
      l.lastPongTime = this.now();
    });
    if (ok) {
      ri.link.lastPingTime = this.now();
      if (ri.link.actPingTime === 0) ri.link.actPingTime = ri.link.lastPingTime;
    }
  }

  /** The hello payload for a master (sent to it, its replicas and its sentinels). */
  helloPayload(master: Instance, localIp: string | null): string {
    const ip = this.announceIp ?? localIp ?? '127.0.0.1';
    const port = this.announcePort !== 0 ? this.announcePort : this.port;
    // The current address: the promoted replica once our failover reached reconf-slaves.
    const addr = this.currentMasterAddr(master);
    return `${ip},${port},${this.myid},${this.currentEpoch},${master.name},${this.announce(addr.host)},${addr.port},${master.configEpoch}`;
  }

  /** sentinelSendHello(). */
  private sendHello(ri: Instance): void {
    if (ri.linkDisconnected) return;
    const master = ri.isMaster ? ri : ri.master!;
    const payload = this.helloPayload(master, ri.link.cc?.localAddress() ?? null);
    this.send(ri, ['PUBLISH', HELLO_CHANNEL, payload], (r) => {
      if (r.type !== 'error') ri.lastPubTime = this.now();
    });
  }

  /** sentinelForceHelloUpdateForMaster(): make the next tick send hellos everywhere. */
  private forceHelloUpdate(master: Instance): void {
    const back = this.periods.publishPeriod + 1;
    for (const ri of [master, ...master.replicas.values(), ...master.sentinels.values()]) {
      if (ri.lastPubTime >= back) ri.lastPubTime -= back;
    }
  }

  // ---------------------------------------------------------------- hello processing

  /** sentinelProcessHelloMessage(): from a pub/sub link or a PUBLISH sent to us. */
  processHelloMessage(hello: string): void {
    const token = hello.split(',');
    if (token.length !== 8) return;
    const master = this.masters.get(token[4]!);
    if (master === undefined) return;
    const [ip, portText, runid, epochText, , masterIp, masterPortText, masterEpochText] = token as [string, string, string, string, string, string, string, string];
    const port = Number(portText);
    const currentEpoch = Number(epochText);
    const masterPort = Number(masterPortText);
    const masterConfigEpoch = Number(masterEpochText);
    if (![port, currentEpoch, masterPort, masterConfigEpoch].every(Number.isSafeInteger)) return;
    if (runid === this.myid) return;

    let si = this.findSentinel(master, { host: ip, port }, runid);
    if (si === null) {
      // A sentinel we know under another address changed address: forget the old entry.
      let removed = 0;
      for (const [k, s] of master.sentinels) {
        if (s.runId === runid) {
          this.closeLink(s);
          master.sentinels.delete(k);
          removed++;
        }
      }
      if (removed > 0) this.event('notice', '+sentinel-address-switch', master, `ip ${ip} port ${port} for ${runid}`);
      const name = `${ip}:${port}`;
      si = new Instance(SRI_SENTINEL, name, { host: ip, port }, master, this.now());
      si.runId = runid;
      master.sentinels.set(name, si);
      if (removed === 0) this.event('notice', '+sentinel', si);
      this.flush();
    }

    if (this.currentEpoch < currentEpoch) {
      this.currentEpoch = currentEpoch;
      this.flush();
      this.event('warning', '+new-epoch', master, `${this.currentEpoch}`, false);
    }

    if (master.configEpoch < masterConfigEpoch) {
      // A newer configuration supersedes a failover of ours still in progress. (Redis keeps
      // going, and a leader that then finishes by timeout switches to its own replica under the
      // newer epoch: two addresses for one epoch, which the simulation found. Deliberate fix.)
      if (master.flags & SRI_FAILOVER_IN_PROGRESS) {
        this.event('warning', '-failover-abort-superseded', master);
        this.abortFailover(master);
      }
      master.configEpoch = masterConfigEpoch;
      if (masterPort !== master.addr.port || masterIp.toLowerCase() !== master.addr.host.toLowerCase()) {
        const old = master.addr;
        this.event('warning', '+config-update-from', si);
        this.event('warning', '+switch-master', master, `${master.name} ${this.announce(old.host)} ${old.port} ${this.announce(masterIp)} ${masterPort}`, false);
        this.resetMasterAndChangeAddress(master, { host: masterIp, port: masterPort });
        this.callClientReconfScript(master, 'observer', 'start', old, master.addr);
      }
    }
    si.lastHelloTime = this.now();
  }

  private findSentinel(master: Instance, addr: Addr, runid: string): Instance | null {
    for (const s of master.sentinels.values()) if (s.runId === runid && sameAddr(s.addr, addr)) return s;
    return null;
  }

  // ---------------------------------------------------------------- INFO processing

  /** sentinelRefreshInstanceInfo(). */
  refreshInstanceInfo(ri: Instance, info: string): void {
    const now = this.now();
    const master = ri.isMaster ? ri : ri.master!;
    ri.info = info;
    ri.masterLinkDownTime = 0;
    ri.durableWrites = false;
    ri.durableFencedMs = 0;
    let role = 0;

    for (const rawLine of info.split('\n')) {
      const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const key = line.slice(0, colon);
      const value = line.slice(colon + 1);
      if (key === 'run_id' && value.length === 40) {
        if (ri.runId === null) {
          ri.runId = value;
        } else if (ri.runId !== value) {
          this.event('notice', '+reboot', ri);
          if (ri.isMaster && ri.masterRebootDownAfterPeriod !== 0) {
            ri.flags |= SRI_MASTER_REBOOT;
            ri.masterRebootSinceTime = now;
          }
          ri.runId = value;
        }
      } else if (ri.isMaster && /^slave\d+$/.test(key)) {
        // slave0:ip=127.0.0.1,port=6380,state=online,offset=..,lag=..
        let ip: string | null = null;
        let port: number | null = null;
        for (const kv of value.split(',')) {
          const eq = kv.indexOf('=');
          if (eq < 0) continue;
          const k = kv.slice(0, eq);
          if (k === 'ip') ip = kv.slice(eq + 1);
          else if (k === 'port') port = Number(kv.slice(eq + 1));
        }
        if (ip !== null && port !== null && Number.isSafeInteger(port)) {
          const name = `${ip}:${port}`;
          if (!ri.replicas.has(name)) {
            const r = new Instance(SRI_SLAVE, name, { host: ip, port }, ri, now);
            ri.replicas.set(name, r);
            this.event('notice', '+slave', r);
            this.flush();
          }
        }
      } else if (key === 'master_replid') {
        ri.replid = value;
      } else if (key === 'durable_writes') {
        ri.durableWrites = value === '1';
      } else if (key === 'durable_replicas') {
        ri.durableReplicas = Number(value);
      } else if (key === 'durable_fenced_ms') {
        ri.durableFencedMs = Number(value);
      } else if (key === 'master_last_io_seconds_ago') {
        ri.masterLastIoSec = Number(value);
      } else if (key === 'master_link_down_since_seconds') {
        ri.masterLinkDownTime = Number(value) * 1000;
      } else if (key === 'role') {
        if (value === 'master') role = SRI_MASTER;
        else if (value === 'slave') role = SRI_SLAVE;
      } else if (role === SRI_SLAVE) {
        if (key === 'master_host') {
          if (ri.slaveMasterHost === null || ri.slaveMasterHost.toLowerCase() !== value.toLowerCase()) {
            ri.slaveMasterHost = value;
            ri.slaveConfChangeTime = now;
          }
        } else if (key === 'master_port') {
          const p = Number(value);
          if (ri.slaveMasterPort !== p) {
            ri.slaveMasterPort = p;
            ri.slaveConfChangeTime = now;
          }
        } else if (key === 'master_link_status') {
          ri.slaveMasterLinkStatus = value.toLowerCase() === 'up' ? 0 : 1;
        } else if (key === 'slave_priority' || key === 'replica_priority') {
          ri.slavePriority = Number(value);
        } else if (key === 'slave_repl_offset') {
          ri.slaveReplOffset = Number(value);
        } else if (key === 'replica_announced') {
          ri.replicaAnnounced = value === '1';
        }
      }
    }
    ri.infoRefresh = now;

    if (role !== ri.roleReported) {
      ri.roleReportedTime = now;
      ri.roleReported = role;
      if (role === SRI_SLAVE) ri.slaveConfChangeTime = now;
      // "+" when the reported role agrees with our configuration, "-" when it does not.
      const coherent = (ri.flags & (SRI_MASTER | SRI_SLAVE)) === role;
      this.event('verbose', coherent ? '+role-change' : '-role-change', ri, `new reported role is ${role === SRI_MASTER ? 'master' : 'slave'}`);
    }

    if (this.tilt) return;

    // A replica that now reports it is a master.
    if (ri.isSlave && role === SRI_MASTER) {
      if (ri.flags & SRI_PROMOTED && master.flags & SRI_FAILOVER_IN_PROGRESS && master.failoverState === FailoverState.WaitPromotion) {
        // Our promotion worked: bump the config epoch so the others learn it from our hellos.
        master.configEpoch = master.failoverEpoch;
        master.failoverState = FailoverState.ReconfSlaves;
        master.failoverStateChangeTime = now;
        this.flush();
        this.event('warning', '+promoted-slave', ri);
        if (this.simFailure === 'crash-after-promotion') this.simulatedCrash();
        this.event('warning', '+failover-state-reconf-slaves', master);
        this.callClientReconfScript(master, 'leader', 'start', master.addr, ri.addr);
        this.forceHelloUpdate(master);
      } else {
        // Someone else's promotion, or a stale master: turn it back into our master's replica.
        const waitTime = this.periods.publishPeriod * 4;
        if (!(ri.flags & SRI_PROMOTED) && this.masterLooksSane(master) && this.noDownFor(ri, waitTime) && now - ri.roleReportedTime > waitTime) {
          if (this.sendSlaveOf(ri, master.addr)) this.event('notice', '+convert-to-slave', ri);
        }
      }
    }

    // A replica pointing at the wrong master.
    if (ri.isSlave && role === SRI_SLAVE && (ri.slaveMasterPort !== master.addr.port || (ri.slaveMasterHost ?? '').toLowerCase() !== master.addr.host.toLowerCase())) {
      const waitTime = master.failoverTimeout;
      if (this.masterLooksSane(master) && this.noDownFor(ri, waitTime) && now - ri.slaveConfChangeTime > waitTime) {
        if (this.sendSlaveOf(ri, master.addr)) this.event('notice', '+fix-slave-config', ri);
      }
    }

    // A durable failover fence left behind (its sentinel died mid-failover, or lost contact).
    if (ri.isSlave && role === SRI_SLAVE && ri.durableFencedMs > 0) this.liftStaleFence(master, ri);

    // Reconfiguration progress during a failover.
    if (ri.isSlave && role === SRI_SLAVE && ri.flags & (SRI_RECONF_SENT | SRI_RECONF_INPROG)) {
      const promoted = master.promoted;
      if (ri.flags & SRI_RECONF_SENT && promoted !== null && ri.slaveMasterHost !== null && sameAddr({ host: ri.slaveMasterHost, port: ri.slaveMasterPort }, promoted.addr)) {
        ri.flags &= ~SRI_RECONF_SENT;
        ri.flags |= SRI_RECONF_INPROG;
        this.event('notice', '+slave-reconf-inprog', ri);
      }
      if (ri.flags & SRI_RECONF_INPROG && ri.slaveMasterLinkStatus === 0) {
        ri.flags &= ~SRI_RECONF_INPROG;
        ri.flags |= SRI_RECONF_DONE;
        this.event('notice', '+slave-reconf-done', ri);
      }
    }
  }

  /**
   * A fence (REPLCONF DURABLE-FENCE) holds until its replica is re-pointed or lifted, so a
   * leader that dies mid-failover, with the master back or never really down, would leave the
   * master without the replicas its lease needs — refusing writes for good. We lift one when all
   * of this holds: it is older than 5 × failover-timeout (any failover's select, promote and
   * wait-promotion steps are each bounded by the failover timeout, and its leader announces a
   * promotion in its hellos as soon as it sees it); the replica points at the master of our
   * configuration (so no promotion we heard of replaced it), which looks sane (reachable, a
   * master, not down); no failover of ours is in progress; and we heard hellos from a majority
   * of the sentinels lately (a sentinel cut off from the leader, who would tell it of a
   * promotion, lifts nothing).
   */
  private liftStaleFence(master: Instance, ri: Instance): void {
    if (ri.durableFencedMs <= 5 * master.failoverTimeout) return;
    if (master.flags & SRI_FAILOVER_IN_PROGRESS || !this.masterLooksSane(master)) return;
    if (ri.slaveMasterPort !== master.addr.port || (ri.slaveMasterHost ?? '').toLowerCase() !== master.addr.host.toLowerCase()) return;
    const now = this.now();
    let heard = 1;
    for (const s of master.sentinels.values()) if (now - s.lastHelloTime < this.periods.publishPeriod * 3) heard++;
    if (heard < Math.floor((master.sentinels.size + 1) / 2) + 1) return;
    if (this.sendFence(ri, false)) {
      ri.durableFencedMs = 0;
      this.event('warning', '+durable-fence-lifted', ri, 'stale');
    }
  }

  /** Our durable failover is aborted with no newer configuration: its fences are lifted. */
  private liftOurFences(master: Instance): void {
    for (const r of master.replicas.values()) {
      if (!r.durableFenced) continue;
      r.durableFenced = false;
      if (this.sendFence(r, false)) this.event('warning', '+durable-fence-lifted', r, 'aborted');
    }
  }

  /**
   * REPLCONF DURABLE-FENCE 1 (fence) or 0 (lift), then CONFIG REWRITE, so that a replica
   * restarted meanwhile keeps its fence (durable-fenced in its config file; without a config
   * file the rewrite fails, and is ignored, as after SLAVEOF).
   */
  private sendFence(ri: Instance, on: boolean, cb?: (r: Reply) => void): boolean {
    if (!this.send(ri, ['REPLCONF', 'DURABLE-FENCE', on ? '1' : '0'], cb)) return false;
    this.send(ri, ['CONFIG', 'REWRITE']);
    return true;
  }

  private masterLooksSane(master: Instance): boolean {
    return (
      (master.flags & SRI_MASTER) !== 0 &&
      master.roleReported === SRI_MASTER &&
      (master.flags & (SRI_S_DOWN | SRI_O_DOWN)) === 0 &&
      this.now() - master.infoRefresh < this.periods.infoPeriod * 2
    );
  }

  private noDownFor(ri: Instance, ms: number): boolean {
    const mostRecent = Math.max(ri.sDownSinceTime, ri.oDownSinceTime);
    return mostRecent === 0 || this.now() - mostRecent > ms;
  }

  /** sentinelSendSlaveOf(): MULTI / SLAVEOF / CONFIG REWRITE / CLIENT KILL ×2 / EXEC. */
  sendSlaveOf(ri: Instance, addr: Addr | null): boolean {
    if (ri.linkDisconnected) return false;
    const host = addr === null ? 'NO' : this.announce(addr.host);
    const port = addr === null ? 'ONE' : String(addr.port);
    // Only the MULTI is checked: the transaction either reaches the instance whole or not at all.
    if (!this.send(ri, ['MULTI'])) return false;
    this.send(ri, ['SLAVEOF', host, port]);
    this.send(ri, ['CONFIG', 'REWRITE']);
    this.send(ri, ['CLIENT', 'KILL', 'TYPE', 'normal']);
    this.send(ri, ['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    this.send(ri, ['EXEC']);
    return true;
  }

  // ---------------------------------------------------------------- per-instance handling

  private handleInstance(ri: Instance): void {
    this.reconnectInstance(ri);
    this.sendPeriodicCommands(ri);
    if (this.tilt) {
      if (this.now() - this.tiltStartTime < this.periods.tiltPeriod) return;
      this.tilt = false;
      this.event('warning', '-tilt', null, '#tilt mode exited');
    }
    this.checkSubjectivelyDown(ri);
    if (ri.isMaster) {
      this.checkObjectivelyDown(ri);
      if (this.startFailoverIfNeeded(ri)) this.askMasterStateToOtherSentinels(ri, true);
      this.failoverStateMachine(ri);
      this.askMasterStateToOtherSentinels(ri, false);
    }
  }

  private checkTiltCondition(): void {
    const wall = this.clock.now();
    const mono = this.now();
    const delta = wall - this.previousTime;
    // A wall-clock jump, or the process not running for a while (both seen by Redis as one).
    if (delta < 0 || delta > this.periods.tiltTrigger || mono - this.previousMono > this.periods.tiltTrigger) {
      this.tilt = true;
      this.tiltStartTime = mono;
      this.event('warning', '+tilt', null, '#tilt mode entered');
    }
    this.previousTime = wall;
    this.previousMono = mono;
  }

  /** sentinelCheckSubjectivelyDown(). */
  private checkSubjectivelyDown(ri: Instance): void {
    const now = this.now();
    const l = ri.link;
    const elapsed = l.actPingTime !== 0 ? now - l.actPingTime : now - l.lastAvailTime;

    // A link that stopped answering is recycled (but not too often).
    if (l.ccConnected && now - l.ccConnTime >= this.periods.minLinkReconnectPeriod && l.actPingTime !== 0 && now - l.actPingTime > ri.downAfterPeriod / 2 && now - l.lastPongTime > ri.downAfterPeriod / 2) {
      this.closeCc(ri);
    }
    if (l.pcConnected && now - l.pcConnTime >= this.periods.minLinkReconnectPeriod && now - l.pcLastActivity > this.periods.publishPeriod * 3) {
      this.closePc(ri);
    }

    // A master that rebooted counts as down for master-reboot-down-after-period.
    const rebootDown = ri.isMaster && (ri.flags & SRI_MASTER_REBOOT) !== 0 && now - ri.masterRebootSinceTime < ri.masterRebootDownAfterPeriod;
    if (
      elapsed > ri.downAfterPeriod ||
      (ri.isMaster && ri.roleReported === SRI_SLAVE && now - ri.roleReportedTime > ri.downAfterPeriod + this.periods.infoPeriod * 2) ||
      rebootDown
    ) {
      if (!(ri.flags & SRI_S_DOWN)) {
        this.event('warning', '+sdown', ri);
        ri.sDownSinceTime = now;
        ri.flags |= SRI_S_DOWN;
      }
    } else if (ri.flags & SRI_S_DOWN) {
      this.event('warning', '-sdown', ri);
      ri.flags &= ~(SRI_S_DOWN | SRI_SCRIPT_KILL_SENT);
    }
  }

  /** sentinelCheckObjectivelyDown(). */
  private checkObjectivelyDown(master: Instance): void {
    let quorum = 0;
    let odown = false;
    if (master.flags & SRI_S_DOWN) {
      quorum = 1;
      for (const s of master.sentinels.values()) if (s.flags & SRI_MASTER_DOWN) quorum++;
      if (quorum >= master.quorum) odown = true;
    }
    if (odown) {
      if (!(master.flags & SRI_O_DOWN)) {
        this.event('warning', '+odown', master, `#quorum ${quorum}/${master.quorum}`);
        master.flags |= SRI_O_DOWN;
        master.oDownSinceTime = this.now();
      }
    } else if (master.flags & SRI_O_DOWN) {
      this.event('warning', '-odown', master);
      master.flags &= ~SRI_O_DOWN;
    }
  }

  /** sentinelAskMasterStateToOtherSentinels(). */
  private askMasterStateToOtherSentinels(master: Instance, forced: boolean): void {
    const now = this.now();
    for (const ri of master.sentinels.values()) {
      if (now - ri.lastMasterDownReplyTime > this.periods.askPeriod * 5) {
        ri.flags &= ~SRI_MASTER_DOWN;
        ri.leader = null;
      }
      if (!(master.flags & SRI_S_DOWN)) continue;
      if (ri.linkDisconnected) continue;
      if (!forced && now - ri.lastMasterDownReplyTime < this.periods.askPeriod) continue;
      const runid = master.failoverState > FailoverState.None ? this.myid : '*';
      this.send(ri, ['SENTINEL', 'is-master-down-by-addr', this.announce(master.addr.host), String(master.addr.port), String(this.currentEpoch), runid], (r) => {
        if (r.type !== 'array' || r.elements.length !== 3) return;
        const [down, leader, epoch] = r.elements as [Reply, Reply, Reply];
        if (down.type !== 'integer' || leader.type !== 'string' || epoch.type !== 'integer') return;
        ri.lastMasterDownReplyTime = this.now();
        if (down.value === 1n) ri.flags |= SRI_MASTER_DOWN;
        else ri.flags &= ~SRI_MASTER_DOWN;
        const leaderId = leader.value.toString('latin1');
        if (leaderId !== '*') {
          ri.leader = leaderId;
          ri.leaderEpoch = Number(epoch.value);
        }
      });
    }
  }

  /** SENTINEL IS-MASTER-DOWN-BY-ADDR: [down, leader runid or "*", leader epoch]. */
  isMasterDownByAddr(addr: Addr, reqEpoch: number, runid: string): { down: boolean; leader: string; leaderEpoch: number } {
    let master: Instance | null = null;
    for (const m of this.masters.values()) if (sameAddr(m.addr, addr)) master = m;
    const down = !this.tilt && master !== null && (master.flags & SRI_S_DOWN) !== 0 && master.isMaster;
    let leader: string | null = null;
    let leaderEpoch = 0;
    if (master !== null && master.isMaster && runid !== '*') {
      const v = this.voteLeader(master, reqEpoch, runid);
      leader = v.leader;
      leaderEpoch = v.leaderEpoch;
    }
    return { down, leader: leader ?? '*', leaderEpoch };
  }

  /** sentinelVoteLeader(): at most one vote per epoch, persisted before it is given. */
  voteLeader(master: Instance, reqEpoch: number, reqRunid: string): { leader: string | null; leaderEpoch: number } {
    if (reqEpoch > this.currentEpoch) {
      this.currentEpoch = reqEpoch;
      this.flush();
      this.event('warning', '+new-epoch', master, `${this.currentEpoch}`, false);
    }
    if (master.leaderEpoch < reqEpoch && this.currentEpoch <= reqEpoch) {
      master.leader = reqRunid;
      master.leaderEpoch = this.currentEpoch;
      this.flush();
      this.event('warning', '+vote-for-leader', master, `${master.leader} ${master.leaderEpoch}`, false);
      // If we voted for someone else, don't start our own failover for a while.
      if (master.leader !== this.myid) master.failoverStartTime = this.now() + this.random.below(SENTINEL_MAX_DESYNC);
    }
    return { leader: master.leader, leaderEpoch: master.leaderEpoch };
  }

  /** sentinelGetLeader(): the runid with a majority of votes for `epoch`, if any. */
  private getLeader(master: Instance, epoch: number): string | null {
    const counters = new Map<string, number>();
    const vote = (id: string): number => {
      const n = (counters.get(id) ?? 0) + 1;
      counters.set(id, n);
      return n;
    };
    const voters = master.sentinels.size + 1;
    for (const ri of master.sentinels.values()) {
      if (ri.leader !== null && ri.leaderEpoch === this.currentEpoch) vote(ri.leader);
    }
    let winner: string | null = null;
    let maxVotes = 0;
    for (const [id, votes] of counters) {
      if (votes > maxVotes) {
        maxVotes = votes;
        winner = id;
      }
    }
    const my = winner !== null ? this.voteLeader(master, epoch, winner) : this.voteLeader(master, epoch, this.myid);
    if (my.leader !== null && my.leaderEpoch === epoch) {
      const votes = vote(my.leader);
      if (votes > maxVotes) {
        maxVotes = votes;
        winner = my.leader;
      }
    }
    const votersQuorum = Math.floor(voters / 2) + 1;
    if (winner !== null && (maxVotes < votersQuorum || maxVotes < master.quorum)) winner = null;
    return winner;
  }

  // ---------------------------------------------------------------- failover

  private startFailoverIfNeeded(master: Instance): boolean {
    if (!(master.flags & SRI_O_DOWN)) return false;
    if (master.flags & SRI_FAILOVER_IN_PROGRESS) return false;
    if (this.now() - master.failoverStartTime < master.failoverTimeout * 2) {
      if (master.failoverDelayLogged !== master.failoverStartTime) {
        master.failoverDelayLogged = master.failoverStartTime;
        this.hooks.log?.('warning', `Next failover delay: I will not start a failover before ${new Date(this.clock.now() + master.failoverStartTime + master.failoverTimeout * 2 - this.now()).toUTCString()}`);
      }
      return false;
    }
    this.startFailover(master);
    return true;
  }

  /** sentinelStartFailover(). */
  startFailover(master: Instance): void {
    master.failoverState = FailoverState.WaitStart;
    master.flags |= SRI_FAILOVER_IN_PROGRESS;
    master.failoverEpoch = ++this.currentEpoch;
    for (const r of master.replicas.values()) r.durableFenced = false;
    this.event('warning', '+new-epoch', master, `${this.currentEpoch}`, false);
    this.event('warning', '+try-failover', master);
    master.failoverStartTime = this.now() + this.random.below(SENTINEL_MAX_DESYNC);
    master.failoverStateChangeTime = this.now();
  }

  private failoverStateMachine(master: Instance): void {
    if (!(master.flags & SRI_FAILOVER_IN_PROGRESS)) return;
    switch (master.failoverState) {
      case FailoverState.WaitStart:
        this.failoverWaitStart(master);
        break;
      case FailoverState.SelectSlave:
        this.failoverSelectSlave(master);
        break;
      case FailoverState.SendSlaveofNoone:
        this.failoverSendSlaveOfNoOne(master);
        break;
      case FailoverState.WaitPromotion:
        if (this.now() - master.failoverStateChangeTime > master.failoverTimeout) {
          this.event('warning', '-failover-abort-slave-timeout', master);
          this.liftOurFences(master);
          this.abortFailover(master);
        }
        break;
      case FailoverState.ReconfSlaves:
        this.failoverReconfNextSlave(master);
        break;
      default:
        break;
    }
  }

  private failoverWaitStart(master: Instance): void {
    const leader = this.getLeader(master, master.failoverEpoch);
    const isLeader = leader !== null && leader === this.myid;
    if (!isLeader && !(master.flags & SRI_FORCE_FAILOVER)) {
      const electionTimeout = Math.min(this.periods.electionTimeout, master.failoverTimeout);
      if (this.now() - master.failoverStartTime > electionTimeout) {
        this.event('warning', '-failover-abort-not-elected', master);
        this.abortFailover(master);
      }
      return;
    }
    this.event('warning', '+elected-leader', master);
    if (this.simFailure === 'crash-after-election') this.simulatedCrash();
    master.failoverState = FailoverState.SelectSlave;
    master.failoverStateChangeTime = this.now();
    this.event('warning', '+failover-state-select-slave', master);
  }

  /** sentinelSelectSlave(): the best reachable, fresh, promotable replica, or null. */
  selectSlave(master: Instance): Instance | null {
    const now = this.now();
    let maxMasterDownTime = 0;
    if (master.flags & SRI_S_DOWN) maxMasterDownTime += now - master.sDownSinceTime;
    maxMasterDownTime += master.downAfterPeriod * 10;
    const infoValidityTime = master.flags & SRI_S_DOWN ? this.periods.pingPeriod * 5 : this.periods.infoPeriod * 3;
    const candidates: Instance[] = [];
    for (const r of master.replicas.values()) {
      if (r.flags & (SRI_S_DOWN | SRI_O_DOWN)) continue;
      if (r.linkDisconnected) continue;
      if (now - r.link.lastAvailTime > this.periods.pingPeriod * 5) continue;
      if (r.slavePriority === 0) continue;
      if (now - r.infoRefresh > infoValidityTime) continue;
      if (r.masterLinkDownTime > maxMasterDownTime) continue;
      candidates.push(r);
    }
    candidates.sort(compareReplicasForPromotion);
    return candidates[0] ?? null;
  }

  /**
   * Durable acknowledgment (docs/CONSISTENCY.md): an acknowledged write is on the master and on
   * ⌊(R+1)/2⌋ of its R replicas, so only the replica with the highest offset among
   * R − ⌊(R+1)/2⌋ + 1 of them is sure to hold every one — and only offsets that can no longer
   * grow count. Each reachable replica is fenced now (`REPLCONF DURABLE-FENCE 1`: its link to
   * the old master goes down and stays down until it is re-pointed, or the fence is lifted —
   * by us if we abort, by any sentinel once stale: liftStaleFence — and it answers with its
   * offset), so the old master, should it come back during the
   * failover, can renew no lease with it and acknowledge nothing more. A replica without the
   * command (redis-server) is asked for a fresh INFO instead, and its offset counts once its
   * link to the old master is down or silent for ≥ 1 s (longer than the lease) — weaker: it
   * could hear from the old master again before the failover ends. Until enough replicas
   * answered, nothing is promoted; after the failover timeout the failover is aborted. Only
   * replicas on the failing master's history (same replid as its last INFO) count: offsets of
   * different histories do not compare.
   * Returns undefined while waiting for answers.
   */
  private selectDurableSlave(master: Instance): Instance | null | undefined {
    const now = this.now();
    const since = master.failoverStateChangeTime;
    const replicas = [...master.replicas.values()];
    const total = Math.max(master.durableReplicas, replicas.length);
    const required = total - Math.floor((total + 1) / 2) + 1;
    const settled: Instance[] = [];
    for (const r of replicas) {
      if (r.linkDisconnected) continue;
      if (r.durableProbeSent < since) {
        r.durableProbeSent = now;
        r.durableAnswer = null;
        r.durableFenced = true;
        this.sendFence(r, true, (reply) => {
          if (reply.type === 'array' && reply.elements.length === 2) {
            const [off, id] = reply.elements;
            if (off?.type === 'integer' && id?.type === 'string') {
              r.durableAnswer = { offset: Number(off.value), replid: id.value.toString('latin1'), settled: true };
              return;
            }
          }
          this.send(r, ['INFO'], (info) => {
            if (info.type !== 'string') return;
            this.refreshInstanceInfo(r, info.value.toString('latin1'));
            const silent = r.roleReported === SRI_SLAVE && (r.slaveMasterLinkStatus !== 0 || r.masterLastIoSec >= 1);
            r.durableAnswer = { offset: r.slaveReplOffset, replid: r.replid, settled: silent };
          });
        });
        continue;
      }
      const a = r.durableAnswer;
      if (a === null) continue;
      if (!a.settled) {
        // Still hearing from the old master: ask again until it falls silent.
        r.durableProbeSent = 0;
        continue;
      }
      // An offset counts only in the failing master's history (a replica still resyncing, or
      // left on an older history, may show a higher offset of other writes).
      if (a.replid !== master.replid) continue;
      r.slaveReplOffset = a.offset;
      settled.push(r);
    }
    if (settled.length < required) return now - since > master.failoverTimeout ? null : undefined;
    let best = -1;
    for (const r of settled) best = Math.max(best, r.slaveReplOffset);
    // The highest offset wins over priority; a replica with priority 0 is never promoted.
    const top = settled.filter((r) => r.slaveReplOffset === best && r.slavePriority !== 0);
    top.sort(compareReplicasForPromotion);
    return top[0] ?? null;
  }

  private failoverSelectSlave(master: Instance): void {
    let slave: Instance | null;
    if (master.durableWrites) {
      const s = this.selectDurableSlave(master);
      if (s === undefined) return;
      slave = s;
    } else {
      slave = this.selectSlave(master);
    }
    if (slave === null) {
      this.event('warning', '-failover-abort-no-good-slave', master);
      this.liftOurFences(master);
      this.abortFailover(master);
      return;
    }
    this.event('warning', '+selected-slave', slave);
    slave.flags |= SRI_PROMOTED;
    master.promoted = slave;
    master.failoverState = FailoverState.SendSlaveofNoone;
    master.failoverStateChangeTime = this.now();
    this.event('notice', '+failover-state-send-slaveof-noone', slave);
  }

  private failoverSendSlaveOfNoOne(master: Instance): void {
    const promoted = master.promoted!;
    if (promoted.linkDisconnected) {
      if (this.now() - master.failoverStateChangeTime > master.failoverTimeout) {
        this.event('warning', '-failover-abort-slave-timeout', master);
        this.liftOurFences(master);
        this.abortFailover(master);
      }
      return;
    }
    if (!this.sendSlaveOf(promoted, null)) return;
    this.event('notice', '+failover-state-wait-promotion', promoted);
    master.failoverState = FailoverState.WaitPromotion;
    master.failoverStateChangeTime = this.now();
    // Redis learns of the promotion from the replica's next INFO, up to a second later (its
    // info period during a failover), while no one can write. Asked right behind the EXEC, on
    // the same link, the INFO is answered after SLAVEOF NO ONE ran: the failover goes on as
    // soon as the replica is a master (docs/PERFORMANCE.md, "Write gap on failover").
    this.sendInfo(promoted);
  }

  private failoverReconfNextSlave(master: Instance): void {
    const now = this.now();
    let inProgress = 0;
    for (const r of master.replicas.values()) if (r.flags & (SRI_RECONF_SENT | SRI_RECONF_INPROG)) inProgress++;
    for (const r of master.replicas.values()) {
      if (inProgress >= master.parallelSyncs) break;
      if (r.flags & (SRI_PROMOTED | SRI_RECONF_DONE)) continue;
      if (r.flags & SRI_RECONF_SENT && now - r.slaveReconfSentTime > this.periods.slaveReconfTimeout) {
        this.event('notice', '-slave-reconf-sent-timeout', r);
        r.flags &= ~SRI_RECONF_SENT;
        r.flags |= SRI_RECONF_DONE;
        continue;
      }
      if (r.flags & (SRI_RECONF_SENT | SRI_RECONF_INPROG)) continue;
      if (r.linkDisconnected) continue;
      if (this.sendSlaveOf(r, master.promoted!.addr)) {
        r.flags |= SRI_RECONF_SENT;
        r.slaveReconfSentTime = now;
        this.event('notice', '+slave-reconf-sent', r);
        inProgress++;
      }
    }
    this.failoverDetectEnd(master);
  }

  private failoverDetectEnd(master: Instance): void {
    const promoted = master.promoted;
    if (promoted === null || promoted.flags & SRI_S_DOWN) return;
    let notReconfigured = 0;
    let timeout = false;
    for (const r of master.replicas.values()) {
      if (r.flags & (SRI_PROMOTED | SRI_RECONF_DONE)) continue;
      if (r.flags & SRI_S_DOWN) continue;
      notReconfigured++;
    }
    if (this.now() - master.failoverStateChangeTime > master.failoverTimeout) {
      notReconfigured = 0;
      timeout = true;
      this.event('warning', '+failover-end-for-timeout', master);
    }
    if (notReconfigured === 0) {
      this.event('warning', '+failover-end', master);
      master.failoverState = FailoverState.UpdateConfig;
      master.failoverStateChangeTime = this.now();
    }
    if (timeout) {
      for (const r of master.replicas.values()) {
        // Not the promoted replica (Redis skips SRI_PROMOTED too): told to replicate from
        // itself, it left the group with no master (found by the durable fault harness).
        if (r.flags & (SRI_PROMOTED | SRI_RECONF_DONE | SRI_RECONF_SENT)) continue;
        if (r.linkDisconnected) continue;
        if (this.sendSlaveOf(r, promoted.addr)) this.event('notice', '+slave-reconf-sent-be', r);
      }
    }
  }

  private failoverSwitchToPromotedSlave(master: Instance): void {
    const ref = master.promoted ?? master;
    const old = master.addr;
    this.event('warning', '+switch-master', master, `${master.name} ${this.announce(old.host)} ${old.port} ${this.announce(ref.addr.host)} ${ref.addr.port}`, false);
    this.resetMasterAndChangeAddress(master, ref.addr);
  }

  abortFailover(master: Instance): void {
    master.flags &= ~(SRI_FAILOVER_IN_PROGRESS | SRI_FORCE_FAILOVER);
    master.failoverState = FailoverState.None;
    master.failoverStateChangeTime = this.now();
    if (master.promoted !== null) {
      master.promoted.flags &= ~SRI_PROMOTED;
      master.promoted = null;
    }
  }

  /** SENTINEL FAILOVER: error text or null. */
  forceFailover(master: Instance): string | null {
    if (master.flags & SRI_FAILOVER_IN_PROGRESS) return 'INPROG Failover already in progress';
    if (this.selectSlave(master) === null) return 'NOGOODSLAVE No suitable replica to promote';
    this.hooks.log?.('warning', `Executing user requested FAILOVER of '${master.name}'`);
    this.startFailover(master);
    master.flags |= SRI_FORCE_FAILOVER;
    return null;
  }

  /** SENTINEL DEBUG <option> <ms> …: error text or null (nothing changes on error). */
  setDebugParameters(args: string[]): string | null {
    const next = { ...this.periods };
    for (let j = 0; j < args.length; j++) {
      const option = args[j]!;
      const entry = DEBUG_PARAMETERS.find(([n]) => n === option.toLowerCase());
      if (entry === undefined || j + 1 >= args.length) return `ERR Unknown option or number of arguments for SENTINEL DEBUG '${option}'`;
      const raw = args[++j]!;
      const v = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(v) || v <= 0) return `ERR Invalid argument '${raw}' for SENTINEL DEBUG '${option}'`;
      next[entry[1]] = v;
    }
    Object.assign(this.periods, next);
    return null;
  }

  /** SENTINEL CKQUORUM: [ok, text]. */
  checkQuorum(master: Instance): { ok: boolean; text: string } {
    const voters = master.sentinels.size + 1;
    let usable = 1;
    for (const s of master.sentinels.values()) if (!(s.flags & (SRI_S_DOWN | SRI_O_DOWN))) usable++;
    let ok = true;
    const problems: string[] = [];
    if (usable < master.quorum) {
      ok = false;
      problems.push(`${usable} usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master`);
    }
    if (usable < Math.floor(voters / 2) + 1) {
      ok = false;
      problems.push(`${usable} usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover`);
    }
    if (ok) return { ok, text: `OK ${usable} usable Sentinels. Quorum and failover authorization can be reached` };
    return { ok, text: `NOQUORUM ${problems.join('. ')}` };
  }

  private simulatedCrash(): void {
    this.hooks.log?.('warning', 'Simulated failure: crashing');
    this.stop();
    this.onSimulatedCrash?.();
  }

  /** Address clients should use for `name` (the promoted replica once the switch is done). */
  getMasterAddr(name: string): Addr | null {
    const m = this.masters.get(name);
    return m === undefined ? null : this.currentMasterAddr(m);
  }

  /** sentinelGetCurrentMasterAddress(). */
  currentMasterAddr(m: Instance): Addr {
    if (m.flags & SRI_FAILOVER_IN_PROGRESS && m.promoted !== null && m.failoverState >= FailoverState.ReconfSlaves) return m.promoted.addr;
    return m.addr;
  }
}

/** compareSlavesForPromotion(): priority, then offset (higher first), then run id. */
export function compareReplicasForPromotion(a: Instance, b: Instance): number {
  if (a.slavePriority !== b.slavePriority) return a.slavePriority - b.slavePriority;
  if (a.slaveReplOffset > b.slaveReplOffset) return -1;
  if (a.slaveReplOffset < b.slaveReplOffset) return 1;
  // A replica without a known run id sorts last.
  if (a.runId === null && b.runId === null) return 0;
  if (a.runId === null) return 1;
  if (b.runId === null) return -1;
  return a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0;
}

export { SRI_MASTER, SRI_SLAVE, SRI_SENTINEL, SRI_S_DOWN, SRI_O_DOWN, SRI_MASTER_DOWN, SRI_FAILOVER_IN_PROGRESS, SRI_PROMOTED };
