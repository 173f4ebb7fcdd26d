/**
 * Loading redis.conf text, as loadServerConfigFromString() does: one directive per line, words
 * split like sdssplitargs, `#` comments; registry directives are set in order (so the last one
 * wins, and `save` lines accumulate); `include <file-or-glob>` loads another file in place; the
 * loader-only directives (rename-command, user, loadmodule, sentinel, module configs `a.b`) are
 * handed to hooks. The first error stops loading with Redis's FATAL CONFIG FILE ERROR block.
 */
import fs from 'node:fs';
import path from 'node:path';
import { splitArgs } from '../protocol/parser.js';
import { stringMatch } from '../keyspace/glob.js';
import { ConfigError, type ConfigRegistry } from './registry.js';
import { DEPRECATED_DIRECTIVES, strerror } from './directives.js';

/** `user` lines of the config file (words after `user`), for the ACL module at start-up. */
export const queuedConfigUsers: string[][] = [];

/** A fatal error while loading: the offending line (when there is one) and Redis's reason. */
export class FatalConfigError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number | null = null,
    readonly text: string | null = null,
  ) {
    super(reason);
  }
}

/** A file that cannot be opened: Redis logs this and exits, without the FATAL block. */
export class ConfigFileOpenError extends Error {}

/** What the loader hands to the rest of the server. Each returns an error text or null. */
export interface LoaderHooks {
  renameCommand?: (name: string, newName: string) => string | null;
  user?: (argv: string[]) => string | null;
  loadmodule?: (modulePath: string, args: string[]) => void;
  moduleConfig?: (name: string, value: string) => void;
  /** Sentinel mode only: a `sentinel …` line. */
  sentinel?: (args: string[], line: number, text: string) => void;
}

export interface LoadOptions {
  sentinelMode?: boolean;
  hooks?: LoaderHooks;
  readFile?: (p: string) => string;
  /** Logs "Reading config from stdin" and similar warnings. */
  warn?: (msg: string) => void;
}

/** loadServerConfig(): the file (if any), then stdin, then the command-line options. */
export function loadServerConfig(config: ConfigRegistry, file: string | null, stdinText: string | null, options: string, opts: LoadOptions = {}): void {
  let text = file === null ? '' : readConfigFile(file, opts);
  if (stdinText !== null) text += stdinText;
  if (options !== '') text += '\n' + options;
  loadServerConfigFromString(config, text, opts);
}

function readConfigFile(file: string, opts: LoadOptions): string {
  const read = opts.readFile ?? ((p: string) => fs.readFileSync(p, 'latin1'));
  if (!/[*?[]/.test(file)) {
    try {
      return read(file);
    } catch (e) {
      throw new ConfigFileOpenError(`Fatal error, can't open config file '${file}': ${strerror(e)}`);
    }
  }
  // A glob includes every match (in order); no match is not an error (empty conf.d).
  const dir = path.dirname(file);
  const pattern = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => stringMatch(pattern, n, false) && !n.startsWith('.')).sort();
  } catch {
    return '';
  }
  let text = '';
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      text += read(p);
    } catch (e) {
      throw new ConfigFileOpenError(`Fatal error, can't open config file '${p}': ${strerror(e)}`);
    }
  }
  return text;
}

export function loadServerConfigFromString(config: ConfigRegistry, text: string, opts: LoadOptions = {}, depth = 0): void {
  const hooks = opts.hooks ?? {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
    if (line === '' || line.startsWith('#')) continue;
    const fail = (reason: string): never => {
      throw new FatalConfigError(reason, i + 1, line);
    };
    const argv = splitArgs(line);
    if (argv === null) fail('Unbalanced quotes in configuration line');
    if (argv!.length === 0) continue;
    const name = argv![0]!.toLowerCase();
    const args = argv!.slice(1);
    const argc = argv!.length;

    if (config.resolve(name) !== undefined) {
      try {
        config.set(name, args, 'file');
      } catch (e) {
        if (e instanceof ConfigError) fail(e.message);
        throw e;
      }
      continue;
    }
    const deprecated = DEPRECATED_DIRECTIVES.get(name);
    if (deprecated !== undefined && argc >= deprecated[0] && argc <= deprecated[1]) continue;

    if (name === 'include' && argc === 2) {
      if (depth > 32) fail('Too many nested includes');
      const included = readConfigFile(args[0]!, opts);
      loadServerConfigFromString(config, included, opts, depth + 1);
    } else if (name === 'rename-command' && argc === 3) {
      const err = hooks.renameCommand?.(args[0]!, args[1]!) ?? null;
      if (err !== null) fail(err);
    } else if (name === 'user' && argc >= 2) {
      const err = hooks.user?.(argv!) ?? null;
      if (err !== null) fail(err);
    } else if (name === 'loadmodule' && argc >= 2) {
      hooks.loadmodule?.(args[0]!, args.slice(1));
    } else if (name.includes('.')) {
      if (argc < 2) fail('Module config specified without value');
      hooks.moduleConfig?.(argv![0]!, args.join(' '));
    } else if (name === 'sentinel') {
      // A bare `sentinel` line comes from --sentinel; main() already switched modes.
      if (argc !== 1) {
        if (!opts.sentinelMode) fail('sentinel directive while not in sentinel mode');
        hooks.sentinel?.(args, i + 1, line);
      }
    } else {
      fail('Bad directive or wrong number of arguments');
    }
  }
  if (depth > 0) return;

  // Sanity checks after the whole text, with no line to show (as Redis).
  const logfile = config.getString('logfile');
  if (logfile !== '') {
    try {
      fs.closeSync(fs.openSync(logfile, 'a'));
    } catch (e) {
      throw new FatalConfigError(`Can't open the log file: ${strerror(e)}`);
    }
  }
  if (config.getBool('cluster-enabled') && config.getString('replicaof') !== '') {
    throw new FatalConfigError('replicaof directive not allowed in cluster mode');
  }
}

/** The FATAL CONFIG FILE ERROR block Redis writes to stderr before exiting. */
export function formatFatalConfigError(e: FatalConfigError, redisVersion: string): string {
  let out = `\n*** FATAL CONFIG FILE ERROR (Redis ${redisVersion}) ***\n`;
  if (e.line !== null) out += `Reading the configuration file, at line ${e.line}\n>>> '${e.text}'\n`;
  return out + `${e.reason}\n`;
}
