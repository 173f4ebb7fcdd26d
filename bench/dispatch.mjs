#!/usr/bin/env node
// The dispatch path alone, in process: processCommand (resolve, admission, executor, handler)
// for GET, SET, INCR and LPUSH on a hidden client, no sockets. CPU time per command
// (process.cpuUsage), so a loaded machine slows it less than wall-clock throughput; still,
// quote medians of alternating rounds. Compare two builds with --dist:
//
//   node bench/dispatch.mjs [--dist path/to/dist] [--n 300000] [--rounds 5]
//
// Prints one JSON line per round: { command: ns per call }.
import path from 'node:path';
import { root, option, inProcessServer } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '300000'));
const rounds = Number(option(args, 'rounds', '5'));
const { server, client: c } = await inProcessServer(dist);

const commands = {
  SET: (i) => ['SET', `key:${i % 100000}`, 'xxx'],
  GET: (i) => ['GET', `key:${i % 100000}`],
  INCR: (i) => ['INCR', `counter:${i % 100000}`],
  LPUSH: () => ['LPUSH', 'mylist', 'xxx'],
};

function run(make) {
  const argvs = Array.from({ length: 1000 }, (_, i) => make(i));
  const before = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    c.argv = argvs[i % 1000];
    server.processCommand(c);
    c.reply.len = 0;
  }
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / n;
}

for (let r = 0; r < rounds; r++) {
  const out = {};
  for (const [name, make] of Object.entries(commands)) {
    server.dbs[0].clear();
    out[name] = Math.round(run(make));
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
process.exit(0);
