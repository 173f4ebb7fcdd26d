/**
 * The measuring modes: --latency-dist (a latency spectrum in xterm-256 colours),
 * --intrinsic-latency (how long this machine leaves a process without CPU) and --lru-test
 * (an 80/20 read/write load to watch a cache's hit rate). As redis-cli.c's latencyDistMode,
 * intrinsicLatencyMode and LRUTestMode, with their printf layouts.
 */
import type { Reply } from '../protocol/reply-parser.js';
import { err, exit, fixed, out } from './io.js';
import { reconnectingCommand } from './modes.js';
import type { Session } from './session.js';
import { sleep } from './session.js';

const usNow = (): number => Number(process.hrtime.bigint() / 1000n);

const PALETTE_COLOR = [0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 144, 143, 142, 184, 226, 214, 208, 202, 196];
const PALETTE_MONO = [0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 249, 251, 253];

/** Bucket upper bounds in µs (0: everything above) and their characters. */
const DIST_BUCKETS: [number, string][] = [
  [10, '.'], [125, '-'], [250, '*'], [500, '#'],
  [1000, '1'], [2000, '2'], [3000, '3'], [4000, '4'], [5000, '5'], [6000, '6'], [7000, '7'], [8000, '8'], [9000, '9'],
  [10000, 'A'], [20000, 'B'], [30000, 'C'], [40000, 'D'], [50000, 'E'],
  [100000, 'F'], [200000, 'G'], [300000, 'H'], [400000, 'I'], [500000, 'J'],
  [1000000, 'K'], [2000000, 'L'], [4000000, 'M'], [8000000, 'N'], [16000000, 'O'], [30000000, 'P'], [60000000, 'Q'],
  [0, '?'],
];

function distLegend(palette: number[]): string {
  return (
    '---------------------------------------------\n' +
    '. - * #          .01 .125 .25 .5 milliseconds\n' +
    '1,2,3,...,9      from 1 to 9     milliseconds\n' +
    'A,B,C,D,E        10,20,30,40,50  milliseconds\n' +
    'F,G,H,I,J        .1,.2,.3,.4,.5       seconds\n' +
    'K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds\n' +
    'From 0 to 100%: ' +
    palette.map((c) => `\x1b[48;5;${c}m `).join('') +
    '\x1b[0m\n' +
    '---------------------------------------------\n'
  );
}

/** showLatencyDistSamples(): one spectrum line; the counts are reset. */
function distLine(counts: number[], total: number, palette: number[]): string {
  let line = '\x1b[38;5;0m';
  for (let j = 0; j < DIST_BUCKETS.length; j++) {
    const idx = Math.ceil((counts[j]! / total) * (palette.length - 1));
    line += `\x1b[48;5;${palette[idx]}m${DIST_BUCKETS[j]![1]}`;
    counts[j] = 0;
  }
  return line + '\x1b[0m\n';
}

/** latencyDistMode(): PING every 10 ms; one spectrum line per -i (default 1 s). */
export async function latencyDistMode(s: Session): Promise<never> {
  const palette = s.config.mono ? PALETTE_MONO : PALETTE_COLOR;
  const historyInterval = s.config.intervalUs ? s.config.intervalUs / 1000 : 1000;
  const counts = DIST_BUCKETS.map(() => 0);
  let historyStart = usNow();
  let count = 0;
  let outputs = 0;
  if (!s.conn) exit(1);
  for (;;) {
    const start = usNow();
    await reconnectingCommand(s, ['PING']);
    const latency = usNow() - start;
    count++;
    const j = DIST_BUCKETS.findIndex(([max]) => max === 0 || latency <= max);
    counts[j]!++;
    if ((usNow() - historyStart) / 1000 > historyInterval) {
      if (outputs++ % 20 === 0) out(distLegend(palette));
      out(distLine(counts, count, palette));
      historyStart = usNow();
      count = 0;
    }
    await sleep(10);
  }
}

/** compute_something_fast(): an RC4-like loop the JIT cannot drop (its result is used). */
function computeSomethingFast(): number {
  const st = new Uint8Array(256);
  for (let k = 0; k < 256; k++) st[k] = k;
  let i = 0;
  let j = 0;
  let output = 0;
  for (let count = 0; count < 1000; count++) {
    i = (i + 1) & 255;
    j = (j + st[i]!) & 255;
    const t = st[i]!;
    st[i] = st[j]!;
    st[j] = t;
    output += st[(st[i]! + st[j]!) & 255]!;
  }
  return output;
}

/** intrinsicLatencyMode(): runs for the given seconds (or until Ctrl-C), no server needed. */
export async function intrinsicLatencyMode(seconds: number): Promise<never> {
  const runTime = seconds * 1000000;
  const testEnd = usNow() + runTime;
  let maxLatency = 0;
  let runs = 0;
  let cancelled = false;
  let sink = 0;
  process.on('SIGINT', () => {
    cancelled = true;
  });
  for (;;) {
    // Give the event loop a turn now and then so Ctrl-C is seen; that pause is not measured.
    const sliceEnd = usNow() + 50000;
    while (usNow() < sliceEnd) {
      const start = usNow();
      sink ^= computeSomethingFast();
      const end = usNow();
      const latency = end - start;
      runs++;
      if (latency <= 0) continue;
      if (latency > maxLatency) {
        maxLatency = latency;
        out(`Max latency so far: ${maxLatency} microseconds.\n`);
      }
      if (cancelled || end > testEnd) {
        const avgUs = runTime / runs;
        out(`\n${runs} total runs (avg latency: ${fixed(avgUs, 4)} microseconds / ${fixed(avgUs * 1e3, 2)} nanoseconds per run).\n`);
        out(`Worst run took ${fixed(maxLatency / avgUs, 0)}x longer than the average latency.\n`);
        exit(sink === -1 ? 1 : 0);
      }
    }
    await new Promise((r) => setImmediate(r));
  }
}

/** powerLawRand(): min…max, biased to low values (alpha 6.2 gives the 80/20 rule). */
function powerLawRand(min: number, max: number, alpha: number): number {
  max += 1;
  const r = Math.random();
  const pl = Math.pow((Math.pow(max, alpha + 1) - Math.pow(min, alpha + 1)) * r + Math.pow(min, alpha + 1), 1.0 / (alpha + 1));
  return max - 1 - Math.trunc(pl) + min;
}

const LRU_CYCLE_PERIOD = 1000;
const LRU_CYCLE_PIPELINE_SIZE = 250;

/** LRUTestMode(): pipelined SET/GET cycles over "lru:<n>"; one stats line per second. */
export async function lruTestMode(s: Session): Promise<never> {
  const size = s.config.lruTestSampleSize;
  const key = (): string => `lru:${powerLawRand(1, size, 6.2)}`;
  const conn = s.conn!;
  const replies = async (n: number): Promise<Reply[]> => {
    const got: Reply[] = [];
    try {
      for (let j = 0; j < n; j++) got.push(await conn.read());
    } catch {
      err('I/O error during LRU test\n');
      exit(1);
    }
    return got;
  };
  for (;;) {
    const startCycle = Date.now();
    let hits = 0;
    let misses = 0;
    while (Date.now() - startCycle < LRU_CYCLE_PERIOD) {
      for (let j = 0; j < LRU_CYCLE_PIPELINE_SIZE; j++) {
        let val = '';
        for (let i = 0; i < 5; i++) val += String.fromCharCode(65 + Math.floor(Math.random() * (122 - 65)));
        conn.send(['SET', key(), val]);
      }
      await replies(LRU_CYCLE_PIPELINE_SIZE);
      for (let j = 0; j < LRU_CYCLE_PIPELINE_SIZE; j++) conn.send(['GET', key()]);
      for (const r of await replies(LRU_CYCLE_PIPELINE_SIZE)) {
        if (r.type === 'error') err(`${r.value}\n`);
        else if (r.type === 'nil') misses++;
        else hits++;
      }
    }
    const total = hits + misses;
    out(`${total} Gets/sec | Hits: ${hits} (${fixed((hits / total) * 100, 2)}%) | Misses: ${misses} (${fixed((misses / total) * 100, 2)}%)\n`);
  }
}
