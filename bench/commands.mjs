#!/usr/bin/env node
// CPU per command of redis-benchmark's tests, in process (no sockets): each test's commands as
// redis-benchmark -r 100000 sends them (same names, keys and values), parsed from RESP into
// fresh strings and run through processCommand — resolve, admission, the executor's
// bookkeeping, the handler, the memory model and the reply. What bench/cpu-cost.mjs measures
// beyond this is the socket side (Node's streams, the kernel), about the same for every test.
// CPU time (process.cpuUsage) per command; medians of --rounds. The tests run in
// redis-benchmark's order on one keyspace per round, so LPOP pops the list LPUSH/RPUSH built.
//
//   node bench/commands.mjs [--dist path/to/dist] [--n 200000] [--rounds 5] [--tests incr,lpush]
import path from 'node:path';
import { root, option, median, inProcessServer, parsedCommands, benchmarkCommands } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '200000'));
const rounds = Number(option(args, 'rounds', '5'));
const only = option(args, 'tests', '');
const { server, client: c, load, Random } = await inProcessServer(dist);
const { RespParser } = await load('src/protocol/parser.js');

const TESTS = benchmarkCommands(Random);
const names = only === '' ? Object.keys(TESTS) : only.split(',');
/** n commands as 16-command RESP chunks, parsed as from a socket. */
const commands = (make) => parsedCommands(RespParser, n, make);

const results = {};
for (let round = 0; round < rounds; round++) {
  server.dbs[0].clear();
  for (const name of names) {
    if (name === 'lrange_100') for (const a of commands(TESTS.lpush)) { c.argv = a; server.processCommand(c); c.reply.len = 0; }
    const argvs = commands(TESTS[name]);
    const before = process.cpuUsage();
    for (let i = 0; i < argvs.length; i++) {
      c.argv = argvs[i];
      server.processCommand(c);
      if ((i & 15) === 15) c.reply.len = 0;
    }
    const u = process.cpuUsage(before);
    (results[name] ??= []).push((u.user + u.system) / argvs.length);
  }
  process.stderr.write(`round ${round + 1}: ${names.map((t) => `${t} ${results[t].at(-1).toFixed(3)}`).join(', ')}\n`);
}
let md = `µs of CPU per command, in process (median of ${rounds} rounds, ${n} commands each, ${dist}):\n\n| test | µs |\n|---|---:|\n`;
for (const t of names) md += `| ${t.toUpperCase()} | ${median(results[t]).toFixed(3)} |\n`;
process.stdout.write(md, () => process.exit(0));
