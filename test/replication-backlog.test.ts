/**
 * The replication backlog against a model (the whole stream kept in one Buffer): whatever is
 * appended, resized or reset, `covers`/`copyFrom` return exactly the tail of the stream the
 * ring still holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { ReplicationBacklog } from '../src/replication/backlog.js';

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
