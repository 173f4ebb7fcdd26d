/**
 * Encoding thresholds belong to each server: two servers in one process (the API's in-process
 * use, tests) with different hash-max-listpack-entries, set-max-intset-entries,
 * zset-max-listpack-entries and stream-node-max-entries each encode by their own config —
 * for commands, RESTORE and DEBUG RELOAD. (They were process-wide objects bound to whichever
 * server's config wrote first.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ConfigRegistry } from '../src/config/registry.js';
import { DIRECTIVES } from '../src/config/directives.js';
import { CommandTable } from '../src/server/command-table.js';
import { allCommandHandlers } from '../src/commands/index.js';
import { Logger } from '../src/server/log.js';
import { Server } from '../src/server/server.js';
import { SystemClock, Random } from '../src/core/clock.js';
import { installModules } from '../src/server/modules.js';
import { freePort } from './helpers/server.js';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const f of cleanups.reverse()) await f();
});

async function inProcessServer(settings: [string, string][]): Promise<Redis> {
  const port = await freePort();
  const clock = new SystemClock();
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-limits-'));
  const base: [string, string][] = [['port', String(port)], ['bind', '127.0.0.1'], ['save', ''], ['enable-debug-command', 'yes'], ['dir', dir]];
  for (const [k, v] of [...base, ...settings]) config.set(k, [v], 'args');
  const server = new Server({ clock, random: new Random(port), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  await server.listen();
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  cleanups.push(async () => {
    client.disconnect();
    await server.shutdown({ save: false, now: true, force: true, signal: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return client;
}

async function encodings(r: Redis): Promise<string[]> {
  return Promise.all(['h', 's', 'z'].map((k) => r.object('ENCODING', k) as Promise<string>));
}

test('two servers in one process keep their own encoding limits (commands, RESTORE, DEBUG RELOAD)', async () => {
  const small = await inProcessServer([
    ['hash-max-listpack-entries', '2'],
    ['set-max-intset-entries', '2'],
    ['zset-max-listpack-entries', '2'],
    ['stream-node-max-entries', '2'],
  ]);
  const dflt = await inProcessServer([]);
  for (const r of [small, dflt]) {
    await r.hset('h', 'a', '1', 'b', '2', 'c', '3');
    await r.sadd('s', '1', '2', '3');
    await r.zadd('z', 1, 'a', 2, 'b', 3, 'c');
    for (let i = 1; i <= 5; i++) await r.xadd('x', `${i}-0`, 'f', 'v');
  }
  assert.deepEqual(await encodings(small), ['hashtable', 'hashtable', 'skiplist']);
  assert.deepEqual(await encodings(dflt), ['listpack', 'intset', 'listpack']);
  const nodes = async (r: Redis): Promise<unknown> => {
    const reply = (await r.call('XINFO', 'STREAM', 'x')) as unknown[];
    return reply[reply.indexOf('radix-tree-keys') + 1];
  };
  assert.equal(await nodes(small), 3);
  assert.equal(await nodes(dflt), 1);

  // CONFIG SET on one server leaves the other alone.
  await small.config('SET', 'hash-max-listpack-entries', '1000');
  await dflt.config('SET', 'set-max-intset-entries', '1');
  await small.hset('h2', 'a', '1', 'b', '2', 'c', '3');
  await dflt.sadd('s2', '1', '2');
  await small.sadd('s2', '1', '2');
  assert.equal(await small.object('ENCODING', 'h2'), 'listpack');
  assert.equal(await dflt.object('ENCODING', 's2'), 'hashtable');
  assert.equal(await small.object('ENCODING', 's2'), 'intset');

  // RESTORE and DEBUG RELOAD encode by the loading server's limits.
  const dump = await dflt.dumpBuffer('z');
  await small.restore('zr', 0, dump);
  assert.equal(await small.object('ENCODING', 'zr'), 'skiplist');
  await small.call('DEBUG', 'RELOAD');
  assert.equal(await small.object('ENCODING', 'z'), 'skiplist');
  assert.equal(await nodes(small), 3);
  await dflt.call('DEBUG', 'RELOAD');
  assert.deepEqual(await encodings(dflt), ['listpack', 'hashtable', 'listpack']);
  assert.equal(await nodes(dflt), 1);
});
