/**
 * A replica whose master link drops while a command of the stream is cut by the end of a read
 * continues (PSYNC) from the end of the last command it applied — not from the last byte it
 * read: the bytes of the cut command are neither counted in its offset nor fed to its backlog.
 *
 * Redis's psync2-reg unit ("PSYNC2 #3899 regression", links killed at random under
 * redis-benchmark) found this on 2026-12-07: with the offset moved to the parser's position
 * after a read (which is past the `*2\r\n$4\r\n` of a command whose rest has not arrived), the
 * PSYNC after a killed link asked for a few bytes too many, the master's +CONTINUE resumed in the
 * middle of a command, and the replica read `INCR`, `$12` and the key as three inline commands:
 * one INCR lost. Here the master is a raw socket, so the cut is exactly where the test puts it.
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

const REPLID = 'c'.repeat(40);
/** An RDB with no keys (checksum 0: not checked). */
const EMPTY_RDB = Buffer.concat([Buffer.from('REDIS0010', 'latin1'), Buffer.of(0xff), Buffer.alloc(8)]);

/** One connection of the replica to the raw master: what it sent, and a way to wait on it. */
interface Link {
  sock: net.Socket;
  text(): string;
  until(what: string, cond: (text: string) => boolean, timeoutMs?: number): Promise<void>;
}

/**
 * A raw master: answers each connection's handshake; a PSYNC gets `onPsync(args)`'s reply.
 * Every connection is handed to `onLink` as it is accepted.
 */
async function rawMaster(onPsync: (replid: string, offset: number, link: Link) => void, onLink: (link: Link) => void): Promise<net.Server> {
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    let text = '';
    const waiters = new Set<() => void>();
    const link: Link = {
      sock,
      text: () => text,
      until: (what, cond, timeoutMs = 20000) =>
        new Promise((resolve, reject) => {
          if (cond(text)) return resolve();
          const t = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(text)}`));
          }, timeoutMs);
          const check = (): void => {
            if (!cond(text)) return;
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          };
          waiters.add(check);
        }),
    };
    onLink(link);
    sock.on('data', (d) => {
      const before = text;
      text += d.toString('latin1');
      answerHandshake(sock, before, text);
      const psync = /PSYNC\r\n\$\d+\r\n([^\r]+)\r\n\$\d+\r\n(-?\d+)\r\n/.exec(text);
      if (psync !== null && !/PSYNC\r\n\$\d+\r\n([^\r]+)\r\n\$\d+\r\n(-?\d+)\r\n/.test(before)) onPsync(psync[1]!, Number(psync[2]), link);
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

test('a link that drops in the middle of a command: PSYNC asks from the end of the last applied command', async () => {
  const set1 = resp('SET', 'a', '1');
  const getack = resp('REPLCONF', 'GETACK', '*');
  const set2 = resp('INCR', 'counter');
  // The first connection gets set1, a GETACK, and set2 up to its key's bulk header.
  const cut = set2.indexOf('counter');
  const stream = set1 + getack + set2 + getack;
  const psyncs: number[] = [];
  const links: Link[] = [];
  const master = await rawMaster(
    (replid, offset, link) => {
      psyncs.push(offset);
      if (replid === '?') {
        link.sock.write(`+FULLRESYNC ${REPLID} 0\r\n$${EMPTY_RDB.length}\r\n`);
        link.sock.write(EMPTY_RDB);
      } else if (replid === REPLID && offset >= 1 && offset <= stream.length + 1) {
        // +CONTINUE, then the stream from the offset asked for, whatever it is.
        link.sock.write(`+CONTINUE ${REPLID}\r\n`);
        link.sock.write(stream.slice(offset - 1));
      } else {
        link.sock.write(`+FULLRESYNC ${REPLID} 0\r\n$${EMPTY_RDB.length}\r\n`);
        link.sock.write(EMPTY_RDB);
      }
    },
    (link) => links.push(link),
  );
  const masterPort = (master.address() as net.AddressInfo).port;
  const s = await startServer({ args: ['--replicaof', '127.0.0.1', String(masterPort), '--repl-ping-replica-period', '60'] });
  const r = s.client();
  const ack = (off: number): string => resp('REPLCONF', 'ACK', String(off));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no connection from the replica')), 20000);
      const poll = (): void => {
        if (links.length > 0) {
          clearTimeout(t);
          resolve();
        } else setTimeout(poll, 10);
      };
      poll();
    });
    const first = links[0]!;
    await first.until('the first ACK', (t) => t.includes(ack(0)));
    const seen = first.text().length;
    // One write: a whole SET, a GETACK (its ACK shows the read was applied), half an INCR.
    first.sock.write(set1 + getack + set2.slice(0, cut));
    await first.until('the ACK after the SET', (t) => t.slice(seen).includes(ack(set1.length)));
    assert.equal(await r.get('a'), '1');
    // The replica's offset is its applied commands', never a partial command's bytes.
    const applied = set1.length + getack.length;
    const info = String(await r.call('INFO', 'replication'));
    assert.match(info, new RegExp(`master_repl_offset:${applied}\r`), info);
    // The link drops with the INCR cut: the replica must continue from the INCR's first byte.
    first.sock.destroy();
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no second PSYNC (${JSON.stringify(psyncs)})`)), 20000);
      const poll = (): void => {
        if (psyncs.length >= 2) {
          clearTimeout(t);
          resolve();
        } else setTimeout(poll, 10);
      };
      poll();
    });
    assert.equal(psyncs.length, 2);
    assert.equal(psyncs[1], applied + 1, 'PSYNC offset after the cut');
    const second = links[links.length - 1]!;
    // The stream resumed whole: the INCR ran once, and the final GETACK's ACK is the stream's end.
    await second.until('the last ACK', (t) => t.includes(ack(stream.length)));
    assert.equal(await r.get('counter'), '1');
    const after = String(await r.call('INFO', 'replication'));
    assert.match(after, new RegExp(`master_repl_offset:${stream.length}\r`));
    assert.match(after, new RegExp(`repl_backlog_histlen:${stream.length}\r`));
    const log = s.output();
    assert.doesNotMatch(log, /CRITICAL/);
    await r.call('REPLICAOF', 'NO', 'ONE');
  } finally {
    for (const l of links) l.sock.destroy();
    await new Promise((resolve) => master.close(resolve));
  }
});
