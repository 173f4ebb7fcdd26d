/**
 * What start-up leaves for first use (docs/PERFORMANCE.md "Start-up"): the package's server
 * parses redis-command-core.json (the command table without its documentation) and reads the
 * whole table on the first COMMAND DOCS / INFO; the V8 code cache is written after the first
 * command (or a second after "ready" without one). Each is checked on a fresh bin/nodis-server
 * whose very first command needs the lazy part, against redis-server byte for byte.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';
import { startServer, stopAll, rawExchange } from './helpers/server.js';
import { startRedis, encodeCommand, replyEnd } from './helpers/redis-compare.js';

after(stopAll);

const PKG = fileURLToPath(new URL('../pkg/', import.meta.url));

/** Sends one command on a fresh connection and returns its complete reply's bytes. */
function exchange(port: number, argv: string[]): Promise<string> {
  return rawExchange(port, encodeCommand(argv), (r) => replyEnd(r, 0) === r.length, 20000);
}

test('the package ships the command table twice: whole, and without the documentation', () => {
  const whole = JSON.parse(fs.readFileSync(path.join(PKG, 'redis-command-table.json'), 'utf8')).commands;
  const core = JSON.parse(fs.readFileSync(path.join(PKG, 'redis-command-core.json'), 'utf8')).commands;
  assert.deepEqual(Object.keys(core), Object.keys(whole));
  assert.equal(whole.get.summary, 'Get the value of a key');
  assert.equal(core.get.summary, undefined);
  assert.equal(core.get.arguments, undefined);
  assert.deepEqual(core.get.key_specs, whole.get.key_specs);
  assert.deepEqual(core.keys.command_tips, whole.keys.command_tips);
  assert.deepEqual(Object.keys(core.config.subcommands), Object.keys(whole.config.subcommands));
  assert.equal(core.config.subcommands.get.arguments, undefined);
});

// Each case starts its own nodis-server so that the command runs first, before anything loaded the docs.
const FIRST_COMMANDS: string[][] = [
  ['COMMAND', 'DOCS', 'get', 'config|get', 'set', 'xadd', 'rpoplpush', 'eval'],
  ['COMMAND', 'INFO', 'keys', 'config|set', 'sort', 'zadd', 'object|freq'],
  ['COMMAND', 'GETKEYSANDFLAGS', 'lmove', 'a', 'b', 'left', 'right'],
  ['COMMAND', 'DOCS'],
  ['ACL', 'CAT', 'dangerous'],
  ['ACL', 'DRYRUN', 'default', 'config', 'get', 'maxmemory'],
];

for (const argv of FIRST_COMMANDS) {
  test(`a fresh server's first command ${argv.slice(0, 3).join(' ')} answers as redis-server does`, async () => {
    const redis = await startRedis();
    const nodis = await startServer();
    try {
      const want = await exchange(redis.port, argv);
      const got = await exchange(nodis.port, argv);
      if (argv.length === 2) {
        // Every command's docs: nodis has fewer commands; each one it has is documented as in Redis.
        assert.ok(got.length > 100000, `COMMAND DOCS replied ${got.length} bytes`);
        assert.ok(got.includes('$22\r\nGet the value of a key\r\n'));
      } else if (argv[0] === 'ACL') {
        // ACL CAT lists in the order of Redis's command dict; the same names.
        assert.deepEqual(got.split('\r\n').sort(), want.split('\r\n').sort());
      } else {
        assert.equal(got, want);
      }
      // The same again on the same server, now with the docs loaded.
      assert.equal(await exchange(nodis.port, argv), got);
    } finally {
      await nodis.stop();
      await redis.stop();
    }
  });
}

test('ACL rules by category work on a fresh server, before any COMMAND DOCS', async () => {
  const nodis = await startServer();
  try {
    const setuser = await exchange(nodis.port, ['ACL', 'SETUSER', 'u1', 'on', '>pw', '~*', '+@read', '-@dangerous', '+config|get']);
    assert.equal(setuser, '+OK\r\n');
    assert.equal(await exchange(nodis.port, ['ACL', 'DRYRUN', 'u1', 'get', 'k']), '+OK\r\n');
    assert.equal(await exchange(nodis.port, ['ACL', 'DRYRUN', 'u1', 'config', 'get', 'maxmemory']), '+OK\r\n');
    assert.equal(await exchange(nodis.port, ['ACL', 'DRYRUN', 'u1', 'set', 'k', 'v']), "$53\r\nThis user has no permissions to run the 'set' command\r\n");
  } finally {
    await nodis.stop();
  }
});

/** Node ≥ 22.1 keeps its own cache (written by Node); before, nodis writes one file per flags. */
const nodisCache = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache !== 'function';

test('the code cache is written a second after ready when no command comes, and after the first command otherwise', async () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  const cacheDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-lazy-cc-'));
    dirs.push(d);
    return path.join(d, 'cache');
  };
  const written = (dir: string): boolean => fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.v8cache') && fs.statSync(path.join(dir, f)).size > 10000);
  const waitFor = async (check: () => boolean, timeoutMs = 20000): Promise<void> => {
    const start = Date.now();
    while (!check()) {
      if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  // No command at all: written anyway (a second after ready).
  const idle = cacheDir();
  const a = await startServer({ env: { NODE_COMPILE_CACHE: idle, NODE_DISABLE_COMPILE_CACHE: '' } });
  if (nodisCache) await waitFor(() => written(idle));
  assert.equal(await exchange(a.port, ['PING']), '+PONG\r\n');
  await a.stop();

  // A first command: written right after it, the server answering the next ones as before.
  const busy = cacheDir();
  const b = await startServer({ env: { NODE_COMPILE_CACHE: busy, NODE_DISABLE_COMPILE_CACHE: '' } });
  assert.equal(await exchange(b.port, ['PING']), '+PONG\r\n');
  if (nodisCache) await waitFor(() => written(busy));
  assert.equal(await exchange(b.port, ['SET', 'k', 'v']), '+OK\r\n');
  assert.equal(await exchange(b.port, ['GET', 'k']), '$1\r\nv\r\n');
  await b.stop();

  // The next start uses it: same replies.
  const c = await startServer({ env: { NODE_COMPILE_CACHE: busy, NODE_DISABLE_COMPILE_CACHE: '' } });
  assert.equal(await exchange(c.port, ['PING']), '+PONG\r\n');
  await c.stop();
});
