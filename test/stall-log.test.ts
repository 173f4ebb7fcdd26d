import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, stopAll } from './helpers/server.js';

/**
 * NODIS_STALL_LOG=<ms> (src/server/stall-log.ts): a line on stderr for every gap of that many
 * ms or more between two client reads, with where the main thread was meanwhile. DEBUG SLEEP
 * blocks the loop asleep (Atomics.wait), so the gap it makes is logged as time off a CPU.
 */
describe('stall log', () => {
  after(stopAll);

  it('logs a gap between reads, and the main thread asleep in it', async () => {
    const s = await startServer({ args: ['--enable-debug-command', 'yes'], env: { NODIS_STALL_LOG: '50' } });
    const a = s.client();
    const b = s.client();
    await Promise.all([a.ping(), b.ping()]);
    const sleeping = a.call('DEBUG', 'SLEEP', '0.3');
    // b's PING waits in its socket until the sleep ends; its read is the one after the gap.
    await new Promise((r) => setTimeout(r, 50));
    await Promise.all([sleeping, b.ping()]);
    // An idle server logs gaps too (the test's own pauses): the one to look at is the sleep's.
    await s.waitForLog(/^stall .* gap \d{3,}/m);
    const line = s.output().split('\n').find((l) => /^stall .* gap \d{3,}/.test(l))!;
    const field = (name: string): number => Number(new RegExp(` ${name} (-?[\\d.]+)`).exec(line)![1]);
    assert.ok(field('gap') >= 250, line);
    // Asleep, not on a CPU and not waiting for one: most of the gap is `off`.
    assert.ok(field('off') >= 200, line);
    assert.ok(field('cpu') < 100, line);
    assert.match(line, / mono \d+\.\d{6} /);
    await s.stop();
  });

  it('logs one client waiting alone while others are served', async () => {
    const s = await startServer({ env: { NODIS_STALL_LOG: '50' } });
    const quiet = s.client();
    const busy = s.client();
    await Promise.all([quiet.ping(), busy.ping()]);
    // busy's 300 round trips are 300 reads; quiet reads nothing for 100 ms or more meanwhile.
    const started = Date.now();
    for (let i = 0; i < 300 || Date.now() - started < 100; i++) await busy.ping();
    await quiet.ping();
    await s.waitForLog(/^client-stall .* gap \d+/m);
    const line = s.output().split('\n').find((l) => l.startsWith('client-stall '))!;
    assert.ok(Number(/ gap ([\d.]+)/.exec(line)![1]) >= 100, line);
    assert.ok(Number(/ other-reads (\d+)/.exec(line)![1]) >= 300, line);
    await s.stop();
  });

  it('writes nothing without NODIS_STALL_LOG', async () => {
    const s = await startServer({ args: ['--enable-debug-command', 'yes'] });
    const a = s.client();
    const b = s.client();
    await Promise.all([a.ping(), b.ping()]);
    await Promise.all([a.call('DEBUG', 'SLEEP', '0.2'), b.ping()]);
    assert.doesNotMatch(s.output(), /^(stall|gc|burst|client-stall) /m);
    await s.stop();
  });
});
