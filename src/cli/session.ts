/**
 * The nodis-cli session: connection management and command execution, following redis-cli.c's
 * cliConnect / issueCommandRepeat / cliSendCommand / cliReadReply step by step, so that every
 * message, exit code and prompt change happens at the same moment it does in redis-cli.
 *
 * Two details carry most of the fidelity:
 * - Like hiredis, a dead link is only *noticed* when a read fails (`Connection.read()`), not
 *   when the socket closes in the background. So after a server restart the next command
 *   reports "Error: Server closed the connection" and the one after reconnects, as in redis-cli.
 * - Formatting depends on the output mode chosen at start-up (tty → human, pipe → raw) plus the
 *   handful of commands redis-cli always prints raw (INFO, CLIENT LIST, …).
 */
import { Connection, ConnError, cliTlsContext, type CliTls, type ConnTarget } from './connection.js';
import type { Reply } from '../protocol/reply-parser.js';
import { formatInvalidateTTY, formatReply, isInvalidate, UnknownReplyType, type FormatOptions } from './format.js';
import type { CliConfig } from './options.js';
import { err, exit, out } from './io.js';
import { helpFromBundledTable, helpFromDocs, outputHelp, type HelpEntry } from './help.js';

const eq = (a: string | undefined, b: string): boolean => a !== undefined && a.toLowerCase() === b;

/** Commands whose reply redis-cli always prints raw, even on a terminal. */
function alwaysRaw(argv: string[]): boolean {
  const [c, s] = [argv[0]!.toLowerCase(), argv[1]?.toLowerCase()];
  const n = argv.length;
  return (
    c === 'info' ||
    c === 'lolwut' ||
    (n >= 2 && c === 'debug' && (s === 'htstats' || s === 'htstats-key' || s === 'client-eviction')) ||
    (n >= 2 && c === 'memory' && (s === 'malloc-stats' || s === 'doctor')) ||
    (n === 2 && c === 'cluster' && (s === 'nodes' || s === 'info')) ||
    (n >= 2 && c === 'client' && (s === 'list' || s === 'info')) ||
    (n === 3 && c === 'latency' && s === 'graph') ||
    (n === 2 && c === 'latency' && s === 'doctor') ||
    (n >= 2 && c === 'proxy' && s === 'info')
  );
}

export class Session {
  conn: Connection | null = null;
  /** The db currently selected on the link (the prompt's [n]). */
  dbnum = 0;
  /** The db to select on (re)connect: -n, then whatever SELECT succeeded. */
  inputDbnum: number;
  inMulti = false;
  preMultiDbnum = 0;
  interactive = false;
  shutdown = false;
  monitorMode = false;
  pubsubMode = false;
  blockingStateAborted = false;
  lastReplyType: Reply['type'] | null = null;
  /** -c: a MOVED/ASK reply asks for the command again on another node (cluster_reissue_command). */
  clusterReissue = false;
  /** -c: the next command goes after ASKING (an ASK redirection). */
  clusterSendAsking = false;
  prompt = '';
  helpEntries: HelpEntry[] | null = null;
  readonly formatOptions: FormatOptions;

  constructor(readonly config: CliConfig) {
    this.inputDbnum = config.dbnum;
    this.formatOptions = { multiBulkDelimiter: config.multiBulkDelimiter, commandDelimiter: config.commandDelimiter };
    this.refreshPrompt();
  }

  /** cliRefreshPrompt(). */
  refreshPrompt(): void {
    let p: string;
    if (this.config.socket !== null) p = `redis ${this.config.socket}`;
    else p = this.config.host.includes(':') ? `[${this.config.host}]:${this.config.port}` : `${this.config.host}:${this.config.port}`;
    if (this.dbnum !== 0) p += `[${this.dbnum}]`;
    if (this.inMulti) p += '(TX)';
    // redis-cli keeps the prompt in a 128-byte buffer.
    this.prompt = (p + '> ').slice(0, 127);
  }

  /** cliSecureConnection's SSL_CTX, made at the first TLS connect (kept, as redis-cli keeps it). */
  private tlsContext: CliTls | null = null;

  /** The TLS settings for a new connection (null: plain), or redis-cli's error after printing it. */
  private secure(): CliTls | null | false {
    if (!this.config.tls) return null;
    if (this.tlsContext === null) {
      const ctx = cliTlsContext(this.config.sslconfig);
      if (typeof ctx === 'string') {
        err(`Could not negotiate a TLS connection: ${ctx}\n`);
        return false;
      }
      this.tlsContext = { context: ctx, sni: this.config.sslconfig.sni, insecure: this.config.sslconfig.insecure };
    }
    return this.tlsContext;
  }

  private target(): ConnTarget {
    // A cluster redirection goes to host:port even when the first node was a unix socket.
    const socket = this.config.socket !== null && !(this.config.cluster && this.clusterReissue);
    return socket ? { path: this.config.socket! } : { host: this.config.host, port: this.config.port };
  }

  /** cliConnect(): connects if needed (or always with `force`), then AUTH, SELECT, HELLO 3. */
  async connect(force: boolean, quiet: boolean): Promise<boolean> {
    if (this.conn !== null && !force) {
      this.installPushHandler();
      return true;
    }
    if (this.conn !== null) {
      this.conn.close();
      this.conn = null;
      this.dbnum = 0;
      this.inMulti = false;
      this.refreshPrompt();
    }
    const secure = this.secure();
    if (secure === false) return false;
    const c = await Connection.open(this.target(), secure);
    if (typeof c === 'string') {
      if (!quiet) {
        const where = this.config.socket !== null ? this.config.socket : `${this.config.host}:${this.config.port}`;
        err(`Could not connect to Redis at ${where}: ${c}\n`);
      }
      return false;
    }
    this.conn = c;
    if (!(await this.auth()) || !(await this.select()) || !(await this.switchProto())) return false;
    this.installPushHandler();
    return true;
  }

  /** redisConnect() alone, without AUTH/SELECT/HELLO (reconnectingRedisCommand's retry). */
  async connectBare(): Promise<void> {
    const secure = this.secure();
    if (secure === false) return;
    const c = await Connection.open(this.target(), secure);
    if (typeof c !== 'string') this.conn = c;
  }

  private installPushHandler(): void {
    if (this.conn && this.config.pushOutput) this.conn.onPush = (r) => this.printPush(r);
  }

  /** cliPushHandler(): spontaneous RESP3 pushes (client tracking invalidations…). */
  private printPush(r: Reply): void {
    if (this.config.output === 'standard' && isInvalidate(r)) out(formatInvalidateTTY(r));
    else out(this.format(r, false));
  }

  /** redisCommand() on the current link; null on I/O failure (as hiredis returns NULL). */
  async command(argv: (string | Buffer)[]): Promise<Reply | null> {
    if (!this.conn) return null;
    try {
      return await this.conn.command(argv);
    } catch {
      return null;
    }
  }

  private async auth(): Promise<boolean> {
    if (this.config.auth === null) return true;
    const argv = this.config.user === null ? ['AUTH', this.config.auth] : ['AUTH', this.config.user, this.config.auth];
    const r = await this.command(argv);
    if (r === null) {
      err('\nI/O error\n');
      return false;
    }
    if (r.type === 'error') {
      err(`AUTH failed: ${r.value}\n`);
      return false;
    }
    return true;
  }

  /** cliSelect(). */
  async select(): Promise<boolean> {
    if (this.inputDbnum === this.dbnum) return true;
    const r = await this.command(['SELECT', String(this.inputDbnum)]);
    if (r === null) {
      err('\nI/O error\n');
      return false;
    }
    if (r.type === 'error') {
      err(`SELECT ${this.inputDbnum} failed: ${r.value}\n`);
      return false;
    }
    this.dbnum = this.inputDbnum;
    this.refreshPrompt();
    return true;
  }

  private async switchProto(): Promise<boolean> {
    if (this.config.resp3 === 0 || this.config.resp2) return true;
    const r = await this.command(['HELLO', '3']);
    if (r === null) {
      err('\nI/O error\n');
      return false;
    }
    if (r.type === 'error') {
      err(`HELLO 3 failed: ${r.value}\n`);
      return this.config.resp3 !== 1;
    }
    return true;
  }

  format(r: Reply, verbatim: boolean): string {
    try {
      return formatReply(r, this.config.output, this.formatOptions, verbatim);
    } catch (e) {
      if (e instanceof UnknownReplyType) {
        err(e.message + '\n');
        exit(1);
      }
      throw e;
    }
  }

  /** cliPrintContextError(). */
  printContextError(): void {
    if (this.conn?.error) err(`Error: ${this.conn.error.message}\n`);
  }

  /** cliReadReply(): reads and prints one reply. False when the link broke (interactive). */
  async readReply(outputRaw: boolean): Promise<boolean> {
    let reply: Reply;
    try {
      reply = await this.conn!.read();
    } catch (e) {
      if (!(e instanceof ConnError)) throw e;
      if (this.blockingStateAborted) {
        this.blockingStateAborted = false;
        this.monitorMode = false;
        this.pubsubMode = false;
        return this.connect(true, false);
      }
      if (this.shutdown) {
        this.conn = null;
        return true;
      }
      if (this.interactive && (e.kind === 'io' || e.kind === 'eof')) return false;
      this.printContextError();
      exit(1);
    }
    this.lastReplyType = reply.type;
    if (this.config.cluster && reply.type === 'error' && (reply.value.startsWith('MOVED ') || reply.value.startsWith('ASK '))) {
      this.followRedirection(reply.value);
      return true;
    }
    if (!this.interactive && this.config.setErrcode && reply.type === 'error') {
      err(reply.value + '\n');
      exit(1);
    }
    out(this.format(reply, outputRaw));
    return true;
  }

  /** "MOVED <slot> <host>:<port>" / "ASK …": the next try goes there (cliReadReply, -c). */
  private followRedirection(text: string): void {
    const [kind, slot, where] = text.split(' ');
    const colon = where!.lastIndexOf(':');
    this.config.host = where!.slice(0, colon);
    this.config.port = cAtoi(where!.slice(colon + 1));
    if (this.interactive) out(`-> Redirected to slot [${cAtoi(slot!)}] located at ${this.config.host}:${this.config.port}\n`);
    this.clusterReissue = true;
    if (kind === 'ASK') this.clusterSendAsking = true;
    this.refreshPrompt();
  }

  /** cliSendAsking(). */
  private async sendAsking(): Promise<boolean> {
    this.clusterSendAsking = false;
    const r = await this.command(['ASKING']);
    if (r === null) {
      err('\nI/O error\n');
      return false;
    }
    if (r.type === 'error') {
      err(`ASKING failed: ${r.value}\n`);
      return false;
    }
    return true;
  }

  /** cliSendCommand(): sends `argv` `repeat` times, printing replies. */
  async sendCommand(argv: string[], repeat: number): Promise<boolean> {
    if (this.conn === null) return false;
    const command = argv[0]!.toLowerCase();
    const outputRaw = alwaysRaw(argv);
    if (command === 'shutdown') this.shutdown = true;
    if (command === 'monitor') this.monitorMode = true;
    if (command === 'subscribe' || command === 'psubscribe' || command === 'ssubscribe') this.pubsubMode = true;

    while (repeat < 0 || repeat-- > 0) {
      this.conn.send(argv);
      if (this.monitorMode) {
        do {
          if (!(await this.readReply(outputRaw))) {
            this.printContextError();
            exit(1);
          }
          if (this.lastReplyType === 'error') this.monitorMode = false;
        } while (this.monitorMode);
        return true;
      }
      if (this.pubsubMode) {
        if (this.config.output !== 'raw') out('Reading messages... (press Ctrl-C to quit)\n');
        // Subscription messages are the replies here, in RESP2 and RESP3 alike.
        this.conn.onPush = null;
        while (this.pubsubMode) {
          if (!(await this.readReply(outputRaw))) {
            this.printContextError();
            exit(1);
          }
          if (!this.pubsubMode || this.lastReplyType === 'error') {
            this.installPushHandler();
            this.pubsubMode = false;
          }
        }
        continue;
      }
      if (!(await this.readReply(outputRaw))) return false;
      await this.afterReply(argv);
      // Redirected: no more repeats here, the command goes again to the right node.
      if (this.clusterReissue) break;
      if (this.config.intervalUs > 0) await sleep(this.config.intervalUs / 1000);
    }
    return true;
  }

  /** Tracks SELECT/MULTI/EXEC/DISCARD/RESET/AUTH so the prompt and reconnects stay right. */
  private async afterReply(argv: string[]): Promise<void> {
    const c = argv[0]!.toLowerCase();
    const ok = this.lastReplyType !== 'error';
    if (c === 'select' && argv.length === 2 && ok) {
      this.inputDbnum = this.dbnum = cAtoi(argv[1]!);
      this.refreshPrompt();
    } else if (c === 'auth' && (argv.length === 2 || argv.length === 3)) {
      await this.select();
    } else if (c === 'multi' && argv.length === 1 && ok) {
      this.inMulti = true;
      this.preMultiDbnum = this.dbnum;
      this.refreshPrompt();
    } else if (c === 'exec' && argv.length === 1 && this.inMulti) {
      this.inMulti = false;
      if (this.lastReplyType === 'error' || this.lastReplyType === 'nil') this.inputDbnum = this.dbnum = this.preMultiDbnum;
      this.refreshPrompt();
    } else if (c === 'discard' && argv.length === 1 && ok) {
      this.inMulti = false;
      this.inputDbnum = this.dbnum = this.preMultiDbnum;
      this.refreshPrompt();
    } else if (c === 'reset' && argv.length === 1 && ok) {
      this.inMulti = false;
      this.dbnum = 0;
      this.inputDbnum = 0;
      this.config.resp3 = 0;
      this.refreshPrompt();
    }
  }

  /** issueCommandRepeat(): help is local; otherwise (re)connect if needed and send. */
  async issueCommand(argv: string[], repeat = this.config.repeat): Promise<boolean> {
    if (eq(argv[0], 'help') || argv[0] === '?') {
      out(outputHelp(argv.slice(1), await this.loadHelp()));
      return true;
    }
    for (;;) {
      if (this.clusterReissue || this.conn === null || this.conn.noticed) {
        if (!(await this.connect(true, false))) {
          this.printContextError();
          this.clusterReissue = false;
          return false;
        }
      }
      this.clusterReissue = false;
      if (this.clusterSendAsking && !(await this.sendAsking())) {
        this.printContextError();
        return false;
      }
      if (!(await this.sendCommand(argv, repeat))) {
        this.printContextError();
        this.conn?.close();
        this.conn = null;
        return false;
      }
      if (!(this.config.cluster && this.clusterReissue)) return true;
    }
  }

  /** cliInitHelp(): COMMAND DOCS from the server, else the bundled table. */
  async loadHelp(): Promise<HelpEntry[]> {
    if (this.helpEntries) return this.helpEntries;
    let docs: Reply | null = null;
    if (await this.connect(false, true)) docs = await this.command(['COMMAND', 'DOCS']);
    this.helpEntries = docs !== null && (docs.type === 'map' || docs.type === 'array') ? helpFromDocs(docs) : helpFromBundledTable();
    return this.helpEntries;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function cAtoi(s: string): number {
  const m = /^[\t\n\v\f\r ]*([-+]?\d+)/.exec(s);
  return m ? Number(BigInt.asIntN(32, BigInt(m[1]!))) : 0;
}
