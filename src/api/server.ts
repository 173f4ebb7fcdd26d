/**
 * startServer(): one nodis-server process on a port the kernel picks, its configuration
 * written as a redis.conf in its directory (a temporary one unless `dir` is given), stopped,
 * killed and restarted (same port, same directory) on request.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LinkedProcess, makeTempDir, removeTempDir } from './process.js';

/** A directive's value: a word, a number, yes/no, or several words (`save: [3600, 1]`). */
export type DirectiveValue = string | number | boolean | readonly (string | number)[];

/** redis.conf directives by name, e.g. `{ maxmemory: '64mb', appendonly: true }`. */
export type Directives = Record<string, DirectiveValue>;

export interface ServerOptions {
  /** redis.conf directives (Redis's names and values). `port`, `bind` and `dir` come from the options below. */
  config?: Directives;
  /** The address to listen on (default 127.0.0.1). */
  host?: string;
  /** A fixed port; by default the server binds a free port the kernel picks. */
  port?: number;
  /** The data directory, kept after stop(); by default a temporary one that stop() removes. */
  dir?: string;
  /** How long to wait for the server to accept connections (default 20000 ms). */
  startTimeoutMs?: number;
  /** Extra environment for the process. */
  env?: NodeJS.ProcessEnv;
  /** Receives the server's log as it is written. */
  onLog?: (text: string) => void;
}

export interface NodisServer {
  /** The address clients connect to. */
  readonly host: string;
  /** The port the server listens on (the same across restart()). */
  readonly port: number;
  /** `redis://host:port` */
  readonly url: string;
  /** The process id of the running server (changes on restart()). */
  readonly pid: number;
  /** The data directory. */
  readonly dir: string;
  /** The configuration the server runs with, as redis.conf directives (one per line). */
  readonly config: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Everything the server logged so far (the last 1–2 MB). */
  log(): string;
  /** Shuts the server down (SIGTERM, SIGKILL after 10 s) and removes a temporary directory. */
  stop(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for the process to exit; the directory stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port with the same directory (stopping it first if running). */
  restart(): Promise<void>;
}

/** Quotes one word for a redis.conf line (sdssplitargs's syntax). */
export function confWord(word: string): string {
  if (word !== '' && /^[\x21-\x7e]+$/.test(word) && !/["'\\]/.test(word)) return word;
  let out = '"';
  for (const ch of Buffer.from(word, 'utf8').toString('latin1')) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c > 0x7e) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

function directiveLine(name: string, value: DirectiveValue): string {
  const words = Array.isArray(value) ? value.map(String) : [typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value)];
  return [name, ...words.map(confWord)].join(' ');
}

/** The redis.conf text for a server: the caller's directives, then what the API decides. */
export function configText(directives: Directives, fixed: Directives): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(directives)) {
    if (!(name.toLowerCase() in fixed)) lines.push(directiveLine(name, value));
  }
  for (const [name, value] of Object.entries(fixed)) lines.push(directiveLine(name, value));
  return lines.join('\n') + '\n';
}

/**
 * Redis's defaults that a throwaway test server does not want (a caller's value wins): no
 * snapshots on a timer, and a master that syncs a new replica at once instead of waiting 5 s
 * for others to join the same diskless transfer.
 */
const TEST_DEFAULTS: Directives = {
  save: '',
  daemonize: 'no',
  'repl-diskless-sync-delay': 0,
  // Windows has no SIGSTOP: pause() asks the node to block itself (DEBUG SLEEP) instead.
  ...(process.platform === 'win32' ? { 'enable-debug-command': 'local' } : {}),
};

/** What differs between a data node and a sentinel started by the API. */
export interface NodeKind {
  /** The config file's name in the node's directory. */
  confName: string;
  /** The config file's text for a port (0: the kernel picks). */
  confText(port: number, host: string, dir: string): string;
  /** Arguments after the config file. */
  extraArgs: string[];
  /** Size the V8 heap from maxmemory (data nodes). */
  sizeHeap: boolean;
  /** The node rewrites its config file with its real port itself (a sentinel does). */
  writesOwnConfig: boolean;
}

/** A data node: the caller's directives, then port, bind and dir. */
export function dataNode(directives: Directives | undefined): NodeKind {
  const all = { ...TEST_DEFAULTS, ...directives };
  return {
    confName: 'nodis.conf',
    confText: (port, host, dir) => configText(all, { port, bind: host, dir }),
    extraArgs: [],
    sizeHeap: true,
    writesOwnConfig: false,
  };
}

export class ServerProcess implements NodisServer {
  readonly host: string;
  port = 0;
  readonly dir: string;
  private readonly tempDir: string | null;
  private proc: LinkedProcess | null = null;
  private previousLogs = '';

  constructor(
    private readonly opts: ServerOptions,
    private readonly kind: NodeKind,
    dir: string,
    tempDir: string | null,
  ) {
    this.host = opts.host ?? '127.0.0.1';
    this.dir = dir;
    this.tempDir = tempDir;
  }

  get url(): string {
    return `redis://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  get running(): boolean {
    return this.proc?.running === true;
  }

  get configFile(): string {
    return path.join(this.dir, this.kind.confName);
  }

  get config(): string {
    return fs.existsSync(this.configFile) ? fs.readFileSync(this.configFile, 'utf8') : '';
  }

  log(): string {
    return this.previousLogs + (this.proc?.log() ?? '');
  }

  /**
   * Starts the process. The first start writes the config file (port 0 until the kernel has
   * chosen one, then the chosen port); a restart keeps the file as the node left it (CONFIG
   * REWRITE, a sentinel's saved state).
   */
  async start(first: boolean): Promise<void> {
    const pick = this.port === 0;
    if (first) fs.writeFileSync(this.configFile, this.kind.confText(this.port, this.host, this.dir));
    const { proc, port } = await LinkedProcess.start({
      args: [this.configFile, ...this.kind.extraArgs],
      sizeHeap: this.kind.sizeHeap,
      pickPort: pick,
      tempDir: this.tempDir,
      env: this.opts.env,
      startTimeoutMs: this.opts.startTimeoutMs ?? 20000,
      onLog: this.opts.onLog,
    });
    this.proc = proc;
    if (pick) {
      this.port = port;
      // The file says where the node is, for restart() and for readers of `config` (a
      // sentinel has already written it itself).
      if (!this.kind.writesOwnConfig) fs.writeFileSync(this.configFile, this.kind.confText(port, this.host, this.dir));
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.proc?.terminate(signal);
  }

  async restart(): Promise<void> {
    if (this.proc !== null) {
      await this.proc.terminate('SIGTERM');
      this.previousLogs += this.proc.log();
    }
    this.proc = null;
    await this.start(false);
  }

  async stop(): Promise<void> {
    await this.proc?.terminate('SIGTERM');
    if (this.tempDir !== null) removeTempDir(this.tempDir);
  }
}

/** Starts a nodis-server and resolves once it accepts connections. */
export function startServer(opts: ServerOptions = {}): Promise<NodisServer> {
  return startNode(opts, dataNode(opts.config));
}

/** Starts a node of either kind in `opts.dir` or a temporary directory. */
export async function startNode(opts: ServerOptions, kind: NodeKind): Promise<ServerProcess> {
  let dir: string;
  let tempDir: string | null = null;
  if (opts.dir !== undefined) {
    dir = path.resolve(opts.dir);
    fs.mkdirSync(dir, { recursive: true });
  } else {
    dir = tempDir = makeTempDir('nodis-', os.tmpdir());
  }
  const server = new ServerProcess(opts, kind, dir, tempDir);
  server.port = opts.port ?? 0;
  try {
    await server.start(true);
  } catch (e) {
    if (tempDir !== null) removeTempDir(tempDir);
    throw e;
  }
  return server;
}
