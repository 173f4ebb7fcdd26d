/**
 * Connection commands: PING, ECHO, QUIT, SELECT, AUTH, HELLO, RESET.
 * (CLIENT lives in client.ts.)
 */
import type { CommandHandlers } from './registry.js';
import type { Client } from '../server/client.js';
import { REDIS_VERSION } from '../server/version.js';

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
  if (!/^-?\d+$/.test(arg)) {
    c.reply.error('ERR value is not an integer or out of range');
    return -1;
  }
  const id = Number(arg);
  if (id < 0 || id >= c.server.dbs.length) {
    c.reply.error('ERR DB index is out of range');
    return -1;
  }
  return id;
}

function select(c: Client): void {
  const id = parseDbIndex(c, c.argv[1]!);
  if (id < 0) return;
  c.db = c.server.dbs[id]!;
  c.reply.ok();
}

/** Checks a password for a user; the ACL module may replace this. */
export function checkPassword(c: Client, user: string, pass: string): boolean {
  const server = c.server;
  if (user !== 'default') return server.hooks.checkUserPassword(user, pass);
  const required = server.settings.requirepass;
  if (required === '') return server.hooks.checkUserPassword(user, pass);
  return pass === required;
}

function auth(c: Client): void {
  const argv = c.argv;
  if (argv.length > 3) {
    c.reply.error('ERR syntax error');
    return;
  }
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
    c.server.log.verbose(`Failed authentication attempt for user ${user}`);
    c.reply.error('WRONGPASS invalid username-password pair or user is disabled.');
  }
}

function hello(c: Client): void {
  const argv = c.argv;
  let ver = 0;
  let i = 1;
  if (argv.length >= 2) {
    const v = argv[1]!;
    if (!/^-?\d+$/.test(v)) {
      c.reply.error('ERR Protocol version is not an integer or out of range');
      return;
    }
    ver = Number(v);
    i = 2;
    if (ver < 2 || ver > 3) {
      c.reply.error('NOPROTO unsupported protocol version');
      return;
    }
  }
  let setName: string | null = null;
  for (; i < argv.length; i++) {
    const opt = argv[i]!.toLowerCase();
    const more = argv.length - i - 1;
    if (opt === 'auth' && more >= 2) {
      const user = argv[i + 1]!;
      const pass = argv[i + 2]!;
      if (!checkPassword(c, user, pass)) {
        c.reply.error('WRONGPASS invalid username-password pair or user is disabled.');
        return;
      }
      c.setAuthenticated(user);
      i += 2;
    } else if (opt === 'setname' && more >= 1) {
      setName = argv[i + 1]!;
      if (!validClientName(setName)) {
        c.reply.error('ERR Client names cannot contain spaces, newlines or special characters.');
        return;
      }
      i += 1;
    } else {
      c.reply.error(`ERR Syntax error in HELLO option '${argv[i]}'`);
      return;
    }
  }
  if (!c.authenticated) {
    c.reply.error('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
    return;
  }
  if (setName !== null) c.name = setName;
  if (ver !== 0) c.reply.proto = ver as 2 | 3;
  const r = c.reply;
  r.map(7);
  r.bulk('server');
  r.bulk('redis');
  r.bulk('version');
  r.bulk(REDIS_VERSION);
  r.bulk('proto');
  r.integer(c.resp);
  r.bulk('id');
  r.integer(c.id);
  r.bulk('mode');
  r.bulk(c.server.log.role === 'X' ? 'sentinel' : 'standalone');
  r.bulk('role');
  r.bulk(c.server.role.isReplica() ? 'replica' : 'master');
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

function reset(c: Client): void {
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
