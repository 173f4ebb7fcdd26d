/**
 * Replaying AOF files into the dataset (loadSingleAppendOnlyFile / loadAppendOnlyFiles).
 *
 * A file is either RESP commands, or an RDB snapshot (a BASE written with
 * aof-use-rdb-preamble, or an old-style single file whose RDB preamble is followed by a
 * command tail). Commands run through a hidden client that, like Redis's AOF client, skips
 * every check processCommand makes (auth, ACL, OOM, readonly) and must be obeyed by handlers
 * (`isMaster`, mustObeyClient in Redis): they run through the executor in its 'aof' mode
 * (server/executor.ts), and MULTI blocks are queued and run by EXEC. Nothing propagates while
 * loading.
 *
 * The reader reproduces Redis's stdio-based parser closely because its verdicts are visible:
 * a malformed line is a "Bad file format" (fatal), a file that ends mid-command or mid-MULTI
 * is a short read, which aof-load-truncated turns into a truncation at the last complete
 * command.
 *
 * The loaders are generators that yield after every command (or RDB key) the offset reached
 * in the whole AOF, so start-up loading runs in slices while clients get -LOADING
 * (loading.ts), and DEBUG LOADAOF runs them to the end in one go.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Server } from '../server/server.js';
import type { Client } from '../server/client.js';
import type { CommandSpec } from '../server/command-table.js';
import type { AofManifest } from './manifest.js';

/**
 * Loads an RDB payload at the start of `buf` into the dataset, one key per step (each yields
 * the offset reached); returns the bytes it used.
 */
export type RdbPrefixLoader = (server: Server, buf: Buffer) => Generator<number, number>;

export enum AofStatus {
  Ok,
  NotExist,
  Empty,
  OpenErr,
  Failed,
  Truncated,
}

/** fgets() with Redis's AOF_ANNOTATION_LINE_MAX_LEN buffer. */
const LINE_MAX = 1024;

interface LoadOptions {
  dir: string;
  /** appendfilename: a file with this exact name is an old-style (pre-7.0) AOF. */
  aofFilename: string;
  loadTruncated: boolean;
  loadRdb: RdbPrefixLoader | null;
}

/** Reads a file the way loadSingleAppendOnlyFile does (fgets/fread over a buffer). */
class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get eof(): boolean {
    return this.pos >= this.buf.length;
  }
  /** fgets: up to LINE_MAX-1 bytes or through '\n'; null at end of file. */
  line(): string | null {
    if (this.pos >= this.buf.length) return null;
    const limit = Math.min(this.buf.length, this.pos + LINE_MAX - 1);
    let end = this.buf.indexOf(0x0a, this.pos);
    end = end < 0 || end >= limit ? limit : end + 1;
    const s = this.buf.latin1Slice(this.pos, end);
    this.pos = end;
    return s;
  }
  /** fread of exactly n bytes; null (having consumed what there was) on a short read. */
  read(n: number): string | null {
    if (this.pos + n > this.buf.length) {
      this.pos = this.buf.length;
      return null;
    }
    const s = this.buf.latin1Slice(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/** C atoi/strtol: optional sign and leading digits, 0 when there are none. */
function atoi(s: string): number {
  const m = /^[ \t]*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number(m[1]);
}

/** The command a loaded argv names (with its subcommand), as lookupCommand would find it. */
function lookupCommand(server: Server, argv: string[]): CommandSpec | undefined {
  const spec = server.commands.resolve(argv);
  if (spec === undefined || spec.handler === null) return undefined;
  return spec;
}

/** createAOFClient: hidden, never blocks, obeyed like a master. */
export function createAofClient(server: Server): Client {
  const c = server.createFakeClient();
  c.isMaster = true;
  return c;
}

/** Replays one file of the AOF directory; steps yield `base` + the offset in the file. */
export function* loadSingleAppendOnlyFile(server: Server, fileName: string, opts: LoadOptions, base = 0): Generator<number, AofStatus> {
  const log = server.log;
  const filePath = path.join(opts.dir, fileName);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(filePath);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      log.warning(`The append log file ${fileName} doesn't exist: No such file or directory`);
      return AofStatus.NotExist;
    }
    log.warning(`Fatal error: can't open the append log file ${fileName} for reading: ${err.message}`);
    return AofStatus.OpenErr;
  }
  if (buf.length === 0) return AofStatus.Empty;

  const r = new Reader(buf);
  let validUpTo = 0;
  let validBeforeMulti = 0;
  if (buf.length >= 5 && buf.latin1Slice(0, 5) === 'REDIS') {
    const oldStyle = fileName === opts.aofFilename;
    log.notice(oldStyle ? 'Reading RDB preamble from AOF file...' : 'Reading RDB base file on AOF loading...');
    try {
      if (opts.loadRdb === null) throw new Error('no RDB loader');
      const steps = opts.loadRdb(server, buf);
      for (;;) {
        const next = steps.next();
        if (next.done === true) {
          r.pos = next.value;
          break;
        }
        yield base + next.value;
      }
    } catch {
      log.warning(
        oldStyle
          ? `Error reading the RDB preamble of the AOF file ${fileName}, AOF loading aborted`
          : `Error reading the RDB base file ${fileName}, AOF loading aborted`,
      );
      // An RDB that ends early is a short read; anything else too, as fread hit EOF or garbage.
      return truncatedOrFailed(server, fileName, filePath, -1, opts);
    }
    validUpTo = r.pos;
    if (oldStyle) log.notice('Reading the remaining AOF tail...');
  }

  const fake = createAofClient(server);
  let outcome: 'ok' | 'uxeof' | 'fmterr' | 'failed' = 'ok';
  try {
    outcome = yield* replayCommands(server, fake, r, fileName, opts, base, (v) => (validUpTo = v), (v) => (validBeforeMulti = v), () => validUpTo);
    if (outcome === 'ok' && fake.multi !== null) {
      log.warning(`Revert incomplete MULTI/EXEC transaction in AOF file ${fileName}`);
      validUpTo = validBeforeMulti;
      outcome = 'uxeof';
    }
  } finally {
    server.freeClient(fake);
  }
  if (outcome === 'ok') return AofStatus.Ok;
  if (outcome === 'failed') return AofStatus.Failed;
  if (outcome === 'fmterr') {
    log.warning(`Bad file format reading the append only file ${fileName}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>`);
    return AofStatus.Failed;
  }
  return truncatedOrFailed(server, fileName, filePath, validUpTo, opts);
}

/** The uxeof path: truncate at the last complete command when allowed, else refuse. */
function truncatedOrFailed(server: Server, fileName: string, filePath: string, validUpTo: number, opts: LoadOptions): AofStatus {
  const log = server.log;
  if (opts.loadTruncated) {
    log.warning(`!!! Warning: short read while loading the AOF file ${fileName}!!!`);
    log.warning(`!!! Truncating the AOF ${fileName} at offset ${validUpTo} !!!`);
    if (validUpTo === -1) {
      log.warning('Last valid command offset is invalid');
    } else {
      try {
        fs.truncateSync(filePath, validUpTo);
        log.warning(`AOF ${fileName} loaded anyway because aof-load-truncated is enabled`);
        return AofStatus.Truncated;
      } catch (e) {
        log.warning(`Error truncating the AOF file ${fileName}: ${(e as Error).message}`);
      }
    }
  }
  log.warning(
    `Unexpected end of file reading the append only file ${fileName}. You can: ` +
      '1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. ' +
      "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
  );
  return AofStatus.Failed;
}

function* replayCommands(
  server: Server,
  fake: Client,
  r: Reader,
  fileName: string,
  opts: LoadOptions,
  base: number,
  setValid: (v: number) => void,
  setBeforeMulti: (v: number) => void,
  getValid: () => number,
): Generator<number, 'ok' | 'uxeof' | 'fmterr' | 'failed'> {
  try {
    for (;;) {
      const head = r.line();
      if (head === null) return 'ok';
      if (head[0] === '#') continue;
      if (head[0] !== '*') return 'fmterr';
      if (head.length === 1) return 'uxeof';
      const argc = atoi(head.slice(1));
      if (argc < 1) return 'fmterr';
      const argv: string[] = new Array<string>(argc);
      for (let j = 0; j < argc; j++) {
        const lenLine = r.line();
        if (lenLine === null) return 'uxeof';
        if (lenLine[0] !== '$') return 'fmterr';
        const len = atoi(lenLine.slice(1));
        const arg = len > 0 ? r.read(len) : '';
        if (arg === null) return 'uxeof';
        if (r.read(2) === null) return 'uxeof';
        argv[j] = arg;
      }
      const spec = lookupCommand(server, argv);
      if (spec === undefined) {
        server.log.warning(`Unknown command '${argv[0]}' reading the append only file ${fileName}`);
        return 'failed';
      }
      if (spec.name === 'multi' && spec.parent === null) setBeforeMulti(getValid());
      if (fake.multi !== null && !(spec.name === 'exec' && spec.parent === null)) {
        fake.multi.push({ spec, argv });
      } else {
        // The executor's 'aof' mode: no stats, no propagation (what the command queues is
        // discarded below), time frozen for the command. Per command, so clients served
        // between slices run un-nested.
        server.call(fake, spec, 'aof', argv);
      }
      server.propagator.discard();
      // The hidden client's replies go nowhere.
      if (fake.reply.len > 0) fake.reply.take();
      if (opts.loadTruncated) setValid(r.pos);
      yield base + r.pos;
    }
  } finally {
    server.propagator.discard();
  }
}

/**
 * Loads the BASE and INCR files the manifest lists, in order (loadAppendOnlyFiles). Only the
 * last file may be truncated. Returns the status and the sizes INFO and auto-rewrite use.
 */
export function* loadAppendOnlyFiles(
  server: Server,
  m: AofManifest,
  opts: LoadOptions,
  onTotalSize: (bytes: number) => void = () => {},
): Generator<number, { status: AofStatus; totalSize: number; baseSize: number }> {
  if (m.isEmpty) return { status: AofStatus.NotExist, totalSize: 0, baseSize: 0 };
  const files = [...(m.base !== null ? [m.base] : []), ...m.incr];
  let totalSize = 0;
  for (const f of files) {
    try {
      totalSize += fs.statSync(path.join(opts.dir, f.name)).size;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const reason = err.code === 'ENOENT' ? 'No such file or directory' : err.message;
      server.log.warning(`Unable to obtain the AOF file ${f.name} length. stat: ${reason}`);
      return { status: AofStatus.Failed, totalSize: 0, baseSize: 0 };
    }
  }
  if (totalSize === 0) return { status: AofStatus.Empty, totalSize: 0, baseSize: 0 };
  onTotalSize(totalSize);
  let baseSize = 0;
  let done = 0;
  let status = AofStatus.Ok;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const last = i === files.length - 1;
    const isBase = f === m.base;
    const size = fs.statSync(path.join(opts.dir, f.name)).size;
    if (isBase) baseSize = size;
    const start = process.hrtime.bigint();
    status = yield* loadSingleAppendOnlyFile(server, f.name, opts, done);
    done += size;
    if (status === AofStatus.Ok || (status === AofStatus.Truncated && last)) {
      const secs = Number(process.hrtime.bigint() - start) / 1e9;
      server.log.notice(`DB loaded from ${isBase ? 'base' : 'incr'} file ${f.name}: ${secs.toFixed(3)} seconds`);
    }
    if (!isBase && status === AofStatus.Empty) status = AofStatus.Ok;
    if (status === AofStatus.Truncated && !last) {
      server.log.warning('Fatal error: the truncated file is not the last file');
      status = AofStatus.Failed;
    }
    if (status === AofStatus.OpenErr || status === AofStatus.Failed) break;
  }
  return { status, totalSize, baseSize };
}
