/**
 * nodis-ha's terminal view on a real terminal (tmux): the seed's topology comes up, `k` kills
 * the master, the view shows the promotion, `r1` restarts the old master and the view shows it
 * rejoin as a replica, `q` quits and leaves no process listening.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { NODIS_HA, Tmux, addresses, closed, until as untilPlain } from './helpers/ha.js';

describe('nodis-ha up in a terminal', () => {
  const tmux = new Tmux();
  after(() => tmux.kill());
  /** `until`, with the screen as it was in the failure's message. */
  const until = async <T>(what: string, fn: () => T | Promise<T>, timeoutMs?: number): Promise<NonNullable<T>> => {
    try {
      return await untilPlain(what, fn, timeoutMs);
    } catch (e) {
      let screen = '';
      try {
        screen = tmux.screen();
      } catch {
        screen = '(no pane)';
      }
      throw new Error(`${(e as Error).message}; the screen:\n${screen}`);
    }
  };

  it('shows the topology, the failover, the old master rejoining, and quits cleanly', async (t) => {
    // How long each step took, in the report (the steps' waits are 60 s each).
    let stepStart = Date.now();
    const step = (what: string): void => {
      t.diagnostic(`${what}: ${Date.now() - stepStart} ms`);
      stepStart = Date.now();
    };
    // A tall pane: the view shows as many recent events as fit, and a failover's whole burst
    // (+sdown … +switch-master, +slave, +convert-to-slave) must stay on screen between polls.
    tmux.start(`${process.execPath} ${NODIS_HA} up --down-after 1000`, 200, 200);
    const first = await until('the topology on screen', () => {
      const s = tmux.screen();
      return /failover: none yet/.test(s) && /sentinel 3/.test(s) && (s.match(/ slave +up /g) ?? []).length === 2 ? s : null;
    });
    step('topology on screen');
    const oldMaster = /1 node 1 +(127\.0\.0\.1:\d+) +master/.exec(first)?.[1];
    assert.ok(oldMaster !== undefined, first);
    // Redrawn in place: the screen holds one table, not a scrolling log.
    assert.equal(first.split('DATA NODE').length, 2);
    const all = addresses(first);
    assert.equal(all.length, 6);

    tmux.keys('k');
    const promoted = await until('the promotion', () => {
      const s = tmux.screen();
      return /\+switch-master/.test(s) && /failover: 127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ in \d+ ms/.test(s) ? s : null;
    });
    step('promotion on screen');
    assert.match(promoted, /1 node 1 +127\.0\.0\.1:\d+ +down/);
    assert.match(promoted, /\+(sdown|odown) master mymaster/);

    tmux.keys('r', '1');
    // Sentinel converts a restarted old master only after it has reported role:master for 8 s
    // (SENTINEL_PUBLISH_PERIOD * 4), seen through INFO every 10 s, then the replica syncs: 16 s
    // here on an idle machine, more in CI beside other test files (a passing CI run took 57 s
    // in all; a failing one, 68 s, fits this 60 s wait running out). Sentinel's timers, not the
    // test, set the pace, so the wait is 150 s.
    await until(
      'the old master back as a replica',
      () => {
        const s = tmux.screen();
        return new RegExp(`1 node 1 +${oldMaster!.replace(/\./g, '\\.')} +slave +up`).test(s) ? s : null;
      },
      150000,
    );

    step('old master back as a replica');
    tmux.keys('q');
    await until('nodis-ha to exit', () => tmux.paneDead(), 30000);
    step('nodis-ha exited');
    for (const a of all) assert.ok(await until(`${a} to close`, () => closed(a), 15000));
    step('every port closed');
  });
});
