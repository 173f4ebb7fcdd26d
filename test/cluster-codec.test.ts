/**
 * The cluster bus codec (cluster.h's wire format) with its allocation cuts: messages are built in
 * buffers from Node's shared pool (which hold old bytes) and decoded slot bitmaps are views, not
 * copies. Every byte a message does not set must still be zero, as Redis's calloc'd buffers are,
 * and a decoded message must read back what was encoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode, decode, MsgType, HEADER_LEN, GOSSIP_LEN, SLOT_BYTES, NULL_NAME, type Header, type Message } from '../src/cluster/codec.js';

const NAME_A = 'a'.repeat(40);
const NAME_B = '0123456789abcdef0123456789abcdef01234567';

function header(type: number, slots: Uint8Array): Header {
  return {
    type, count: 0, currentEpoch: 7n, configEpoch: 5n, offset: 123456789n, sender: NAME_A, myslots: slots, slaveof: NULL_NAME,
    myip: '', port: 30001, pport: 0, cport: 40001, flags: 1, state: 0, mflags0: 0,
  };
}

/** Leaves Node's shared allocation pool full of 0xff bytes, as earlier small buffers would. */
function dirtyPool(): void {
  for (let i = 0; i < 64; i++) Buffer.allocUnsafe(2048).fill(0xff);
}

test('a PING built from a dirty pool is byte for byte the zero-filled layout (padding and unused fields are 0)', () => {
  const slots = new Uint8Array(SLOT_BYTES);
  slots[0] = 0x0f;
  slots[SLOT_BYTES - 1] = 0x80;
  const gossip = [{ name: NAME_B, pingSent: 1_700_000_000_000, pongReceived: 1_700_000_001_000, ip: '127.0.0.1', port: 30002, cport: 40002, flags: 2, pport: 0 }];
  dirtyPool();
  const a = encode(header(MsgType.PING, slots), { gossip, hostname: 'host-1' });
  dirtyPool();
  const b = encode(header(MsgType.PING, slots), { gossip, hostname: 'host-1' });
  assert.deepEqual(a, b);
  const extLen = 8 + Math.ceil(('host-1'.length + 1) / 8) * 8;
  assert.equal(a.length, HEADER_LEN + GOSSIP_LEN + extLen);
  assert.equal(a.toString('latin1', 0, 4), 'RCmb');
  assert.equal(a.readUInt32BE(4), a.length);
  // No 0xff left anywhere: every field here is small, names and IPs are NUL padded.
  assert.equal(a.indexOf(0xff), -1);
  // The bytes Redis leaves zero: the announced IP (none), the reserved area, the gossip entry's IP tail.
  assert.ok(a.subarray(2168, 2214).every((x) => x === 0));
  assert.ok(a.subarray(2216, 2246).every((x) => x === 0));
  assert.ok(a.subarray(2254, HEADER_LEN).every((x) => x === 0));
  assert.ok(a.subarray(HEADER_LEN + 48 + 9, HEADER_LEN + 94).every((x) => x === 0));
});

test('decode reads back what encode wrote; its slot bitmaps are views of the message buffer', () => {
  const slots = new Uint8Array(SLOT_BYTES);
  for (let i = 0; i < SLOT_BYTES; i += 7) slots[i] = i & 0xff;
  const buf = encode(header(MsgType.PONG, slots), { gossip: [], hostname: '' });
  const msg = decode(buf) as Message;
  assert.equal(typeof msg, 'object');
  assert.equal(msg.header.type, MsgType.PONG);
  assert.equal(msg.header.currentEpoch, 7n);
  assert.equal(msg.header.offset, 123456789n);
  assert.equal(msg.header.sender, NAME_A);
  assert.equal(msg.header.cport, 40001);
  assert.deepEqual(Buffer.from(msg.header.myslots), Buffer.from(slots));
  assert.equal(msg.header.myslots.buffer, buf.buffer);
  assert.equal(msg.hostname, null);

  const update = encode(header(MsgType.UPDATE, new Uint8Array(SLOT_BYTES)), { updateEpoch: 9n, updateNode: NAME_B, updateSlots: slots });
  const u = decode(update) as Message;
  assert.equal(u.updateEpoch, 9n);
  assert.equal(u.updateNode, NAME_B);
  assert.deepEqual(Buffer.from(u.updateSlots), Buffer.from(slots));
  // A message that is not an UPDATE carries an all-zero updateSlots.
  assert.ok(msg.updateSlots.every((x) => x === 0));
});
