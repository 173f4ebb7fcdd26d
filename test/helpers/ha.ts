/**
 * Helpers for nodis-ha's tests: run it as a user would (a child process with plain output, or in
 * a tmux pane), read what it shows, and check that it left no process behind.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './server.js';

export const NODIS_HA = path.join(ROOT, 'bin/nodis-ha');

/** Polls `fn` every 100 ms until it returns a truthy value; fails after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** nodis-ha with stdout/stderr collected (not a terminal: plain lines) and stdin for keys. */
export class HaProcess {
  readonly proc: ChildProcess;
  out = '';
  err = '';
  readonly exited: Promise<number | null>;
  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [NODIS_HA, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.err += d.toString()));
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }
  send(keys: string): void {
    this.proc.stdin!.write(keys + '\n');
  }
  /** The last topology table printed (plain mode prints it whenever it changes). */
  lastTable(): string {
    const i = this.out.lastIndexOf('nodis-ha — master');
    return i < 0 ? '' : this.out.slice(i, this.out.indexOf('\n\n', this.out.indexOf('SENTINEL', i)) + 1 || undefined);
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    await this.exited;
  }
}

/** Every host:port a view printed. */
export function addresses(text: string): string[] {
  return [...new Set([...text.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[0]))];
}

/** True when nothing accepts connections on `address` any more. */
export function closed(address: string): Promise<boolean> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

/** tmux, on a private socket so the tests never touch a user's sessions. */
export class Tmux {
  private readonly socket = `nodis-ha-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(readonly session = 'ha') {}
  run(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }
  start(command: string, width = 200, height = 60): void {
    this.run('new-session', '-d', '-s', this.session, '-x', String(width), '-y', String(height), command);
    this.run('set-option', '-t', this.session, 'remain-on-exit', 'on');
  }
  screen(): string {
    return this.run('capture-pane', '-p', '-t', this.session);
  }
  keys(...keys: string[]): void {
    this.run('send-keys', '-t', this.session, ...keys);
  }
  paneDead(): boolean {
    return this.run('display-message', '-p', '-t', this.session, '#{pane_dead}').trim() === '1';
  }
  kill(): void {
    try {
      this.run('kill-server');
    } catch {
      // Already gone.
    }
  }
}
