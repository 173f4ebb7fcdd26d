#!/usr/bin/env node
// What one command of a redis-benchmark test allocates, in process: the test's commands (lib.mjs
// benchmarkCommands, as bench/commands.mjs runs them) run through processCommand under V8's
// sampling heap profiler, with the objects later collected by scavenges and mark-compacts kept,
// so short-lived garbage shows.
// Prints the allocating functions' bytes per command (sampled, so ± a few percent).
//
//   node bench/types-alloc.mjs [--dist path/to/dist] [--tests lpush,hset] [--n 200000] [--top 15]
import path from 'node:path';
import { Session } from 'node:inspector/promises';
import { root, option, inProcessServer, parsedCommands, benchmarkCommands } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '200000'));
const top = Number(option(args, 'top', '15'));
const names = option(args, 'tests', 'get,lpush').split(',');
const { server, client: c, load, Random } = await inProcessServer(dist);
const { RespParser } = await load('src/protocol/parser.js');
const TESTS = benchmarkCommands(Random);
const session = new Session();
session.connect();
for (const name of names) {
  const argvs = parsedCommands(RespParser, n, TESTS[name]);
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < argvs.length; i++) {
    c.argv = argvs[i];
    server.processCommand(c);
    if ((i & 15) === 15) c.reply.len = 0;
  }
  const { profile } = await session.post('HeapProfiler.stopSampling');
  const self = new Map();
  let total = 0;
  const walk = (node) => {
    const size = node.selfSize;
    if (size > 0) {
      const f = node.callFrame;
      const label = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/dist\//, '')}:${f.lineNumber + 1}`;
      self.set(label, (self.get(label) ?? 0) + size);
      total += size;
    }
    for (const ch of node.children) walk(ch);
  };
  walk(profile.head);
  console.log(`${name.toUpperCase()}: ${(total / argvs.length).toFixed(1)} B allocated per command`);
  for (const [label, size] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(size / argvs.length).toFixed(1).padStart(8)} B  ${label}`);
}
process.exit(0);
