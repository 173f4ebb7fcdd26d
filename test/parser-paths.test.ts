import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import './helpers/property.js';
import { ProtocolError, RespParser, type ParserLimits } from '../src/protocol/parser.js';

/** Every command (or protocol error) the parser yields for `chunks`, fed one after the other. */
function parseAll(chunks: Buffer[], limits: ParserLimits): (string[] | string)[] {
  const p = new RespParser(limits);
  const out: (string[] | string)[] = [];
  for (const chunk of chunks) {
    p.feed(chunk);
    for (;;) {
      let argv: string[] | null;
      try {
        argv = p.next();
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        out.push(`error: ${e.message}`);
        return out;
      }
      if (argv === null) break;
      out.push(argv);
    }
  }
  return out;
}

const bytes = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
/** A well-formed multibulk command of 1–6 arguments. */
const command = fc.array(bytes, { minLength: 1, maxLength: 6 }).map((args) =>
  Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n')])]),
);
/** A command with one byte overwritten or removed (malformed headers, wrong lengths, NULs). */
const damaged = fc.tuple(command, fc.nat(), fc.integer({ min: -1, max: 255 })).map(([buf, at, b]) => {
  const i = at % buf.length;
  return b < 0 ? Buffer.concat([buf.subarray(0, i), buf.subarray(i + 1)]) : Buffer.concat([buf.subarray(0, i), Buffer.from([b]), buf.subarray(i + 1)]);
});
const limitsArb = fc.record({ maxBulkLen: fc.constantFrom(5, 16, 512 * 1024 * 1024), authRequired: fc.boolean(), fromMaster: fc.boolean() });

describe('RespParser: the whole-command fast path and the incremental path agree', () => {
  it('yields the same commands and errors whether a pipeline comes at once or byte by byte', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof({ weight: 4, arbitrary: command }, { weight: 1, arbitrary: damaged }), { minLength: 1, maxLength: 12 }), limitsArb, (cmds, limits) => {
        const all = Buffer.concat(cmds);
        const atOnce = parseAll([all], limits);
        const byteByByte = parseAll([...all].map((b) => Buffer.from([b])), limits);
        assert.deepEqual(atOnce, byteByByte);
      }),
      { numRuns: 2000 },
    );
  });

  it('yields the same commands whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), limitsArb, (cmds, cuts, limits) => {
        const all = Buffer.concat(cmds);
        const at = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let from = 0;
        for (const c of [...at, all.length]) {
          chunks.push(all.subarray(from, c));
          from = c;
        }
        assert.deepEqual(parseAll(chunks, limits), parseAll([all], limits));
      }),
      { numRuns: 1000 },
    );
  });

  it('parses GET, SET and HSET whole, and keeps binary bytes', () => {
    const limits = { maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false };
    const input = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xff\r\r\n*4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$0\r\n\r\n', 'latin1');
    assert.deepEqual(parseAll([input], limits), [['GET', 'k'], ['SET', 'k', '\xff\r'], ['HSET', 'h', 'f', '']]);
  });

  it('parses commands of 5 and 6 arguments whole, 7 incrementally, with the same result cut anywhere', () => {
    const limits = { maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false };
    const cmds = [
      ['EVALSHA', '4ac17223a1a0cbe52440e92835c12b5bdcb13ce2', '1', 'lockkey', 'token'],
      ['HSET', 'h', 'f1', '\x00\xff', 'f2', ''],
      ['EVALSHA', 'abc', '2', 'k1', 'k2', 'a1', 'a2'],
    ];
    const text = cmds.map((a) => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`).join('');
    const input = Buffer.from(text, 'latin1');
    assert.deepEqual(parseAll([input], limits), cmds);
    for (let cut = 1; cut < input.length; cut++) {
      assert.deepEqual(parseAll([input.subarray(0, cut), input.subarray(cut)], limits), cmds, `cut at ${cut}`);
    }
  });

  it('answers each argument by its own bytes when the previous command had one of the same length at that place', () => {
    // The whole path hands back the previous command's string when the bytes match: a string
    // equal in length and in its last byte but not elsewhere must not be taken for it.
    const limits = { maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false };
    const long = 'v'.repeat(64);
    const cmds = [
      ['SET', 'key:000000000001', 'xxx'],
      ['SET', 'key:000000000001', 'xxx'],
      ['SET', 'key:100000000001', 'yxx'],
      ['SET', 'key:100000100001', 'xyx'],
      ['SET', 'key:100000100001', 'xxy'],
      ['SET', 'key:100000100001', ''],
      ['SET', 'k', ''],
      ['SET', 'k', '\x00'],
      ['SET', 'k', '\x80'],
      ['SET', long, long],
      ['SET', `${long.slice(1)}w`, `w${long.slice(1)}`],
      ['SET', `${long}v`, `${long}v`],
      ['SET', `${long}v`, `${long}w`],
      ['HSET', 'myhash', 'element:1', 'xxx', 'f', 'v'],
      ['HSET', 'myhash', 'element:2', 'xxx', 'g', 'v'],
      ['HSET', 'myhasi', 'element:2', 'xxy', 'g', 'w'],
    ];
    const text = cmds.map((a) => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`).join('');
    assert.deepEqual(parseAll([Buffer.from(text, 'latin1')], limits), cmds);
  });

  it('answers each command name by its own bytes when the previous name had the same length', () => {
    // The previous name is handed back when its bytes match, its first four compared at once:
    // names that differ in any one byte, before or after the fourth, or only in case, or in a
    // byte above 0x7f (a negative packed head) must each be read as sent.
    const limits = { maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false };
    const names = ['PING', 'PING', 'PINH', 'QING', 'ping', 'GET', 'SET', 'SET', 'SEU', 'HSETNX', 'HSETNY', 'ISETNX', 'HS\xffTNX',
      'HS\xffTNX', 'HS\x7fTNX', '\xff\xff\xff\xff', '\xff\xff\xff\xfe', 'A', 'B', 'AB', 'AC', '', 'x'.repeat(33), `${'x'.repeat(32)}y`];
    const cmds = names.map((n) => [n, 'k']);
    const text = cmds.map((a) => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`).join('');
    assert.deepEqual(parseAll([Buffer.from(text, 'latin1')], limits), cmds);
    assert.deepEqual(parseAll([...Buffer.from(text, 'latin1')].map((b) => Buffer.from([b])), limits), cmds);
  });

  it('yields each command as sent, at once and byte by byte, when arguments repeat or nearly repeat', () => {
    // Two letters and short lengths: most arguments equal or differ in one byte from the
    // previous command's at the same place; up to 9 arguments, so the incremental path runs
    // on whole input too.
    const near = fc.array(fc.constantFrom('a', 'b'), { maxLength: 3 }).map((a) => a.join(''));
    const limits = { maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false };
    fc.assert(
      fc.property(fc.array(fc.array(near, { minLength: 1, maxLength: 9 }), { minLength: 1, maxLength: 30 }), (cmds) => {
        const input = Buffer.from(cmds.map((a) => `*${a.length}\r\n${a.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}`).join(''), 'latin1');
        assert.deepEqual(parseAll([input], limits), cmds);
        assert.deepEqual(parseAll([...input].map((b) => Buffer.from([b])), limits), cmds);
      }),
    );
  });
});
