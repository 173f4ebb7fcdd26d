/**
 * ReplyWriter.pending() hands the socket a view of its buffer and keeps its last two views:
 * a client whose writes alternate between two lengths (SET + WAIT 1's `+OK` and `:1`) gets the
 * same two views again instead of a new typed array per write. Reuse must never show stale
 * bytes: each view's contents are what was written since the last sent(), and once a write kept
 * the buffer (sent(true)) the views of the old buffer are not handed out again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyWriter } from '../src/protocol/writer.js';

test('pending() reuses its last two views for alternating lengths, never with stale bytes', () => {
  const w = new ReplyWriter();
  const seen = new Map<string, Buffer>();
  for (let i = 0; i < 6; i++) {
    w.ok();
    const a = w.pending();
    assert.equal(a.toString('latin1'), '+OK\r\n');
    w.sent(false);
    w.integer(i % 2);
    const b = w.pending();
    assert.equal(b.toString('latin1'), `:${i % 2}\r\n`);
    w.sent(false);
    if (i > 0) {
      assert.equal(a, seen.get('ok'), 'the +OK view is reused');
      assert.equal(b, seen.get('int'), 'the :n view is reused');
    }
    seen.set('ok', a);
    seen.set('int', b);
  }
  // A third length evicts the older view; the contents stay right.
  w.integer(123);
  assert.equal(w.pending().toString('latin1'), ':123\r\n');
  w.sent(false);
  w.ok();
  assert.equal(w.pending().toString('latin1'), '+OK\r\n');
  // The socket kept the buffer: the next view is of a new buffer, not one of the old views.
  const old = w.pending();
  w.sent(true);
  w.ok();
  const fresh = w.pending();
  assert.notEqual(fresh, old);
  assert.notEqual(fresh.buffer === old.buffer && fresh.byteOffset === old.byteOffset, true);
  assert.equal(fresh.toString('latin1'), '+OK\r\n');
  w.sent(false);
});
