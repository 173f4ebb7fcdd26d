/**
 * A nodis server inside the test process, for tests that must reach what a separate process
 * hides: a manual clock, the process's own thread pool, the modules' state.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './server.js';
import { ConfigRegistry } from '../../src/config/registry.js';
import { DIRECTIVES } from '../../src/config/directives.js';
import { CommandTable } from '../../src/server/command-table.js';
import { allCommandHandlers } from '../../src/commands/index.js';
import { Logger } from '../../src/server/log.js';
import { Server } from '../../src/server/server.js';
import { Random, SystemClock, type Clock } from '../../src/core/clock.js';
import { installModules } from '../../src/server/modules.js';
import type { KeyspaceOwner } from '../../src/keyspace/db.js';
import type { AccessPolicy } from '../../src/keyspace/access.js';

/**
 * A KeyspaceOwner for a Database alone (no server): time 0, nothing expires on its own, the
 * signals go nowhere; `access` overrides the access policy's fields (no tracking by default).
 */
export function standaloneOwner(access: Partial<AccessPolicy> = {}): KeyspaceOwner {
  return {
    expiryNow: () => 0,
    expiryIsMastersJob: () => false,
    onKeyExpired: () => {},
    random: () => 0.5,
    onKeyAdded: () => {},
    keyWritten: () => {},
    signalModifiedKey: () => {},
    notify: () => {},
    datasetChanged: () => {},
    access: { track: false, epoch: 0, lfu: false, lruClock: 0, minutes: 0, logFactor: 10, decayTime: 1, random: () => 0.5, ...access },
  };
}

/** A server in this process, not listening (no save points): its keyspace, modules and hooks. */
export function serverInProcess(clock: Clock = new SystemClock(), seed = 1): Server {
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  config.set('save', [''], 'args');
  const server = new Server({ clock, random: new Random(seed), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  return server;
}

export interface InProcessServer {
  server: Server;
  port: number;
  /** A client of it (ioredis, no ready check, no retries). */
  r: Redis;
  /** Disconnects the client and shuts the server down without saving. */
  stop(): Promise<void>;
}

/** Starts a server on `clock` with `directives` (name → value) set as command-line arguments. */
export async function startInProcess(clock: Clock, directives: Record<string, string>): Promise<InProcessServer> {
  const port = await freePort();
  const logger = new Logger(() => clock.now());
  logger.level = 'warning';
  const config = new ConfigRegistry(DIRECTIVES);
  for (const [k, v] of Object.entries({ port: String(port), bind: '127.0.0.1', save: '', loglevel: 'warning', ...directives })) {
    config.set(k, [v], 'args');
  }
  const server = new Server({ clock, random: new Random(1), config, commands: new CommandTable(allCommandHandlers()), logger });
  installModules(server);
  await server.listen();
  const r = new Redis({ port, host: '127.0.0.1', enableReadyCheck: false, maxRetriesPerRequest: 0 });
  return {
    server,
    port,
    r,
    stop: async () => {
      r.disconnect();
      await server.shutdown({ save: false, now: true, force: true, signal: true });
    },
  };
}

/** Occupies every thread of libuv's pool until the returned function is called. */
export function holdThreadPool(dir: string): () => void {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? '4');
  const fifos: string[] = [];
  for (let i = 0; i < threads; i++) {
    const f = path.join(dir, `hold-${i}.fifo`);
    execFileSync('mkfifo', [f]);
    fifos.push(f);
    // open(2) of a FIFO for reading blocks its pool thread until a writer comes.
    fs.open(f, 'r', (err, fd) => {
      if (err === null) fs.closeSync(fd);
    });
  }
  return () => {
    for (const f of fifos) fs.closeSync(fs.openSync(f, 'w'));
  };
}
