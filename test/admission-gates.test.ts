/**
 * Admission for a client's command (server/admission.ts admit): each check runs only behind the
 * condition under which it can refuse, in Redis's order. These put the server in each refusing
 * state, and in two at once, and check the answer is the one processCommand in server.c gives
 * (the first reason in its order), through the in-process server's processCommand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverInProcess } from './helpers/in-process.js';
import type { Server } from '../src/server/server.js';
import type { Client } from '../src/server/client.js';

function inProcess(): { server: Server; c: Client } {
  const server = serverInProcess();
  return { server, c: server.createFakeClient() };
}

/** The reply to one command, as RESP. */
function run(server: Server, c: Client, ...argv: string[]): string {
  c.reply.len = 0;
  c.argv = argv;
  server.processCommand(c);
  return c.reply.buf.latin1Slice(0, c.reply.len);
}

const first = (reply: string): string => reply.slice(0, reply.indexOf(' '));

test('admission: each refusing state refuses, in processCommand order', () => {
  const { server, c } = inProcess();
  assert.equal(run(server, c, 'SET', 'k', 'v'), '+OK\r\n');

  // A replica whose link is down, without enough good replicas: NOREPLICAS before READONLY for
  // a write, MASTERDOWN for a read (not stale-ok), a stale-ok command passes.
  const role = server.role;
  server.role = { isReplica: () => true, refuseStale: () => true, notEnoughReplicas: () => true };
  server.settings.replicaReadOnly = true;
  assert.equal(first(run(server, c, 'SET', 'k', 'v')), '-NOREPLICAS');
  assert.equal(first(run(server, c, 'GET', 'k')), '-MASTERDOWN');
  assert.match(run(server, c, 'INFO', 'server'), /^\$/);
  server.role = { isReplica: () => true, refuseStale: () => false, notEnoughReplicas: () => false };
  assert.equal(first(run(server, c, 'SET', 'k', 'v')), '-READONLY');
  assert.equal(run(server, c, 'GET', 'k'), '$1\r\nv\r\n');
  server.role = role;

  // Loading: only `loading` commands run.
  server.loading = true;
  assert.equal(first(run(server, c, 'GET', 'k')), '-LOADING');
  assert.match(run(server, c, 'INFO', 'server'), /^\$/);
  // Unauthenticated and loading: NOAUTH comes first.
  const requirepass = server.settings.requirepass;
  server.settings.requirepass = 'secret';
  c.authenticated = false;
  assert.equal(first(run(server, c, 'GET', 'k')), '-NOAUTH');
  c.authenticated = true;
  server.settings.requirepass = requirepass;
  server.loading = false;

  // Out of memory (eviction frees nothing): deny-oom writes refused, reads pass; a busy
  // precheck (a script) would come after it.
  const maxmemory = server.settings.maxmemory;
  const freeMemory = server.hooks.freeMemory;
  server.settings.maxmemory = 1;
  server.hooks.freeMemory = () => false;
  server.hooks.precheck.push(() => 'BUSY test');
  assert.equal(first(run(server, c, 'SET', 'k', 'v')), '-OOM');
  assert.equal(run(server, c, 'GET', 'k'), '-BUSY test\r\n');
  server.hooks.precheck.pop();
  server.settings.maxmemory = maxmemory;
  server.hooks.freeMemory = freeMemory;

  // Inside MULTI: a no-multi command (SAVE) is refused, the others queue.
  assert.equal(run(server, c, 'MULTI'), '+OK\r\n');
  assert.equal(run(server, c, 'SAVE'), '-ERR Command not allowed inside a transaction\r\n');
  assert.equal(run(server, c, 'GET', 'k'), '+QUEUED\r\n');
  assert.equal(run(server, c, 'DISCARD'), '+OK\r\n');
  assert.equal(run(server, c, 'SET', 'k', 'w'), '+OK\r\n');
});
