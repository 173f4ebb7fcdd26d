/**
 * The server's V8 start-up snapshot (docs/PERFORMANCE.md "Start-up", docs/OPERATIONS.md
 * "Starting"): the server bundle (dist/pkg/server/main.js), loaded and initialised once by
 * `node --build-snapshot`, saved as a blob that later starts deserialise instead of compiling
 * and initialising 1.3 MB of JavaScript again. A server started from it runs
 * `node [heap flags] --snapshot-blob <blob> -- [args]`.
 *
 * - Made lazily: a server started through start.js (what `startServer()` runs) without a blob
 *   has one built in the background once it is ready, by a separate program
 *   (snapshot-builder.js) — one builder per blob at a time (a lock file), written under a
 *   temporary name, checked by starting it once (`--version`), then renamed into place. A blob that cannot be built or checked is remembered as failed
 *   (`<blob>.failed`) and not tried again; those servers keep starting the ordinary way.
 * - Kept beside the code cache (code-cache.ts: NODE_COMPILE_CACHE, else
 *   `<tmpdir>/nodis-compile-cache`; NODE_DISABLE_COMPILE_CACHE=1 or NODIS_SNAPSHOT=0 turn it
 *   off), named by everything V8 checks when it loads one: the node binary (version, arch,
 *   size, mtime), the node flags (a blob runs only under the flags it was made with: node
 *   exits with status 14 otherwise), and the bundle (path, size, mtime). Earlier blobs of the
 *   same bundle and flags are removed when a new one is written.
 * - Only for node flags that are heap sizes and an empty NODE_OPTIONS: anything else
 *   (--inspect, --require …) starts the ordinary way.
 *
 * Nothing a process must own is made while the snapshot is built: main.ts only defines what it
 * will run; the server, its clock, its random seeds and run_id are made after deserialisation
 * (V8 reseeds Math.random there too). Built-ins that cannot be in a snapshot (node:tls, a
 * SharedArrayBuffer) are loaded on first use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { codeCacheDir, fnv1a, ownDir } from './code-cache.js';

const HEAP_FLAG = /^--max-(old|semi)-space-size=\d+$/;
/** A lock older than this belongs to a builder that died: it is taken over. */
const STALE_LOCK_MS = 120_000;
/** Blobs (and failure marks) older than this are removed when a new blob is written. */
const STALE_BLOB_MS = 7 * 24 * 3600 * 1000;
/** Node's exit status when it rejects a snapshot blob (built by another node or other flags). */
export const SNAPSHOT_REJECTED_STATUS = 14;

/** The directory blobs live in, or null when disabled, unusable, or not for these flags. */
function snapshotDir(flags: readonly string[], env: NodeJS.ProcessEnv): string | null {
  if (env.NODIS_SNAPSHOT === '0') return null;
  if ((env.NODE_OPTIONS ?? '').trim() !== '' || !flags.every((f) => HEAP_FLAG.test(f))) return null;
  return codeCacheDir(env);
}

/** Blobs of `bundle` under `flags` share this prefix; the rest names this node and this build of the bundle. */
function blobPrefix(bundle: string, flags: readonly string[]): string {
  return `server-${fnv1a(bundle)}-${fnv1a(flags.join('\0'))}-`;
}

/** The blob file for `bundle` started with `flags` by this node binary. */
export function snapshotFile(dir: string, bundle: string, flags: readonly string[]): string {
  const b = fs.statSync(bundle);
  const n = fs.statSync(process.execPath);
  const nodeTag = fnv1a(`${process.version}\0${process.arch}\0${process.platform}\0${n.size}\0${Math.trunc(n.mtimeMs)}`);
  return path.join(dir, `${blobPrefix(bundle, flags)}${nodeTag}-${b.size}-${Math.trunc(b.mtimeMs)}.blob`);
}

/**
 * Node's arguments that start `bundle` from its snapshot with `flags` (the server's arguments
 * follow), or null when there is no usable blob: then start it the ordinary way.
 */
export function snapshotArgs(bundle: string, flags: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] | null {
  const dir = snapshotDir(flags, env);
  if (dir === null) return null;
  try {
    const st = fs.statSync(dir);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return null;
    const file = snapshotFile(dir, bundle, flags);
    if (!fs.statSync(file).isFile()) return null;
    return [...flags, '--snapshot-blob', file, '--'];
  } catch {
    return null;
  }
}

/** A blob node rejected (status 14): removed, so the next server builds a good one. */
export function discardSnapshot(args: readonly string[]): void {
  const i = args.indexOf('--snapshot-blob');
  if (i >= 0 && args[i + 1] !== undefined) fs.rmSync(args[i + 1]!, { force: true });
}

/** What the builder program (snapshot-builder.ts) is given, as JSON in its one argument. */
export interface BuildJob {
  flags: string[];
  bundle: string;
  dir: string;
  file: string;
  lock: string;
}

let started = false;

/**
 * Builds the blob for this process's bundle and node flags in the background, if there is
 * none yet and none is being built (see above). Called by a server once it is ready. The work
 * is done by a separate program (snapshot-builder.js beside the bundle), which finishes even
 * when this server stops first (a test's server may live for less than the build takes).
 */
export function buildSnapshotLater(bundle: string, delayMs = 200): void {
  const timer = setTimeout(() => startBuilder(bundle), delayMs);
  timer.unref();
}

function startBuilder(bundle: string): void {
  const flags = process.execArgv;
  const base = snapshotDir(flags, process.env);
  const dir = base === null ? null : ownDir(base);
  if (dir === null || started) return;
  started = true;
  let file: string;
  try {
    file = snapshotFile(dir, bundle, flags);
    if (fs.existsSync(file) || fs.existsSync(`${file}.failed`)) return;
  } catch {
    return;
  }
  const lock = `${file}.lock`;
  if (!takeLock(lock)) return;
  const job: BuildJob = { flags: [...flags], bundle, dir, file, lock };
  const env = { ...process.env };
  delete env.NODIS_API_LINK;
  delete env.NODIS_API_TMPDIR;
  try {
    const child = spawn(process.execPath, [path.join(path.dirname(bundle), 'snapshot-builder.js'), JSON.stringify(job)], { stdio: 'ignore', env, windowsHide: true });
    child.once('error', () => fs.rmSync(lock, { force: true }));
    child.unref();
  } catch {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * The builder's work (run by snapshot-builder.js, holding the lock): build the blob under a
 * temporary name, start it once (`--version` runs main() from it and exits), put it in place.
 * A blob that cannot be built or does not start is remembered as failed; a builder killed
 * from outside remembers nothing, so the next server tries again.
 */
export function runBuildJob(job: BuildJob): void {
  const { flags, bundle, dir, file, lock } = job;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const run = (args: string[]): 'ok' | 'failed' | 'killed' => {
      const r = spawnSync(process.execPath, args, { stdio: 'ignore', windowsHide: true });
      if (r.signal !== null) return 'killed';
      return r.status === 0 && r.error === undefined ? 'ok' : 'failed';
    };
    let result = run([...flags, '--snapshot-blob', tmp, '--build-snapshot', bundle]);
    if (result === 'ok' && !fs.existsSync(tmp)) result = 'failed';
    if (result === 'ok') result = run([...flags, '--snapshot-blob', tmp, '--', '--version']);
    if (result === 'ok') {
      removeStale(dir, blobPrefix(bundle, flags));
      fs.renameSync(tmp, file);
    } else if (result === 'failed') {
      fs.writeFileSync(`${file}.failed`, '', { mode: 0o600 });
    }
  } catch {
    // A full or read-only disk: nothing is installed, the next server tries again.
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Blobs are large (~8 MB): when one is written, earlier ones of the same bundle and flags go,
 * and so do any left for more than a week (most often by installs that no longer exist; one
 * still in use is simply made again), with temporary files and failure marks of dead builders.
 */
function removeStale(dir: string, prefix: string): void {
  const now = Date.now();
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith('server-')) continue;
    const file = path.join(dir, f);
    try {
      const age = now - fs.statSync(file).mtimeMs;
      const stale = f.endsWith('.blob') ? f.startsWith(prefix) || age > STALE_BLOB_MS : age > STALE_BLOB_MS || (f.endsWith('.tmp') && age > STALE_LOCK_MS);
      if (stale) fs.rmSync(file, { force: true });
    } catch {
      // Removed meanwhile by another server.
    }
  }
}

/** Creates `lock` exclusively (taking over one left by a builder that died); false when busy. */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx', 0o600));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return false;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs < STALE_LOCK_MS) return false;
        fs.rmSync(lock, { force: true });
      } catch {
        return false;
      }
    }
  }
  return false;
}
