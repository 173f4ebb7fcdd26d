/**
 * WAIT's round trip takes no extra loop turns on the master (Redis's beforeSleep order:
 * processClientsWaitingReplicas, processUnblockedClients, get_ack_from_slaves, then the writes):
 *  - REPLCONF GETACK leaves in the same write as the stream it asks about, so a replica reads
 *    the write and the GETACK together;
 *  - a client whose WAIT an ACK served runs its pipelined next command in that same turn, so
 *    WAIT's reply and the next command's reply leave together.
 * The replica here is a raw socket speaking the replication protocol, which records each read
 * as it came and ACKs exactly the offset it was asked about.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Redis } from 'ioredis';
import { startServer, stopAll } from './helpers/server.js';

after(stopAll);

/** A socket that keeps every chunk it reads, with a wait on what arrived so far. */
class Peer {
  readonly chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.chunks.push(d);
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('error', () => {});
  }

  static async connect(port: number): Promise<Peer> {
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise<void>((res, rej) => {
      sock.once('connect', res);
      sock.once('error', rej);
    });
    return new Peer(sock);
  }

  all(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Waits until `cond` holds over the bytes read so far (generous timeout, no sleeps). */
  async until(what: string, cond: (all: Buffer) => boolean, timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond(this.all())) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.all().toString('latin1'))}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }
}

/** Waits until INFO replication's slave0 line contains `text`. */
async function online(admin: Redis, text: string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (!String(await admin.call('INFO', 'replication')).split('\r\n').some((l) => l.startsWith('slave0:') && l.includes(text))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for slave0 ${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const GETACK = '*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n';

function resp(...argv: string[]): string {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Connects a raw replica: handshake, diskless full sync, first ACK; returns it and its offset. */
async function rawReplica(port: number): Promise<{ peer: Peer; streamStart: () => number; offset: number }> {
  const peer = await Peer.connect(port);
  peer.sock.write(resp('REPLCONF', 'listening-port', '1') + resp('REPLCONF', 'capa', 'eof', 'capa', 'psync2'));
  // PSYNC is refused while replies are pending: after the two +OKs.
  await peer.until('the REPLCONF replies', (all) => all.toString('latin1') === '+OK\r\n+OK\r\n');
  peer.sock.write(resp('PSYNC', '?', '-1'));
  let offset = 0;
  let payloadEnd = -1;
  await peer.until('the full sync', (all) => {
    const s = all.toString('latin1');
    const m = /\+FULLRESYNC [0-9a-f]{40} (\d+)\r\n\$EOF:([0-9a-f]{40})\r\n/.exec(s);
    if (m === null) return false;
    const endMark = s.indexOf(m[2]!, m.index + m[0].length);
    if (endMark < 0) return false;
    offset = Number(m[1]);
    payloadEnd = endMark + 40;
    return true;
  });
  // The master puts a diskless replica online on its first ACK.
  peer.sock.write(resp('REPLCONF', 'ACK', String(offset)));
  return { peer, streamStart: () => payloadEnd, offset };
}

/** A master, a raw replica online on it, an admin client and a raw client. */
async function masterWithRawReplica(): Promise<{ admin: Redis; rep: Awaited<ReturnType<typeof rawReplica>>; client: Peer }> {
  const m = await startServer({ args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0', '--repl-ping-replica-period', '60'] });
  const admin = m.client();
  const rep = await rawReplica(m.port);
  await online(admin, 'state=online');
  return { admin, rep, client: await Peer.connect(m.port) };
}

test('GETACK leaves with the write it asks about; the ACK of that offset serves WAIT 1', async () => {
  const { admin, rep, client } = await masterWithRawReplica();
  try {
    const seen = rep.peer.chunks.length;
    client.sock.write(resp('SET', 'k', 'v') + resp('WAIT', '1', '0'));
    await rep.peer.until('the GETACK', (all) => all.toString('latin1').includes(GETACK));
    const fresh = rep.peer.chunks.slice(seen).map((c) => c.toString('latin1'));
    const withGetAck = fresh.find((c) => c.includes(GETACK));
    assert.ok(withGetAck !== undefined && withGetAck.includes(resp('SET', 'k', 'v')), `SET and GETACK in one read: ${JSON.stringify(fresh)}`);
    // ACK the offset up to the end of SET (not the GETACK after it): WAIT 1 is satisfied.
    const stream = rep.peer.all().toString('latin1').slice(rep.streamStart());
    const setEnd = stream.indexOf(resp('SET', 'k', 'v')) + resp('SET', 'k', 'v').length;
    await client.until('+OK', (all) => all.toString('latin1') === '+OK\r\n');
    const short = rep.offset + setEnd - 1;
    rep.peer.sock.write(resp('REPLCONF', 'ACK', String(short)));
    await online(admin, `offset=${short},`);
    assert.equal(client.all().toString('latin1'), '+OK\r\n', 'an ACK one byte short of the write does not serve WAIT');
    rep.peer.sock.write(resp('REPLCONF', 'ACK', String(rep.offset + setEnd)));
    await client.until('WAIT served', (all) => all.toString('latin1') === '+OK\r\n:1\r\n');
  } finally {
    client.sock.destroy();
    rep.peer.sock.destroy();
  }
});

test('a client unblocked by an ACK runs its pipelined next command in the same turn', async () => {
  const { rep, client } = await masterWithRawReplica();
  try {
    // The replica ACKs everything it holds whenever asked.
    let asked = 0;
    rep.peer.sock.on('data', () => {
      const s = rep.peer.all().toString('latin1');
      const n = s.split(GETACK).length - 1;
      if (n > asked) {
        asked = n;
        rep.peer.sock.write(resp('REPLCONF', 'ACK', String(rep.offset + s.length - rep.streamStart())));
      }
    });
    const pairs = 4;
    let out = '';
    for (let i = 0; i < pairs; i++) out += resp('SET', `k${i}`, 'v') + resp('WAIT', '1', '0');
    client.sock.write(out);
    await client.until('every reply', (all) => all.toString('latin1') === '+OK\r\n:1\r\n'.repeat(pairs));
    // WAIT's reply and the reply of the SET behind it leave in one write.
    const chunks = client.chunks.map((c) => c.toString('latin1'));
    for (const c of chunks.slice(0, -1)) assert.ok(c.endsWith('+OK\r\n'), `each WAIT reply goes out with the next SET's: ${JSON.stringify(chunks)}`);
    assert.equal(asked, pairs);
  } finally {
    client.sock.destroy();
    rep.peer.sock.destroy();
  }
});
