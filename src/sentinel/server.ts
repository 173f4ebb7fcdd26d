/**
 * The sentinel's own small RESP server. A sentinel serves no data, so instead of running the
 * full `Server` in a special mode it has a dedicated front end with just the commands Redis
 * allows in sentinel mode: PING, SENTINEL …, INFO, ROLE, AUTH, HELLO, CLIENT SETNAME/GETNAME/ID,
 * (P)(UN)SUBSCRIBE, PUBLISH (hello messages only), COMMAND, SHUTDOWN. It reuses the shared
 * request parser and reply writer, and keeps its own Pub/Sub (the Sentinel events: channel =
 * event type, message = Redis's event text). Keeping it apart means the data server's command
 * path stays free of sentinel special cases, and the sentinel never depends on a dataset.
 */
import net from 'node:net';
import { RespParser } from '../protocol/parser.js';
import { ReplyWriter } from '../protocol/writer.js';
import { stringMatch } from '../keyspace/glob.js';
import { REDIS_VERSION } from '../server/version.js';
import { FAILOVER_STATE_NAMES, type Instance, SRI_FAILOVER_IN_PROGRESS, SRI_MASTER, SRI_O_DOWN, SRI_S_DOWN } from './instance.js';
import { DEBUG_PARAMETERS, HELLO_CHANNEL, type Sentinel } from './sentinel.js';

/** The one-value options SENTINEL SET applies like their config-file directives (sentinelSetCommand). */
const SET_OPTIONS = new Set(['down-after-milliseconds', 'failover-timeout', 'parallel-syncs', 'auth-pass', 'auth-user', 'master-reboot-down-after-period']);
import { applySentinelDirective } from './config.js';

interface SentinelClient {
  id: number;
  socket: net.Socket;
  parser: RespParser;
  reply: ReplyWriter;
  name: string;
  authenticated: boolean;
  /** The ACL user this connection is authenticated as. */
  user: string;
  channels: Set<string>;
  patterns: Set<string>;
  closeAfterReply: boolean;
}

/** Redis 7.0's sentinel-mode command table (commands.c entries flagged CMD_SENTINEL). */
const SENTINEL_TOP_LEVEL_COMMANDS = ['auth', 'client', 'hello', 'ping', 'psubscribe', 'publish', 'punsubscribe', 'subscribe', 'unsubscribe', 'sentinel', 'acl', 'command', 'info', 'role', 'shutdown'];
const SENTINEL_SUBCOMMANDS = (
  'client|caching client|getname client|getredir client|help client|id client|info client|kill client|list client|no-evict client|pause client|reply ' +
  'client|setname client|tracking client|trackinginfo client|unblock client|unpause sentinel|ckquorum sentinel|config sentinel|debug sentinel|failover ' +
  'sentinel|flushconfig sentinel|get-master-addr-by-name sentinel|help sentinel|info-cache sentinel|is-master-down-by-addr sentinel|master ' +
  'sentinel|masters sentinel|monitor sentinel|myid sentinel|pending-scripts sentinel|remove sentinel|replicas sentinel|reset sentinel|sentinels ' +
  'sentinel|set sentinel|simulate-failure sentinel|slaves acl|cat acl|deluser acl|dryrun acl|genpass acl|getuser acl|help acl|list acl|load acl|log ' +
  'acl|save acl|setuser acl|users acl|whoami command|count command|docs command|getkeys command|getkeysandflags command|help command|info command|list'
).split(' ');

interface SentinelUser {
  enabled: boolean;
  nopass: boolean;
  passwords: Set<string>;
}

export interface SentinelServerOptions {
  sentinel: Sentinel;
  port: number;
  bind: string[];
  requirepass: string | null;
  /** tls-port, and the handshake that runs before an accepted TLS connection becomes a client. */
  tls?: { port: number; accept: (raw: net.Socket, onReady: (socket: net.Socket) => void) => void };
  /** Persists the configuration (CONFIG REWRITE equivalent); logs and throws on failure. */
  flushConfig: () => void;
  shutdown: () => void;
  startTime: number;
  runId: string;
  configFile: string;
}

export class SentinelServer {
  private readonly clients = new Set<SentinelClient>();
  private readonly servers: net.Server[] = [];
  private nextId = 1;
  private connectionsReceived = 0;
  private commandsProcessed = 0;

  /**
   * A small ACL: users with passwords and on/off. Sentinel has no keys and few commands, so
   * command/key/channel rules are accepted and not enforced (a deliberate simplification);
   * `requirepass` is the default user's password, as in Redis.
   */
  private readonly users = new Map<string, SentinelUser>();

  constructor(private readonly o: SentinelServerOptions) {
    this.users.set('default', { enabled: true, nopass: o.requirepass === null, passwords: new Set(o.requirepass === null ? [] : [o.requirepass]) });
  }

  /** AUTH / HELLO AUTH: whether `user` exists, is on, and accepts `pass`. */
  /**
   * sentinelFlushConfigAndReply(): OK once the configuration is on disk, else Redis's error
   * (the failure itself is logged by flushConfig). The sentinel carries on either way.
   */
  private flushConfigAndReply(r: ReplyWriter): void {
    try {
      this.o.flushConfig();
      r.ok();
    } catch {
      r.error('ERR Failed to save config file. Check server logs.');
    }
  }

  private checkCredentials(user: string, pass: string): boolean {
    const u = this.users.get(user);
    return u !== undefined && u.enabled && (u.nopass || u.passwords.has(pass));
  }

  /** The port listened on (the kernel's choice after `listen(true)` with port 0). */
  get port(): number {
    return this.o.port;
  }

  /** Binds every address; with `pickPort` and port 0 the kernel picks the plain port (API link). */
  async listen(pickPort = false): Promise<void> {
    const tlsSide = this.o.tls;
    for (const host of this.o.bind) {
      if (this.o.port !== 0 || pickPort) {
        const srv = await this.listenOn(this.o.port, host, (sock) => this.accept(sock));
        const a = srv.address();
        if (pickPort && this.o.port === 0 && a !== null && typeof a === 'object') this.o.port = a.port;
      }
      if (tlsSide !== undefined && tlsSide.port !== 0) await this.listenOn(tlsSide.port, host, (raw) => tlsSide.accept(raw, (sock) => this.accept(sock)));
    }
  }

  private async listenOn(port: number, host: string, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
    const srv = net.createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => resolve());
    });
    this.servers.push(srv);
    return srv;
  }

  close(): void {
    for (const s of this.servers) s.close();
    for (const c of this.clients) c.socket.destroy();
  }

  /** Publishes a Sentinel event to subscribers of its channel (and matching patterns). */
  publish(channel: string, message: string): number {
    let n = 0;
    for (const c of this.clients) {
      if (c.channels.has(channel)) {
        this.writeMessage(c, ['message', channel, message]);
        n++;
      }
      for (const p of c.patterns) {
        if (stringMatch(p, channel, false)) {
          this.writeMessage(c, ['pmessage', p, channel, message]);
          n++;
        }
      }
    }
    return n;
  }

  private writeMessage(c: SentinelClient, parts: string[]): void {
    c.reply.push(parts.length);
    for (const p of parts) c.reply.bulk(p);
    this.flush(c);
  }

  private accept(socket: net.Socket): void {
    socket.setNoDelay(true);
    const c: SentinelClient = {
      id: this.nextId++,
      socket,
      parser: new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false }),
      reply: new ReplyWriter(),
      name: '',
      // Like Redis: a connection starts as `default`, authenticated only if that user needs no password.
      authenticated: this.users.get('default')!.enabled && this.users.get('default')!.nopass,
      user: 'default',
      channels: new Set(),
      patterns: new Set(),
      closeAfterReply: false,
    };
    this.connectionsReceived++;
    this.clients.add(c);
    socket.on('data', (chunk: Buffer) => {
      c.parser.feed(chunk);
      for (;;) {
        let argv: string[] | null;
        try {
          argv = c.parser.next();
        } catch (e) {
          c.reply.error(`ERR Protocol error: ${(e as Error).message}`);
          c.closeAfterReply = true;
          break;
        }
        if (argv === null) break;
        if (argv.length === 0) continue;
        this.commandsProcessed++;
        this.dispatch(c, argv);
        if (c.closeAfterReply) break;
      }
      this.flush(c);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.clients.delete(c));
  }

  private flush(c: SentinelClient): void {
    if (c.reply.len > 0 && !c.socket.destroyed) c.socket.write(c.reply.take());
    if (c.closeAfterReply) c.socket.end();
  }

  private dispatch(c: SentinelClient, argv: string[]): void {
    const r = c.reply;
    const cmd = argv[0]!.toLowerCase();
    if (!c.authenticated && cmd !== 'auth' && cmd !== 'hello') {
      r.error('NOAUTH Authentication required.');
      return;
    }
    const subscribed = c.channels.size + c.patterns.size > 0 && r.proto === 2;
    if (subscribed && !['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe', 'ping', 'quit', 'reset'].includes(cmd)) {
      r.error(`ERR Can't execute '${cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`);
      return;
    }
    const arity = (n: number): boolean => {
      const ok = n > 0 ? argv.length === n : argv.length >= -n;
      if (!ok) r.error(`ERR wrong number of arguments for '${cmd}' command`);
      return ok;
    };
    switch (cmd) {
      case 'ping':
        if (subscribed) {
          r.array(2);
          r.bulk('pong');
          r.bulk(argv[1] ?? '');
        } else if (argv.length > 1) r.bulk(argv[1]!);
        else r.pong();
        return;
      case 'quit':
        r.ok();
        c.closeAfterReply = true;
        return;
      case 'auth': {
        if (argv.length !== 2 && argv.length !== 3) {
          r.error("ERR wrong number of arguments for 'auth' command");
          return;
        }
        const user = argv.length === 3 ? argv[1]! : 'default';
        if (argv.length === 2 && this.users.get('default')!.nopass) {
          r.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
        } else if (this.checkCredentials(user, argv[argv.length - 1]!)) {
          c.authenticated = true;
          c.user = user;
          r.ok();
        } else r.error('WRONGPASS invalid username-password pair or user is disabled.');
        return;
      }
      case 'acl':
        this.acl(c, argv);
        return;
      case 'hello':
        this.hello(c, argv);
        return;
      case 'subscribe':
      case 'psubscribe':
        if (!arity(-2)) return;
        for (const ch of argv.slice(1)) {
          (cmd === 'subscribe' ? c.channels : c.patterns).add(ch);
          r.push(3);
          r.bulk(cmd);
          r.bulk(ch);
          r.integer(c.channels.size + c.patterns.size);
        }
        return;
      case 'unsubscribe':
      case 'punsubscribe': {
        const set = cmd === 'unsubscribe' ? c.channels : c.patterns;
        const names = argv.length > 1 ? argv.slice(1) : [...set];
        if (names.length === 0) {
          r.push(3);
          r.bulk(cmd);
          r.nullBulk();
          r.integer(c.channels.size + c.patterns.size);
        }
        for (const ch of names) {
          set.delete(ch);
          r.push(3);
          r.bulk(cmd);
          r.bulk(ch);
          r.integer(c.channels.size + c.patterns.size);
        }
        return;
      }
      case 'publish':
        if (!arity(3)) return;
        if (argv[1] !== HELLO_CHANNEL) {
          r.error('ERR Only HELLO messages are accepted by Sentinel instances.');
          return;
        }
        this.o.sentinel.processHelloMessage(argv[2]!);
        r.integer(this.publish(argv[1]!, argv[2]!));
        return;
      case 'role': {
        const names = [...this.o.sentinel.masters.keys()];
        r.array(2);
        r.bulk('sentinel');
        r.array(names.length);
        for (const n of names) r.bulk(n);
        return;
      }
      case 'info':
        r.verbatim(this.info(argv.slice(1).map((a) => a.toLowerCase())));
        return;
      case 'client':
        this.client(c, argv);
        return;
      case 'command':
        // COUNT and LIST describe Redis 7.0's sentinel-mode command table (the commands flagged
        // CMD_SENTINEL); full COMMAND/COMMAND INFO/DOCS metadata is not served here.
        if (argv.length === 2 && argv[1]!.toLowerCase() === 'count') r.integer(SENTINEL_TOP_LEVEL_COMMANDS.length);
        else if (argv.length === 2 && argv[1]!.toLowerCase() === 'list') {
          const names = [...SENTINEL_SUBCOMMANDS, ...SENTINEL_TOP_LEVEL_COMMANDS];
          r.array(names.length);
          for (const n of names) r.bulk(n);
        } else r.emptyArray();
        return;
      case 'shutdown':
        this.o.shutdown();
        return;
      case 'sentinel':
        if (!arity(-2)) return;
        this.sentinelCommand(c, argv);
        return;
      default: {
        const args = argv
          .slice(1)
          .map((a) => `'${a}' `)
          .join('');
        r.error(`ERR unknown command '${argv[0]}', with args beginning with: ${args}`);
      }
    }
  }

  private hello(c: SentinelClient, argv: string[]): void {
    const r = c.reply;
    let proto = r.proto;
    let i = 1;
    if (argv.length > 1) {
      const v = Number(argv[1]);
      if (!Number.isInteger(v)) {
        r.error('ERR Protocol version is not an integer or out of range');
        return;
      }
      if (v < 2 || v > 3) {
        r.error('NOPROTO unsupported protocol version');
        return;
      }
      proto = v as 2 | 3;
      i = 2;
    }
    for (; i < argv.length; i++) {
      const opt = argv[i]!.toLowerCase();
      if (opt === 'auth' && i + 2 < argv.length) {
        if (!this.checkCredentials(argv[i + 1]!, argv[i + 2]!)) {
          r.error('WRONGPASS invalid username-password pair or user is disabled.');
          return;
        }
        c.authenticated = true;
        c.user = argv[i + 1]!;
        i += 2;
      } else if (opt === 'setname' && i + 1 < argv.length) {
        c.name = argv[++i]!;
      } else {
        r.error(`ERR Syntax error in HELLO option '${argv[i]}'`);
        return;
      }
    }
    if (!c.authenticated) {
      r.error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
      return;
    }
    r.proto = proto;
    r.map(7);
    r.bulk('server');
    r.bulk('redis');
    r.bulk('version');
    r.bulk(REDIS_VERSION);
    r.bulk('proto');
    r.integer(proto);
    r.bulk('id');
    r.integer(c.id);
    r.bulk('mode');
    r.bulk('sentinel');
    r.bulk('role');
    r.bulk('master');
    r.bulk('modules');
    r.emptyArray();
  }

  /** ACL SETUSER/DELUSER/WHOAMI/USERS (passwords and on/off; other rules accepted). */
  private acl(c: SentinelClient, argv: string[]): void {
    const r = c.reply;
    const sub = (argv[1] ?? '').toLowerCase();
    if (sub === 'whoami' && argv.length === 2) r.bulk(c.user);
    else if (sub === 'users' && argv.length === 2) {
      const names = [...this.users.keys()].sort();
      r.array(names.length);
      for (const n of names) r.bulk(n);
    } else if (sub === 'setuser' && argv.length >= 3) {
      const name = argv[2]!;
      const existing = this.users.get(name);
      const u: SentinelUser = existing !== undefined ? { ...existing, passwords: new Set(existing.passwords) } : { enabled: false, nopass: false, passwords: new Set() };
      for (const rule of argv.slice(3)) {
        const l = rule.toLowerCase();
        if (l === 'on') u.enabled = true;
        else if (l === 'off') u.enabled = false;
        else if (l === 'nopass') {
          u.nopass = true;
          u.passwords.clear();
        } else if (l === 'resetpass') {
          u.nopass = false;
          u.passwords.clear();
        } else if (rule.startsWith('>')) {
          u.passwords.add(rule.slice(1));
          u.nopass = false;
        } else if (rule.startsWith('<')) u.passwords.delete(rule.slice(1));
        else if (l === 'reset') Object.assign(u, { enabled: false, nopass: false, passwords: new Set() });
        else if (!/^([+-]@?[\w|-]+|~.*|%[rw]*~.*|&.*|allkeys|resetkeys|allchannels|resetchannels|allcommands|nocommands|[+-]@all)$/i.test(rule)) {
          r.error(`ERR Error in ACL SETUSER modifier '${rule}': Syntax error`);
          return;
        }
      }
      this.users.set(name, u);
      r.ok();
    } else if (sub === 'deluser' && argv.length >= 3) {
      let n = 0;
      for (const name of argv.slice(2)) {
        if (name === 'default') {
          r.error("ERR The 'default' user cannot be removed");
          return;
        }
      }
      for (const name of argv.slice(2)) {
        if (this.users.delete(name)) {
          n++;
          // Its clients are disconnected; the one deleting it hears the reply first.
          for (const cl of this.clients) {
            if (cl.user !== name) continue;
            if (cl === c) c.closeAfterReply = true;
            else cl.socket.destroy();
          }
        }
      }
      r.integer(n);
    } else {
      r.error(`ERR unknown subcommand or wrong number of arguments for '${argv[1] ?? ''}'. Try ACL HELP.`);
    }
  }

  private client(c: SentinelClient, argv: string[]): void {
    const r = c.reply;
    const sub = (argv[1] ?? '').toLowerCase();
    if (sub === 'setname' && argv.length === 3) {
      if (/[\s]/.test(argv[2]!)) r.error('ERR Client names cannot contain spaces, newlines or special characters.');
      else {
        c.name = argv[2]!;
        r.ok();
      }
    } else if (sub === 'getname' && argv.length === 2) {
      if (c.name === '') r.nullBulk();
      else r.bulk(c.name);
    } else if (sub === 'id' && argv.length === 2) {
      r.integer(c.id);
    } else if (sub === 'kill' && argv.length >= 3) {
      // CLIENT KILL USER <name> [SKIPME yes|no] is what matters for a sentinel; other filters match nothing.
      let user: string | null = null;
      let skipMe = true;
      for (let i = 2; i + 1 < argv.length; i += 2) {
        const f = argv[i]!.toLowerCase();
        if (f === 'user') user = argv[i + 1]!;
        else if (f === 'skipme') skipMe = argv[i + 1]!.toLowerCase() !== 'no';
      }
      let n = 0;
      if (user !== null) {
        for (const cl of this.clients) {
          if (cl.user !== user || (skipMe && cl === c)) continue;
          n++;
          if (cl === c) c.closeAfterReply = true;
          else cl.socket.destroy();
        }
      }
      r.integer(n);
    } else {
      r.error(`ERR unknown subcommand or wrong number of arguments for '${argv[1] ?? ''}'. Try CLIENT HELP.`);
    }
  }

  /** INFO [section …]: Redis's sentinel sections are server, clients, cpu, stats, sentinel. */
  private info(requested: string[]): string {
    const s = this.o.sentinel;
    const all = requested.length === 0 || requested.some((x) => x === 'all' || x === 'everything' || x === 'default');
    const want = (name: string): boolean => all || requested.includes(name);
    const parts: string[] = [];
    if (want('server')) {
      const uptime = Math.floor((Date.now() - this.o.startTime) / 1000);
      parts.push(
        [
          '# Server',
          `redis_version:${REDIS_VERSION}`,
          'redis_mode:sentinel',
          `os:${process.platform}`,
          `process_id:${process.pid}`,
          `run_id:${this.o.runId}`,
          `tcp_port:${this.o.port}`,
          `uptime_in_seconds:${uptime}`,
          `uptime_in_days:${Math.floor(uptime / 86400)}`,
          'hz:10',
          `executable:${process.argv[1] ?? ''}`,
          `config_file:${this.o.configFile}`,
        ].join('\r\n'),
      );
    }
    if (want('clients')) parts.push(['# Clients', `connected_clients:${this.clients.size}`, 'maxclients:10000'].join('\r\n'));
    if (want('cpu')) {
      const u = process.resourceUsage();
      const sec = (micros: number): string => (micros / 1e6).toFixed(6);
      parts.push(['# CPU', `used_cpu_sys:${sec(u.systemCPUTime)}`, `used_cpu_user:${sec(u.userCPUTime)}`, 'used_cpu_sys_children:0.000000', 'used_cpu_user_children:0.000000'].join('\r\n'));
    }
    if (want('stats')) {
      parts.push(['# Stats', `total_connections_received:${this.connectionsReceived}`, `total_commands_processed:${this.commandsProcessed}`].join('\r\n'));
    }
    if (want('sentinel')) {
      const lines = [
        '# Sentinel',
        `sentinel_masters:${s.masters.size}`,
        `sentinel_tilt:${s.tilt ? 1 : 0}`,
        `sentinel_tilt_since_seconds:${s.tilt ? Math.floor((s.now() - s.tiltStartTime) / 1000) : -1}`,
        `sentinel_running_scripts:${s.scripts.running}`,
        `sentinel_scripts_queue_length:${s.scripts.jobs.length}`,
        `sentinel_simulate_failure_flags:${s.simFailure === 'none' ? 0 : s.simFailure === 'crash-after-election' ? 1 : 2}`,
      ];
      let i = 0;
      for (const m of s.masters.values()) {
        const st = m.flags & SRI_O_DOWN ? 'odown' : m.flags & SRI_S_DOWN ? 'sdown' : 'ok';
        const a = s.currentMasterAddr(m);
        lines.push(`master${i++}:name=${m.name},status=${st},address=${s.announce(a.host)}:${a.port},slaves=${m.replicas.size},sentinels=${m.sentinels.size + 1}`);
      }
      parts.push(lines.join('\r\n'));
    }
    return parts.join('\r\n\r\n') + '\r\n';
  }

  /** The field list of SENTINEL MASTER/REPLICAS/SENTINELS (addReplySentinelRedisInstance). */
  private instanceFields(ri: Instance): [string, string][] {
    const s = this.o.sentinel;
    const now = s.now();
    const f: [string, string][] = [];
    const addr = ri.isMaster ? s.currentMasterAddr(ri) : ri.addr;
    f.push(['name', ri.name], ['ip', s.announce(addr.host)], ['port', String(addr.port)], ['runid', ri.runId ?? ''], ['flags', ri.flagNames(s.tilt)]);
    f.push(['link-pending-commands', String(ri.link.pendingCommands)], ['link-refcount', '1']);
    if (ri.flags & SRI_FAILOVER_IN_PROGRESS) f.push(['failover-state', FAILOVER_STATE_NAMES[ri.failoverState]!]);
    f.push(['last-ping-sent', String(ri.link.actPingTime ? Math.round(now - ri.link.actPingTime) : 0)]);
    f.push(['last-ok-ping-reply', String(Math.round(now - ri.link.lastAvailTime))]);
    f.push(['last-ping-reply', String(Math.round(now - ri.link.lastPongTime))]);
    if (ri.flags & SRI_S_DOWN) f.push(['s-down-time', String(Math.round(now - ri.sDownSinceTime))]);
    if (ri.flags & SRI_O_DOWN) f.push(['o-down-time', String(Math.round(now - ri.oDownSinceTime))]);
    f.push(['down-after-milliseconds', String(ri.downAfterPeriod)]);
    if (!ri.isSentinel) {
      f.push(['info-refresh', String(ri.infoRefresh ? Math.round(now - ri.infoRefresh) : 0)]);
      f.push(['role-reported', ri.roleReported === SRI_MASTER ? 'master' : 'slave']);
      f.push(['role-reported-time', String(Math.round(now - ri.roleReportedTime))]);
    }
    if (ri.isMaster) {
      f.push(['config-epoch', String(ri.configEpoch)], ['num-slaves', String(ri.replicas.size)], ['num-other-sentinels', String(ri.sentinels.size)]);
      f.push(['quorum', String(ri.quorum)], ['failover-timeout', String(ri.failoverTimeout)], ['parallel-syncs', String(ri.parallelSyncs)]);
      if (ri.notificationScript !== null) f.push(['notification-script', ri.notificationScript]);
      if (ri.clientReconfigScript !== null) f.push(['client-reconfig-script', ri.clientReconfigScript]);
    }
    if (ri.isSlave) {
      f.push(['master-link-down-time', String(ri.masterLinkDownTime)]);
      f.push(['master-link-status', ri.slaveMasterLinkStatus === 0 ? 'ok' : 'err']);
      f.push(['master-host', ri.slaveMasterHost ?? '?'], ['master-port', String(ri.slaveMasterPort)]);
      f.push(['slave-priority', String(ri.slavePriority)], ['slave-repl-offset', String(ri.slaveReplOffset)], ['replica-announced', ri.replicaAnnounced ? '1' : '0']);
    }
    if (ri.isSentinel) {
      f.push(['last-hello-message', String(Math.round(now - ri.lastHelloTime))]);
      f.push(['voted-leader', ri.leader ?? '?'], ['voted-leader-epoch', String(ri.leaderEpoch)]);
    }
    return f;
  }

  private writeInstance(c: SentinelClient, ri: Instance): void {
    const f = this.instanceFields(ri);
    c.reply.map(f.length);
    for (const [k, v] of f) {
      c.reply.bulk(k);
      c.reply.bulk(v);
    }
  }

  /** SENTINEL CONFIG GET <pattern> / SET <option> <value> (the global sentinel options). */
  private sentinelConfig(c: SentinelClient, argv: string[]): void {
    const r = c.reply;
    const s = this.o.sentinel;
    const op = (argv[2] ?? '').toLowerCase();
    if (op === 'get' && argv.length === 4) {
      const all: [string, string][] = [
        ['resolve-hostnames', s.resolveHostnames ? 'yes' : 'no'],
        ['announce-hostnames', s.announceHostnames ? 'yes' : 'no'],
        ['announce-ip', s.announceIp ?? ''],
        ['announce-port', String(s.announcePort)],
        ['sentinel-user', s.sentinelAuthUser ?? ''],
        ['sentinel-pass', s.sentinelAuthPass ?? ''],
      ];
      const hits = all.filter(([name]) => stringMatch(argv[3]!, name, true));
      r.map(hits.length);
      for (const [k, v] of hits) {
        r.bulk(k);
        r.bulk(v);
      }
      return;
    }
    if (op !== 'set' || argv.length !== 5) {
      r.error('ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.');
      return;
    }
    const option = argv[3]!;
    const value = argv[4]!;
    const badValue = (): void => r.error(`ERR Invalid value '${value}' to SENTINEL CONFIG SET '${option}'`);
    const yesNo = value.toLowerCase() === 'yes' ? true : value.toLowerCase() === 'no' ? false : null;
    let dropConnections = false;
    switch (option.toLowerCase()) {
      case 'resolve-hostnames':
        if (yesNo === null) return badValue();
        s.resolveHostnames = yesNo;
        break;
      case 'announce-hostnames':
        if (yesNo === null) return badValue();
        s.announceHostnames = yesNo;
        break;
      case 'announce-ip':
        s.announceIp = value === '' ? null : value;
        break;
      case 'announce-port': {
        const n = /^-?\d+$/.test(value) ? Number(value) : NaN;
        if (!Number.isInteger(n) || n < 0 || n > 65535) return badValue();
        s.announcePort = n;
        break;
      }
      case 'sentinel-user':
        s.sentinelAuthUser = value === '' ? null : value;
        dropConnections = true;
        break;
      case 'sentinel-pass':
        s.sentinelAuthPass = value === '' ? null : value;
        dropConnections = true;
        break;
      default:
        r.error(`ERR Invalid argument '${option}' to SENTINEL CONFIG SET`);
        return;
    }
    this.flushConfigAndReply(r);
    if (dropConnections) s.dropConnections();
  }

  private sentinelCommand(c: SentinelClient, argv: string[]): void {
    const r = c.reply;
    const s = this.o.sentinel;
    const sub = argv[1]!.toLowerCase();
    const master = (name: string): Instance | null => {
      const m = s.masters.get(name);
      if (m === undefined) r.error('ERR No such master with that name');
      return m ?? null;
    };
    const wrongArgs = (): void => r.error(`ERR wrong number of arguments for 'sentinel|${sub}' command`);
    switch (sub) {
      case 'myid':
        if (argv.length !== 2) return wrongArgs();
        r.bulk(s.myid);
        return;
      case 'masters':
        if (argv.length !== 2) return wrongArgs();
        r.array(s.masters.size);
        for (const m of s.masters.values()) this.writeInstance(c, m);
        return;
      case 'master': {
        if (argv.length !== 3) return wrongArgs();
        const m = master(argv[2]!);
        if (m !== null) this.writeInstance(c, m);
        return;
      }
      case 'slaves':
      case 'replicas':
      case 'sentinels': {
        if (argv.length !== 3) return wrongArgs();
        const m = master(argv[2]!);
        if (m === null) return;
        // Replicas that set replica-announced no are not listed (addReplyDictOfRedisInstances).
        const list = sub === 'sentinels' ? [...m.sentinels.values()] : [...m.replicas.values()].filter((ri) => ri.replicaAnnounced);
        r.array(list.length);
        for (const ri of list) this.writeInstance(c, ri);
        return;
      }
      case 'get-master-addr-by-name': {
        if (argv.length !== 3) return wrongArgs();
        const a = s.getMasterAddr(argv[2]!);
        if (a === null) r.nullArray();
        else {
          r.array(2);
          r.bulk(s.announce(a.host));
          r.bulk(String(a.port));
        }
        return;
      }
      case 'is-master-down-by-addr': {
        if (argv.length !== 6) return wrongArgs();
        const port = Number(argv[3]);
        const epoch = Number(argv[4]);
        if (!Number.isInteger(port) || !Number.isInteger(epoch)) {
          r.error('ERR value is not an integer or out of range');
          return;
        }
        const v = s.isMasterDownByAddr({ host: argv[2]!, port }, epoch, argv[5]!);
        r.array(3);
        r.integer(v.down ? 1 : 0);
        r.bulk(v.leader);
        r.integer(v.leaderEpoch);
        return;
      }
      case 'failover': {
        if (argv.length !== 3) return wrongArgs();
        const m = master(argv[2]!);
        if (m === null) return;
        const err = s.forceFailover(m);
        if (err !== null) r.error(err);
        else r.ok();
        return;
      }
      case 'ckquorum': {
        if (argv.length !== 3) return wrongArgs();
        const m = master(argv[2]!);
        if (m === null) return;
        const q = s.checkQuorum(m);
        if (q.ok) r.status(q.text);
        else r.error(q.text);
        return;
      }
      case 'reset': {
        if (argv.length !== 3) return wrongArgs();
        r.integer(s.resetByPattern((name) => stringMatch(argv[2]!, name, false)));
        return;
      }
      case 'monitor': {
        if (argv.length !== 6) return wrongArgs();
        const port = Number(argv[4]);
        const quorum = Number(argv[5]);
        if (!/^\d+$/.test(argv[5]!) || !Number.isInteger(quorum)) {
          r.error('ERR value is not an integer or out of range');
          return;
        }
        if (quorum <= 0) {
          r.error('ERR Quorum must be 1 or greater.');
          return;
        }
        if (!Number.isInteger(port) || port <= 0 || port > 65535) {
          r.error('ERR Invalid port number');
          return;
        }
        if (net.isIP(argv[3]!) === 0 && !s.resolveHostnames) {
          r.error('ERR Invalid IP address or hostname specified');
          return;
        }
        const err = s.monitor(argv[2]!, { host: argv[3]!, port }, quorum, true);
        if (err !== null) r.error(err);
        else this.flushConfigAndReply(r);
        return;
      }
      case 'remove': {
        if (argv.length !== 3) return wrongArgs();
        if (!s.masters.has(argv[2]!)) {
          r.error('ERR No such master with that name');
          return;
        }
        s.remove(argv[2]!);
        this.flushConfigAndReply(r);
        return;
      }
      case 'set': {
        if (argv.length < 5) return wrongArgs();
        const m = master(argv[2]!);
        if (m === null) return;
        for (let i = 3; i < argv.length; i += 2) {
          const opt = argv[i]!.toLowerCase();
          if (i + 1 >= argv.length) {
            r.error(`ERR Unknown option or number of arguments for SENTINEL SET '${argv[i]}'`);
            return;
          }
          // Redis logs (and hands to the notification script) a +set event per option applied.
          const setEvent = (n: number): void => {
            const shown = opt === 'auth-pass' ? ['******'] : argv.slice(i + 1, i + 1 + n);
            s.event('warning', '+set', m, [argv[i]!, ...shown].join(' '));
          };
          if (opt === 'notification-script' || opt === 'client-reconfig-script') {
            if (s.denyScriptsReconfig) {
              r.error('ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration');
              return;
            }
            // An empty path removes the script.
            const file = argv[i + 1]!;
            if (file !== '' && !s.scripts.runner.isExecutable(file)) {
              r.error(opt === 'notification-script' ? 'ERR Notification script seems non existing or non executable' : 'ERR Client reconfiguration script seems non existing or non executable');
              return;
            }
            if (opt === 'notification-script') m.notificationScript = file === '' ? null : file;
            else m.clientReconfigScript = file === '' ? null : file;
            setEvent(1);
            continue;
          }
          if (opt === 'quorum') {
            // Not a config-file directive: the quorum lives on the monitor line.
            const q = /^-?\d+$/.test(argv[i + 1]!) ? Number(argv[i + 1]) : NaN;
            if (!Number.isSafeInteger(q) || q <= 0) {
              r.error(`ERR Invalid argument '${argv[i + 1]}' for SENTINEL SET '${argv[i]}'`);
              return;
            }
            m.quorum = q;
            setEvent(1);
            continue;
          }
          if (opt === 'rename-command') {
            // Two values: the standard name and the name the instances know it by.
            if (i + 2 >= argv.length) {
              r.error(`ERR Unknown option or number of arguments for SENTINEL SET '${argv[i]}'`);
              return;
            }
            const [from, to] = [argv[i + 1]!, argv[i + 2]!];
            if (from === '' || to === '') {
              r.error(`ERR Invalid argument '${to === '' ? to : from}' for SENTINEL SET '${argv[i]}'`);
              return;
            }
            applySentinelDirective(s, ['rename-command', m.name, from, to]);
            setEvent(2);
            i++;
            continue;
          }
          if (!SET_OPTIONS.has(opt)) {
            r.error(`ERR Unknown option or number of arguments for SENTINEL SET '${argv[i]}'`);
            return;
          }
          const err = applySentinelDirective(s, [opt, m.name, argv[i + 1]!]);
          if (err !== null) {
            r.error(`ERR Invalid argument '${argv[i + 1]}' for SENTINEL SET '${argv[i]}'`);
            return;
          }
          setEvent(1);
        }
        this.flushConfigAndReply(r);
        return;
      }
      case 'flushconfig':
        this.flushConfigAndReply(r);
        return;
      case 'simulate-failure': {
        for (const a of argv.slice(2)) {
          const l = a.toLowerCase();
          if (l === 'crash-after-election' || l === 'crash-after-promotion') s.simFailure = l;
          else if (l === 'help') {
            r.array(2);
            r.bulk('crash-after-election');
            r.bulk('crash-after-promotion');
            return;
          } else {
            r.error('ERR Unknown failure simulation specified');
            return;
          }
        }
        r.ok();
        return;
      }
      case 'pending-scripts': {
        if (argv.length !== 2) return wrongArgs();
        // sentinelPendingScriptsCommand(): one 5-field map per queued job, oldest first.
        const now = s.now();
        r.array(s.scripts.jobs.length);
        for (const job of s.scripts.jobs) {
          r.map(5);
          r.bulk('argv');
          r.array(job.argv.length);
          for (const a of job.argv) r.bulk(a);
          r.bulk('flags');
          r.bulk(job.running ? 'running' : 'scheduled');
          r.bulk('pid');
          r.bulk(String(job.pid));
          if (job.running) {
            r.bulk('run-time');
            r.bulk(String(Math.floor(now - job.startTime)));
          } else {
            r.bulk('run-delay');
            r.bulk(String(job.startTime !== 0 ? Math.max(0, Math.floor(job.startTime - now)) : 0));
          }
          r.bulk('retry-num');
          r.bulk(String(job.retryNum));
        }
        return;
      }
      case 'config':
        this.sentinelConfig(c, argv);
        return;
      case 'info-cache': {
        // Masters in the order asked (unknown names ignored), or all of them.
        const list = argv.length > 2 ? [...new Set(argv.slice(2))].map((n) => s.masters.get(n)).filter((m) => m !== undefined) : [...s.masters.values()];
        const now = s.now();
        const entry = (ri: Instance): void => {
          r.array(2);
          r.integer(ri.infoRefresh ? Math.round(now - ri.infoRefresh) : 0);
          if (ri.info === '') r.nullBulk();
          else r.bulk(ri.info);
        };
        r.array(list.length * 2);
        for (const m of list) {
          r.bulk(m.name);
          r.array(m.replicas.size + 1);
          entry(m);
          for (const ri of m.replicas.values()) entry(ri);
        }
        return;
      }
      case 'debug': {
        if (argv.length === 2) {
          r.map(DEBUG_PARAMETERS.length);
          for (const [name, field] of DEBUG_PARAMETERS) {
            r.bulk(name.toUpperCase());
            r.bulk(String(s.periods[field]));
          }
          return;
        }
        const err = s.setDebugParameters(argv.slice(2));
        if (err !== null) r.error(err);
        else r.ok();
        return;
      }
      default:
        r.error(`ERR unknown subcommand '${argv[1]}'. Try SENTINEL HELP.`);
    }
  }
}
