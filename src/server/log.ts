/**
 * Logging in Redis's format: `pid:R dd Mon yyyy HH:MM:SS.mmm <level> message`, where R is the
 * role (M master, S replica, X sentinel, C child) and level is `.` debug, `-` verbose,
 * `*` notice, `#` warning. Operators and Redis's test suite grep for these lines.
 */
import fs from 'node:fs';

export type LogLevel = 'debug' | 'verbose' | 'notice' | 'warning' | 'nothing';
const LEVELS: Record<LogLevel, number> = { debug: 0, verbose: 1, notice: 2, warning: 3, nothing: 4 };
const MARKS = ['.', '-', '*', '#'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export class Logger {
  level: LogLevel = 'notice';
  /** '' logs to stdout. */
  private file = '';
  private fd = 1;
  role: 'M' | 'S' | 'X' | 'C' = 'M';

  constructor(private readonly now: () => number = Date.now) {}

  setFile(file: string): void {
    if (this.fd > 2) fs.closeSync(this.fd);
    this.file = file;
    this.fd = file === '' ? 1 : fs.openSync(file, 'a');
  }

  get logfile(): string {
    return this.file;
  }

  enabled(level: Exclude<LogLevel, 'nothing'>): boolean {
    return LEVELS[level] >= LEVELS[this.level];
  }

  log(level: Exclude<LogLevel, 'nothing'>, message: string): void {
    if (LEVELS[level] < LEVELS[this.level]) return;
    this.raw(`${process.pid}:${this.role} ${timestamp(this.now())} ${MARKS[LEVELS[level]]} ${message}\n`);
  }

  /** Writes a line without the prefix (the ASCII-art banner, as Redis does). */
  raw(text: string): void {
    try {
      fs.writeSync(this.fd, text);
    } catch {
      // A full disk or closed stdout must not take the server down.
    }
  }

  debug(m: string): void {
    this.log('debug', m);
  }
  verbose(m: string): void {
    this.log('verbose', m);
  }
  notice(m: string): void {
    this.log('notice', m);
  }
  warning(m: string): void {
    this.log('warning', m);
  }
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `24 Nov 2026 10:00:00.000` in local time, as Redis's serverLogRaw prints it. */
export function timestamp(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getDate())} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
