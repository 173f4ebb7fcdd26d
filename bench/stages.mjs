#!/usr/bin/env node
// Where the time of one GET and one SET goes, stage by stage, in process (no sockets): each
// stage is timed alone over the same commands, the way the server runs them — RESP bytes of
// 16-command pipelines with random keys `key:<12 digits>` (redis-benchmark -r 100000) parsed
// into fresh strings, so the keyspace lookup pays for hashing a new key string as it does
// when serving a socket. CPU time (process.cpuUsage) per command; medians of --rounds.
//
//   node bench/stages.mjs [--dist path/to/dist] [--n 200000] [--rounds 5]
//
// Stages: parse (RespParser.next), resolve (CommandTable.resolve), admission
// (clientCommandFlags + admit), lookup (Database.lookup for GET, Database.set for SET), reply
// (ReplyWriter.bulk / ok), and `whole`: processCommand on freshly parsed argvs (resolve +
// admission + executor + handler + reply; the stages above are parts of it, the rest is the
// executor's bookkeeping and the handler's own code). Sockets, Node's streams and the kernel
// are not in here: bench/cpu-cost.mjs measures the whole request, the difference is theirs.
import path from 'node:path';
import { root, option, median, inProcessServer } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '200000'));
const rounds = Number(option(args, 'rounds', '5'));
const KEYS = 100000;
const { server, client: c, load, Random } = await inProcessServer(dist);
const { RespParser } = await load('src/protocol/parser.js');
const { ReplyWriter } = await load('src/protocol/writer.js');
const { admit, clientCommandFlags } = await load('src/server/admission.js');
const db = server.dbs[0];

/** Flat strings, as the parser makes them (a template literal would make a cons string). */
const keyName = (i) => Buffer.from(`key:${String(i).padStart(12, '0')}`, 'latin1').latin1Slice();
const resp = (argv) => `*${argv.length}\r\n${argv.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`;

/** n commands as 16-command RESP chunks. */
function chunks(make) {
  const out = [];
  for (let i = 0; i < n; i += 16) {
    let s = '';
    for (let j = 0; j < 16; j++) s += resp(make());
    out.push(Buffer.from(s, 'latin1'));
  }
  return out;
}

const cpu = (f) => {
  const before = process.cpuUsage();
  f();
  const u = process.cpuUsage(before);
  return ((u.user + u.system) * 1000) / n; // ns per command
};

/** Every command in `bufs`, parsed; with keep = false they are dropped as the server drops them. */
function parseAll(bufs, keep = true) {
  const parser = new RespParser({ maxBulkLen: 512 * 1024 * 1024, authRequired: false, fromMaster: false });
  const argvs = [];
  for (const b of bufs) {
    parser.feed(b);
    for (let a = parser.next(); a !== null; a = parser.next()) if (keep) argvs.push(a);
  }
  return argvs;
}

function stages(name, make, lookup, reply) {
  const bufs = chunks(make);
  const out = {};
  out.parse = cpu(() => parseAll(bufs, false));
  const argvs = parseAll(bufs);
  let spec;
  out.resolve = cpu(() => { for (const a of argvs) spec = server.commands.resolve(a); });
  out.admission = cpu(() => {
    for (const a of argvs) admit(server, { client: c, spec, argv: a, flags: clientCommandFlags(server, c, spec, a), script: null });
  });
  out.lookup = cpu(() => { for (const a of argvs) lookup(a); });
  const w = new ReplyWriter();
  out.reply = cpu(() => { for (let i = 0; i < argvs.length; i++) { reply(w); if ((i & 15) === 15) w.len = 0; } });
  const fresh = parseAll(bufs);
  out.whole = cpu(() => {
    for (let i = 0; i < fresh.length; i++) {
      c.argv = fresh[i];
      server.processCommand(c);
      if ((i & 15) === 15) c.reply.len = 0;
    }
  });
  return out;
}

const rnd = new Random(7);
const randKey = () => keyName(Math.floor(rnd.next() * KEYS));
const results = { GET: [], SET: [] };
for (let r = 0; r < rounds; r++) {
  db.clear();
  for (let i = 0; i < KEYS; i++) db.set(keyName(i), 'xxx');
  results.GET.push(stages('GET', () => ['GET', randKey()], (a) => db.lookup(a[1]), (w) => w.bulk('xxx')));
  results.SET.push(stages('SET', () => ['SET', randKey(), 'xxx'], (a) => db.set(a[1], a[2]), (w) => w.ok()));
  process.stderr.write(`round ${r + 1}: ${JSON.stringify(results.GET.at(-1))} ${JSON.stringify(results.SET.at(-1))}\n`);
}
const names = ['parse', 'resolve', 'admission', 'lookup', 'reply', 'whole'];
let md = `| command | ${names.join(' | ')} |\n|---|${names.map(() => '---:').join('|')}|\n`;
for (const cmd of ['GET', 'SET']) {
  md += `| ${cmd} | ${names.map((s) => (median(results[cmd].map((x) => x[s])) / 1000).toFixed(3)).join(' | ')} |\n`;
}
// Exit once the table is out (a pipe's write is asynchronous; exit() would cut it).
process.stdout.write(`µs of CPU per command (median of ${rounds} rounds, ${n} commands, ${dist}):\n\n${md}`, () => process.exit(0));
