/**
 * One nodis process started by the API: node + the server entry point, linked to this process
 * over Node's IPC channel (src/server/api-link.ts). The child picks its own port, reports it
 * with its ready message, removes its temporary directory and exits when this process goes
 * away (even by SIGKILL); handles are unref'd so a forgotten server never keeps a test runner
 * alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { heapFlags } from '../server/heap.js';
import { SNAPSHOT_REJECTED_STATUS, discardSnapshot, snapshotArgs } from '../server/startup-snapshot.js';
import type { ApiReadyMessage } from '../server/api-link.js';

/** The server entry point beside this module: dist/pkg/server/start.js in the package (main.js with V8's code cache). */
export const SERVER_ENTRY = fileURLToPath(new URL('../server/start.js', import.meta.url));
/** The server's bundle, whose V8 start-up snapshot a start uses when one was made (startup-snapshot.ts). */
export const SERVER_BUNDLE = fileURLToPath(new URL('../server/main.js', import.meta.url));

/** A process started from a snapshot blob that node would not load (it exited 14, or aborted reading it). */
class SnapshotRejected extends Error {}
const CRASH_SIGNALS = new Set<NodeJS.Signals>(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGTRAP']);

/** The last bytes of a process's output kept for `log()`. */
const LOG_LIMIT = 1 << 20;

export interface SpawnOptions {
  /** Arguments after the entry point (a config file first). */
  args: string[];
  /** Heap flags are computed for servers; sentinels run with Node's defaults. */
  sizeHeap: boolean;
  /** Let the kernel pick the port (`port 0` in the config). */
  pickPort: boolean;
  /** A directory the child removes if this process disappears (null: keep). */
  tempDir: string | null;
  env?: NodeJS.ProcessEnv;
  startTimeoutMs: number;
  /** Called with every chunk of output. */
  onLog?: (text: string) => void;
}

/** Processes started and not yet exited (killed if this process exits). */
const live = new Set<ChildProcess>();
/** Temporary directories not yet removed (removed if this process exits). */
export const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  });
}

export class LinkedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private output = '';

  private constructor(child: ChildProcess, onLog: ((text: string) => void) | undefined) {
    this.child = child;
    live.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        live.delete(child);
        resolve();
      }),
    );
    const collect = (d: Buffer): void => {
      const text = d.toString('latin1');
      this.output += text;
      if (this.output.length > LOG_LIMIT * 2) this.output = this.output.slice(-LOG_LIMIT);
      onLog?.(text);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
  }

  /** Starts the process and resolves once it reports it accepts connections on `port`. */
  static async start(o: SpawnOptions): Promise<{ proc: LinkedProcess; port: number }> {
    installExitHook();
    const nodeFlags = o.sizeHeap ? heapFlags(o.args) : [];
    const link = o.pickPort ? 'pick-port' : 'link';
    // V8's compile cache for the server's bundle where Node has one (≥ 22.1; ignored before).
    const env: NodeJS.ProcessEnv = { NODE_COMPILE_CACHE: path.join(os.tmpdir(), 'nodis-compile-cache'), ...process.env, ...o.env, NODIS_API_LINK: link };
    if (o.tempDir !== null) env.NODIS_API_TMPDIR = o.tempDir;
    else delete env.NODIS_API_TMPDIR;
    const plain = [...nodeFlags, SERVER_ENTRY, ...o.args];
    const fast = snapshotArgs(SERVER_BUNDLE, nodeFlags, env);
    if (fast === null) return LinkedProcess.spawnLinked(o, plain, env);
    try {
      return await LinkedProcess.spawnLinked(o, [...fast, ...o.args], env);
    } catch (e) {
      if (!(e instanceof SnapshotRejected)) throw e;
      // Node could not load the blob (another node, damaged): remove it, start the ordinary way.
      discardSnapshot(fast);
      return LinkedProcess.spawnLinked(o, plain, env);
    }
  }

  private static async spawnLinked(o: SpawnOptions, nodeArgs: string[], env: NodeJS.ProcessEnv): Promise<{ proc: LinkedProcess; port: number }> {
    const child = spawn(process.execPath, nodeArgs, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env,
      windowsHide: true,
    });
    const proc = new LinkedProcess(child, o.onLog);
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`nodis did not start within ${o.startTimeoutMs} ms:\n${proc.log()}`));
      }, o.startTimeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        child.off('error', onError);
      };
      const onMessage = (m: unknown): void => {
        const msg = m as Partial<ApiReadyMessage>;
        if (msg.nodis !== 'ready' || typeof msg.port !== 'number') return;
        done();
        resolve(msg.port);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        done();
        if (nodeArgs.includes('--snapshot-blob') && (code === SNAPSHOT_REJECTED_STATUS || (signal !== null && CRASH_SIGNALS.has(signal)))) {
          reject(new SnapshotRejected());
          return;
        }
        // Let the last output arrive before reporting it.
        setImmediate(() => reject(new Error(`nodis exited (${signal ?? code}) before it was ready:\n${proc.log()}`)));
      };
      const onError = (e: Error): void => {
        done();
        reject(e);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', onError);
    });
    // From here on nothing of the child keeps this process alive; the child dies with us.
    child.unref();
    child.channel?.unref();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
    return { proc, port };
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    return this.output;
  }

  /** Sends `signal` and waits for the process to exit (SIGKILL after `graceMs`). */
  async terminate(signal: NodeJS.Signals, graceMs = 10000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    // A ref'd timer keeps this process alive while we wait.
    const escalate = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(escalate);
  }
}

/** A fresh temporary directory (tracked so that it is removed on exit). */
export function makeTempDir(prefix: string, base: string): string {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  tempDirs.delete(dir);
}
