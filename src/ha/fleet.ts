/**
 * The processes of `nodis-ha up`: the seed's topology started the way the walkthrough starts it
 * by hand — one config file per node (`replicaof` in the replicas' files, `sentinel monitor` in
 * each sentinel.conf) — so a learner can open the files the view talks about. The programs are
 * nodis's own launchers, or Debian's redis-server / redis-sentinel with `--redis`.
 *
 * Unlike the package API (src/api/), which binds kernel-chosen ports over a private link for
 * tests, the fleet takes ports a person can type: the walkthrough's (6379…, 26379…) with
 * `--seed-ports`, otherwise free ports asked of the kernel just before start. Every process is
 * a child of nodis-ha; nodis processes are linked to it and exit with it, however it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { command, waitUntil } from '../api/control.js';

export type NodeRole = 'data' | 'sentinel';

export interface FleetOptions {
  replicas: number;
  sentinels: number;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  name: string;
  host: string;
  /** Use the walkthrough's ports (6379, 6380…, 26379…) when they are free. */
  seedPorts: boolean;
  /** Run Debian's redis-server / redis-sentinel instead of nodis. */
  redis: boolean;
}

/** One process of the fleet, started again on the same port and files by restart(). */
export class FleetNode {
  proc: ChildProcess | null = null;
  paused = false;
  constructor(
    readonly role: NodeRole,
    readonly label: string,
    readonly host: string,
    readonly port: number,
    readonly confFile: string,
    private readonly program: string[],
    /** Debian's redis-server / redis-sentinel rather than nodis. */
    private readonly foreign: boolean,
  ) {}

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  start(): void {
    const [bin, ...args] = this.program;
    // nodis processes are linked to nodis-ha over an IPC channel (src/server/api-link.ts): they
    // exit when it closes, i.e. whenever nodis-ha exits, SIGKILL included. Redis's programs
    // have no such link; nodis-ha stops them on its way out (see main.ts).
    const linked = !this.foreign;
    const proc = spawn(bin!, [...args, this.confFile], {
      cwd: path.dirname(this.confFile),
      stdio: linked ? ['ignore', 'ignore', 'ignore', 'ipc'] : 'ignore',
      env: linked ? { ...process.env, NODIS_API_LINK: 'link' } : process.env,
      windowsHide: true,
    });
    proc.on('error', () => {});
    if (linked) proc.channel?.unref();
    this.proc = proc;
    this.paused = false;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (p === null || !this.running) return;
    if (this.paused) p.kill('SIGCONT');
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    await exited;
    this.paused = false;
  }

  pause(ms: number): void {
    if (!this.running || this.paused || process.platform === 'win32') return;
    this.proc!.kill('SIGSTOP');
    this.paused = true;
    setTimeout(() => this.resume(), ms).unref();
  }

  resume(): void {
    if (this.running && this.paused) this.proc!.kill('SIGCONT');
    this.paused = false;
  }

  async restart(): Promise<void> {
    await this.kill('SIGTERM');
    this.start();
    await waitUntil(`${this.label} to answer`, 20000, async () => (await command(this.host, this.port, ['PING'], 1000)).type === 'status');
  }
}

/** Is `port` free on `host` (a listen that succeeds, closed at once)? */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** A port the kernel reports free, distinct from those already taken by this fleet. */
async function kernelPort(host: string, taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, host, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!taken.has(port)) return port;
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The package's bin/ (dist/pkg/ha/ or dist/src/ha/ → ../../../bin). */
function binDir(): string {
  for (const up of ['../../bin', '../../../bin']) {
    const dir = path.resolve(here, up);
    if (fs.existsSync(path.join(dir, 'nodis-server'))) return dir;
  }
  throw new Error('nodis-ha: cannot find the nodis-server launcher');
}

function programs(redis: boolean): { data: string[]; sentinel: string[] } {
  if (redis) return { data: ['redis-server'], sentinel: ['redis-sentinel'] };
  const bin = binDir();
  return { data: [process.execPath, path.join(bin, 'nodis-server')], sentinel: [process.execPath, path.join(bin, 'nodis-sentinel')] };
}

/** The fleet: data nodes (the first is the initial master), then sentinels, and their files. */
export class Fleet {
  readonly nodes: FleetNode[] = [];
  readonly sentinels: FleetNode[] = [];
  private readonly taken = new Set<number>();
  private readonly programs: { data: string[]; sentinel: string[] };

  private constructor(
    readonly opts: FleetOptions,
    readonly dir: string,
  ) {
    this.programs = programs(opts.redis);
  }

  static async start(opts: FleetOptions): Promise<Fleet> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-ha-'));
    const fleet = new Fleet(opts, dir);
    try {
      const master = await fleet.addDataNode(null, 6379);
      for (let i = 0; i < opts.replicas; i++) await fleet.addDataNode(master, 6380 + i);
      for (let i = 0; i < opts.sentinels; i++) await fleet.addSentinel(master, 26379 + i);
      await fleet.ready();
    } catch (e) {
      await fleet.stop();
      throw e;
    }
    return fleet;
  }

  private async port(seed: number): Promise<number> {
    let port: number;
    if (this.opts.seedPorts && !this.taken.has(seed) && (await portFree(this.opts.host, seed))) port = seed;
    else port = await kernelPort(this.opts.host, this.taken);
    this.taken.add(port);
    return port;
  }

  /** A data node: the master when `master` is null, else a replica of it (in its config file). */
  async addDataNode(master: FleetNode | null, seedPort = 6379 + this.nodes.length): Promise<FleetNode> {
    const port = await this.port(seedPort);
    const nodeDir = path.join(this.dir, `node-${port}`);
    fs.mkdirSync(nodeDir);
    const conf = path.join(nodeDir, `redis_${port}.conf`);
    const lines = [`port ${port}`, `bind ${this.opts.host}`, `dir ${nodeDir}`, 'save ""', 'appendonly no'];
    if (master !== null) lines.push(`replicaof ${master.host} ${master.port}`);
    fs.writeFileSync(conf, lines.join('\n') + '\n');
    const node = new FleetNode('data', `node ${this.nodes.length + 1}`, this.opts.host, port, conf, this.programs.data, this.opts.redis);
    this.nodes.push(node);
    node.start();
    await waitUntil(`${node.label} to answer`, 20000, async () => (await command(node.host, port, ['PING'], 1000)).type === 'status');
    return node;
  }

  private async addSentinel(master: FleetNode, seedPort: number): Promise<FleetNode> {
    const port = await this.port(seedPort);
    const sdir = path.join(this.dir, `sentinel-${port}`);
    fs.mkdirSync(sdir);
    const conf = path.join(sdir, 'sentinel.conf');
    const { name, quorum, downAfterMs, failoverTimeoutMs } = this.opts;
    fs.writeFileSync(
      conf,
      [
        `port ${port}`,
        `bind ${this.opts.host}`,
        `dir ${sdir}`,
        `sentinel monitor ${name} ${master.host} ${master.port} ${quorum}`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${failoverTimeoutMs}`,
      ].join('\n') + '\n',
    );
    const node = new FleetNode('sentinel', `sentinel ${this.sentinels.length + 1}`, this.opts.host, port, conf, this.programs.sentinel, this.opts.redis);
    this.sentinels.push(node);
    node.start();
    await waitUntil(`${node.label} to answer`, 20000, async () => (await command(node.host, port, ['PING'], 1000)).type === 'status');
    // Faster discovery while the fleet forms; Redis's own periods once it has (ready()).
    await command(node.host, port, ['SENTINEL', 'DEBUG', 'info-period', '100', 'publish-period', '100']);
    return node;
  }

  /** Waits until every replica is linked and every sentinel knows every node. */
  private async ready(): Promise<void> {
    const { name } = this.opts;
    await waitUntil('the topology to form', 30000, async () => {
      for (const r of this.nodes.slice(1)) {
        const text = (await command(r.host, r.port, ['INFO', 'replication'])) as { type: string; value?: Buffer };
        if (!String(text.value ?? '').includes('master_link_status:up')) return false;
      }
      for (const s of this.sentinels) {
        const m = (await command(s.host, s.port, ['SENTINEL', 'MASTER', name])) as { type: string; elements?: { value?: Buffer }[] };
        const fields = (m.elements ?? []).map((e) => String(e.value ?? ''));
        const get = (k: string): number => Number(fields[fields.indexOf(k) + 1]);
        if (get('num-slaves') !== this.nodes.length - 1 || get('num-other-sentinels') !== this.sentinels.length - 1) return false;
      }
      return true;
    });
    await Promise.all(this.sentinels.map((s) => command(s.host, s.port, ['SENTINEL', 'DEBUG', 'info-period', '10000', 'publish-period', '2000'])));
  }

  find(address: string): FleetNode | undefined {
    return [...this.nodes, ...this.sentinels].find((n) => n.address === address);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.nodes].map((n) => n.kill('SIGKILL')));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
