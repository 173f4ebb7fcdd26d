/**
 * nodis-cli's interactive mode on a real pseudo-terminal (tmux), screen for screen against
 * redis-cli: prompt with [db], quoting errors, help from COMMAND DOCS, `connect`, reconnect
 * after a server restart, history file contents; plus one-shot sessions against nodis-server.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, startServer, stopAll, type RunningServer } from './helpers/server.js';
import { NODIS_CLI, REDIS_CLI, runCli, tempHome, TmuxSession } from './cli-harness.js';

after(stopAll);

/** Drives one CLI through a scripted session; returns the final screen and the history file. */
async function session(bin: string, port: number, restart: () => Promise<RunningServer>): Promise<{ screen: string; history: string }> {
  const home = tempHome();
  const histfile = path.join(home, 'hist');
  const t = TmuxSession.start([bin, '-p', String(port)], { HOME: home, REDISCLI_HISTFILE: histfile, TERM: 'xterm' }, 160, 150);
  try {
    let prompts = 0;
    const step = async (line: string, expectPrompt = true): Promise<void> => {
      t.type(line);
      prompts++;
      if (expectPrompt) await t.waitFor((s) => (s.match(/^(127\.0\.0\.1:\d+(\[\d+\])?(\(TX\))?|not connected)>( |$)/gm) ?? []).length > prompts, `prompt after ${line}`);
    };
    await t.waitFor((s) => s.endsWith('>'), 'first prompt');
    await step('set greeting "hello\\x00world"');
    await step('get greeting');
    await step('select 3');
    await step('rpush l a b c');
    await step('lrange l 0 -1');
    await step('multi');
    await step('incr n');
    await step('exec');
    await step('hgetall nokey');
    await step("set bad 'x");
    await step('auth nosuchpassword');
    await step('help lpush');
    await step('2 ping');
    await step('nosuchcommand');
    await step('connect 127.0.0.1 1');
    await step(`connect 127.0.0.1 ${port}`);
    const server = await restart();
    void server;
    await step('ping');
    await step('ping');
    t.keys('C-c');
    const screen = await t.waitFor((s) => /\[exited \d+\]/.test(s), 'exit');
    const history = fs.existsSync(histfile) ? fs.readFileSync(histfile, 'latin1') : '';
    return { screen, history };
  } finally {
    t.kill();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

describe('nodis-cli interactive mode in a terminal', () => {
  it('shows the same screens as redis-cli, across a server restart', async () => {
    const port = await freePort();
    const results: { screen: string; history: string }[] = [];
    for (const bin of [REDIS_CLI, NODIS_CLI]) {
      let server = await startServer({ bin: '/usr/bin/redis-server', port });
      const restart = async (): Promise<RunningServer> => {
        await server.stop();
        server = await startServer({ bin: '/usr/bin/redis-server', port });
        return server;
      };
      results.push(await session(bin, port, restart));
      await server.stop();
    }
    const [real, ours] = results;
    assert.equal(ours!.screen, real!.screen);
    assert.equal(ours!.history, real!.history);
    assert.match(ours!.screen, /127\.0\.0\.1:\d+\[3\]> lrange l 0 -1\n1\) "a"\n2\) "b"\n3\) "c"/);
    assert.match(ours!.screen, /Error: Server closed the connection\nnot connected> ping\nPONG/);
    assert.doesNotMatch(ours!.history, /auth/);
  });
});

describe('nodis-cli and redis-cli against nodis-server', () => {
  it('print the same for the seed session and basic replies', async () => {
    const server = await startServer();
    const port = String(server.port);
    const script = 'keys *\nset mykey 123\nget mykey\nrpush mylist a b\nlrange mylist 0 -1\nkeys *\nincr mykey\nget nokey\nnosuch x\nhset h f v\nhgetall h\n';
    for (const mode of [['--no-raw'], ['--raw'], ['--no-raw', '-3']]) {
      const outs: string[] = [];
      for (const bin of [REDIS_CLI, NODIS_CLI]) {
        const c = server.client();
        await c.flushall();
        const r = await runCli(bin, ['-p', port, ...mode], { stdin: script });
        outs.push(`code=${r.code}\n${r.stdout.toString('latin1')}\n${r.stderr.toString('latin1')}`);
      }
      assert.equal(outs[1], outs[0], mode.join(' '));
    }
  });
});
