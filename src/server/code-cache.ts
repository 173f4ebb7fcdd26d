/**
 * Loads a program bundle (CommonJS, dist/pkg/) with V8's code cache, so a start-up does not
 * compile the 1 MB server bundle again (docs/PERFORMANCE.md "Start-up", docs/OPERATIONS.md).
 *
 * - Node ≥ 22.1: `module.enableCompileCache()` (Node's own cache; it honours NODE_COMPILE_CACHE
 *   and NODE_DISABLE_COMPILE_CACHE), then a plain `require`.
 * - Node 20 – 22.0: the bundle is compiled through `vm.Script` with `cachedData` read from
 *   `<cache dir>/<bundle>-<path hash>-<node version>-<arch>-<node flags hash>-<size>-<mtime>.v8cache`.
 *   When there is no cache, or V8 rejects it (another V8, other flags, a changed bundle), the
 *   bundle compiles as usual and, once the server has run its first client command (ready-hooks.ts;
 *   one second after it is ready without one, or after loading for a program that never says it
 *   is ready), the cache is written — then the functions start-up and that command ran are
 *   compiled and go into the cache too: to a temporary name, then renamed. The bundle's
 *   path is in the file's name, so installs do not replace each other's caches.
 *
 * The cache directory is NODE_COMPILE_CACHE when set, else `<os.tmpdir()>/nodis-compile-cache`
 * (what Node ≥ 22.1 is given by the API too). It is created private (0700) and used only when it
 * belongs to this user. NODE_DISABLE_COMPILE_CACHE=1 turns the cache off. Any failure to read or
 * write the cache falls back to a plain `require`: the cache only ever saves time.
 */
import fs from 'node:fs';
import { isAscii } from 'node:buffer';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import nodeModule from 'node:module';
import { onServerReady, onFirstCommand } from './ready-hooks.js';

interface CjsModule {
  exports: unknown;
  filename: string;
  paths: string[];
  loaded: boolean;
}
interface ModuleStatics {
  new (id: string, parent?: unknown): CjsModule;
  wrap(source: string): string;
  _nodeModulePaths(dir: string): string[];
  _cache: Record<string, CjsModule>;
  enableCompileCache?: () => unknown;
}

const Module = nodeModule as unknown as ModuleStatics;

/** Where the Node 20 cache lives (null: disabled or unusable). */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.NODE_DISABLE_COMPILE_CACHE !== undefined && env.NODE_DISABLE_COMPILE_CACHE !== '') return null;
  return env.NODE_COMPILE_CACHE || path.join(os.tmpdir(), 'nodis-compile-cache');
}

/** FNV-1a of `text`, as 8 hex digits (names cache files). */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * V8 rejects a cache made under other flags (measured: --max-old-space-size, --max-semi-space-size,
 * --trace-gc each do), and servers run with different heap flags (docs/OPERATIONS.md): each set
 * of node flags gets its own file, named by a hash of them.
 */
function flagsTag(): string {
  return fnv1a(`${process.execArgv.join('\0')}\0${process.env.NODE_OPTIONS ?? ''}`);
}

/**
 * The cache file for `file` as it is now (its size and mtime name the version) and node's flags.
 * The bundle's path is part of the name: two installs of nodis (or two checkouts) keep a cache
 * each instead of replacing each other's at every start.
 */
export function codeCacheFile(dir: string, file: string): string {
  const st = fs.statSync(file);
  const name = `${path.basename(file, '.js')}-${fnv1a(file)}-${process.version}-${process.arch}-${flagsTag()}-${st.size}-${Math.trunc(st.mtimeMs)}.v8cache`;
  return path.join(dir, name);
}

/** The directory, created private if missing; null when it is not ours (another user's). */
export function ownDir(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.statSync(dir);
    if (!st.isDirectory()) return null;
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return null;
    return dir;
  } catch {
    return null;
  }
}

/** `require(file)`, compiled with V8's code cache where one is available (see above). */
export function requireCached(file: string): unknown {
  if (typeof Module.enableCompileCache === 'function') {
    Module.enableCompileCache();
    return nodeModule.createRequire(file)(file);
  }
  const base = codeCacheDir();
  const dir = base === null ? null : ownDir(base);
  if (dir === null || Module._cache[file] !== undefined) return nodeModule.createRequire(file)(file);
  let cacheFile: string;
  let source: string;
  try {
    cacheFile = codeCacheFile(dir, file);
    // The bundles are ASCII (esbuild escapes the rest): latin1 makes the same string without
    // decoding UTF-8 (~0.4 ms of a start for the 0.9 MB server bundle).
    const bytes = fs.readFileSync(file);
    source = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
  } catch {
    return nodeModule.createRequire(file)(file);
  }
  let cachedData: Buffer | undefined;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // Strip a hashbang as Node's own loader does.
  if (source.startsWith('#!')) source = '//' + source.slice(2);
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const m = new Module(file, null);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  Module._cache[file] = m;
  if (cachedData === undefined || script.cachedDataRejected === true) {
    // Once the server has run its first command (its path is then compiled and goes into the
    // cache too), or a second after it is ready without one, or a second after loading for a
    // program that never says it is ready (a sentinel says so; it runs no first command).
    let written = false;
    let timer = setTimeout(() => write(), 1000);
    const write = (): void => {
      if (written) return;
      written = true;
      clearTimeout(timer);
      writeCache(script, cacheFile);
    };
    timer.unref();
    onServerReady(() => {
      clearTimeout(timer);
      timer = setTimeout(write, 1000);
      timer.unref();
    });
    onFirstCommand(() => setImmediate(write).unref());
  }
  const wrapper = script.runInThisContext() as (exports: unknown, require: (id: string) => unknown, module: CjsModule, filename: string, dirname: string) => void;
  wrapper.call(m.exports, m.exports, nodeModule.createRequire(file), m, file, path.dirname(file));
  m.loaded = true;
  return m.exports;
}

function writeCache(script: vm.Script, cacheFile: string): void {
  try {
    // Caches of earlier builds of this bundle for this Node and these flags are stale: remove them.
    const dir = path.dirname(cacheFile);
    const prefix = cacheFile.slice(dir.length + 1).replace(/-\d+-\d+\.v8cache$/, '-');
    for (const f of fs.readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith('.v8cache')) fs.rmSync(path.join(dir, f), { force: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
    fs.renameSync(tmp, cacheFile);
  } catch {
    // The cache only saves time; a read-only or full disk costs nothing else.
  }
}
