/**
 * nodis-sentinel's entry point (`nodis-sentinel sentinel.conf`, `nodis-server sentinel.conf
 * --sentinel`). Wires the Sentinel state machine (sentinel.ts) to the real world: the system
 * clock, a TCP transport, the sentinel's own RESP server (server.ts), the log, the config
 * file, which is rewritten and fsynced after every state change as Redis does, and user scripts
 * run as child processes (script-runner.ts).
 *
 * Top-level directives understood in sentinel.conf: port (default 26379), bind, dir, logfile,
 * loglevel, pidfile, requirepass, daemonize/protected-mode/supervised (accepted), and every
 * `sentinel …` directive of Redis 7.0 (config.ts). Command-line `--name value` options apply
 * after the file, as for nodis-server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CommandLine } from '../config/parse.js';
import { splitArgs } from '../protocol/parser.js';
import { Random, SystemClock } from '../core/clock.js';
import { Logger } from '../server/log.js';
import { loadSentinelLines, rewriteSentinelConfig, writeFileDurably } from './config.js';
import { childProcessScriptRunner } from './script-runner.js';
import { Sentinel } from './sentinel.js';
import { SentinelServer } from './server.js';
import { TcpTransport } from './tcp-transport.js';
import { openApiLink } from '../server/api-link.js';
import { type TlsContexts, type TlsSettings, TlsConfigError, acceptTls, configureTls, dialTls, tlsSettingsFrom, tlsWanted } from '../core/tls.js';

interface TopLevel {
  port: number;
  /** The tls-* directives as written (tls-port among them). */
  tls: Map<string, string>;
  bind: string[];
  logfile: string;
  loglevel: 'debug' | 'verbose' | 'notice' | 'warning';
  pidfile: string;
  requirepass: string | null;
}

function parseTopLevel(text: string): TopLevel {
  const t: TopLevel = { port: 26379, tls: new Map(), bind: ['0.0.0.0'], logfile: '', loglevel: 'notice', pidfile: '', requirepass: null };
  for (const raw of text.split('\n')) {
    const words = splitArgs(raw.trim());
    if (words === null || words.length === 0 || words[0]!.startsWith('#')) continue;
    const name = words[0]!.toLowerCase();
    const v = words[1] ?? '';
    if (name === 'port') t.port = Number(v);
    else if (name === 'bind') t.bind = words.slice(1).map((b) => b.replace(/^-/, '')).filter((b) => b !== '::' && b !== '::1' && b !== '*');
    else if (name === 'dir') process.chdir(v);
    else if (name === 'logfile') t.logfile = v;
    else if (name === 'loglevel' && ['debug', 'verbose', 'notice', 'warning'].includes(v)) t.loglevel = v as TopLevel['loglevel'];
    else if (name === 'pidfile') t.pidfile = v;
    else if (name === 'requirepass') t.requirepass = v === '' ? null : v;
    else if (name.startsWith('tls-')) t.tls.set(name, v);
  }
  if (t.bind.length === 0) t.bind = ['0.0.0.0'];
  return t;
}

/** The sentinel's TLS settings (redis-sentinel reads the same tls-* directives as redis-server). */
function sentinelTls(top: TopLevel): { port: number; settings: TlsSettings } {
  const str = (n: string): string => top.tls.get(n) ?? '';
  // redis-server's defaults for the directives a sentinel.conf leaves out.
  const bool = (n: string): boolean => (top.tls.has(n) ? str(n).toLowerCase() === 'yes' : n === 'tls-session-caching');
  const num = (n: string): number => Number(str(n) || (n === 'tls-session-cache-timeout' ? 300 : 0));
  return { port: num('tls-port'), settings: tlsSettingsFrom({ str, bool, num }) };
}

export async function sentinelMain(cl: CommandLine): Promise<void> {
  if (cl.configFile === null) {
    process.stderr.write('Sentinel needs config file on disk to save state. Exiting...\n');
    process.exit(1);
  }
  const configFile = path.resolve(cl.configFile);
  let fileText: string;
  try {
    fileText = fs.readFileSync(configFile, 'latin1');
    fs.accessSync(configFile, fs.constants.W_OK);
  } catch {
    process.stderr.write(`Sentinel config file ${configFile} is not writable: ${'Permission denied'}. Exiting...\n`);
    process.exit(1);
  }
  const allText = fileText + (cl.optionsText !== '' ? '\n' + cl.optionsText : '');
  const top = parseTopLevel(allText);
  const link = openApiLink();
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.role = 'X';
  logger.level = top.loglevel;
  if (top.logfile !== '') logger.setFile(top.logfile);

  const tlsConf = sentinelTls(top);
  let tlsContexts: TlsContexts | null = null;
  if (tlsWanted(tlsConf.port, tlsConf.settings)) {
    try {
      tlsContexts = configureTls(tlsConf.settings);
    } catch (e) {
      if (!(e instanceof TlsConfigError)) throw e;
      logger.warning(e.message);
      logger.warning('Failed to configure TLS. Check logs for more info.');
      process.exit(1);
    }
  }
  const clientTls = tlsContexts !== null && tlsConf.settings.replication ? tlsContexts.client : null;

  let server: SentinelServer | null = null;
  const random = new Random();
  /**
   * sentinelFlushConfig(): rewrites the file durably and says so; a failure is logged, then
   * thrown. `quiet` for the writes redis-sentinel does not make (startup with an ID already
   * saved, shutdown), which nodis makes to keep the file current.
   */
  const flushConfig = (quiet = false): void => {
    try {
      const current = fs.existsSync(configFile) ? fs.readFileSync(configFile, 'latin1') : fileText;
      writeFileDurably(configFile, rewriteSentinelConfig(current, sentinel, [`port ${top.port}`]));
    } catch (e) {
      logger.warning(`WARNING: Sentinel was not able to save the new configuration on disk!!!: ${(e as Error).message}`);
      throw e;
    }
    if (!quiet) logger.notice('Sentinel new configuration saved on disk');
  };
  const sentinel: Sentinel = new Sentinel({
    clock,
    random,
    transport: new TcpTransport(1000, clientTls === null ? null : (addr) => dialTls(clientTls, addr)),
    // The hello message announces the TLS port when the links are TLS (sentinelSendHello).
    port: tlsConf.settings.replication && tlsConf.port !== 0 ? tlsConf.port : top.port,
    scripts: childProcessScriptRunner,
    hooks: {
      event: (level, type, message) => {
        logger.log(level, `${type} ${message}`);
        if (level !== 'debug') server?.publish(type, message);
      },
      flushConfig: () => {
        try {
          flushConfig();
        } catch {
          // Logged; the state is flushed again at the next change.
        }
      },
      log: (level, line) => logger.log(level, line),
    },
  });
  try {
    loadSentinelLines(sentinel, allText);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
  const hadId = /^\s*sentinel\s+myid\s/im.test(fileText);
  server = new SentinelServer({
    sentinel,
    port: top.port,
    bind: top.bind,
    requirepass: top.requirepass,
    ...(tlsContexts !== null ? { tls: { port: tlsConf.port, accept: (raw, onReady) => acceptTls(raw, tlsContexts.server, tlsConf.settings.authClients, onReady, (reason) => logger.warning(`Error accepting a client connection: ${reason}`)) } } : {}),
    flushConfig,
    startTime: Date.now(),
    runId: random.hex(40),
    configFile,
    shutdown: () => {
      logger.warning('User requested shutdown...');
      try {
        flushConfig(true);
      } catch {
        // Shutting down anyway.
      }
      sentinel.stop();
      server?.close();
      process.exit(0);
    },
  });
  try {
    await server.listen(link?.pickPort === true);
  } catch (e) {
    logger.warning(`Failed listening on port ${top.port} (tcp), aborting: ${(e as Error).message}`);
    process.exit(1);
  }
  // A kernel-chosen port (API link) is the one hellos announce, unless they announce the TLS port.
  if (sentinel.port === top.port) sentinel.port = server.port;
  top.port = server.port;
  if (top.pidfile !== '') fs.writeFileSync(top.pidfile, `${process.pid}\n`);
  sentinel.onSimulatedCrash = () => process.exit(99);
  logger.notice(`Running mode=sentinel, port=${top.port || tlsConf.port}.`);
  flushConfig(hadId);
  logger.notice(`Sentinel ID is ${sentinel.myid}`);
  sentinel.start();
  const stop = (): void => server!.close() ?? undefined;
  process.on('SIGTERM', () => {
    logger.warning('Received SIGTERM scheduling shutdown...');
    try {
      flushConfig(true);
    } catch {
      // Exiting anyway.
    }
    sentinel.stop();
    stop();
    process.exit(0);
  });
  process.on('SIGINT', () => {
    sentinel.stop();
    stop();
    process.exit(0);
  });
  link?.ready(top.port);
  // The system clock's timers are unref'd; keep the process alive on the listening sockets.
}
