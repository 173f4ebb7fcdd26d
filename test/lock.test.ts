import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type RedlockClass from '../node_modules/redlock/dist/index.js';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

// redlock's package.json exports map has no "types" entry for NodeNext resolution.
const Redlock = createRequire(import.meta.url)('redlock').default as typeof RedlockClass;
describe('distributed lock: redlock (5.0.0-beta.2) against three nodis-servers', () => {
  const servers: RunningServer[] = [];
  before(async () => {
    for (let i = 0; i < 3; i++) servers.push(await startServer());
  });
  after(stopAll);

  it('acquires, excludes, extends and releases', async () => {
    const clients = servers.map((s) => s.client());
    const redlock = new Redlock(clients, { retryCount: 0 });
    // Long enough that a loaded machine cannot let it expire before the extend below (redlock
    // refuses to extend an expired lock).
    const lock = await redlock.acquire(['res1'], 20000);
    // redlock resolves as soon as a quorum answered: count the servers that hold the lock.
    const holders = async (): Promise<number> => (await Promise.all(clients.map((c) => c.get('res1')))).filter((v) => v === lock.value).length;
    assert.ok((await holders()) >= 2);
    await assert.rejects(redlock.acquire(['res1'], 2000));
    const extended = await lock.extend(60000);
    const pttls = await Promise.all(clients.map((c) => c.pttl('res1')));
    assert.ok(pttls.filter((t) => t > 20000 && t <= 60000).length >= 2, `pttls ${pttls.join(',')}`);
    await extended.release();
    assert.ok((await Promise.all(clients.map((c) => c.get('res1')))).filter((v) => v === null).length >= 2);
  });

  it('still locks by quorum with one server down', async () => {
    await servers[2]!.stop();
    // The third client points at a server that is down: its commands fail, it never reconnects.
    const clients = servers.map((s) => s.client({ maxRetriesPerRequest: 0, retryStrategy: () => null }));
    const redlock = new Redlock(clients, { retryCount: 0 });
    const lock = await redlock.acquire(['res2'], 3000);
    assert.equal(await clients[0]!.get('res2'), lock.value);
    assert.equal(await clients[1]!.get('res2'), lock.value);
    await lock.release().catch(() => undefined); // the down server makes release report a partial failure
    assert.equal(await clients[0]!.get('res2'), null);
  });
});
