/**
 * Interactive mode (redis-cli.c repl()). On a terminal, node:readline does the line editing,
 * history (~/.rediscli_history or $REDISCLI_HISTFILE, 100 lines, rewritten after every line,
 * AUTH and other secrets left out) and tab completion from the help table. When stdin is not a
 * terminal, lines are read raw, without prompt or history — which is how `cmds | redis-cli`
 * works.
 *
 * Terminal input arrives as text decoded from UTF-8; it is re-encoded to the bytes the user
 * typed before splitting, so arguments carry exactly those bytes (as linenoise passes them).
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { completions, hintFor } from './help.js';
import { exit, out, type StdinReader } from './io.js';
import type { Session } from './session.js';
import { splitArgs } from './split-args.js';

const HISTORY_MAX = 100;

/** getDotfilePath(): the env override ("/dev/null" disables), else $HOME/<name>. */
function dotfile(envName: string, name: string): string | null {
  const override = process.env[envName];
  if (override !== undefined && override !== '') return override === '/dev/null' ? null : override;
  const home = process.env.HOME;
  return home ? path.join(home, name) : null;
}

/** isSensitiveCommand(): lines never written to the history. */
export function isSensitive(argv: string[]): boolean {
  const a = argv.map((x) => x.toLowerCase());
  const n = a.length;
  if (a[0] === 'auth') return true;
  if (n > 1 && a[0] === 'acl' && a[1] === 'setuser') return true;
  if (n > 2 && a[0] === 'config' && a[1] === 'set' && (a[2] === 'masterauth' || a[2] === 'masteruser' || a[2] === 'requirepass')) return true;
  if (n > 4 && a[0] === 'hello') {
    for (let j = 2; j < n; j++) {
      const more = n - 1 - j;
      if (a[j] === 'auth' && more >= 2) return true;
      if (a[j] === 'setname' && more) j++;
      else return false;
    }
  } else if (n > 7 && a[0] === 'migrate') {
    for (let j = 6; j < n; j++) {
      const more = n - 1 - j;
      if (a[j] === 'auth' && more) return true;
      if (a[j] === 'auth2' && more >= 2) return true;
      if (a[j] === 'keys' && more) return false;
    }
  }
  return false;
}

/** pref.hints: argument hints after the cursor while typing (":set hints" / ":set nohints"). */
let hintsEnabled = true;

/** cliSetPreferences(): ":set hints" / ":set nohints". */
function setPreference(argv: string[], interactive: boolean): void {
  const where = interactive ? '' : '.redisclirc: ';
  if (argv[0]!.toLowerCase() === ':set' && argv.length >= 2) {
    const v = argv[1]!.toLowerCase();
    if (v === 'hints') hintsEnabled = true;
    else if (v === 'nohints') hintsEnabled = false;
    else out(`${where}unknown redis-cli preference '${argv[1]}'\n`);
  } else {
    out(`${where}unknown redis-cli internal command '${argv[0]}'\n`);
  }
}

function loadPreferences(): void {
  const rc = dotfile('REDISCLI_RCFILE', '.redisclirc');
  if (rc === null) return;
  let text: string;
  try {
    text = fs.readFileSync(rc).toString('latin1');
  } catch {
    return;
  }
  for (const line of text.split('\n')) {
    const argv = splitArgs(line);
    if (argv && argv.length > 0) setPreference(argv, false);
  }
}

/** strtol(argv[0]) that consumed the whole word: the "N command" repeat prefix. */
function repeatPrefix(word: string): number | 'invalid' | null {
  if (word !== '' && !/^[\t\n\v\f\r ]*[-+]?\d+$/.test(word)) return null;
  if (word === '') return 'invalid';
  const n = BigInt(word.trim());
  if (n <= 0n || n > 2n ** 63n - 1n) return 'invalid';
  return Number(n);
}

interface LineSource {
  next(prompt: string): Promise<string | null>;
  addHistory(line: string): void;
  /** Called around each command: terminal keys become signals again while it runs. */
  busy(on: boolean): void;
  clearScreen(): void;
}

function terminalSource(session: Session): LineSource {
  const histFile = dotfile('REDISCLI_HISTFILE', '.rediscli_history');
  let history: string[] = [];
  if (histFile !== null) {
    try {
      history = fs
        .readFileSync(histFile, 'utf8')
        .split('\n')
        .map((l) => l.replace(/\r.*$/, ''))
        .filter((l) => l !== '');
    } catch {
      history = [];
    }
  }
  history = history.slice(-HISTORY_MAX);
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    historySize: HISTORY_MAX,
    history: [...history].reverse(),
    removeHistoryDuplicates: false,
    completer: (line: string): [string[], string] => [completions(line, session.helpEntries ?? []), line],
  });
  // readline keeps its history newest-first; we decide what enters it (no secrets).
  const rlHistory = rl as unknown as { history: string[] };
  let pending: ((line: string | null) => void) | null = null;
  const deliver = (line: string | null): void => {
    const p = pending;
    pending = null;
    if (p) p(line);
  };
  // Hints, drawn as linenoise does: grey text after the cursor, cut at the terminal's edge,
  // and wiped before the line is accepted so the screen keeps only what was typed.
  const rlState = rl as unknown as { line: string; cursor: number; getPrompt(): string };
  let hintShown = false;
  const drawHint = (): void => {
    const line = rlState.line;
    const cols = process.stdout.columns ?? 80;
    const plen = rlState.getPrompt().length;
    let hint = hintsEnabled && rlState.cursor === line.length ? hintFor(Buffer.from(line, 'utf8').toString('latin1'), session.helpEntries ?? [], splitArgs) : null;
    if (hint !== null && plen + line.length < cols) hint = hint.slice(0, cols - (plen + line.length));
    else hint = null;
    if (hint === null || hint === '') {
      if (hintShown) out('\x1b[0K');
      hintShown = false;
      return;
    }
    out(`\x1b[0K\x1b[0;90;49m${hint}\x1b[0m\x1b[${hint.length}D`);
    hintShown = true;
  };
  process.stdin.prependListener('keypress', (_s: string | undefined, key: { name?: string } | undefined) => {
    if (hintShown && (key?.name === 'return' || key?.name === 'enter')) {
      const right = rlState.line.length - rlState.cursor;
      out(`${right > 0 ? `\x1b[${right}C` : ''}\x1b[0K`);
      hintShown = false;
    }
  });
  process.stdin.on('keypress', (_s: string | undefined, key: { name?: string } | undefined) => {
    if (key?.name === 'return' || key?.name === 'enter') return;
    drawHint();
  });
  rl.on('line', (line) => deliver(line));
  rl.on('close', () => deliver(null));
  rl.on('SIGINT', () => {
    // linenoise: Ctrl-C at the prompt ends the session, after a newline.
    out('\n');
    process.exit(0);
  });
  const save = (): void => {
    if (histFile === null) return;
    try {
      const lines = [...rlHistory.history].reverse();
      fs.writeFileSync(histFile, lines.map((l) => l + '\n').join(''), { mode: 0o600 });
    } catch {
      // redis-cli ignores an unwritable history file too.
    }
  };
  return {
    next(prompt) {
      return new Promise((resolve) => {
        pending = (line) => {
          if (line === null) {
            out('\n');
            resolve(null);
            return;
          }
          // readline added it already (unless blank or a repeat of the last one); undo for now.
          if (rlHistory.history[0] === line) rlHistory.history.shift();
          resolve(Buffer.from(line, 'utf8').toString('latin1'));
        };
        rl.setPrompt(prompt);
        rl.prompt();
      });
    },
    addHistory(line) {
      const text = Buffer.from(line, 'latin1').toString('utf8');
      if (rlHistory.history[0] !== text) rlHistory.history.unshift(text);
      if (rlHistory.history.length > HISTORY_MAX) rlHistory.history.length = HISTORY_MAX;
      save();
    },
    busy(on) {
      if (on) rl.pause();
      if (process.stdin.isTTY) process.stdin.setRawMode(!on);
    },
    clearScreen() {
      out('\x1b[H\x1b[2J');
    },
  };
}

function pipeSource(stdin: StdinReader): LineSource {
  return {
    next: () => stdin.line(),
    addHistory: () => {},
    busy: () => {},
    clearScreen: () => out('\x1b[H\x1b[2J'),
  };
}

export async function repl(session: Session, stdin: StdinReader): Promise<never> {
  await session.loadHelp();
  session.interactive = true;
  const tty = process.stdin.isTTY === true;
  const source = tty ? terminalSource(session) : pipeSource(stdin);
  if (tty) loadPreferences();
  // SIGINT while a command runs: leave SUBSCRIBE/MONITOR, otherwise quit (sigIntHandler).
  process.on('SIGINT', () => {
    if ((session.monitorMode || session.pubsubMode) && session.conn) {
      session.blockingStateAborted = true;
      session.conn.close();
    } else {
      process.exit(1);
    }
  });
  for (;;) {
    const line = await source.next(session.conn ? session.prompt : 'not connected> ');
    if (line === null) exit(0);
    if (line === '' || line.startsWith('\0')) continue;
    const argv = splitArgs(line);
    if (argv === null) {
      out('Invalid argument(s)\n');
      source.addHistory(line);
      continue;
    }
    if (argv.length === 0) continue;
    let repeat = 1;
    let skip = 0;
    const prefix = argv.length > 1 ? repeatPrefix(argv[0]!) : null;
    if (prefix === 'invalid') {
      out('Invalid redis-cli repeat command option value.\n');
      continue;
    } else if (prefix !== null) {
      repeat = prefix;
      skip = 1;
    }
    if (!isSensitive(argv.slice(skip))) source.addHistory(line);
    const cmd = argv[0]!.toLowerCase();
    if (cmd === 'quit' || cmd === 'exit') exit(0);
    if (argv[0]!.startsWith(':')) {
      setPreference(argv, true);
      continue;
    }
    if (cmd === 'restart') {
      out("Use 'restart' only in Lua debugging mode.\n");
    } else if (argv.length === 3 && cmd === 'connect') {
      session.config.host = argv[1]!;
      session.config.port = Number(BigInt.asIntN(32, BigInt(/^\s*[-+]?\d+/.exec(argv[2]!)?.[0].trim() ?? '0')));
      session.refreshPrompt();
      source.busy(true);
      await session.connect(true, false);
      source.busy(false);
    } else if (argv.length === 1 && cmd === 'clear') {
      source.clearScreen();
    } else {
      const start = Date.now();
      source.busy(true);
      await session.issueCommand(argv.slice(skip), repeat);
      source.busy(false);
      const elapsed = Date.now() - start;
      if (elapsed >= 500 && session.config.output === 'standard') out(`(${(elapsed / 1000).toFixed(2)}s)\n`);
    }
  }
}

/** askPassword(): a masked line from the terminal, or the first stdin line when piped. */
export async function askPassword(prompt: string, stdin: StdinReader): Promise<string> {
  if (!process.stdin.isTTY) return (await stdin.line()) ?? '';
  out(prompt);
  process.stdin.setRawMode(true);
  process.stdin.resume();
  let pw = '';
  return new Promise((resolve) => {
    const onData = (d: Buffer): void => {
      for (const b of d) {
        if (b === 13 || b === 10) {
          process.stdin.off('data', onData);
          process.stdin.setRawMode(false);
          process.stdin.pause();
          out('\n');
          resolve(pw);
          return;
        } else if (b === 3) {
          out('\n');
          process.exit(1);
        } else if (b === 127 || b === 8) {
          if (pw.length > 0) {
            pw = pw.slice(0, -1);
            out('\b \b');
          }
        } else {
          pw += String.fromCharCode(b);
          out('*');
        }
      }
    };
    process.stdin.on('data', onData);
  });
}
