/**
 * Sentinel's user scripts (src/sentinel/scripts.ts): the queue under a manual clock with a fake
 * runner (queue limit, running limit, retries on exit 1 with a doubling delay, no retry on exit
 * 2, timeout kill, fork failure), SENTINEL PENDING-SCRIPTS / SET / INFO on an in-process
 * sentinel server, the notification and client-reconfig scripts in the simulated failover,
 * the real child-process runner, and finally an end-to-end failover with real processes and
 * real shell scripts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { ManualClock, Random } from '../src/core/clock.js';
import { loadSentinelLines } from '../src/sentinel/config.js';
import { childProcessScriptRunner } from '../src/sentinel/script-runner.js';
import { SENTINEL_SCRIPT_MAX_QUEUE, SENTINEL_SCRIPT_MAX_RETRY, SENTINEL_SCRIPT_MAX_RUNNING, type ScriptProcess, type ScriptRunner } from '../src/sentinel/scripts.js';
import { Sentinel } from '../src/sentinel/sentinel.js';
import { SentinelServer } from '../src/sentinel/server.js';
import { MASTER_NAME, SimCluster } from '../src/sentinel/sim-cluster.js';
import type { Transport } from '../src/sentinel/transport.js';
import { Group, waitFor } from './helpers/sentinel-cluster.js';
import { freePort } from './helpers/server.js';

/** A started fake process: the test decides when and how it exits. */
interface FakeProc {
  argv: string[];
  pid: number;
  startedAt: number;
  killed: boolean;
  exit(code: number, signal?: number): void;
}

/** A runner that starts nothing: every start is recorded and exits when the test says so. */
class FakeRunner implements ScriptRunner {
  readonly executable = new Set<string>(['/scripts/notify.sh', '/scripts/reconfig.sh']);
  readonly started: FakeProc[] = [];
  failStarts = false;
  private nextPid = 1000;

  constructor(
    private readonly now: () => number,
    /** Called for every start: lets a test make processes exit on their own. */
    private readonly onStart: (p: FakeProc) => void = () => {},
  ) {}

  isExecutable(file: string): boolean {
    return this.executable.has(file);
  }

  start(argv: readonly string[], onExit: (exitCode: number, signal: number) => void): ScriptProcess | null {
    if (this.failStarts) return null;
    let exited = false;
    const p: FakeProc = {
      argv: [...argv],
      pid: this.nextPid++,
      startedAt: this.now(),
      killed: false,
      exit: (code, signal = 0) => {
        if (exited) return;
        exited = true;
        onExit(code, signal);
      },
    };
    this.started.push(p);
    this.onStart(p);
    return {
      pid: p.pid,
      kill: () => {
        p.killed = true;
        p.exit(0, 9);
      },
    };
  }
}

/** Connections that never connect: instances just look unreachable. */
const silentTransport: Transport = {
  connect: () => ({ command: () => {}, close: () => {}, localAddress: () => null }),
};

function makeSentinel(config = ''): { clock: ManualClock; s: Sentinel; runner: FakeRunner; events: string[] } {
  const clock = new ManualClock();
  const events: string[] = [];
  let s: Sentinel | null = null;
  const runner = new FakeRunner(() => s!.now());
  s = new Sentinel({
    clock,
    random: new Random(1),
    transport: silentTransport,
    hooks: { event: (level, type, message) => events.push(`${level} ${type} ${message}`), flushConfig: () => {} },
    port: 26379,
    scripts: runner,
  });
  if (config !== '') loadSentinelLines(s, config);
  return { clock, s, runner, events };
}

function argvs(s: Sentinel): string[] {
  return s.scripts.jobs.map((j) => j.argv.slice(1).join(' '));
}

test('queue: at most 256 jobs (the oldest not running is dropped), at most 16 running', () => {
  const { s, runner } = makeSentinel();
  for (let i = 0; i < 300; i++) s.scripts.schedule('/scripts/notify.sh', [`e${i}`]);
  assert.equal(s.scripts.jobs.length, SENTINEL_SCRIPT_MAX_QUEUE);
  assert.equal(argvs(s)[0], 'e44');
  s.tick();
  assert.equal(runner.started.length, SENTINEL_SCRIPT_MAX_RUNNING);
  assert.equal(s.scripts.running, 16);
  assert.deepEqual(
    runner.started.map((p) => p.argv[1]),
    Array.from({ length: 16 }, (_, i) => `e${44 + i}`),
  );
  // Queue full again: running jobs are never dropped, the oldest scheduled ones are.
  for (let i = 300; i < 310; i++) s.scripts.schedule('/scripts/notify.sh', [`e${i}`]);
  assert.equal(s.scripts.jobs.length, 256);
  assert.deepEqual(argvs(s).slice(0, 17), [...Array.from({ length: 16 }, (_, i) => `e${44 + i}`), 'e70']);
  // One exits: collected at the next tick (after that tick's starts, as in sentinelTimer()),
  // and the next oldest starts at the tick after.
  runner.started[0]!.exit(0);
  s.tick();
  assert.equal(s.scripts.running, 15);
  s.tick();
  assert.equal(s.scripts.running, 16);
  assert.equal(runner.started.at(-1)!.argv[1], 'e70');
  assert.equal(s.scripts.jobs.length, 255);
});

test('exit 1 is retried after script-retry-delay, doubling, until 10 runs; then -script-error', () => {
  const { s, clock, runner, events } = makeSentinel();
  assert.equal(s.setDebugParameters(['script-retry-delay', '1000']), null);
  s.start();
  s.scripts.schedule('/scripts/notify.sh', ['+sdown', 'x']);
  clock.advance(200);
  for (let run = 1; run <= SENTINEL_SCRIPT_MAX_RETRY; run++) {
    const p = runner.started[run - 1]!;
    assert.ok(p !== undefined, `run ${run} started`);
    assert.equal(s.scripts.jobs[0]!.retryNum, run);
    p.exit(1);
    clock.advance(200);
    if (run < SENTINEL_SCRIPT_MAX_RETRY) {
      const job = s.scripts.jobs[0]!;
      assert.equal(job.running, false);
      // Scheduled again, 1000 ms × 2^(run-1) after it was collected.
      assert.ok(job.startTime - s.now() > 1000 * 2 ** (run - 1) - 300, `delay after run ${run}`);
      clock.advance(1000 * 2 ** (run - 1));
    }
  }
  // Intervals between starts: 1 s, 2 s, 4 s … (plus at most a tick each).
  const gaps = runner.started.slice(1).map((p, i) => p.startedAt - runner.started[i]!.startedAt);
  gaps.forEach((g, i) => assert.ok(g >= 1000 * 2 ** i && g < 1000 * 2 ** i + 400, `gap ${i}: ${g}`));
  assert.equal(runner.started.length, 10);
  assert.equal(s.scripts.jobs.length, 0);
  assert.equal(s.scripts.running, 0);
  assert.deepEqual(
    events.filter((e) => e.includes('-script-error')),
    ['warning -script-error /scripts/notify.sh 0 1'],
  );
  // Debug events for every start and exit.
  assert.equal(events.filter((e) => e.startsWith('debug +script-child ')).length, 10);
  assert.ok(events.includes(`debug -script-child ${runner.started[0]!.pid} 1 0`));
  s.stop();
});

test('exit 2 (or more) is not retried; exit 0 is success; a signal is retried', () => {
  const { s, runner, events } = makeSentinel();
  s.scripts.schedule('/scripts/notify.sh', ['a']);
  s.scripts.schedule('/scripts/notify.sh', ['b']);
  s.scripts.schedule('/scripts/notify.sh', ['c']);
  s.tick();
  runner.started[0]!.exit(2);
  runner.started[1]!.exit(0);
  runner.started[2]!.exit(0, 15);
  s.tick();
  assert.deepEqual(argvs(s), ['c']);
  assert.equal(s.scripts.jobs[0]!.running, false);
  assert.equal(s.scripts.jobs[0]!.retryNum, 1);
  assert.deepEqual(
    events.filter((e) => e.includes('-script-error')),
    ['warning -script-error /scripts/notify.sh 0 2'],
  );
});

test('a script running longer than script-max-runtime is killed (-script-timeout), then retried', () => {
  const { s, clock, runner, events } = makeSentinel();
  s.start();
  s.scripts.schedule('/scripts/reconfig.sh', ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']);
  clock.advance(200);
  const p = runner.started[0]!;
  clock.advance(59000);
  assert.equal(p.killed, false);
  clock.advance(1500);
  assert.equal(p.killed, true);
  assert.deepEqual(
    events.filter((e) => e.includes('-script-timeout')),
    [`warning -script-timeout /scripts/reconfig.sh ${p.pid}`],
  );
  // Killed by SIGKILL: retried after the retry delay (30 s by default).
  clock.advance(200);
  const job = s.scripts.jobs[0]!;
  assert.equal(job.running, false);
  assert.equal(job.retryNum, 1);
  assert.ok(job.startTime - s.now() > 29000);
  clock.advance(30500);
  assert.equal(runner.started.length, 2);
  // SENTINEL DEBUG script-max-runtime shortens the limit.
  assert.equal(s.setDebugParameters(['script-max-runtime', '500']), null);
  clock.advance(700);
  assert.equal(runner.started[1]!.killed, true);
  s.stop();
});

test('a script that cannot be started at all is reported as signal 99 and tried again', () => {
  const { s, runner, events } = makeSentinel();
  runner.failStarts = true;
  s.scripts.schedule('/scripts/notify.sh', ['a']);
  s.tick();
  assert.deepEqual(events, ['warning -script-error /scripts/notify.sh 99 0']);
  assert.equal(s.scripts.running, 0);
  assert.equal(s.scripts.jobs[0]!.retryNum, 1);
  runner.failStarts = false;
  s.tick();
  assert.equal(runner.started.length, 1);
  assert.equal(s.scripts.jobs[0]!.retryNum, 2);
});

test('notification script: every WARNING event of the master, its replicas and sentinels, with Redis texts', () => {
  const { s, clock, runner } = makeSentinel(
    'sentinel monitor mymaster 10.0.0.1 6379 1\nsentinel down-after-milliseconds mymaster 1000\nsentinel known-replica mymaster 10.0.0.2 6380\n' +
      'sentinel notification-script mymaster /scripts/notify.sh\nsentinel client-reconfig-script mymaster /scripts/reconfig.sh\n',
  );
  s.start();
  clock.advance(3000);
  // Nothing answers: +monitor at start, then +sdown for both, +odown, a failover attempt that
  // finds no replica. Notice-level events (+slave…) and debug ones are not passed on.
  const calls = runner.started.map((p) => p.argv);
  assert.ok(calls.every((a) => a[0] === '/scripts/notify.sh' && a.length === 3));
  const byType = new Map(calls.map((a) => [a[1]!, a[2]!]));
  assert.equal(byType.get('+monitor'), 'master mymaster 10.0.0.1 6379 quorum 1');
  assert.ok(calls.some((a) => a[1] === '+sdown' && a[2] === 'master mymaster 10.0.0.1 6379'));
  assert.ok(calls.some((a) => a[1] === '+sdown' && a[2] === 'slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379'));
  assert.equal(byType.get('+odown'), 'master mymaster 10.0.0.1 6379 #quorum 1/1');
  // Events Redis attributes to the master without its description still reach the script.
  assert.equal(byType.get('+new-epoch'), '1');
  assert.equal(byType.get('+try-failover'), 'master mymaster 10.0.0.1 6379');
  assert.ok(byType.has('+vote-for-leader'));
  assert.equal(byType.get('-failover-abort-no-good-slave'), 'master mymaster 10.0.0.1 6379');
  assert.ok(!byType.has('+script-child') && !byType.has('-script-child'));
  // Removing the master: -monitor is the last notification.
  const before = s.scripts.jobs.length;
  s.remove('mymaster');
  assert.deepEqual(s.scripts.jobs.at(-1)!.argv, ['/scripts/notify.sh', '-monitor', 'master mymaster 10.0.0.1 6379']);
  assert.equal(s.scripts.jobs.length, before + 1);
  s.stop();
});

test('config file: script paths must exist and be executable (Redis texts)', () => {
  assert.throws(
    () => makeSentinel('sentinel monitor m 10.0.0.1 6379 1\nsentinel notification-script m /nope.sh\n'),
    /at line 2\n>>> 'sentinel notification-script m \/nope\.sh'\nNotification script seems non existing or non executable\.$/,
  );
  assert.throws(
    () => makeSentinel('sentinel monitor m 10.0.0.1 6379 1\nsentinel client-reconfig-script m /nope.sh\n'),
    /\nClient reconfiguration script seems non existing or non executable\.$/,
  );
  assert.throws(() => makeSentinel('sentinel deny-scripts-reconfig maybe\n'), /\nPlease specify yes or no for the deny-scripts-reconfig options\.$/);
  const { s } = makeSentinel('sentinel monitor m 10.0.0.1 6379 1\nsentinel client-reconfig-script m /scripts/reconfig.sh\n');
  assert.equal(s.masters.get('m')!.clientReconfigScript, '/scripts/reconfig.sh');
});

/** A raw RESP exchange: the bytes received until `done(text)` holds. */
async function raw(port: number, commands: string[][], done: (text: string) => boolean): Promise<string> {
  const sock = net.connect(port, '127.0.0.1');
  const enc = (argv: string[]): string => `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  sock.write(commands.map(enc).join(''));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    sock.on('data', (d) => {
      out += d.toString('latin1');
      if (done(out)) resolve();
    });
    sock.on('error', reject);
  });
  sock.destroy();
  return out;
}

test('SENTINEL PENDING-SCRIPTS, SET script paths (deny-scripts-reconfig), INFO counters', async (t) => {
  const { s, clock, runner, events } = makeSentinel('sentinel monitor mymaster 10.0.0.1 6379 1\n');
  const port = await freePort();
  const server = new SentinelServer({ sentinel: s, port, bind: ['127.0.0.1'], requirepass: null, flushConfig: () => {}, shutdown: () => {}, startTime: Date.now(), runId: 'r'.repeat(40), configFile: '/dev/null' });
  await server.listen();
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  t.after(() => {
    c.disconnect();
    server.close();
  });

  assert.deepEqual(await c.call('sentinel', 'pending-scripts'), []);
  await assert.rejects(c.call('sentinel', 'pending-scripts', 'x'), /ERR wrong number of arguments for 'sentinel\|pending-scripts' command/);

  // deny-scripts-reconfig yes (the default) refuses both paths, with Redis's text.
  for (const opt of ['notification-script', 'client-reconfig-script']) {
    await assert.rejects(
      c.call('sentinel', 'set', 'mymaster', opt, '/scripts/notify.sh'),
      (e: Error) => e.message === 'ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration',
    );
  }
  loadSentinelLines(s, 'sentinel deny-scripts-reconfig no');
  await assert.rejects(c.call('sentinel', 'set', 'mymaster', 'notification-script', '/nope.sh'), (e: Error) => e.message === 'ERR Notification script seems non existing or non executable');
  await assert.rejects(c.call('sentinel', 'set', 'mymaster', 'client-reconfig-script', '/nope.sh'), (e: Error) => e.message === 'ERR Client reconfiguration script seems non existing or non executable');
  assert.equal(await c.call('sentinel', 'set', 'mymaster', 'notification-script', '/scripts/notify.sh'), 'OK');
  assert.equal(await c.call('sentinel', 'set', 'mymaster', 'client-reconfig-script', '/scripts/reconfig.sh'), 'OK');
  const fields = (await c.call('sentinel', 'master', 'mymaster')) as string[];
  assert.equal(fields[fields.indexOf('notification-script') + 1], '/scripts/notify.sh');
  assert.equal(fields[fields.indexOf('client-reconfig-script') + 1], '/scripts/reconfig.sh');
  // The +set events (WARNING) reach the notification script once it is set.
  // (the event follows the change, so setting the script already runs it, as in Redis).
  assert.ok(events.includes('warning +set master mymaster 10.0.0.1 6379 notification-script /scripts/notify.sh'));
  assert.deepEqual(argvs(s), [
    '+set master mymaster 10.0.0.1 6379 notification-script /scripts/notify.sh',
    '+set master mymaster 10.0.0.1 6379 client-reconfig-script /scripts/reconfig.sh',
  ]);
  // Redacted password in the event and the script's arguments.
  assert.equal(await c.call('sentinel', 'set', 'mymaster', 'auth-pass', 'secret'), 'OK');
  assert.equal(argvs(s)[2], '+set master mymaster 10.0.0.1 6379 auth-pass ******');

  // One job running (started 1500 ms ago), one waiting for a retry (2500 ms to go), one new.
  s.scripts.jobs.length = 0;
  s.scripts.schedule('/scripts/notify.sh', ['+sdown', 'master mymaster 10.0.0.1 6379']);
  s.tick();
  const running = runner.started.at(-1)!;
  s.scripts.schedule('/scripts/reconfig.sh', ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380']);
  const retry = s.scripts.jobs[1]!;
  retry.retryNum = 3;
  retry.startTime = s.now() + 4000;
  s.scripts.schedule('/scripts/notify.sh', ['+odown', 'master mymaster 10.0.0.1 6379 #quorum 1/1']);
  s.scripts.jobs[2]!.startTime = 0;
  clock.advance(1500);
  // (The clock only moves when told to, so nothing else ran meanwhile.)
  const reply = (await c.call('sentinel', 'pending-scripts')) as unknown[];
  assert.deepEqual(reply, [
    ['argv', ['/scripts/notify.sh', '+sdown', 'master mymaster 10.0.0.1 6379'], 'flags', 'running', 'pid', String(running.pid), 'run-time', '1500', 'retry-num', '1'],
    ['argv', ['/scripts/reconfig.sh', 'mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'], 'flags', 'scheduled', 'pid', '0', 'run-delay', '2500', 'retry-num', '3'],
    ['argv', ['/scripts/notify.sh', '+odown', 'master mymaster 10.0.0.1 6379 #quorum 1/1'], 'flags', 'scheduled', 'pid', '0', 'run-delay', '0', 'retry-num', '0'],
  ]);
  // RESP3: a map per job, byte for byte.
  const bulk = (v: string): string => `$${v.length}\r\n${v}\r\n`;
  const job = (argv: string[], fields: string[]): string => `%5\r\n${bulk('argv')}*${argv.length}\r\n${argv.map(bulk).join('')}${fields.map(bulk).join('')}`;
  const expected =
    '*3\r\n' +
    job(['/scripts/notify.sh', '+sdown', 'master mymaster 10.0.0.1 6379'], ['flags', 'running', 'pid', String(running.pid), 'run-time', '1500', 'retry-num', '1']) +
    job(['/scripts/reconfig.sh', 'mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'], ['flags', 'scheduled', 'pid', '0', 'run-delay', '2500', 'retry-num', '3']) +
    job(['/scripts/notify.sh', '+odown', 'master mymaster 10.0.0.1 6379 #quorum 1/1'], ['flags', 'scheduled', 'pid', '0', 'run-delay', '0', 'retry-num', '0']);
  const resp3 = await raw(port, [['hello', '3'], ['sentinel', 'pending-scripts']], (text) => text.endsWith(expected.slice(-40)));
  assert.equal(resp3.slice(resp3.lastIndexOf('*3\r\n%5\r\n')), expected);
  const info = (await c.info('sentinel')).split('\r\n');
  assert.ok(info.includes('sentinel_running_scripts:1'));
  assert.ok(info.includes('sentinel_scripts_queue_length:3'));

  // An empty path removes the script.
  assert.equal(await c.call('sentinel', 'set', 'mymaster', 'notification-script', ''), 'OK');
  assert.equal(s.masters.get('mymaster')!.notificationScript, null);
});

test('simulated failover: the leader runs the reconfig script with "leader start", the others with "observer start"', () => {
  let cluster: SimCluster | null = null;
  const calls: { sentinel: number; argv: string[] }[] = [];
  const runners: FakeRunner[] = [];
  cluster = new SimCluster({
    seed: 1,
    sentinels: 3,
    quorum: 2,
    replicas: 2,
    extraConfig: [`sentinel notification-script ${MASTER_NAME} /scripts/notify.sh`, `sentinel client-reconfig-script ${MASTER_NAME} /scripts/reconfig.sh`],
    scripts: (index) => {
      // Each script runs for 50 simulated ms and succeeds.
      const r = new FakeRunner(
        () => cluster!.now,
        (p) => {
          calls.push({ sentinel: index, argv: p.argv });
          cluster!.clock.setTimer(50, () => p.exit(0));
        },
      );
      runners.push(r);
      return r;
    },
  });
  const c = cluster;
  c.run(5000);
  c.crashData(0);
  c.run(15000);
  const promoted = c.data.find((d) => d.role === 'master' && d.alive)!;
  const reconf = calls.filter((x) => x.argv[0] === '/scripts/reconfig.sh');
  const leaderLine = c.eventLog.find((l) => l.includes('+elected-leader'))!;
  const leader = Number(leaderLine.split(' ')[1]!.slice(1));
  const to = `10.0.0.1 ${promoted.addr.port}`;
  assert.deepEqual(
    reconf.map((x) => `s${x.sentinel} ${x.argv.slice(1).join(' ')}`).sort(),
    [0, 1, 2].map((i) => `s${i} ${MASTER_NAME} ${i === leader ? 'leader' : 'observer'} start 10.0.0.1 6379 ${to}`).sort(),
  );
  for (let i = 0; i < 3; i++) {
    const types = calls.filter((x) => x.sentinel === i && x.argv[0] === '/scripts/notify.sh').map((x) => x.argv[1]!);
    // An observer that learns of the new master before its own ODOWN never logs +odown (the
    // leader sees the promotion at once: sentinel.ts, failoverSendSlaveOfNoOne).
    const odown = c.eventLog.some((l) => l.split(' ').slice(1, 3).join(' ') === `s${i} +odown`);
    for (const t of ['+monitor', '+sdown', ...(odown ? ['+odown'] : []), '+switch-master']) assert.ok(types.includes(t), `s${i} notified ${t}: ${types.join(',')}`);
    const sw = calls.find((x) => x.sentinel === i && x.argv[1] === '+switch-master')!;
    assert.equal(sw.argv[2], `${MASTER_NAME} 10.0.0.1 6379 ${to}`);
  }
  const leaderTypes = calls.filter((x) => x.sentinel === leader && x.argv[0] === '/scripts/notify.sh').map((x) => x.argv[1]!);
  for (const t of ['+odown', '+try-failover', '+elected-leader', '+selected-slave', '+promoted-slave', '+failover-state-reconf-slaves', '+failover-end']) assert.ok(leaderTypes.includes(t), `leader notified ${t}`);
  // Every job finished and left the queue.
  for (const n of c.sentinels) assert.equal(n.sentinel.scripts.jobs.length, 0);
  assert.deepEqual(c.violations, []);
});

test('the child-process runner: exit codes, signals, exec failure, access check', async () => {
  const r = childProcessScriptRunner;
  assert.equal(r.isExecutable('/bin/sh'), true);
  const plain = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-scripts-')), 'plain.sh');
  fs.writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
  assert.equal(r.isExecutable(plain), false);
  fs.chmodSync(plain, 0o755);
  assert.equal(r.isExecutable(plain), true);
  fs.rmSync(path.dirname(plain), { recursive: true, force: true });
  assert.equal(r.isExecutable('/no/such/file'), false);
  const run = (argv: string[]): Promise<[number, number, ScriptProcess]> =>
    new Promise((resolve) => {
      const p: ScriptProcess | null = r.start(argv, (code, signal) => setImmediate(() => resolve([code, signal, p!])));
      assert.ok(p !== null);
    });
  const [c3, s3, p3] = await run(['/bin/sh', '-c', 'exit 3']);
  assert.deepEqual([c3, s3], [3, 0]);
  assert.ok(p3.pid > 0);
  assert.deepEqual((await run(['/bin/sh', '-c', 'exit 1'])).slice(0, 2), [1, 0]);
  assert.deepEqual((await run(['/no/such/script.sh', 'a'])).slice(0, 2), [2, 0]);
  // Killed: SIGKILL is signal 9.
  const killed = new Promise<[number, number]>((resolve) => {
    const p = r.start(['/bin/sleep', '30'], (code, signal) => resolve([code, signal]));
    assert.ok(p !== null);
    setImmediate(() => p.kill());
  });
  assert.deepEqual(await killed, [0, 9]);
});

// ---------------------------------------------------------------- end to end

const groups: Group[] = [];
after(async () => {
  for (const g of groups) await g.cleanup();
});

test('end to end: nodis master + replica, one nodis-sentinel; kill the master; both scripts run with Redis arguments', async () => {
  const g = new Group();
  groups.push(g);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-scripts-'));
  // Each call appends its arguments, one line per call (the file lock keeps lines whole).
  const script = (name: string): string => {
    const file = path.join(out, `${name}.sh`);
    fs.writeFileSync(file, `#!/bin/sh\necho "$*" >> ${path.join(out, `${name}.log`)}\n`, { mode: 0o755 });
    return file;
  };
  const notify = script('notify');
  const reconfig = script('reconfig');
  const lines = (name: string): string[] => {
    const f = path.join(out, `${name}.log`);
    return fs.existsSync(f) ? fs.readFileSync(f, 'latin1').split('\n').filter((l) => l !== '') : [];
  };

  const [mp, rp] = [await freePort(), await freePort()];
  const master = await g.startData('nodis', mp, null);
  await g.startData('nodis', rp, mp);
  await waitFor('replica in sync', async () => (await g.info(rp)).includes('master_link_status:up'));
  const s = await g.startSentinel('nodis', mp, 1, `sentinel notification-script tedu ${notify}\nsentinel client-reconfig-script tedu ${reconfig}\n`);
  const sc = g.client(s.port);
  await waitFor('replica discovered', async () => {
    const m = (await sc.call('sentinel', 'master', 'tedu')) as string[];
    return m[m.indexOf('num-slaves') + 1] === '1';
  });
  // +monitor at startup already went through the notification script.
  await waitFor('+monitor notified', async () => lines('notify').includes(`+monitor master tedu 127.0.0.1 ${mp} quorum 1`));
  // Run time, the paths cannot be changed (deny-scripts-reconfig defaults to yes).
  await assert.rejects(sc.call('sentinel', 'set', 'tedu', 'notification-script', notify), /Reconfiguration of scripts path is denied for security reasons/);

  master.kill('SIGKILL');
  await waitFor('reconfig script ran', async () => lines('reconfig').length >= 1);
  assert.deepEqual(lines('reconfig'), [`tedu leader start 127.0.0.1 ${mp} 127.0.0.1 ${rp}`]);
  await waitFor('+switch-master notified', async () => lines('notify').some((l) => l.startsWith('+switch-master ')));
  const notified = lines('notify');
  assert.ok(notified.includes(`+sdown master tedu 127.0.0.1 ${mp}`), notified.join('\n'));
  assert.ok(notified.includes(`+odown master tedu 127.0.0.1 ${mp} #quorum 1/1`), notified.join('\n'));
  assert.ok(notified.includes(`+failover-end master tedu 127.0.0.1 ${mp}`), notified.join('\n'));
  assert.ok(notified.includes(`+switch-master tedu 127.0.0.1 ${mp} 127.0.0.1 ${rp}`), notified.join('\n'));
  for (const t of ['+odown', '+try-failover', '+elected-leader', '+selected-slave', '+promoted-slave', '+failover-state-reconf-slaves']) {
    assert.ok(notified.some((l) => l.startsWith(`${t} `)), `${t} notified:\n${notified.join('\n')}`);
  }
  // Everything ran and left the queue.
  await waitFor('queue empty', async () => ((await sc.call('sentinel', 'pending-scripts')) as unknown[]).length === 0);
  fs.rmSync(out, { recursive: true, force: true });
});

test('end to end: a script exiting 1 waits for its retry in SENTINEL PENDING-SCRIPTS; a bad path stops the sentinel at startup', async () => {
  const g = new Group();
  groups.push(g);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-scripts-'));
  // Exits 1 (please retry) the first time, 0 afterwards.
  const file = path.join(out, 'flaky.sh');
  const marker = path.join(out, 'ran');
  fs.writeFileSync(file, `#!/bin/sh\nif [ -e ${marker} ]; then echo "$*" >> ${marker}; exit 0; fi\necho "$*" > ${marker}\nexit 1\n`, { mode: 0o755 });
  const mp = await freePort();
  await g.startData('nodis', mp, null);
  const s = await g.startSentinel('nodis', mp, 1, 'sentinel deny-scripts-reconfig no\n');
  const sc = g.client(s.port);
  assert.equal(await sc.call('sentinel', 'debug', 'script-retry-delay', '300000'), 'OK');
  await assert.rejects(sc.call('sentinel', 'set', 'tedu', 'notification-script', path.join(out, 'missing.sh')), (e: Error) => e.message === 'ERR Notification script seems non existing or non executable');
  // The +set event of this very SET (WARNING) runs the new script, which fails once.
  assert.equal(await sc.call('sentinel', 'set', 'tedu', 'notification-script', file), 'OK');
  const job = await waitFor('job waiting for its retry', async () => {
    const list = (await sc.call('sentinel', 'pending-scripts')) as unknown[][];
    return list.find((x) => x[3] === 'scheduled' && x[9] === '1') ?? null;
  });
  assert.deepEqual(job.slice(0, 2), ['argv', [file, '+set', `master tedu 127.0.0.1 ${mp} notification-script ${file}`]]);
  assert.deepEqual(job.slice(2, 6), ['flags', 'scheduled', 'pid', '0']);
  assert.equal(job[6], 'run-delay');
  const delay = Number(job[7]);
  assert.ok(delay > 200000 && delay <= 300000, String(delay));
  assert.equal(job[8], 'retry-num');
  // The next event's run succeeds and leaves the queue; the first job keeps waiting.
  assert.equal(await sc.call('sentinel', 'set', 'tedu', 'parallel-syncs', '2'), 'OK');
  await waitFor('second run succeeded', async () => fs.readFileSync(marker, 'latin1').includes('parallel-syncs 2'));
  await waitFor('one job left', async () => /sentinel_running_scripts:0\r\nsentinel_scripts_queue_length:1\r\n/.test(await sc.info('sentinel')));

  // A config file naming a missing script: FATAL CONFIG FILE ERROR, exit 1.
  await assert.rejects(g.startSentinel('nodis', mp, 1, `sentinel client-reconfig-script tedu ${path.join(out, 'missing.sh')}\n`), /Client reconfiguration script seems non existing or non executable\./);
  fs.rmSync(out, { recursive: true, force: true });
});
