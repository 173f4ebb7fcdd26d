/**
 * REPLCONF rdb-filter-only (redis-cli --functions-rdb): the master sends an RDB holding only what
 * the include filters name — "functions": the libraries, no keys — always over the socket.
 * Checked with Redis's own redis-cli, and the file loaded back into nodis.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, stopAll } from './helpers/server.js';

after(stopAll);
const run = promisify(execFile);
const LIB = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)";

test('redis-cli --functions-rdb gets the functions and no keys, from a disk-based or diskless master', async () => {
  const server = await startServer({ args: ['--enable-debug-command', 'yes'] });
  const c = server.client();
  await c.call('DEBUG', 'POPULATE', '1000', 'key', '10');
  await c.call('FUNCTION', 'LOAD', LIB);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-frdb-'));
  try {
    for (const diskless of ['no', 'yes']) {
      await c.config('SET', 'repl-diskless-sync', diskless);
      await c.config('SET', 'repl-diskless-sync-delay', '0');
      const file = path.join(dir, `functions-${diskless}.rdb`);
      const { stdout, stderr } = await run('/usr/bin/redis-cli', ['-p', String(server.port), '--functions-rdb', file]);
      assert.match(stdout + stderr, /Transfer finished with success/);
      // Loaded back: the library, none of the keys.
      const loaded = await startServer({ args: ['--dir', dir, '--dbfilename', path.basename(file)] });
      const l = loaded.client();
      assert.equal(await l.dbsize(), 0);
      assert.deepEqual(await l.call('FUNCTION', 'LIST'), [['library_name', 'lib1', 'engine', 'LUA', 'functions', [['name', 'func1', 'description', null, 'flags', []]]]]);
      await loaded.stop();
    }
    // The whole RDB still has both.
    const whole = path.join(dir, 'whole.rdb');
    await run('/usr/bin/redis-cli', ['-p', String(server.port), '--rdb', whole]);
    const loaded = await startServer({ args: ['--dir', dir, '--dbfilename', 'whole.rdb'] });
    assert.equal(await loaded.client().dbsize(), 1000);
    await loaded.stop();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('REPLCONF rdb-filter-only and rdb-only refuse what Redis refuses', async () => {
  const server = await startServer();
  const c = server.client();
  await assert.rejects(c.call('REPLCONF', 'rdb-filter-only', 'functions keys'), /^ReplyError: ERR Unsupported rdb-filter-only option: keys$/);
  await assert.rejects(c.call('REPLCONF', 'rdb-only', '2'), /^ReplyError: ERR value is out of range, value must between 0 and 1$/);
  assert.equal(await c.call('REPLCONF', 'rdb-filter-only', ''), 'OK');
  // A filtered RDB needs the EOF capability (it never goes through the dump file).
  await assert.rejects(c.call('SYNC'), /^ReplyError: ERR Filtered replica requires EOF capability$/);
});
