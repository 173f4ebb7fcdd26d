/**
 * server/gc.ts: the full collection MEMORY PURGE runs packs the old generation (every page
 * evacuated), where an ordinary full collection leaves fragmented pages in place.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import { collectGarbage } from '../src/server/gc.js';

function oldSpace(): { used: number; physical: number } {
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'old_space')!;
  return { used: s.space_used_size, physical: s.physical_space_size };
}

describe('collectGarbage', () => {
  it('compact: old space is packed to within a few pages of its live data', () => {
    // 400,000 small strings promoted to old space, then every other one dropped: each page
    // keeps half its objects, which an ordinary full collection does not evacuate.
    const kept = new Map<string, string>();
    for (let i = 0; i < 400_000; i++) kept.set(`key:${String(i).padStart(9, '0')}`, `val:${i}`);
    collectGarbage();
    collectGarbage();
    for (let i = 0; i < 400_000; i += 2) kept.delete(`key:${String(i).padStart(9, '0')}`);
    collectGarbage(true);
    const after = oldSpace();
    assert.ok(after.physical <= after.used * 1.1 + 4 * 1048576, `old space ${after.physical} bytes for ${after.used} live`);
    assert.equal(kept.size, 200_000);
    // The flag applied to that one collection only: an ordinary one still runs.
    collectGarbage();
    assert.equal(kept.get('key:000000001'), 'val:1');
  });
});
