/**
 * The command line of nodis-server, parsed exactly like redis-server's main(): an optional
 * config file first, `-` (config from stdin) as the first or last argument, and `--name value…`
 * options that become config text appended after the file (`--port 7777` → "port 7777"), each
 * value quoted with sdscatrepr so spaces and special bytes survive. A lone `--save` (last, or
 * followed by another `--option`) means `save ""`.
 */
import { repr } from '../protocol/format.js';

export { repr };

export interface CommandLine {
  /** The config file as given (main.ts resolves it to an absolute path). */
  configFile: string | null;
  /** Read config from stdin ("-" as the first or last argument). */
  fromStdin: boolean;
  /** Config text built from `--name value` options, applied after the file and stdin. */
  optionsText: string;
  sentinel: boolean;
  version: boolean;
  help: boolean;
}

/** Parses `nodis-server [configfile] [--name value ...] [-]` like redis-server's main(). */
export function parseCommandLine(argv: string[]): CommandLine {
  const res: CommandLine = { configFile: null, fromStdin: false, optionsText: '', sentinel: false, version: false, help: false };
  if (argv.includes('--sentinel')) res.sentinel = true;
  if (argv.length === 0) return res;
  const first = argv[0]!;
  if (first === '-v' || first === '--version') {
    res.version = true;
    return res;
  }
  if (first === '--help' || first === '-h') {
    res.help = true;
    return res;
  }
  let j = 0;
  if (!first.startsWith('-')) {
    res.configFile = first;
    j = 1;
  }
  const argc = argv.length;
  let options = '';
  let handledLastConfigArg = true;
  for (; j < argc; j++) {
    const a = argv[j]!;
    if (a === '-' && (j === 0 || j === argc - 1)) {
      res.fromStdin = true;
    } else if (handledLastConfigArg && a.startsWith('--')) {
      if (options.length > 0) options += '\n';
      options += a.slice(2) + ' ';
      // "--port" alone waits for its value; "--port 6380" in one argument does not.
      if (a.trim().split(/\s+/).length === 1) {
        handledLastConfigArg = false;
        const next = argv[j + 1];
        const nextIsOption = next !== undefined && next.startsWith('--');
        const lower = a.toLowerCase();
        if (lower === '--save' && (nextIsOption || j === argc - 1)) {
          options += '""';
          handledLastConfigArg = nextIsOption;
        } else if (lower === '--sentinel' && nextIsOption) {
          handledLastConfigArg = true;
        }
      } else {
        handledLastConfigArg = true;
      }
    } else {
      options += repr(a) + ' ';
      handledLastConfigArg = true;
    }
  }
  res.optionsText = options;
  return res;
}

/** Kept for callers that quote a single word for config text. */
export const quoteArg = repr;
