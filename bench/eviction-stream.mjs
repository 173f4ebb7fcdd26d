#!/usr/bin/env node
// CPU per SET of bench/eviction.mjs's workload in process, through the request path a socket's
// bytes take (no sockets, no kernel): batches of 16 pipelined `SET key:<12 digits> <1 KB>`,
// each copied into one reused read buffer (as shared-reads.ts does), fed to the client's
// parser, run by processInput, released; the replies dropped. Unlike eviction-stages.mjs, whose
// commands are parsed before the clock starts, every value is made from the read buffer while
// it runs, so the young generation sees what the server's does. Run it under different node
// flags (semi-spaces) or builds (--dist) in turn.
//
//   node [--max-semi-space-size=8] bench/eviction-stream.mjs [--dist path/to/dist] [--n 300000]
//        [--rounds 3] [--no-maxmemory] [--value-size 1000]
import path from 'node:path';
import { root, option, median, inProcessServer } from './lib.mjs';

const args = process.argv.slice(2);
const dist = path.resolve(option(args, 'dist', path.join(root, 'dist')));
const n = Number(option(args, 'n', '300000'));
const rounds = Number(option(args, 'rounds', '3'));
const valueSize = Number(option(args, 'value-size', '1000'));
const withMax = !args.includes('--no-maxmemory');
const { server, client: c, Random } = await inProcessServer(dist);
const setConfig = (name, v) => server.config.set(name, [v], 'runtime');
setConfig('maxmemory-policy', 'allkeys-lru');
if (withMax) setConfig('maxmemory', String(64 * 1024 * 1024));

const PIPELINE = 16;
const value = 'x'.repeat(valueSize);
const one = `*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000000\r\n$${valueSize}\r\n${value}\r\n`;
const template = Buffer.from(one.repeat(PIPELINE), 'latin1');
/** Where each command's 12 key digits start in the template. */
const digitsAt = Array.from({ length: PIPELINE }, (_, i) => i * one.length + one.indexOf('key:') + 4);
const shared = Buffer.allocUnsafeSlow(64 * 1024);
const rnd = new Random(7);

function batches(count) {
  for (let b = 0; b < count; b++) {
    template.copy(shared, 0);
    for (const at of digitsAt) {
      let k = Math.floor(rnd.next() * 1000000);
      for (let d = 11; d >= 0; d--) {
        shared[at + d] = 0x30 + (k % 10);
        k = Math.floor(k / 10);
      }
    }
    const chunk = shared.subarray(0, template.length);
    c.parser.feed(chunk);
    server.processInput(c);
    c.parser.release(chunk);
    c.reply.len = 0;
  }
}
function timed(count) {
  const before = process.cpuUsage();
  batches(count / PIPELINE);
  const u = process.cpuUsage(before);
  return (u.user + u.system) / count;
}
// Fill (with maxmemory: until every SET evicts), then measure.
timed(withMax ? 120000 : 16000);
const results = [];
for (let r = 0; r < rounds; r++) results.push(timed(n));
const evicted = server.stats.evictedKeys;
process.stdout.write(`${withMax ? 'evicting' : 'no maxmemory'}: ${results.map((x) => x.toFixed(3)).join(' / ')} µs CPU per SET, median ${median(results).toFixed(3)}; keys ${server.dbs[0].size}, evicted ${evicted}\n`, () => process.exit(0));
