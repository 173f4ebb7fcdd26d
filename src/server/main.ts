/**
 * nodis-server's entry point: `nodis-server [configfile] [--name value ...] [-]`, exactly as
 * redis-server is started. Loads the configuration (config/load.ts), daemonizes, writes the
 * pidfile, starts the server and prints Redis's start-up lines (the test suite and operators
 * wait for ` PID: <pid>` and `Ready to accept connections`), and shuts down on SIGTERM/SIGINT.
 *
 * Node cannot fork(), so `daemonize yes` re-starts this same program detached from the
 * terminal (with the same arguments, working directory and stdin config) and the parent exits;
 * the pidfile therefore holds the daemon's own PID.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createRequire } from 'node:module';
import { ConfigRegistry } from '../config/registry.js';
import { DIRECTIVES } from '../config/directives.js';
import { parseCommandLine } from '../config/parse.js';
import { loadServerConfig, FatalConfigError, ConfigFileOpenError, formatFatalConfigError, queuedConfigUsers, type LoaderHooks } from '../config/load.js';
import { Logger, type LogLevel } from './log.js';
import { Server, clientIdCounter } from './server.js';
import { SystemClock } from '../core/clock.js';
import { CommandTable } from './command-table.js';
import { allCommandHandlers } from '../commands/index.js';
import { TLS_CONTEXT_DIRECTIVES } from './tls.js';
import { installModules } from './modules.js';
import { installCrashHandlers } from './crash.js';
import { startEvictionTimeProc } from './evict.js';
import { REDIS_VERSION, NODIS_VERSION, versionLine } from './version.js';
import { openApiLink } from './api-link.js';
import { capYoungGeneration, semiSpaceMb } from './heap.js';
import { startCluster } from '../cluster/install.js';
import { serverReady, firstCommandWanted, firstCommandServed } from './ready-hooks.js';
import { debugHooks } from './debug-hooks.js';
import { buildSnapshotLater } from './startup-snapshot.js';

/** This bundle (dist/pkg/server/main.js, CommonJS) and start.js beside it. */
const BUNDLE = fileURLToPath(import.meta.url);
const START = path.join(path.dirname(BUNDLE), 'start.js');
/** Started from the V8 start-up snapshot (startup-snapshot.ts) rather than from the bundle. */
let fromSnapshot = false;
/**
 * The command table and the configuration registry holding its defaults, made while the
 * start-up snapshot is built (at the end of this file), so that a start from it skips that
 * work (~5 ms: parsing Redis's command JSON, ~400 specs; docs/PERFORMANCE.md "Start-up").
 * Each process starts from its own copy of the snapshot's heap and takes them once; nothing in
 * them is per-process (counters start at zero, `dir` reads process.cwd() when asked).
 */
let prebuilt: { config: ConfigRegistry; commands: CommandTable } | null = null;
import { installOomScore } from './oom-score.js';

function usage(): never {
  const lines = [
    'Usage: ./nodis-server [/path/to/redis.conf] [options] [-]',
    '       ./nodis-server - (read config from stdin)',
    '       ./nodis-server -v or --version',
    '       ./nodis-server -h or --help',
    '',
    'Examples:',
    '       ./nodis-server (run the server with default conf)',
    "       echo 'maxmemory 128mb' | ./nodis-server -",
    '       ./nodis-server /etc/redis/6379.conf',
    '       ./nodis-server --port 7777',
    '       ./nodis-server --port 7777 --replicaof 127.0.0.1 8888',
    '       ./nodis-server /etc/myredis.conf --loglevel verbose -',
    '       ./nodis-server /etc/myredis.conf --loglevel verbose',
    '',
    'Sentinel mode:',
    '       ./nodis-server /etc/sentinel.conf --sentinel',
  ];
  process.stderr.write(lines.join('\n') + '\n');
  process.exit(1);
}

function logo(port: number, pid: number, mode: string): string {
  return [
    '                _._                                                  ',
    `           _.-\`\`__ ''-._                                             `,
    `      _.-\`\`    \`.  \`_.  ''-._           nodis ${NODIS_VERSION} (Redis ${REDIS_VERSION} compatible) 64 bit`,
    `  .-\`\` .-\`\`\`.  \`\`\`\\/    _.,_ ''-._                                  `,
    ` (    '      ,       .-\`  | \`,    )     Running in ${mode} mode`,
    ` |\`-._\`-...-\` __...-.\`\`-._|'\` _.-'|     Port: ${port}`,
    ` |    \`-._   \`._    /     _.-'    |     PID: ${pid}`,
    `  \`-._    \`-._  \`-./  _.-'    _.-'                                   `,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  // Arguments are bytes to Redis: keep non-ASCII as their UTF-8 bytes (one latin1 char each).
  const argv = process.argv.slice(2).map((a) => Buffer.from(a, 'utf8').toString('latin1'));
  const cl = parseCommandLine(argv);
  if (cl.version) {
    const build = crypto.createHash('sha1').update(`nodis-${NODIS_VERSION}`).digest('hex').slice(0, 16);
    process.stdout.write(`${versionLine('nodis-server')} sha=00000000:0 malloc=libc bits=64 build=${build}\n`);
    return;
  }
  if (cl.help) usage();
  const link = openApiLink();
  if (cl.sentinel || path.basename(process.argv[1] ?? '').includes('sentinel')) {
    const { sentinelMain } = await import('../sentinel/main.js');
    await sentinelMain(cl);
    afterReady();
    return;
  }

  const startDir = process.cwd();
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.role = 'C';
  const config = prebuilt?.config ?? new ConfigRegistry(DIRECTIVES);
  const commands = prebuilt?.commands ?? new CommandTable(allCommandHandlers());
  prebuilt = null;
  const modulesToLoad: string[] = [];
  let moduleConfigs = 0;
  const hooks: LoaderHooks = {
    renameCommand: (name, newName) => {
      const spec = commands.commands.get(name.toLowerCase());
      if (spec === undefined) return 'No such command in rename-command';
      commands.commands.delete(name.toLowerCase());
      if (newName !== '') {
        if (commands.commands.has(newName.toLowerCase())) return 'Target command name already exists';
        commands.commands.set(newName.toLowerCase(), spec);
      }
      return null;
    },
    user: (words) => {
      if (queuedConfigUsers.some((u) => u[0] === words[1])) return 'Duplicate user found. A user can only be defined once in config files';
      queuedConfigUsers.push(words.slice(1));
      return null;
    },
    loadmodule: (p) => modulesToLoad.push(p),
    moduleConfig: () => moduleConfigs++,
  };

  let stdinText: string | null = null;
  try {
    if (cl.fromStdin) {
      logger.warning('Reading config from stdin');
      stdinText = fs.readFileSync(0, 'latin1');
    }
    loadServerConfig(config, cl.configFile, stdinText, cl.optionsText, { hooks });
  } catch (e) {
    if (e instanceof FatalConfigError) {
      process.stderr.write(formatFatalConfigError(e, REDIS_VERSION));
      process.exit(1);
    }
    if (e instanceof ConfigFileOpenError) {
      logger.warning(e.message);
      process.exit(1);
    }
    throw e;
  }
  // Before any data arrives (the reserve is RSS without data), sized from the configured
  // maxmemory, as the launcher sizes a child's (heap.ts).
  const maxmemory = config.getNumber('maxmemory');
  capYoungGeneration(semiSpaceMb(maxmemory > 0 ? Math.ceil(maxmemory / 1048576) : null));

  const daemonize = config.getBool('daemonize') && process.env.NODIS_DAEMONIZED !== '1';
  if (daemonize) {
    // The daemon runs from where we were started (`dir` is applied again when it loads).
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      cwd: startDir,
      detached: true,
      stdio: [stdinText === null ? 'ignore' : 'pipe', 'ignore', 'ignore'],
      env: { ...process.env, NODIS_DAEMONIZED: '1' },
    });
    if (stdinText !== null) child.stdin!.end(Buffer.from(stdinText, 'latin1'));
    child.unref();
    return;
  }
  const background = process.env.NODIS_DAEMONIZED === '1';

  logger.level = config.getString('loglevel') as LogLevel;
  logger.setFile(config.getString('logfile'));
  logger.warning('oO0OoO0OoO0Oo nodis is starting oO0OoO0OoO0Oo');
  logger.warning(`nodis version=${NODIS_VERSION} (Redis ${REDIS_VERSION} compatible), bits=64, commit=00000000, modified=0, pid=${process.pid}, just started`);
  if (argv.length === 0) {
    logger.warning('Warning: no config file specified, using the default config. In order to specify a config file use nodis-server /path/to/redis.conf');
  } else {
    logger.warning('Configuration loaded');
  }
  logger.role = 'M';

  const server = new Server({ clock, config, commands, logger });
  server.configFile = cl.configFile === null ? '' : path.resolve(startDir, cl.configFile);
  server.executable = path.resolve(startDir, process.argv[1] ?? 'nodis-server');
  installModules(server);
  installConfigAppliers(server);
  installCrashHandlers(server);
  server.pickFreePort = link?.pickPort === true;

  // clusterInit runs before the server accepts clients (initServer); a kernel-chosen port is
  // only known once listening.
  const clusterMode = config.getBool('cluster-enabled');
  if (clusterMode && !server.pickFreePort) await startCluster(server);
  try {
    await server.listen();
  } catch {
    process.exit(1);
  }
  if (clusterMode && server.cluster === null) await startCluster(server, true);
  let pidfile = config.getString('pidfile');
  if (pidfile === '' && background) pidfile = '/var/run/redis.pid';
  if (pidfile !== '') {
    try {
      fs.writeFileSync(pidfile, `${process.pid}\n`);
    } catch (e) {
      logger.warning(`Failed to write PID file: ${(e as Error).message}`);
    }
  }

  const port = config.getNumber('port') || config.getNumber('tls-port');
  const showLogo = config.getBool('always-show-logo') || (config.getString('logfile') === '' && process.stdout.isTTY);
  if (showLogo) logger.raw(logo(port, process.pid, clusterMode ? 'cluster' : 'standalone'));
  else logger.notice(`Running mode=${clusterMode ? 'cluster' : 'standalone'}, port=${port}.`);

  logger.warning('Server initialized');
  const inert = config.inertDirectives();
  if (inert.length > 0) logger.warning(`Directives accepted but without effect in nodis yet: ${inert.join(', ')}`);
  if (modulesToLoad.length > 0) {
    logger.warning(`Module ${modulesToLoad[0]} failed to load: nodis cannot load Redis modules`);
    logger.warning(`Can't load module from ${modulesToLoad[0]}: server aborting`);
    process.exit(1);
  }
  if (moduleConfigs > 0) {
    logger.warning('Module Configuration detected without loadmodule directive or no ApplyConfig call: aborting');
    process.exit(1);
  }
  // Before the start-up load, so that SIGTERM during a long load shuts down as Redis does.
  installSignalHandlers(server);
  await server.startup();
  logger.notice('Ready to accept connections');
  link?.ready(server.boundPort);
  afterReady();
  if (firstCommandWanted()) watchFirstCommand(server);
}

/** firstCommandServed() after the server's first client command (one afterCommand hook, removed then). */
function watchFirstCommand(server: Server): void {
  let seen = false;
  const hook = (): void => {
    if (seen) return;
    seen = true;
    // Not removed while the server iterates its hooks; the next turn, before anything else.
    setImmediate(() => {
      const list = server.hooks.afterCommand;
      const i = list.indexOf(hook);
      if (i >= 0) list.splice(i, 1);
      firstCommandServed();
    });
  };
  server.hooks.afterCommand.push(hook);
}

/** Once the server (or sentinel) accepts connections: the start-up caches for the next start. */
function afterReady(): void {
  serverReady();
  // Started through start.js as the CommonJS bundle (what startServer() runs): make the
  // start-up snapshot the next such start will use, if there is none yet.
  if (!fromSnapshot && typeof require === 'function' && path.basename(process.argv[1] ?? '') === 'start.js') buildSnapshotLater(BUNDLE);
}

/** The CONFIG SET "apply" steps that need the live server (config.c's apply functions). */
function installConfigAppliers(server: Server): void {
  const config = server.config;
  installOomScore(server);
  const rebind = async (): Promise<string | null> =>
    (await server.rebindTcp()) ? null : 'Unable to listen on this port. Check server logs.';
  config.onApply('port', rebind);
  config.onApply('bind', async () => ((await server.rebindTcp()) && (await server.rebindTcp(true)) ? null : 'Failed to bind to specified addresses.'));
  // applyTLSPort / applyTlsCfg: TLS contexts are built when first needed and rebuilt on change.
  config.onApply('tls-port', async () => {
    if (!server.tls.configured && !server.tls.configure()) return 'Unable to update TLS configuration. Check server logs.';
    return (await server.rebindTcp(true)) ? null : 'Unable to listen on this port. Check server logs.';
  });
  const applyTls = (): string | null => (server.tls.applyConfig() ? null : 'Unable to update TLS configuration. Check server logs.');
  for (const name of TLS_CONTEXT_DIRECTIVES) config.onApply(name, applyTls);
  config.onApply('maxmemory', () => {
    const max = config.getNumber('maxmemory');
    server.invalidateUsedMemory();
    const used = server.usedMemory();
    if (max > 0 && max < used) {
      server.log.warning(
        `WARNING: the new maxmemory value set via CONFIG SET (${max}) is smaller than the current memory usage (${used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.`,
      );
    }
    // Evict in the background right away, as updateMaxmemory() does.
    startEvictionTimeProc(server);
    return null;
  });
}

/**
 * SIGTERM/SIGINT: shut down like Redis (shutdown-on-sigterm / shutdown-on-sigint flags). The
 * signal only schedules the shutdown (shutdown_asap); serverCron starts it, so DEBUG
 * PAUSE-CRON holds it and SHUTDOWN ABORT can still cancel it. A second SIGINT while one is
 * scheduled or running exits at once, removing the temp file of a save in progress.
 */
function installSignalHandlers(server: Server): void {
  let shuttingDown = false;
  const onSignal = (sig: 'SIGTERM' | 'SIGINT'): void => {
    const log = server.log;
    if ((shuttingDown || server.shutdownAsap !== null) && sig === 'SIGINT') {
      log.warning('You insist... exiting now.');
      removeTempRdb();
      process.exit(1);
    }
    // Redis logs this line from its signal handler, in that handler's own format.
    const what = server.loading ? 'Received shutdown signal during loading, scheduling shutdown.' : `Received ${sig} scheduling shutdown...`;
    log.raw(`${process.pid}:signal-handler (${Math.floor(Date.now() / 1000)}) ${what}\n`);
    server.shutdownAsap = sig;
    // serverCron does not run while loading: whileBlockedCron shuts down at once, saving nothing.
    if (server.loading) start(sig, true);
  };
  const start = (sig: 'SIGTERM' | 'SIGINT', loading: boolean): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    const flags = server.config.getString(sig === 'SIGTERM' ? 'shutdown-on-sigterm' : 'shutdown-on-sigint').split(' ');
    const save = loading ? false : flags.includes('save') ? true : flags.includes('nosave') ? false : null;
    void server
      .shutdown({ save, now: loading || flags.includes('now'), force: flags.includes('force') })
      .then((ok) => {
        if (ok) process.exit(0);
        shuttingDown = false;
        server.shutdownAsap = null;
        if (loading) server.log.warning('SIGTERM received but errors trying to shut down the server, check the logs for more information');
      });
  };
  server.hooks.cron.push(() => {
    if (server.shutdownAsap !== null) start(server.shutdownAsap, false);
  });
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

/** rdbRemoveTempFile(getpid()): the foreground save's temp file, on an immediate exit. */
function removeTempRdb(): void {
  try {
    fs.unlinkSync(path.resolve(`temp-${process.pid}.rdb`));
  } catch {
    // no save in progress
  }
}

/**
 * While the start-up snapshot is built: the start path, run once on throwaway objects — the
 * arguments and configuration parsed, a Server made with its subsystems, listening on a
 * kernel-chosen port, one PING served over TCP, all closed again. V8 compiles a function on its
 * first call and the snapshot keeps the bytecode compiled while it was built, so a start from
 * it runs that path compiled instead of compiling each function on the way to its first PONG
 * (main() 14.6 → 6.2 ms of CPU at load 32, docs/PERFORMANCE.md "Start-up"). Nothing of it is
 * kept: the objects are garbage when the snapshot is taken, the client id it used is given back,
 * and the prebuilt table and configuration above are not touched. A failure (no loopback, say)
 * only leaves that code to be compiled at start, as before.
 */
async function warmUp(): Promise<void> {
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.level = 'nothing';
  const config = new ConfigRegistry(DIRECTIVES);
  loadServerConfig(config, null, null, parseCommandLine(['--port', '0', '--save', '']).optionsText);
  // What installing a server sets outside it (the last installed server's hooks): put back
  // afterwards, so the snapshot keeps nothing of this one.
  const ids = clientIdCounter();
  const hooks = { ...debugHooks };
  const getters = DIRECTIVES.map((d) => d.get);
  let server: Server | null = null;
  try {
    server = new Server({ clock, config, commands: new CommandTable(allCommandHandlers()), logger });
    installModules(server);
    installConfigAppliers(server);
    server.pickFreePort = true;
    await server.listen();
    const port = server.boundPort;
    await new Promise<void>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      const done = (): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      const timer = setTimeout(done, 10_000);
      socket.once('data', done).once('error', done).once('close', done);
      socket.write('PING\r\n');
    });
  } catch {
    // Not warmed: a start compiles this path as it goes.
  } finally {
    server?.stopCron();
    await server?.closeListeners();
    clientIdCounter(ids);
    Object.assign(debugHooks, hooks);
    DIRECTIVES.forEach((d, i) => (d.get = getters[i]));
  }
  // Node's timers keep the earliest expiry they scheduled (a module variable, in loop time)
  // and schedule a new timer only when it is due earlier. The cron interval cleared above
  // left that at "this build's loop time + 100 ms": frozen into the snapshot, a server whose
  // first timer falls later (any start slower than this build) would never run a timer at
  // all — no serverCron, so no shutdown on SIGTERM. A timer that fires here empties Node's
  // timer queue, which resets it.
  await new Promise((resolve) => setTimeout(resolve, 1));
}

function run(): void {
  main().catch((e: unknown) => {
    process.stderr.write(`nodis-server: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}

if (v8.startupSnapshot.isBuildingSnapshot()) {
  // `node --build-snapshot main.js` (startup-snapshot.ts): everything above is loaded and
  // initialised into the snapshot; main() runs in each process started from it.
  // Node's own start-up work for listening, done once here so that the snapshot holds it:
  // net.listen() loads node:cluster (with child_process and dgram); warmUp() listens too.
  createRequire(BUNDLE)('node:cluster');
  prebuilt = { config: new ConfigRegistry(DIRECTIVES), commands: new CommandTable(allCommandHandlers()) };
  // Node takes the snapshot once the event loop is empty: after the warm-up has closed all.
  void warmUp().catch(() => {});
  v8.startupSnapshot.setDeserializeMainFunction(() => {
    fromSnapshot = true;
    // Started as `node [flags] --snapshot-blob <blob> -- [args]`: give main() the argv and
    // execArgv start.js would have had (daemonize re-runs `node [flags] start.js [args]`).
    process.argv.splice(1, 0, START);
    const i = process.execArgv.indexOf('--snapshot-blob');
    if (i >= 0) process.execArgv.splice(i, 2);
    run();
  });
} else {
  run();
}
