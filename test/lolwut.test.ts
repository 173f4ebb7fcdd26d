/**
 * LOLWUT side by side with redis-server 7.0.15. Where Redis's output is deterministic (plain
 * LOLWUT, unknown versions, Schotter with at most two rows of squares, errors) the bytes must be
 * equal in RESP2 and RESP3. Where Redis draws from rand() (Schotter's lower rows, the skyline),
 * the shape must be equal — lines, characters per line, alphabet, caption — and nodis's rand()
 * must be the C library's: checked against libc's own srand/rand through python3's ctypes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';
import { startRedis, runRaw } from './helpers/redis-compare.js';
import { GlibcRand } from '../src/commands/lolwut.js';

after(stopAll);

/** A bulk or verbatim reply's payload (without RESP framing or the `txt:` prefix). */
function payload(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n') + 2, -2);
  return raw[0] === '=' ? body.slice(4) : body;
}

/** The shape of a drawing: per line, its length in cells, and the set of cells used. */
function shape(text: string, cell: RegExp): { widths: number[]; alphabet: Set<string>; caption: string[] } {
  const lines = Buffer.from(text, 'latin1').toString('utf8').split('\n');
  const art = lines.filter((l) => cell.test(l));
  const caption = lines.filter((l) => !cell.test(l));
  const alphabet = new Set<string>();
  const widths = art.map((l) => {
    const cells = l.match(new RegExp(cell.source, 'g')) ?? [];
    for (const c of cells) alphabet.add(c);
    return cells.length;
  });
  return { widths, alphabet, caption };
}

describe('LOLWUT against redis-server', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    [nodis, redis] = await Promise.all([startServer(), startRedis()]);
  });

  it('answers byte for byte where Redis is deterministic, in RESP2 and RESP3', async () => {
    const cmds = [
      ['LOLWUT'],
      ['lolwut', 'VERSION'],
      ['LOLWUT', '5'],
      ['LOLWUT', 'VERSION', '7'],
      ['LOLWUT', 'VERSION', '59', '1', '2'],
      ['LOLWUT', 'VERSION', '-1'],
      ['LOLWUT', 'VERSION', 'x'],
      ['LOLWUT', 'VERSION', '5', 'x'],
      ['LOLWUT', 'VERSION', '5', '10', 'y'],
      ['LOLWUT', 'VERSION', '6', '10', '1.5'],
      ['LOLWUT', 'VERSION', '5', '40', '4', '1'],
      ['LOLWUT', 'VERSION', '5', '66', '8', '2'],
      ['LOLWUT', 'VERSION', '5', '1', '1', '1'],
      ['LOLWUT', 'VERSION', '5', '3', '7', '2'],
      ['LOLWUT', 'VERSION', '5', '-5', '0', '0'],
      ['LOLWUT', 'VERSION', '5', '5000', '900', '1'],
      ['LOLWUT', 'VERSION', '4294967301', '20', '3', '2'],
    ];
    for (const proto of [2, 3] as const) {
      const [a, b] = await Promise.all([runRaw(nodis.port, cmds, proto), runRaw(redis.port, cmds, proto)]);
      assert.deepEqual(a, b, `RESP${proto}`);
    }
  });

  it('draws Schotter and the skyline with the shape Redis gives', async () => {
    const cases: [string[], RegExp][] = [
      [['LOLWUT', 'VERSION', '5'], /[\u2800-\u28ff]/],
      [['LOLWUT', 'VERSION', '5', '30', '5', '9'], /[\u2800-\u28ff]/],
      [['LOLWUT', 'VERSION', '6'], /\x1b\[[0-9;]+m \x1b\[0m/],
      [['LOLWUT', 'VERSION', '6', '33', '17'], /\x1b\[[0-9;]+m \x1b\[0m/],
    ];
    for (const [cmd, cell] of cases) {
      const [[a], [b]] = await Promise.all([runRaw(nodis.port, [cmd]), runRaw(redis.port, [cmd])]);
      const [sa, sb] = [shape(payload(a!), cell), shape(payload(b!), cell)];
      assert.deepEqual(sa.widths, sb.widths, cmd.join(' '));
      assert.deepEqual(sa.caption, sb.caption, cmd.join(' '));
      if (cmd[2] === '6') assert.deepEqual([...sa.alphabet].sort(), [...sb.alphabet].sort(), 'the four grays');
      assert.ok(sa.alphabet.size > 2, 'a drawing, not a blank');
    }
  });

  it("draws from the C library's rand()", () => {
    for (const seed of [1, 42, 0x80000000, 0xffffffff]) {
      const libc = execFileSync('python3', ['-c', `import ctypes;l=ctypes.CDLL(None);l.srand(ctypes.c_uint(${seed}));print(' '.join(str(l.rand()) for _ in range(400)))`], { encoding: 'utf8' }).trim();
      const ours = new GlibcRand(seed);
      assert.equal(Array.from({ length: 400 }, () => ours.next()).join(' '), libc, `seed ${seed}`);
    }
  });
});
