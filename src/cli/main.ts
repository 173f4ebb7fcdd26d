/**
 * nodis-cli entry point: a redis-cli work-alike (Redis 7.0.15's src/redis-cli.c main()).
 *
 * Order of business is redis-cli's: parse options, read REDISCLI_AUTH, ask for a password
 * (--askpass), run a special mode if one was chosen (--latency, --bigkeys, --stat, --scan …),
 * otherwise start the interactive loop when no command was given, or send the one command.
 * Output is raw when stdout is not a terminal, formatted otherwise (--raw / --no-raw override).
 *
 * Every exit goes through `ExitRequest` so it happens after the awaited work, with stdout and
 * stderr written synchronously (Linux pipes, files and ttys) before the process ends.
 */
import { err, ExitRequest, out, StdinReader } from './io.js';
import { bigKeysMode, evalMode, hotKeysMode, latencyMode, scanMode, statMode } from './modes.js';
import { intrinsicLatencyMode, latencyDistMode, lruTestMode } from './measure.js';
import { getRdbMode, pipeMode, replicaMode } from './transfer.js';
import { parseOptions, type CliConfig } from './options.js';
import { askPassword, repl } from './repl.js';
import { Session } from './session.js';
import { ClusterManager } from './cluster-manager.js';
import { splitArgs } from './split-args.js';

async function run(argv: string[]): Promise<number> {
  const parsed = parseOptions(argv, process.stdout.isTTY === true, process.env);
  if (!('host' in parsed)) {
    if (parsed.stdout) out(parsed.stdout);
    if (parsed.stderr) err(parsed.stderr);
    return parsed.exit;
  }
  const config: CliConfig = parsed;
  err(config.warnings);
  const envAuth = process.env.REDISCLI_AUTH;
  if (envAuth !== undefined && config.auth === null) config.auth = Buffer.from(envAuth, 'utf8').toString('latin1');
  const stdin = new StdinReader();
  if (config.askpass) config.auth = await askPassword('Please input password: ', stdin);
  if (config.clusterFlags.fromAskpass) config.clusterFlags.fromPass = await askPassword('Please input import source node password: ', stdin);

  const session = new Session(config);
  const connectOrExit = async (): Promise<void> => {
    if (!(await session.connect(false, false))) throw new ExitRequest(1);
  };
  switch (config.mode) {
    case 'cluster-manager':
      return new ClusterManager(config, { onlyMasters: config.clusterOnlyMasters, onlyReplicas: config.clusterOnlyReplicas }).run(config.clusterCommand!, config.clusterArgs);
    case 'latency':
    case 'latency-history':
      await connectOrExit();
      return latencyMode(session, config.mode === 'latency-history');
    case 'bigkeys':
    case 'memkeys':
      await connectOrExit();
      return bigKeysMode(session, config.mode === 'memkeys');
    case 'hotkeys':
      await connectOrExit();
      return hotKeysMode(session);
    case 'stat':
      await connectOrExit();
      return statMode(session);
    case 'scan':
      await connectOrExit();
      return scanMode(session);
    case 'latency-dist':
      await connectOrExit();
      return latencyDistMode(session);
    case 'replica':
      await connectOrExit();
      return replicaMode(session);
    case 'rdb':
    case 'functions-rdb':
      await connectOrExit();
      return getRdbMode(session, config.rdbFilename!, config.mode === 'functions-rdb');
    case 'pipe':
      await connectOrExit();
      return pipeMode(session);
    case 'lru-test':
      await connectOrExit();
      return lruTestMode(session);
    case 'intrinsic-latency':
      return intrinsicLatencyMode(config.intrinsicLatencyDuration);
    default:
      break;
  }

  if (config.args.length === 0 && config.evalFile === null) {
    // Interactive: a failed connect is reported, and retried on every command.
    await session.connect(false, false);
    return repl(session, stdin);
  }
  if (config.evalFile !== null) {
    await connectOrExit();
    return evalMode(session, config.args);
  }
  await session.connect(false, true);
  return noninteractive(session, stdin);
}

/** noninteractive(): one command from the command line (+ stdin for -x / -X). */
async function noninteractive(session: Session, stdin: StdinReader): Promise<number> {
  const config = session.config;
  let args: string[] = [];
  for (const a of config.args) {
    if (!config.quotedInput) {
      args.push(a);
      continue;
    }
    const parts = splitArgs(a);
    if (parts === null || parts.length !== 1) {
      out('Invalid quoted string\n');
      return 1;
    }
    args.push(parts[0]!);
  }
  if (config.stdinLastArg) {
    args = [...args, await stdin.rest()];
  } else if (config.stdinTag !== null) {
    const i = args.indexOf(config.stdinTag);
    if (i < 0) {
      err('Using -X option but stdin tag not match.\n');
      return 1;
    }
    args[i] = await stdin.rest();
  }
  return (await session.issueCommand(args)) ? 0 : 1;
}

// Command-line arguments are bytes: Node decoded them as UTF-8, so encode them back.
const argv = process.argv.slice(2).map((a) => Buffer.from(a, 'utf8').toString('latin1'));
process.stdout.on('error', () => process.exit(0));
run(argv).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof ExitRequest) process.exit(e.code);
    err(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
