/**
 * Command-line options, parsed the way redis-cli.c parseOptions() does: left to right, an
 * option that needs a value but is last is "unrecognized", the first non-option word starts the
 * command. Numbers go through C's atoi/strtoll/atof semantics (a bad number is 0, not an error)
 * because that is what redis-cli users get.
 *
 * Parsing never exits by itself: it returns either the config or an `OptionsExit` that says what
 * to print where and with which code, so main() owns the process and tests can call it directly.
 */
import { splitArgs } from './split-args.js';
import { CLI_VERSION, USAGE } from './usage.js';
import { NODIS_VERSION } from '../server/version.js';
import type { OutputMode } from './format.js';

/** redis-cli's cluster_manager_command options (--cluster-replicas, --cluster-from, …). */
export interface ClusterFlags {
  replicas: number;
  masterId: string | null;
  from: string | null;
  to: string | null;
  slots: number;
  timeout: number;
  pipeline: number;
  threshold: number;
  /** "name=weight" words after --cluster-weight. */
  weights: string[];
  yes: boolean;
  simulate: boolean;
  replace: boolean;
  slave: boolean;
  useEmptyMasters: boolean;
  /** check / fix: look for slots with several owners. */
  searchMultipleOwners: boolean;
  fixWithUnreachableMasters: boolean;
  /** import: the source node's credentials and MIGRATE's COPY. */
  fromUser: string | null;
  fromPass: string | null;
  fromAskpass: boolean;
  copy: boolean;
}

export interface CliConfig {
  host: string;
  port: number;
  socket: string | null;
  user: string | null;
  auth: string | null;
  askpass: boolean;
  /** -n / URI path: the db to SELECT after connecting. */
  dbnum: number;
  repeat: number;
  /** -i in microseconds, as redis-cli keeps it. */
  intervalUs: number;
  output: OutputMode;
  /** Whether RESP3 pushes are printed (--show-pushes; default: stdout is a tty). */
  pushOutput: boolean;
  multiBulkDelimiter: string;
  commandDelimiter: string;
  stdinLastArg: boolean;
  stdinTag: string | null;
  quotedInput: boolean;
  noAuthWarning: boolean;
  setErrcode: boolean;
  resp2: boolean;
  /** 0: RESP2; 1: -3; 2: implied by --json. */
  resp3: 0 | 1 | 2;
  verbose: boolean;
  cluster: boolean;
  mode:
    | 'command'
    | 'latency'
    | 'latency-history'
    | 'latency-dist'
    | 'stat'
    | 'scan'
    | 'bigkeys'
    | 'memkeys'
    | 'hotkeys'
    | 'eval'
    | 'pipe'
    | 'rdb'
    | 'functions-rdb'
    | 'replica'
    | 'lru-test'
    | 'intrinsic-latency'
    | 'cluster-manager';
  /** --cluster <command>: the cluster manager's command (cli/cluster-manager.ts). */
  clusterCommand: string | null;
  clusterArgs: string[];
  /** --cluster-only-masters / --cluster-only-replicas (call). */
  clusterOnlyMasters: boolean;
  clusterOnlyReplicas: boolean;
  /** The other --cluster-* options (create, add-node, reshard, rebalance). */
  clusterFlags: ClusterFlags;
  /** --rdb / --functions-rdb: where the snapshot goes ("-" for stdout). */
  rdbFilename: string | null;
  /** --mono: --latency-dist's grey palette. */
  mono: boolean;
  /** --intrinsic-latency: seconds to run. */
  intrinsicLatencyDuration: number;
  /** --lru-test: the key space size. */
  lruTestSampleSize: number;
  pattern: string | null;
  /** --count: SCAN COUNT hint (a Redis 7.2 option, accepted here as an extension). */
  scanCount: number | null;
  memkeysSamples: number;
  evalFile: string | null;
  pipeTimeout: number;
  /** The command and its arguments (latin1). */
  args: string[];
  /** Printed to stderr before anything else (the -a warning, a bad --show-pushes value). */
  warnings: string;
  /** --tls or a rediss:// URI. */
  tls: boolean;
  /** redis-cli's cliSSLconfig: --sni, --cacert, --cacertdir, --cert, --key, --insecure, --tls-ciphers(uites). */
  sslconfig: CliSslConfig;
}

export interface CliSslConfig {
  sni: string | null;
  cacert: string | null;
  cacertdir: string | null;
  cert: string | null;
  key: string | null;
  ciphers: string | null;
  ciphersuites: string | null;
  insecure: boolean;
}

export interface OptionsExit {
  exit: number;
  stdout?: string;
  stderr?: string;
}

/** C atoi(): leading blanks, optional sign, digits; anything else stops; no digits → 0. */
export function atoi(s: string): number {
  const m = /^[\t\n\v\f\r ]*([-+]?\d+)/.exec(s);
  if (!m) return 0;
  // An int: out-of-range values wrap as the C conversion does on this platform.
  return Number(BigInt.asIntN(32, BigInt(m[1]!)));
}

/** C strtoll(s, NULL, 10), saturating. */
export function strtoll(s: string): number {
  const m = /^[\t\n\v\f\r ]*([-+]?\d+)/.exec(s);
  if (!m) return 0;
  const b = BigInt(m[1]!);
  const max = 2n ** 63n - 1n;
  const min = -(2n ** 63n);
  return Number(b > max ? max : b < min ? min : b);
}

/** C atof(). */
export function atof(s: string): number {
  const m = /^[\t\n\v\f\r ]*([-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf(inity)?|nan))/i.exec(s);
  if (!m) return 0;
  const t = m[1]!.toLowerCase();
  if (t.endsWith('inf') || t.endsWith('infinity')) return t.startsWith('-') ? -Infinity : Infinity;
  if (t.endsWith('nan')) return NaN;
  return Number(m[1]);
}

export function defaultConfig(stdoutIsTTY: boolean): CliConfig {
  return {
    host: '127.0.0.1',
    port: 6379,
    socket: null,
    user: null,
    auth: null,
    askpass: false,
    dbnum: 0,
    repeat: 1,
    intervalUs: 0,
    output: stdoutIsTTY ? 'standard' : 'raw',
    pushOutput: stdoutIsTTY,
    multiBulkDelimiter: '\n',
    commandDelimiter: '\n',
    stdinLastArg: false,
    stdinTag: null,
    quotedInput: false,
    noAuthWarning: false,
    setErrcode: false,
    resp2: false,
    resp3: 0,
    verbose: false,
    cluster: false,
    mode: 'command',
    clusterCommand: null,
    clusterArgs: [],
    clusterOnlyMasters: false,
    clusterOnlyReplicas: false,
    clusterFlags: { replicas: 0, masterId: null, from: null, to: null, slots: 0, timeout: 60000, pipeline: 10, threshold: 2, weights: [], yes: false, simulate: false, replace: false, slave: false, useEmptyMasters: false, searchMultipleOwners: false, fixWithUnreachableMasters: false, fromUser: null, fromPass: null, fromAskpass: false, copy: false },
    pattern: null,
    scanCount: null,
    memkeysSamples: 0,
    evalFile: null,
    rdbFilename: null,
    mono: false,
    intrinsicLatencyDuration: 0,
    lruTestSampleSize: 0,
    pipeTimeout: 30,
    args: [],
    warnings: '',
    tls: false,
    sslconfig: { sni: null, cacert: null, cacertdir: null, cert: null, key: null, ciphers: null, ciphersuites: null, insecure: false },
  };
}

/** cli_common.c percentDecode(). */
function percentDecode(s: string): string | OptionsExit {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '%') {
      out += s[i];
      continue;
    }
    if (s.length - i < 2) return { exit: 1, stderr: 'Incomplete URI encoding\n' };
    const h = (s[++i] ?? '').toLowerCase();
    const l = (s[++i] ?? '').toLowerCase();
    if (!/[0-9a-f]/.test(h) || !/[0-9a-f]/.test(l)) return { exit: 1, stderr: 'Illegal character in URI encoding\n' };
    out += String.fromCharCode(parseInt(h + l, 16));
  }
  return out;
}

/** cli_common.c parseRedisUri(): redis://[[user:]pass@][host[:port]][/db]. */
function parseUri(uri: string, config: CliConfig): OptionsExit | null {
  let curr: string;
  if (uri.slice(0, 9).toLowerCase() === 'rediss://') {
    config.tls = true;
    curr = uri.slice(9);
  } else if (uri.slice(0, 8).toLowerCase() === 'redis://') {
    curr = uri.slice(8);
  } else {
    return { exit: 1, stderr: 'Invalid URI scheme\n' };
  }
  if (curr === '') return null;
  const at = curr.indexOf('@');
  if (at >= 0) {
    const colon = curr.indexOf(':');
    if (colon >= 0 && colon < at) {
      const user = percentDecode(curr.slice(0, colon));
      if (typeof user !== 'string') return user;
      config.user = user;
      curr = curr.slice(colon + 1);
    }
    const at2 = curr.indexOf('@');
    const pass = percentDecode(curr.slice(0, at2));
    if (typeof pass !== 'string') return pass;
    config.auth = pass;
    curr = curr.slice(at2 + 1);
  }
  if (curr === '') return null;
  const slash = curr.indexOf('/');
  if (curr[0] !== '/') {
    let hostEnd = slash >= 0 ? slash : curr.length;
    const colon = curr.indexOf(':');
    if (colon >= 0) {
      config.port = atoi(curr.slice(colon + 1));
      hostEnd = colon;
    }
    config.host = curr.slice(0, hostEnd);
  }
  if (slash < 0) return null;
  const rest = curr.slice(slash + 1);
  if (rest === '') return null;
  config.dbnum = atoi(rest);
  return null;
}

const usageExit = (err: number): OptionsExit => (err ? { exit: err, stderr: USAGE } : { exit: 0, stdout: USAGE });

/** Options that exist in redis-cli but that nodis-cli does not implement (cluster manager, Lua debugger). */
const UNSUPPORTED_FLAGS = new Set(['--ldb', '--ldb-sync-mode']);
const UNSUPPORTED_WITH_VALUE = new Set<string>();

/** Parses argv (without node and the script). Returns the config or what to print and exit with. */
export function parseOptions(argv: string[], stdoutIsTTY: boolean, env: NodeJS.ProcessEnv = {}): CliConfig | OptionsExit {
  const config = defaultConfig(stdoutIsTTY);
  if (env.FAKETTY !== undefined && !stdoutIsTTY) {
    config.output = 'standard';
    config.pushOutput = true;
  }
  let warnings = '';
  let rdbBoth = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    const lastarg = i === argv.length - 1;
    const value = (): string => argv[++i]!;
    if (a === '-h' && !lastarg) config.host = value();
    else if (a === '-h' && lastarg) return usageExit(0);
    else if (a === '--help') return usageExit(0);
    else if (a === '-x') config.stdinLastArg = true;
    else if (a === '-X' && !lastarg) config.stdinTag = value();
    else if (a === '-p' && !lastarg) config.port = atoi(value());
    else if (a === '-s' && !lastarg) config.socket = value();
    else if (a === '-r' && !lastarg) config.repeat = strtoll(value());
    else if (a === '-i' && !lastarg) config.intervalUs = Math.trunc(atof(value()) * 1000000);
    else if (a === '-n' && !lastarg) config.dbnum = atoi(value());
    else if (a === '--no-auth-warning') config.noAuthWarning = true;
    else if (a === '--askpass') config.askpass = true;
    else if ((a === '-a' || a === '--pass') && !lastarg) config.auth = value();
    else if (a === '--user' && !lastarg) config.user = value();
    else if (a === '-u' && !lastarg) {
      const err = parseUri(value(), config);
      if (err) return err;
    } else if (a === '--raw') config.output = 'raw';
    else if (a === '--no-raw') config.output = 'standard';
    else if (a === '--quoted-input') config.quotedInput = true;
    else if (a === '--csv') config.output = 'csv';
    else if (a === '--json' || a === '--quoted-json') {
      if (config.resp3 === 0) config.resp3 = 2;
      config.output = a === '--json' ? 'json' : 'quoted-json';
    } else if (a === '--latency') config.mode = config.mode === 'latency-history' ? config.mode : 'latency';
    else if (a === '--latency-history') config.mode = 'latency-history';
    else if (a === '--latency-dist') config.mode = 'latency-dist';
    else if (a === '-c') config.cluster = true;
    else if (a === '--cluster' && !lastarg) {
      // The command's arguments are the words up to the next option; options may follow them.
      config.mode = 'cluster-manager';
      config.clusterCommand = value();
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) config.clusterArgs.push(argv[++i]!);
    } else if (a === '--cluster-only-masters') config.clusterOnlyMasters = true;
    else if (a === '--cluster-only-replicas') config.clusterOnlyReplicas = true;
    else if (a === '--cluster-replicas' && !lastarg) config.clusterFlags.replicas = atoi(value());
    else if (a === '--cluster-master-id' && !lastarg) config.clusterFlags.masterId = value();
    else if (a === '--cluster-from' && !lastarg) config.clusterFlags.from = value();
    else if (a === '--cluster-to' && !lastarg) config.clusterFlags.to = value();
    else if (a === '--cluster-from-user' && !lastarg) config.clusterFlags.fromUser = value();
    else if (a === '--cluster-from-pass' && !lastarg) config.clusterFlags.fromPass = value();
    else if (a === '--cluster-from-askpass') config.clusterFlags.fromAskpass = true;
    else if (a === '--cluster-weight' && !lastarg) {
      if (config.clusterFlags.weights.length > 0) {
        return { exit: 1, stderr: 'WARNING: you cannot use --cluster-weight more than once.\nYou can set more weights by adding them as a space-separated list, ie:\n--cluster-weight n1=w n2=w\n' };
      }
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--') && argv[i + 1]!.includes('=')) config.clusterFlags.weights.push(argv[++i]!);
    } else if (a === '--cluster-slots' && !lastarg) config.clusterFlags.slots = atoi(value());
    else if (a === '--cluster-timeout' && !lastarg) config.clusterFlags.timeout = atoi(value());
    else if (a === '--cluster-pipeline' && !lastarg) config.clusterFlags.pipeline = atoi(value());
    else if (a === '--cluster-threshold' && !lastarg) config.clusterFlags.threshold = atof(value());
    else if (a === '--cluster-yes') config.clusterFlags.yes = true;
    else if (a === '--cluster-simulate') config.clusterFlags.simulate = true;
    else if (a === '--cluster-replace') config.clusterFlags.replace = true;
    else if (a === '--cluster-copy') config.clusterFlags.copy = true;
    else if (a === '--cluster-slave') config.clusterFlags.slave = true;
    else if (a === '--cluster-use-empty-masters') config.clusterFlags.useEmptyMasters = true;
    else if (a === '--cluster-search-multiple-owners') config.clusterFlags.searchMultipleOwners = true;
    else if (a === '--cluster-fix-with-unreachable-masters') config.clusterFlags.fixWithUnreachableMasters = true;
    else if (a === '--pipe') config.mode = 'pipe';
    else if (a === '--replica' || a === '--slave') config.mode = 'replica';
    else if ((a === '--rdb' || a === '--functions-rdb') && !lastarg) {
      if ((a === '--rdb' && config.mode === 'functions-rdb') || (a === '--functions-rdb' && config.mode === 'rdb')) rdbBoth = true;
      config.mode = a === '--rdb' ? 'rdb' : 'functions-rdb';
      config.rdbFilename = value();
    } else if (a === '--lru-test' && !lastarg) {
      config.mode = 'lru-test';
      config.lruTestSampleSize = strtoll(value());
    } else if (a === '--intrinsic-latency' && !lastarg) {
      config.mode = 'intrinsic-latency';
      config.intrinsicLatencyDuration = atoi(value());
    }
    else if (a === '--mono') config.mono = true;
    else if (a === '--stat') config.mode = 'stat';
    else if (a === '--scan') config.mode = 'scan';
    else if (a === '--pattern' && !lastarg) config.pattern = value();
    else if (a === '--quoted-pattern' && !lastarg) {
      const parts = splitArgs(value());
      if (parts === null || parts.length !== 1) return { exit: 1, stderr: 'Invalid quoted string specified for --quoted-pattern.\n' };
      config.pattern = parts[0]!;
    } else if (a === '--count' && !lastarg) config.scanCount = atoi(value());
    else if (a === '--pipe-timeout' && !lastarg) config.pipeTimeout = atoi(value());
    else if (a === '--bigkeys') config.mode = 'bigkeys';
    else if (a === '--memkeys') {
      config.mode = 'memkeys';
      config.memkeysSamples = 0;
    } else if (a === '--memkeys-samples') {
      config.mode = 'memkeys';
      config.memkeysSamples = atoi(value() ?? '');
    } else if (a === '--hotkeys') config.mode = 'hotkeys';
    else if (a === '--eval' && !lastarg) config.evalFile = value();
    else if (a === '-d' && !lastarg) config.multiBulkDelimiter = value();
    else if (a === '-D' && !lastarg) config.commandDelimiter = value();
    else if (a === '-e') config.setErrcode = true;
    else if (a === '--verbose') config.verbose = true;
    else if (a === '-v' || a === '--version') return { exit: 0, stdout: `nodis-cli ${NODIS_VERSION} (redis-cli ${CLI_VERSION} compatible)\n` };
    else if (a === '-2') config.resp2 = true;
    else if (a === '-3') config.resp3 = 1;
    else if (a === '--show-pushes' && !lastarg) {
      const v = value();
      if (v.slice(0, 1).toLowerCase() === 'n') config.pushOutput = false;
      else if (v.slice(0, 1).toLowerCase() === 'y') config.pushOutput = true;
      else warnings += `Unknown --show-pushes value '${v}' (valid: '[y]es', '[n]o')\n`;
    } else if (a === '--tls') config.tls = true;
    else if (a === '--sni' && !lastarg) config.sslconfig.sni = value();
    else if (a === '--cacertdir' && !lastarg) config.sslconfig.cacertdir = value();
    else if (a === '--cacert' && !lastarg) config.sslconfig.cacert = value();
    else if (a === '--cert' && !lastarg) config.sslconfig.cert = value();
    else if (a === '--key' && !lastarg) config.sslconfig.key = value();
    else if (a === '--tls-ciphers' && !lastarg) config.sslconfig.ciphers = value();
    else if (a === '--insecure') config.sslconfig.insecure = true;
    else if (a === '--tls-ciphersuites' && !lastarg) config.sslconfig.ciphersuites = value();
    else if (UNSUPPORTED_FLAGS.has(a) || (UNSUPPORTED_WITH_VALUE.has(a) && !lastarg)) {
      return { exit: 1, stderr: `${warnings}Option '${a}' is not supported by nodis-cli.\n` };
    } else if (a.startsWith('-')) {
      return { exit: 1, stderr: `${warnings}Unrecognized option or bad number of args for: '${a}'\n` };
    } else {
      break;
    }
  }
  if (config.resp2 && config.resp3 === 1) return { exit: 1, stderr: warnings + 'Options -2 and -3 are mutually exclusive.\n' };
  if (!config.noAuthWarning && config.auth !== null) {
    warnings += "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.\n";
  }
  if (rdbBoth) return { exit: 1, stderr: warnings + 'Option --functions-rdb and --rdb are mutually exclusive.\n' };
  if (config.stdinLastArg && config.stdinTag !== null) return { exit: 1, stderr: warnings + 'Options -x and -X are mutually exclusive.\n' };
  if (config.evalFile !== null && config.mode === 'command') config.mode = 'eval';
  config.args = argv.slice(i);
  config.warnings = warnings;
  return config;
}
