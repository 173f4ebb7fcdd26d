/**
 * The reply writer writes a safe integer's digits straight into its buffer, two per division
 * from a table (p16g): `:n`, a bulk of n (GET of an INCRed key, popped integer elements) and
 * RESP2's integer-valued doubles (ZPOPMIN's scores) must be exactly what Redis's text is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { ReplyWriter } from '../src/protocol/writer.js';

function written(fn: (w: ReplyWriter) => void): string {
  const w = new ReplyWriter();
  fn(w);
  return w.buf.subarray(0, w.len).toString('latin1');
}

const edges = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10000, 10001, 99999, 100000, 123456, 999999, 1000000, 2 ** 31, 2 ** 32 + 7, 2 ** 53 - 1];

test('integers, bulk integers and integer doubles are their decimal text', () => {
  const check = (n: number): void => {
    assert.equal(written((w) => w.integer(n)), `:${n}\r\n`, `integer ${n}`);
    assert.equal(written((w) => w.bulkInteger(n)), `$${String(n).length}\r\n${n}\r\n`, `bulk ${n}`);
    if (n !== 0) assert.equal(written((w) => w.double(n)), `$${String(n).length}\r\n${n}\r\n`, `double ${n}`);
  };
  for (const n of edges) {
    check(n);
    check(-n);
  }
  fc.assert(
    fc.property(fc.oneof(fc.maxSafeInteger(), fc.integer({ min: -1_000_000, max: 10_000_000 })), (n) => check(n)),
    { numRuns: 2000 },
  );
});
