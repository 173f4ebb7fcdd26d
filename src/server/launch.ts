/**
 * bin/nodis-server's logic: start the server with the V8 heap it needs (heap.ts) while the
 * PID that supervisors, pidfiles, signals and Redis's test suite see stays the server's own.
 *
 * Node fixes its heap limits when it starts (v8.setFlagsFromString cannot change them later:
 * measured, `heap_size_limit` does not move), so the flags must be on node's command line.
 * In order:
 *   1. This process already has a heap that fits (flags on node's command line or in
 *      NODE_OPTIONS, NODIS_HEAP_MB=node, or Node's default limit is enough for `maxmemory`):
 *      the server runs here.
 *   2. Node can replace its own program (process.execve: Node ≥ 22.15 / 23.11, Linux and
 *      macOS): node is run again with the flags in this same process (same PID).
 *   3. Otherwise (Node 20, Windows):
 *      - without `maxmemory`, or with one Node's default heap holds, the server runs here
 *        (Node's default heap limit, 2–4 GB: docs/OPERATIONS.md says how to raise it), keeping
 *        the PID, and holds its young generation at heap.ts's size itself (capYoungGeneration);
 *      - with a `maxmemory` above what Node's default heap holds, the server runs as a child
 *        with the flags and stdio inherited,
 *        linked to this launcher (it exits if the launcher dies, even by SIGKILL), which
 *        forwards signals and exits with its status. The server writes `pidfile` itself, so
 *        the pidfile holds the real server's PID.
 */
import { spawn } from 'node:child_process';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { heapFlags, heapNeeds, nodeFlag } from './heap.js';
import { requireCached } from './code-cache.js';

const SERVER_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** main.js loaded with V8's code cache (start.ts), for a node started with heap flags. */
const SERVER_START = fileURLToPath(new URL('./start.js', import.meta.url));
/** V8's default maximum semi-space on 64-bit Node 20 (MB). */
const DEFAULT_SEMI_MB = 16;

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/** bin/nodis-sentinel: a sentinel needs no heap sizing, so it runs in this process. */
export function launchSentinel(): void {
  process.argv.push('--sentinel');
  runHere();
}

export function launchServer(): void {
  const args = process.argv.slice(2);
  const informational = args.some((a) => a === '-v' || a === '--version' || a === '-h' || a === '--help');
  if (informational || process.env.NODIS_HEAP_MB === 'node') return runHere();
  const need = heapNeeds(args);
  const haveHeapMb = v8.getHeapStatistics().heap_size_limit / 1048576;
  const haveSemiMb = nodeFlag('max-semi-space-size') ?? DEFAULT_SEMI_MB;
  // 1. Flags given to node itself win; or this heap is already the one wanted (within 5%).
  if (nodeFlag('max-old-space-size') !== null) return runHere();
  if (Math.abs(haveHeapMb - need.heapMb) <= need.heapMb * 0.05 && haveSemiMb === need.semiMb) return runHere();
  const nodeArgs = [...process.execArgv, ...heapFlags(args), SERVER_START, ...args];
  // 2. Same process, new node.
  const execve = (process as unknown as { execve?: Execve }).execve;
  if (typeof execve === 'function' && process.platform !== 'win32') execve(process.execPath, [process.execPath, ...nodeArgs], process.env);
  // 3. Node 20 / Windows. The semi-spaces need no child: the server holds them at their size
  // itself (heap.ts capYoungGeneration).
  if (need.maxmemoryMb === null || need.heapMb <= haveHeapMb) return runHere();
  runAsChild(nodeArgs);
}

/** Runs the server's bundle (CommonJS, beside this one in dist/pkg/server/) in this process. */
function runHere(): void {
  requireCached(SERVER_MAIN);
}

/** The server as a linked child: signals forwarded, its exit status mirrored. */
function runAsChild(nodeArgs: string[]): void {
  const child = spawn(process.execPath, nodeArgs, { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODIS_API_LINK: 'link' } });
  const signals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM'] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGQUIT'];
  for (const s of signals) process.on(s, () => child.kill(s));
  child.on('exit', (code, signal) => {
    if (signal !== null) {
      for (const s of signals) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
