/**
 * One fault run of the harness (see scripts/fault-harness.mjs for the command line, and
 * docs/CONSISTENCY.md for what it measures): a fresh master (d1), two replicas (d2, d3) and
 * three sentinels (quorum 2, down-after 1000 ms), each in its own namespace; two clients
 * (ca, cb) writing through the sentinels; one fault injected into the master at `faultAtMs`
 * and removed (healed, restarted, continued) at `healAtMs`; the workload runs `runMs`. Then
 * the harness waits until the sentinels agree on one master, both replicas are attached to it
 * and have its offset, reads the list from that master and hands everything to the checker.
 *
 * The configurations and faults are plain tables: a new configuration (for example the
 * durable-acknowledgment mode of issue 19) is one more entry in CONFIGS — directives for the
 * data nodes and the client's acknowledgment rule.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { DATA, NODES, SENTINELS, heal, killAllInNamespaces, lossy, nsName, partition } from './netns.mjs';
import { check } from './checker.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** Server kinds (`--server`): data nodes and sentinels; `nodis-rs` is nodis driven by redis-sentinel. */
export const SERVERS = {
  nodis: { data: path.join(ROOT, 'bin/nodis-server'), sentinel: path.join(ROOT, 'bin/nodis-sentinel') },
  redis: { data: '/usr/bin/redis-server', sentinel: '/usr/bin/redis-sentinel' },
  'nodis-rs': { data: path.join(ROOT, 'bin/nodis-server'), sentinel: '/usr/bin/redis-sentinel' },
};

/**
 * Configurations: `directives` go into every data node's config file; `wait` makes each client
 * follow every write with WAIT <replicas> <timeoutMs> and count the write acknowledged only when
 * WAIT reached that many replicas.
 */
export const CONFIGS = {
  plain: { directives: [], wait: null },
  wait1: { directives: [], wait: { replicas: 1, timeoutMs: 1000 } },
  minreplicas: { directives: ['min-replicas-to-write 1', 'min-replicas-max-lag 2'], wait: null },
  // nodis's durable acknowledgment (issue 19): replies held until a majority (master + 1 of the
  // 2 replicas) has the write; the lease (500 ms) is shorter than down-after (1000 ms).
  durable: {
    directives: ['durable-writes yes', 'durable-replicas 2', 'durable-timeout 1000', 'durable-lease 500'],
    wait: null,
    servers: ['nodis', 'nodis-rs'],
  },
};

/** Wall-clock offsets of the `clock-jump` fault (libfaketime, CLOCK_REALTIME only: monotonic clocks do not jump). */
const FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

/**
 * Faults, all aimed at the initial master d1. `apply` runs at faultAtMs, `undo` at healAtMs.
 * The client `ca` sits with the master in `partition-with-client`, with the majority otherwise.
 */
export const FAULTS = {
  'partition-with-client': {
    apply: () => partition([['d1', 'ca'], ['d2', 'd3', 's1', 's2', 's3', 'cb']]),
    undo: () => heal(),
  },
  'partition-alone': {
    apply: () => partition([['d1'], ['d2', 'd3', 's1', 's2', 's3', 'ca', 'cb']]),
    undo: () => heal(),
  },
  kill9: {
    apply: (run) => run.signal('d1', 'SIGKILL'),
    undo: (run) => run.startData('d1'),
  },
  sigstop: {
    apply: (run) => run.signal('d1', 'SIGSTOP'),
    undo: (run) => run.signal('d1', 'SIGCONT'),
  },
  'replica-partition': {
    // A replica cut off first, then the master too: the majority side holds one replica only
    // until the first replica comes back (at half-time); then the master stays cut off.
    apply: () => partition([['d1'], ['d2'], ['d3', 's1', 's2', 's3', 'ca', 'cb']]),
    mid: () => partition([['d1'], ['d2', 'd3', 's1', 's2', 's3', 'ca', 'cb']]),
    undo: () => heal(),
  },
  'clock-jump': {
    // The master's wall clock jumps 60 s ahead and a replica's 60 s back, while the master is
    // cut off with a client (so a failover happens with skewed clocks).
    apply: (run) => {
      run.jumpClock('d1', '+60');
      run.jumpClock('d2', '-60');
      partition([['d1', 'ca'], ['d2', 'd3', 's1', 's2', 's3', 'cb']]);
    },
    undo: (run) => {
      heal();
      run.jumpClock('d1', '+0');
      run.jumpClock('d2', '+0');
    },
  },
  'lossy-master': {
    // 30% of the packets between the master and everyone else dropped (TCP retransmits).
    apply: () => lossy('d1', Object.keys(NODES).filter((n) => n !== 'd1'), 0.3),
    undo: () => heal(),
  },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
    await sleep(100);
  }
}

function infoField(info, name) {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m === null ? null : m[1].trim();
}

export class FaultRun {
  constructor({ server, config, fault, runMs = 10000, faultAtMs = 2000, healAtMs = 8000, log = () => {} }) {
    this.server = server;
    this.config = config;
    this.fault = fault;
    this.runMs = runMs;
    this.faultAtMs = faultAtMs;
    this.healAtMs = healAtMs;
    this.log = log;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-faults-'));
    this.procs = new Map();
    this.controls = [];
  }

  control(node, port) {
    const c = new Redis({ host: NODES[node], port, lazyConnect: false, commandTimeout: 2000, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
    c.on('error', () => {});
    this.controls.push(c);
    return c;
  }

  spawnIn(node, bin, args, logName, env = process.env) {
    const fd = fs.openSync(path.join(this.dir, logName), 'a');
    const p = spawn('ip', ['netns', 'exec', nsName(node), bin, ...args], { stdio: ['ignore', fd, fd], env });
    fs.closeSync(fd);
    return p;
  }

  startData(node) {
    const dir = path.join(this.dir, node);
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'node.conf');
    if (!fs.existsSync(conf)) {
      // repl-diskless-sync-delay 0: the replicas' first sync starts at once (shorter set-up).
      const lines = ['port 6379', 'bind 0.0.0.0', 'protected-mode no', 'save ""', 'appendonly no', 'repl-diskless-sync-delay 0', `dir ${dir}`, ...CONFIGS[this.config].directives];
      if (node !== 'd1') lines.push(`replicaof ${NODES.d1} 6379`);
      fs.writeFileSync(conf, lines.join('\n') + '\n');
    }
    // Every data node runs under libfaketime with an offset file the clock-jump fault rewrites.
    const clockFile = path.join(dir, 'faketime.rc');
    if (!fs.existsSync(clockFile)) fs.writeFileSync(clockFile, '+0\n');
    const env = this.fault === 'clock-jump'
      ? { ...process.env, LD_PRELOAD: FAKETIME_LIB, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' }
      : process.env;
    this.procs.set(node, this.spawnIn(node, SERVERS[this.server].data, [conf], `${node}.log`, env));
  }

  /** Sets a data node's wall-clock offset (`+60`, `-60`, `+0` seconds) for the clock-jump fault. */
  jumpClock(node, offset) {
    fs.writeFileSync(path.join(this.dir, node, 'faketime.rc'), `${offset}\n`);
    this.log(`clock of ${node} at ${offset} s`);
  }

  startSentinel(node) {
    const dir = path.join(this.dir, node);
    fs.mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'sentinel.conf');
    fs.writeFileSync(
      conf,
      [
        'port 26379',
        'bind 0.0.0.0',
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor mymaster ${NODES.d1} 6379 2`,
        'sentinel down-after-milliseconds mymaster 1000',
        'sentinel failover-timeout mymaster 6000',
        'sentinel parallel-syncs mymaster 2',
        '',
      ].join('\n'),
    );
    this.procs.set(node, this.spawnIn(node, SERVERS[this.server].sentinel, [conf], `${node}.log`));
  }

  signal(node, sig) {
    const p = this.procs.get(node);
    if (p !== undefined && p.exitCode === null && p.signalCode === null) p.kill(sig);
  }

  /** The master all three sentinels name, or null while they disagree or cannot be asked. */
  async agreedMaster() {
    const seen = new Set();
    for (const s of SENTINELS) {
      const r = await this.sentinelControl[s].call('SENTINEL', 'get-master-addr-by-name', 'mymaster');
      seen.add(r[0]);
    }
    if (seen.size !== 1) return null;
    const host = [...seen][0];
    return DATA.find((d) => NODES[d] === host) ?? null;
  }

  async execute() {
    const t0 = Date.now();
    for (const d of DATA) this.startData(d);
    for (const s of SENTINELS) this.startSentinel(s);
    this.dataControl = Object.fromEntries(DATA.map((d) => [d, this.control(d, 6379)]));
    this.sentinelControl = Object.fromEntries(SENTINELS.map((s) => [s, this.control(s, 26379)]));
    // Ready: both replicas synced, every sentinel knows both replicas and the two other sentinels.
    await waitFor(
      'replicas online',
      async () => {
        const info = await this.dataControl.d1.info('replication');
        return (info.match(/state=online/g) ?? []).length === 2;
      },
      30000,
    );
    await waitFor(
      'sentinels discovered each other and the replicas',
      async () => {
        for (const s of SENTINELS) {
          const m = await this.sentinelControl[s].call('SENTINEL', 'master', 'mymaster');
          const f = {};
          for (let i = 0; i + 1 < m.length; i += 2) f[m[i]] = m[i + 1];
          if (f['num-slaves'] !== '2' || f['num-other-sentinels'] !== '2' || f.flags !== 'master') return false;
        }
        return true;
      },
      40000,
    );
    const setupMs = Date.now() - t0;
    // The workload.
    const clientOpts = (me, others) =>
      JSON.stringify({ me, others, log: path.join(this.dir, `${me}.ops`), sentinels: SENTINELS.map((s) => NODES[s]), durationMs: this.runMs, wait: CONFIGS[this.config].wait });
    const clients = [
      ['ca', ['cb']],
      ['cb', ['ca']],
    ].map(([me, others]) => {
      const p = spawn('ip', ['netns', 'exec', nsName(me), process.execPath, path.join(ROOT, 'bench/faults/client.mjs'), clientOpts(me, others)], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      return new Promise((resolve) => p.on('exit', resolve));
    });
    const start = Date.now();
    const fault = FAULTS[this.fault];
    await sleep(Math.max(0, start + this.faultAtMs - Date.now()));
    this.log(`fault ${this.fault} applied`);
    fault.apply(this);
    if (fault.mid !== undefined) {
      await sleep(Math.max(0, start + (this.faultAtMs + this.healAtMs) / 2 - Date.now()));
      fault.mid(this);
      this.log(`fault ${this.fault} half-way step`);
    }
    await sleep(Math.max(0, start + this.healAtMs - Date.now()));
    fault.undo(this);
    this.log(`fault ${this.fault} undone`);
    await Promise.all(clients);
    const ops = ['ca', 'cb']
      .map((me) => fs.readFileSync(path.join(this.dir, `${me}.ops`), 'utf8'))
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    // Convergence: one master for all sentinels, both replicas attached with its offset.
    let master = null;
    let converged = true;
    try {
      master = await waitFor(
        'convergence',
        async () => {
          const m = await this.agreedMaster();
          if (m === null) return null;
          const info = await this.dataControl[m].info('replication');
          if (infoField(info, 'role') !== 'master') return null;
          const off = infoField(info, 'master_repl_offset');
          for (const d of DATA) {
            if (d === m) continue;
            const ri = await this.dataControl[d].info('replication');
            if (infoField(ri, 'master_host') !== NODES[m] || infoField(ri, 'master_link_status') !== 'up') return null;
            if (infoField(ri, 'slave_repl_offset') !== off) return null;
          }
          return m;
        },
        45000,
      );
    } catch (e) {
      converged = false;
      this.log(`no convergence: ${e.message}`);
      master = await this.agreedMaster().catch(() => null);
    }
    const finalList = master === null ? [] : await this.dataControl[master].lrange('list', 0, -1);
    // Replicas that ended with another list than the master's.
    let divergedReplicas = 0;
    for (const d of DATA) {
      if (d === master || master === null) continue;
      const l = await this.dataControl[d].lrange('list', 0, -1).catch(() => null);
      if (l === null || l.length !== finalList.length || l.some((v, i) => v !== finalList[i])) divergedReplicas++;
    }
    const result = check(ops, finalList);
    return {
      server: this.server,
      config: this.config,
      fault: this.fault,
      failover: master !== null && master !== 'd1',
      converged,
      divergedReplicas,
      finalMaster: master,
      finalLength: finalList.length,
      setupMs,
      ...result,
    };
  }

  async cleanup() {
    for (const c of this.controls) c.disconnect();
    killAllInNamespaces(process.pid);
    heal();
    await Promise.all(
      [...this.procs.values()].map((p) => (p.exitCode !== null || p.signalCode !== null ? null : new Promise((r) => p.on('exit', r)))),
    );
  }

  /** Keeps the run's logs when something looked wrong; otherwise removes its directory. */
  finish(keep) {
    if (keep) return this.dir;
    fs.rmSync(this.dir, { recursive: true, force: true });
    return null;
  }
}

