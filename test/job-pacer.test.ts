/**
 * JobPacer (persistence/job-pacer.ts): how long a background job's next slice is. Long slices
 * while no client sends anything; while commands arrive, the job's slices add up to its share
 * of the wall time, each as long as what accrued (capped), none when too little did. And the
 * job's place in a loop turn: replies due this turn go out before its next slice.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobPacer, type JobPacing } from '../src/persistence/job-pacer.js';
import { rdbOf } from '../src/persistence/rdb.js';
import { defaultLoadLimits, parseRdb } from '../src/persistence/rdb-decode.js';
import { SystemClock } from '../src/core/clock.js';
import { startInProcess } from './helpers/in-process.js';

const pacing: JobPacing = { idleSliceMs: 0.6, maxBusySliceMs: 0.3, minBusySliceMs: 0.01, busyWindowMs: 2, busyShare: 0.2, restMs: 0 };

/** A pacer under a manual clock and command counter. */
function harness(): { pacer: JobPacer; advance(ms: number): void; command(): void } {
  let now = 1000;
  let commands = 0;
  const pacer = new JobPacer(() => now, () => commands, pacing);
  return {
    pacer,
    advance: (ms) => (now += ms),
    command: () => commands++,
  };
}

describe('JobPacer', () => {
  it('runs long slices while no command arrives', () => {
    const h = harness();
    for (let i = 0; i < 5; i++) {
      assert.equal(h.pacer.next(), 0.6);
      assert.equal(h.pacer.busy, false);
      h.pacer.spent(0.6);
      h.advance(0.6);
    }
  });

  it('while commands arrive, slices add up to the share of the wall time', () => {
    const h = harness();
    let job = 0;
    let elapsed = 0;
    // One command per 50 µs turn (a client sending one command at a time), for 200 ms.
    while (elapsed < 200) {
      h.command();
      h.advance(0.05);
      elapsed += 0.05;
      const slice = h.pacer.next();
      assert.equal(h.pacer.busy, true);
      assert.ok(slice === 0 || (slice >= 0.01 && slice <= 0.3), `a slice of ${slice} ms`);
      if (slice > 0) {
        h.pacer.spent(slice);
        h.advance(slice);
        elapsed += slice;
        job += slice;
      }
    }
    // 20% of the elapsed time (slices included), give or take what is still owed.
    assert.ok(Math.abs(job - 0.2 * elapsed) < 0.35, `job ${job} ms in ${elapsed} ms`);
  });

  it('slices are as long as the turns around them: short between quick turns, capped for slow ones', () => {
    const h = harness();
    h.command();
    h.advance(0.02);
    // 20 µs since the start: 4 µs accrued, below the minimum: no slice this turn.
    assert.equal(h.pacer.next(), 0);
    h.command();
    h.advance(0.05);
    // 70 µs: 14 µs accrued.
    assert.ok(Math.abs(h.pacer.next() - 0.014) < 1e-9);
    h.pacer.spent(0.014);
    // A saturated loop: turns of 1 ms with commands in each; slices of 0.2 ms.
    h.command();
    h.advance(1);
    assert.ok(Math.abs(h.pacer.next() - 0.2) < 1e-9);
    h.pacer.spent(0.2);
    // A long turn (a big command): the slice is capped.
    h.command();
    h.advance(10);
    assert.equal(h.pacer.next(), 0.3);
  });

  it('a slice that overran is paid back before the next one', () => {
    const h = harness();
    h.command();
    h.advance(1);
    assert.ok(Math.abs(h.pacer.next() - 0.2) < 1e-9);
    // The slice took 1 ms instead of 0.2 (the process was descheduled in it).
    h.pacer.spent(1);
    h.advance(1);
    h.command();
    h.advance(2);
    // 3 ms later: credit -0.8 + 0.6 = -0.2: no slice.
    assert.equal(h.pacer.next(), 0);
  });

  it('goes back to long slices once no command arrived for the busy window', () => {
    const h = harness();
    h.command();
    h.advance(0.1);
    h.pacer.next();
    assert.equal(h.pacer.busy, true);
    // The window counts from the turn that saw the command.
    h.advance(1.9);
    assert.equal(h.pacer.next(), 0.3);
    assert.equal(h.pacer.busy, true);
    h.advance(0.1);
    assert.equal(h.pacer.next(), 0.6);
    assert.equal(h.pacer.busy, false);
  });
});

describe('a background job in the event loop', () => {
  it('lets the replies pending this turn go out before its next slice', async () => {
    const { server, stop } = await startInProcess(new SystemClock(), {});
    try {
      for (let i = 0; i < 5000; i++) server.dbs[0]!.set(`key:${i}`, `v${i}`);
      const p = rdbOf(server)!;
      const events: string[] = [];
      server.hooks.beforeReplies.push(() => events.push('flush'));
      const snap = p.startSnapshot();
      const step = snap.step.bind(snap);
      snap.step = (...args: Parameters<typeof snap.step>) => {
        events.push('slice');
        return step(...args);
      };
      // A command served this turn queued the flush; the job's turn comes after it.
      server.requestFlush();
      let bytes = 0;
      const complete = await p.drive(snap, (chunk) => void (bytes += chunk.length), () => false);
      p.endSnapshot(snap);
      assert.equal(complete, true);
      assert.ok(bytes > 5000 * 10);
      assert.equal(events[0], 'flush', `first events: ${events.slice(0, 3).join(', ')}`);
      assert.ok(events.includes('slice'));
    } finally {
      await stop();
    }
  });
});

describe('a background job while clients are active', () => {
  it('waits for the next flush (or a short rest) instead of polling the loop for its share', async () => {
    const { server, stop } = await startInProcess(new SystemClock(), {});
    try {
      for (let i = 0; i < 200000; i++) server.dbs[0]!.set(`key:${i}`, `value:${i}`);
      const p = rdbOf(server)!;
      const snap = p.startSnapshot();
      let slices = 0;
      const step = snap.step.bind(snap);
      snap.step = (...args: Parameters<typeof snap.step>) => {
        slices++;
        return step(...args);
      };
      // A command served, with its flush, every 0.5–1 ms: clients stay active the whole job.
      let flushes = 0;
      server.hooks.beforeReplies.push(() => flushes++);
      const client = setInterval(() => {
        server.stats.totalCommands++;
        server.requestFlush();
      }, 1);
      // Every loop turn the job asks for (polling for its share spun through setImmediate).
      let immediates = 0;
      const setImmediateBefore = globalThis.setImmediate;
      globalThis.setImmediate = ((...args: Parameters<typeof setImmediate>) => {
        immediates++;
        return setImmediateBefore(...args);
      }) as typeof setImmediate;
      let complete: boolean;
      try {
        complete = await p.drive(snap, () => undefined, () => false);
      } finally {
        globalThis.setImmediate = setImmediateBefore;
        clearInterval(client);
        p.endSnapshot(snap);
      }
      assert.equal(complete, true);
      // One turn per flush (the flush's own Immediate) and, after a slice that spent the
      // share, none of the job's own: it rests until the next flush (jobs7; a yield first cost
      // one more turn per slice, ~2 per slice in all, 1152 for 386 slices and 390 flushes).
      // Polling took a turn whenever the share had not accrued a slice yet (tens per slice).
      assert.ok(immediates <= 1.5 * slices + flushes + 50, `${immediates} turns for ${slices} slices and ${flushes} flushes`);
    } finally {
      await stop();
    }
  });
});

describe('a background job and its writes', () => {
  /** A server holding `n` small keys, its RDB persistence, and a snapshot of it. */
  async function withSnapshot(n: number, body: (p: NonNullable<ReturnType<typeof rdbOf>>, snap: ReturnType<NonNullable<ReturnType<typeof rdbOf>>['startSnapshot']>) => Promise<void>): Promise<void> {
    const { server, stop } = await startInProcess(new SystemClock(), {});
    try {
      for (let i = 0; i < n; i++) server.dbs[0]!.set(`key:${i}`, `value:${i}`);
      const p = rdbOf(server)!;
      const snap = p.startSnapshot();
      try {
        await body(p, snap);
      } finally {
        p.endSnapshot(snap);
      }
    } finally {
      await stop();
    }
  }

  it('produces the next chunk while the previous one is written, and writes one at a time, in order', async () => {
    await withSnapshot(100_000, async (p, snap) => {
      const events: string[] = [];
      const step = snap.step.bind(snap);
      snap.step = (...args: Parameters<typeof snap.step>) => {
        events.push('slice');
        return step(...args);
      };
      let writing = 0;
      const written: Buffer[] = [];
      const complete = await p.drive(
        snap,
        (chunk) => {
          assert.equal(writing, 0, 'a write started while another was in flight');
          writing++;
          events.push('write');
          // A slow write (a disk, a socket to drain): done 5 ms later.
          return new Promise<void>((resolve) =>
            setTimeout(() => {
              written.push(chunk);
              writing--;
              events.push('written');
              resolve();
            }, 5),
          );
        },
        () => false,
      );
      assert.equal(complete, true);
      assert.equal(writing, 0, 'drive returned before its last write was done');
      assert.ok(written.length >= 4, `${written.length} chunks`);
      // Slices ran between a write's start and its end (the job did not idle for the write).
      const overlapped = events.filter((e, i) => e === 'slice' && events.lastIndexOf('write', i) > events.lastIndexOf('written', i)).length;
      assert.ok(overlapped > 0, `events: ${events.slice(0, 12).join(', ')}`);
      // The chunks, in order, are one whole image: every key once.
      let keys = 0;
      parseRdb(Buffer.concat(written), { selectDb: () => {}, aux: () => {}, functionCode: () => {}, key: () => void keys++ }, defaultLoadLimits());
      assert.equal(keys, 100_000);
    });
  });

  it('a failing write fails the job, and no write follows it', async () => {
    await withSnapshot(100_000, async (p, snap) => {
      let writes = 0;
      let afterFailure = 0;
      let failed = false;
      await assert.rejects(
        p.drive(
          snap,
          () => {
            writes++;
            if (failed) afterFailure++;
            if (writes === 2) {
              failed = true;
              return new Promise<void>((_resolve, reject) => setTimeout(() => reject(new Error('ENOSPC: no space left on device, write')), 5));
            }
            return Promise.resolve();
          },
          () => false,
        ),
        /ENOSPC/,
      );
      assert.equal(afterFailure, 0);
    });
  });
});
