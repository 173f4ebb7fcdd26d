/**
 * SHUTDOWN waiting for lagging replicas (Redis 7.0's prepareForShutdown / isReadyToShutdown /
 * finishShutdown / abortShutdown):
 *
 *  - A SHUTDOWN (or SIGTERM) without NOW, with `shutdown-timeout` > 0, while some replica has
 *    not acknowledged the whole stream: REPLCONF GETACK goes out, writes are paused (so the
 *    offset stops moving), and the shutdown waits until every replica ACKed
 *    master_repl_offset, or shutdown-timeout seconds passed, then proceeds.
 *  - A SHUTDOWN arriving meanwhile joins the one in progress (its flags are ignored, as Redis's
 *    prepareForShutdown returns early); SHUTDOWN ABORT cancels it: the pause is lifted and the
 *    waiting SHUTDOWN callers get "-ERR Errors trying to SHUTDOWN. Check logs.".
 *  - Every shutdown logs the lagging replicas and "N of M replicas are in sync".
 */
import { encodeCommand } from '../server/propagate.js';
import { setInfoField } from '../server/info-fields.js';
import type { ReplicationState, ReplicaLink } from './state.js';

interface PendingShutdown {
  /** Resolves the waits: true proceeds with the shutdown, false means aborted. */
  settle: (proceed: boolean) => void;
  /** Joined SHUTDOWNs: released only by an abort (a proceeding shutdown exits the process). */
  joiners: ((proceed: boolean) => void)[];
  timer: ReturnType<typeof setTimeout>;
  /** Monotonic ms at which the wait gives up (INFO shutdown_in_milliseconds). */
  deadline: number;
  /** We paused writes (a CLIENT PAUSE in force is left as it was). */
  paused: boolean;
}

const pending = new WeakMap<ReplicationState, PendingShutdown>();

export function installShutdownWait(st: ReplicationState): void {
  const server = st.server;
  server.hooks.shutdownWait = (now) => waitForReplicas(st, now);
  server.hooks.shutdownAbort = () => abortShutdown(st);
  server.hooks.cron.push(() => checkShutdown(st));
  setInfoField(server, 'shutdown_in_milliseconds', () => {
    const p = pending.get(st);
    return p === undefined ? null : Math.max(0, Math.round(p.deadline - server.clock.monotonic()));
  });
}

/** isReadyToShutdown: every replica acknowledged the whole stream. */
function ready(st: ReplicationState): boolean {
  for (const r of st.replicas) if (r.ackOffset !== st.masterReplOffset) return false;
  return true;
}

function waitForReplicas(st: ReplicationState, now: boolean): Promise<boolean> {
  const server = st.server;
  const inProgress = pending.get(st);
  if (inProgress !== undefined) return new Promise((resolve) => inProgress.joiners.push(resolve));
  const timeout = server.config.getNumber('shutdown-timeout');
  if (now || timeout === 0 || ready(st)) {
    logReplicaSync(st);
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const paused = server.pause.mode === null;
    if (paused) {
      st.feedBytes(Buffer.from(encodeCommand(['REPLCONF', 'GETACK', '*']), 'latin1'));
      server.pauseClients('write', 2 ** 31 - 1);
    }
    const p: PendingShutdown = {
      settle: resolve,
      joiners: [],
      timer: setTimeout(() => finish(st, true), timeout * 1000),
      deadline: server.clock.monotonic() + timeout * 1000,
      paused,
    };
    pending.set(st, p);
    server.log.notice('Waiting for replicas before shutting down.');
  });
}

/** Called on every REPLCONF ACK, replica loss and cron tick while a shutdown waits. */
export function checkShutdown(st: ReplicationState): void {
  if (pending.has(st) && ready(st)) finish(st, true);
}

function finish(st: ReplicationState, proceed: boolean): void {
  const p = pending.get(st);
  if (p === undefined) return;
  pending.delete(st);
  clearTimeout(p.timer);
  if (p.paused) st.server.unpauseClients();
  if (proceed) {
    logReplicaSync(st);
  } else {
    for (const j of p.joiners) j(false);
  }
  p.settle(proceed);
}

function abortShutdown(st: ReplicationState): boolean {
  if (!pending.has(st)) return false;
  finish(st, false);
  st.server.log.notice('Shutdown manually aborted.');
  return true;
}

const STATE_NAMES: Record<ReplicaLink['state'], string> = {
  wait_bgsave: 'wait_bgsave',
  wait_bgsave_end: 'wait_bgsave',
  // A socket transfer: Redis's WAIT_BGSAVE_END (see INFO replication in index.ts).
  send_bulk: 'wait_bgsave',
  online: 'online',
};

/** finishShutdown's report on the replicas. */
function logReplicaSync(st: ReplicationState): void {
  const server = st.server;
  if (st.replicas.length === 0) return;
  let lagging = 0;
  const nowSec = Math.floor(server.clock.now() / 1000);
  for (const r of st.replicas) {
    if (r.ackOffset === st.masterReplOffset) continue;
    lagging++;
    const lag = r.state === 'online' ? nowSec - Math.floor(r.ackTime / 1000) : 0;
    server.log.warning(
      `Lagging replica ${st.replicaName(r)} reported offset ${st.masterReplOffset - r.ackOffset} behind master, lag=${lag}, state=${STATE_NAMES[r.state]}.`,
    );
  }
  server.log.notice(`${st.replicas.length - lagging} of ${st.replicas.length} replicas are in sync when shutting down.`);
}
