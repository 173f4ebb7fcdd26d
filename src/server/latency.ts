/**
 * Latency monitoring (latency.c) and per-command latency histograms (Redis 7.0's
 * latency-tracking, behind INFO latencystats and LATENCY HISTOGRAM).
 *
 * - The latency monitor keeps, per event class ("command", "fast-command", and whatever other
 *   modules report via `recordLatencyEvent`), a ring of the last 160 samples (unix second,
 *   milliseconds) and the all-time maximum. Samples are taken only when
 *   `latency-monitor-threshold` is non-zero and the event took at least that many ms; two
 *   samples in the same second keep the larger, as in Redis.
 * - Command histograms are a log-linear histogram over nanoseconds (clamped to 1 ns … 1 s like
 *   Redis's hdr_histogram): 128 sub-buckets per power of two, i.e. better than Redis's two
 *   significant digits, in a small Map per command.
 *
 * `install(server)` sets `server.hooks.commandTimer`, whose commandTimed call() invokes once per executed
 * command with its duration. State lives in a WeakMap keyed by the server, so commands in
 * src/commands/server.ts reach it through `latencyOf(server)`.
 */
import type { Server } from './server.js';
import type { CommandSpec } from './command-table.js';

export const LATENCY_TS_LEN = 160;

export interface LatencySample {
  time: number; // unix seconds
  latency: number; // ms
}

export class LatencyTimeSeries {
  samples: LatencySample[] = [];
  max = 0;

  add(time: number, latency: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last !== undefined && last.time === time) {
      if (latency > last.latency) last.latency = latency;
    } else {
      this.samples.push({ time, latency });
      if (this.samples.length > LATENCY_TS_LEN) this.samples.shift();
    }
    if (latency > this.max) this.max = latency;
  }

  get latest(): LatencySample {
    return this.samples[this.samples.length - 1]!;
  }
}

const SUB_BUCKET_BITS = 7;
const MIN_NS = 1;
const MAX_NS = 1_000_000_000;

/** Log-linear histogram of durations in nanoseconds. */
export class LatencyHistogram {
  /** Count per bucket; MAX_NS (< 2^30) lands below bucket (24 << 7) + 128. */
  private readonly buckets = new Float64Array(25 << SUB_BUCKET_BITS);
  total = 0;

  /** Bucket of a value in [MIN_NS, MAX_NS] (< 2^31, so 32-bit integer arithmetic is exact). */
  private static bucketOf(ns: number): number {
    if (ns < 1 << SUB_BUCKET_BITS) return ns;
    const exp = 31 - Math.clz32(ns) - SUB_BUCKET_BITS;
    const mant = ns >>> exp;
    return ((exp + 1) << SUB_BUCKET_BITS) + (mant - (1 << SUB_BUCKET_BITS));
  }

  /** The highest value that falls in a bucket. */
  private static highestOf(bucket: number): number {
    if (bucket < 1 << SUB_BUCKET_BITS) return bucket;
    const exp = (bucket >> SUB_BUCKET_BITS) - 1;
    const mant = (bucket & ((1 << SUB_BUCKET_BITS) - 1)) + (1 << SUB_BUCKET_BITS);
    return (mant + 1) * 2 ** exp - 1;
  }

  record(ns: number): void {
    const v = Math.min(MAX_NS, Math.max(MIN_NS, Math.round(ns)));
    const b = LatencyHistogram.bucketOf(v);
    this.buckets[b]!++;
    this.total++;
  }

  private sorted(): [number, number][] {
    const out: [number, number][] = [];
    this.buckets.forEach((n, b) => {
      if (n > 0) out.push([b, n]);
    });
    return out;
  }

  /** hdr_value_at_percentile: the value below which `p`% of samples fall (ns). */
  valueAtPercentile(p: number): number {
    if (this.total === 0) return 0;
    const target = Math.max(1, Math.ceil((Math.min(100, p) / 100) * this.total));
    let seen = 0;
    const entries = this.sorted();
    for (const [b, n] of entries) {
      seen += n;
      if (seen >= target) return LatencyHistogram.highestOf(b);
    }
    return LatencyHistogram.highestOf(entries[entries.length - 1]![0]);
  }

  /**
   * Cumulative counts at power-of-two boundaries starting at 1024 ns (hdr_iter_log_init with
   * 1024, 2): [usec, cumulative count] for each boundary where the count grew.
   */
  cdf(): [number, number][] {
    const out: [number, number][] = [];
    const entries = this.sorted();
    let i = 0;
    let cumulative = 0;
    let previous = 0;
    for (let limit = 1024; ; limit *= 2) {
      while (i < entries.length && LatencyHistogram.highestOf(entries[i]![0]) < limit) cumulative += entries[i++]![1];
      if (cumulative > previous) out.push([Math.floor((limit - 1) / 1000), cumulative]);
      previous = cumulative;
      if (i >= entries.length) break;
    }
    return out;
  }
}

export class LatencyState {
  readonly events = new Map<string, LatencyTimeSeries>();

  constructor(private readonly server: Server) {}

  /** latencyAddSampleIfNeeded: records `ms` for `event` when over latency-monitor-threshold. */
  addSampleIfNeeded(event: string, ms: number): void {
    const threshold = configNumber(this.server, 'latency-monitor-threshold', 0);
    if (threshold === 0 || ms < threshold) return;
    this.addSample(event, ms);
  }

  addSample(event: string, ms: number): void {
    let ts = this.events.get(event);
    if (ts === undefined) this.events.set(event, (ts = new LatencyTimeSeries()));
    ts.add(Math.floor(this.server.clock.now() / 1000), Math.floor(ms));
  }

  /** LATENCY RESET: drops one event's samples (or all when null); returns how many. */
  reset(event: string | null): number {
    if (event === null) {
      const n = this.events.size;
      this.events.clear();
      return n;
    }
    return this.events.delete(event) ? 1 : 0;
  }

  /**
   * Mirrors of latency-monitor-threshold and latency-tracking, kept current by install():
   * commandTimed runs for every command, where two config lookups cost ~3% of a PING.
   */
  threshold = 0;
  tracking = true;

  /** Records one execution of a command (call() → hooks.commandTimer). */
  commandTimed(spec: CommandSpec, durationUs: number): void {
    const ms = durationUs / 1000;
    if (this.threshold !== 0 && ms >= this.threshold) this.addSample(spec.isFast ? 'fast-command' : 'command', ms);
    if (!this.tracking) return;
    // call() has just counted this call: calls === 1 means the first since start or since
    // CONFIG RESETSTAT zeroed the stats, so any older histogram is stale.
    let h = spec.latencyHistogram;
    if (h === null || spec.stats.calls === 1) spec.latencyHistogram = h = new LatencyHistogram();
    h.record(durationUs * 1000);
  }

  /** The histogram of a command, unless stats were reset since it was recorded. */
  histogramOf(spec: CommandSpec): LatencyHistogram | undefined {
    const h = spec.latencyHistogram;
    if (h === null) return undefined;
    if (spec.stats.calls === 0 && spec.stats.failedCalls === 0 && spec.stats.rejectedCalls === 0) {
      spec.latencyHistogram = null;
      return undefined;
    }
    return h;
  }

  /** Forgets every command histogram (CONFIG RESETSTAT can call this directly). */
  resetHistograms(): void {
    for (const spec of this.server.commands.all()) spec.latencyHistogram = null;
  }
}

const states = new WeakMap<Server, LatencyState>();

export function latencyOf(server: Server): LatencyState {
  let s = states.get(server);
  if (s === undefined) states.set(server, (s = new LatencyState(server)));
  return s;
}

/** For other modules: report a latency event ("fork", "aof-fsync-always", "expire-cycle"…). */
export function recordLatencyEvent(server: Server, event: string, ms: number): void {
  latencyOf(server).addSampleIfNeeded(event, ms);
}

function configNumber(server: Server, name: string, dflt: number): number {
  return server.config.def(name) !== undefined ? server.config.getNumber(name) : dflt;
}

/** latency-tracking (default yes); absent from the config registry means enabled. */
export function latencyTrackingEnabled(server: Server): boolean {
  return server.config.def('latency-tracking') === undefined || server.config.getBool('latency-tracking');
}

/** latency-tracking-info-percentiles (default "50 99 99.9"). */
function infoPercentiles(server: Server): number[] {
  if (server.config.def('latency-tracking-info-percentiles') === undefined) return [50, 99, 99.9];
  return server.config
    .getString('latency-tracking-info-percentiles')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

/** C's "%f" then trimmed of trailing zeros (trimDoubleString). */
function trimDouble(p: number): string {
  let s = p.toFixed(6);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/** INFO latencystats lines: `latency_percentiles_usec_<cmd>:p50=…,p99=…,p99.9=…`. */
export function latencyStatsLines(server: Server): string[] {
  if (!latencyTrackingEnabled(server)) return [];
  const state = latencyOf(server);
  const percentiles = infoPercentiles(server);
  const lines: string[] = [];
  for (const spec of server.commands.all()) {
    const h = state.histogramOf(spec);
    if (h === undefined) continue;
    const parts = percentiles.map((p) => `p${trimDouble(p)}=${(h.valueAtPercentile(p) / 1000).toFixed(3)}`);
    lines.push(`latency_percentiles_usec_${spec.fullName.replace(/[#:\n\r]/g, '_')}:${parts.join(',')}`);
  }
  return lines;
}

export function install(server: Server): void {
  const state = latencyOf(server);
  if (server.config.def('latency-monitor-threshold') !== undefined) {
    server.config.watch('latency-monitor-threshold', (v) => (state.threshold = v as number));
  }
  if (server.config.def('latency-tracking') !== undefined) {
    server.config.watch('latency-tracking', (v) => (state.tracking = v as boolean));
  }
  server.hooks.commandTimer = state;
  server.hooks.resetStats.push(() => state.resetHistograms());
}

/** LATENCY GRAPH's ASCII sparkline (sparkline.c with SPARKLINE_FILL, 4 rows, 80 columns). */
export function latencyGraph(event: string, ts: LatencyTimeSeries, nowSec: number): string {
  const charsetFill = '_o#';
  const rows = 4;
  const columns = 80;
  const samples = ts.samples.map((s) => {
    const elapsed = nowSec - s.time;
    const label = elapsed < 60 ? `${elapsed}s` : elapsed < 3600 ? `${Math.floor(elapsed / 60)}m` : elapsed < 86400 ? `${Math.floor(elapsed / 3600)}h` : `${Math.floor(elapsed / 86400)}d`;
    return { value: s.latency, label };
  });
  let min = 0;
  let max = 0;
  samples.forEach((s, i) => {
    if (i === 0) min = max = s.value;
    else if (s.value < min) min = s.value;
    else if (s.value > max) max = s.value;
  });
  let out = `${event} - high ${max} ms, low ${min} ms (all time high ${ts.max} ms)\n${'-'.repeat(columns)}\n`;
  const relmax = max - min === 0 ? 1 : max - min;
  const steps = charsetFill.length * rows;
  for (let off = 0; off < samples.length; off += columns) {
    if (off !== 0) out += '\n';
    const part = samples.slice(off, off + columns);
    for (let row = 0; ; row++) {
      let loop = false;
      const chars: string[] = new Array<string>(part.length).fill(' ');
      for (let j = 0; j < part.length; j++) {
        const s = part[j]!;
        let step = Math.trunc(((s.value - min) * steps) / relmax);
        if (step < 0) step = 0;
        if (step >= steps) step = steps - 1;
        if (row < rows) {
          loop = true;
          const idx = step - (rows - row - 1) * charsetFill.length;
          if (idx >= 0 && idx < charsetFill.length) chars[j] = charsetFill[idx]!;
          else if (idx >= charsetFill.length) chars[j] = '|';
        } else {
          if (row - rows < 1) {
            loop = true;
            break;
          }
          const labelChar = row - rows - 1;
          if (s.label.length > labelChar) {
            loop = true;
            chars[j] = s.label[labelChar]!;
          }
        }
      }
      if (!loop) break;
      out += chars.join('') + '\n';
    }
  }
  return out;
}
