/**
 * sentinel.conf: reading `sentinel …` directives into a `Sentinel`, and writing its state back
 * (sentinelHandleConfiguration / rewriteConfigSentinelOption in sentinel.c). Directive names are
 * case-insensitive (the seed writes `Sentinel monitor`). The rewrite keeps every non-sentinel
 * line of the file as written and replaces the sentinel lines with the current state, so a
 * restarted sentinel remembers its id, epochs, votes, replicas and peers. Writing is atomic
 * (temp file + fsync + rename + directory fsync), as Redis's rewriteConfig does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { splitArgs } from '../protocol/parser.js';
import { Instance, SRI_SENTINEL, SRI_SLAVE } from './instance.js';
import type { Sentinel } from './sentinel.js';
import { sameAddr } from './transport.js';

/** Applies one `sentinel <args…>` directive; returns Redis's error text, or null. */
export function applySentinelDirective(s: Sentinel, args: string[]): string | null {
  const sub = (args[0] ?? '').toLowerCase();
  const n = args.length;
  const master = (): Instance | null => s.masters.get(args[1] ?? '') ?? null;
  const noMaster = 'No such master with specified name.';
  const int = (t: string | undefined): number | null => {
    if (t === undefined || !/^-?\d+$/.test(t)) return null;
    const v = Number(t);
    return Number.isSafeInteger(v) ? v : null;
  };
  switch (sub) {
    case 'monitor': {
      if (n !== 5) return 'Wrong number of arguments for sentinel monitor';
      const port = int(args[3]);
      const quorum = int(args[4]);
      if (port === null || port < 0 || port > 65535 || quorum === null) return 'Invalid port or quorum';
      if (quorum <= 0) return 'Quorum must be 1 or greater.';
      const err = s.monitor(args[1]!, { host: args[2]!, port }, quorum, false);
      return err === null ? null : err.replace(/^ERR /, '');
    }
    case 'down-after-milliseconds':
    case 'failover-timeout':
    case 'parallel-syncs':
    case 'master-reboot-down-after-period': {
      if (n !== 3) return `Wrong number of arguments for sentinel ${sub}`;
      const m = master();
      if (m === null) return noMaster;
      const v = int(args[2]);
      if (v === null || v < 0 || (v === 0 && sub !== 'master-reboot-down-after-period')) return `Invalid ${sub} value`;
      if (sub === 'down-after-milliseconds') {
        m.downAfterPeriod = v;
        for (const ri of [...m.replicas.values(), ...m.sentinels.values()]) ri.downAfterPeriod = v;
      } else if (sub === 'failover-timeout') m.failoverTimeout = v;
      else if (sub === 'parallel-syncs') m.parallelSyncs = v;
      else m.masterRebootDownAfterPeriod = v;
      return null;
    }
    case 'notification-script':
    case 'client-reconfig-script': {
      if (n !== 3) return `Wrong number of arguments for sentinel ${sub}`;
      const m = master();
      if (m === null) return noMaster;
      // Redis checks access(X_OK) when the file is read, not when the script runs.
      if (sub === 'notification-script') {
        if (!s.scripts.runner.isExecutable(args[2]!)) return 'Notification script seems non existing or non executable.';
        m.notificationScript = args[2]!;
      } else {
        if (!s.scripts.runner.isExecutable(args[2]!)) return 'Client reconfiguration script seems non existing or non executable.';
        m.clientReconfigScript = args[2]!;
      }
      return null;
    }
    case 'auth-pass':
    case 'auth-user': {
      if (n !== 3) return `Wrong number of arguments for sentinel ${sub}`;
      const m = master();
      if (m === null) return noMaster;
      if (sub === 'auth-pass') m.authPass = args[2]!;
      else m.authUser = args[2]!;
      return null;
    }
    case 'config-epoch':
    case 'leader-epoch': {
      if (n !== 3) return `Wrong number of arguments for sentinel ${sub}`;
      const m = master();
      if (m === null) return noMaster;
      const v = int(args[2]) ?? 0;
      if (sub === 'config-epoch') {
        m.configEpoch = v;
        if (v > s.currentEpoch) s.currentEpoch = v;
      } else {
        m.leaderEpoch = v;
      }
      return null;
    }
    case 'known-slave':
    case 'known-replica': {
      if (n !== 4) return `Wrong number of arguments for sentinel ${sub}`;
      const m = master();
      if (m === null) return noMaster;
      const port = int(args[3]);
      if (port === null) return 'Wrong hostname or port for replica.';
      const name = `${args[2]}:${port}`;
      if (!m.replicas.has(name)) m.replicas.set(name, new Instance(SRI_SLAVE, name, { host: args[2]!, port }, m, s.now()));
      return null;
    }
    case 'known-sentinel': {
      if (n !== 4 && n !== 5) return `Wrong number of arguments for sentinel ${sub}`;
      const m = master();
      if (m === null) return noMaster;
      const port = int(args[3]);
      if (port === null) return 'Wrong hostname or port for sentinel.';
      const name = `${args[2]}:${port}`;
      const si = new Instance(SRI_SENTINEL, name, { host: args[2]!, port }, m, s.now());
      if (n === 5) si.runId = args[4]!;
      m.sentinels.set(name, si);
      return null;
    }
    case 'rename-command': {
      if (n !== 4) return 'Wrong number of arguments for sentinel rename-command';
      const m = master();
      if (m === null) return noMaster;
      // Commands sent to this master and its replicas use the renamed name (sentinelInstanceMapCommand).
      m.renamedCommands.delete(args[2]!.toLowerCase());
      if (args[2]!.toLowerCase() !== args[3]!.toLowerCase()) m.renamedCommands.set(args[2]!.toLowerCase(), args[3]!);
      return null;
    }
    case 'myid':
      if (n !== 2) return 'Wrong number of arguments for sentinel myid';
      if (args[1]!.length !== 40) return 'Malformed Sentinel id in myid option.';
      s.myid = args[1]!;
      return null;
    case 'current-epoch': {
      if (n !== 2) return 'Wrong number of arguments for sentinel current-epoch';
      const v = int(args[1]) ?? 0;
      if (v > s.currentEpoch) s.currentEpoch = v;
      return null;
    }
    case 'announce-ip':
      if (n !== 2) return 'Wrong number of arguments for sentinel announce-ip';
      s.announceIp = args[1]! === '' ? null : args[1]!;
      return null;
    case 'announce-port': {
      if (n !== 2) return 'Wrong number of arguments for sentinel announce-port';
      const v = int(args[1]);
      if (v === null || v < 0 || v > 65535) return 'Invalid port';
      s.announcePort = v;
      return null;
    }
    case 'deny-scripts-reconfig':
    case 'resolve-hostnames':
    case 'announce-hostnames': {
      if (n !== 2) return `Wrong number of arguments for sentinel ${sub}`;
      const v = yesNo(args[1]!);
      // (Redis's text for deny-scripts-reconfig says "options".)
      if (v === null) return `Please specify yes or no for the ${sub} option${sub === 'deny-scripts-reconfig' ? 's' : ''}.`;
      if (sub === 'deny-scripts-reconfig') s.denyScriptsReconfig = v;
      else if (sub === 'resolve-hostnames') s.resolveHostnames = v;
      else s.announceHostnames = v;
      return null;
    }
    case 'sentinel-user':
      if (n !== 2) return 'Wrong number of arguments for sentinel sentinel-user';
      s.sentinelAuthUser = args[1]! === '' ? null : args[1]!;
      return null;
    case 'sentinel-pass':
      if (n !== 2) return 'Wrong number of arguments for sentinel sentinel-pass';
      s.sentinelAuthPass = args[1]! === '' ? null : args[1]!;
      return null;
    default:
      return 'Unrecognized sentinel configuration statement.';
  }
}

function yesNo(v: string): boolean | null {
  const l = v.toLowerCase();
  return l === 'yes' ? true : l === 'no' ? false : null;
}

/** Quotes an argument the way the config grammar reads it back. */
function q(v: string): string {
  return /^[!-~]+$/.test(v) && !/["'\\]/.test(v) ? v : JSON.stringify(v);
}

/** The `sentinel …` lines describing the current state, in Redis's rewrite order. */
export function sentinelStateLines(s: Sentinel): string[] {
  const out: string[] = [`sentinel myid ${s.myid}`];
  for (const m of s.masters.values()) {
    // The current address: mid-failover (after promotion) that is the promoted replica, so a
    // sentinel restarted then agrees with the config epoch it already persisted.
    const current = s.currentMasterAddr(m);
    out.push(`sentinel monitor ${q(m.name)} ${s.announce(current.host)} ${current.port} ${m.quorum}`);
    if (m.downAfterPeriod !== 30000) out.push(`sentinel down-after-milliseconds ${q(m.name)} ${m.downAfterPeriod}`);
    if (m.failoverTimeout !== 180000) out.push(`sentinel failover-timeout ${q(m.name)} ${m.failoverTimeout}`);
    if (m.parallelSyncs !== 1) out.push(`sentinel parallel-syncs ${q(m.name)} ${m.parallelSyncs}`);
    if (m.notificationScript !== null) out.push(`sentinel notification-script ${q(m.name)} ${q(m.notificationScript)}`);
    if (m.clientReconfigScript !== null) out.push(`sentinel client-reconfig-script ${q(m.name)} ${q(m.clientReconfigScript)}`);
    if (m.authPass !== null) out.push(`sentinel auth-pass ${q(m.name)} ${q(m.authPass)}`);
    if (m.authUser !== null) out.push(`sentinel auth-user ${q(m.name)} ${q(m.authUser)}`);
    for (const [from, to] of m.renamedCommands) out.push(`sentinel rename-command ${q(m.name)} ${q(from)} ${q(to)}`);
    if (m.masterRebootDownAfterPeriod !== 0) out.push(`sentinel master-reboot-down-after-period ${q(m.name)} ${m.masterRebootDownAfterPeriod}`);
    out.push(`sentinel config-epoch ${q(m.name)} ${m.configEpoch}`);
    out.push(`sentinel leader-epoch ${q(m.name)} ${m.leaderEpoch}`);
    for (const r of m.replicas.values()) {
      // The promoted replica is now the master; the old master takes its place as a replica.
      const a = sameAddr(r.addr, current) ? m.addr : r.addr;
      out.push(`sentinel known-replica ${q(m.name)} ${s.announce(a.host)} ${a.port}`);
    }
    for (const p of m.sentinels.values()) {
      if (p.runId === null) continue;
      out.push(`sentinel known-sentinel ${q(m.name)} ${s.announce(p.addr.host)} ${p.addr.port} ${p.runId}`);
    }
  }
  out.push(`sentinel current-epoch ${s.currentEpoch}`);
  if (s.announceIp !== null) out.push(`sentinel announce-ip ${q(s.announceIp)}`);
  if (s.announcePort !== 0) out.push(`sentinel announce-port ${s.announcePort}`);
  if (s.sentinelAuthUser !== null) out.push(`sentinel sentinel-user ${q(s.sentinelAuthUser)}`);
  if (s.sentinelAuthPass !== null) out.push(`sentinel sentinel-pass ${q(s.sentinelAuthPass)}`);
  if (!s.denyScriptsReconfig) out.push('sentinel deny-scripts-reconfig no');
  if (s.resolveHostnames) out.push('sentinel resolve-hostnames yes');
  if (s.announceHostnames) out.push('sentinel announce-hostnames yes');
  return out;
}

const GENERATED_MARKER = '# Generated by CONFIG REWRITE';

/** The new file text: the old non-sentinel lines, then the generated state block. */
export function rewriteSentinelConfig(oldText: string, s: Sentinel, extraLines: string[] = []): string {
  // Redis's rewriteConfigRewriteLine(): each generated line takes over the first unused old line
  // of the same option ("sentinel <sub>" is one option, "port" another), so comments and the
  // order of the user's file survive; options with no old slot are appended after the marker,
  // and old slots left unused disappear.
  const optionOf = (line: string): string | null => {
    const words = splitArgs(line.trim());
    if (words === null || words.length === 0 || words[0]!.startsWith('#')) return null;
    const first = words[0]!.toLowerCase();
    return first === 'sentinel' ? `sentinel ${(words[1] ?? '').toLowerCase()}` : first;
  };
  const generated = [...extraLines, ...sentinelStateLines(s)];
  const managed = new Set(generated.map((l) => optionOf(l)!));
  for (const l of oldText.split('\n')) {
    const o = optionOf(l);
    if (o !== null && o.startsWith('sentinel ')) managed.add(o);
  }
  const lines: (string | null)[] = [];
  const slots = new Map<string, number[]>();
  let hasMarker = false;
  for (const line of oldText.split('\n')) {
    if (line.trim() === GENERATED_MARKER) hasMarker = true;
    const o = optionOf(line);
    if (o !== null && managed.has(o)) {
      let list = slots.get(o);
      if (list === undefined) slots.set(o, (list = []));
      list.push(lines.length);
      lines.push(null);
    } else lines.push(line);
  }
  const appended: string[] = [];
  for (const g of generated) {
    const free = slots.get(optionOf(g)!);
    if (free !== undefined && free.length > 0) lines[free.shift()!] = g;
    else appended.push(g);
  }
  const kept = lines.filter((l): l is string => l !== null);
  while (kept.length > 0 && kept[kept.length - 1]!.trim() === '') kept.pop();
  const body = appended.length > 0 ? [...kept, ...(hasMarker ? [] : [GENERATED_MARKER]), ...appended] : kept;
  return body.join('\n') + '\n';
}

/** Writes `text` to `file` atomically and durably. */
export function writeFileDurably(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, text, null, 'latin1');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic.
  }
}

/** Options applied before any `sentinel monitor` line (Redis's preMonitorCfgName). */
const PRE_MONITOR = new Set(['announce-ip', 'announce-port', 'deny-scripts-reconfig', 'sentinel-user', 'sentinel-pass', 'current-epoch', 'myid', 'resolve-hostnames', 'announce-hostnames']);

/**
 * Applies the `sentinel …` lines of a config file in Redis's three passes (global options, then
 * `monitor` lines, then everything else), so a master's settings may precede its monitor line.
 * Throws with Redis's FATAL CONFIG FILE ERROR text on the first bad line.
 */
export function loadSentinelLines(s: Sentinel, text: string): void {
  const lines = text.split('\n');
  const passes: { line: string; lineNo: number; args: string[] }[][] = [[], [], []];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = splitArgs(line);
    if (words === null || words.length === 0) continue;
    if (words[0]!.toLowerCase() !== 'sentinel' || words.length < 2) continue;
    const sub = words[1]!.toLowerCase();
    const pass = PRE_MONITOR.has(sub) ? 0 : sub === 'monitor' ? 1 : 2;
    passes[pass]!.push({ line, lineNo: i + 1, args: words.slice(1) });
  }
  for (const entry of passes.flat()) {
    const err = applySentinelDirective(s, entry.args);
    if (err !== null) {
      throw new Error(`\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line ${entry.lineNo}\n>>> '${entry.line}'\n${err}`);
    }
  }
}
