/**
 * The typed configuration registry behind redis.conf, `--name value` arguments, CONFIG GET/SET
 * and CONFIG REWRITE. Each directive is declared once (config/directives.ts) with Redis 7.0.15's
 * default, type, range, flags and alias; values are parsed here exactly as config.c parses them
 * (string2ll, memtoull, octal, percent, enums and bit-flag enums) and fail with its error texts.
 *
 * Values are stored in their natural JS form — booleans, numbers (int/memory; a negative
 * percent-config value means "N%", as in Redis), strings (enum/string/special) — and modules
 * subscribe with `watch()`. CONFIG SET goes through `setMany()`: every pair is validated and
 * set, then the "apply" hooks run (rebinding a port, resizing…), and on any failure every value
 * is restored, as configSetCommand() does.
 *
 * A directive whose feature does not exist yet is still validated and stored, and listed by
 * `inertDirectives()` so start-up can warn once and docs/COMPATIBILITY.md can say so.
 */

import { splitArgs } from '../protocol/parser.js';

export type ConfigType = 'bool' | 'int' | 'memory' | 'enum' | 'string' | 'special';

/** What a special directive's parser sees besides its arguments. */
export interface SpecialContext {
  /** The directive's current canonical value. */
  current: string;
  /** True while reading the config file / command line (not CONFIG SET). */
  loading: boolean;
  /** True the first time the directive appears while loading (`save` resets the defaults). */
  firstInFile: boolean;
}

export interface ConfigDef {
  name: string;
  /** Redis has at most one alias per directive (slave-*, *-ziplist-*, lua-time-limit). */
  aliases?: string[];
  type: ConfigType;
  /** Default, written as CONFIG GET prints it. */
  default: string;
  /** Numeric bounds (bigint so LLONG_MAX prints exactly in error messages). */
  min?: number | bigint;
  max?: number | bigint;
  /** Bounds are compared as unsigned (uint, size_t, unsigned long long in config.c). */
  unsigned?: boolean;
  /** Numeric value written and parsed in octal (unixsocketperm). */
  octal?: boolean;
  /** Memory value that also accepts "N%" (maxmemory-clients), stored as -N. */
  allowPercent?: boolean;
  /** For 'enum': accepted names, in Redis's order (its error message lists them so). */
  enumValues?: string[];
  /** Enum names that are synonyms of another (oom-score-adj: relative → yes). */
  enumSynonyms?: Record<string, string>;
  /** A bit-flag enum taking several names (shutdown-on-sigint); the first name is "no flags". */
  enumMulti?: boolean;
  /** CONFIG SET refuses it ("can't set immutable config"). */
  immutable?: boolean;
  /** CONFIG SET refuses it unless enable-protected-configs allows ("can't set protected config"). */
  protected?: boolean;
  /** CONFIG SET refuses it with -LOADING while the dataset loads (DENY_LOADING_CONFIG). */
  denyLoading?: boolean;
  /** Not matched by CONFIG GET patterns, only by its exact name. */
  hidden?: boolean;
  /** CONFIG SET applies it even to its current value (a file path whose content changed). */
  volatile?: boolean;
  /** Its value is redacted from SLOWLOG/MONITOR when set. */
  sensitive?: boolean;
  /** Several arguments (save, bind, client-output-buffer-limit …). */
  multiArg?: boolean;
  /** For 'string': "" means unset, and CONFIG REWRITE drops the line. */
  emptyIsNull?: boolean;
  /** false: the directive is accepted and stored but its feature is not in nodis yet. */
  active?: boolean;
  /** Extra validity check after parsing; returns Redis's error text or null. */
  validate?: (value: ConfigValue) => string | null;
  /** Adjusts a parsed value (hz is clamped to 1..500, as updateHZ does). */
  normalize?: (value: ConfigValue) => ConfigValue;
  /** For 'special': validates and canonicalises arguments, or throws ConfigError. */
  parse?: (args: string[], ctx: SpecialContext) => string;
  /** For 'special': computes the value CONFIG GET prints (dir: the working directory). */
  get?: () => string;
}

export class ConfigError extends Error {}

/** A stored value: booleans, numbers (int/memory), or strings (enum/string/special). */
export type ConfigValue = boolean | number | string;

type Listener = (value: ConfigValue, name: string) => void;
/** Applies a changed value at CONFIG SET time; returns an error text, or null when fine. */
export type Applier = () => string | null | Promise<string | null>;

const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
const TWO64 = 1n << 64n;

export class ConfigRegistry {
  private readonly defs = new Map<string, ConfigDef>();
  private readonly byAlias = new Map<string, string>();
  private readonly values = new Map<string, ConfigValue>();
  /** Exact numeric values (beyond 2^53 a JS number would round what CONFIG GET prints). */
  private readonly exact = new Map<string, bigint>();
  private readonly listeners = new Map<string, Listener[]>();
  private readonly appliers = new Map<string, Applier>();
  /** Directives set explicitly (file, args, CONFIG SET). */
  private readonly explicitlySet = new Set<string>();
  /** Directives seen while loading (for `save`'s reset-on-first-use). */
  private readonly seenInFile = new Set<string>();

  constructor(defs: readonly ConfigDef[]) {
    for (const d of defs) {
      this.defs.set(d.name, d);
      for (const a of d.aliases ?? []) this.byAlias.set(a, d.name);
      // Defaults are canonical already; specials are stored as written (dir must not chdir).
      if (d.type === 'special') this.values.set(d.name, d.default);
      else this.store(d, this.parseValue(d, d.default, [d.default], { current: d.default, loading: true, firstInFile: false }));
    }
  }

  /** The canonical name for a name or alias (any case), or undefined if unknown. */
  resolve(name: string): string | undefined {
    const n = name.toLowerCase();
    if (this.defs.has(n)) return n;
    return this.byAlias.get(n);
  }

  def(name: string): ConfigDef | undefined {
    const r = this.resolve(name);
    return r === undefined ? undefined : this.defs.get(r);
  }

  allDefs(): IterableIterator<ConfigDef> {
    return this.defs.values();
  }

  get(name: string): ConfigValue {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`unknown config ${name}`);
    return v;
  }

  getNumber(name: string): number {
    return this.get(name) as number;
  }

  getBool(name: string): boolean {
    return this.get(name) as boolean;
  }

  getString(name: string): string {
    const d = this.defs.get(name);
    if (d?.get) return d.get();
    return this.get(name) as string;
  }

  /** Calls `fn` now and whenever the value changes. */
  watch(name: string, fn: Listener): void {
    const list = this.listeners.get(name) ?? [];
    list.push(fn);
    this.listeners.set(name, list);
    fn(this.get(name), name);
  }

  /** Registers the CONFIG SET "apply" step of a directive (port rebinding, maxclients…). */
  onApply(name: string, fn: Applier): void {
    this.appliers.set(name, fn);
  }

  wasSet(name: string): boolean {
    return this.explicitlySet.has(name);
  }

  /**
   * Sets a directive from the config file or the command line (`args` are the words after the
   * name), or — with source 'runtime' — like a one-pair CONFIG SET without apply hooks.
   * Throws ConfigError with Redis's reason text.
   */
  set(name: string, args: string[], source: 'file' | 'args' | 'runtime'): void {
    const canonical = this.resolve(name);
    if (canonical === undefined) throw new ConfigError('Bad directive or wrong number of arguments');
    const d = this.defs.get(canonical)!;
    if (source === 'runtime') {
      if (d.immutable) throw new ConfigError("can't set immutable config");
      this.setValue(d, args.join(' '), false);
      return;
    }
    if (!d.multiArg && args.length !== 1) throw new ConfigError('wrong number of arguments');
    // A multi-argument directive given one non-empty argument is split again, so that
    // `--save "900 1 300 10"` works like `save 900 1 300 10`.
    let words = args;
    if (d.multiArg && args.length === 1 && args[0] !== '') {
      const split = splitArgs(args[0]!);
      if (split === null) throw new ConfigError('Unbalanced quotes in configuration line');
      words = split;
    }
    const first = !this.seenInFile.has(canonical);
    this.seenInFile.add(canonical);
    const v = this.parseValue(d, words.join(' '), words, { current: this.format(canonical), loading: true, firstInFile: first });
    this.commit(d, v);
  }

  /**
   * CONFIG SET's value path for one directive: parses `value` (multi-argument directives split
   * on single spaces, as performInterfaceSet does), stores it and tells the watchers.
   * Returns true when the value changed. Throws ConfigError.
   */
  setValue(d: ConfigDef, value: string, loading: boolean): boolean {
    const args = d.multiArg ? value.split(' ') : [value];
    const before = this.format(d.name);
    const v = this.parseValue(d, value, args, { current: before, loading, firstInFile: false });
    this.commit(d, v);
    return this.format(d.name) !== before || d.type === 'special';
  }

  /**
   * CONFIG SET name value [name value …]: validates the names first (unknown, immutable,
   * protected, duplicate), then sets every value and runs the apply hooks; on any failure the
   * previous values are restored. Resolves to null on success, or Redis's full error reply.
   */
  setMany(pairs: [string, string][], allowProtected: boolean, loading = false): { error: string } | { pending: Promise<string | null> } | null {
    const defs: ConfigDef[] = [];
    let denyLoading = false;
    let invalidName: string | null = null;
    let errName: string | null = null;
    let errText: string | null = null;
    for (let i = 0; i < pairs.length; i++) {
      const [name] = pairs[i]!;
      const canonical = this.resolve(name);
      if (canonical === undefined) {
        if (invalidName === null && errName === null) invalidName = name;
        continue;
      }
      if (invalidName !== null || errName !== null) continue;
      const d = this.defs.get(canonical)!;
      if (d.immutable || (d.protected && !allowProtected)) {
        errText = d.immutable ? "can't set immutable config" : "can't set protected config";
        errName = name;
        continue;
      }
      if (loading && d.denyLoading === true) {
        denyLoading = true;
        continue;
      }
      if (defs.includes(d)) {
        errText = 'duplicate parameter';
        errName = name;
      }
      defs.push(d);
    }
    // The loading error wins: clients handle -LOADING differently from a plain -ERR.
    if (denyLoading) return { error: 'LOADING Redis is loading the dataset in memory' };
    if (invalidName !== null) return { error: `ERR Unknown option or number of arguments for CONFIG SET - '${invalidName}'` };
    if (errName !== null) return { error: `ERR CONFIG SET failed (possibly related to argument '${errName}') - ${errText}` };

    const old = defs.map((d) => this.format(d.name));
    const wasExplicit = defs.map((d) => this.explicitlySet.has(d.name));
    const restore = (count: number): void => {
      for (let i = 0; i < count; i++) {
        try {
          this.setValue(defs[i]!, old[i]!, false);
        } catch {
          // The old value was valid when it was set; nothing better to do than keep going.
        }
        if (!wasExplicit[i]) this.explicitlySet.delete(defs[i]!.name);
      }
    };
    const toApply: Applier[] = [];
    const applyOwner: string[] = [];
    for (let i = 0; i < defs.length; i++) {
      const d = defs[i]!;
      let changed: boolean;
      try {
        changed = this.setValue(d, pairs[i]![1], false);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        restore(i + 1);
        return { error: `ERR CONFIG SET failed (possibly related to argument '${d.name}') - ${e.message}` };
      }
      const fn = this.appliers.get(d.name);
      if ((changed || d.volatile === true) && fn !== undefined && !toApply.includes(fn)) {
        toApply.push(fn);
        applyOwner.push(d.name);
      }
    }
    // On failure restore every value and re-apply the steps that had already succeeded (the
    // failed one left its old state in place: a port that could not be bound was never closed).
    const fail = (i: number, err: string): string => {
      restore(defs.length);
      for (let j = 0; j < i; j++) void toApply[j]!();
      return `ERR CONFIG SET failed (possibly related to argument '${applyOwner[i]}') - ${err}`;
    };
    // Apply hooks may be asynchronous (binding a socket); run them in order.
    for (let i = 0; i < toApply.length; i++) {
      const r = toApply[i]!();
      if (r instanceof Promise) {
        const rest = async (): Promise<string | null> => {
          let res: string | null = await r;
          if (res !== null) return fail(i, res);
          for (let j = i + 1; j < toApply.length; j++) {
            res = await toApply[j]!();
            if (res !== null) return fail(j, res);
          }
          return null;
        };
        return { pending: rest() };
      }
      if (r !== null) return { error: fail(i, r) };
    }
    return null;
  }

  /** CONFIG GET's text for a directive. */
  format(name: string): string {
    const d = this.defs.get(name)!;
    if (d.get) return d.get();
    const v = this.values.get(name)!;
    switch (d.type) {
      case 'bool':
        return v ? 'yes' : 'no';
      case 'int':
      case 'memory': {
        const n = this.exact.get(name) ?? BigInt(v as number);
        if (d.allowPercent && n < 0n) return `${-n}%`;
        if (d.octal) return n.toString(8);
        return n.toString();
      }
      default:
        return String(v);
    }
  }

  /** The default as CONFIG GET would print it. */
  defaultText(name: string): string {
    return this.defs.get(name)!.default;
  }

  /** Directives that were set (file or args) but whose feature nodis does not have yet. */
  inertDirectives(): string[] {
    return [...this.explicitlySet].filter((n) => this.defs.get(n)!.active === false && this.format(n) !== this.defaultText(n));
  }

  private commit(d: ConfigDef, v: ConfigValue | bigint): void {
    this.store(d, v);
    this.explicitlySet.add(d.name);
    const stored = this.values.get(d.name)!;
    for (const fn of this.listeners.get(d.name) ?? []) fn(stored, d.name);
  }

  private store(d: ConfigDef, v: ConfigValue | bigint): void {
    if (typeof v === 'bigint') {
      let n: ConfigValue = Number(v);
      if (d.normalize) {
        n = d.normalize(n);
        v = BigInt(n as number);
      }
      this.exact.set(d.name, v);
      this.values.set(d.name, n);
    } else {
      this.values.set(d.name, d.normalize ? d.normalize(v) : v);
    }
  }

  private parseValue(d: ConfigDef, value: string, args: string[], ctx: SpecialContext): ConfigValue | bigint {
    let v: ConfigValue | bigint;
    switch (d.type) {
      case 'bool': {
        const s = value.toLowerCase();
        if (s === 'yes') v = true;
        else if (s === 'no') v = false;
        else throw new ConfigError("argument must be 'yes' or 'no'");
        break;
      }
      case 'int':
      case 'memory':
        v = this.parseNumeric(d, value);
        break;
      case 'enum':
        v = parseEnum(d, args);
        break;
      case 'string':
        v = value;
        break;
      case 'special':
        v = d.parse ? d.parse(args, ctx) : value;
        break;
    }
    if (d.validate) {
      const err = d.validate(typeof v === 'bigint' ? Number(v) : v);
      if (err !== null) throw new ConfigError(err);
    }
    return v;
  }

  /** numericParseString + numericBoundaryCheck from config.c. */
  private parseNumeric(d: ConfigDef, value: string): bigint {
    let n: bigint | null = null;
    if (d.type === 'memory') n = memToBig(value);
    if (n === null && d.allowPercent && value.length > 1 && value.endsWith('%')) {
      const p = string2ll(value.slice(0, -1));
      if (p !== null && p >= 0n) n = -p;
    }
    if (n === null && d.octal && /^[+-]?[0-7]+$/.test(value)) n = BigInt.asIntN(64, BigInt('0o' + value.replace(/^[+-]/, '')) * (value.startsWith('-') ? -1n : 1n));
    if (n === null && d.type === 'int' && !d.octal) n = string2ll(value);
    if (n === null) {
      if (d.type === 'memory' && d.allowPercent) throw new ConfigError('argument must be a memory or percent value');
      if (d.type === 'memory') throw new ConfigError('argument must be a memory value');
      if (d.octal) throw new ConfigError("argument couldn't be parsed as an octal number");
      throw new ConfigError("argument couldn't be parsed into an integer");
    }
    const min = BigInt(d.min ?? LLONG_MIN);
    const max = BigInt(d.max ?? LLONG_MAX);
    if (d.unsigned) {
      const u = n < 0n ? n + TWO64 : n;
      if (u > max || u < min) {
        const f = (b: bigint): string => (d.octal ? b.toString(8) : b.toString());
        throw new ConfigError(`argument must be between ${f(min)} and ${f(max)} inclusive`);
      }
    } else if (d.allowPercent && n < 0n) {
      if (n < min) throw new ConfigError(`percentage argument must be less or equal to ${-min}`);
    } else if (n > max || n < min) {
      throw new ConfigError(`argument must be between ${min} and ${max} inclusive`);
    }
    return n;
  }
}

/** string2ll: optional '-', no leading zeros, no spaces, within 64-bit range. */
export function string2ll(s: string): bigint | null {
  if (!/^-?(0|[1-9]\d*)$/.test(s) || s === '-0') return null;
  const n = BigInt(s);
  if (n > LLONG_MAX || n < LLONG_MIN) return null;
  return n;
}

/** memtoull: digits and an optional unit (b, k, kb, m, mb, g, gb; any case); no sign. */
function memToBig(s: string): bigint | null {
  const m = /^(\d*)(.*)$/.exec(s)!;
  const units: Record<string, bigint> = { '': 1n, b: 1n, k: 1000n, kb: 1024n, m: 1000000n, mb: 1048576n, g: 1000000000n, gb: 1073741824n };
  const mul = units[m[2]!.toLowerCase()];
  if (mul === undefined) return null;
  return BigInt.asUintN(64, BigInt(m[1] === '' ? '0' : m[1]!) * mul);
}

/**
 * Parses Redis memory units: bytes, k/kb/m/mb/g/gb (k = 1000, kb = 1024), case-insensitive.
 * Returns null when the value is not a valid memory amount.
 */
export function parseMemory(value: string): number | null {
  const n = memToBig(value);
  return n === null ? null : Number(n);
}

function parseEnum(d: ConfigDef, args: string[]): string {
  const names = d.enumValues!;
  const bad = (): ConfigError => new ConfigError(`argument(s) must be one of the following: ${names.join(', ')}`);
  if (args.length === 0 || (!d.enumMulti && args.length !== 1)) throw bad();
  const picked = new Set<string>();
  for (const a of args) {
    const lower = a.toLowerCase();
    if (!names.includes(lower)) throw bad();
    picked.add(d.enumSynonyms?.[lower] ?? lower);
  }
  if (!d.enumMulti) return [...picked][0]!;
  // Bit flags: the first name means "none"; print the others in table order.
  const flags = names.slice(1).filter((n) => picked.has(n));
  return flags.length === 0 ? names[0]! : flags.join(' ');
}


