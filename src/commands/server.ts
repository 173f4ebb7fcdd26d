/**
 * Server administration commands: FLUSHALL, FLUSHDB, DBSIZE, TIME, LASTSAVE, ROLE, MONITOR,
 * SHUTDOWN, SLOWLOG, LATENCY. OBJECT and MEMORY (value introspection) live in object.ts and are
 * registered from here; INFO, COMMAND and DEBUG have their own files.
 *
 * Replies and error texts follow Redis 7.0.15 (db.c, server.c, slowlog.c, latency.c).
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import type { Server } from '../server/server.js';
import { SYNTAX } from '../protocol/errors.js';
import { parseInteger } from '../protocol/args.js';
import { commands as objectCommands } from './object.js';
import { replyHelp } from './help.js';
import { scriptingIfCreated } from '../scripting/engine.js';
import { latencyOf, latencyGraph, type LatencyHistogram } from '../server/latency.js';
import { emptyData } from '../keyspace/flush.js';

/**
 * True while the command runs inside EXEC or a script (Redis's CLIENT_DENY_BLOCKING). A client
 * served while a script is busy runs nested under that script, but is not inside it.
 */
function denyBlocking(c: Client): boolean {
  return c.server.executionNesting > 1 && scriptingIfCreated(c.server)?.busyError() == null;
}

// ---- FLUSHALL / FLUSHDB -------------------------------------------------------------------------

/** getFlushCommandFlags: [ASYNC|SYNC]; returns null after replying with a syntax error. */
function parseFlushFlags(c: Client): 'sync' | 'async' | null {
  if (c.argv.length === 1) return c.server.settings.lazyfreeLazyUserFlush ? 'async' : 'sync';
  if (c.argv.length === 2) {
    const a = c.argv[1]!.toLowerCase();
    if (a === 'sync' || a === 'async') return a;
  }
  c.reply.error(SYNTAX);
  return null;
}

/** Propagates the command even when nothing changed (forceCommandPropagation). */
function forcePropagation(c: Client): void {
  c.server.propagator.also(c.db.id, c.argv);
  c.preventPropagation = true;
}

function flushall(c: Client): void {
  const mode = parseFlushFlags(c);
  if (mode === null) return;
  const server = c.server;
  server.datasetChanged(emptyData(server, -1, mode === 'async'));
  for (const h of server.hooks.flushedAll) h();
  forcePropagation(c);
  c.reply.ok();
}

function flushdb(c: Client): void {
  const mode = parseFlushFlags(c);
  if (mode === null) return;
  c.db.counted(emptyData(c.server, c.db.id, mode === 'async'));
  forcePropagation(c);
  c.reply.ok();
}

// ---- Small informational commands ---------------------------------------------------------------

function dbsize(c: Client): void {
  c.reply.integer(c.db.dict.size);
}

function time(c: Client): void {
  const now = c.server.clock.now();
  const secs = Math.floor(now / 1000);
  c.reply.array(2);
  c.reply.bulk(String(secs));
  c.reply.bulk(String(Math.floor((now - secs * 1000) * 1000)));
}

function lastsave(c: Client): void {
  c.reply.integer(Math.floor(c.server.lastSave / 1000));
}

/** ROLE as a master with no replicas; the replication module registers its own handler. */
function role(c: Client): void {
  c.reply.array(3);
  c.reply.bulk('master');
  c.reply.integer(0);
  c.reply.emptyArray();
}

function monitor(c: Client): void {
  if (denyBlocking(c)) {
    c.reply.error("ERR MONITOR isn't allowed for DENY BLOCKING client");
    return;
  }
  // A replica link or a client already monitoring ignores MONITOR.
  if (c.kind === 'replica' || c.isMonitor) return;
  c.isMonitor = true;
  c.server.monitors.add(c);
  c.reply.ok();
}

// ---- SHUTDOWN -----------------------------------------------------------------------------------

/** How SHUTDOWN leaves the process; tests of the server in-process may replace it. */
export const shutdownExit = { exit: (code: number): void => process.exit(code) };

function shutdown(c: Client): void {
  let save: boolean | null = null;
  let nosave = false;
  let saveFlag = false;
  let now = false;
  let force = false;
  let abort = false;
  for (let i = 1; i < c.argv.length; i++) {
    const a = c.argv[i]!.toLowerCase();
    if (a === 'nosave') nosave = true;
    else if (a === 'save') saveFlag = true;
    else if (a === 'now') now = true;
    else if (a === 'force') force = true;
    else if (a === 'abort') abort = true;
    else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  if ((abort && (nosave || saveFlag || now || force)) || (nosave && saveFlag)) {
    c.reply.error(SYNTAX);
    return;
  }
  if (abort) {
    const server = c.server;
    if (server.hooks.shutdownAbort()) {
      server.shutdownAsap = null;
      c.reply.ok();
    } else if (server.shutdownAsap !== null) {
      // A signal asked for a shutdown that has not started yet: just forget it (abortShutdown).
      server.shutdownAsap = null;
      server.log.notice('Shutdown manually aborted.');
      c.reply.ok();
    } else {
      c.reply.error('ERR No shutdown in progress.');
    }
    return;
  }
  if (!now && denyBlocking(c)) {
    c.reply.error("ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client");
    return;
  }
  const server = c.server;
  // While a script is busy only SHUTDOWN NOSAVE may stop the server, and it must do so now:
  // the event loop is inside the script, so nothing asynchronous would ever run.
  const busy = scriptingIfCreated(server)?.busyError() ?? null;
  if (busy !== null) {
    if (!nosave) {
      c.reply.error(busy);
      return;
    }
    if (server.shutdownWhileBusy(force)) shutdownExit.exit(0);
    c.reply.error('ERR Errors trying to SHUTDOWN. Check logs.');
    return;
  }
  if (nosave) save = false;
  else if (saveFlag) save = true;
  // The shutdown may wait for lagging replicas: the client stays blocked (BLOCKED_SHUTDOWN),
  // its pipelined commands held, until the process exits or the shutdown fails or is aborted.
  const blocked = c.networked && server.executionNesting <= 1;
  if (blocked) c.blocked = { kind: 'other', deadline: 0, onTimeout: () => {}, onCancel: () => {} };
  void server.shutdown({ save, now, force }).then((ok) => {
    if (ok) {
      shutdownExit.exit(0);
      return;
    }
    if (!c.closed) {
      if (blocked) c.blocked = null;
      c.reply.error('ERR Errors trying to SHUTDOWN. Check logs.');
      c.markPendingWrite();
      if (blocked) server.processInput(c);
    }
  });
}

// ---- SLOWLOG ------------------------------------------------------------------------------------

function slowlogGet(c: Client): void {
  const log = c.server.slowlog;
  let count = 10;
  if (c.argv.length === 3) {
    const n = parseInteger(c.argv[2]!);
    if (n === null || n < -1) {
      c.reply.error('ERR count should be greater than or equal to -1');
      return;
    }
    count = n === -1 ? log.entries.length : n;
  }
  const entries = log.entries.slice(0, count);
  const r = c.reply;
  r.array(entries.length);
  for (const e of entries) {
    r.array(6);
    r.integer(e.id);
    r.integer(e.time);
    r.integer(e.durationUs);
    r.array(e.argv.length);
    for (const a of e.argv) r.bulk(a);
    r.bulk(e.peer);
    r.bulk(e.name);
  }
}

function slowlogLen(c: Client): void {
  c.reply.integer(c.server.slowlog.entries.length);
}

function slowlogReset(c: Client): void {
  c.server.slowlog.reset();
  c.reply.ok();
}

function slowlogHelp(c: Client): void {
  replyHelp(c, [
    'GET [<count>]',
    '    Return top <count> entries from the slowlog (default: 10, -1 mean all).',
    '    Entries are made of:',
    '    id, timestamp, time in microseconds, arguments array, client IP and port,',
    '    client name',
    'LEN',
    '    Return the length of the slowlog.',
    'RESET',
    '    Reset the slowlog.',
  ]);
}

// ---- LATENCY ------------------------------------------------------------------------------------

function latencyLatest(c: Client): void {
  const events = latencyOf(c.server).events;
  c.reply.array(events.size);
  for (const [event, ts] of events) {
    const last = ts.latest;
    c.reply.array(4);
    c.reply.bulk(event);
    c.reply.integer(last.time);
    c.reply.integer(last.latency);
    c.reply.integer(ts.max);
  }
}

function latencyHistory(c: Client): void {
  const ts = latencyOf(c.server).events.get(c.argv[2]!);
  if (ts === undefined) {
    c.reply.emptyArray();
    return;
  }
  c.reply.array(ts.samples.length);
  for (const s of ts.samples) {
    c.reply.array(2);
    c.reply.integer(s.time);
    c.reply.integer(s.latency);
  }
}

function latencyReset(c: Client): void {
  const state = latencyOf(c.server);
  if (c.argv.length === 2) {
    c.reply.integer(state.reset(null));
    return;
  }
  let n = 0;
  for (let i = 2; i < c.argv.length; i++) n += state.reset(c.argv[i]!);
  c.reply.integer(n);
}

function latencyGraphCmd(c: Client): void {
  const ts = latencyOf(c.server).events.get(c.argv[2]!);
  if (ts === undefined) {
    c.reply.error(`ERR No samples available for event '${c.argv[2]}'`);
    return;
  }
  c.reply.verbatim(latencyGraph(c.argv[2]!, ts, Math.floor(c.server.clock.now() / 1000)));
}

function latencyDoctor(c: Client): void {
  const state = latencyOf(c.server);
  const threshold = c.server.config.getNumber('latency-monitor-threshold');
  let report = '';
  if (state.events.size === 0 && threshold === 0) {
    report =
      'I\'m sorry, Dave, I can\'t do that. Latency monitoring is disabled in this Redis instance. You may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we weren\'t in a deep space mission I\'d suggest to take a look at https://redis.io/topics/latency-monitor.\n';
  } else if (state.events.size === 0) {
    report =
      'Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n';
  } else {
    report = "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n";
    let i = 0;
    for (const [event, ts] of state.events) {
      i++;
      const n = ts.samples.length;
      const avg = ts.samples.reduce((a, s) => a + s.latency, 0) / n;
      const mad = ts.samples.reduce((a, s) => a + Math.abs(s.latency - avg), 0) / n;
      const period = n > 1 ? (ts.samples[n - 1]!.time - ts.samples[0]!.time) / n : 0;
      report += `${i}. ${event}: ${n} latency spikes (average ${Math.floor(avg)}ms, mean deviation ${Math.floor(mad)}ms, period ${period.toFixed(2)} sec). Worst all time event ${ts.max}ms.\n`;
    }
    report +=
      "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n";
  }
  c.reply.verbatim(report);
}

function replyHistogram(c: Client, name: string, h: LatencyHistogram): void {
  const r = c.reply;
  r.bulk(name);
  r.map(2);
  r.bulk('calls');
  r.integer(h.total);
  r.bulk('histogram_usec');
  const cdf = h.cdf();
  r.map(cdf.length);
  for (const [usec, count] of cdf) {
    r.integer(usec);
    r.integer(count);
  }
}

function latencyHistogram(c: Client): void {
  const server = c.server;
  const state = latencyOf(server);
  const mark = c.reply.beginDeferred();
  let n = 0;
  if (c.argv.length === 2) {
    for (const spec of server.commands.all()) {
      const h = state.histogramOf(spec);
      if (h !== undefined) {
        replyHistogram(c, spec.fullName, h);
        n++;
      }
    }
  } else {
    for (let i = 2; i < c.argv.length; i++) {
      const spec = server.commands.lookupFullName(c.argv[i]!);
      if (spec === undefined) continue;
      const specs = [spec, ...(spec.subcommands?.values() ?? [])];
      for (const s of specs) {
        const h = state.histogramOf(s);
        if (h !== undefined) {
          replyHistogram(c, s.fullName, h);
          n++;
        }
      }
    }
  }
  c.reply.endDeferred(mark, 'map', n);
}

function latencyHelp(c: Client): void {
  replyHelp(c, [
    'DOCTOR',
    '    Return a human readable latency analysis report.',
    'GRAPH <event>',
    '    Return an ASCII latency graph for the <event> class.',
    'HISTORY <event>',
    '    Return time-latency samples for the <event> class.',
    'LATEST',
    '    Return the latest latency samples for all events.',
    'RESET [<event> ...]',
    '    Reset latency data of one or more <event> classes.',
    '    (default: reset all data for all event classes)',
    'HISTOGRAM [COMMAND ...]',
    '    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.',
    '    If no commands are specified then all histograms are replied.',
  ]);
}

export const commands: CommandHandlers = {
  flushall,
  flushdb,
  dbsize,
  time,
  lastsave,
  role,
  monitor,
  shutdown,
  'slowlog|get': slowlogGet,
  'slowlog|len': slowlogLen,
  'slowlog|reset': slowlogReset,
  'slowlog|help': slowlogHelp,
  'latency|latest': latencyLatest,
  'latency|history': latencyHistory,
  'latency|reset': latencyReset,
  'latency|graph': latencyGraphCmd,
  'latency|doctor': latencyDoctor,
  'latency|histogram': latencyHistogram,
  'latency|help': latencyHelp,
  ...objectCommands,
};
