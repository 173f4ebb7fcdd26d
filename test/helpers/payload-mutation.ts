/**
 * Corrupting DUMP payloads for the robustness tests: fast-check mutations of a payload's body
 * (set, flip, truncate, insert, delete a byte), after which the footer (RDB version and CRC64)
 * is recomputed, so that the damage reaches the decoder instead of the checksum check.
 */
import fc from 'fast-check';
import { Crc64 } from '../../src/persistence/crc64.js';
import { RDB_VERSION } from '../../src/persistence/rdb-format.js';

/** `body` (type byte and value) with a valid DUMP footer. */
export function withFooter(body: Buffer): Buffer {
  const out = Buffer.alloc(body.length + 10);
  body.copy(out);
  out.writeUInt16LE(RDB_VERSION, body.length);
  out.set(new Crc64().update(out, 0, body.length + 2).bytes(), body.length + 2);
  return out;
}

/** One corruption of a payload's body. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.noBias(fc.nat()), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.noBias(fc.nat()), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.noBias(fc.nat()) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.noBias(fc.nat()), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.noBias(fc.nat()) }),
);
export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** A payload with `muts` applied to its body and its footer recomputed. */
export function corrupt(payload: Buffer, muts: Mutation[]): Buffer {
  let body = Buffer.from(payload.subarray(0, payload.length - 10));
  for (const m of muts) {
    if (body.length === 0) break;
    const at = m.at % body.length;
    if (m.kind === 'set') body[at] = m.byte;
    else if (m.kind === 'flip') body[at] = body[at]! ^ (1 << m.bit);
    else if (m.kind === 'truncate') body = body.subarray(0, at);
    else if (m.kind === 'insert') body = Buffer.concat([body.subarray(0, at), Buffer.of(m.byte), body.subarray(at)]);
    else body = Buffer.concat([body.subarray(0, at), body.subarray(at + 1)]);
  }
  return withFooter(body);
}
