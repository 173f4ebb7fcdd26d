/**
 * The terminal view: the snapshot drawn as text. On a terminal it redraws in place (cursor home,
 * each line cleared to its end, the rest of the screen cleared) at most a few times a second;
 * elsewhere (a pipe, a log file, CI) it prints plain lines: each event once, and the topology
 * table again only when something in it changed — no redraw codes, no spam.
 *
 * Plain ANSI escapes and Node's readline keypress events are all this needs; a terminal UI
 * library would bring a widget tree for a screen of text (docs/ARCHITECTURE.md).
 */
import type { LoadStats } from './load.js';
import type { Snapshot } from './monitor.js';

const ESC = '\x1b[';
const bold = (s: string, on: boolean): string => (on ? `${ESC}1m${s}${ESC}0m` : s);
const color = (s: string, code: number, on: boolean): string => (on ? `${ESC}${code}m${s}${ESC}0m` : s);

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

function clock(t: number): string {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** The topology as table lines (no events). */
export function topologyLines(s: Snapshot, ansi: boolean, load: LoadStats | null): string[] {
  const out: string[] = [];
  out.push(bold(`nodis-ha — master "${s.name}" at ${s.master || '?'}`, ansi));
  out.push('');
  out.push(bold(pad('DATA NODE', 10) + pad('ADDRESS', 22) + pad('ROLE', 9) + pad('LINK', 7) + pad('OFFSET', 12) + pad('LAG', 8) + pad('KEYS', 8) + pad('OPS/S', 8) + 'MEMORY', ansi));
  s.nodes.forEach((n, i) => {
    const role = !n.up ? 'down' : n.role;
    const roleText = color(pad(role, 9), !n.up ? 31 : n.role === 'master' ? 32 : 36, ansi);
    const link = n.role === 'slave' ? n.link : '';
    out.push(
      pad(`${i + 1} ${n.label}`, 10) +
        pad(n.address, 22) +
        roleText +
        pad(link, 7) +
        pad(n.up ? String(n.offset) : '', 12) +
        pad(n.up && n.role === 'slave' ? String(n.lagBytes) : '', 8) +
        pad(n.up ? String(n.keys) : '', 8) +
        pad(n.up ? String(n.opsPerSec) : '', 8) +
        (n.up ? n.memory : ''),
    );
  });
  out.push('');
  out.push(bold(pad('SENTINEL', 12) + pad('ADDRESS', 22) + pad('SEES MASTER', 22) + pad('FLAGS', 22) + pad('EPOCH', 7) + pad('LEADER', 12) + 'FAILOVER', ansi));
  for (const t of s.sentinels) {
    out.push(
      pad(t.label, 12) +
        pad(t.address, 22) +
        pad(t.up ? t.master : 'down', 22) +
        color(pad(t.flags, 22), /s_down|o_down/.test(t.flags) ? 31 : 0, ansi && /s_down|o_down/.test(t.flags)) +
        pad(t.up ? String(t.configEpoch) : '', 7) +
        pad(t.leader.slice(0, 11), 12) +
        t.failoverState,
    );
  }
  out.push('');
  const last = s.failovers[s.failovers.length - 1];
  if (s.lostAt !== null) out.push(color(`failover: master lost ${((Date.now() - s.lostAt) / 1000).toFixed(1)} s ago …`, 33, ansi));
  else if (last !== undefined)
    out.push(`failover: ${last.from} → ${last.to} in ${last.durationMs} ms (master lost → ${last.measuredBy === 'load' ? 'first acknowledged write' : '+switch-master'}); ${s.failovers.length} so far`);
  else out.push('failover: none yet');
  if (load !== null) {
    out.push(
      `load: set name tedu-N via sentinels → ${load.master || '?'}: ${load.writes} writes, ${load.reads} reads, ${load.errors} errors` +
        (load.currentGapMs > 0 ? color(`, no write for ${load.currentGapMs} ms`, 31, ansi) : '') +
        `, longest gap ${load.longestGapMs} ms` +
        (load.lastError !== '' ? `; last error: ${load.lastError}` : ''),
    );
  }
  return out;
}

export function eventLine(e: Snapshot['events'][number]): string {
  return `${clock(e.time)} ${pad(e.source, 11)} ${e.channel} ${e.message}`;
}

export const KEYS_HELP = 'keys: k kill master · p<N> pause node N · r<N> restart node N · a add replica · n<N> SLAVEOF NO ONE on N · q quit';

/** The whole screen for a terminal of `rows` lines. */
export function screen(s: Snapshot, load: LoadStats | null, rows: number, prompt: string): string[] {
  const top = topologyLines(s, true, load);
  const room = Math.max(3, rows - top.length - 4);
  const events = s.events.slice(-room).map(eventLine);
  return [...top, '', bold(`EVENTS (last ${events.length})`, true), ...events, '', prompt !== '' ? prompt : KEYS_HELP];
}

/** Writes screens to a terminal, in place, at most every `minIntervalMs`. */
export class TerminalView {
  private pending = false;
  private last = 0;
  prompt = '';
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly state: () => { snapshot: Snapshot; load: LoadStats | null },
    private readonly minIntervalMs = 200,
  ) {
    out.write(`${ESC}?25l${ESC}2J`);
  }

  draw(): void {
    if (this.pending) return;
    const wait = Math.max(0, this.last + this.minIntervalMs - Date.now());
    this.pending = true;
    setTimeout(() => {
      this.pending = false;
      this.last = Date.now();
      const { snapshot, load } = this.state();
      const lines = screen(snapshot, load, this.out.rows ?? 40, this.prompt);
      const width = this.out.columns ?? 120;
      this.out.write(`${ESC}H` + lines.map((l) => l.slice(0, width + 40) + `${ESC}K`).join('\n') + `${ESC}J`);
    }, wait).unref();
  }

  close(): void {
    this.out.write(`${ESC}?25h\n`);
  }
}

/** Plain lines for a pipe: each event once, the table when it changed. */
export class PlainView {
  private lastSeq = 0;
  private lastTable = '';
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly state: () => { snapshot: Snapshot; load: LoadStats | null },
  ) {}

  draw(): void {
    const { snapshot } = this.state();
    // The table without its volatile columns decides whether it changed.
    const shape = JSON.stringify([
      snapshot.master,
      snapshot.nodes.map((n) => [n.address, n.up, n.role, n.link]),
      snapshot.sentinels.map((t) => [t.up, t.master, t.flags]),
      snapshot.failovers.length,
    ]);
    if (shape !== this.lastTable) {
      this.lastTable = shape;
      this.out.write(topologyLines(snapshot, false, null).join('\n') + '\n\n');
    }
    for (const e of snapshot.events) {
      if (e.seq <= this.lastSeq) continue;
      this.out.write(eventLine(e) + '\n');
      this.lastSeq = e.seq;
    }
  }
}
