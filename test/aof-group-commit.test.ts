/**
 * appendfsync always with several clients writing at once (group commit, persistence/aof.ts):
 * the fdatasync runs in the thread pool while the loop goes on, and no output leaves before the
 * fdatasync that covers it — not the writers' replies, and not a later read that shows their
 * writes. An in-process server, so the test can hold libuv's thread pool (and with it the
 * fdatasync) busy for as long as it needs. Also: the AOF's write lands in the turn that fed it
 * when no reply asks for a flush, and a served blocked client's replies follow its records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { waitFor, info } from './helpers/conditions.js';
import { startInProcess, holdThreadPool, type InProcessServer } from './helpers/in-process.js';
import { SystemClock } from '../src/core/clock.js';
import { aofOf, type Aof } from '../src/persistence/aof.js';

/** A raw connection that records everything it reads. */
async function rawClient(port: number): Promise<{ sock: net.Socket; received: () => string }> {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  let got = '';
  sock.on('data', (d: Buffer) => {
    got += d.toString('latin1');
  });
  sock.on('error', () => {});
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  // The server knows the client (and has answered it) before the test goes on.
  sock.write('*1\r\n$4\r\nPING\r\n');
  await waitFor('PONG', async () => got === '+PONG\r\n');
  got = '';
  return { sock, received: () => got };
}

interface Setup {
  server: InProcessServer['server'];
  r: InProcessServer['r'];
  aof: Aof;
  dir: string;
  /** Raw connections, closed at the end. */
  connect(): Promise<{ sock: net.Socket; received: () => string }>;
  /** Holds the thread pool (released at the end if the test did not). */
  holdPool(): () => void;
}

/** An in-process server with the AOF on under appendfsync always; everything undone after `body`. */
async function withAlwaysServer(body: (t: Setup) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-aof-group-'));
  const { server, r, port, stop } = await startInProcess(new SystemClock(), { dir });
  const sockets: net.Socket[] = [];
  const releases: (() => void)[] = [];
  try {
    const aof = aofOf(server)!;
    assert.equal(await r.config('SET', 'appendonly', 'yes'), 'OK');
    await waitFor('the first rewrite to end', async () => !aof.rewriteInProgress && aof.state === 'on');
    assert.equal(await r.config('SET', 'appendfsync', 'always'), 'OK');
    await body({
      server,
      r,
      aof,
      dir,
      connect: async () => {
        const c = await rawClient(port);
        sockets.push(c.sock);
        return c;
      },
      holdPool: () => {
        let done = false;
        const release = holdThreadPool(fs.mkdtempSync(path.join(dir, 'pool-')));
        const once = (): void => {
          if (!done) release();
          done = true;
        };
        releases.push(once);
        return once;
      },
    });
  } finally {
    for (const f of releases) f();
    for (const sock of sockets) sock.destroy();
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('appendfsync always, several writers in one turn: no reply and no read of their writes before the fdatasync that covers them', () =>
  withAlwaysServer(async ({ server, r, aof, dir, connect, holdPool }) => {
    const a = await connect();
    const b = await connect();
    const c = await connect();
    let release = holdPool();
    // Both in the kernel before the server's next poll: one loop turn reads and runs both.
    a.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    b.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    await waitFor('both replies held', async () => aof.clientsHeld === 2);
    // Written to the file already; only the fdatasync is outstanding.
    const incr = fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'latin1');
    assert.equal(incr.split('$4\r\nINCR\r\n$1\r\nn\r\n').length - 1, 2);
    // A read in a later turn sees n = 2, which is not on disk yet: held as well.
    c.sock.write('*2\r\n$3\r\nGET\r\n$1\r\nn\r\n');
    await waitFor('the read held', async () => aof.clientsHeld === 3);
    assert.equal(a.received() + b.received() + c.received(), '');

    release();
    await waitFor('every reply', async () => a.received() !== '' && b.received() !== '' && c.received() !== '');
    assert.deepEqual([a.received(), b.received()].sort(), [':1\r\n', ':2\r\n']);
    assert.equal(c.received(), '$1\r\n2\r\n');
    assert.equal(aof.clientsHeld, 0);
    await waitFor('the gate gone', async () => server.hooks.outputGate === null);
    assert.equal((await info(r, 'persistence')).aof_pending_bio_fsync, '0');

    // One writer alone fsyncs before its reply on the main thread (no hand-off to the pool).
    const before = a.received();
    release = holdPool();
    a.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    await waitFor('the lone writer answered while the pool is held', async () => a.received() === `${before}:3\r\n`);
    assert.equal(aof.clientsHeld, 0);
  }));

test('appendfsync changed to everysec while a group sync runs: what it held is released, and nothing is held afterwards', () =>
  withAlwaysServer(async ({ server, r, aof, connect, holdPool }) => {
    const a = await connect();
    const b = await connect();
    let release = holdPool();
    a.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    b.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    await waitFor('both replies held', async () => aof.clientsHeld === 2);
    // The CONFIG SET's own reply is output like any other: held behind the running sync.
    const changed = r.config('SET', 'appendfsync', 'everysec');
    await waitFor('the CONFIG SET held', async () => aof.clientsHeld === 3);
    release();
    assert.equal(await changed, 'OK');
    await waitFor('both replies', async () => a.received() !== '' && b.received() !== '');
    await waitFor('the gate gone', async () => server.hooks.outputGate === null);

    // everysec: a write is answered at once even while the thread pool (and so its background
    // fdatasync) is held.
    const before = a.received();
    release = holdPool();
    a.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    b.sock.write('*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n');
    await waitFor('both answered', async () => a.received() !== before && b.received().split('\r\n').length === 3);
    assert.equal(aof.clientsHeld, 0);
    assert.equal(server.hooks.outputGate, null);
  }));

/** The INCR file the first rewrite opened (what the tests above read as well). */
function incrFile(dir: string): string {
  return fs.readFileSync(path.join(dir, 'appendonlydir', 'appendonly.aof.1.incr.aof'), 'latin1');
}

test('a write with no reply (CLIENT REPLY OFF) is written to the AOF by the end of the loop turn that ran it', () =>
  withAlwaysServer(async ({ server, dir, connect }) => {
    const a = await connect();
    const target = server.stats.totalCommands + 2;
    a.sock.write('*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$3\r\nOFF\r\n*2\r\n$4\r\nINCR\r\n$6\r\nsilent\r\n');
    // In this process's own loop: an Immediate queued before the turn that runs the commands
    // sees them counted; one queued then runs in the next turn, after that turn's flush.
    while (server.stats.totalCommands < target) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.ok(incrFile(dir).includes('$4\r\nINCR\r\n$6\r\nsilent\r\n'), 'the INCR waited for a later turn (cron)');
    assert.equal(a.received(), '');
  }));

test('a blocked client served by another client, with a command pipelined behind: its replies leave after the push, the pop and that command are in the AOF', () =>
  withAlwaysServer(async ({ r, dir, connect }) => {
    const a = await connect();
    const b = await connect();
    // BLPOP blocks; the INCR behind it runs once B's LPUSH has served it (blocking.ts), and the
    // pop's reply and the INCR's leave together, after the end-of-turn flush wrote all three.
    a.sock.write('*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*2\r\n$4\r\nINCR\r\n$7\r\nunblock\r\n');
    await waitFor('A blocked', async () => (await info(r, 'clients')).blocked_clients === '1');
    // The file is read as the reply arrives (this process's loop, a turn after the server's
    // write at most): a record written later, by cron's flush, would be missing.
    let file = '';
    a.sock.on('data', () => {
      if (file === '' && a.received().endsWith(':1\r\n')) file = incrFile(dir);
    });
    b.sock.write('*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$1\r\nv\r\n');
    await waitFor('A answered twice', async () => file !== '');
    assert.equal(a.received(), '*2\r\n$1\r\nq\r\n$1\r\nv\r\n:1\r\n');
    assert.ok(file.includes('$5\r\nLPUSH\r\n$1\r\nq\r\n$1\r\nv\r\n'), file);
    assert.ok(file.includes('$4\r\nLPOP\r\n$1\r\nq\r\n'), file);
    assert.ok(file.includes('$4\r\nINCR\r\n$7\r\nunblock\r\n'), file);
  }));
