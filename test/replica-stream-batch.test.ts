/**
 * A replica applies every command of one read of its master's stream, and feeds their bytes to
 * its own stream (backlog, sub-replicas) once, after the read (replica.ts processStream, as
 * Redis's replicationFeedStreamFromMasterStream at the end of processInputBuffer) — while its
 * offset still moves command by command: a REPLCONF GETACK in the middle of a read is answered
 * with the offset of the commands before it, and the backlog ends up byte-identical to what
 * the master sent (a sub-replica's PSYNC from the first byte gets exactly that).
 *
 * The master here is a raw socket: it answers the handshake, sends an empty RDB, then writes
 * two SETs and two GETACKs in one write.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, stopAll } from './helpers/server.js';
import { answerHandshake } from './helpers/raw-master.js';

after(stopAll);

function resp(...argv: string[]): string {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

const REPLID = 'b'.repeat(40);
/** An RDB with no keys (checksum 0: not checked). */
const EMPTY_RDB = Buffer.concat([Buffer.from('REDIS0010', 'latin1'), Buffer.of(0xff), Buffer.alloc(8)]);

/** Waits until `cond()` holds, checking whenever `sock` reads. */
function until(sock: net.Socket, what: string, cond: () => boolean, timeoutMs = 20000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cond()) return resolve();
    const t = setTimeout(() => {
      sock.off('data', check);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const check = (): void => {
      if (!cond()) return;
      clearTimeout(t);
      sock.off('data', check);
      resolve();
    };
    sock.on('data', check);
  });
}

test('GETACK inside one read answers the offset before it; the backlog holds the read byte for byte', async () => {
  const ctx: { master?: net.Server } = {};
  let link!: net.Socket;
  let fromReplica = '';
  const connected = new Promise<void>((resolve) => {
    const master = net.createServer((sock) => {
      link = sock;
      sock.setNoDelay(true);
      sock.on('error', () => {});
      sock.on('data', (d) => {
        const before = fromReplica;
        fromReplica += d.toString('latin1');
        // One reply per handshake command, in order (PING, REPLCONF…, PSYNC).
        answerHandshake(sock, before, fromReplica);
        if (!before.includes('PSYNC') && fromReplica.includes('PSYNC')) {
          sock.write(`+FULLRESYNC ${REPLID} 0\r\n$${EMPTY_RDB.length}\r\n`);
          sock.write(EMPTY_RDB);
          resolve();
        }
      });
    });
    ctx.master = master;
  });
  await new Promise<void>((resolve) => ctx.master!.listen(0, '127.0.0.1', resolve));
  const masterPort = (ctx.master!.address() as net.AddressInfo).port;
  const s = await startServer({ args: ['--replicaof', '127.0.0.1', String(masterPort), '--repl-ping-replica-period', '60'] });
  await connected;
  const ack = (off: number): string => resp('REPLCONF', 'ACK', String(off));
  // The replica ACKs offset 0 once it has loaded the image.
  await until(link, 'the first ACK', () => fromReplica.includes(ack(0)));
  const set1 = resp('SET', 'a', '1');
  const getack = resp('REPLCONF', 'GETACK', '*');
  const set2 = resp('SET', 'b', '22');
  const stream = set1 + getack + set2 + getack;
  const seen = fromReplica.length;
  link.write(stream);
  const first = set1.length;
  const second = set1.length + getack.length + set2.length;
  await until(link, 'both ACKs', () => fromReplica.slice(seen).includes(ack(second)));
  assert.equal(fromReplica.slice(seen), ack(first) + ack(second));

  const r = s.client();
  assert.equal(await r.get('b'), '22');
  // A command cut between two reads (the link reads into a buffer shared by every socket: what
  // the first read left unapplied must be kept as a copy, not as a view of that buffer).
  const set3 = resp('SET', 'c', 'v'.repeat(3000));
  const cut = set3.length - 1000;
  link.write(set3.slice(0, cut));
  // Other sockets' reads in between reuse the shared buffer.
  for (let i = 0; i < 3; i++) assert.equal(await r.call('ECHO', 'x'.repeat(2000)), 'x'.repeat(2000));
  link.write(set3.slice(cut) + getack);
  const third = second + getack.length + set3.length;
  await until(link, 'the third ACK', () => fromReplica.slice(seen).includes(ack(third)));
  assert.equal(await r.get('c'), 'v'.repeat(3000));
  const all = stream + set3 + getack;
  const info = String(await r.call('INFO', 'replication'));
  assert.match(info, new RegExp(`master_repl_offset:${all.length}\r`));
  assert.match(info, new RegExp(`repl_backlog_histlen:${all.length}\r`));

  // A sub-replica continuing from the first byte gets the stream exactly as the master sent it.
  const sub = net.connect(s.port, '127.0.0.1');
  let got = '';
  sub.on('data', (d) => (got += d.toString('latin1')));
  await new Promise<void>((resolve) => sub.once('connect', resolve));
  sub.write(resp('PSYNC', REPLID, '1'));
  // No `capa psync2` sent: the plain form.
  const head = '+CONTINUE\r\n';
  await until(sub, 'the backlog', () => got.length >= head.length + all.length).catch((e: Error) => {
    throw new Error(`${e.message}; got ${JSON.stringify(got)}`);
  });
  assert.equal(got, head + all);
  sub.destroy();
  await r.call('REPLICAOF', 'NO', 'ONE');
  link.destroy();
  await new Promise((resolve) => ctx.master!.close(resolve));
});
