/**
 * The replication backlog against a model (the whole stream kept in one Buffer): whatever is
 * appended, resized or reset, `covers`/`copyFrom` return exactly the tail of the stream the
 * ring still holds; and, with replicas holding offsets, the shared buffer keeps what they need.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { ReplicationBacklog, REPL_BLOCK_BYTES } from '../src/replication/backlog.js';
import { encodeCommand } from '../src/server/propagate.js';

test('backlog holds the newest bytes of the stream, by replication offset', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.oneof(fc.uint8Array({ maxLength: 100 }).map((a) => ({ append: Buffer.from(a) })), fc.integer({ min: 1, max: 64 }).map((n) => ({ resize: n }))), { maxLength: 40 }),
      (size, start, ops) => {
        const b = new ReplicationBacklog(size, start);
        let stream = Buffer.alloc(0);
        let held = 0;
        let cap = size;
        for (const op of ops) {
          if ('append' in op) {
            b.append(op.append);
            stream = Buffer.concat([stream, op.append]);
            held = Math.min(cap, held + op.append.length);
          } else {
            cap = op.resize;
            held = Math.min(cap, held);
            b.resize(op.resize);
          }
          const end = start + stream.length;
          assert.equal(b.histlen, held);
          assert.equal(b.firstByteOffset, end - held + 1);
          for (let off = end - held + 1; off <= end + 1; off++) {
            assert.ok(b.covers(off));
            assert.deepEqual(b.copyFrom(off), stream.subarray(off - start - 1));
          }
          assert.equal(b.covers(end + 2), false);
          if (held < stream.length) assert.equal(b.covers(end - held), false);
        }
      },
    ),
  );
});

test('the shared buffer keeps what replicas still need beyond the backlog size, and frees it after', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.record({ data: fc.uint8Array({ maxLength: 20000 }), keep: fc.option(fc.double({ min: 0, max: 1, noNaN: true })) }), { maxLength: 30 }),
      (size, start, ops) => {
        const b = new ReplicationBacklog(size, start);
        let stream = Buffer.alloc(0);
        let first = start + 1;
        for (const op of ops) {
          const end = start + stream.length;
          // A replica still needs the stream from some offset already held (or nothing).
          const keepFrom = op.keep === null ? Infinity : first + Math.floor(op.keep * (end + 1 - first));
          const data = Buffer.from(op.data);
          b.append(data, keepFrom);
          stream = Buffer.concat([stream, data]);
          const newEnd = start + stream.length;
          first = Math.max(first, Math.min(keepFrom, newEnd + 1 - size));
          assert.equal(b.firstByteOffset, first);
          assert.equal(b.histlen, newEnd + 1 - first);
          for (const off of [first, Math.floor((first + newEnd) / 2), newEnd, newEnd + 1]) {
            if (off < first) continue;
            assert.deepEqual(b.copyFrom(off), stream.subarray(off - start - 1));
          }
          // Blocks hold the history and at most one partly used block at each end.
          assert.ok(b.memory >= b.histlen);
          assert.ok(b.memory <= b.histlen + 2 * REPL_BLOCK_BYTES + 20000, `${b.memory} for ${b.histlen}`);
        }
        b.trim();
        assert.equal(b.histlen, Math.min(size, stream.length + start + 1 - first));
      },
    ),
  );
});

test('a command encoded straight into the last block (appendLatin1) is the stream as a Buffer append would be', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.oneof(fc.string({ maxLength: 9000 }).map((s) => ({ text: Buffer.from(s, 'utf8').toString('latin1') })), fc.uint8Array({ maxLength: 9000 }).map((a) => ({ append: Buffer.from(a) }))), { maxLength: 12 }),
      (start, ops) => {
        const b = new ReplicationBacklog(1 << 20, start);
        let stream = Buffer.alloc(0);
        for (const op of ops) {
          const bytes = 'text' in op ? Buffer.from(op.text, 'latin1') : op.append;
          if ('text' in op) {
            // As ReplicationState.feedCommand: the block's room, or else a Buffer append.
            const view = b.appendLatin1(op.text);
            if (view === null) {
              b.append(bytes);
            } else {
              assert.deepEqual(view, bytes);
            }
          } else {
            b.append(bytes);
          }
          stream = Buffer.concat([stream, bytes]);
          assert.equal(b.histlen, stream.length);
          assert.deepEqual(b.copyFrom(start + 1), stream);
          if (stream.length > 0) assert.deepEqual(b.copyFrom(start + 1 + Math.floor(stream.length / 2)), stream.subarray(Math.floor(stream.length / 2)));
        }
      },
    ),
  );
});

test('a command encoded from its arguments into the last block (appendCommand) is encodeCommand\'s bytes, in the stream', () => {
  const arg = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ maxLength: 3000 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.array(fc.oneof(fc.array(arg, { minLength: 1, maxLength: 12 }).map((argv) => ({ argv })), fc.uint8Array({ maxLength: 9000 }).map((a) => ({ append: Buffer.from(a) }))), { maxLength: 14 }),
      (start, ops) => {
        const b = new ReplicationBacklog(1 << 20, start);
        let stream = Buffer.alloc(0);
        for (const op of ops) {
          let bytes: Buffer;
          if ('argv' in op) {
            const argv = op.argv.map((a) => Buffer.from(a, 'utf8').toString('latin1'));
            bytes = Buffer.from(encodeCommand(argv), 'latin1');
            // As ReplicationState.feedCommand: the block's room, or else a Buffer append.
            const view = b.appendCommand(argv);
            if (view === null) b.append(bytes);
            else assert.deepEqual(view, bytes);
          } else {
            bytes = op.append;
            b.append(bytes);
          }
          stream = Buffer.concat([stream, bytes]);
          assert.equal(b.histlen, stream.length);
          assert.deepEqual(b.copyFrom(start + 1), stream);
        }
      },
    ),
  );
  // Lengths with every number of digits, up to a block's size.
  const b = new ReplicationBacklog(1 << 20, 0);
  b.append(Buffer.alloc(1));
  for (const len of [0, 1, 9, 10, 99, 100, 999, 1000, 9999, 10000, 16000]) {
    const argv = ['SET', 'k', 'v'.repeat(len)];
    const view = b.appendCommand(argv);
    assert.ok(view !== null || len > 8000, `length ${len}`);
    if (view !== null) assert.equal(view.latin1Slice(0, view.length), encodeCommand(argv));
    else b.append(Buffer.from(encodeCommand(argv), 'latin1'));
  }
});
