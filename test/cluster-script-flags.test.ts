/**
 * The `no-cluster` script flag (script.c scriptPrepareForRun): a script or function declaring it
 * is refused on a cluster-enabled node with Redis's error, and runs on a standalone one.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startServer, stopAll } from './helpers/server.js';

after(stopAll);

const ERROR = "ERR Can not run script on cluster, 'no-cluster' flag is set.";
const LIBRARY = "#!lua name=test\nredis.register_function{function_name='f1', callback=function() return 'hello' end, flags={'no-cluster'}}";

test("no-cluster scripts and functions: refused in cluster mode, run otherwise", async () => {
  const clustered = await startServer({ args: ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort())] });
  const standalone = await startServer();
  for (const [server, refused] of [[clustered, true], [standalone, false]] as const) {
    const c = server.client();
    await c.call('FUNCTION', 'LOAD', LIBRARY);
    const fcall = await c.call('FCALL', 'f1', '0').catch((e: Error) => e.message);
    const evalled = await c.call('EVAL', '#!lua flags=no-cluster\nreturn 1', '0').catch((e: Error) => e.message);
    assert.deepEqual([fcall, evalled], refused ? [ERROR, ERROR] : ['hello', 1]);
  }
});
