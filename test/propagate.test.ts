/**
 * The propagation queue (server/propagate.ts) on its own: what each kind of target receives for
 * one command, several (MULTI/EXEC), replication-only ones, a re-entrant feed, and nothing when
 * there is no target. The queue keeps its first command in fields, not in an array (a write
 * allocates nothing there); these pin down that the shapes did not change with it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Propagator, PropagateTo, type PropagationTarget } from '../src/server/propagate.js';

function recorder(kind: 'aof' | 'replication'): PropagationTarget & { got: string[] } {
  const got: string[] = [];
  return { kind, got, feed: (db, argv) => void got.push(`${db}:${argv.join(' ')}`) };
}

describe('propagation queue', () => {
  it('feeds one command as it is, to every target', () => {
    const p = new Propagator();
    const aof = recorder('aof');
    const repl = recorder('replication');
    p.addTarget(aof);
    p.addTarget(repl);
    p.alsoCommand(0, ['LPUSH', 'l', 'x'], false);
    assert.equal(p.isEmpty(), false);
    p.flush();
    assert.equal(p.isEmpty(), true);
    assert.deepEqual(aof.got, ['0:LPUSH l x']);
    assert.deepEqual(repl.got, ['0:LPUSH l x']);
    p.flush();
    assert.deepEqual(aof.got, ['0:LPUSH l x']);
  });

  it('wraps several commands in MULTI/EXEC unless told not to, and filters replication-only ones', () => {
    const p = new Propagator();
    const aof = recorder('aof');
    const repl = recorder('replication');
    p.addTarget(aof);
    p.addTarget(repl);
    p.alsoCommand(1, ['SET', 'a', '1'], false);
    p.also(1, ['PUBLISH', 'ch', 'm'], true);
    p.also(2, ['DEL', 'b']);
    p.flush();
    assert.deepEqual(repl.got, ['1:MULTI', '1:SET a 1', '1:PUBLISH ch m', '2:DEL b', '2:EXEC']);
    assert.deepEqual(aof.got, ['1:MULTI', '1:SET a 1', '2:DEL b', '2:EXEC']);
    aof.got.length = 0;
    repl.got.length = 0;
    p.also(0, ['DEL', 'x']);
    p.also(0, ['DEL', 'y']);
    p.flush(true);
    assert.deepEqual(aof.got, ['0:DEL x', '0:DEL y']);
    // A lone replication-only command skips the AOF.
    aof.got.length = 0;
    repl.got.length = 0;
    p.also(0, ['PUBLISH', 'ch', 'm'], true);
    p.flush();
    assert.deepEqual(aof.got, []);
    assert.deepEqual(repl.got, ['0:PUBLISH ch m']);
    // The filter does not outlive its flush.
    p.alsoCommand(0, ['INCR', 'n'], false);
    p.flush();
    assert.deepEqual(aof.got, ['0:INCR n']);
  });

  it('narrows the command itself by commandTargets', () => {
    const p = new Propagator();
    const aof = recorder('aof');
    const repl = recorder('replication');
    p.addTarget(aof);
    p.addTarget(repl);
    p.commandTargets = PropagateTo.Aof;
    p.alsoCommand(0, ['SET', 'k', 'v'], false);
    p.flush();
    assert.deepEqual(aof.got, ['0:SET k v']);
    assert.deepEqual(repl.got, []);
    p.commandTargets = PropagateTo.All;
    p.alsoCommand(0, ['SET', 'k', 'v'], true);
    p.flush();
    assert.deepEqual(aof.got, ['0:SET k v']);
    assert.deepEqual(repl.got, ['0:SET k v']);
  });

  it('starts a new queue for what a target queues while fed', () => {
    const p = new Propagator();
    const got: string[] = [];
    p.addTarget({
      feed: (db, argv) => {
        got.push(`${db}:${argv.join(' ')}`);
        if (argv[0] === 'SET') p.also(3, ['DEL', 'side']);
      },
    });
    p.alsoCommand(5, ['SET', 'a', '1'], false);
    p.flush();
    assert.deepEqual(got, ['5:SET a 1']);
    assert.equal(p.isEmpty(), false);
    p.flush();
    assert.deepEqual(got, ['5:SET a 1', '3:DEL side']);
    assert.equal(p.isEmpty(), true);
  });

  it('drops everything with no target, and discard() empties the queue', () => {
    const p = new Propagator();
    p.alsoCommand(0, ['SET', 'a', '1'], false);
    p.also(0, ['DEL', 'b']);
    p.flush();
    assert.equal(p.isEmpty(), true);
    const aof = recorder('aof');
    p.addTarget(aof);
    p.flush();
    assert.deepEqual(aof.got, []);
    p.alsoCommand(0, ['SET', 'a', '1'], false);
    p.also(0, ['DEL', 'b']);
    p.discard();
    assert.equal(p.isEmpty(), true);
    p.flush();
    assert.deepEqual(aof.got, []);
    p.alsoCommand(0, ['SET', 'c', '1'], false);
    p.flush();
    assert.deepEqual(aof.got, ['0:SET c 1']);
  });
});
