/**
 * Process I/O for nodis-cli: byte-exact writes (latin1 strings → Buffers, never UTF-8), a
 * stdin reader that hands out lines or "everything left" on demand, and C-printf-style number
 * formatting for the modes that print statistics.
 */

/** Writes latin1 text (one char per byte) to stdout. */
export function out(s: string): void {
  if (s.length > 0) process.stdout.write(Buffer.from(s, 'latin1'));
}

/** Writes latin1 text to stderr. */
export function err(s: string): void {
  if (s.length > 0) process.stderr.write(Buffer.from(s, 'latin1'));
}

/** Thrown to end the program with a code once pending output is flushed (see main.ts). */
export class ExitRequest extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function exit(code: number): never {
  throw new ExitRequest(code);
}

/** Lines (or the whole rest) of stdin, as latin1 strings, read lazily. */
export class StdinReader {
  private buf = '';
  private ended = false;
  private waiter: (() => void) | null = null;
  private started = false;

  private start(): void {
    if (this.started) return;
    this.started = true;
    process.stdin.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    process.stdin.on('end', () => {
      this.ended = true;
      this.wake();
    });
    process.stdin.on('error', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }

  private wait(): Promise<void> {
    process.stdin.resume();
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** The next line without its "\n", or null at end of input (linenoiseNoTTY semantics). */
  async line(): Promise<string | null> {
    this.start();
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        process.stdin.pause();
        return line;
      }
      if (this.ended) {
        if (this.buf === '') return null;
        const line = this.buf;
        this.buf = '';
        return line;
      }
      await this.wait();
    }
  }

  /** Everything until end of input (-x). */
  async rest(): Promise<string> {
    this.start();
    while (!this.ended) await this.wait();
    const all = this.buf;
    this.buf = '';
    return all;
  }
}

/**
 * printf("%.Nf"): like toFixed, except that exact ties round to even as glibc does
 * (toFixed rounds them away from zero).
 */
export function fixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x < 0 ? '-inf' : 'inf';
  const s = x.toFixed(digits);
  const exact = x.toFixed(Math.min(100, digits + 30));
  // An exact tie (…5000…): toFixed went away from zero; glibc keeps the even digit instead.
  if (/^50*$/.test(exact.slice(exact.length - 30)) && Number(s[s.length - 1]) % 2 === 1) {
    const truncated = exact.slice(0, exact.length - 30);
    return truncated.endsWith('.') ? truncated.slice(0, -1) : truncated;
  }
  return s;
}

/** printf("%0W.Nf"). */
export function zeroPadFixed(x: number, width: number, digits: number): string {
  const s = fixed(x, digits);
  if (s.length >= width || !/^-?\d/.test(s)) return s;
  return s.startsWith('-') ? '-' + s.slice(1).padStart(width - 1, '0') : s.padStart(width, '0');
}
