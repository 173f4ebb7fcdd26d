/**
 * CONFIG GET / SET / RESETSTAT / REWRITE / HELP (config.c in Redis 7.0.15).
 *
 * GET takes several names or glob patterns and returns each matching directive once (aliases
 * are directives of their own; hidden ones only match by exact name). SET takes several
 * name/value pairs and is atomic: names are checked first, then every value is set, then the
 * apply steps run, and any failure restores all previous values (ConfigRegistry.setMany).
 * An apply step that must wait for the OS (binding a new port) holds the client's reply until
 * it is done, like any blocking command, so the reply still tells the truth.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { stringMatch } from '../keyspace/glob.js';
import { replyHelp } from './help.js';
import { rewriteConfigFile } from '../config/rewrite.js';
import { strerror } from '../config/directives.js';

function configGet(c: Client): void {
  const config = c.server.config;
  // Keyed by lowercase name so that a directive asked for twice is returned once.
  const matches = new Map<string, [string, string]>();
  for (let i = 2; i < c.argv.length; i++) {
    const pattern = c.argv[i]!;
    if (!/[[*?]/.test(pattern)) {
      const key = pattern.toLowerCase();
      if (matches.has(key)) continue;
      const canonical = config.resolve(pattern);
      if (canonical !== undefined) matches.set(key, [pattern, canonical]);
      continue;
    }
    for (const d of config.allDefs()) {
      if (d.hidden) continue;
      for (const name of [d.name, ...(d.aliases ?? [])]) {
        if (!matches.has(name) && stringMatch(pattern, name, true)) matches.set(name, [name, d.name]);
      }
    }
  }
  c.reply.map(matches.size);
  for (const [shown, canonical] of matches.values()) {
    c.reply.bulk(shown);
    c.reply.bulk(config.format(canonical));
  }
}

/** enable-protected-configs / enable-debug-command: yes, or local for loopback and unix clients. */
export function allowProtectedAction(c: Client, setting: string): boolean {
  if (setting === 'yes') return true;
  if (setting !== 'local') return false;
  const addr = c.remoteAddress;
  return addr === undefined || addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}

function configSet(c: Client): void {
  if (c.argv.length % 2 !== 0) {
    c.reply.error('ERR syntax error');
    return;
  }
  const pairs: [string, string][] = [];
  for (let i = 2; i < c.argv.length; i += 2) pairs.push([c.argv[i]!, c.argv[i + 1]!]);
  const config = c.server.config;
  // Every sensitive value is hidden from SLOWLOG and MONITOR, even when the command fails.
  for (let i = 2; i < c.argv.length; i += 2) if (config.def(c.argv[i]!)?.sensitive === true) c.redactArgument(i + 1);
  const allowProtected = allowProtectedAction(c, config.getString('enable-protected-configs'));
  const res = config.setMany(pairs, allowProtected, c.server.loading);
  if (res === null) {
    c.reply.ok();
    return;
  }
  if ('error' in res) {
    c.reply.error(res.error);
    return;
  }
  // An apply step is waiting for the OS. Inside EXEC or a script the reply cannot wait: answer
  // now and log a failure, if any.
  if (c.server.executionNesting > 1 || !c.networked) {
    c.reply.ok();
    void res.pending.then((err) => {
      if (err !== null) c.server.log.warning(`Failed applying new configuration: ${err}`);
    });
    return;
  }
  c.blocked = {
    kind: 'other',
    deadline: 0,
    onTimeout: () => {},
    onCancel: () => {},
  };
  void res.pending.then((err) => {
    if (c.closed) return;
    c.blocked = null;
    if (err === null) c.reply.ok();
    else c.reply.error(err);
    c.markPendingWrite();
    c.server.processInput(c);
  });
}

function configResetStat(c: Client): void {
  const s = c.server;
  const st = s.stats;
  st.totalCommands = 0;
  st.totalConnections = 0;
  st.expiredKeys = 0;
  st.expiredStalePerc = 0;
  st.expiredTimeCapReached = 0;
  st.evictedKeys = 0;
  st.lazyfreedObjects = 0;
  st.keyspaceMisses = 0;
  st.keyspaceHits = 0;
  st.rejectedConnections = 0;
  st.totalReadsProcessed = 0;
  st.totalWritesProcessed = 0;
  st.netInputBytes = 0;
  st.netOutputBytes = 0;
  st.unexpectedErrorReplies = 0;
  st.totalErrorReplies = 0;
  st.errorCodes.clear();
  st.instantaneous = { commands: [], netIn: [], netOut: [], lastSample: s.clock.monotonic(), lastCmd: 0, lastIn: 0, lastOut: 0 };
  for (const spec of s.commands.all()) {
    spec.stats.calls = 0;
    spec.stats.usec = 0;
    spec.stats.rejectedCalls = 0;
    spec.stats.failedCalls = 0;
  }
  for (const h of s.hooks.resetStats) h();
  c.reply.ok();
}

function configRewrite(c: Client): void {
  const s = c.server;
  if (s.configFile === '') {
    c.reply.error('ERR The server is running without a config file');
    return;
  }
  try {
    rewriteConfigFile(s.configFile, s.config, { sentinelMode: s.log.role === 'X' });
  } catch (e) {
    const text = strerror(e);
    s.log.warning(`CONFIG REWRITE failed: ${text}`);
    c.reply.error(`ERR Rewriting config file: ${text}`);
    return;
  }
  s.log.warning('CONFIG REWRITE executed with success.');
  c.reply.ok();
}

function configHelp(c: Client): void {
  replyHelp(c, [
    'GET <pattern>',
    '    Return parameters matching the glob-like <pattern> and their values.',
    'SET <directive> <value>',
    '    Set the configuration <directive> to <value>.',
    'RESETSTAT',
    '    Reset statistics reported by the INFO command.',
    'REWRITE',
    '    Rewrite the configuration file.',
  ]);
}

export const commands: CommandHandlers = {
  'config|get': configGet,
  'config|set': configSet,
  'config|resetstat': configResetStat,
  'config|rewrite': configRewrite,
  'config|help': configHelp,
};
