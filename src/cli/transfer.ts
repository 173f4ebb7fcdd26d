/**
 * The modes that move raw bytes instead of one command at a time: --pipe (mass insertion),
 * --rdb / --functions-rdb (fetch a snapshot over the replication protocol) and --replica (show
 * what a master propagates). They follow redis-cli.c's pipeMode, getRDB and slaveMode, with the
 * same stderr/stdout lines, because operators script around them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type net from 'node:net';
import { ReplyParser, type Reply } from '../protocol/reply-parser.js';
import { formatCSV } from './format.js';
import { err, exit, out } from './io.js';
import type { Session } from './session.js';

const RDB_EOF_MARK_SIZE = 40;

/** The whole of stdin, chunk by chunk, as it arrives. */
async function* stdinChunks(): AsyncGenerator<Buffer> {
  for await (const chunk of process.stdin) yield chunk as Buffer;
}

/**
 * pipeMode(): streams stdin (already RESP) to the server while counting replies; at EOF sends
 * an ECHO of 20 random bytes and waits for it, so every reply has been seen.
 */
export async function pipeMode(s: Session): Promise<never> {
  const socket = s.conn!.detach();
  const parser = new ReplyParser();
  const magic = crypto.randomBytes(20);
  let errors = 0;
  let replies = 0;
  let eof = false;
  let done = false;
  let lastReadTime = Date.now();
  let finish: (() => void) | null = null;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  socket.on('data', (chunk: Buffer) => {
    parser.feed(chunk);
    let r: Reply | undefined;
    try {
      r = parser.next();
    } catch {
      err('Error reading replies from server\n');
      exit(1);
    }
    while (r !== undefined) {
      lastReadTime = Date.now();
      if (r.type === 'error') {
        err(`${r.value}\n`);
        errors++;
      } else if (eof && r.type === 'string' && r.value.length === 20 && r.value.equals(magic)) {
        out('Last reply received from server.\n');
        done = true;
        replies--;
      }
      replies++;
      if (done) {
        finish!();
        return;
      }
      r = parser.next();
    }
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    err(`Error writing to the server: ${e.message}\n`);
    exit(1);
  });
  socket.on('close', () => {
    if (!done) finish!();
  });
  const write = (b: Buffer): Promise<void> => new Promise((resolve) => (socket.write(b) ? resolve() : socket.once('drain', resolve)));
  for await (const chunk of stdinChunks()) await write(chunk);
  eof = true;
  // Starts with CRLF so that garbage left in the input still lets the ECHO parse.
  await write(Buffer.concat([Buffer.from('\r\n*2\r\n$4\r\nECHO\r\n$20\r\n'), magic, Buffer.from('\r\n')]));
  out('All data transferred. Waiting for the last reply...\n');
  let timer: NodeJS.Timeout | null = null;
  if (s.config.pipeTimeout > 0) {
    timer = setInterval(() => {
      if (Date.now() - lastReadTime > s.config.pipeTimeout * 1000) {
        err(`No replies for ${s.config.pipeTimeout} seconds: exiting.\n`);
        errors++;
        finish!();
      }
    }, 250);
  }
  await finished;
  if (timer) clearInterval(timer);
  out(`errors: ${errors}, replies: ${replies}\n`);
  exit(errors ? 1 : 0);
}

/** sendReplconf(): prints what it sends; false on an error reply (old servers lack some). */
export async function sendReplconf(s: Session, arg1: string, arg2: string): Promise<boolean> {
  err(`sending REPLCONF ${arg1} ${arg2}\n`);
  const r = await s.command(['REPLCONF', arg1, arg2]);
  if (r === null) {
    err('\nI/O error\n');
    exit(1);
  }
  if (r.type === 'error') {
    err(`REPLCONF ${arg1} error: ${r.value}\n`);
    return false;
  }
  return true;
}

/** Byte reader over a detached socket (readConn's shape: wait for what is there). */
class RawReader {
  private chunks: Buffer[] = [];
  private ended = false;
  private waiter: (() => void) | null = null;
  constructor(socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.chunks.push(c);
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('close', end);
    socket.on('error', end);
  }
  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
  /** Up to `max` bytes; an empty buffer at end of stream. */
  async read(max: number): Promise<Buffer> {
    while (this.chunks.length === 0 && !this.ended) await new Promise<void>((r) => (this.waiter = r));
    if (this.chunks.length === 0) return Buffer.alloc(0);
    const c = this.chunks[0]!;
    if (c.length <= max) return this.chunks.shift()!;
    this.chunks[0] = c.subarray(max);
    return c.subarray(0, max);
  }
  /** Gives back what was not consumed (for the RESP parser that follows SYNC's payload). */
  rest(): Buffer[] {
    return this.chunks.splice(0);
  }
}

interface SyncStart {
  /** Payload length, or 0 when the payload ends with an EOF mark. */
  payload: bigint;
  eofMark: Buffer;
}

/** sendSync(): SYNC, then "$<len>\r\n" or "$EOF:<40 bytes>\r\n" (leading newlines skipped). */
async function sendSync(socket: net.Socket, reader: RawReader): Promise<SyncStart> {
  socket.write('SYNC\r\n');
  let line = '';
  for (;;) {
    const b = await reader.read(1);
    if (b.length === 0) {
      err('Error reading bulk length while SYNCing\n');
      exit(1);
    }
    const ch = b.toString('latin1');
    if (ch === '\n' && line !== '') break;
    if (ch !== '\n') line += ch;
  }
  // The line still carries its "\r" (redis-cli keeps it too, up to the "\n").
  if (line[0] === '-') {
    err(`SYNC with master failed: ${line}\n`);
    exit(1);
  }
  if (line.slice(1, 5) === 'EOF:' && line.length - 5 >= RDB_EOF_MARK_SIZE) {
    return { payload: 0n, eofMark: Buffer.from(line.slice(5, 5 + RDB_EOF_MARK_SIZE), 'latin1') };
  }
  const m = /^\d+/.exec(line.slice(1));
  return { payload: m ? BigInt(m[0]) : 0n, eofMark: Buffer.alloc(0) };
}

const ULLONG_MAX = 2n ** 64n - 1n;

/**
 * Reads SYNC's payload, handing each piece to `sink`; returns the bytes read (for an EOF-mark
 * transfer, including the mark).
 */
async function readPayload(reader: RawReader, start: SyncStart, chunk: number, sink: (b: Buffer) => void, readError: string): Promise<bigint> {
  const useMark = start.payload === 0n;
  let payload = useMark ? ULLONG_MAX : start.payload;
  let lastBytes = Buffer.alloc(RDB_EOF_MARK_SIZE);
  while (payload > 0n) {
    const b = await reader.read(payload > BigInt(chunk) ? chunk : Number(payload));
    if (b.length === 0) {
      err(readError);
      exit(1);
    }
    sink(b);
    payload -= BigInt(b.length);
    if (useMark) {
      lastBytes = Buffer.concat([lastBytes, b]).subarray(-RDB_EOF_MARK_SIZE);
      if (lastBytes.equals(start.eofMark)) break;
    }
  }
  return useMark ? ULLONG_MAX - payload : start.payload;
}

/** getRDB(): --rdb / --functions-rdb; the file (or "-" for stdout) gets the payload. */
export async function getRdbMode(s: Session, filename: string, functionsOnly: boolean): Promise<never> {
  await sendReplconf(s, 'capa', 'eof');
  await sendReplconf(s, 'rdb-only', '1');
  if (functionsOnly && !(await sendReplconf(s, 'rdb-filter-only', 'functions'))) {
    err('Failed requesting functions only RDB from server, aborting\n');
    exit(1);
  }
  await syncToFile(s.conn!.detach(), filename);
  exit(0);
}

/**
 * getRDB()'s transfer: SYNC on the socket, its payload into the file (or stdout for "-"), the
 * socket closed, the file fsynced. Also `--cluster backup`'s, one master at a time.
 */
export async function syncToFile(socket: net.Socket, filename: string): Promise<void> {
  const reader = new RawReader(socket);
  const start = await sendSync(socket, reader);
  if (start.payload === 0n) err(`SYNC sent to master, writing bytes of bulk transfer until EOF marker to '${filename}'\n`);
  else err(`SYNC sent to master, writing ${start.payload} bytes to '${filename}'\n`);
  const toStdout = filename === '-';
  let fd: number;
  try {
    fd = toStdout ? 1 : fs.openSync(filename, fs.constants.O_CREAT | fs.constants.O_WRONLY, 0o644);
  } catch (e) {
    err(`Error opening '${filename}': ${strerror(e)}\n`);
    exit(1);
  }
  const got = await readPayload(
    reader,
    start,
    4096,
    (b) => {
      try {
        fs.writeSync(fd, b);
      } catch (e) {
        err(`Error writing data to file: ${strerror(e)}\n`);
        exit(1);
      }
    },
    'I/O Error reading RDB payload from socket\n',
  );
  if (start.payload === 0n) {
    const size = got - BigInt(RDB_EOF_MARK_SIZE);
    if (!toStdout) {
      try {
        fs.ftruncateSync(fd, Number(size));
      } catch (e) {
        err(`ftruncate failed: ${strerror(e)}.\n`);
      }
    }
    err(`Transfer finished with success after ${size} bytes\n`);
  } else {
    err('Transfer finished with success.\n');
  }
  socket.destroy();
  if (!toStdout) {
    try {
      fs.fsyncSync(fd);
    } catch (e) {
      err(`Fail to fsync '${filename}': ${strerror(e)}\n`);
      exit(1);
    }
    fs.closeSync(fd);
  }
}

/** slaveMode(): --replica; discards the snapshot, then prints each propagated command as CSV. */
export async function replicaMode(s: Session): Promise<never> {
  await sendReplconf(s, 'capa', 'eof');
  await sendReplconf(s, 'rdb-filter-only', '');
  const socket = s.conn!.detach();
  const reader = new RawReader(socket);
  const start = await sendSync(socket, reader);
  if (start.payload === 0n) err('SYNC with master, discarding bytes of bulk transfer until EOF marker...\n');
  else err(`SYNC with master, discarding ${start.payload} bytes of bulk transfer...\n`);
  const got = await readPayload(reader, start, 1024, () => {}, 'Error reading RDB payload while SYNCing\n');
  if (start.payload === 0n) {
    err(`SYNC done after ${got} bytes. Logging commands from master.\n`);
    // Put the replica online, as redis-cli does after a diskless transfer.
    await new Promise((r) => setTimeout(r, 1000));
    err('sending REPLCONF ACK 0\n');
    socket.write('*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$1\r\n0\r\n');
  } else {
    err('SYNC done. Logging commands from master.\n');
  }
  const parser = new ReplyParser();
  // redis-cli sends that ACK with redisCommand(), which waits for a reply a master never gives
  // its replica: the first command the master propagates is taken as that reply and dropped.
  let swallow = start.payload === 0n;
  const print = (chunk: Buffer): void => {
    parser.feed(chunk);
    for (let r = parser.next(); r !== undefined; r = parser.next()) {
      if (swallow) {
        swallow = false;
        continue;
      }
      // The master's commands, as cliReadReply shows them in CSV output.
      out(formatCSV(r) + '\n');
    }
  };
  for (const c of reader.rest()) print(c);
  socket.on('data', print);
  await new Promise<void>((resolve) => socket.on('close', resolve));
  // cliReadReply failed: the link to the master is gone.
  err('Error: Server closed the connection\n');
  exit(1);
}

function strerror(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const texts: Record<string, string> = { ENOENT: 'No such file or directory', EACCES: 'Permission denied', EISDIR: 'Is a directory', ENOSPC: 'No space left on device' };
  return (code && texts[code]) ?? (e as Error).message;
}
