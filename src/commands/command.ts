/**
 * COMMAND [COUNT | INFO | DOCS | LIST | GETKEYS | GETKEYSANDFLAGS | HELP]: the server describes
 * its own commands, generated from the one CommandTable (Redis's command JSON plus which
 * handlers exist), in Redis 7.0.15's reply shapes (addReplyCommandInfo / addReplyCommandDocs).
 * Clients rely on it: redis-cli reads COMMAND DOCS for hints, cluster clients read key
 * positions from COMMAND INFO, ioredis may call COMMAND.
 */
import type { CommandHandlers, CommandJson, CommandSpec, KeySpecJson } from '../server/command-table.js';
import { CommandSpec as CommandSpecClass } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { ReplyWriter } from '../protocol/writer.js';
import { SYNTAX } from '../protocol/errors.js';
import { replyHelp } from './help.js';
import { stringMatch } from '../keyspace/glob.js';

/** Command flags in the order Redis prints them (hidden ones — may_replicate, sentinel… — left out). */
const FLAG_ORDER = [
  'write', 'readonly', 'denyoom', 'module', 'admin', 'pubsub', 'noscript', 'blocking', 'loading', 'stale',
  'skip_monitor', 'skip_slowlog', 'asking', 'fast', 'no_auth', 'no_mandatory_keys', 'no_async_loading', 'no_multi',
  'movablekeys', 'allow_busy',
];

/** ACL categories in Redis's ACLCommandCategories order. */
const ACL_ORDER = [
  'keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog', 'geo', 'stream',
  'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection', 'transaction', 'scripting',
];

/** Key-spec flags in Redis's order and spelling. */
const KEY_FLAG_ORDER: [string, string][] = [
  ['RO', 'RO'], ['RW', 'RW'], ['OW', 'OW'], ['RM', 'RM'], ['ACCESS', 'access'], ['UPDATE', 'update'],
  ['INSERT', 'insert'], ['DELETE', 'delete'], ['NOT_KEY', 'not_key'], ['INCOMPLETE', 'incomplete'],
  ['VARIABLE_FLAGS', 'variable_flags'],
];

/**
 * Commands whose C implementation has a getkeys_proc although their key specs are plain
 * index+range ones; Redis marks them movablekeys all the same.
 */
const GETKEYS_PROC = new Set(['sort_ro']);

function isMovable(spec: CommandSpec): boolean {
  return spec.movableKeys || spec.getKeysOverride !== null || GETKEYS_PROC.has(spec.fullName);
}

function commandFlags(spec: CommandSpec): string[] {
  const out: string[] = [];
  for (const f of FLAG_ORDER) {
    if (f === 'movablekeys' ? isMovable(spec) : spec.flags.has(f)) out.push(f);
  }
  return out;
}

function replyStatusSet(r: ReplyWriter, items: readonly string[]): void {
  r.set(items.length);
  for (const i of items) r.status(i);
}

function keySpecFlags(ks: KeySpecJson): string[] {
  return KEY_FLAG_ORDER.filter(([json]) => ks.flags.includes(json)).map(([, name]) => name);
}

function replyKeySpecs(r: ReplyWriter, specs: readonly KeySpecJson[]): void {
  r.set(specs.length);
  for (const ks of specs) {
    r.map(ks.notes !== undefined ? 4 : 3);
    if (ks.notes !== undefined) {
      r.bulk('notes');
      r.bulk(ks.notes);
    }
    r.bulk('flags');
    replyStatusSet(r, keySpecFlags(ks));
    r.bulk('begin_search');
    r.map(2);
    r.bulk('type');
    const bs = ks.begin_search;
    if (bs.index !== undefined) {
      r.bulk('index');
      r.bulk('spec');
      r.map(1);
      r.bulk('index');
      r.integer(bs.index.pos);
    } else if (bs.keyword !== undefined) {
      r.bulk('keyword');
      r.bulk('spec');
      r.map(2);
      r.bulk('keyword');
      r.bulk(bs.keyword.keyword);
      r.bulk('startfrom');
      r.integer(bs.keyword.startfrom);
    } else {
      r.bulk('unknown');
      r.bulk('spec');
      r.map(0);
    }
    r.bulk('find_keys');
    r.map(2);
    r.bulk('type');
    const fk = ks.find_keys;
    if (fk.range !== undefined) {
      r.bulk('range');
      r.bulk('spec');
      r.map(3);
      r.bulk('lastkey');
      r.integer(fk.range.lastkey);
      r.bulk('keystep');
      r.integer(fk.range.step);
      r.bulk('limit');
      r.integer(fk.range.limit);
    } else if (fk.keynum !== undefined) {
      r.bulk('keynum');
      r.bulk('spec');
      r.map(3);
      r.bulk('keynumidx');
      r.integer(fk.keynum.keynumidx);
      r.bulk('firstkey');
      r.integer(fk.keynum.firstkey);
      r.bulk('keystep');
      r.integer(fk.keynum.step);
    } else {
      r.bulk('unknown');
      r.bulk('spec');
      r.map(0);
    }
  }
}

/** addReplyCommandInfo: the 10-element description of a command. */
export function replyCommandInfo(r: ReplyWriter, spec: CommandSpec | undefined): void {
  if (spec === undefined) {
    r.nullBulk();
    return;
  }
  const [first, last, step] = spec.legacyRange;
  r.array(10);
  r.bulk(spec.fullName);
  r.integer(spec.arity);
  replyStatusSet(r, commandFlags(spec));
  r.integer(first);
  r.integer(last);
  r.integer(step);
  const cats = ACL_ORDER.filter((c) => spec.aclCategories.includes(c)).map((c) => `@${c}`);
  replyStatusSet(r, cats);
  const tips = ((spec.doc as CommandJson & { command_tips?: string[] }).command_tips ?? []).map((t) => t.toLowerCase());
  r.set(tips.length);
  for (const t of tips) r.bulk(t);
  replyKeySpecs(r, spec.keySpecs);
  if (spec.subcommands === null) {
    r.set(0);
  } else {
    r.array(spec.subcommands.size);
    for (const sub of spec.subcommands.values()) replyCommandInfo(r, sub);
  }
}

interface ArgJson {
  name: string;
  type: string;
  key_spec_index?: number;
  token?: string;
  summary?: string;
  since?: string;
  deprecated_since?: string;
  optional?: boolean;
  multiple?: boolean;
  multiple_token?: boolean;
  arguments?: ArgJson[];
}

function replyArgs(r: ReplyWriter, args: readonly ArgJson[]): void {
  r.array(args.length);
  for (const a of args) {
    const flags: string[] = [];
    if (a.optional) flags.push('optional');
    if (a.multiple) flags.push('multiple');
    if (a.multiple_token) flags.push('multiple_token');
    const nested = a.type === 'oneof' || a.type === 'block';
    let n = 2;
    if (a.key_spec_index !== undefined) n++;
    if (a.token !== undefined) n++;
    if (a.summary !== undefined) n++;
    if (a.since !== undefined) n++;
    if (a.deprecated_since !== undefined) n++;
    if (flags.length > 0) n++;
    if (nested) n++;
    r.map(n);
    r.bulk('name');
    r.bulk(a.name.toLowerCase());
    r.bulk('type');
    r.bulk(a.type);
    if (a.key_spec_index !== undefined) {
      r.bulk('key_spec_index');
      r.integer(a.key_spec_index);
    }
    if (a.token !== undefined) {
      r.bulk('token');
      r.bulk(a.token);
    }
    if (a.summary !== undefined) {
      r.bulk('summary');
      r.bulk(a.summary);
    }
    if (a.since !== undefined) {
      r.bulk('since');
      r.bulk(a.since);
    }
    if (a.deprecated_since !== undefined) {
      r.bulk('deprecated_since');
      r.bulk(a.deprecated_since);
    }
    if (flags.length > 0) {
      r.bulk('flags');
      replyStatusSet(r, flags);
    }
    if (nested) {
      r.bulk('arguments');
      replyArgs(r, a.arguments ?? []);
    }
  }
}

/** addReplyCommandDocs: the documentation map of a command. */
export function replyCommandDocs(r: ReplyWriter, spec: CommandSpec): void {
  const d = spec.doc;
  const args = (d.arguments ?? []) as ArgJson[];
  const docFlags = (d.doc_flags ?? []).map((f) => f.toLowerCase());
  const hasHistory = d.history !== undefined && d.history.length > 0;
  let n = 1;
  if (d.summary !== undefined) n++;
  if (d.since !== undefined) n++;
  if (d.complexity !== undefined) n++;
  if (docFlags.length > 0) n++;
  if (d.deprecated_since !== undefined) n++;
  if (d.replaced_by !== undefined) n++;
  if (hasHistory) n++;
  if (args.length > 0) n++;
  if (spec.subcommands !== null) n++;
  r.map(n);
  if (d.summary !== undefined) {
    r.bulk('summary');
    r.bulk(d.summary);
  }
  if (d.since !== undefined) {
    r.bulk('since');
    r.bulk(d.since);
  }
  r.bulk('group');
  r.bulk((d.group ?? 'generic').replace(/_/g, '-'));
  if (d.complexity !== undefined) {
    r.bulk('complexity');
    r.bulk(d.complexity);
  }
  if (docFlags.length > 0) {
    r.bulk('doc_flags');
    replyStatusSet(r, docFlags);
  }
  if (d.deprecated_since !== undefined) {
    r.bulk('deprecated_since');
    r.bulk(d.deprecated_since);
  }
  if (d.replaced_by !== undefined) {
    r.bulk('replaced_by');
    r.bulk(d.replaced_by);
  }
  if (hasHistory) {
    r.bulk('history');
    r.set(d.history!.length);
    for (const [since, changes] of d.history!) {
      r.array(2);
      r.bulk(since);
      r.bulk(changes);
    }
  }
  if (args.length > 0) {
    r.bulk('arguments');
    replyArgs(r, args);
  }
  if (spec.subcommands !== null) {
    r.bulk('subcommands');
    r.map(spec.subcommands.size);
    for (const sub of spec.subcommands.values()) {
      r.bulk(sub.fullName);
      replyCommandDocs(r, sub);
    }
  }
}

/** COMMAND (bare): every command's info. Other arguments are unknown subcommands. */
function command(c: Client): void {
  if (c.argv.length > 1) {
    c.reply.error(`ERR unknown subcommand '${c.argv[1]!.slice(0, 128)}'. Try COMMAND HELP.`);
    return;
  }
  const cmds = c.server.commands.commands;
  c.reply.array(cmds.size);
  for (const spec of cmds.values()) replyCommandInfo(c.reply, spec);
}

function commandCount(c: Client): void {
  c.reply.integer(c.server.commands.commands.size);
}

function commandInfo(c: Client): void {
  const table = c.server.commands;
  if (c.argv.length === 2) {
    c.reply.array(table.commands.size);
    for (const spec of table.commands.values()) replyCommandInfo(c.reply, spec);
    return;
  }
  c.reply.array(c.argv.length - 2);
  for (let i = 2; i < c.argv.length; i++) replyCommandInfo(c.reply, table.lookupFullName(c.argv[i]!));
}

function commandDocs(c: Client): void {
  const table = c.server.commands;
  if (c.argv.length === 2) {
    c.reply.map(table.commands.size);
    for (const spec of table.commands.values()) {
      c.reply.bulk(spec.fullName);
      replyCommandDocs(c.reply, spec);
    }
    return;
  }
  const found: CommandSpec[] = [];
  for (let i = 2; i < c.argv.length; i++) {
    const spec = table.lookupFullName(c.argv[i]!);
    if (spec !== undefined) found.push(spec);
  }
  c.reply.map(found.length);
  for (const spec of found) {
    c.reply.bulk(spec.fullName);
    replyCommandDocs(c.reply, spec);
  }
}

function commandList(c: Client): void {
  const argv = c.argv;
  let filter: ((spec: CommandSpec) => boolean) | null = null;
  for (let i = 2; i < argv.length; i++) {
    const more = argv.length - 1 - i;
    if (argv[i]!.toLowerCase() === 'filterby' && more === 2) {
      const type = argv[i + 1]!.toLowerCase();
      const arg = argv[i + 2]!;
      if (type === 'module') {
        filter = () => false; // nodis has no modules
      } else if (type === 'aclcat') {
        const cat = arg.toLowerCase();
        filter = (s) => ACL_ORDER.includes(cat) && s.aclCategories.includes(cat);
      } else if (type === 'pattern') {
        filter = (s) => stringMatch(arg, s.fullName, true);
      } else {
        c.reply.error(SYNTAX);
        return;
      }
      i += 2;
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const names: string[] = [];
  for (const spec of c.server.commands.all()) if (filter === null || filter(spec)) names.push(spec.fullName);
  c.reply.array(names.length);
  for (const n of names) c.reply.bulk(n);
}

/**
 * Key flags of commands whose key spec says VARIABLE_FLAGS: Redis's setGetKeys and
 * bitfieldGetKeys decide from the arguments. Returns null for other commands.
 */
function variableKeyFlags(spec: CommandSpec, argv: readonly string[]): string[] | null {
  if (spec.fullName === 'set') {
    for (let i = 3; i < argv.length; i++) if (argv[i]!.toLowerCase() === 'get') return ['RW', 'access', 'update'];
    return ['OW', 'update'];
  }
  if (spec.fullName === 'bitfield') {
    for (let i = 2; i < argv.length; i++) {
      const a = argv[i]!.toLowerCase();
      const rem = argv.length - i - 1;
      if (a === 'get' && rem >= 2) i += 2;
      else if (a === 'overflow' && rem >= 1) i += 1;
      else return ['RW', 'access', 'update'];
    }
    return ['RO', 'access'];
  }
  return null;
}

/** The keys of a command line, each with the flags of the key spec that found it. */
function keysWithFlags(spec: CommandSpec, argv: readonly string[]): [number, string[]][] {
  const variable = variableKeyFlags(spec, argv);
  if (variable !== null) return spec.getKeys(argv).map((i) => [i, variable]);
  if (spec.getKeysOverride !== null) {
    const flags = spec.keySpecs[0] !== undefined ? keySpecFlags(spec.keySpecs[0]) : [];
    // sortGetKeys: the STORE destination has the STORE key spec's flags (OW update).
    const store = spec.name === 'sort' && spec.keySpecs[2] !== undefined ? keySpecFlags(spec.keySpecs[2]) : flags;
    return spec.getKeysOverride(argv).map((i, n) => [i, n === 0 ? flags : store]);
  }
  const out: [number, string[]][] = [];
  for (const ks of spec.keySpecs) {
    // Evaluate one key spec at a time with the table's own key-finding logic.
    const single = new CommandSpecClass(spec.name, { ...spec.doc, key_specs: [ks], subcommands: undefined }, null);
    const flags = keySpecFlags(ks);
    for (const i of single.getKeys(argv)) out.push([i, flags]);
  }
  return out;
}

function getKeysImpl(c: Client, withFlags: boolean): void {
  const argv = c.argv.slice(2);
  const table = c.server.commands;
  const spec = table.resolve(argv);
  if (spec === undefined) {
    c.reply.error('ERR Invalid command specified');
    return;
  }
  const hasKeys = spec.getKeysOverride !== null || (spec.keySpecs.length > 0 && !spec.keySpecs.every((k) => k.flags.includes('NOT_KEY')));
  if (!hasKeys) {
    c.reply.error('ERR The command has no key arguments');
    return;
  }
  if ((spec.arity > 0 && spec.arity !== argv.length) || argv.length < -spec.arity) {
    c.reply.error('ERR Invalid number of arguments specified for command');
    return;
  }
  const keys = keysWithFlags(spec, argv).filter(([, flags]) => !flags.includes('not_key'));
  if (keys.length === 0) {
    if (spec.flags.has('no_mandatory_keys')) c.reply.emptyArray();
    else c.reply.error('ERR Invalid arguments specified for command');
    return;
  }
  c.reply.array(keys.length);
  for (const [i, flags] of keys) {
    if (withFlags) {
      c.reply.array(2);
      c.reply.bulk(argv[i]!);
      replyStatusSet(c.reply, flags);
    } else {
      c.reply.bulk(argv[i]!);
    }
  }
}

function commandHelp(c: Client): void {
  replyHelp(c, [
    '(no subcommand)',
    '    Return details about all Redis commands.',
    'COUNT',
    '    Return the total number of commands in this Redis server.',
    'LIST',
    '    Return a list of all commands in this Redis server.',
    'INFO [<command-name> ...]',
    '    Return details about multiple Redis commands.',
    '    If no command names are given, documentation details for all',
    '    commands are returned.',
    'DOCS [<command-name> ...]',
    '    Return documentation details about multiple Redis commands.',
    '    If no command names are given, documentation details for all',
    '    commands are returned.',
    'GETKEYS <full-command>',
    '    Return the keys from a full Redis command.',
    'GETKEYSANDFLAGS <full-command>',
    '    Return the keys and the access flags from a full Redis command.',
  ]);
}

export const commands: CommandHandlers = {
  command,
  'command|count': commandCount,
  'command|info': commandInfo,
  'command|docs': commandDocs,
  'command|list': commandList,
  'command|getkeys': (c) => getKeysImpl(c, false),
  'command|getkeysandflags': (c) => getKeysImpl(c, true),
  'command|help': commandHelp,
};
