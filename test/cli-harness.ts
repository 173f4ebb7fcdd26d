/**
 * Harness for the nodis-cli tests: run redis-cli and nodis-cli the same way and capture their
 * bytes, a scripted fake server that answers with any RESP reply (to reach reply types a real
 * server rarely sends), and a tmux driver for interactive sessions on a real pseudo-terminal.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NODIS_CLI } from './helpers/server.js';
import { ReplyParser } from '../src/protocol/reply-parser.js';

export const REDIS_CLI = '/usr/bin/redis-cli';
export { NODIS_CLI };

export interface CliResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number | null;
}

export interface RunOptions {
  stdin?: Buffer | string;
  env?: NodeJS.ProcessEnv;
  /** Kill the process once stdout contains this (for modes that never end). */
  until?: string | RegExp;
  timeoutMs?: number;
}

/** Runs a CLI binary with arguments given as latin1 strings (bytes). */
export function runCli(bin: string, args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args.map((a) => Buffer.from(a, 'latin1').toString('utf8')), {
      env: { ...process.env, HOME: os.tmpdir(), ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const errb: Buffer[] = [];
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} timed out; stdout so far: ${Buffer.concat(out).toString('latin1')}`));
    }, opts.timeoutMs ?? 15000);
    p.stdout.on('data', (d: Buffer) => {
      out.push(d);
      if (opts.until !== undefined) {
        const s = Buffer.concat(out).toString('latin1');
        if (typeof opts.until === 'string' ? s.includes(opts.until) : opts.until.test(s)) p.kill('SIGTERM');
      }
    });
    p.stderr.on('data', (d: Buffer) => errb.push(d));
    p.stdin.on('error', () => {});
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(errb), code });
    });
    if (opts.stdin !== undefined) p.stdin.end(typeof opts.stdin === 'string' ? Buffer.from(opts.stdin, 'latin1') : opts.stdin);
    else p.stdin.end();
  });
}

/** A fake server: each command (by lower-cased name) gets the canned raw reply bytes. */
export async function fakeServer(replies: Record<string, string>): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // Requests are RESP arrays of bulks: the reply parser reads them as well.
      const parser = new ReplyParser();
      parser.feed(buf);
      let consumed = 0;
      for (;;) {
        let r;
        try {
          r = parser.next();
        } catch {
          sock.destroy();
          return;
        }
        if (r === undefined) break;
        consumed = buf.length - parser.pending;
        const name = r.type === 'array' && r.elements[0]?.type === 'string' ? r.elements[0].value.toString('latin1').toLowerCase() : '';
        sock.write(Buffer.from(replies[name] ?? `-ERR fake server has no reply for '${name}'\r\n`, 'latin1'));
      }
      buf = buf.subarray(consumed);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** An interactive CLI in a tmux pane (a real pseudo-terminal). */
export class TmuxSession {
  private constructor(readonly name: string) {}

  static start(command: string[], env: Record<string, string>, width = 160, height = 50): TmuxSession {
    const name = `nodiscli${process.pid}${Math.floor(Math.random() * 1e9)}`;
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    // `; sleep` keeps the pane (and its last screen) after the CLI exits.
    const shell = ['env', ...envArgs, ...command].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ') + '; echo "[exited $?]"; sleep 30';
    const r = spawnSync('tmux', ['new-session', '-d', '-s', name, '-x', String(width), '-y', String(height), shell]);
    if (r.status !== 0) throw new Error(`tmux failed: ${r.stderr.toString()}`);
    return new TmuxSession(name);
  }

  screen(): string {
    const r = spawnSync('tmux', ['capture-pane', '-p', '-t', this.name]);
    return r.stdout.toString('utf8').replace(/\s+$/, '');
  }

  keys(...keys: string[]): void {
    spawnSync('tmux', ['send-keys', '-t', this.name, ...keys]);
  }

  /** Types a line literally, then Enter. */
  type(line: string): void {
    spawnSync('tmux', ['send-keys', '-t', this.name, '-l', line]);
    spawnSync('tmux', ['send-keys', '-t', this.name, 'Enter']);
  }

  /** Polls the screen until `test` accepts it. */
  async waitFor(test: (screen: string) => boolean, what: string, timeoutMs = 10000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.screen();
      if (test(s)) return s;
      if (Date.now() > deadline) throw new Error(`tmux: timed out waiting for ${what}; screen:\n${s}`);
      await new Promise((r) => setTimeout(r, 30));
    }
  }

  kill(): void {
    spawnSync('tmux', ['kill-session', '-t', this.name]);
  }
}

export function tempHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-cli-home-'));
}
