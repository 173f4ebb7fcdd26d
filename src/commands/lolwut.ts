/**
 * LOLWUT [VERSION v] [version-specific arguments] — Redis's version-dependent computer art
 * (lolwut.c, lolwut5.c, lolwut6.c of Redis 7.0.15).
 *
 * Redis 7.0.15 has no art of its own: plain LOLWUT answers "Redis ver. 7.0.15\n". VERSION 5
 * draws Georg Nees's "Schotter" in Braille characters, VERSION 6 a skyline in terminal colours.
 * Both draw their randomness from the C library's rand(), so this file carries glibc's rand()
 * (the TYPE_3 additive generator) seeded once from the server's random source: given the same
 * seed, the same bytes as redis-server. The geometry repeats C's float (32-bit) arithmetic step
 * by step (Math.fround) so squares land on the same pixels.
 */
import type { CommandHandlers } from '../server/command-table.js';
import type { Client } from '../server/client.js';
import { NOT_INTEGER } from '../protocol/errors.js';
import { parseInt64 } from '../protocol/args.js';
import { REDIS_VERSION } from '../server/version.js';

const RAND_MAX = 2147483647;

/** glibc's rand()/srand() (random_r.c, TYPE_3: x[i] = x[i-3] + x[i-31], 31-bit outputs). */
export class GlibcRand {
  private readonly state = new Uint32Array(34);
  private front = 3;
  private rear = 0;

  constructor(seed: number) {
    this.seed(seed);
  }

  seed(seed: number): void {
    const r = new Int32Array(34);
    r[0] = seed >>> 0 === 0 ? 1 : seed | 0;
    for (let i = 1; i < 31; i++) {
      // 16807 * r[i-1] % 2147483647 without overflow (Schrage's method, as glibc does).
      const hi = Math.trunc(r[i - 1]! / 127773);
      const lo = r[i - 1]! % 127773;
      let word = 16807 * lo - 2836 * hi;
      if (word < 0) word += 2147483647;
      r[i] = word;
    }
    for (let i = 0; i < 31; i++) this.state[i] = r[i]! >>> 0;
    this.front = 3;
    this.rear = 0;
    for (let i = 0; i < 310; i++) this.next();
  }

  /** rand(): 0 … RAND_MAX. */
  next(): number {
    const s = this.state;
    const v = (s[this.front]! + s[this.rear]!) >>> 0;
    s[this.front] = v;
    this.front = (this.front + 1) % 31;
    this.rear = (this.rear + 1) % 31;
    return v >>> 1;
  }
}

const f = Math.fround;

/** C's round(): halves away from zero. */
function cRound(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** lwCanvas: a width×height grid of small colour numbers. */
class Canvas {
  readonly pixels: Uint8Array;
  constructor(readonly width: number, readonly height: number, background: number) {
    this.pixels = new Uint8Array(width * height).fill(background);
  }
  draw(x: number, y: number, color: number): void {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return;
    this.pixels[x + y * this.width] = color;
  }
  get(x: number, y: number): number {
    if (x < 0 || x >= this.width || y < 0 || y >= this.height) return 0;
    return this.pixels[x + y * this.width]!;
  }
  /** Bresenham, as lwDrawLine. */
  line(x1: number, y1: number, x2: number, y2: number, color: number): void {
    const dx = Math.abs(x2 - x1);
    const dy = Math.abs(y2 - y1);
    const sx = x1 < x2 ? 1 : -1;
    const sy = y1 < y2 ? 1 : -1;
    let err = dx - dy;
    for (;;) {
      this.draw(x1, y1, color);
      if (x1 === x2 && y1 === y2) break;
      const e2 = err * 2;
      if (e2 > -dy) { err -= dy; x1 += sx; }
      if (e2 < dx) { err += dx; y1 += sy; }
    }
  }
  /** lwDrawSquare: a square of side `size` centred on x,y, rotated by `angle` (C floats). */
  square(x: number, y: number, size: number, angle: number, color: number): void {
    size = f(cRound(f(size / 1.4142135623)));
    let k = f(Math.PI / 4 + angle);
    const px: number[] = [];
    const py: number[] = [];
    for (let j = 0; j < 4; j++) {
      px.push(cRound(Math.sin(k) * size + x));
      py.push(cRound(Math.cos(k) * size + y));
      k = f(k + Math.PI / 2);
    }
    for (let j = 0; j < 4; j++) this.line(px[j]!, py[j]!, px[(j + 1) % 4]!, py[(j + 1) % 4]!, color);
  }
}

// ---- LOLWUT 5: Schotter -------------------------------------------------------------------------

function drawSchotter(rand: GlibcRand, cols: number, perRow: number, perCol: number): Canvas {
  const width = cols * 2;
  const padding = width > 4 ? 2 : 0;
  const side = f((width - padding * 2) / perRow);
  const height = Math.trunc(f(f(side * perCol) + padding * 2));
  const canvas = new Canvas(width, height, 0);
  const unit = (): number => f(f(f(rand.next() / RAND_MAX)));
  for (let y = 0; y < perCol; y++) {
    for (let x = 0; x < perRow; x++) {
      let sx = Math.trunc(f(f(f(x * side) + f(side / 2)) + padding));
      let sy = Math.trunc(f(f(f(y * side) + f(side / 2)) + padding));
      let angle = 0;
      if (y > 1) {
        let r1 = f(f(f(unit() / perCol)) * y);
        let r2 = f(f(f(unit() / perCol)) * y);
        let r3 = f(f(f(unit() / perCol)) * y);
        if (rand.next() % 2) r1 = -r1;
        if (rand.next() % 2) r2 = -r2;
        if (rand.next() % 2) r3 = -r3;
        angle = r1;
        sx = Math.trunc(f(sx + f(f(r2 * side) / 3)));
        sy = Math.trunc(f(sy + f(f(r3 * side) / 3)));
      }
      canvas.square(sx, sy, side, angle, 1);
    }
  }
  return canvas;
}

/** A 2×4 group of pixels as one Braille character, in UTF-8 bytes (latin1 string). */
function braille(bits: number): string {
  const code = 0x2800 + bits;
  return String.fromCharCode(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
}

function renderBraille(canvas: Canvas): string {
  let text = '';
  for (let y = 0; y < canvas.height; y += 4) {
    for (let x = 0; x < canvas.width; x += 2) {
      let bits = 0;
      if (canvas.get(x, y)) bits |= 1 << 0;
      if (canvas.get(x, y + 1)) bits |= 1 << 1;
      if (canvas.get(x, y + 2)) bits |= 1 << 2;
      if (canvas.get(x + 1, y)) bits |= 1 << 3;
      if (canvas.get(x + 1, y + 1)) bits |= 1 << 4;
      if (canvas.get(x + 1, y + 2)) bits |= 1 << 5;
      if (canvas.get(x, y + 3)) bits |= 1 << 6;
      if (canvas.get(x + 1, y + 3)) bits |= 1 << 7;
      text += braille(bits);
    }
    if (y !== canvas.height - 1) text += '\n';
  }
  return text;
}

// ---- LOLWUT 6: skyline --------------------------------------------------------------------------

const GRAYS = ['0;30;40m', '0;90;100m', '0;37;47m', '0;97;107m'];

function renderColours(canvas: Canvas): string {
  let text = '';
  for (let y = 0; y < canvas.height; y++) {
    for (let x = 0; x < canvas.width; x++) text += `\x1b[${GRAYS[canvas.get(x, y)] ?? GRAYS[0]} \x1b[0m`;
    if (y !== canvas.height - 1) text += '\n';
  }
  return text;
}

interface Skyscraper { xoff: number; width: number; height: number; windows: boolean; color: number }

function drawSkyscraper(rand: GlibcRand, canvas: Canvas, si: Skyscraper): void {
  const starty = canvas.height - 1;
  const endy = starty - si.height + 1;
  for (let y = starty; y >= endy; y--) {
    for (let x = si.xoff; x < si.xoff + si.width; x++) {
      // The roof is four pixels narrower.
      if (y === endy && (x <= si.xoff + 1 || x >= si.xoff + si.width - 2)) continue;
      let color = si.color;
      if (si.windows && x > si.xoff + 1 && x < si.xoff + si.width - 2 && y > endy + 1 && y < starty - 1) {
        const relx = x - (si.xoff + 1);
        const rely = y - (endy + 1);
        // Windows are two pixels wide and one tall (terminal cells are not square).
        if (Math.trunc(relx / 2) % 2 && rely % 2) {
          do color = 1 + (rand.next() % 2); while (color === si.color);
          if (relx % 2) color = canvas.get(x - 1, y);
        }
      }
      canvas.draw(x, y, color);
    }
  }
}

function drawSkyline(rand: GlibcRand, canvas: Canvas): void {
  const h = canvas.height;
  // Background buildings without windows, the lighter ones first so they stay behind.
  for (let color = 2; color >= 1; color--) {
    for (let offset = -10; offset < canvas.width;) {
      offset += rand.next() % 8;
      const width = 10 + (rand.next() % 9);
      const height = color === 2
        ? Math.trunc(h / 2) + Math.trunc((rand.next() % h) / 2)
        : Math.trunc(h / 2) + Math.trunc((rand.next() % h) / 3);
      drawSkyscraper(rand, canvas, { xoff: offset, width, height, windows: false, color });
      offset += color === 2 ? Math.trunc(width / 2) : width + 1;
    }
  }
  for (let offset = -10; offset < canvas.width;) {
    offset += rand.next() % 8;
    let width = 5 + (rand.next() % 14);
    if (width % 4) width += width % 3;
    const height = Math.trunc(h / 3) + Math.trunc((rand.next() % h) / 2);
    drawSkyscraper(rand, canvas, { xoff: offset, width, height, windows: true, color: 0 });
    offset += width + 5;
  }
}

// ---- The command --------------------------------------------------------------------------------

/** getLongFromObjectOrReply over args[i] when present (null: not an integer). */
function longArg(args: readonly string[], i: number, dflt: number): number | null {
  if (args.length <= i) return dflt;
  const v = parseInt64(args[i]!);
  return v === null ? null : Number(v);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

function lolwut5(rand: GlibcRand, args: readonly string[]): string | null {
  const cols = longArg(args, 1, 66);
  const perRow = longArg(args, 2, 8);
  const perCol = longArg(args, 3, 12);
  if (cols === null || perRow === null || perCol === null) return null;
  const canvas = drawSchotter(rand, clamp(cols, 1, 1000), clamp(perRow, 1, 200), clamp(perCol, 1, 200));
  return `${renderBraille(canvas)}\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ${REDIS_VERSION}\n`;
}

function lolwut6(rand: GlibcRand, args: readonly string[]): string | null {
  const cols = longArg(args, 1, 80);
  const rows = longArg(args, 2, 20);
  if (cols === null || rows === null) return null;
  const canvas = new Canvas(clamp(cols, 1, 1000), clamp(rows, 1, 1000), 3);
  drawSkyline(rand, canvas);
  return (
    `${renderColours(canvas)}\nDedicated to the 8 bit game developers of past and present.\n` +
    `Original 8 bit image from Plaguemon by hikikomori. Redis ver. ${REDIS_VERSION}\n`
  );
}

/**
 * LOLWUT's text for a whole argv (argv[0] is the command name), drawing from `rand`; null when
 * an argument is not an integer.
 */
export function renderLolwut(argv: readonly string[], rand: GlibcRand): string | null {
  let version = REDIS_VERSION;
  let args = argv;
  if (argv.length >= 3 && argv[1]!.toLowerCase() === 'version') {
    const v = parseInt64(argv[2]!);
    if (v === null) return null;
    version = `${BigInt.asUintN(32, v)}.0.0`;
    // The version implementations see their own arguments only, as after Redis's argv shift.
    args = argv.slice(2);
  }
  const [major, dot, minor] = [version[0], version[1], version[2]];
  if ((major === '5' && dot === '.' && minor !== '9') || (major === '4' && dot === '.' && minor === '9')) return lolwut5(rand, args);
  if ((major === '6' && dot === '.' && minor !== '9') || (major === '5' && dot === '.' && minor === '9')) return lolwut6(rand, args);
  return `Redis ver. ${REDIS_VERSION}\n`;
}

const rands = new WeakMap<object, GlibcRand>();

/** The server's C-library rand() state (srand once, from the server's random source). */
function randOf(c: Client): GlibcRand {
  let r = rands.get(c.server);
  if (!r) {
    r = new GlibcRand(c.server.rng.nextUint32());
    rands.set(c.server, r);
  }
  return r;
}

function lolwut(c: Client): void {
  const text = renderLolwut(c.argv, randOf(c));
  if (text === null) c.reply.error(NOT_INTEGER);
  else c.reply.verbatim(text);
}

export const commands: CommandHandlers = { lolwut };
