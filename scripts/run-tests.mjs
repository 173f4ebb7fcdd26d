#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, two files at a
// time, each in its own `node --test` process (and process group).
// Usage: node scripts/run-tests.mjs [filter]   (filter: substring of the test file path)
//
// Why not one `node --test` over every file: a file whose tests are done but which still holds a
// handle (an ioredis client reconnecting to a server a failed test never stopped) never exits, and
// one such file once kept a whole CI run waiting until CI's own time limit, printing nothing but
// reconnect errors. Here each file gets `--test-force-exit` (it exits once its tests are done) and
// a hard limit (NODIS_TEST_FILE_LIMIT_S, default 1200 s): past it, its process group is killed
// and the file counts as failed, by name. Each file's report is printed whole when it ends, so
// two files' lines never interleave.
// NODIS_TEST_RETRIES (default 1): a file that fails is run once more (a fresh process) and
// passes only if that run passes. Its first report is printed whole and the file is named
// under "flaky" in the summary, so a test that fails only sometimes is still seen and fixed,
// but one rare timing failure among ~1,000 tests of real processes does not hide everything
// else a run shows. A file that fails twice fails the run. NODIS_TEST_RETRIES=0 turns it off.
// NODIS_TEST_LEAKS=1 finds such files instead: no --test-force-exit, and a file still running
// 20 s after its report's last line is killed and named as leaking handles (a failure).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const filter = process.argv[2] ?? '';
const limitMs = Number(process.env.NODIS_TEST_FILE_LIMIT_S ?? 1200) * 1000;
const jobs = Number(process.env.NODIS_TEST_JOBS ?? 2);
const findLeaks = process.env.NODIS_TEST_LEAKS === '1';
const retries = findLeaks ? 0 : Number(process.env.NODIS_TEST_RETRIES ?? 1);
const files = [];
const walk = (d) => {
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js') && p.includes(filter)) files.push(path.relative(root, p));
  }
};
walk(path.join(root, 'dist/test'));
files.sort();
if (files.length === 0) {
  console.error('no test files found (did the build run?)');
  process.exit(1);
}

const totals = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
const failedFiles = [];
const flakyFiles = [];
const durations = [];
const running = new Map();
const started = Date.now();

function runFile(file, attempt = 0) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--test', ...(findLeaks ? [] : ['--test-force-exit']), '--test-reporter=spec', file], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
    });
    const chunks = [];
    let timedOut = false;
    let leaked = false;
    let leakTimer;
    child.stdout.on('data', (c) => {
      chunks.push(c);
      if (findLeaks && !leakTimer && /^ℹ duration_ms /m.test(c.toString())) {
        leakTimer = setTimeout(() => {
          leaked = true;
          try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
        }, 20000);
      }
    });
    child.stderr.on('data', (c) => chunks.push(c));
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, limitMs);
    running.set(file, child);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(leakTimer);
      running.delete(file);
      // Whatever the file started in its own process group (servers a failed test left behind)
      // goes with it.
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* nothing left */ }
      const out = Buffer.concat(chunks).toString();
      const secs = (Date.now() - t0) / 1000;
      const counts = {};
      for (const m of out.matchAll(/^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[m[1]] = Number(m[2]);
      if (attempt < retries && (leaked || timedOut || code !== 0)) {
        const why = timedOut ? `killed after ${limitMs / 1000} s` : `exit ${code ?? signal}`;
        process.stdout.write(`\n━━ ${file} (${secs.toFixed(1)} s) FAILED (${why}); its report, then a second run of it:\n${out}`);
        resolve(runFile(file, attempt + 1).then((ok) => {
          if (ok) flakyFiles.push(`${file}: ${why} on run ${attempt + 1} (${counts.fail ?? 0} failed; its report is above), passed on run ${attempt + 2}`);
          return ok;
        }));
        return;
      }
      durations.push([file, secs]);
      process.stdout.write(`\n━━ ${file} (${secs.toFixed(1)} s)${attempt > 0 ? ` (run ${attempt + 1})` : ''}\n${out}`);
      for (const k of Object.keys(totals)) totals[k] += counts[k] ?? 0;
      if (leaked) {
        failedFiles.push(`${file}: still running 20 s after its tests ended (a handle left open)`);
        totals.fail += 1;
      } else if (timedOut) {
        failedFiles.push(`${file}: killed after ${limitMs / 1000} s (NODIS_TEST_FILE_LIMIT_S)`);
        totals.fail += 1;
      } else if (code !== 0) {
        failedFiles.push(`${file}: exit ${code ?? signal}`);
        if (!counts.fail && !counts.cancelled) totals.fail += 1;
      }
      resolve(!leaked && !timedOut && code === 0);
    });
  });
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const child of running.values()) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
    process.exit(130);
  });
}

const queue = [...files];
await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
  while (queue.length > 0) await runFile(queue.shift());
}));

const wall = ((Date.now() - started) / 1000).toFixed(0);
durations.sort((a, b) => b[1] - a[1]);
console.log(`\n━━ ${files.length} files in ${wall} s; slowest: ${durations.slice(0, 5).map(([f, s]) => `${path.basename(f)} ${s.toFixed(0)} s`).join(', ')}`);
if (flakyFiles.length > 0) {
  console.log('flaky files (failed, then passed when run again; fix them):');
  for (const f of flakyFiles) console.log(`  ${f}`);
}
console.log(`tests ${totals.tests}  pass ${totals.pass}  fail ${totals.fail}  cancelled ${totals.cancelled}  skipped ${totals.skipped}  todo ${totals.todo}`);
if (failedFiles.length > 0) {
  console.log('failed files:');
  for (const f of failedFiles) console.log(`  ${f}`);
  process.exit(1);
}
