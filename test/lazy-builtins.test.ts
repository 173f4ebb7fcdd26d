/**
 * The program bundles load node:crypto, node:worker_threads and node:vm on first use, not at
 * start (scripts/build-package.mjs, docs/PERFORMANCE.md "Start-up"): a server answers its
 * first command without them, and what needs them (a script's SHA1, an ACL password's SHA256)
 * loads them then and works.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from './helpers/server.js';

/** dist/test/ → dist/pkg/server/main.js, the server's bundle. */
const BUNDLE = fileURLToPath(new URL('../pkg/server/main.js', import.meta.url));
const LAZY = ['crypto', 'worker_threads', 'vm'];

test('the server is ready without node:crypto, node:worker_threads and node:vm, and loads them when used', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-lazy-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // Runs before the bundle: once the server says it is ready (ready-hooks.ts), print which of
  // node's modules are loaded.
  const preload = path.join(dir, 'preload.cjs');
  fs.writeFileSync(
    preload,
    "(globalThis[Symbol.for('nodis.serverReadyHooks')] ??= []).push(() => process.stderr.write('LOADED ' + JSON.stringify(process.moduleLoadList) + '\\n'));\n",
  );
  const port = await freePort();
  const child = spawn(process.execPath, ['-r', preload, BUNDLE, '--port', String(port), '--save', '', '--dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  after(() => {
    child.kill('SIGKILL');
  });
  let err = '';
  const loaded = await new Promise<string[]>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /LOADED (.*)\n/.exec(err);
      if (m) resolve(JSON.parse(m[1]!) as string[]);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  assert.ok(loaded.includes('NativeModule net'), 'the list is the real one');
  for (const name of LAZY) assert.ok(!loaded.includes(`NativeModule ${name}`), `node:${name} loaded before ready`);

  const c = new Redis({ port, host: '127.0.0.1' });
  // SHA1 of a script (node:crypto), as Redis computes it.
  assert.equal(await c.call('SCRIPT', 'LOAD', 'return 1'), 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db');
  assert.equal(await c.call('EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'), 1);
  // An ACL password is kept as its SHA256.
  await c.call('ACL', 'SETUSER', 'u', 'on', '>pw');
  const user = (await c.call('ACL', 'GETUSER', 'u')) as unknown[];
  const passwords = user[user.indexOf('passwords') + 1] as string[];
  assert.deepEqual(passwords, ['30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4']);
  c.disconnect();
});
