/**
 * Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET (CLIENT lives in client.ts).
 *
 * Authentication follows Redis 7.0.15 without an ACL module: the `default` user is "nopass"
 * while requirepass is empty (any password is accepted for it) and otherwise needs requirepass;
 * other users are checked through `hooks.checkUserPassword`. A connection is authenticated at
 * creation when no password is required (clientSetDefaultAuth), so setting requirepass later
 * affects only new connections.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { REDIS_VERSION } from '../server/version.js';
import { parseInteger } from '../protocol/args.js';

export function ping(c: Client): void {
  if (c.argv.length > 2) {
    c.reply.error(`ERR wrong number of arguments for 'ping' command`);
    return;
  }
  if (c.inPubSubContext && c.resp === 2) {
    // In RESP2 subscribed mode PING answers with a pub/sub-shaped array.
    c.reply.array(2);
    c.reply.bulk('pong');
    c.reply.bulk(c.argv.length === 2 ? c.argv[1]! : '');
    return;
  }
  if (c.argv.length === 2) c.reply.bulk(c.argv[1]!);
  else c.reply.pong();
}

function echo(c: Client): void {
  c.reply.bulk(c.argv[1]!);
}

function quit(c: Client): void {
  c.reply.ok();
  c.server.closeAfterReply(c);
}

/** Parses a database index argument; replies with Redis's error and returns -1 when invalid. */
export function parseDbIndex(c: Client, arg: string): number {
  const id = parseInteger(arg);
  if (id === null) {
    c.reply.error('ERR value is not an integer or out of range');
    return -1;
  }
  // getIntFromObjectOrReply: the index must fit a C int before the range check.
  if (id < -2147483648 || id > 2147483647) {
    c.reply.error('ERR value is out of range, value must between -2147483648 and 2147483647');
    return -1;
  }
  if (id < 0 || id >= c.server.dbs.length) {
    c.reply.error('ERR DB index is out of range');
    return -1;
  }
  return id;
}

function select(c: Client): void {
  // A cluster has db 0 only.
  if (c.server.cluster !== null && parseInteger(c.argv[1]!) !== null && parseInteger(c.argv[1]!) !== 0) {
    c.reply.error('ERR SELECT is not allowed in cluster mode');
    return;
  }
  const id = parseDbIndex(c, c.argv[1]!);
  if (id < 0) return;
  c.db = c.server.dbs[id]!;
  c.reply.ok();
}

/**
 * Checks credentials as ACLAuthenticateUser does for the users nodis knows: `default` is
 * "nopass" (any password works) while requirepass is empty; other users belong to the ACL
 * module through `hooks.checkUserPassword`.
 */
export function checkPassword(c: Client, user: string, pass: string): boolean {
  const server = c.server;
  if (user !== 'default' || server.hooks.aclCheck !== null) return server.hooks.checkUserPassword(user, pass);
  const required = server.settings.requirepass;
  if (required === '') return !server.hooks.authRequired() || server.hooks.checkUserPassword(user, pass);
  return pass === required;
}

const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';

function auth(c: Client): void {
  const argv = c.argv;
  if (argv.length > 3) {
    c.reply.error('ERR syntax error');
    return;
  }
  // The password (and the username) never reach SLOWLOG or MONITOR (authCommand).
  c.redactArgument(1);
  if (argv.length === 3) c.redactArgument(2);
  if (argv.length === 2 && c.server.settings.requirepass === '' && !c.server.hooks.authRequired()) {
    c.reply.error('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
    return;
  }
  const user = argv.length === 3 ? argv[1]! : 'default';
  const pass = argv[argv.length - 1]!;
  if (checkPassword(c, user, pass)) {
    c.setAuthenticated(user);
    c.reply.ok();
  } else {
    c.reply.error(WRONGPASS);
  }
}

/** HELLO [protover [AUTH user pass] [SETNAME name]]: options take effect in order, as Redis. */
function hello(c: Client): void {
  const argv = c.argv;
  let ver = 0;
  let i = 1;
  if (argv.length >= 2) {
    const v = parseInteger(argv[1]!);
    if (v === null) {
      c.reply.error('ERR Protocol version is not an integer or out of range');
      return;
    }
    ver = v;
    i = 2;
    if (ver < 2 || ver > 3) {
      c.reply.error('NOPROTO unsupported protocol version');
      return;
    }
  }
  for (; i < argv.length; i++) {
    const opt = argv[i]!;
    const more = argv.length - i - 1;
    if (opt.toLowerCase() === 'auth' && more >= 2) {
      c.redactArgument(i + 1);
      c.redactArgument(i + 2);
      const user = argv[i + 1]!;
      if (!checkPassword(c, user, argv[i + 2]!)) {
        c.reply.error(WRONGPASS);
        return;
      }
      c.setAuthenticated(user);
      i += 2;
    } else if (opt.toLowerCase() === 'setname' && more >= 1) {
      const name = argv[i + 1]!;
      if (!validClientName(name)) {
        c.reply.error('ERR Client names cannot contain spaces, newlines or special characters.');
        return;
      }
      c.name = name;
      i += 1;
    } else {
      c.reply.error(`ERR Syntax error in HELLO option '${opt}'`);
      return;
    }
  }
  if (!c.authenticated) {
    c.reply.error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    return;
  }
  if (ver !== 0) c.reply.proto = ver as 2 | 3;
  const sentinel = c.server.log.role === 'X';
  const r = c.reply;
  r.map(sentinel ? 6 : 7);
  r.bulk('server');
  r.bulk('redis');
  r.bulk('version');
  r.bulk(REDIS_VERSION);
  r.bulk('proto');
  r.integer(c.resp);
  r.bulk('id');
  r.integer(c.id);
  r.bulk('mode');
  r.bulk(sentinel ? 'sentinel' : 'standalone');
  if (!sentinel) {
    r.bulk('role');
    r.bulk(c.server.role.isReplica() ? 'replica' : 'master');
  }
  r.bulk('modules');
  r.emptyArray();
}

/** Client names may not contain spaces or non-printable characters. */
export function validClientName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch < 0x21 || ch > 0x7e) return false;
  }
  return true;
}

/** RESET: back to a fresh connection's state (server.resetClient runs every module's undo step). */
function reset(c: Client): void {
  if ((c.kind === 'replica' && !c.isMonitor) || c.isMaster || c.kind === 'master') {
    c.reply.error('ERR can only reset normal client connections');
    return;
  }
  c.server.resetClient(c);
  c.reply.status('RESET');
}

export const commands: CommandHandlers = {
  ping,
  echo,
  quit,
  select,
  auth,
  hello,
  reset,
};
