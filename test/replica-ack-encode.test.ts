/**
 * A replica's REPLCONF ACK is encoded into one reused buffer (replica.ts encodeAck): at every
 * number of digits it must be the RESP command the string form gives, and a shorter offset after
 * a longer one must not leave the longer one's bytes in what is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeAck } from '../src/replication/replica.js';
import { encodeCommand } from '../src/server/propagate.js';

test('encodeAck writes REPLCONF ACK <offset> as encodeCommand does, into a reused buffer', () => {
  const prefix = '*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n';
  const buf = Buffer.from(prefix + ' '.repeat(40), 'latin1');
  const offsets = [0, 1, 9, 10, 99, 100, 12345, 999999999, 1000000000, 2 ** 53 - 1, 123456789012, 7];
  for (let i = 0; i < 30; i++) offsets.push(Math.floor(Math.random() * 10 ** (1 + (i % 15))));
  for (const off of offsets) {
    const n = encodeAck(buf, off);
    assert.equal(buf.latin1Slice(0, n), encodeCommand(['REPLCONF', 'ACK', String(off)]), `offset ${off}`);
  }
});
