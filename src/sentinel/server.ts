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
import { FAILOVER_STATE_NAMES, type Instance, SRI_MASTER, SRI_O_DOWN, SRI_S_DOWN } from './instance.js';
import { HELLO_CHANNEL, type Sentinel } from './sentinel.js';
import { applySentinelDirective } from './config.js';

interface SentinelClient {
  id: number;
  socket: net.Socket;
  parser: RespParser;
  reply: ReplyWriter;
  name: string;
  authenticated: boolean;
  channels: Set<string>;
  patterns: Set<string>;
  closeAfterReply: boolean;
}

export interface SentinelServerOptions {
  sentinel: Sentinel;
  port: number;
  bind: string[];
  requirepass: string | null;
  /** Persists the configuration (CONFIG REWRITE equivalent); throws on failure. */
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

  constructor(private readonly o: SentinelServerOptions) {}

  async listen(): Promise<void> {
    for (const host of this.o.bind) {
      const srv = net.createServer((sock) => this.accept(sock));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(this.o.port, host, () => resolve());
      });
      this.servers.push(srv);
    }
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
      authenticated: this.o.requirepass === null,
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
      case 'auth':
        if (this.o.requirepass === null) r.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
        else if (argv[argv.length - 1] === this.o.requirepass && (argv.length === 2 || argv[1] === 'default')) {
          c.authenticated = true;
          r.ok();
        } else r.error('WRONGPASS invalid username-password pair or user is disabled.');
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
        r.verbatim(this.info(argv[1]?.toLowerCase() ?? 'default'));
        return;
      case 'client':
        this.client(c, argv);
        return;
      case 'command':
        if (argv.length === 1 || argv[1]!.toLowerCase() === 'docs') r.emptyArray();
        else if (argv[1]!.toLowerCase() === 'count') r.integer(0);
        else r.emptyArray();
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
        if (this.o.requirepass !== null && argv[i + 2] !== this.o.requirepass) {
          r.error('WRONGPASS invalid username-password pair or user is disabled.');
          return;
        }
        c.authenticated = true;
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
      r.integer(0);
    } else {
      r.error(`ERR unknown subcommand or wrong number of arguments for '${argv[1] ?? ''}'. Try CLIENT HELP.`);
    }
  }

  private info(section: string): string {
    const s = this.o.sentinel;
    const all = section === 'all' || section === 'everything' || section === 'default';
    const parts: string[] = [];
    if (all || section === 'server') {
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
    if (all || section === 'clients') parts.push(['# Clients', `connected_clients:${this.clients.size}`].join('\r\n'));
    if (all || section === 'stats') {
      parts.push(['# Stats', `total_connections_received:${this.connectionsReceived}`, `total_commands_processed:${this.commandsProcessed}`].join('\r\n'));
    }
    if (all || section === 'sentinel') {
      const lines = [
        '# Sentinel',
        `sentinel_masters:${s.masters.size}`,
        `sentinel_tilt:${s.tilt ? 1 : 0}`,
        `sentinel_tilt_since_seconds:${s.tilt ? Math.floor((s.now() - s.tiltStartTime) / 1000) : -1}`,
        'sentinel_running_scripts:0',
        'sentinel_scripts_queue_length:0',
        `sentinel_simulate_failure_flags:${s.simFailure === 'none' ? 0 : s.simFailure === 'crash-after-election' ? 1 : 2}`,
      ];
      let i = 0;
      for (const m of s.masters.values()) {
        const st = m.flags & SRI_O_DOWN ? 'odown' : m.flags & SRI_S_DOWN ? 'sdown' : 'ok';
        const a = s.currentMasterAddr(m);
        lines.push(`master${i++}:name=${m.name},status=${st},address=${a.host}:${a.port},slaves=${m.replicas.size},sentinels=${m.sentinels.size + 1}`);
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
    f.push(['name', ri.name], ['ip', addr.host], ['port', String(addr.port)], ['runid', ri.runId ?? ''], ['flags', ri.flagNames(s.tilt)]);
    f.push(['link-pending-commands', String(ri.link.pendingCommands)], ['link-refcount', '1']);
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
      if (ri.failoverState !== 0) f.push(['failover-state', FAILOVER_STATE_NAMES[ri.failoverState]!]);
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
        const list = sub === 'sentinels' ? [...m.sentinels.values()] : [...m.replicas.values()];
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
          r.bulk(a.host);
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
        else {
          this.o.flushConfig();
          r.ok();
        }
        return;
      }
      case 'remove': {
        if (argv.length !== 3) return wrongArgs();
        if (!s.masters.has(argv[2]!)) {
          r.error('ERR No such master with that name');
          return;
        }
        s.remove(argv[2]!);
        this.o.flushConfig();
        r.ok();
        return;
      }
      case 'set': {
        if (argv.length < 5 || argv.length % 2 === 0) return wrongArgs();
        const m = master(argv[2]!);
        if (m === null) return;
        for (let i = 3; i < argv.length; i += 2) {
          const opt = argv[i]!.toLowerCase();
          if ((opt === 'notification-script' || opt === 'client-reconfig-script') && s.denyScriptsReconfig) {
            r.error('ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your config file.');
            return;
          }
          const err = applySentinelDirective(s, [opt, m.name, argv[i + 1]!]);
          if (err !== null) {
            r.error(`ERR Invalid argument '${argv[i + 1]}' for SENTINEL SET '${argv[i]}'`);
            return;
          }
        }
        this.o.flushConfig();
        r.ok();
        return;
      }
      case 'flushconfig':
        this.o.flushConfig();
        r.ok();
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
      case 'pending-scripts':
        r.emptyArray();
        return;
      default:
        r.error(`ERR unknown subcommand '${argv[1]}'. Try SENTINEL HELP.`);
    }
  }
}
