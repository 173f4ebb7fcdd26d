/**
 * The ACL command (7.0.15 aclCommand): SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT,
 * GENPASS, LOG, DRYRUN, LOAD, SAVE, HELP. The registry and the rule language live in
 * server/acl.ts; this file only parses arguments and shapes replies.
 */
import crypto from 'node:crypto';
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { aclOf, CATEGORIES, Denied, type Selector } from '../server/acl.js';
import { parseInteger } from '../protocol/args.js';
import { replyHelp } from './help.js';

const INTEGER_ERR = 'ERR value is not an integer or out of range';

function hasSpacesOrNull(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0 || ch === 32 || (ch >= 9 && ch <= 13)) return true;
  }
  return false;
}

function setuser(c: Client): void {
  // Nothing about the user reaches SLOWLOG or MONITOR (aclCommand).
  for (let j = 2; j < c.argv.length; j++) c.redactArgument(j);
  const name = c.argv[2]!;
  if (hasSpacesOrNull(name)) {
    c.reply.error("ERR Usernames can't contain spaces or null characters");
    return;
  }
  const err = aclOf(c.server).setUserFromRules(name, c.argv.slice(3));
  if (err === null) c.reply.ok();
  else c.reply.error(`ERR ${err}`);
}

function deluser(c: Client): void {
  const acl = aclOf(c.server);
  for (let i = 2; i < c.argv.length; i++) {
    if (c.argv[i] === 'default') {
      c.reply.error("ERR The 'default' user cannot be removed");
      return;
    }
  }
  let deleted = 0;
  for (let i = 2; i < c.argv.length; i++) if (acl.deleteUser(c.argv[i]!)) deleted++;
  c.reply.integer(deleted);
}

function replySelector(c: Client, s: Selector): void {
  const acl = aclOf(c.server);
  c.reply.bulk('commands');
  c.reply.bulk(acl.describeCommandRules(s));
  c.reply.bulk('keys');
  c.reply.bulk(acl.selectorKeys(s));
  c.reply.bulk('channels');
  c.reply.bulk(acl.selectorChannels(s));
}

function getuser(c: Client): void {
  const acl = aclOf(c.server);
  const u = acl.users.get(c.argv[2]!);
  if (u === undefined) {
    c.reply.nullBulk();
    return;
  }
  const r = c.reply;
  r.map(6);
  r.bulk('flags');
  const flags = acl.userFlags(u);
  r.set(flags.length);
  for (const f of flags) r.bulk(f);
  r.bulk('passwords');
  r.array(u.passwords.length);
  for (const p of u.passwords) r.bulk(p);
  replySelector(c, u.root);
  r.bulk('selectors');
  r.array(u.selectors.length - 1);
  for (let i = 1; i < u.selectors.length; i++) {
    r.map(3);
    replySelector(c, u.selectors[i]!);
  }
}

function list(c: Client): void {
  const acl = aclOf(c.server);
  const users = acl.sortedUsers();
  c.reply.array(users.length);
  for (const u of users) c.reply.bulk(`user ${u.name} ${acl.describeUser(u)}`);
}

function users(c: Client): void {
  const users = aclOf(c.server).sortedUsers();
  c.reply.array(users.length);
  for (const u of users) c.reply.bulk(u.name);
}

function whoami(c: Client): void {
  c.reply.bulk(c.user);
}

const NO_ACLFILE =
  'ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.';

function load(c: Client): void {
  const file = c.server.config.getString('aclfile');
  if (file === '') {
    c.reply.error(NO_ACLFILE);
    return;
  }
  const err = aclOf(c.server).loadFile(file);
  if (err === null) c.reply.ok();
  else c.reply.error(`ERR ${err}`);
}

function save(c: Client): void {
  const file = c.server.config.getString('aclfile');
  if (file === '') {
    c.reply.error(NO_ACLFILE);
    return;
  }
  if (aclOf(c.server).saveFile(file)) c.reply.ok();
  else c.reply.error('ERR There was an error trying to save the ACLs. Please check the server logs for more information');
}

function cat(c: Client): void {
  if (c.argv.length === 2) {
    c.reply.array(CATEGORIES.length);
    for (const name of CATEGORIES) c.reply.bulk(name);
    return;
  }
  if (c.argv.length !== 3) {
    c.reply.error(`ERR unknown subcommand or wrong number of arguments for '${c.argv[1]!}'. Try ACL HELP.`);
    return;
  }
  const want = c.argv[2]!.toLowerCase();
  if (!(CATEGORIES as readonly string[]).includes(want)) {
    c.reply.error(`ERR Unknown category '${c.argv[2]!.slice(0, 128)}'`);
    return;
  }
  const names: string[] = [];
  for (const spec of aclOf(c.server).index.specs) if (spec.aclCategories.includes(want)) names.push(spec.fullName);
  c.reply.array(names.length);
  for (const n of names) c.reply.bulk(n);
}

function genpass(c: Client): void {
  let bits = 256;
  if (c.argv.length === 3) {
    const n = parseInteger(c.argv[2]!);
    if (n === null) {
      c.reply.error(INTEGER_ERR);
      return;
    }
    bits = n;
  } else if (c.argv.length > 3) {
    c.reply.error(`ERR unknown subcommand or wrong number of arguments for '${c.argv[1]!}'. Try ACL HELP.`);
    return;
  }
  if (bits <= 0 || bits > 4096) {
    c.reply.error('ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096');
    return;
  }
  const chars = Math.floor((bits + 3) / 4);
  c.reply.bulk(crypto.randomBytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars));
}

const REASONS: Record<number, string> = {
  [Denied.Cmd]: 'command',
  [Denied.Key]: 'key',
  [Denied.Channel]: 'channel',
  [Denied.Auth]: 'auth',
};

function log(c: Client): void {
  const acl = aclOf(c.server);
  let count = 10;
  if (c.argv.length === 3) {
    if (c.argv[2]!.toLowerCase() === 'reset') {
      acl.log.length = 0;
      c.reply.ok();
      return;
    }
    const n = parseInteger(c.argv[2]!);
    if (n === null) {
      c.reply.error(INTEGER_ERR);
      return;
    }
    count = Math.max(0, n);
  } else if (c.argv.length > 3) {
    c.reply.error(`ERR unknown subcommand or wrong number of arguments for '${c.argv[1]!}'. Try ACL HELP.`);
    return;
  }
  count = Math.min(count, acl.log.length);
  const now = c.server.clock.now();
  const r = c.reply;
  r.array(count);
  for (let i = 0; i < count; i++) {
    const e = acl.log[i]!;
    r.map(7);
    r.bulk('count');
    r.integer(e.count);
    r.bulk('reason');
    r.bulk(REASONS[e.reason] ?? 'unknown');
    r.bulk('context');
    r.bulk(e.context);
    r.bulk('object');
    r.bulk(e.object);
    r.bulk('username');
    r.bulk(e.username);
    r.bulk('age-seconds');
    r.double((now - e.ctime) / 1000);
    r.bulk('client-info');
    r.bulk(e.cinfo);
  }
}

function dryrun(c: Client): void {
  const acl = aclOf(c.server);
  const u = acl.users.get(c.argv[2]!);
  if (u === undefined) {
    c.reply.error(`ERR User '${c.argv[2]!}' not found`);
    return;
  }
  const argv = c.argv.slice(3);
  const spec = c.server.commands.resolve(argv);
  if (spec === undefined || spec.handler === null) {
    c.reply.error(`ERR Command '${argv[0]!}' not found`);
    return;
  }
  if ((spec.arity > 0 && spec.arity !== argv.length) || argv.length < -spec.arity) {
    c.reply.error(`ERR wrong number of arguments for '${spec.fullName}' command`);
    return;
  }
  const [res, pos] = acl.checkUser(u, spec, argv);
  if (res === Denied.Ok) c.reply.ok();
  else if (res === Denied.Cmd) c.reply.bulk(`This user has no permissions to run the '${spec.fullName}' command`);
  else if (res === Denied.Key) c.reply.bulk(`This user has no permissions to access the '${argv[pos]!}' key`);
  else c.reply.bulk(`This user has no permissions to access the '${argv[pos]!}' channel`);
}

function help(c: Client): void {
  replyHelp(c, [
    'CAT [<category>]',
    '    List all commands that belong to <category>, or all command categories',
    '    when no category is specified.',
    'DELUSER <username> [<username> ...]',
    '    Delete a list of users.',
    'DRYRUN <username> <command> [<arg> ...]',
    '    Returns whether the user can execute the given command without executing the command.',
    'GETUSER <username>',
    "    Get the user's details.",
    'GENPASS [<bits>]',
    '    Generate a secure 256-bit user password. The optional `bits` argument can',
    '    be used to specify a different size.',
    'LIST',
    '    Show users details in config file format.',
    'LOAD',
    '    Reload users from the ACL file.',
    'LOG [<count> | RESET]',
    '    Show the ACL log entries.',
    'SAVE',
    '    Save the current config to the ACL file.',
    'SETUSER <username> <attribute> [<attribute> ...]',
    '    Create or modify a user with the specified attributes.',
    'USERS',
    '    List all the registered usernames.',
    'WHOAMI',
    '    Return the current connection username.',
  ]);
}

export const commands: CommandHandlers = {
  'acl|setuser': setuser,
  'acl|getuser': getuser,
  'acl|deluser': deluser,
  'acl|list': list,
  'acl|users': users,
  'acl|whoami': whoami,
  'acl|load': load,
  'acl|save': save,
  'acl|cat': cat,
  'acl|genpass': genpass,
  'acl|log': log,
  'acl|dryrun': dryrun,
  'acl|help': help,
};
