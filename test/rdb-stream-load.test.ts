/**
 * A replica's full sync loaded while the image arrives (StreamedRdbLoad, parseRdbSteps with a
 * feed), against the load of the whole image after the transfer (loadRdbSliced) as the model:
 * however the bytes are split into reads, with or without an EOF mark after them, the dataset
 * is the same; a damaged image is refused with the same error and leaves the dataset empty; a
 * transfer cut short leaves the dataset as it was; a value spanning many reads is parsed a
 * bounded number of times.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { serverInProcess } from './helpers/in-process.js';
import { Snapshot } from '../src/persistence/snapshot.js';
import { DEFAULT_ENCODE_OPTIONS } from '../src/persistence/rdb-encode.js';
import { canLoadWhileReceiving, loadRdbSliced, StreamedRdbLoad } from '../src/replication/rdb-transfer.js';
import { datasetDigest } from '../src/keyspace/digest.js';
import { ListValue } from '../src/types/list.js';
import { HashValue, DEFAULT_HASH_LIMITS } from '../src/types/hash.js';
import { SetValue, DEFAULT_SET_LIMITS } from '../src/types/set.js';
import type { Server } from '../src/server/server.js';

const MARK = 'm'.repeat(40);

/** A server in this process that is a replica (so no loaded key is dropped as expired). */
function replicaServer(): Server {
  const server = serverInProcess();
  server.config.set('replicaof', ['127.0.0.1', '1'], 'args');
  return server;
}

/** An RDB image of a dataset made from `seed`: strings, ints, lists, hashes, sets, expiries, big values, two dbs. */
function imageOf(seed: number, keys: number, checksum: boolean): Buffer {
  const server = serverInProcess();
  let x = seed >>> 0 || 1;
  const rnd = (n: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  for (let i = 0; i < keys; i++) {
    const db = server.dbs[rnd(4) === 0 ? 3 : 0]!;
    const key = `k:${i}:${'x'.repeat(rnd(30))}`;
    const kind = rnd(8);
    if (kind === 0) db.set(key, String(rnd(1e9) - 5e8));
    else if (kind === 1) {
      const l = new ListValue();
      for (let j = rnd(300); j >= 0; j--) l.pushTail(`e${j}`.repeat(rnd(5) + 1));
      db.set(key, l);
    } else if (kind === 2) {
      const h = new HashValue(DEFAULT_HASH_LIMITS);
      for (let j = rnd(200); j >= 0; j--) h.set(`f${j}`, `v${rnd(1000)}`);
      db.set(key, h);
    } else if (kind === 3) {
      const s = new SetValue(DEFAULT_SET_LIMITS);
      for (let j = rnd(100); j >= 0; j--) s.add(rnd(2) === 0 ? String(j) : `m${j}`);
      db.set(key, s);
    } else if (kind === 4 && rnd(10) === 0) db.set(key, 'big'.repeat(20000 + rnd(20000)));
    else db.set(key, `value:${i}:${'y'.repeat(rnd(100))}`);
    if (rnd(5) === 0) db.setExpire(key, 4102444800000 + rnd(1e6));
  }
  const snap = new Snapshot(server.dbs, { encode: DEFAULT_ENCODE_OPTIONS, checksum, aux: [['repl-id', 'r'.repeat(40)]], functions: [] });
  return Buffer.concat(snap.runToEnd());
}

/** Splits `bytes` at the given cut fractions (reads of any size, empty ones included). */
function reads(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...at, bytes.length]) {
    if (cut > from) out.push(Buffer.from(bytes.subarray(from, cut)));
    from = Math.max(from, cut);
  }
  return out;
}

/** The model: the whole image loaded after the transfer. Digest and key count, or the error. */
async function wholeLoad(image: Buffer): Promise<{ digest: string; keys: number } | string> {
  const server = replicaServer();
  try {
    await loadRdbSliced(server, image);
  } catch (e) {
    assert.equal(server.dbs.reduce((n, db) => n + db.dict.size, 0), 0);
    return (e as Error).message;
  }
  return { digest: datasetDigest(server.dbs), keys: server.dbs.reduce((n, db) => n + db.dict.size, 0) };
}

/** The image streamed in `chunks` (with the EOF mark after it when `mark`), turns run between some reads. */
async function streamedLoad(chunks: Buffer[], mark: boolean, yieldEvery: number): Promise<{ digest: string; keys: number } | string> {
  const server = replicaServer();
  const load = new StreamedRdbLoad(server, mark ? MARK.length : 0);
  for (let i = 0; i < chunks.length; i++) {
    load.append(chunks[i]!);
    if (yieldEvery > 0 && i % yieldEvery === 0) await new Promise((r) => setImmediate(r));
  }
  try {
    await load.finish();
  } catch (e) {
    assert.equal(server.dbs.reduce((n, db) => n + db.dict.size, 0), 0, 'a refused image leaves no key');
    return (e as Error).message;
  }
  return { digest: datasetDigest(server.dbs), keys: server.dbs.reduce((n, db) => n + db.dict.size, 0) };
}

const images = new Map<string, Buffer>();
function cachedImage(seed: number, checksum: boolean): Buffer {
  const id = `${seed}:${checksum}`;
  let image = images.get(id);
  if (image === undefined) {
    image = imageOf(seed, 300, checksum);
    images.set(id, image);
  }
  return image;
}

describe('a full sync loaded while it arrives', () => {
  it('loads the same dataset as the whole image, however the reads split it, with or without an EOF mark', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 5 }),
        async (seed, checksum, mark, cuts, yieldEvery) => {
          const image = cachedImage(seed, checksum);
          const sent = mark ? Buffer.concat([image, Buffer.from(MARK)]) : image;
          const model = await wholeLoad(image);
          assert.equal(typeof model, 'object', `the model loads: ${String(model)}`);
          assert.deepEqual(await streamedLoad(reads(sent, cuts), mark, yieldEvery), model);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses a damaged or cut image with the error of the whole image, leaving no key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.oneof(
          fc.record({ flip: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), to: fc.integer({ min: 0, max: 255 }) }),
          fc.record({ cut: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
        ),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
        async (seed, checksum, damage, cuts) => {
          let image = Buffer.from(cachedImage(seed, checksum));
          if ('flip' in damage) image[Math.floor(damage.flip * image.length)] = damage.to;
          else image = image.subarray(0, Math.floor(damage.cut * image.length));
          const model = await wholeLoad(image);
          assert.deepEqual(await streamedLoad(reads(image, cuts), false, 2), model);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a image whose checksum is wrong, however it arrives', async () => {
    const image = Buffer.from(cachedImage(1, true));
    image[image.length - 1]! ^= 1;
    const model = await wholeLoad(image);
    assert.match(String(model), /^Wrong RDB checksum/);
    assert.equal(await streamedLoad(reads(image, [0.5, 0.999]), false, 0), model);
  });

  it('leaves the dataset as it was when the transfer is cut short (abort), and replaces it when it completes', async () => {
    const image = cachedImage(2, true);
    const server = replicaServer();
    server.dbs[0]!.set('old', 'value');
    const cut = new StreamedRdbLoad(server, 0);
    cut.append(image.subarray(0, image.length >> 1));
    cut.abort();
    await new Promise((r) => setImmediate(r));
    assert.equal(server.dbs.reduce((n, db) => n + db.dict.size, 0), 1);
    assert.equal(server.dbs[0]!.dict.get('old'), 'value');
    const whole = new StreamedRdbLoad(server, 0);
    whole.append(image);
    await whole.finish();
    assert.equal(server.dbs[0]!.dict.get('old'), undefined, 'the old dataset is flushed, as a full sync does');
    assert.deepEqual({ digest: datasetDigest(server.dbs), keys: server.dbs.reduce((n, db) => n + db.dict.size, 0) }, await wholeLoad(image));
  });

  it('reads a value spanning many reads a bounded number of times (its bytes double between tries)', async () => {
    const server = serverInProcess();
    server.dbs[0]!.set('big', 'z'.repeat(2 << 20));
    const snap = new Snapshot(server.dbs, { encode: { ...DEFAULT_ENCODE_OPTIONS, compress: false }, checksum: true, aux: [], functions: [] });
    const image = Buffer.concat(snap.runToEnd());
    const receiver = replicaServer();
    const load = new StreamedRdbLoad(receiver, 0);
    let tries = 0;
    const bytesFrom = load.bytesFrom.bind(load);
    load.bytesFrom = (from: number) => {
      tries++;
      return bytesFrom(from);
    };
    for (let at = 0; at < image.length; at += 1024) load.append(image.subarray(at, Math.min(image.length, at + 1024)));
    await load.finish();
    assert.equal((receiver.dbs[0]!.dict.get('big') as string).length, 2 << 20);
    // 2 MB in 1 KB reads: ~2,000 reads; doubling, about log2(2,000) tries.
    assert.ok(tries < 40, `${tries} tries`);
  });
});

describe('when a full sync is loaded while it arrives', () => {
  it('only with repl-diskless-load on-empty-db or swapdb, an empty dataset and no key-load-delay', () => {
    const server = replicaServer();
    assert.equal(canLoadWhileReceiving(server), false, 'disabled (the default): after the transfer, as Redis');
    for (const mode of ['on-empty-db', 'swapdb']) {
      server.config.set('repl-diskless-load', [mode], 'args');
      assert.equal(canLoadWhileReceiving(server), true, mode);
    }
    server.config.set('key-load-delay', ['10'], 'args');
    assert.equal(canLoadWhileReceiving(server), false, 'key-load-delay');
    server.config.set('key-load-delay', ['0'], 'args');
    server.dbs[5]!.set('k', 'v');
    assert.equal(canLoadWhileReceiving(server), false, 'a dataset of its own');
  });
});
