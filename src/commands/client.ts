/**
 * CLIENT: connection introspection and control, as Redis 7.0.15's clientCommand (networking.c).
 *
 *   ID, INFO, LIST [TYPE t | ID id…], SETNAME, GETNAME, KILL (old `addr` form and the filter
 *   form), REPLY ON|OFF|SKIP, PAUSE/UNPAUSE, NO-EVICT, UNBLOCK, TRACKING, CACHING, GETREDIR,
 *   TRACKINGINFO, HELP.
 *
 * The CLIENT LIST line (`catClientInfoString`) is also what the server logs and what INFO-like
 * code prints, so `install()` publishes it as `server.hooks.clientInfo`.
 *
 * CLIENT REPLY only records the mode on the client; the dispatch loop (server.processInput)
 * drops whatever a command wrote while the mode is OFF or SKIP, which is how Redis's
 * prepareClientToWrite refusal looks from the outside. Replies of the SUBSCRIBE family are
 * pushes in Redis (CLIENT_PUSHING) and survive the silencing; `replyIsPush` tells the loop.
 *
 * Client-side caching: the TRACKING/CACHING/GETREDIR/TRACKINGINFO subcommands parse and
 * validate here, with networking.c's error texts; the tracking itself lives in
 * server/tracking.ts.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { CommandSpec } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';
import { validClientName } from './connection.js';
import { parseInteger } from '../protocol/args.js';
import { SYNTAX, NOT_INTEGER } from '../protocol/errors.js';
import { replyHelp, subcommandSyntaxError } from './help.js';
import { cancelBlock } from '../server/blocking.js';
import { clientMemory } from '../server/client-memory.js';
import {
  install as installTracking,
  clientTracking,
  enableTracking,
  disableTracking,
  trackingPrefixCollision,
} from '../server/tracking.js';

/** Redis's client types, as getClientType / getClientTypeByName. */
type ClientType = 'normal' | 'slave' | 'pubsub' | 'master';

function clientTypeByName(name: string): ClientType | null {
  switch (name.toLowerCase()) {
    case 'normal':
      return 'normal';
    case 'slave':
    case 'replica':
      return 'slave';
    case 'pubsub':
      return 'pubsub';
    case 'master':
      return 'master';
    default:
      return null;
  }
}

export function clientType(c: Client): ClientType {
  if (c.isMaster || c.kind === 'master') return 'master';
  // MONITOR clients are replicas inside Redis but are shown as normal clients.
  if (c.kind === 'replica' && !c.isMonitor) return 'slave';
  if (c.inPubSubContext) return 'pubsub';
  return 'normal';
}

function isUnixSocketClient(c: Client): boolean {
  const path = c.server.settings.unixSocket;
  return c.networked && path !== '' && c.addr === `${path}:0`;
}

/** One line of CLIENT LIST / CLIENT INFO, field for field as catClientInfoString (7.0.15). */
export function clientInfoLine(c: Client): string {
  const server = c.server;
  let flags = '';
  if (c.isMonitor) flags += 'O';
  else if (c.kind === 'replica') flags += 'S';
  if (c.isMaster || c.kind === 'master') flags += 'M';
  if (c.inPubSubContext) flags += 'P';
  if (c.multi !== null) flags += 'x';
  if (c.blocked !== null) flags += 'b';
  const tracking = clientTracking(c);
  const tracked = tracking !== undefined && tracking.on;
  if (tracked) {
    flags += 't';
    if (tracking.brokenRedirect) flags += 'R';
    if (tracking.bcast) flags += 'B';
  }
  if (c.watchDirty) flags += 'd';
  if (c.closeAfterReply) flags += 'c';
  if (c.closeAsap) flags += 'A';
  if (isUnixSocketClient(c)) flags += 'U';
  if (c.noEvict) flags += 'e';
  if (flags === '') flags = 'N';

  let events = '';
  if (c.networked && !c.closed) {
    events += 'r';
    if (c.socketQueued > 0) events += 'w';
  }

  const { qbuf, qbufFree, argvMem, multiMem, rbs, obl, oll, omem, total: totMem } = clientMemory(c);
  const nowSec = Math.floor(server.clock.now() / 1000);
  const age = nowSec - Math.floor(c.createdAt / 1000);
  const idle = nowSec - Math.floor(c.lastInteraction / 1000);
  const cmd = c.cmd ?? c.lastCmd;
  return (
    `id=${c.id} addr=${c.addr} laddr=${c.laddr} fd=${c.fd} name=${c.name} age=${age} idle=${idle} ` +
    `flags=${flags} db=${c.db.id} sub=${c.channels.size} psub=${c.patterns.size} ssub=${c.shardChannels.size} ` +
    `multi=${c.multi !== null ? c.multi.length : -1} qbuf=${qbuf} qbuf-free=${qbufFree} argv-mem=${argvMem} ` +
    `multi-mem=${multiMem} rbs=${rbs} rbp=${c.reply.len} obl=${obl} oll=${oll} omem=${omem} ` +
    `tot-mem=${totMem} events=${events} cmd=${cmd !== null ? cmd.fullName : 'NULL'} ` +
    `user=${c.fake ? '(superuser)' : c.user} redir=${tracked ? tracking.redirect : -1} resp=${c.resp}`
  );
}

/** The SUBSCRIBE family answers with pushes, which CLIENT REPLY OFF/SKIP does not silence. */
export function replyIsPush(spec: CommandSpec | null): boolean {
  if (spec === null) return false;
  switch (spec.fullName) {
    case 'subscribe':
    case 'psubscribe':
    case 'ssubscribe':
    case 'unsubscribe':
    case 'punsubscribe':
    case 'sunsubscribe':
      return true;
    default:
      return false;
  }
}

/**
 * Applies CLIENT REPLY after a command ran (the server calls this when the mode is not plain
 * ON): drops the command's output while OFF or SKIP, then moves SKIP along as Redis's
 * resetClient does (SKIP silences exactly one command, the one after CLIENT REPLY SKIP).
 */
export function applyReplyMode(c: Client, mark: number): void {
  if ((c.replyMode === 'off' || c.replyMode === 'skip') && c.reply.len >= mark && !replyIsPush(c.cmd)) {
    c.reply.truncate(mark);
  }
  if (c.replyMode === 'skip') c.replyMode = 'on';
  if (c.skipNextReply) {
    c.skipNextReply = false;
    if (c.replyMode === 'on') c.replyMode = 'skip';
  }
}

function listOf(server: Server, filter: (c: Client) => boolean): string {
  let out = '';
  for (const cl of server.clients.values()) {
    if (cl.fake || !filter(cl)) continue;
    out += clientInfoLine(cl) + '\n';
  }
  return out;
}

const HELP = [
  'CACHING (YES|NO)',
  '    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.',
  'GETREDIR',
  '    Return the client ID we are redirecting to when tracking is enabled.',
  'GETNAME',
  '    Return the name of the current connection.',
  'ID',
  '    Return the ID of the current connection.',
  'INFO',
  '    Return information about the current client connection.',
  'KILL <ip:port>',
  '    Kill connection made from <ip:port>.',
  'KILL <option> <value> [<option> <value> [...]]',
  '    Kill connections. Options are:',
  '    * ADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made from the specified address',
  '    * LADDR (<ip:port>|<unixsocket>:0)',
  '      Kill connections made to specified local address',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Kill connections by type.',
  '    * USER <username>',
  '      Kill connections authenticated by <username>.',
  '    * SKIPME (YES|NO)',
  '      Skip killing current connection (default: yes).',
  'LIST [options ...]',
  '    Return information about client connections. Options:',
  '    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)',
  '      Return clients of specified type.',
  'UNPAUSE',
  '    Stop the current client pause, resuming traffic.',
  'PAUSE <timeout> [WRITE|ALL]',
  '    Suspend all, or just write, clients for <timeout> milliseconds.',
  'REPLY (ON|OFF|SKIP)',
  '    Control the replies sent to the current connection.',
  'SETNAME <name>',
  '    Assign the name <name> to the current connection.',
  'UNBLOCK <clientid> [TIMEOUT|ERROR]',
  '    Unblock the specified blocked client.',
  'TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]',
  '         [OPTIN] [OPTOUT] [NOLOOP]',
  '    Control server assisted client side caching.',
  'TRACKINGINFO',
  '    Report tracking status for the current connection.',
  'NO-EVICT (ON|OFF)',
  '    Protect current client connection from eviction.',
];

function help(c: Client): void {
  replyHelp(c, HELP);
}

function id(c: Client): void {
  c.reply.integer(c.id);
}

function info(c: Client): void {
  c.reply.verbatim(clientInfoLine(c) + '\n');
}

function list(c: Client): void {
  const argv = c.argv;
  if (argv.length === 4 && argv[2]!.toLowerCase() === 'type') {
    const type = clientTypeByName(argv[3]!);
    if (type === null) {
      c.reply.error(`ERR Unknown client type '${argv[3]}'`);
      return;
    }
    c.reply.verbatim(listOf(c.server, (cl) => clientType(cl) === type));
    return;
  }
  if (argv.length > 3 && argv[2]!.toLowerCase() === 'id') {
    let out = '';
    for (let j = 3; j < argv.length; j++) {
      const cid = parseInteger(argv[j]!);
      if (cid === null) {
        c.reply.error('ERR Invalid client ID');
        return;
      }
      const cl = c.server.clients.get(cid);
      if (cl !== undefined && !cl.fake) out += clientInfoLine(cl) + '\n';
    }
    c.reply.verbatim(out);
    return;
  }
  if (argv.length !== 2) {
    c.reply.error(SYNTAX);
    return;
  }
  c.reply.verbatim(listOf(c.server, () => true));
}

function setname(c: Client): void {
  const name = c.argv[2]!;
  if (!validClientName(name)) {
    c.reply.error('ERR Client names cannot contain spaces, newlines or special characters.');
    return;
  }
  c.name = name;
  c.reply.ok();
}

function getname(c: Client): void {
  if (c.name !== '') c.reply.bulk(c.name);
  else c.reply.nullBulk();
}

function reply(c: Client): void {
  const mode = c.argv[2]!.toLowerCase();
  if (mode === 'on') {
    c.replyMode = 'on';
    c.skipNextReply = false;
    c.reply.ok();
  } else if (mode === 'off') {
    c.replyMode = 'off';
  } else if (mode === 'skip') {
    if (c.replyMode !== 'off') c.skipNextReply = true;
  } else {
    c.reply.error(SYNTAX);
  }
}

function noEvict(c: Client): void {
  const mode = c.argv[2]!.toLowerCase();
  if (mode === 'on') c.noEvict = true;
  else if (mode === 'off') c.noEvict = false;
  else {
    c.reply.error(SYNTAX);
    return;
  }
  c.reply.ok();
}

/** Parses a client id for CLIENT KILL ID: 1 … LONG_MAX. */
function parseKillId(arg: string): number | null {
  const n = parseInteger(arg);
  return n === null || n < 1 ? null : n;
}

function kill(c: Client): void {
  const argv = c.argv;
  const server = c.server;
  let addr: string | null = null;
  let laddr: string | null = null;
  let user: string | null = null;
  let type: ClientType | null = null;
  let cid = 0;
  let skipme = true;
  if (argv.length === 3) {
    // Old form: CLIENT KILL addr:port — and it may kill the caller itself.
    addr = argv[2]!;
    skipme = false;
  } else {
    for (let i = 2; i < argv.length; i += 2) {
      const opt = argv[i]!.toLowerCase();
      const value = argv[i + 1];
      if (value === undefined) {
        c.reply.error(SYNTAX);
        return;
      }
      if (opt === 'id') {
        const n = parseKillId(value);
        if (n === null) {
          c.reply.error('ERR client-id should be greater than 0');
          return;
        }
        cid = n;
      } else if (opt === 'type') {
        type = clientTypeByName(value);
        if (type === null) {
          c.reply.error(`ERR Unknown client type '${value}'`);
          return;
        }
      } else if (opt === 'addr') {
        addr = value;
      } else if (opt === 'laddr') {
        laddr = value;
      } else if (opt === 'user') {
        if (!userExists(server, value)) {
          c.reply.error(`ERR No such user '${value}'`);
          return;
        }
        user = value;
      } else if (opt === 'skipme') {
        const v = value.toLowerCase();
        if (v === 'yes') skipme = true;
        else if (v === 'no') skipme = false;
        else {
          c.reply.error(SYNTAX);
          return;
        }
      } else {
        c.reply.error(SYNTAX);
        return;
      }
    }
  }
  let killed = 0;
  let closeSelf = false;
  for (const cl of [...server.clients.values()]) {
    if (cl.fake) continue;
    if (addr !== null && cl.addr !== addr) continue;
    if (laddr !== null && cl.laddr !== laddr) continue;
    if (type !== null && clientType(cl) !== type) continue;
    if (cid !== 0 && cl.id !== cid) continue;
    if (user !== null && cl.user !== user) continue;
    if (cl === c) {
      if (skipme) continue;
      closeSelf = true;
    } else {
      server.freeClient(cl);
    }
    killed++;
  }
  if (argv.length === 3) {
    if (killed === 0) c.reply.error('ERR No such client');
    else c.reply.ok();
  } else {
    c.reply.integer(killed);
  }
  // Flagged only after the reply is queued, so the caller still reads it.
  if (closeSelf) server.closeAfterReply(c);
}

/** Users known to the server: `default`, and any user a connection authenticated as. */
function userExists(server: Server, name: string): boolean {
  if (name === 'default') return true;
  for (const cl of server.clients.values()) if (cl.user === name) return true;
  return false;
}

function unblock(c: Client): void {
  const argv = c.argv;
  if (argv.length !== 3 && argv.length !== 4) {
    subcommandSyntaxError(c);
    return;
  }
  let reason: 'unblock-timeout' | 'unblock-error' = 'unblock-timeout';
  if (argv.length === 4) {
    const r = argv[3]!.toLowerCase();
    if (r === 'timeout') reason = 'unblock-timeout';
    else if (r === 'error') reason = 'unblock-error';
    else {
      c.reply.error('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
      return;
    }
  }
  const target = parseInteger(argv[2]!);
  if (target === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  const cl = c.server.clients.get(target);
  if (cl === undefined || cl.blocked === null) {
    c.reply.zero();
    return;
  }
  // A client held by CLIENT PAUSE is "unblocked" only to be paused again: Redis answers 1.
  if (cl.blocked.kind === 'pause') {
    c.reply.one();
    return;
  }
  // Blocks without a cancel path (module-like waits) cannot be ended from outside.
  if (cancelBlock(cl, reason)) c.reply.one();
  else c.reply.zero();
}

function pause(c: Client): void {
  const argv = c.argv;
  if (argv.length !== 3 && argv.length !== 4) {
    subcommandSyntaxError(c);
    return;
  }
  let mode: 'write' | 'all' = 'all';
  if (argv.length === 4) {
    const m = argv[3]!.toLowerCase();
    if (m === 'write') mode = 'write';
    else if (m === 'all') mode = 'all';
    else {
      c.reply.error('ERR CLIENT PAUSE mode must be WRITE or ALL');
      return;
    }
  }
  const ms = parseInteger(argv[2]!);
  if (ms === null) {
    c.reply.error('ERR timeout is not an integer or out of range');
    return;
  }
  if (ms < 0) {
    c.reply.error('ERR timeout is negative');
    return;
  }
  // A zero timeout ends at once, but may still make a running pause more restrictive.
  if (ms > 0 || c.server.pause.mode !== null) c.server.pauseClients(mode, ms);
  c.reply.ok();
}

function unpause(c: Client): void {
  c.server.unpauseClients();
  c.reply.ok();
}

/**
 * CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p …] [OPTIN] [OPTOUT] [NOLOOP]: options
 * are parsed (and REDIRECT checked) first, then ON validates them against each other and the
 * client's current mode, in networking.c's order.
 */
function tracking(c: Client): void {
  const argv = c.argv;
  let redirect = 0;
  let bcast = false;
  let optin = false;
  let optout = false;
  let noloop = false;
  const prefixes: string[] = [];
  for (let j = 3; j < argv.length; j++) {
    const moreArgs = argv.length - 1 - j;
    const opt = argv[j]!.toLowerCase();
    if (opt === 'redirect' && moreArgs > 0) {
      j++;
      if (redirect !== 0) {
        c.reply.error('ERR A client can only redirect to a single other client');
        return;
      }
      const id = parseInteger(argv[j]!);
      if (id === null) {
        c.reply.error(NOT_INTEGER);
        return;
      }
      // The target must exist now, though it may go away later (tracking-redir-broken).
      if (c.server.clients.get(id) === undefined) {
        c.reply.error('ERR The client ID you want redirect to does not exist');
        return;
      }
      redirect = id;
    } else if (opt === 'bcast') {
      bcast = true;
    } else if (opt === 'optin') {
      optin = true;
    } else if (opt === 'optout') {
      optout = true;
    } else if (opt === 'noloop') {
      noloop = true;
    } else if (opt === 'prefix' && moreArgs > 0) {
      j++;
      prefixes.push(argv[j]!);
    } else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const mode = argv[2]!.toLowerCase();
  if (mode === 'on') {
    const error = trackingOptionsError(c, { bcast, optin, optout, prefixes });
    if (error !== null) {
      c.reply.error(error);
      return;
    }
    enableTracking(c, { redirect, bcast, optin, optout, noloop, prefixes });
  } else if (mode === 'off') {
    disableTracking(c);
  } else {
    c.reply.error(SYNTAX);
    return;
  }
  c.reply.ok();
}

/** The checks CLIENT TRACKING ON makes before enabling, or null when the options are fine. */
function trackingOptionsError(c: Client, o: { bcast: boolean; optin: boolean; optout: boolean; prefixes: string[] }): string | null {
  if (!o.bcast && o.prefixes.length > 0) return 'ERR PREFIX option requires BCAST mode to be enabled';
  const t = clientTracking(c);
  if (t !== undefined && t.on && t.bcast !== o.bcast) {
    return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.";
  }
  if (o.bcast && (o.optin || o.optout)) return 'ERR OPTIN and OPTOUT are not compatible with BCAST';
  if (o.optin && o.optout) return "ERR You can't specify both OPTIN mode and OPTOUT mode";
  if (t !== undefined && ((o.optin && t.optout) || (o.optout && t.optin))) {
    return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.";
  }
  return o.bcast ? trackingPrefixCollision(c, o.prefixes) : null;
}

/** CLIENT CACHING YES|NO: applies to the next command (or transaction) only. */
function caching(c: Client): void {
  const t = clientTracking(c);
  if (t === undefined || !t.on) {
    c.reply.error('ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled');
    return;
  }
  const opt = c.argv[2]!.toLowerCase();
  if (opt === 'yes') {
    if (!t.optin) {
      c.reply.error('ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.');
      return;
    }
  } else if (opt === 'no') {
    if (!t.optout) {
      c.reply.error('ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.');
      return;
    }
  } else {
    c.reply.error(SYNTAX);
    return;
  }
  t.caching = true;
  c.reply.ok();
}

function getredir(c: Client): void {
  const t = clientTracking(c);
  c.reply.integer(t !== undefined && t.on ? t.redirect : -1);
}

function trackinginfo(c: Client): void {
  const t = clientTracking(c);
  const on = t !== undefined && t.on;
  const flags = [on ? 'on' : 'off'];
  if (t !== undefined) {
    if (t.bcast) flags.push('bcast');
    if (t.optin) {
      flags.push('optin');
      if (t.caching) flags.push('caching-yes');
    }
    if (t.optout) {
      flags.push('optout');
      if (t.caching) flags.push('caching-no');
    }
    if (t.noloop) flags.push('noloop');
    if (t.brokenRedirect) flags.push('broken_redirect');
  }
  const r = c.reply;
  r.map(3);
  r.bulk('flags');
  r.set(flags.length);
  for (const f of flags) r.bulk(f);
  r.bulk('redirect');
  r.integer(on ? t.redirect : -1);
  r.bulk('prefixes');
  // In byte order, as Redis walks its radix tree.
  const prefixes = t?.prefixes ? [...t.prefixes].sort() : [];
  r.array(prefixes.length);
  for (const p of prefixes) r.bulk(p);
}

/** Publishes the CLIENT LIST line and keeps the unauthenticated protocol limits current. */
export function install(server: Server): void {
  server.hooks.clientInfo = clientInfoLine;
  installTracking(server);
  // Redis decides "authentication required" per request (authRequired()): a password set or
  // removed at runtime changes the limits of connections that have not authenticated.
  server.config.watch('requirepass', () => {
    const required = server.authRequired();
    for (const cl of server.clients.values()) cl.parser.limits.authRequired = required && !cl.authenticated;
  });
}

export const commands: CommandHandlers = {
  'client|help': help,
  'client|id': id,
  'client|info': info,
  'client|list': list,
  'client|setname': setname,
  'client|getname': getname,
  'client|reply': reply,
  'client|no-evict': noEvict,
  'client|kill': kill,
  'client|unblock': unblock,
  'client|pause': pause,
  'client|unpause': unpause,
  'client|tracking': tracking,
  'client|getredir': getredir,
  'client|trackinginfo': trackinginfo,
  'client|caching': caching,
};
