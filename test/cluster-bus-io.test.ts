/**
 * The cluster bus's socket layer (cluster/bus.ts): plain links read into the clients' shared
 * buffer and write to the socket handle (shared-reads.ts, direct-writes.ts), or, with
 * NODIS_SHARED_READS=0 NODIS_DIRECT_WRITES=0, through 'data' events and `socket.write`. Either way
 * a message split over several reads, several messages in one read and a message that ends in
 * the next read are each handled once, the replies are whole Redis-layout messages, and a bad
 * signature drops the link with Redis's warning.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { decode, encode, MsgType, NULL_NAME, SLOT_BYTES, type Message } from '../src/cluster/codec.js';
import { freePort, startServer, stopAll } from './helpers/server.js';

const FAKE = 'f'.repeat(40);

function message(type: number, cport: number): Buffer {
  return encode(
    {
      type, count: 0, currentEpoch: 0n, configEpoch: 0n, offset: 0n, sender: FAKE, myslots: new Uint8Array(SLOT_BYTES),
      slaveof: NULL_NAME, myip: '', port: cport - 10000, pport: 0, cport, flags: 1, state: 0, mflags0: 0,
    },
    { gossip: [] },
  );
}

/** A raw connection to a bus port that collects the whole messages it receives. */
async function busPeer(port: number): Promise<{ sock: net.Socket; got: Message[]; closed: () => boolean }> {
  const sock = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  const got: Message[] = [];
  let pending = Buffer.alloc(0);
  let closed = false;
  sock.on('close', () => (closed = true));
  sock.on('error', () => {});
  sock.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 8 && pending.length >= pending.readUInt32BE(4)) {
      const len = pending.readUInt32BE(4);
      assert.equal(pending.toString('latin1', 0, 4), 'RCmb');
      const m = decode(Buffer.from(pending.subarray(0, len)));
      assert.ok(m !== null && typeof m !== 'string', String(m));
      got.push(m);
      pending = pending.subarray(len);
    }
  });
  return { sock, got, closed: () => closed };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 30000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

for (const [label, env] of [
  ['shared reads and direct writes', {}],
  ["'data' events and socket.write (NODIS_SHARED_READS=0 NODIS_DIRECT_WRITES=0)", { NODIS_SHARED_READS: '0', NODIS_DIRECT_WRITES: '0' }],
] as const) {
  describe(`cluster bus through ${label}`, () => {
    after(stopAll);

    it('frames split, joined and straddling messages; replies are whole PONGs from the node', { timeout: 90000 }, async () => {
      const busPort = await freePort();
      const s = await startServer({ env, args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--appendonly', 'no'] });
      const myid = (await s.client().call('CLUSTER', 'MYID')) as string;
      const peer = await busPeer(busPort);
      try {
        const fakeCport = await freePort();
        const meet = message(MsgType.MEET, fakeCport);
        // One MEET in three reads (the signature itself split).
        peer.sock.write(meet.subarray(0, 3));
        await pause();
        peer.sock.write(meet.subarray(3, 1000));
        await pause();
        peer.sock.write(meet.subarray(1000));
        await until('the PONG to the MEET', () => peer.got.length === 1);
        // Two PINGs in one write, and a third that ends in the next one.
        const ping = message(MsgType.PING, fakeCport);
        peer.sock.write(Buffer.concat([ping, ping, ping.subarray(0, 2000)]));
        await until('the PONGs to the two whole PINGs', () => peer.got.length === 3);
        // A client's read goes through the shared buffer meanwhile; the kept start must be a copy.
        assert.equal(await s.client().echo('x'.repeat(20000)), 'x'.repeat(20000));
        peer.sock.write(ping.subarray(2000));
        await until('the PONGs to the three PINGs', () => peer.got.length === 4);
        for (const m of peer.got) {
          assert.equal(m.header.type, MsgType.PONG);
          assert.equal(m.header.sender, myid);
          assert.equal(m.header.cport, busPort);
        }
        const info = (await s.client().call('CLUSTER', 'INFO')) as string;
        assert.match(info, /cluster_stats_messages_meet_received:1\r\n/);
        assert.match(info, /cluster_stats_messages_ping_received:3\r\n/);
        // A bad signature: the node drops the link, as Redis does.
        const bad = Buffer.from(ping);
        bad.write('XXXX', 0, 'latin1');
        peer.sock.write(bad);
        await until('the link closed', peer.closed);
        await s.waitForLog('Bad message length or signature received on the Cluster bus.');
        assert.equal(await s.client().ping(), 'PONG');
      } finally {
        peer.sock.destroy();
      }
    });
  });
}
