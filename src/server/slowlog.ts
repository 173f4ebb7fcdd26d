/**
 * SLOWLOG: the ring of commands that took longer than `slowlog-log-slower-than` microseconds.
 * Arguments are trimmed as Redis does: at most 32 (the last says how many more), each at most
 * 128 bytes (the rest summarised as "... (N more bytes)").
 */
export interface SlowlogEntry {
  id: number;
  time: number; // unix seconds
  durationUs: number;
  argv: string[];
  peer: string;
  name: string;
}

const MAX_ARGC = 32;
const MAX_ARGLEN = 128;

export class Slowlog {
  entries: SlowlogEntry[] = [];
  private nextId = 0;

  record(argv: readonly string[], durationUs: number, nowMs: number, peer: string, name: string, maxLen: number): void {
    const argc = Math.min(argv.length, MAX_ARGC);
    const args: string[] = [];
    for (let i = 0; i < argc; i++) {
      if (argc !== argv.length && i === argc - 1) {
        args.push(`... (${argv.length - argc + 1} more arguments)`);
      } else {
        const a = argv[i]!;
        args.push(a.length > MAX_ARGLEN ? `${a.slice(0, MAX_ARGLEN)}... (${a.length - MAX_ARGLEN} more bytes)` : a);
      }
    }
    this.entries.unshift({ id: this.nextId++, time: Math.floor(nowMs / 1000), durationUs, argv: args, peer, name });
    this.trim(maxLen);
  }

  trim(maxLen: number): void {
    if (this.entries.length > maxLen) this.entries.length = Math.max(0, maxLen);
  }

  reset(): void {
    this.entries = [];
  }
}
