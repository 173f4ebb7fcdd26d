/**
 * Bytes in the master's stream that are not RESP: the replica does what Redis does with a
 * protocol error from its master (setProtocolError, then freeClient of a CLIENT_MASTER) — the
 * commands before the bad bytes stay applied, a warning names the error, the link is closed and,
 * since the master's state is not cached after a protocol error, the next sync is a full one
 * (`PSYNC ? -1`). The replica must not stop or keep parsing past the error.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { stopAll } from './helpers/server.js';
import { rawMaster, sendFullResync, startReplicaOf, type Link } from './helpers/raw-master.js';

after(stopAll);

function resp(...argv: string[]): string {
  return `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

const REPLID = 'd'.repeat(40);

test("a protocol error in the master's stream closes the link; the next sync is a full one", async () => {
  const psyncs: string[] = [];
  const links: Link[] = [];
  const master = await rawMaster(
    (replid, offset, link) => {
      psyncs.push(`${replid} ${offset}`);
      sendFullResync(link.sock, REPLID);
    },
    (link) => links.push(link),
  );
  const s = await startReplicaOf(master);
  const r = s.client();
  const ack = (off: number): string => resp('REPLCONF', 'ACK', String(off));
  const waitFor = async (what: string, cond: () => boolean): Promise<void> => {
    for (let i = 0; i < 2000 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(cond(), `timed out waiting for ${what} (PSYNCs: ${JSON.stringify(psyncs)})`);
  };
  try {
    await waitFor('a connection from the replica', () => links.length > 0);
    const first = links[0]!;
    await first.until('the first ACK', (t) => t.includes(ack(0)));
    const closed = new Promise<void>((resolve) => first.sock.once('close', () => resolve()));
    const set = resp('SET', 'a', '1');
    const getack = resp('REPLCONF', 'GETACK', '*');
    // A SET and a GETACK, then a multibulk count that is not a number, then a command that must
    // not run (the link is gone before it).
    first.sock.write(set + getack + '*x\r\n' + resp('SET', 'b', '2'));
    await first.until('the ACK after the SET', (t) => t.includes(ack(set.length)));
    await closed;
    await waitFor('a second PSYNC', () => psyncs.length >= 2);
    assert.equal(psyncs[1], '? -1', 'the sync after a protocol error is a full one');
    const log = s.output();
    assert.match(log, /Protocol error \(invalid mbulk count\) from client: id=\d+ .*flags=M/);
    assert.doesNotMatch(log, /Caching the disconnected master state/);
    // The replica still serves; the full sync's empty image replaced the SET applied before.
    assert.equal(await r.call('PING'), 'PONG');
    await waitFor('the link up again', () => links.length >= 2 && links[1]!.text().includes(ack(0)));
    assert.equal(await r.get('b'), null);
    await r.call('REPLICAOF', 'NO', 'ONE');
  } finally {
    for (const l of links) l.sock.destroy();
    await new Promise((resolve) => master.close(resolve));
  }
});
