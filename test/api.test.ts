/**
 * The programmatic API, used only through its public entry point as a user's test would:
 * startServer() on a kernel-chosen port, restart() on the same port and directory, stop()
 * leaving no process and no file, and a parent killed outright leaving no child behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startServer, NODIS_VERSION, REDIS_VERSION } from '../src/api/index.js';

const API = fileURLToPath(new URL('../src/api/index.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('startServer: a free port, url, config, log; restart keeps port and data; stop leaves nothing', async () => {
  const server = await startServer({ config: { appendonly: 'yes', 'maxmemory-policy': 'allkeys-lru' } });
  assert.ok(server.port > 0);
  assert.equal(server.host, '127.0.0.1');
  assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
  assert.match(server.config, new RegExp(`^port ${server.port}$`, 'm'));
  assert.match(server.config, /^appendonly yes$/m);
  assert.match(server.log(), /Ready to accept connections/);
  assert.ok(fs.existsSync(server.dir));
  const client = new Redis(server.url, { retryStrategy: () => 50 });
  client.on('error', () => {});
  try {
    assert.equal(await client.set('k', 'v'), 'OK');
    assert.deepEqual(await client.config('GET', 'port'), ['port', String(server.port)]);
    assert.match((await client.info('server')) as string, /redis_version:7\.0\.15/);
    assert.deepEqual(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
    // The AOF keeps the key across a restart on the same port, in the same directory.
    const pid = server.pid;
    await server.restart();
    assert.notEqual(server.pid, pid);
    assert.equal(alive(pid), false);
    await waitFor('the client to reconnect', () => client.status === 'ready');
    assert.equal(await client.get('k'), 'v');
    // kill() leaves the directory; restart() brings the server back.
    await server.kill('SIGKILL');
    assert.equal(server.running, false);
    assert.ok(fs.existsSync(server.dir));
    await server.restart();
    assert.equal(server.running, true);
  } finally {
    client.disconnect();
  }
  const { pid, dir } = server;
  await server.stop();
  assert.equal(alive(pid), false);
  assert.equal(fs.existsSync(dir), false);
});

test('startServer with a dir keeps its files; a fixed port is used as given', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-api-dir-'));
  try {
    const first = await startServer({ dir, config: { save: [3600, 1] } });
    const c = new Redis(first.port, first.host);
    await c.set('kept', '1');
    await c.save();
    c.disconnect();
    await first.stop();
    assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));
    const again = await startServer({ dir, port: first.port });
    assert.equal(again.port, first.port);
    const c2 = new Redis(again.port, again.host);
    assert.equal(await c2.get('kept'), '1');
    c2.disconnect();
    await again.stop();
    assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a bad directive rejects startServer with the server\'s error and leaves no directory', async () => {
  // Temporary directories go to os.tmpdir(), i.e. $TMPDIR: a private one shows what is left.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-api-tmp-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  try {
    await assert.rejects(startServer({ config: { 'no-such-directive': 'x' } }), /Bad directive or wrong number of arguments/);
    assert.deepEqual(fs.readdirSync(tmp), []);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('the API reports the nodis and Redis versions', () => {
  assert.match(NODIS_VERSION, /^\d+\.\d+\.\d+$/);
  assert.equal(REDIS_VERSION, '7.0.15');
});

test('a parent killed with SIGKILL leaves no server, sentinel or temporary directory behind', async () => {
  const script = [
    `import { startServer, startTopology } from ${JSON.stringify(API)};`,
    'const server = await startServer();',
    'const topo = await startTopology({ replicas: 1, sentinels: 1 });',
    'const all = [server, ...topo.nodes, ...topo.sentinels];',
    'console.log(JSON.stringify(all.map((n) => ({ pid: n.pid, dir: n.dir }))));',
    'setInterval(() => {}, 1000);',
  ].join('\n');
  const file = path.join(os.tmpdir(), `nodis-api-parent-${process.pid}.mjs`);
  fs.writeFileSync(file, script);
  try {
    const parent = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the parent to start its servers', () => out.includes('\n'), 60000);
    const children = JSON.parse(out) as { pid: number; dir: string }[];
    assert.equal(children.length, 4);
    for (const c of children) assert.ok(alive(c.pid) && fs.existsSync(c.dir));
    parent.kill('SIGKILL');
    await waitFor('every child to exit', () => children.every((c) => !alive(c.pid)));
    await waitFor('every directory to be removed', () => children.every((c) => !fs.existsSync(c.dir)));
  } finally {
    fs.rmSync(file, { force: true });
  }
});
