/**
 * The fault-injection harness (scripts/fault-harness.mjs, bench/faults/): its checker on
 * hand-made histories, and a bounded slice of the real thing — one run per server of the
 * master partitioned together with a client, in network namespaces, through Sentinel. The full
 * series (≥ 20 runs per configuration per server, every fault) runs on demand; its numbers are in
 * docs/CONSISTENCY.md. Needs root, iproute2 and iptables (CI installs them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './helpers/server.js';

interface Op {
  k: 'list' | 'set' | 'get';
  v?: string;
  r?: string;
  n?: number | null;
  ok: boolean | null;
  t0: number;
  t1: number;
}
interface CheckResult {
  acked: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  refused: number;
  unknown: number;
  reads: number;
  staleReads: number;
  lostValues: string[];
}
interface Row extends CheckResult {
  server: string;
  fault: string;
  error?: string;
  failover: boolean;
  converged: boolean;
  divergedReplicas: number;
  finalMaster: string | null;
  finalLength: number;
}

const checker = (await import(pathToFileURL(path.join(ROOT, 'bench/faults/checker.mjs')).href)) as { check: (ops: Op[], list: string[]) => CheckResult };

test('checker: lost, duplicated, unexpected, unknown and stale reads', () => {
  const ops: Op[] = [
    { k: 'list', v: 'a-1', ok: true, t0: 1, t1: 2 },
    { k: 'list', v: 'a-2', ok: true, t0: 3, t1: 4 },
    { k: 'list', v: 'a-3', ok: null, t0: 5, t1: 6 },
    { k: 'list', v: 'a-4', ok: false, t0: 7, t1: 8 },
    { k: 'list', v: 'a-5', ok: true, t0: 9, t1: 10 },
    { k: 'set', r: 'a', n: 1, ok: true, t0: 1, t1: 2 },
    { k: 'set', r: 'a', n: 2, ok: true, t0: 3, t1: 4 },
    { k: 'set', r: 'a', n: 3, ok: null, t0: 5, t1: 6 },
    // Sent before n=2 was acknowledged: 1 is a legal answer.
    { k: 'get', r: 'a', n: 1, ok: true, t0: 3, t1: 5 },
    // Sent after n=2 was acknowledged: 1 and null are stale, 3 (unknown write) is fine.
    { k: 'get', r: 'a', n: 1, ok: true, t0: 5, t1: 6 },
    { k: 'get', r: 'a', n: null, ok: true, t0: 5, t1: 6 },
    { k: 'get', r: 'a', n: 3, ok: true, t0: 7, t1: 8 },
    { k: 'get', r: 'a', n: null, ok: null, t0: 7, t1: 8 },
  ];
  const r = checker.check(ops, ['a-1', 'a-3', 'a-5', 'a-5', 'zz-1']);
  assert.deepEqual(
    { ...r },
    { acked: 3, lost: 1, duplicated: 1, unexpected: 1, refused: 1, unknown: 1, reads: 4, staleReads: 2, lostValues: ['a-2'] },
  );
});

function runHarness(args: string[]): Promise<{ code: number | null; rows: Row[]; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [path.join(ROOT, 'scripts/fault-harness.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    p.on('exit', (code) =>
      resolve({
        code,
        stderr: err,
        rows: out
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Row),
      }),
    );
  });
}

test('harness: the master partitioned with a client loses acknowledged writes, on nodis as on redis-server', { timeout: 900_000 }, async () => {
  // A namespace left by a crashed run: the harness removes it before it starts.
  execFileSync('ip', ['netns', 'add', 'nfh-leftover']);
  const { code, rows, stderr } = await runHarness([
    '--server', 'nodis,redis', '--config', 'plain', '--fault', 'partition-with-client', '--runs', '1', '--quiet', '--wait-lock', '600',
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(rows.map((r) => r.server), ['nodis', 'redis']);
  for (const r of rows) {
    const what = `${r.server}: ${JSON.stringify(r)}`;
    assert.equal(r.error, undefined, what);
    assert.equal(r.converged, true, what);
    // Sentinel promoted a replica; the old master rejoined as its replica with the same list.
    assert.equal(r.failover, true, what);
    assert.equal(r.divergedReplicas, 0, what);
    assert.equal(r.unexpected, 0, what);
    assert.ok(r.acked > 0 && r.reads > 0, what);
    // What the isolated master acknowledged to the client on its side is gone: the
    // documented window of Redis + Sentinel, which nodis reproduces.
    assert.ok(r.lost > 0, what);
    assert.ok(r.lost <= r.acked, what);
  }
  // The harness left no namespace behind, and removed the stale one.
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.ok(!/\bnfh-/.test(ns), ns);
});
