/**
 * One workload client of the fault harness, run inside its own network namespace. It connects
 * through the Sentinel-aware path (ioredis with `sentinels:`, failoverDetector on, and a
 * reconnect — which asks the sentinels for the master again — after two timeouts in a row or a
 * READONLY reply, as a production client would), and loops:
 *
 *   RPUSH list <unique value>   [WAIT 1 <ms> if the configuration says so]
 *   SET reg:<me> <n>            [WAIT …]   (n increases by one per write)
 *   GET reg:<other>                         (a read of another client's register)
 *
 * Every operation is appended to the file `log` as one JSON line when it completes:
 *   {"k":"list","v":"ca-17","ok":true|false|null,"t0":…,"t1":…}
 *   {"k":"set","r":"ca","n":5,"ok":…,"t0":…,"t1":…}
 *   {"k":"get","r":"cb","n":4|null,"ok":…,"t0":…,"t1":…}
 * ok true = acknowledged under the configuration's rule, false = refused (an error reply, so
 * definitely or probably not applied), null = unknown (timeout / connection lost). Times are
 * Date.now() of this machine, shared by every namespace.
 *
 * argv[2] is a JSON object: { me, log, others, sentinels: [host…], durationMs, wait: {replicas, timeoutMs} | null }.
 */
import fs from 'node:fs';
import { Redis } from 'ioredis';

const opts = JSON.parse(process.argv[2]);
const out = [];
const fd = fs.openSync(opts.log, 'a');
const flush = () => {
  if (out.length > 0) fs.writeSync(fd, out.splice(0).join('\n') + '\n');
};

const redis = new Redis({
  sentinels: opts.sentinels.map((host) => ({ host, port: 26379 })),
  name: 'mymaster',
  failoverDetector: true,
  commandTimeout: 1500,
  connectTimeout: 1500,
  sentinelCommandTimeout: 1000,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: true,
  retryStrategy: () => 100,
  sentinelRetryStrategy: () => 200,
  reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
});
redis.on('error', () => {});

let timeouts = 0;
function noteError(e) {
  const m = String(e?.message ?? e);
  if (/timed out|Connection is closed|ECONN|EHOSTUNREACH|ETIMEDOUT|max retries/i.test(m)) {
    if (++timeouts >= 2) {
      timeouts = 0;
      redis.disconnect(true);
    }
    return null;
  }
  // An error reply: the write was refused (NOREPLICAS, READONLY, MASTERDOWN, LOADING…).
  return false;
}

/** Runs a write and, with WAIT configured, counts it acknowledged only when enough replicas have it. */
async function write(argv) {
  try {
    await redis.call(...argv);
  } catch (e) {
    return noteError(e);
  }
  timeouts = 0;
  if (opts.wait === null) return true;
  try {
    const n = await redis.call('WAIT', String(opts.wait.replicas), String(opts.wait.timeoutMs));
    return Number(n) >= opts.wait.replicas ? true : false;
  } catch (e) {
    // The write was applied by some master; whether it is durable is unknown.
    noteError(e);
    return null;
  }
}

const end = Date.now() + opts.durationMs;
let seq = 0;
let n = 0;
while (Date.now() < end) {
  seq++;
  const v = `${opts.me}-${seq}`;
  let t0 = Date.now();
  let ok = await write(['RPUSH', 'list', v]);
  out.push(JSON.stringify({ k: 'list', v, ok, t0, t1: Date.now() }));
  n++;
  t0 = Date.now();
  ok = await write(['SET', `reg:${opts.me}`, String(n)]);
  out.push(JSON.stringify({ k: 'set', r: opts.me, n, ok, t0, t1: Date.now() }));
  const other = opts.others[seq % opts.others.length];
  t0 = Date.now();
  try {
    const got = await redis.get(`reg:${other}`);
    timeouts = 0;
    out.push(JSON.stringify({ k: 'get', r: other, n: got === null ? null : Number(got), ok: true, t0, t1: Date.now() }));
  } catch (e) {
    noteError(e);
    out.push(JSON.stringify({ k: 'get', r: other, n: null, ok: null, t0, t1: Date.now() }));
  }
  if (out.length >= 30) flush();
}
flush();
fs.closeSync(fd);
redis.disconnect();
process.exit(0);
