#!/usr/bin/env node
// One build's in-process command loop, for a profiler or an instruction counter around it: an
// in-process server from <dist> (bench/lib.mjs inProcessServer) runs <n> of redis-benchmark's
// <test> commands (`-r 100000` keys, as bench/inproc-ab.mjs) as 16-command reads through the
// client's parser and Server.processInput, and prints the process CPU µs per command. For GET
// its 100,000 keys are set first (so each GET answers a value, as after redis-benchmark's SET).
//
//   node bench/inproc-loop.mjs <dist> <test> [n]
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bench/inproc-loop.mjs dist ping_mbulk 8000000
//   bench/instructions-per-command.sh <dist> <test>   (valgrind: instructions per command)
import { inProcessServer, benchmarkCommands, pipelinedReads, runReads } from './lib.mjs';

const [dist, test, nArg] = process.argv.slice(2);
if (dist === undefined || test === undefined) {
  process.stderr.write('usage: node bench/inproc-loop.mjs <dist> <test> [n]\n');
  process.exit(2);
}
const n = Number(nArg ?? 3000000);
const PIPELINE = 16;
const build = await inProcessServer(dist);
const make = { ...benchmarkCommands(build.Random, 7), ping_mbulk: () => ['PING'] }[test];
if (make === undefined) throw new Error(`unknown test ${test}`);
// GET reads keys that exist, as in redis-benchmark, whose SET test ran before (its -r 100000
// keys): every key is set first, so each GET finds its key and answers its value in a bulk.
if (test === 'get') {
  let i = 0;
  const fill = () => ['SET', `key:${String(i++).padStart(12, '0')}`, 'xxx'];
  runReads(build, pipelinedReads(fill, 100000, PIPELINE));
}
// 200,000 commands' reads, made before the clock starts and replayed in a cycle.
const reads = pipelinedReads(make, 200000, PIPELINE);
const t0 = process.cpuUsage();
for (let done = 0; done < n; ) {
  const count = Math.min(reads.length, Math.ceil((n - done) / PIPELINE));
  runReads(build, reads, 0, count);
  done += count * PIPELINE;
}
const t = process.cpuUsage(t0);
process.stdout.write(`${test} ${((t.user + t.system) / n).toFixed(3)} µs/cmd\n`);
