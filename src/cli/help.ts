/**
 * `help <command>` / `help @<group>` and tab completion, built like redis-cli 7.0's cliInitHelp():
 * from the server's COMMAND DOCS reply (so the help matches the server actually connected), or,
 * when there is no server to ask, from the command table nodis ships (Redis 7.0.15's JSON specs,
 * the same source redis-cli's built-in help.h is generated from).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from '../protocol/reply-parser.js';
import { CLI_VERSION } from './usage.js';

/** One argument of a command, as COMMAND DOCS describes it. */
interface ArgDoc {
  name: string;
  type: string;
  token?: string;
  optional: boolean;
  multiple: boolean;
  multipleToken: boolean;
  arguments: ArgDoc[];
}

interface CommandDoc {
  summary?: string;
  since?: string;
  group?: string;
  arguments: ArgDoc[];
  subcommands: [string, CommandDoc][];
}

export interface HelpEntry {
  kind: 'command' | 'group';
  /** Upper-cased words: ["CONFIG", "GET"]; or ["@string"] for a group. */
  argv: string[];
  full: string;
  params: string;
  summary: string;
  since: string | null;
  group: string;
}

const text = (r: Reply | undefined): string =>
  r === undefined ? '' : r.type === 'string' || r.type === 'verbatim' ? r.value.toString('latin1') : r.type === 'status' || r.type === 'error' ? r.value : '';

/** Key/value pairs of a RESP3 map or a RESP2 flat array. */
function pairs(r: Reply | undefined): [string, Reply][] {
  if (!r || (r.type !== 'map' && r.type !== 'array')) return [];
  const out: [string, Reply][] = [];
  for (let i = 0; i + 1 < r.elements.length; i += 2) out.push([text(r.elements[i]), r.elements[i + 1]!]);
  return out;
}

function argFromReply(r: Reply): ArgDoc {
  const a: ArgDoc = { name: '', type: '', optional: false, multiple: false, multipleToken: false, arguments: [] };
  for (const [k, v] of pairs(r)) {
    if (k === 'name') a.name = text(v);
    else if (k === 'token') a.token = text(v);
    else if (k === 'type') a.type = text(v);
    else if (k === 'arguments' && (v.type === 'array' || v.type === 'set')) a.arguments = v.elements.map(argFromReply);
    else if (k === 'flags' && (v.type === 'array' || v.type === 'set')) {
      for (const f of v.elements) {
        const flag = text(f);
        if (flag === 'optional') a.optional = true;
        else if (flag === 'multiple') a.multiple = true;
        else if (flag === 'multiple_token') a.multipleToken = true;
      }
    }
  }
  return a;
}

function docFromReply(r: Reply): CommandDoc {
  const d: CommandDoc = { arguments: [], subcommands: [] };
  for (const [k, v] of pairs(r)) {
    if (k === 'summary') d.summary = text(v);
    else if (k === 'since') d.since = text(v);
    else if (k === 'group') d.group = text(v);
    else if (k === 'arguments' && v.type === 'array') d.arguments = v.elements.map(argFromReply);
    else if (k === 'subcommands') d.subcommands = pairs(v).map(([name, sub]) => [name, docFromReply(sub)]);
  }
  return d;
}

interface JsonArg {
  name: string;
  type: string;
  token?: string;
  optional?: boolean;
  multiple?: boolean;
  multiple_token?: boolean;
  arguments?: JsonArg[];
}
interface JsonCommand {
  summary?: string;
  since?: string;
  group?: string;
  container?: string;
  arguments?: JsonArg[];
  subcommands?: Record<string, JsonCommand>;
}

function argFromJson(a: JsonArg): ArgDoc {
  return {
    name: a.name,
    type: a.type,
    token: a.token,
    optional: a.optional === true,
    multiple: a.multiple === true,
    multipleToken: a.multiple_token === true,
    arguments: (a.arguments ?? []).map(argFromJson),
  };
}

function docFromJson(c: JsonCommand, parent: string | null): CommandDoc {
  return {
    summary: c.summary,
    since: c.since,
    group: c.group,
    arguments: (c.arguments ?? []).map(argFromJson),
    subcommands: Object.entries(c.subcommands ?? {}).map(([name, sub]) => [`${parent ?? ''}|${name.toLowerCase()}`, docFromJson(sub, name)]),
  };
}

const orEmpty = (s: string): string => (s === '' ? '""' : s);

/** redis-cli's cliAddArgument(): "[EX seconds|PX milliseconds]" and friends. */
function argText(a: ArgDoc): string {
  const token = a.token !== undefined ? orEmpty(a.token) : '';
  let repeat = '';
  if (['key', 'string', 'integer', 'double', 'pattern', 'unix-time', 'token'].includes(a.type)) repeat = orEmpty(a.name);
  else if (a.type === 'oneof') repeat = a.arguments.map(argText).join('|');
  else if (a.type === 'block') repeat = a.arguments.map(argText).join(' ');
  const tokenPart = token !== '' && a.type !== 'pure-token' ? token + ' ' : token;
  let out = a.optional ? '[' : '';
  out += tokenPart + repeat;
  if (a.multiple) out += ' [' + (a.multipleToken ? tokenPart : '') + repeat + ' ...]';
  if (a.optional) out += ']';
  return out;
}

function addEntries(out: HelpEntry[], groups: Set<string>, cmdname: string, sub: string | null, d: CommandDoc): void {
  const argv = [cmdname.toUpperCase()];
  if (sub !== null) argv.push(sub.slice(sub.indexOf('|') + 1).toUpperCase());
  const group = d.group ?? '';
  if (d.group !== undefined) groups.add(group);
  out.push({
    kind: 'command',
    argv,
    full: argv.join(' '),
    params: d.arguments.map(argText).join(' '),
    summary: d.summary ?? '',
    since: d.since ?? null,
    group,
  });
  for (const [name, s] of d.subcommands) addEntries(out, groups, cmdname, name, s);
}

function finish(commands: [string, CommandDoc][]): HelpEntry[] {
  const out: HelpEntry[] = [];
  const groups = new Set<string>();
  for (const [name, d] of commands) addEntries(out, groups, name, null, d);
  for (const g of groups) out.push({ kind: 'group', argv: [`@${g}`], full: `@${g}`, params: '', summary: '', since: null, group: '' });
  // strcmp order on the full name (plain code-unit order, not locale order).
  return out.sort((a, b) => (a.full < b.full ? -1 : a.full > b.full ? 1 : 0));
}

/** Help entries from a COMMAND DOCS reply (RESP2 array or RESP3 map). */
export function helpFromDocs(reply: Reply): HelpEntry[] {
  return finish(pairs(reply).map(([name, d]) => [name, docFromReply(d)]));
}

/** Help entries from the bundled Redis command table, for when no server answers. */
export function helpFromBundledTable(): HelpEntry[] {
  // The JSON lives in src/ (tsc does not copy it); look beside us first, then in the source tree.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const file = [
    path.join(here, '../commands/redis-command-table.json'),
    path.join(here, '../redis-command-table.json'),
    path.join(here, '../../../src/commands/redis-command-table.json'),
  ].find((f) =>
    fs.existsSync(f),
  );
  if (file === undefined) return [];
  const table = JSON.parse(fs.readFileSync(file, 'utf8')) as { commands: Record<string, JsonCommand> };
  return finish(Object.entries(table.commands).map(([name, c]) => [name.toLowerCase(), docFromJson(c, name.toLowerCase())]));
}

export function genericHelp(): string {
  return (
    `redis-cli ${CLI_VERSION}\n` +
    'To get help about Redis commands type:\n' +
    '      "help @<group>" to get a list of commands in <group>\n' +
    '      "help <command>" for help on <command>\n' +
    '      "help <tab>" to get a list of possible help topics\n' +
    '      "quit" to exit\n' +
    '\n' +
    'To set redis-cli preferences:\n' +
    '      ":set hints" enable online hints\n' +
    '      ":set nohints" disable online hints\n' +
    'Set your preferences in ~/.redisclirc\n'
  );
}

function commandHelp(e: HelpEntry, withGroup: boolean): string {
  let out = `\r\n  \x1b[1m${e.full}\x1b[0m \x1b[90m${e.params}\x1b[0m\r\n`;
  out += `  \x1b[33msummary:\x1b[0m ${e.summary}\r\n`;
  if (e.since !== null) out += `  \x1b[33msince:\x1b[0m ${e.since}\r\n`;
  if (withGroup) out += `  \x1b[33mgroup:\x1b[0m ${e.group}\r\n`;
  return out;
}

/** cliOutputHelp(): `help` arguments (after the word "help") → what redis-cli prints. */
export function outputHelp(args: string[], entries: HelpEntry[]): string {
  if (args.length === 0) return genericHelp();
  const group = args[0]!.startsWith('@') ? args[0]!.slice(1).toLowerCase() : null;
  let out = '';
  for (const e of entries) {
    if (e.kind !== 'command') continue;
    if (group === null) {
      if (args.length <= e.argv.length && args.every((a, j) => a.toLowerCase() === e.argv[j]!.toLowerCase())) out += commandHelp(e, true);
    } else if (group === e.group.toLowerCase()) {
      out += commandHelp(e, false);
    }
  }
  return out + '\r\n';
}

/** linenoise completion: every entry the typed prefix could become. */
export function completions(line: string, entries: HelpEntry[]): string[] {
  let start = 0;
  let groupsToo = false;
  if (line.slice(0, 5).toLowerCase() === 'help ') {
    start = 5;
    while (start < line.length && /\s/.test(line[start]!)) start++;
    groupsToo = true;
  }
  const typed = line.slice(start).toLowerCase();
  return entries
    .filter((e) => (e.kind === 'command' || groupsToo) && e.full.toLowerCase().startsWith(typed))
    .map((e) => line.slice(0, start) + e.full);
}

/**
 * hintsCallback(): the arguments still to type after what is on the line, from the longest
 * matching command's params ("set k" → " value [NX|XX] …"); null when nothing matches.
 */
export function hintFor(line: string, entries: HelpEntry[], split: (s: string) => string[] | null): string | null {
  const argv = split(line) ?? [];
  if (argv.length === 0) return null;
  const endSpace = line.length > 0 && /\s/.test(line[line.length - 1]!);
  let entry: HelpEntry | null = null;
  let matchLen = 0;
  for (const e of entries) {
    if (e.kind !== 'command' || e.argv.length > argv.length || e.argv.length <= matchLen) continue;
    if (e.argv.every((w, j) => w.toLowerCase() === argv[j]!.toLowerCase())) {
      matchLen = e.argv.length;
      entry = e;
    }
  }
  if (entry === null) return null;
  // Drop the arguments already typed (up to the first optional one).
  let hint = entry.params;
  let toRemove = argv.length - matchLen;
  while (toRemove > 0 && hint.length > 0) {
    if (hint[0] === '[') break;
    if (hint[0] === ' ') toRemove--;
    hint = hint.slice(1);
  }
  return endSpace ? hint : ' ' + hint;
}
