/**
 * nodis-server's entry point: `nodis-server [configfile] [--name value ...] [-]`, exactly as
 * redis-server is started. Loads the configuration, starts the server and prints Redis's
 * start-up lines (the test suite and operators wait for ` PID: <pid>` and `Ready to accept`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ConfigRegistry, ConfigError } from '../config/registry.js';
import { DIRECTIVES } from '../config/directives.js';
import { parseCommandLine, parseConfigText, ConfigFileError, type Directive } from '../config/parse.js';
import { Logger } from './log.js';
import { Server } from './server.js';
import { SystemClock } from '../core/clock.js';
import { CommandTable } from '../commands/registry.js';
import { allCommandHandlers } from '../commands/index.js';
import { installModules } from './modules.js';
import { REDIS_VERSION, NODIS_VERSION } from './version.js';

function fatalConfigError(line: number, text: string, reason: string): never {
  process.stderr.write(`\n*** FATAL CONFIG FILE ERROR (Redis ${REDIS_VERSION}) ***\n`);
  process.stderr.write(`Reading the configuration file, at line ${line}\n`);
  process.stderr.write(`>>> '${text.trim()}'\n`);
  process.stderr.write(`${reason}\n`);
  process.exit(1);
}

/** Loads config text from the file, stdin and options; exits like Redis on errors. */
export function loadConfig(config: ConfigRegistry, configFile: string | null, fromStdin: boolean, optionsText: string): void {
  let text = '';
  if (configFile !== null) {
    try {
      text = fs.readFileSync(configFile, 'latin1');
    } catch (e) {
      process.stderr.write(`Fatal error, can't open config file '${configFile}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'No such file or directory' : (e as Error).message}\n`);
      process.exit(1);
    }
  }
  if (fromStdin) text += '\n' + fs.readFileSync(0, 'latin1');
  text += '\n' + optionsText;
  let directives: Directive[];
  try {
    directives = parseConfigText(text);
  } catch (e) {
    if (e instanceof ConfigFileError) fatalConfigError(e.line, e.text, e.reason);
    throw e;
  }
  for (const d of directives) {
    try {
      config.set(d.name, d.args, 'file');
    } catch (e) {
      if (e instanceof ConfigError) {
        const reason = e.message === 'Bad directive or wrong number of arguments' ? e.message : `${e.message}`;
        fatalConfigError(d.line, d.text, reason);
      }
      throw e;
    }
  }
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
  const cl = parseCommandLine(process.argv.slice(2));
  if (cl.version) {
    process.stdout.write(`Redis server v=${REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 build=nodis-${NODIS_VERSION}\n`);
    return;
  }
  if (cl.help) {
    process.stderr.write('Usage: nodis-server [/path/to/redis.conf] [options] [-]\n       nodis-server - (read config from stdin)\n       nodis-server -v or --version\n       nodis-server -h or --help\n');
    process.exit(1);
  }
  if (cl.sentinel || path.basename(process.argv[1] ?? '').includes('sentinel')) {
    const { sentinelMain } = await import('../sentinel/main.js');
    await sentinelMain(cl);
    return;
  }
  const config = new ConfigRegistry(DIRECTIVES);
  loadConfig(config, cl.configFile, cl.fromStdin, cl.optionsText);

  if (config.getBool('daemonize') && process.env.NODIS_DAEMONIZED !== '1') {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, NODIS_DAEMONIZED: '1' },
    });
    child.unref();
    return;
  }

  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.level = config.getString('loglevel') as Logger['level'];
  logger.setFile(config.getString('logfile'));
  logger.role = 'C';
  logger.warning('oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo');
  logger.warning(`Redis version=${REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid=${process.pid}, just started`);
  logger.warning(cl.configFile === null ? 'Warning: no config file specified, using the default config. In order to specify a config file use nodis-server /path/to/redis.conf' : 'Configuration loaded');
  logger.role = 'M';

  const commands = new CommandTable(allCommandHandlers());
  const server = new Server({ clock, config, commands, logger });
  server.configFile = cl.configFile === null ? '' : path.resolve(cl.configFile);
  server.executable = path.resolve(process.argv[1] ?? 'nodis-server');
  installModules(server);

  const inert = config.inertDirectives();
  if (inert.length > 0) {
    logger.warning(`The following directives are accepted but have no effect in this version of nodis yet: ${inert.join(', ')}`);
  }

  const port = config.getNumber('port');
  const showLogo = config.getBool('always-show-logo') || (config.getString('logfile') === '' && process.stdout.isTTY);
  if (showLogo) logger.raw(logo(port, process.pid, 'standalone'));
  else logger.notice(`Running mode=standalone, port=${port}.`);

  try {
    await server.listen();
  } catch {
    process.exit(1);
  }
  const pidfile = config.getString('pidfile');
  if (pidfile !== '') {
    try {
      fs.writeFileSync(pidfile, `${process.pid}\n`);
    } catch (e) {
      logger.warning(`Failed to write PID file: ${(e as Error).message}`);
    }
  }
  logger.warning('Server initialized');
  await server.startup();
  logger.notice('Ready to accept connections');

  const onSignal = (sig: string): void => {
    logger.warning(`Received ${sig} scheduling shutdown...`);
    void server.shutdown({ save: null, now: false, force: false, signal: true }).then((ok) => {
      if (ok) process.exit(0);
    });
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`nodis-server: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
