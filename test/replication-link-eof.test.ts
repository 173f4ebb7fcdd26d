/**
 * A replica sees its master link go the moment the master closes it: the EOF is handled when
 * it is read, as Redis's readQueryFromClient frees the master client on a 0-byte read, and not
 * later in the loop turn when Node closes the handle. The Redis suite's "Diskless load swapdb
 * (async_loading): new database is exposed after swapping" kills the link with CLIENT KILL TYPE
 * replica and then waits for `master_link_status:up`: read in the same loop turn as the EOF, the
 * old link still said up, and the test read the old dataset.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll } from './helpers/server.js';
import { waitFor } from './helpers/conditions.js';

after(stopAll);

test('INFO read in the same loop turn as the master link\'s EOF says the link is down', async () => {
  const master = await startServer({ args: ['--repl-diskless-sync-delay', '0'] });
  const replica = await startServer({ args: ['--replicaof', '127.0.0.1', String(master.port), '--enable-debug-command', 'yes'] });
  const m = master.client();
  const sleeper = replica.client();
  const asker = replica.client();
  const status = async (): Promise<string | undefined> => /^master_link_status:(\w+)/m.exec(await asker.info('replication'))?.[1];
  try {
    await waitFor('the replica to be linked', async () => (await status()) === 'up');
    // Hold the replica's event loop; meanwhile the master closes the link and INFO is sent, so
    // both are waiting when the loop wakes, the EOF first.
    const slept = sleeper.call('DEBUG', 'SLEEP', '0.5');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await m.call('CLIENT', 'KILL', 'TYPE', 'replica'), 1);
    await new Promise((r) => setTimeout(r, 100));
    const during = status();
    await slept;
    assert.equal(await during, 'down');
  } finally {
    for (const c of [m, sleeper, asker]) c.disconnect();
  }
});
