/**
 * The cluster bus wire format of Redis 7.0.15 (cluster.h): a 2256-byte header "RCmb" followed by
 * the message's data (gossip sections and ping extensions, FAIL, PUBLISH, UPDATE). Integers are
 * big-endian; names are 40 bytes, IPs 46 bytes NUL-padded.
 */
import { CLUSTER_SLOTS } from './slot.js';

export const NAMELEN = 40;
export const IPLEN = 46;
export const HEADER_LEN = 2256;
export const GOSSIP_LEN = 104;
export const SLOT_BYTES = CLUSTER_SLOTS / 8;
export const PROTO_VER = 1;
export const PORT_INCR = 10000;

export const MsgType = {
  PING: 0,
  PONG: 1,
  MEET: 2,
  FAIL: 3,
  PUBLISH: 4,
  AUTH_REQUEST: 5,
  AUTH_ACK: 6,
  UPDATE: 7,
  MFSTART: 8,
  MODULE: 9,
  PUBLISHSHARD: 10,
} as const;
export const MSG_TYPE_COUNT = 11;
export const MSG_TYPE_NAMES = ['ping', 'pong', 'meet', 'fail', 'publish', 'auth-req', 'auth-ack', 'update', 'mfstart', 'module', 'publishshard'];

export const Flag = {
  MASTER: 1,
  SLAVE: 2,
  PFAIL: 4,
  FAIL: 8,
  MYSELF: 16,
  HANDSHAKE: 32,
  NOADDR: 64,
  MEET: 128,
  MIGRATE_TO: 256,
  NOFAILOVER: 512,
} as const;

export const MFLAG0_PAUSED = 1;
export const MFLAG0_FORCEACK = 2;
export const MFLAG0_EXT_DATA = 4;
export const EXT_HOSTNAME = 0;

/** The null node name (all zero bytes), as a latin1 string. */
export const NULL_NAME = '\0'.repeat(NAMELEN);

export interface Gossip {
  name: string;
  pingSent: number;
  pongReceived: number;
  ip: string;
  port: number;
  cport: number;
  flags: number;
  pport: number;
}

export interface Header {
  type: number;
  count: number;
  currentEpoch: bigint;
  configEpoch: bigint;
  offset: bigint;
  sender: string;
  myslots: Uint8Array;
  /** The sender's master's name, or NULL_NAME. */
  slaveof: string;
  /** The announced IP ('' when not announced). */
  myip: string;
  port: number;
  pport: number;
  cport: number;
  flags: number;
  state: number;
  mflags0: number;
}

export interface Message {
  header: Header;
  gossip: Gossip[];
  /** The hostname ping extension (null: none sent; '' an empty one). */
  hostname: string | null;
  /** FAIL: the failing node. */
  failNode: string;
  /** PUBLISH / PUBLISHSHARD. */
  channel: string;
  message: string;
  /** UPDATE. */
  updateEpoch: bigint;
  updateNode: string;
  updateSlots: Uint8Array;
}

function cstr(buf: Buffer, at: number, len: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('latin1', at, end === -1 || end > at + len ? at + len : end);
}

/** Writes the header fields (not totlen) into a fresh buffer of `totlen` bytes. */
export function encode(h: Header, body: { gossip?: Gossip[]; hostname?: string; failNode?: string; channel?: string; message?: string; updateEpoch?: bigint; updateNode?: string; updateSlots?: Uint8Array }): Buffer {
  const gossip = body.gossip ?? [];
  let dataLen = 0;
  let extLen = 0;
  let mflags0 = h.mflags0;
  let extensions = 0;
  if (h.type === MsgType.PING || h.type === MsgType.PONG || h.type === MsgType.MEET) {
    dataLen = gossip.length * GOSSIP_LEN;
    if (body.hostname !== undefined && body.hostname !== '') {
      extLen = 8 + Math.ceil((body.hostname.length + 1) / 8) * 8;
      mflags0 |= MFLAG0_EXT_DATA;
      extensions = 1;
    }
  } else if (h.type === MsgType.FAIL) dataLen = NAMELEN;
  else if (h.type === MsgType.UPDATE) dataLen = 8 + NAMELEN + SLOT_BYTES;
  else if (h.type === MsgType.PUBLISH || h.type === MsgType.PUBLISHSHARD) dataLen = 8 + (body.channel ?? '').length + (body.message ?? '').length;
  const totlen = HEADER_LEN + dataLen + extLen;
  // From Node's shared pool (a PING/PONG is under its 4 KB cut-off) rather than an ArrayBuffer
  // of its own per message; zeroed as Buffer.alloc would, so the bytes are the same.
  const b = Buffer.allocUnsafe(totlen).fill(0);
  b.write('RCmb', 0, 'latin1');
  b.writeUInt32BE(totlen, 4);
  b.writeUInt16BE(PROTO_VER, 8);
  b.writeUInt16BE(h.port, 10);
  b.writeUInt16BE(h.type, 12);
  b.writeUInt16BE(h.type === MsgType.PING || h.type === MsgType.PONG || h.type === MsgType.MEET ? gossip.length : h.count, 14);
  b.writeBigUInt64BE(h.currentEpoch, 16);
  b.writeBigUInt64BE(h.configEpoch, 24);
  b.writeBigUInt64BE(h.offset, 32);
  b.write(h.sender, 40, NAMELEN, 'latin1');
  Buffer.from(h.myslots.buffer, h.myslots.byteOffset, SLOT_BYTES).copy(b, 80);
  b.write(h.slaveof, 2128, NAMELEN, 'latin1');
  b.write(h.myip.slice(0, IPLEN - 1), 2168, IPLEN - 1, 'latin1');
  b.writeUInt16BE(extensions, 2214);
  b.writeUInt16BE(h.pport, 2246);
  b.writeUInt16BE(h.cport, 2248);
  b.writeUInt16BE(h.flags, 2250);
  b.writeUInt8(h.state, 2252);
  b.writeUInt8(mflags0, 2253);
  let at = HEADER_LEN;
  if (h.type === MsgType.PING || h.type === MsgType.PONG || h.type === MsgType.MEET) {
    for (const g of gossip) {
      b.write(g.name, at, NAMELEN, 'latin1');
      b.writeUInt32BE(Math.floor(g.pingSent / 1000) >>> 0, at + 40);
      b.writeUInt32BE(Math.floor(g.pongReceived / 1000) >>> 0, at + 44);
      b.write(g.ip.slice(0, IPLEN - 1), at + 48, IPLEN - 1, 'latin1');
      b.writeUInt16BE(g.port, at + 94);
      b.writeUInt16BE(g.cport, at + 96);
      b.writeUInt16BE(g.flags, at + 98);
      b.writeUInt16BE(g.pport, at + 100);
      at += GOSSIP_LEN;
    }
    if (extLen > 0) {
      b.writeUInt32BE(extLen, at);
      b.writeUInt16BE(EXT_HOSTNAME, at + 4);
      b.write(body.hostname!, at + 8, 'latin1');
    }
  } else if (h.type === MsgType.FAIL) {
    b.write(body.failNode!, at, NAMELEN, 'latin1');
  } else if (h.type === MsgType.UPDATE) {
    b.writeBigUInt64BE(body.updateEpoch!, at);
    b.write(body.updateNode!, at + 8, NAMELEN, 'latin1');
    Buffer.from(body.updateSlots!.buffer, body.updateSlots!.byteOffset, SLOT_BYTES).copy(b, at + 48);
  } else if (h.type === MsgType.PUBLISH || h.type === MsgType.PUBLISHSHARD) {
    const ch = body.channel ?? '';
    b.writeUInt32BE(ch.length, at);
    b.writeUInt32BE((body.message ?? '').length, at + 4);
    b.write(ch, at + 8, 'latin1');
    b.write(body.message ?? '', at + 8 + ch.length, 'latin1');
  }
  return b;
}

/** A message's updateSlots when it is not an UPDATE (read by no one). */
const NO_SLOTS = new Uint8Array(SLOT_BYTES);

/**
 * Decodes one whole message (`buf.length` is its totlen). The header's and an UPDATE's slot
 * bitmaps are views of `buf`, not copies: the caller hands over a buffer no one reuses. Returns a string describing why the
 * message is invalid (logged as Redis logs it) or null when it is to be ignored silently.
 */
export function decode(buf: Buffer): Message | string | null {
  const totlen = buf.length;
  if (totlen < 16) return null;
  if (buf.readUInt16BE(8) !== PROTO_VER) return null;
  const type = buf.readUInt16BE(12);
  const typeName = MSG_TYPE_NAMES[type] ?? 'unknown';
  if (totlen < HEADER_LEN) return type < MSG_TYPE_COUNT ? `Received invalid ${typeName} packet of length ${totlen} but expected length ${HEADER_LEN}` : null;
  const header: Header = {
    type,
    count: buf.readUInt16BE(14),
    port: buf.readUInt16BE(10),
    currentEpoch: buf.readBigUInt64BE(16),
    configEpoch: buf.readBigUInt64BE(24),
    offset: buf.readBigUInt64BE(32),
    sender: buf.toString('latin1', 40, 80),
    myslots: buf.subarray(80, 80 + SLOT_BYTES),
    slaveof: buf.toString('latin1', 2128, 2168),
    myip: cstr(buf, 2168, IPLEN),
    pport: buf.readUInt16BE(2246),
    cport: buf.readUInt16BE(2248),
    flags: buf.readUInt16BE(2250),
    state: buf.readUInt8(2252),
    mflags0: buf.readUInt8(2253),
  };
  const msg: Message = {
    header, gossip: [], hostname: null, failNode: '', channel: '', message: '', updateEpoch: 0n, updateNode: '', updateSlots: NO_SLOTS,
  };
  let explen = HEADER_LEN;
  if (type === MsgType.PING || type === MsgType.PONG || type === MsgType.MEET) {
    explen += GOSSIP_LEN * header.count;
    if (explen > totlen) return `Received invalid ${typeName} packet of length ${totlen} but expected length ${explen}`;
    for (let i = 0, at = HEADER_LEN; i < header.count; i++, at += GOSSIP_LEN) {
      msg.gossip.push({
        name: buf.toString('latin1', at, at + 40),
        pingSent: buf.readUInt32BE(at + 40) * 1000,
        pongReceived: buf.readUInt32BE(at + 44) * 1000,
        ip: cstr(buf, at + 48, IPLEN),
        port: buf.readUInt16BE(at + 94),
        cport: buf.readUInt16BE(at + 96),
        flags: buf.readUInt16BE(at + 98),
        pport: buf.readUInt16BE(at + 100),
      });
    }
    if (header.mflags0 & MFLAG0_EXT_DATA) {
      let extensions = buf.readUInt16BE(2214);
      let at = explen;
      while (extensions-- > 0) {
        if (at + 8 > totlen) return `Received invalid ${typeName} packet with extension data that exceeds total packet length (${totlen})`;
        const extlen = buf.readUInt32BE(at);
        if (extlen % 8 !== 0) return `Received a ${typeName} packet without proper padding (${extlen & 0xffff} bytes)`;
        if (totlen - explen < extlen || extlen < 8) return `Received invalid ${typeName} packet with extension data that exceeds total packet length (${totlen})`;
        if (buf.readUInt16BE(at + 4) === EXT_HOSTNAME) msg.hostname = cstr(buf, at + 8, extlen - 8);
        explen += extlen;
        at += extlen;
      }
    }
  } else if (type === MsgType.FAIL) {
    explen += NAMELEN;
    if (totlen === explen) msg.failNode = buf.toString('latin1', HEADER_LEN, HEADER_LEN + NAMELEN);
  } else if (type === MsgType.PUBLISH || type === MsgType.PUBLISHSHARD) {
    if (totlen < HEADER_LEN + 8) return `Received invalid ${typeName} packet of length ${totlen} but expected length ${HEADER_LEN + 8}`;
    const cl = buf.readUInt32BE(HEADER_LEN);
    const ml = buf.readUInt32BE(HEADER_LEN + 4);
    explen += 8 + cl + ml;
    if (totlen === explen) {
      msg.channel = buf.toString('latin1', HEADER_LEN + 8, HEADER_LEN + 8 + cl);
      msg.message = buf.toString('latin1', HEADER_LEN + 8 + cl, HEADER_LEN + 8 + cl + ml);
    }
  } else if (type === MsgType.UPDATE) {
    explen += 8 + NAMELEN + SLOT_BYTES;
    if (totlen === explen) {
      msg.updateEpoch = buf.readBigUInt64BE(HEADER_LEN);
      msg.updateNode = buf.toString('latin1', HEADER_LEN + 8, HEADER_LEN + 48);
      msg.updateSlots = buf.subarray(HEADER_LEN + 48, HEADER_LEN + 48 + SLOT_BYTES);
    }
  } else if (type === MsgType.MODULE) {
    if (totlen >= HEADER_LEN + 12) explen += 16 - 3 + buf.readUInt32BE(HEADER_LEN + 8);
  } else if (type !== MsgType.AUTH_REQUEST && type !== MsgType.AUTH_ACK && type !== MsgType.MFSTART) {
    explen = totlen;
  }
  if (totlen !== explen) return `Received invalid ${typeName} packet of length ${totlen} but expected length ${explen}`;
  return msg;
}

export const bitTest = (bm: Uint8Array, pos: number): boolean => (bm[pos >> 3]! & (1 << (pos & 7))) !== 0;
export const bitSet = (bm: Uint8Array, pos: number): void => {
  bm[pos >> 3]! |= 1 << (pos & 7);
};
export const bitClear = (bm: Uint8Array, pos: number): void => {
  bm[pos >> 3]! &= ~(1 << (pos & 7));
};
