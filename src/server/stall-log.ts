/**
 * A diagnostic for the worst request at `redis-benchmark -P 1` (issue #15, lat3): with
 * `NODIS_STALL_LOG=<ms>` the server writes to stderr, one line each,
 *
 *   stall <at> mono <s> gap <ms> cpu <ms> runq <ms> off <ms> (over <ms>) others <ms> minflt <n>
 *     majflt <n> preempted <n> gc <collections in the gap> cron <runs so far>
 *       every gap of at least <ms> between two client reads (any clients). `cpu` is the main
 *       thread's time on a CPU meanwhile, `runq` its time runnable but not running (both from
 *       /proc/thread-self/schedstat, sampled at most once a millisecond, so each is ±1 ms, over
 *       the `over` span), `off` the rest: asleep (in epoll: no client had sent anything; or in
 *       DEBUG SLEEP). `others` is the other threads' CPU (getrusage minus the main thread's).
 *       On a CPU is ours (a long callback, a collection); on the run queue is the machine's
 *       (something else had the core); asleep is the client's or the network's.
 *   client-stall <at> mono <s> id <client> gap <ms> other-reads <n>
 *       a gap of one client alone while at least 200 reads of others went on.
 *   burst <at> mono <s> connections <n> accepted over <ms>, last first read at <ms>, ...
 *       connections accepted together (within a second), and how long their first reads waited.
 *   gc <kind> mono <start s> ms <pause>
 *       every collection (a PerformanceObserver), on the same clock as the others.
 *
 * `mono` is CLOCK_MONOTONIC in seconds, the clock `perf sched record -k CLOCK_MONOTONIC` and
 * bench/p1-timeline.mjs use, so a line can be put beside who had the CPUs (bench/stall-cpus.py)
 * and which requests were slow (bench/slow-vs-gc.py). Off by default; NODIS_STALL_LOG is read
 * when the first client connects. Costs a clock read per read, and a schedstat read and a
 * getrusage per millisecond: a diagnostic, not for production.
 */
import fs from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';

interface Sample {
  at: number;
  cpuNs: number;
  runqNs: number;
  /** The whole process's CPU (µs), page faults and involuntary switches (getrusage). */
  processUs: number;
  minflt: number;
  majflt: number;
  preempted: number;
}

interface Span {
  start: number;
  ms: number;
  what: string;
}

export class StallLog {
  private fd: number;
  private readonly buf = Buffer.alloc(128);
  private lastRead = 0;
  private sample: Sample;
  private readonly spans: Span[] = [];
  private cronRuns = 0;
  private cronMs = 0;

  /** CLOCK_MONOTONIC (ms) minus performance.now(): puts the collections on the `mono` clock. */
  private readonly monoOffset = Number(process.hrtime.bigint()) / 1e6 - performance.now();

  constructor(readonly thresholdMs: number) {
    this.fd = fs.openSync('/proc/thread-self/schedstat', 'r');
    this.sample = this.sampleAt(performance.now());
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
        // perf_hooks.constants: NODE_PERFORMANCE_GC_MINOR 1, _MAJOR 4, _INCREMENTAL 8, _WEAKCB 16.
        const what = kind === 1 ? 'scavenge' : kind === 4 ? 'mark-compact' : kind === 8 ? 'incremental' : kind === 16 ? 'weak-callbacks' : `gc${kind}`;
        this.span(e.startTime, e.duration, what);
        this.write(`gc ${what} mono ${((e.startTime + this.monoOffset) / 1000).toFixed(6)} ms ${e.duration.toFixed(3)}\n`);
      }
    }).observe({ entryTypes: ['gc'] });
  }

  private sampleAt(at: number): Sample {
    const n = fs.readSync(this.fd, this.buf, 0, this.buf.length, 0);
    const f = this.buf.toString('latin1', 0, n).split(' ');
    const r = process.resourceUsage();
    return { at, cpuNs: Number(f[0]), runqNs: Number(f[1]), processUs: r.userCPUTime + r.systemCPUTime, minflt: r.minorPageFault, majflt: r.majorPageFault, preempted: r.involuntaryContextSwitches };
  }

  private span(start: number, ms: number, what: string): void {
    this.spans.push({ start, ms, what });
    if (this.spans.length > 64) this.spans.shift();
  }

  /** Cron's time, for the line of a gap it falls in. */
  cron(start: number): void {
    const ms = performance.now() - start;
    this.cronRuns++;
    this.cronMs += ms;
    if (ms >= 1) this.span(start, ms, 'cron');
  }

  private burst = { n: 0, firstAccept: 0, lastAccept: 0, lastFirstRead: 0, worstWait: 0 };

  /** One line for the connections first read within a second of the burst's first accept. */
  private flushBurst(): void {
    const b = this.burst;
    this.write(
      `burst ${performance.now().toFixed(1)} mono ${(Number(process.hrtime.bigint()) / 1e9).toFixed(6)} connections ${b.n} accepted over ${(b.lastAccept - b.firstAccept).toFixed(2)} ms, last first read at ${(b.lastFirstRead - b.firstAccept).toFixed(2)} ms, longest accept→first read ${b.worstWait.toFixed(2)} ms\n`,
    );
    this.burst = { n: 0, firstAccept: 0, lastAccept: 0, lastFirstRead: 0, worstWait: 0 };
  }

  /** Reads of all clients so far. */
  reads = 0;

  /**
   * At every read of one client, with the time and the all-client read count of its previous
   * read (it keeps what this returns): a gap of this client alone — at least the threshold long,
   * while the others' reads went on (4 per connection or more) — is logged as `client-stall`.
   */
  private clientRead(last: { at: number; reads: number; accepted: number }, id: number): void {
    const now = performance.now();
    if (last.at === 0) {
      // A connection's first read: a burst of connections (redis-benchmark opens its 50 at
      // once) queues their first requests behind every accept.
      const b = this.burst;
      if (b.n === 0) {
        b.firstAccept = last.accepted;
        setTimeout(() => this.flushBurst(), 1000).unref();
      }
      b.n++;
      b.lastAccept = Math.max(b.lastAccept, last.accepted);
      b.lastFirstRead = now;
      b.worstWait = Math.max(b.worstWait, now - last.accepted);
    }
    const others = this.reads - last.reads;
    if (last.at !== 0 && now - last.at >= this.thresholdMs && others >= 200) {
      this.write(`client-stall ${now.toFixed(1)} mono ${(Number(process.hrtime.bigint()) / 1e9).toFixed(6)} id ${id} gap ${(now - last.at).toFixed(2)} other-reads ${others}\n`);
    }
    last.at = now;
    last.reads = this.reads;
  }

  private write(line: string): void {
    try {
      fs.writeSync(2, line);
    } catch {
      // A full non-blocking stderr pipe (EAGAIN): the line is lost, not the server.
    }
  }

  /** What a connection calls at each of its reads (made when it is accepted). */
  connection(id: number): { read(): void } {
    const last = { at: 0, reads: 0, accepted: performance.now() };
    return {
      read: () => {
        this.onRead();
        this.clientRead(last, id);
      },
    };
  }

  /** At every client read. */
  private onRead(): void {
    this.reads++;
    const now = performance.now();
    const gap = this.lastRead === 0 ? 0 : now - this.lastRead;
    this.lastRead = now;
    // The first read has no gap before it; one of 10 s or more is an idle server, not a stall.
    if (gap >= this.thresholdMs && gap < 10_000) {
      const s = this.sampleAt(now);
      const cpu = (s.cpuNs - this.sample.cpuNs) / 1e6;
      const runq = (s.runqNs - this.sample.runqNs) / 1e6;
      const span = now - this.sample.at;
      const from = now - gap;
      const overlapping = this.spans
        .filter((x) => x.start + x.ms >= from && x.start <= now)
        .map((x) => `${x.what}@${(x.start - from).toFixed(1)}+${x.ms.toFixed(2)}`)
        .join(',');
      this.write(
        `stall ${now.toFixed(1)} mono ${(Number(process.hrtime.bigint()) / 1e9).toFixed(6)} gap ${gap.toFixed(2)} cpu ${cpu.toFixed(2)} runq ${runq.toFixed(2)} off ${(span - cpu - runq).toFixed(2)} (over ${span.toFixed(2)}) others ${((s.processUs - this.sample.processUs) / 1000 - cpu).toFixed(2)} minflt ${s.minflt - this.sample.minflt} majflt ${s.majflt - this.sample.majflt} preempted ${s.preempted - this.sample.preempted} gc ${overlapping || '-'} cron ${this.cronRuns}\n`,
      );
      this.sample = s;
      this.lastRead = performance.now();
    } else if (now - this.sample.at >= 1) {
      this.sample = this.sampleAt(now);
    }
  }
}

let log: StallLog | null | undefined;

/** The stall log when NODIS_STALL_LOG is set (read once, at the first client). */
export function stallLog(): StallLog | null {
  if (log !== undefined) return log;
  const ms = Number(process.env.NODIS_STALL_LOG ?? '');
  log = ms > 0 ? new StallLog(ms) : null;
  return log;
}
