/**
 * The real `ScriptRunner` (scripts.ts) of nodis-sentinel: user scripts run as child processes
 * started with child_process.spawn, never through a shell, with the sentinel's environment and
 * its stdout/stderr (Redis's forked child inherits both). Nothing here blocks the event loop:
 * exits arrive as 'exit' events and are handed to the queue, which acts on them at its next tick.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import type { ScriptProcess, ScriptRunner } from './scripts.js';

/** What Redis's child does when execve() fails: exit 2, which is never retried. */
const EXEC_FAILED_EXIT_CODE = 2;

export const childProcessScriptRunner: ScriptRunner = {
  isExecutable(file: string): boolean {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },

  start(argv: readonly string[], onExit: (exitCode: number, signal: number) => void): ScriptProcess | null {
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { argv0: argv[0], stdio: ['ignore', 'inherit', 'inherit'], shell: false });
    } catch {
      return null;
    }
    let reported = false;
    const report = (exitCode: number, signal: number): void => {
      if (reported) return;
      reported = true;
      onExit(exitCode, signal);
    };
    child.once('exit', (code, signal) => {
      report(code ?? 0, signal !== null ? (os.constants.signals[signal] ?? 0) : 0);
    });
    // A program that could not be executed (missing, not executable) has no pid and no 'exit'.
    child.once('error', () => {
      if (child.pid === undefined) report(EXEC_FAILED_EXIT_CODE, 0);
    });
    return {
      pid: child.pid ?? 0,
      kill: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      },
    };
  },
};
