/**
 * hooks.afterCommand and hooks.keyModified run from call sites of their own for the first few
 * hooks (Server.afterCommandHooks, signalModifiedKey): every hook still runs once, in the order
 * it was added, whatever their number, and a hook added by another while they run runs too
 * (as the loop that called them all did).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverInProcess } from './helpers/in-process.js';
import type { Server } from '../src/server/server.js';
import type { Client } from '../src/server/client.js';

function run(server: Server, c: Client, ...argv: string[]): string {
  c.reply.len = 0;
  c.argv = argv;
  server.processCommand(c);
  return c.reply.buf.latin1Slice(0, c.reply.len);
}

test('afterCommand: every hook once, in order, whatever their number', () => {
  for (let extra = 0; extra <= 7; extra++) {
    const server = serverInProcess();
    const c = server.createFakeClient();
    const builtIn = server.hooks.afterCommand.length;
    const seen: string[] = [];
    for (let i = 0; i < extra; i++) server.hooks.afterCommand.push((cl) => seen.push(`${i}:${cl.argv[0]}`));
    assert.equal(run(server, c, 'PING'), '+PONG\r\n');
    assert.deepEqual(seen, Array.from({ length: extra }, (_, i) => `${i}:PING`), `${builtIn} built-in hooks and ${extra} more`);
  }
});

test('afterCommand: a hook added while they run runs after them', () => {
  const server = serverInProcess();
  const c = server.createFakeClient();
  const seen: string[] = [];
  server.hooks.afterCommand.push(() => {
    seen.push('first');
    if (seen.length === 1) server.hooks.afterCommand.push(() => seen.push('added'));
  });
  run(server, c, 'PING');
  assert.deepEqual(seen, ['first', 'added']);
});

test('keyModified: every hook once per modified key, in order, whatever their number', () => {
  for (let extra = 0; extra <= 7; extra++) {
    const server = serverInProcess();
    const c = server.createFakeClient();
    const seen: string[] = [];
    for (let i = 0; i < extra; i++) server.hooks.keyModified.push((dbId, key) => seen.push(`${i}:${dbId}:${key}`));
    assert.equal(run(server, c, 'SET', 'k', 'v'), '+OK\r\n');
    assert.equal(run(server, c, 'GET', 'k'), '$1\r\nv\r\n');
    assert.deepEqual(seen, Array.from({ length: extra }, (_, i) => `${i}:0:k`));
    seen.length = 0;
    assert.equal(run(server, c, 'DEL', 'k', 'missing'), ':1\r\n');
    assert.deepEqual(seen, Array.from({ length: extra }, (_, i) => `${i}:0:k`));
  }
});
