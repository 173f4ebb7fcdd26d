/**
 * The seed's Sentinel demo (a master, two replicas, one sentinel at quorum 1; kill the master,
 * the old master comes back) run twice: nodis-sentinel over nodis-servers, and Debian's
 * redis-sentinel over redis-servers. A `PSUBSCRIBE *` client on the sentinel records every
 * event it publishes, and the sentinel's log records every event and every "Sentinel new
 * configuration saved on disk". Instance names are normalized by role (old master, promoted
 * replica, other replica, sentinel) and run ids elided; then the two streams must be equal,
 * event by event.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { Group, seedDemo, waitFor, type DataKind, type DemoResult } from './helpers/sentinel-cluster.js';

const groups: Group[] = [];
const subscribers: Redis[] = [];
after(async () => {
  for (const s of subscribers) s.disconnect();
  for (const g of groups) await g.cleanup();
});

interface Streams {
  /** Published events ("channel message"), from the subscription on. */
  published: string[];
  /** Events and config saves in the log, from the sentinel's start. */
  logged: string[];
}

/** Replaces ports by role names and run ids by <runid>. */
function normalizer(r: DemoResult): (s: string) => string {
  const names = new Map<string, string>([
    [String(r.oldMaster), 'OLD-MASTER'],
    [String(r.newMaster), 'PROMOTED'],
    [String(r.other), 'OTHER'],
    [String(r.sentinels[0]!.port), 'SENTINEL'],
  ]);
  return (s) => s.replace(/\b[0-9a-f]{40}\b/g, '<runid>').replace(/\b\d{4,5}\b/g, (p) => names.get(p) ?? p);
}

async function runDemo(kind: DataKind): Promise<Streams> {
  const g = new Group();
  groups.push(g);
  const published: string[] = [];
  const r = await seedDemo(g, { data: kind, sentinels: [kind], quorum: 1, fast: true }, async ([s]) => {
    const sub = new Redis({ port: s!.port, host: '127.0.0.1' });
    subscribers.push(sub);
    sub.on('pmessage', (_pattern: string, channel: string, message: string) => published.push(`${channel} ${message}`));
    await sub.psubscribe('*');
  });
  // The last event of the demo: the returning old master is told to follow the new one.
  await waitFor('+convert-to-slave published', async () => published.some((e) => e.startsWith('+convert-to-slave')));
  const norm = normalizer(r);
  const logged: string[] = [];
  for (const line of r.sentinels[0]!.log().split('\n')) {
    const ev = /^\d+:X .*? [.\-*#] ([+-][a-z-]+ .*)$/.exec(line);
    if (ev) logged.push(norm(ev[1]!));
    else if (line.endsWith('Sentinel new configuration saved on disk')) logged.push('(configuration saved)');
  }
  // The replicas attach to the master concurrently, so the master's INFO lists them (and the
  // sentinel discovers them) in either order: the discovery before the failure is a set.
  const failure = logged.findIndex((e) => e.startsWith('+sdown'));
  return { published: published.map(norm), logged: [...logged.slice(0, failure).sort(), ...logged.slice(failure)] };
}

/**
 * One demo with one failover. On a loaded machine the 1 s down-after can make the sentinel fail
 * over a second time (the promoted master answered late: a legitimate reaction, real
 * redis-sentinel does it too, see seedDemo), and two such runs cannot be compared event by
 * event; such a run is repeated, at most three times in all, and named in the test's output.
 */
async function singleFailoverDemo(kind: DataKind, t: { diagnostic(m: string): void }): Promise<Streams> {
  for (let attempt = 1; ; attempt++) {
    const s = await runDemo(kind);
    const switches = s.published.filter((e) => e.startsWith('+switch-master')).length;
    if (switches === 1 || attempt === 3) return s;
    t.diagnostic(`${kind} run ${attempt}: ${switches} failovers (+switch-master), run again`);
  }
}

test('the seed demo publishes and logs the same Sentinel events on nodis as on Redis', async (t) => {
  const redis = await singleFailoverDemo('redis', t);
  const nodis = await singleFailoverDemo('nodis', t);
  const show = (s: Streams): string => `published:\n  ${s.published.join('\n  ')}\nlogged:\n  ${s.logged.join('\n  ')}`;
  const context = `\n--- redis-sentinel\n${show(redis)}\n--- nodis-sentinel\n${show(nodis)}`;
  assert.deepEqual(nodis.published, redis.published, `published events differ${context}`);
  assert.deepEqual(nodis.logged, redis.logged, `logged events differ${context}`);
  // What this issue asked for, explicitly: +slave for each replica of the new master after
  // +switch-master, and a configuration save logged with it.
  const sw = nodis.published.findIndex((e) => e.startsWith('+switch-master'));
  assert.ok(sw >= 0, context);
  assert.deepEqual(nodis.published.slice(sw + 1, sw + 3).sort(), [
    '+slave slave 127.0.0.1:OLD-MASTER 127.0.0.1 OLD-MASTER @ tedu 127.0.0.1 PROMOTED',
    '+slave slave 127.0.0.1:OTHER 127.0.0.1 OTHER @ tedu 127.0.0.1 PROMOTED',
  ]);
});
