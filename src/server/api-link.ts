/**
 * The private link between a nodis-server / nodis-sentinel process and the program that
 * started it through the API (src/api/): Node's IPC channel, enabled by NODIS_API_LINK in the
 * environment. Not a user-facing option; the command line keeps Redis's meanings.
 *
 * - The process exits as soon as the channel closes, i.e. when the parent exits for any
 *   reason, SIGKILL included: the kernel closes the parent's end of the socket pair, so no
 *   child outlives its test run. It first removes NODIS_API_TMPDIR, the temporary directory
 *   the parent made for it, so nothing is left behind either.
 * - With NODIS_API_LINK=pick-port, `port 0` means "a port the kernel picks" (Redis's meaning
 *   is "no TCP"); the bound port is reported with the ready message, so the parent never
 *   guesses a port another process could take first.
 */
import fs from 'node:fs';

export interface ApiLink {
  /** `port 0` asks the kernel for a free port. */
  readonly pickPort: boolean;
  /** Tells the parent that the process accepts connections on `port`. */
  ready(port: number): void;
}

/** What a linked process sends once it accepts connections. */
export interface ApiReadyMessage {
  nodis: 'ready';
  port: number;
  pid: number;
  /** CPU time the process used until ready, in microseconds (user + system; for benchmarks). */
  cpuMicros: number;
}

let opened: ApiLink | null | undefined;

/** The link to an API parent, or null when started any other way (memoized). */
export function openApiLink(): ApiLink | null {
  if (opened !== undefined) return opened;
  const mode = process.env.NODIS_API_LINK;
  const send = process.send?.bind(process);
  if (mode === undefined || send === undefined) return (opened = null);
  // A temporary directory the parent made for us: ours to remove if the parent disappears.
  const tempDir = process.env.NODIS_API_TMPDIR;
  // Our own children (sentinel scripts, a daemonized copy) are not linked to the API parent.
  delete process.env.NODIS_API_LINK;
  delete process.env.NODIS_API_TMPDIR;
  process.on('disconnect', () => {
    if (tempDir !== undefined && tempDir !== '') fs.rmSync(tempDir, { recursive: true, force: true, maxRetries: 2 });
    process.exit(1);
  });
  // The channel must not keep the process alive by itself (SHUTDOWN still exits).
  process.channel?.unref();
  opened = {
    pickPort: mode === 'pick-port',
    ready: (port) => {
      const cpu = process.cpuUsage();
      const msg: ApiReadyMessage = { nodis: 'ready', port, pid: process.pid, cpuMicros: cpu.user + cpu.system };
      send(msg);
    },
  };
  return opened;
}
