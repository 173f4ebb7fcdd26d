/** Runs Python programs with Debian's python3 and its redis-py (the real one, not pyenv's). */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PYTHON = '/usr/bin/python3';

/** Runs a Python program (given the server port as argv[1]); resolves with its stdout. */
export function runPython(code: string, port: number, ...args: string[]): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nodis-redispy-'));
  const file = path.join(dir, 'prog.py');
  fs.writeFileSync(file, code);
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [file, String(port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (code === 0) resolve(out);
      else reject(new Error(`python exited ${code}: ${err}`));
    });
  });
}

