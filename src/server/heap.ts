/**
 * The V8 heap nodis-server needs (docs/OPERATIONS.md), as Node command-line flags. Node limits
 * its heap on its own (2–4 GB by default), which would decide how much a user can store, so the
 * launcher (bin/nodis-server) and the API (src/api/) start Node with:
 *   - with `maxmemory` (a `--maxmemory` option, or the last `maxmemory` line of the config
 *     file): heap = max(maxmemory × 2 + 256 MB, 512 MB), capped at the machine's memory;
 *   - otherwise the machine's memory;
 *   - young-generation semi-spaces of 4 MB (YOUNG_SEMI_MB): V8's reserve for the young
 *     generation is RSS that holds no data (2 × 16 MB by default once grown: ~30 bytes per key
 *     at 1M small keys); 1 MB ones saved ~6 bytes per key more but cost ~10% more CPU per
 *     request in scavenges, 4 MB ones ~3% (docs/PERFORMANCE.md "The young generation's reserve");
 *   - with `maxmemory`, semi-spaces of an eighth of it, between 4 and 16 MB (MAXMEMORY_SEMI_MB,
 *     V8's own default maximum on Node 20): a server with a memory limit is a cache whose
 *     writes make young garbage at the rate of its values, and fewer scavenges cost less CPU
 *     per write (SET of 1 KB values under eviction: ~7% less at 8 MB than at 4 MB,
 *     docs/PERFORMANCE.md "## eviction"); a reserve of a quarter of `maxmemory` at most.
 *   - NODIS_HEAP_MB=<n> overrides the heap size.
 * Where node was started without the semi-space flag (bin/nodis-server in its own process on
 * Node 20), capYoungGeneration() holds the young generation at that size from inside.
 * Dependency-light (node:os, node:fs, node:v8, node:perf_hooks): the launcher loads it before the server.
 */
import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';

/** The young generation's semi-space size nodis runs with (MB): see above. */
export const YOUNG_SEMI_MB = 4;
/** The largest semi-space a `maxmemory` asks for (MB): V8's default maximum on 64-bit Node 20. */
export const MAXMEMORY_SEMI_MB = 16;

/** Semi-space size (MB) for a server whose `maxmemory` is `maxmemoryMb` (null: none). */
export function semiSpaceMb(maxmemoryMb: number | null): number {
  if (maxmemoryMb === null) return YOUNG_SEMI_MB;
  return Math.min(Math.max(Math.floor(maxmemoryMb / 8), YOUNG_SEMI_MB), MAXMEMORY_SEMI_MB);
}

/** Redis memory units → MB, rounded up (1k = 1000, 1kb = 1024, …; a bare number is bytes). */
export function memoryToMb(text: string): number | null {
  const m = /^(\d+)([a-z]*)$/.exec(text.toLowerCase().replace(/["']/g, ''));
  if (m === null) return null;
  const units: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1024, m: 1e6, mb: 1048576, g: 1e9, gb: 1073741824 };
  const unit = units[m[2]!];
  if (unit === undefined) return null;
  return Math.ceil((Number(m[1]) * unit) / 1048576);
}

/** The `maxmemory` a command line sets: the config file's last line, then a later option. */
export function maxmemoryFromArgs(args: readonly string[], readFile: (file: string) => string = (f) => fs.readFileSync(f, 'latin1')): string | null {
  let value: string | null = null;
  const first = args[0];
  if (first !== undefined && first !== '' && !first.startsWith('-')) {
    try {
      for (const line of readFile(first).split('\n')) {
        const words = line.trim().split(/\s+/);
        if (words.length === 2 && words[0]!.toLowerCase() === 'maxmemory') value = words[1]!;
      }
    } catch {
      // An unreadable file is reported by the server itself.
    }
  }
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--maxmemory' && i + 1 < args.length) value = args[i + 1]!;
    else if (a.startsWith('--maxmemory ')) value = a.slice('--maxmemory '.length);
  }
  return value;
}

export interface HeapInputs {
  /** The machine's memory in MB (default os.totalmem()). */
  machineMb?: number;
  /** NODIS_HEAP_MB (default process.env). */
  heapOverride?: string | undefined;
  readFile?: (file: string) => string;
}

export interface HeapNeeds {
  heapMb: number;
  semiMb: number;
  /** The `maxmemory` the sizes come from, in MB (null: none, the machine's memory). */
  maxmemoryMb: number | null;
}

/** The heap and semi-space sizes a server started with `args` needs. */
export function heapNeeds(args: readonly string[], inputs: HeapInputs = {}): HeapNeeds {
  const machineMb = inputs.machineMb ?? Math.floor(os.totalmem() / 1048576);
  let heapMb = machineMb;
  const maxmemory = maxmemoryFromArgs(args, inputs.readFile);
  let mm = maxmemory === null ? null : memoryToMb(maxmemory);
  if (mm !== null && mm > 0) {
    heapMb = Math.min(Math.max(mm * 2 + 256, 512), machineMb);
  } else {
    mm = null;
  }
  const override = 'heapOverride' in inputs ? inputs.heapOverride : process.env.NODIS_HEAP_MB;
  if (override !== undefined && /^\d+$/.test(override)) heapMb = Number(override);
  return { heapMb, semiMb: semiSpaceMb(mm), maxmemoryMb: mm };
}

/** `--max-old-space-size=N --max-semi-space-size=M` for a server started with `args`. */
export function heapFlags(args: readonly string[], inputs: HeapInputs = {}): string[] {
  const { heapMb, semiMb } = heapNeeds(args, inputs);
  return [`--max-old-space-size=${heapMb}`, `--max-semi-space-size=${semiMb}`];
}

/** The value of a `--name=N` node flag given on node's command line or in NODE_OPTIONS. */
export function nodeFlag(name: string): number | null {
  let found: number | null = null;
  for (const a of [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]) {
    const [flag, value] = a.replace(/_/g, '-').split('=');
    if (flag === `--${name}` && value !== undefined && /^\d+$/.test(value)) found = Number(value);
  }
  return found;
}

/** The young generation's committed size now: both semi-spaces (bytes). */
function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Holds the young generation at `semiMb` semi-spaces in a node started without
 * `--max-semi-space-size` (the launcher runs the server in its own process on Node 20, where
 * it cannot pass node flags; docs/OPERATIONS.md). V8 fixes the semi-spaces' maximum when it
 * makes the heap (16 MB), but reads --semi-space-growth-factor each time a scavenge grows them
 * (a factor below 2 on node's command line is raised to 2; set at run time it stays): they
 * double as a load makes survivors, and a factor of 1, set after the collection that took them
 * to `semiMb` (a 'gc' performance entry), stops them there — the same young generation and RSS
 * as `--max-semi-space-size=<semiMb>` (measured, docs/PERFORMANCE.md). Should a second doubling
 * happen before that entry is seen (one synchronous task making megabytes of survivors), they
 * stop one size up. When V8 shrinks them (below), the factor becomes the one that takes them
 * back to `semiMb` in one growth. At 1 MB (their initial size) the factor is set at once. A semi-space size
 * given to node, or NODIS_HEAP_MB=node (Node's own limits), is left alone.
 */
export function capYoungGeneration(semiMb = YOUNG_SEMI_MB): void {
  if (process.env.NODIS_HEAP_MB === 'node' || nodeFlag('max-semi-space-size') !== null) return;
  if (semiMb <= 1) {
    v8.setFlagsFromString('--semi-space-growth-factor=1');
    return;
  }
  // Watched for the server's life, not only until the first time at `semiMb`: V8 shrinks the
  // semi-spaces back to 1 MB at a collection when its allocation rate is low (the first
  // scavenge after a few idle seconds), and with the factor left at 1 they would stay there —
  // 3–4× the scavenges per request from then on (lat3, docs/PERFORMANCE.md). Below `semiMb`
  // the factor is the one that takes them back to `semiMb` in one growth (4 from V8's 1 MB to
  // 4 MB), so a load after an idle spell does not pay the scavenges of 1 and then 2 MB
  // semi-spaces on the way (lat3).
  let factor = 0;
  new PerformanceObserver(() => {
    const semi = youngGenerationBytes() / 2;
    const want = semi >= semiMb * 1048576 ? 1 : Math.max(2, Math.ceil((semiMb * 1048576) / Math.max(semi, 1)));
    if (want === factor) return;
    factor = want;
    v8.setFlagsFromString(`--semi-space-growth-factor=${want}`);
  }).observe({ entryTypes: ['gc'] });
}
