/**
 * The PSYNC rules and the stream-consumption bookkeeping, free of sockets, servers and clocks,
 * so the same code runs in nodis-server (master.ts, replica.ts, state.ts) and in the
 * deterministic replication simulation (sim.ts):
 *
 *  - what a replica asks for (`psyncRequest`): its replid and offset + 1, or `? -1`;
 *  - what a master answers (`psyncVerdict`, masterTryPartialResynchronization): +CONTINUE
 *    only when the id is ours — or our previous one and the offset is within what that id
 *    covered (`secondReplOffset`) — and the backlog still holds every byte from that offset;
 *  - the id bookkeeping on each side: a promotion keeps the old id as replid2
 *    (`shiftReplIds`, shiftReplicationId), a replica told `+CONTINUE <newid>` does the same
 *    (`adoptContinueId`), a full sync replaces both (`adoptFullSync`);
 *  - `StreamConsumer`: which exact bytes of the master's stream each applied command used, so
 *    a replica feeds to its own stream (offset, backlog, sub-replicas) exactly what it applied —
 *    every byte once, none twice.
 */
import type { ReplicationBacklog } from './backlog.js';

export const NULL_REPLID = '0'.repeat(40);

/** The replication ids and offset a node carries (ReplicationState has these fields). */
export interface ReplIds {
  replid: string;
  replid2: string;
  masterReplOffset: number;
  secondReplOffset: number;
}

/** PSYNC's arguments: our history and the next byte we need, or a full resync. */
export function psyncRequest(ids: ReplIds, canPartial: boolean): { replid: string; offset: number } {
  return canPartial ? { replid: ids.replid, offset: ids.masterReplOffset + 1 } : { replid: '?', offset: -1 };
}

export type PsyncVerdict =
  | { kind: 'continue'; offset: number }
  | { kind: 'full'; reason: 'requested' | 'id-mismatch' | 'beyond-replid2' | 'no-backlog'; offset: number };

/** The master's answer to `PSYNC <replid> <offset>`. */
export function psyncVerdict(ids: ReplIds, backlog: ReplicationBacklog | null, replid: string, offsetArg: string): PsyncVerdict {
  const offset = Number(offsetArg);
  if (replid !== ids.replid && (replid !== ids.replid2 || offset > ids.secondReplOffset)) {
    if (replid === '?') return { kind: 'full', reason: 'requested', offset };
    return { kind: 'full', reason: replid !== ids.replid2 ? 'id-mismatch' : 'beyond-replid2', offset };
  }
  if (backlog === null || !Number.isSafeInteger(offset) || !backlog.covers(offset)) return { kind: 'full', reason: 'no-backlog', offset };
  return { kind: 'continue', offset };
}

/** A promotion: the old id stays valid as replid2 up to the current offset. */
export function shiftReplIds(ids: ReplIds, newReplid: string): void {
  ids.replid2 = ids.replid;
  ids.secondReplOffset = ids.masterReplOffset + 1;
  ids.replid = newReplid;
}

/** `+CONTINUE <id>` on a replica: true when the master's id changed (its history continues ours). */
export function adoptContinueId(ids: ReplIds, newId: string): boolean {
  if (newId === '' || newId === ids.replid) return false;
  shiftReplIds(ids, newId);
  return true;
}

/** After loading a full sync's image: the master's id and offset, no previous id. */
export function adoptFullSync(ids: ReplIds, replid: string, offset: number): void {
  ids.replid = replid;
  ids.masterReplOffset = offset;
  ids.replid2 = NULL_REPLID;
  ids.secondReplOffset = -1;
}

/** The parser the stream goes through (RespParser; a master client's own parser on a replica). */
export interface StreamParser {
  feed(chunk: Buffer): void;
  next(): string[] | null;
  readonly pendingBytes: number;
}

/**
 * Tracks the raw bytes fed to a parser and hands back, after each command, exactly the bytes
 * that command consumed (replicationFeedStreamFromMasterStream's input).
 */
export class StreamConsumer {
  private raw: Buffer[] = [];
  private fed = 0;
  private taken = 0;

  constructor(readonly parser: StreamParser) {}

  feed(chunk: Buffer): void {
    this.parser.feed(chunk);
    this.raw.push(chunk);
    this.fed += chunk.length;
  }

  /**
   * The memory of `chunk`, the last one fed, is about to be reused by the caller (a shared-read
   * link): the bytes of it not handed back yet — a command cut by the read's end — are copied out.
   */
  release(chunk: Buffer): void {
    const raw = this.raw;
    if (raw.length === 0) return;
    // Only views of `chunk`'s memory: bytes kept from earlier reads are copies already.
    const shared = chunk.buffer;
    for (let i = 0; i < raw.length; i++) if (raw[i]!.buffer === shared) raw[i] = Buffer.from(raw[i]!);
  }

  /**
   * How many bytes the parser consumed that take has not handed back yet. Exact only between two
   * commands: while a command is cut by the end of a read, the parser is past the part of it
   * already read (`*2\r\n$4\r\nINCR\r\n…`), which belongs to no applied command yet.
   */
  get untaken(): number {
    return this.fed - this.parser.pendingBytes - this.taken;
  }

  /** The bytes the parser consumed since the last call, or null when none (call between two commands). */
  takeConsumed(): Buffer | null {
    return this.take(this.untaken);
  }

  /**
   * The next `n` bytes not handed back yet (the applied commands' bytes, `n` read from
   * `untaken` right after the last of them), or null when `n` is 0.
   */
  take(n: number): Buffer | null {
    if (n <= 0) return null;
    this.taken += n;
    // One read applied whole (a replica's usual case): that read, no list.
    const first = this.raw[0]!;
    if (first.length === n) {
      this.raw.shift();
      return first;
    }
    const parts: Buffer[] = [];
    while (n > 0) {
      const head = this.raw[0]!;
      if (head.length <= n) {
        parts.push(head);
        this.raw.shift();
        n -= head.length;
      } else {
        parts.push(head.subarray(0, n));
        this.raw[0] = head.subarray(n);
        n = 0;
      }
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
