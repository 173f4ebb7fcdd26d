/**
 * AOF write errors (flushAppendOnlyFile's error path), on a real full disk: the server runs on a
 * small tmpfs in its own mount namespace (`unshare -m`, a wrapper script made per test).
 * - appendfsync always: the server exits on the failed write ("Can't recover from AOF write error
 *   when the AOF fsync policy is 'always'. Exiting..."), and every acknowledged write is in the
 *   AOF it leaves, which loads.
 * - everysec: writes (and PING) are refused with Redis's MISCONF text while the AOF cannot be
 *   written, reads go on; once space is freed the cron's retry succeeds, writes are accepted
 *   again, and the AOF holds every acknowledged write exactly once (a short write is cut off).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NODIS_SERVER, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { waitFor } from './helpers/conditions.js';

after(stopAll);

const WRAPPER = `#!/bin/sh
exec unshare -m sh -c '
mount -t tmpfs -o size="$NODIS_TMPFS_SIZE" tmpfs "$NODIS_TMPFS" || exit 2
if [ -n "$NODIS_TMPFS_FILLER" ]; then dd if=/dev/zero of="$NODIS_TMPFS/filler" bs=1024 count="$NODIS_TMPFS_FILLER" 2>/dev/null; fi
"$NODIS_BIN" "$@" &
child=$!
trap "kill -TERM $child" TERM INT
wait $child
code=$?
while kill -0 $child 2>/dev/null; do wait $child; code=$?; done
cp -r "$NODIS_TMPFS/appendonlydir" "$NODIS_TMPFS_OUT/"
exit $code' sh "$@"
`;

interface Full {
  server: RunningServer;
  tmpfs: string;
  out: string;
}

async function onSmallDisk(policy: string, fillerKb: number): Promise<Full> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-aof-full-'));
  const tmpfs = path.join(base, 'disk');
  const out = path.join(base, 'out');
  fs.mkdirSync(tmpfs);
  fs.mkdirSync(out);
  const wrapper = path.join(base, 'wrapper.sh');
  fs.writeFileSync(wrapper, WRAPPER, { mode: 0o755 });
  const server = await startServer({
    bin: wrapper,
    args: ['--dir', tmpfs, '--appendonly', 'yes', '--appendfsync', policy],
    env: { NODIS_BIN: NODIS_SERVER, NODIS_TMPFS: tmpfs, NODIS_TMPFS_OUT: out, NODIS_TMPFS_SIZE: '1m', NODIS_TMPFS_FILLER: fillerKb > 0 ? String(fillerKb) : '' },
  });
  return { server, tmpfs, out };
}

/** Loads the AOF directory the wrapper copied out in a plain server and returns key → value. */
async function loadCopied(out: string, keys: string[]): Promise<Map<string, string | null>> {
  const loader = await startServer({ args: ['--dir', out, '--appendonly', 'yes'] });
  try {
    const c = loader.client();
    const got = new Map<string, string | null>();
    for (const k of keys) got.set(k, await c.get(k));
    return got;
  } finally {
    await loader.stop();
  }
}

const value = (i: number): string => `${i}:`.padEnd(8 * 1024, 'v');

test('appendfsync always: a failed AOF write makes the server exit, and every acknowledged write is in the AOF', { timeout: 120000 }, async () => {
  const { server, out } = await onSmallDisk('always', 0);
  const c = server.client();
  const acked: string[] = [];
  let failure: unknown = null;
  for (let i = 0; i < 1000 && failure === null; i++) {
    try {
      assert.equal(await c.set(`k${i}`, value(i)), 'OK');
      acked.push(`k${i}`);
    } catch (e) {
      failure = e;
    }
  }
  assert.ok(failure !== null, 'a write failed once the disk was full');
  await new Promise<void>((r) => (server.proc.exitCode !== null ? r() : server.proc.once('exit', () => r())));
  assert.equal(server.proc.exitCode, 1);
  assert.match(server.output(), /(Error writing to the AOF file: No space left on device|Short write while writing to the AOF file: \(nwritten=\d+, expected=\d+\))/);
  assert.match(server.output(), /Can't recover from AOF write error when the AOF fsync policy is 'always'\. Exiting\.\.\./);
  assert.ok(acked.length > 10, `${acked.length} writes acknowledged before the disk filled`);
  const loaded = await loadCopied(out, acked);
  for (const [i, k] of acked.entries()) assert.equal(loaded.get(k), value(Number(k.slice(1))), `acknowledged ${k} (#${i}) is in the AOF`);
});

test('appendfsync everysec: MISCONF while the AOF cannot be written, reads go on, writes come back once space is freed', { timeout: 120000 }, async () => {
  const { server, tmpfs, out } = await onSmallDisk('everysec', 700);
  const c = server.client();
  const acked: string[] = [];
  let refused = '';
  for (let i = 0; i < 1000 && refused === ''; i++) {
    try {
      await c.set(`k${i}`, value(i));
      acked.push(`k${i}`);
    } catch (e) {
      refused = (e as Error).message;
    }
  }
  assert.equal(refused, 'MISCONF Errors writing to the AOF file: No space left on device');
  assert.match(String(await c.info('persistence')), /aof_last_write_status:err/);
  await assert.rejects(c.ping(), { message: 'MISCONF Errors writing to the AOF file: No space left on device' });
  assert.equal(await c.get(acked[0]!), value(0), 'reads are served');
  // The mount lives in the wrapper's namespace: reach it through /proc.
  fs.rmSync(path.join(`/proc/${server.proc.pid}/root`, tmpfs, 'filler'));
  await waitFor('writes accepted again', async () => {
    try {
      return (await c.set('after', 'freed')) === 'OK';
    } catch {
      return false;
    }
  }, 30000);
  assert.match(String(await c.info('persistence')), /aof_last_write_status:ok/);
  assert.match(server.output(), /AOF write error looks solved/);
  await server.stop();
  const loaded = await loadCopied(out, [...acked, 'after']);
  for (const k of acked) assert.equal(loaded.get(k), value(Number(k.slice(1))), `acknowledged ${k} is in the AOF`);
  assert.equal(loaded.get('after'), 'freed');
});
