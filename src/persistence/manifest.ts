/**
 * Redis 7's multi-part AOF manifest (aof.c): the list of files in `appenddirname` that together
 * make up the append-only file — one BASE (a snapshot, RDB or AOF format), the INCR files written
 * after it, and HISTORY files that a finished rewrite made obsolete and that wait for deletion.
 *
 * On disk it is `<appendfilename>.manifest`, one line per file:
 *     file appendonly.aof.1.base.rdb seq 1 type b
 *     file appendonly.aof.1.incr.aof seq 1 type i
 * base first, then history, then incr. It is replaced atomically (temp file, fsync, rename,
 * fsync of the directory), so a crash leaves either the old or the new manifest.
 *
 * The model is a plain value: changes are made on a copy (`clone`) and only adopted once the
 * copy has been persisted, as Redis does with aofManifestDup.
 */
import fs from 'node:fs';
import path from 'node:path';

export type AofFileType = 'b' | 'h' | 'i';

export interface AofFileInfo {
  name: string;
  seq: number;
  type: AofFileType;
}

export const BASE_SUFFIX = '.base';
export const INCR_SUFFIX = '.incr';
export const RDB_FORMAT_SUFFIX = '.rdb';
export const AOF_FORMAT_SUFFIX = '.aof';
export const MANIFEST_SUFFIX = '.manifest';
export const TEMP_PREFIX = 'temp-';
const MANIFEST_MAX_LINE = 1024;

/** A manifest could not be read; `message` is Redis's log line. */
export class ManifestError extends Error {}

export class AofManifest {
  base: AofFileInfo | null = null;
  incr: AofFileInfo[] = [];
  history: AofFileInfo[] = [];
  currBaseSeq = 0;
  currIncrSeq = 0;
  /** Changed since it was last persisted. */
  dirty = false;

  clone(): AofManifest {
    const m = new AofManifest();
    m.base = this.base === null ? null : { ...this.base };
    m.incr = this.incr.map((f) => ({ ...f }));
    m.history = this.history.map((f) => ({ ...f }));
    m.currBaseSeq = this.currBaseSeq;
    m.currIncrSeq = this.currIncrSeq;
    m.dirty = this.dirty;
    return m;
  }

  /** True when the manifest names no BASE and no INCR file (nothing to load). */
  get isEmpty(): boolean {
    return this.base === null && this.incr.length === 0;
  }

  /** getAofManifestAsString: base, history, incr. */
  toString(): string {
    let s = '';
    if (this.base !== null) s += formatLine(this.base);
    for (const f of this.history) s += formatLine(f);
    for (const f of this.incr) s += formatLine(f);
    return s;
  }

  /** getNewBaseFileNameAndMarkPreAsHistory. */
  newBase(aofFilename: string, rdbFormat: boolean): string {
    if (this.base !== null) {
      this.base.type = 'h';
      this.history.unshift(this.base);
    }
    const seq = ++this.currBaseSeq;
    const name = `${aofFilename}.${seq}${BASE_SUFFIX}${rdbFormat ? RDB_FORMAT_SUFFIX : AOF_FORMAT_SUFFIX}`;
    this.base = { name, seq, type: 'b' };
    this.dirty = true;
    return name;
  }

  /** getNewIncrAofName. */
  newIncr(aofFilename: string): string {
    const seq = ++this.currIncrSeq;
    const name = `${aofFilename}.${seq}${INCR_SUFFIX}${AOF_FORMAT_SUFFIX}`;
    this.incr.push({ name, seq, type: 'i' });
    this.dirty = true;
    return name;
  }

  /** getLastIncrAofName: the INCR file being appended to, created if there is none. */
  lastIncr(aofFilename: string): string {
    const last = this.incr[this.incr.length - 1];
    return last === undefined ? this.newIncr(aofFilename) : last.name;
  }

  /**
   * markRewrittenIncrAofAsHistory: after a rewrite every INCR file but the one being written
   * (`keepLast`, when the AOF is on) is covered by the new BASE.
   */
  markRewrittenIncrAsHistory(keepLast: boolean): void {
    if (this.incr.length === 0) return;
    const kept = keepLast ? this.incr.splice(this.incr.length - 1, 1) : [];
    // Redis walks the list from the tail and pushes each at the head of history.
    for (const f of this.incr) this.history.unshift({ ...f, type: 'h' });
    this.incr = kept;
    this.dirty = true;
  }
}

export function manifestFileName(aofFilename: string): string {
  return aofFilename + MANIFEST_SUFFIX;
}

export function tempManifestFileName(aofFilename: string): string {
  return TEMP_PREFIX + aofFilename + MANIFEST_SUFFIX;
}

/** getTempIncrAofName: the INCR file used while AOF is being switched on. */
export function tempIncrFileName(aofFilename: string): string {
  return TEMP_PREFIX + aofFilename + INCR_SUFFIX;
}

function formatLine(f: AofFileInfo): string {
  const name = needsRepr(f.name) ? repr(f.name) : f.name;
  return `file ${name} seq ${f.seq} type ${f.type}\n`;
}

/** sdsneedsrepr: quoting is needed for spaces, quotes, backslashes and non-printables. */
function needsRepr(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c || c === 0x22 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x07 || c === 0x08 || c < 0x20 || c > 0x7e || c === 0x20) return true;
  }
  return false;
}

/** sdscatrepr. */
function repr(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c) out += '\\\\';
    else if (c === 0x22) out += '\\"';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x07) out += '\\a';
    else if (c === 0x08) out += '\\b';
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += '\\x' + c.toString(16).padStart(2, '0');
  }
  return out + '"';
}

/** sdssplitargs: whitespace-separated words with "double" and 'single' quoting; null if unbalanced. */
export function splitArgs(line: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  const isSpace = (ch: string): boolean => ch === ' ' || ch === '\n' || ch === '\r' || ch === '\t' || ch === '\v' || ch === '\f';
  const isHex = (ch: string | undefined): boolean => ch !== undefined && /[0-9a-fA-F]/.test(ch);
  for (;;) {
    while (i < n && isSpace(line[i]!)) i++;
    if (i >= n) return out;
    let cur = '';
    let inq = false;
    let insq = false;
    for (;;) {
      const ch = line[i];
      if (inq) {
        if (ch === undefined) return null;
        if (ch === '\\' && line[i + 1] === 'x' && isHex(line[i + 2]) && isHex(line[i + 3])) {
          cur += String.fromCharCode(parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (ch === '\\' && i + 1 < n) {
          i++;
          const e = line[i]!;
          cur += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (ch === '"') {
          if (i + 1 < n && !isSpace(line[i + 1]!)) return null;
          i++;
          break;
        } else {
          cur += ch;
        }
      } else if (insq) {
        if (ch === undefined) return null;
        if (ch === '\\' && line[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (ch === "'") {
          if (i + 1 < n && !isSpace(line[i + 1]!)) return null;
          i++;
          break;
        } else {
          cur += ch;
        }
      } else {
        if (ch === undefined || isSpace(ch)) break;
        if (ch === '"') inq = true;
        else if (ch === "'") insq = true;
        else cur += ch;
      }
      i++;
    }
    out.push(cur);
  }
}

/** aofLoadManifestFromFile: strict parsing; throws ManifestError with Redis's message. */
export function parseManifest(text: string): AofManifest {
  const m = new AofManifest();
  let maxSeq = 0;
  if (text.length === 0) throw new ManifestError('Found an empty AOF manifest');
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const raw = nl < 0 ? text.slice(pos) : text.slice(pos, nl + 1);
    pos = nl < 0 ? text.length : nl + 1;
    // fgets reads at most MANIFEST_MAX_LINE-1 bytes: a longer line arrives without its '\n'.
    const chunk = raw.slice(0, MANIFEST_MAX_LINE - 1);
    if (chunk[0] === '#') {
      if (raw.length > MANIFEST_MAX_LINE - 1) pos -= raw.length - chunk.length;
      continue;
    }
    if (!chunk.includes('\n')) throw new ManifestError('The AOF manifest file contains too long line');
    const line = chunk.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
    if (line.length === 0) throw new ManifestError('Invalid AOF manifest file format');
    const argv = splitArgs(line);
    if (argv === null || argv.length < 6 || argv.length % 2 !== 0) throw new ManifestError('Invalid AOF manifest file format');
    let name: string | null = null;
    let seq = 0;
    let type = '';
    for (let i = 0; i < argv.length; i += 2) {
      const k = argv[i]!.toLowerCase();
      const v = argv[i + 1]!;
      if (k === 'file') {
        name = v;
        if (name.includes('/')) throw new ManifestError("File can't be a path, just a filename");
      } else if (k === 'seq') {
        seq = atoll(v);
      } else if (k === 'type') {
        type = v[0] ?? '';
      }
    }
    if (name === null || name === '' || seq === 0 || type === '') throw new ManifestError('Invalid AOF manifest file format');
    if (type === 'b') {
      if (m.base !== null) throw new ManifestError('Found duplicate base file information');
      m.base = { name, seq, type: 'b' };
      m.currBaseSeq = seq;
    } else if (type === 'h') {
      m.history.push({ name, seq, type: 'h' });
    } else if (type === 'i') {
      if (seq <= maxSeq) throw new ManifestError('Found a non-monotonic sequence number');
      m.incr.push({ name, seq, type: 'i' });
      m.currIncrSeq = seq;
      maxSeq = seq;
    } else {
      throw new ManifestError('Unknown AOF file type');
    }
  }
  return m;
}

/** atoll: leading whitespace, optional sign, digits; anything else stops the number. */
function atoll(s: string): number {
  const m = /^\s*([+-]?\d+)/.exec(s);
  return m === null ? 0 : Number(m[1]);
}

/**
 * Loads `<dir>/<appendfilename>.manifest`; an absent directory or file is an empty manifest
 * (a fresh start, or an upgrade from a single-file AOF).
 */
export function loadManifest(dir: string, aofFilename: string): AofManifest {
  const file = path.join(dir, manifestFileName(aofFilename));
  // Most servers have no AOF: say so without the exception (and its stack) a failed read makes.
  if (!fs.existsSync(file)) return new AofManifest();
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return new AofManifest();
    throw new ManifestError('Read AOF manifest failed');
  }
  return parseManifest(text);
}

/**
 * writeAofManifestFile: temp file, fsync, rename over the manifest, fsync the directory.
 * Throws on failure after logging nothing: the caller logs with Redis's wording.
 */
export function persistManifest(dir: string, aofFilename: string, m: AofManifest): void {
  if (!m.dirty) return;
  const tmp = path.join(dir, tempManifestFileName(aofFilename));
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeSync(fd, Buffer.from(m.toString(), 'latin1'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dir, manifestFileName(aofFilename)));
  fsyncDir(dir);
  m.dirty = false;
}

/** fsyncFileDir: makes renames and new files in `dir` durable. */
export function fsyncDir(dir: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; Redis ignores EINVAL/EBADF likewise.
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
