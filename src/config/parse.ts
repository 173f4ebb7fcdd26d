/**
 * redis.conf grammar: one directive per line, words split like sdssplitargs (quotes, escapes),
 * `#` comments, `include <file>` (relative paths against the working directory, as Redis),
 * and the command-line form `[configfile] [--name value ...]`, which Redis turns into config
 * text appended after the file.
 */
import fs from 'node:fs';
import { splitArgs } from '../protocol/parser.js';

export interface Directive {
  name: string;
  args: string[];
  /** 1-based line number in its source, for error messages. */
  line: number;
  /** The source line as written (for "Bad directive" reports). */
  text: string;
}

export class ConfigFileError extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Parses config text into directives, expanding `include`. */
export function parseConfigText(text: string, readFile: (p: string) => string = (p) => fs.readFileSync(p, 'latin1'), depth = 0): Directive[] {
  const out: Directive[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = splitArgs(line);
    if (words === null) throw new ConfigFileError(i + 1, raw, 'Unbalanced quotes in configuration line');
    if (words.length === 0) continue;
    const name = words[0]!.toLowerCase();
    const args = words.slice(1);
    if (name === 'include') {
      if (args.length !== 1) throw new ConfigFileError(i + 1, raw, 'Bad directive or wrong number of arguments');
      if (depth > 16) throw new ConfigFileError(i + 1, raw, 'Too many nested includes');
      let included: string;
      try {
        included = readFile(args[0]!);
      } catch (e) {
        throw new ConfigFileError(i + 1, raw, `Fatal error, can't open config file '${args[0]}': ${(e as Error).message}`);
      }
      out.push(...parseConfigText(included, readFile, depth + 1));
      continue;
    }
    out.push({ name, args, line: i + 1, text: raw });
  }
  return out;
}

export interface CommandLine {
  configFile: string | null;
  /** Read config from stdin ("-" on the command line). */
  fromStdin: boolean;
  /** Config text built from `--name value` options, applied after the file. */
  optionsText: string;
  sentinel: boolean;
  version: boolean;
  help: boolean;
}

/** Parses `nodis-server [configfile] [--name value ...] [-]` like redis-server's main(). */
export function parseCommandLine(argv: string[]): CommandLine {
  const res: CommandLine = { configFile: null, fromStdin: false, optionsText: '', sentinel: false, version: false, help: false };
  let j = 0;
  if (argv.length > 0) {
    const a = argv[0]!;
    if (a === '-v' || a === '--version') res.version = true;
    if (a === '--help' || a === '-h') res.help = true;
    if (!a.startsWith('-')) {
      res.configFile = a;
      j = 1;
    }
  }
  let text = '';
  let lineStart = true;
  for (; j < argv.length; j++) {
    const a = argv[j]!;
    if (a === '-' ) {
      res.fromStdin = true;
      continue;
    }
    if (a === '--sentinel') {
      res.sentinel = true;
      continue;
    }
    if (a.startsWith('--') && a.length > 2) {
      if (!lineStart) text += '\n';
      text += a.slice(2) + ' ';
      lineStart = false;
    } else {
      // An argument value: quoted so spaces and specials survive splitArgs.
      text += quoteArg(a) + ' ';
    }
  }
  res.optionsText = text;
  return res;
}

/** Quotes a word so that splitArgs gives it back unchanged. */
export function quoteArg(s: string): string {
  if (s !== '' && /^[\x21-\x7e]+$/.test(s) && !/["'\\]/.test(s)) return s;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c > 0x7e) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += s[i];
  }
  return out + '"';
}
