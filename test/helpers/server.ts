/**
 * Test helpers: start real nodis-server (or redis-server) processes on free loopback ports,
 * wait until they are ready by reading their log (no sleeps), and clean them up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis, type RedisOptions } from 'ioredis';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (tests run from dist/test/…). */
export const ROOT = path.resolve(here, '../../..');
export const NODIS_SERVER = path.join(ROOT, 'bin/nodis-server');
export const NODIS_CLI = path.join(ROOT, 'bin/nodis-cli');
export const NODIS_SENTINEL = path.join(ROOT, 'bin/nodis-sentinel');

const reserved = new Set<number>();

/** A free TCP port on 127.0.0.1 (asks the kernel, then remembers it so tests don't collide). */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address() as net.AddressInfo;
        srv.close(() => resolve(a.port));
      });
    });
    if (!reserved.has(port)) {
      reserved.add(port);
      return port;
    }
  }
}

export interface RunningServer {
  port: number;
  proc: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** An ioredis client connected to it (closed by stop()). */
  client(opts?: RedisOptions): Redis;
  /** Waits until the log contains `pattern`. */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  dir: string;
}

export interface StartOptions {
  /** Program to run (default nodis-server). */
  bin?: string;
  /** Extra arguments, e.g. ['--requirepass', 'x']. */
  args?: string[];
  /** A config file's contents, passed as the first argument. */
  config?: string;
  /** Port to use (default: a free one). */
  port?: number;
  /** What marks readiness in the log. */
  ready?: RegExp;
  env?: NodeJS.ProcessEnv;
}

const running = new Set<RunningServer>();

/** Starts a server and waits for "Ready to accept connections". */
export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const port = opts.port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-test-'));
  const args: string[] = [];
  if (opts.config !== undefined) {
    const file = path.join(dir, 'test.conf');
    fs.writeFileSync(file, opts.config);
    args.push(file);
  }
  args.push('--port', String(port), '--dir', dir, '--save', '', ...(opts.args ?? []));
  const proc = spawn(opts.bin ?? NODIS_SERVER, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let out = '';
  const waiters: (() => void)[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const clients: Redis[] = [];
  const waitForLog = (pattern: RegExp | string, timeoutMs = 20000): Promise<void> =>
    new Promise((resolve, reject) => {
      const test = (): boolean => (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out));
      if (test()) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in log:\n${out}`)), timeoutMs);
      const check = (): void => {
        if (test()) {
          clearTimeout(timer);
          resolve();
        } else if (proc.exitCode !== null) {
          clearTimeout(timer);
          reject(new Error(`server exited (${proc.exitCode}) before ${pattern}:\n${out}`));
        } else {
          waiters.push(check);
        }
      };
      waiters.push(check);
      proc.once('exit', () => {
        for (const w of waiters.splice(0)) w();
      });
    });
  const server: RunningServer = {
    port,
    proc,
    dir,
    output: () => out,
    client: (o) => {
      const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, retryStrategy: () => null, ...o });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    waitForLog,
    stop: async (signal = 'SIGTERM') => {
      for (const c of clients) c.disconnect();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill(signal);
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      running.delete(server);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(server);
  await waitForLog(opts.ready ?? /Ready to accept connections/);
  return server;
}

/** Stops every server a test file started (call from an `after` hook). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

process.on('exit', () => {
  for (const s of running) s.proc.kill('SIGKILL');
});

/** Sends raw bytes on a fresh connection and collects what comes back until `done(reply)`. */
export function rawExchange(port: number, data: Buffer | string, done: (reply: string) => boolean, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`raw exchange timed out; got ${JSON.stringify(got)}`));
    }, timeoutMs);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (done(got)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    sock.on('error', () => {});
    sock.write(data);
  });
}
