/**
 * nodis-ha: the seed's whole topology in one command, watched live.
 *
 *   nodis-ha up [--replicas N] [--sentinels M] [--quorum Q] [--down-after MS] [--name NAME]
 *               [--seed-ports] [--redis] [--web [PORT]] [--load]
 *   nodis-ha watch --sentinel HOST:PORT [--name NAME] [--web [PORT]]
 *
 * `up` starts a master, replicas and sentinels (src/ha/fleet.ts), `watch` attaches to any
 * Sentinel-managed deployment; both show the same view (monitor.ts → view.ts in a terminal or
 * as plain lines, web.ts as a page) and `up` adds the actions: kill the master, pause, restart,
 * add a replica, SLAVEOF NO ONE by hand, quit (which stops everything it started).
 */
import readline from 'node:readline';
import { command } from '../api/control.js';
import { NODIS_VERSION } from '../server/version.js';
import { Fleet, type FleetNode, type FleetOptions } from './fleet.js';
import { LoadClient } from './load.js';
import { Monitor } from './monitor.js';
import { KEYS_HELP, PlainView, TerminalView } from './view.js';
import { startWeb, type Action } from './web.js';

const USAGE = `Usage:
  nodis-ha up [--replicas N] [--sentinels M] [--quorum Q] [--down-after MS] [--name NAME]
              [--seed-ports] [--redis] [--web [PORT]] [--load] [--host ADDR]
  nodis-ha watch --sentinel HOST:PORT [--name NAME] [--web [PORT]]
  nodis-ha --version
`;

interface Args {
  mode: 'up' | 'watch';
  fleet: FleetOptions;
  sentinel: string;
  name: string | undefined;
  web: number | null;
  load: boolean;
}

function fail(msg: string): never {
  process.stderr.write(`nodis-ha: ${msg}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const mode = argv[0];
  if (mode === '--version' || mode === '-v') {
    process.stdout.write(`nodis-ha ${NODIS_VERSION}\n`);
    process.exit(0);
  }
  if (mode === '--help' || mode === '-h') {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (mode !== 'up' && mode !== 'watch') fail(mode === undefined ? 'say up or watch' : `unknown command '${mode}'`);
  const a: Args = {
    mode,
    fleet: { replicas: 2, sentinels: 3, quorum: 0, downAfterMs: 5000, failoverTimeoutMs: 10000, name: 'mymaster', host: '127.0.0.1', seedPorts: false, redis: false },
    sentinel: '',
    name: undefined,
    web: null,
    load: false,
  };
  const int = (v: string | undefined, what: string, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) fail(`${what} needs a whole number ≥ ${min}`);
    return n;
  };
  for (let i = 1; i < argv.length; i++) {
    const o = argv[i]!;
    const next = (): string | undefined => argv[++i];
    if (o === '--replicas') a.fleet.replicas = int(next(), o, 0);
    else if (o === '--sentinels') a.fleet.sentinels = int(next(), o, 1);
    else if (o === '--quorum') a.fleet.quorum = int(next(), o, 1);
    else if (o === '--down-after') a.fleet.downAfterMs = int(next(), o, 100);
    else if (o === '--failover-timeout') a.fleet.failoverTimeoutMs = int(next(), o, 100);
    else if (o === '--name') a.name = a.fleet.name = next() ?? fail('--name needs a value');
    else if (o === '--host') a.fleet.host = next() ?? fail('--host needs a value');
    else if (o === '--seed-ports') a.fleet.seedPorts = true;
    else if (o === '--redis') a.fleet.redis = true;
    else if (o === '--load') a.load = true;
    else if (o === '--sentinel') a.sentinel = next() ?? fail('--sentinel needs HOST:PORT');
    else if (o === '--web') {
      const v = argv[i + 1];
      a.web = v !== undefined && /^\d+$/.test(v) ? int(argv[++i], o, 0) : 0;
    } else fail(`unknown option '${o}'`);
  }
  if (a.fleet.quorum === 0) a.fleet.quorum = Math.floor(a.fleet.sentinels / 2) + 1;
  if (a.fleet.quorum > a.fleet.sentinels) fail('--quorum cannot exceed --sentinels');
  if (a.mode === 'watch' && !/^.+:\d+$/.test(a.sentinel)) fail('watch needs --sentinel HOST:PORT');
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tty = process.stdout.isTTY === true && process.stdin.isTTY === true;
  let fleet: Fleet | null = null;
  if (args.mode === 'up') {
    process.stderr.write(`nodis-ha: starting a master, ${args.fleet.replicas} replicas and ${args.fleet.sentinels} sentinels (quorum ${args.fleet.quorum})${args.fleet.redis ? " with Debian's redis-server/redis-sentinel" : ''}…\n`);
    fleet = await Fleet.start(args.fleet);
    process.stderr.write(`nodis-ha: ready; files in ${fleet.dir}\n`);
  }
  const labels = new Map<string, string>();
  if (fleet !== null) for (const n of [...fleet.nodes, ...fleet.sentinels]) labels.set(n.address, n.label);
  const monitor = new Monitor({
    sentinels: fleet !== null ? fleet.sentinels.map((s) => s.address) : [args.sentinel],
    name: args.name ?? (fleet !== null ? args.fleet.name : undefined),
    labels,
  });
  let load: LoadClient | null = null;
  if (args.load) load = new LoadClient(() => monitor.snapshot.sentinels.map((s) => s.address).concat(fleet?.sentinels.map((s) => s.address) ?? []), args.fleet.name, (at, master) => monitor.writeAcknowledged(at, master));
  const state = (): { snapshot: typeof monitor.snapshot; load: LoadClient['stats'] | null; actions: boolean } => ({
    snapshot: monitor.snapshot,
    load: load?.stats ?? null,
    actions: fleet !== null,
  });

  const nodeOf = (address: string): FleetNode => {
    const n = fleet?.find(address);
    if (n === undefined) throw new Error(`no node ${address} in this topology`);
    return n;
  };
  const act = async (action: Action, address: string): Promise<string> => {
    if (fleet === null) throw new Error('read-only view (nodis-ha watch)');
    const master = monitor.snapshot.master;
    switch (action) {
      case 'kill-master': {
        const n = nodeOf(master);
        monitor.masterLost();
        await n.kill('SIGKILL');
        return `killed the master ${n.label} (${n.address})`;
      }
      case 'kill': {
        const n = nodeOf(address);
        if (n.address === master) monitor.masterLost();
        await n.kill('SIGKILL');
        return `killed ${n.label} (${n.address})`;
      }
      case 'pause': {
        const n = nodeOf(address);
        const ms = args.fleet.downAfterMs * 3;
        if (n.address === master) monitor.masterLost();
        n.pause(ms);
        return `paused ${n.label} for ${ms} ms`;
      }
      case 'restart': {
        const n = nodeOf(address);
        await n.restart();
        return `restarted ${n.label} (${n.address})`;
      }
      case 'add-replica': {
        const m = nodeOf(master);
        const n = await fleet.addDataNode(m);
        monitor.labelOf(n.address, 'node');
        labels.set(n.address, n.label);
        return `added ${n.label} (${n.address}) as a replica of ${m.address}`;
      }
      case 'promote': {
        const n = nodeOf(address);
        await command(n.host, n.port, ['SLAVEOF', 'NO', 'ONE']);
        return `SLAVEOF NO ONE on ${n.label} (${n.address})`;
      }
    }
  };

  let web: { url: string; close: () => void } | null = null;
  const webListeners: (() => void)[] = [];
  if (args.web !== null) {
    web = await startWeb({ host: args.fleet.host, port: args.web, state, onUpdate: (fn) => webListeners.push(fn), act });
    process.stderr.write(`nodis-ha: the page is at ${web.url}\n`);
  }

  const terminal = tty ? new TerminalView(process.stdout, state) : null;
  const plain = tty ? null : new PlainView(process.stdout, state);
  let quitting = false;
  const quit = async (code = 0): Promise<void> => {
    if (quitting) return;
    quitting = true;
    monitor.stop();
    load?.stop();
    web?.close();
    terminal?.close();
    if (fleet !== null) await fleet.stop();
    process.exit(code);
  };
  // Whatever ends nodis-ha, Redis's own programs (which have no link to us) go with it.
  process.on('exit', () => {
    for (const n of [...(fleet?.nodes ?? []), ...(fleet?.sentinels ?? [])]) if (n.running) n.proc?.kill('SIGKILL');
  });
  process.on('SIGINT', () => void quit(130));
  process.on('SIGTERM', () => void quit(143));
  process.on('SIGHUP', () => void quit(129));

  monitor.onUpdate(() => {
    terminal?.draw();
    plain?.draw();
    for (const fn of webListeners) fn();
  });
  monitor.start();

  // Keys: one letter, and a node number for those that need one.
  const report = (line: string): void => {
    if (terminal !== null) {
      terminal.prompt = line;
      terminal.draw();
    } else process.stdout.write(`nodis-ha: ${line}\n`);
  };
  const run = (action: Action, address = ''): void => {
    report(`${action}…`);
    act(action, address).then(report, (e: Error) => report(`${action} failed: ${e.message}`));
  };
  let pending: 'p' | 'r' | 'n' | null = null;
  const onKey = (ch: string): void => {
    if (pending !== null) {
      const node = monitor.snapshot.nodes[Number(ch) - 1];
      const which = pending;
      pending = null;
      if (node === undefined) return report(`no node ${ch}; ${KEYS_HELP}`);
      return run(which === 'p' ? 'pause' : which === 'r' ? 'restart' : 'promote', node.address);
    }
    if (ch === 'q') void quit(0);
    else if ('kpran'.includes(ch) && fleet === null) report('read-only view (nodis-ha watch): no actions');
    else if (ch === 'k' && fleet !== null) run('kill-master');
    else if (ch === 'a' && fleet !== null) run('add-replica');
    else if ((ch === 'p' || ch === 'r' || ch === 'n') && fleet !== null) {
      pending = ch;
      report(`${ch === 'p' ? 'pause' : ch === 'r' ? 'restart' : 'SLAVEOF NO ONE on'} which node? (1-${monitor.snapshot.nodes.length})`);
    }
  };
  if (process.stdin.isTTY === true) {
    readline.emitKeypressEvents(process.stdin);
    process.stdin.setRawMode(true);
    process.stdin.on('keypress', (str: string | undefined, key: { ctrl?: boolean; name?: string }) => {
      if (key.ctrl === true && key.name === 'c') void quit(130);
      else if (str !== undefined) onKey(str);
    });
  } else {
    // Not a terminal: one command per line on stdin (k, p2, r1, a, n3, q), for scripts.
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      for (const ch of line.trim()) onKey(ch);
    });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`nodis-ha: ${e.message}\n`);
  process.exit(1);
});
