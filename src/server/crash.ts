/**
 * Crash reports, as debug.c writes them: the "REDIS BUG REPORT" block that operators paste into
 * issues and that tools (and Redis's own tests) grep the log for.
 *
 *  - A fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, while crash-log-enabled is yes)
 *    logs "Redis <version> crashed by signal: N, si_code: 0", the report, and then the process
 *    dies by that same signal (sigsegvHandler + bugReportEnd), so supervisors see the real cause.
 *    Node hands JS only signals raised with kill(2), which is why si_code is always SI_USER (0).
 *  - serverPanic / serverAssert (DEBUG PANIC, DEBUG ASSERT) log "Guru Meditation" or
 *    "ASSERTION FAILED" with the JS stack, the report, and abort() (SIGABRT, no second report).
 *
 * The report is INFO all, CLIENT LIST, the current client and the DEBUG_CONFIG directives.
 * Redis's register dump, code dump and memory test have no JS equivalent and are left out.
 */
import type { Server } from './server.js';
import { NODIS_VERSION, REDIS_VERSION } from './version.js';
import { genInfoString } from '../commands/info.js';
import fs from 'node:fs';
import { repr } from '../protocol/format.js';

const FATAL_SIGNALS: Record<string, number> = { SIGSEGV: 11, SIGBUS: 7, SIGFPE: 8, SIGILL: 4, SIGABRT: 6 };

/** The directives Redis marks DEBUG_CONFIG (logConfigDebugInfo), in config.c's order. */
const DEBUG_CONFIGS = [
  'io-threads-do-reads',
  'lazyfree-lazy-eviction',
  'lazyfree-lazy-expire',
  'lazyfree-lazy-server-del',
  'lazyfree-lazy-user-del',
  'lazyfree-lazy-user-flush',
  'repl-diskless-sync',
  'replica-read-only',
  'activedefrag',
  'repl-diskless-load',
  'sanitize-dump-payload',
  'io-threads',
  'list-compress-depth',
  'proto-max-bulk-len',
  'client-query-buffer-limit',
];

/** setupSignalHandlers: the crash handlers follow crash-log-enabled (also on CONFIG SET). */
export function installCrashHandlers(server: Server): void {
  const handlers = new Map<string, () => void>();
  for (const sig of Object.keys(FATAL_SIGNALS)) handlers.set(sig, () => crashedBySignal(server, sig));
  server.config.watch('crash-log-enabled', (enabled) => {
    for (const [sig, fn] of handlers) {
      process.off(sig, fn);
      if (enabled === true) process.on(sig, fn);
    }
  });
}

/** sigsegvHandler: the report, then death by the same signal. */
export function crashedBySignal(server: Server, sig: string): never {
  const num = FATAL_SIGNALS[sig] ?? 0;
  bugReportStart(server);
  server.log.warning(`nodis ${NODIS_VERSION} (Redis ${REDIS_VERSION} compatible) crashed by signal: ${num}, si_code: 0`);
  printCrashReport(server);
  bugReportEnd(server, sig);
}

/** DEBUG SEGFAULT: what a real fault would do (the report only while crash-log-enabled). */
export function debugSegfault(server: Server): never {
  if (server.config.getBool('crash-log-enabled')) crashedBySignal(server, 'SIGSEGV');
  dieBy('SIGSEGV');
}

/** serverPanic: "Guru Meditation", the report, abort(). */
export function serverPanic(server: Server, message: string): never {
  const where = callerLocation();
  bugReportStart(server);
  server.log.warning('------------------------------------------------');
  server.log.warning('!!! Software Failure. Press left mouse button to continue');
  server.log.warning(`Guru Meditation: ${message} #${where}`);
  if (server.config.getBool('crash-log-enabled')) {
    logStackTrace(server);
    printCrashReport(server);
  }
  bugReportEnd(server, null);
}

/** serverAssertWithInfo: the client context, "ASSERTION FAILED", the report, abort(). */
export function serverAssert(server: Server, expression: string): never {
  const where = callerLocation();
  const c = server.currentClient;
  bugReportStart(server);
  if (c !== null) {
    server.log.warning('=== ASSERTION FAILED CLIENT CONTEXT ===');
    server.log.warning(`client->conn = fd=${c.fd}`);
    server.log.warning(`client->argc = ${c.argv.length}`);
    c.argv.forEach((a, j) => server.log.warning(`client->argv[${j}] = "${a}"`));
  }
  server.log.warning('=== ASSERTION FAILED ===');
  server.log.warning(`==> ${where} '${expression}' is not true`);
  if (server.config.getBool('crash-log-enabled')) {
    logStackTrace(server);
    printCrashReport(server);
  }
  bugReportEnd(server, null);
}

let reportStarted = false;

function bugReportStart(server: Server): void {
  if (reportStarted) return;
  reportStarted = true;
  server.log.raw('\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===\n');
}

function logStackTrace(server: Server): void {
  const frames = (new Error().stack ?? '').split('\n').slice(3);
  server.log.raw(`\n------ STACK TRACE ------\n\nBacktrace:\n${frames.map((f) => f.trim()).join('\n')}\n`);
}

/** printCrashReport: INFO, CLIENT LIST, the current client, modules, DEBUG_CONFIG values. */
function printCrashReport(server: Server): void {
  const log = server.log;
  // Each part is best effort: a report that throws halfway is still worth its first half.
  const attempt = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      log.raw(`(crash report section failed: ${(e as Error).message})\n`);
    }
  };
  attempt(() => {
    log.raw('\n------ INFO OUTPUT ------\n');
    log.raw(genInfoString(server, ['all']));
    log.raw('\n------ CLIENT LIST OUTPUT ------\n');
    let list = '';
    for (const cl of server.clients.values()) if (!cl.fake) list += `${server.clientInfoString(cl)}\n`;
    log.raw(list);
  });
  attempt(() => {
    const cc = server.currentClient;
    if (cc === null) return;
    log.raw('\n------ CURRENT CLIENT INFO ------\n');
    log.raw(`${server.clientInfoString(cc)}\n`);
    cc.argv.forEach((a, j) => log.raw(`argv[${j}]: '${repr(a.slice(0, 128))}'\n`));
    if (cc.argv.length > 1 && cc.db.dict.has(cc.argv[1]!)) {
      log.warning(`key '${cc.argv[1]}' found in DB containing the following object:`);
    }
  });
  attempt(() => {
    log.raw('\n------ MODULES INFO OUTPUT ------\n');
    log.raw('\n------ CONFIG DEBUG OUTPUT ------\n');
    let text = '';
    for (const name of DEBUG_CONFIGS) if (server.config.resolve(name) !== undefined) text += `${name} ${server.config.format(name)}\n`;
    log.raw(text);
  });
}

/** bugReportEnd: the closing text, then death by `sig` (or abort() for panics and asserts). */
function bugReportEnd(server: Server, sig: string | null): never {
  server.log.raw(
    '\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n\n' +
      '       Please report the crash by opening an issue on github:\n\n' +
      '           http://github.com/redis/redis/issues\n\n' +
      "  If a Redis module was involved, please open in the module's repo instead.\n\n" +
      '  Suspect RAM error? Use redis-server --test-memory to verify it.\n\n' +
      '  Some other issues could be detected by redis-server --check-system\n',
  );
  const daemonized = server.config.getBool('daemonize') && server.config.getString('supervised') === 'no';
  const pidfile = server.config.getString('pidfile');
  if (daemonized && pidfile !== '') {
    try {
      fs.unlinkSync(pidfile);
    } catch {
      // already gone
    }
  }
  dieBy(sig);
}

/** Ends the process with `sig`'s default action (abort() when null or if the signal returns). */
function dieBy(sig: string | null): never {
  // No handler may catch what follows (removeSignalHandlers).
  for (const s of Object.keys(FATAL_SIGNALS)) process.removeAllListeners(s);
  if (sig !== null) process.kill(process.pid, sig);
  process.abort();
}

/** "file:line" of the caller of serverPanic / serverAssert, from the JS stack. */
function callerLocation(): string {
  const frame = (new Error().stack ?? '').split('\n')[3] ?? '';
  const m = /([^/\\() ]+):(\d+):\d+\)?\s*$/.exec(frame);
  return m === null ? 'unknown:0' : `${m[1]}:${m[2]}`;
}
