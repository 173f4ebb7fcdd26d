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
import { stopAll } from './helpers/server.js';
import { rawMaster, sendFullResync, startReplicaOf, type Link } from './helpers/raw-master.js';

after(stopAll);

function resp(...argv: string[]): string {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

const REPLID = 'c'.repeat(40);
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
        sendFullResync(link.sock, REPLID);
      } else if (replid === REPLID && offset >= 1 && offset <= stream.length + 1) {
        // +CONTINUE, then the stream from the offset asked for, whatever it is.
        link.sock.write(`+CONTINUE ${REPLID}\r\n`);
        link.sock.write(stream.slice(offset - 1));
      } else {
        sendFullResync(link.sock, REPLID);
      }
    },
    (link) => links.push(link),
  );
  const s = await startReplicaOf(master);
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
