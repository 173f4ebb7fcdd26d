/**
 * The typed configuration registry behind redis.conf, `--name value` arguments, CONFIG GET/SET
 * and CONFIG REWRITE. Each directive is declared once (config/directives.ts) with Redis's
 * default, type, range and mutability; values are validated and parsed here with Redis's error
 * texts, and modules subscribe to the values they act on.
 *
 * A directive whose feature does not exist yet is still validated and stored, and listed by
 * `inertDirectives()` so start-up can warn once and docs/COMPATIBILITY.md can say so.
 */

export type ConfigType = 'bool' | 'int' | 'memory' | 'enum' | 'string' | 'special';

export interface ConfigDef {
  name: string;
  aliases?: string[];
  type: ConfigType;
  /** Default, written as CONFIG GET prints it. */
  default: string;
  min?: number;
  max?: number;
  /** For 'enum': allowed values (lowercase). For multi-flag enums see `enumMulti`. */
  enumValues?: string[];
  /** An enum that takes several space-separated values (e.g. `oom-score-adj-values`-like). */
  enumMulti?: boolean;
  /** CONFIG SET refuses it ("can't set immutable config"). */
  immutable?: boolean;
  /** CONFIG GET hides it (none in Redis 7.0 except via ACL); CONFIG REWRITE skips it. */
  sensitive?: boolean;
  /** false: the directive is accepted and stored but its feature is not in nodis yet. */
  active?: boolean;
  /** For 'memory' ints that may be given as percentages (maxmemory-clients). */
  allowPercent?: boolean;
  /** For 'special': validates and canonicalises a value (args joined by space), or throws. */
  parse?: (value: string, args: string[]) => string;
  /** For 'int' with time units etc.: nothing yet. */
  /** The directive can appear several times in a file, each adding (save, rename-command…). */
  multiple?: boolean;
}

export class ConfigError extends Error {}

/** A stored value: booleans, numbers (int/memory), or strings (enum/string/special). */
export type ConfigValue = boolean | number | string;

type Listener = (value: ConfigValue, name: string) => void;

export class ConfigRegistry {
  private readonly defs = new Map<string, ConfigDef>();
  private readonly byAlias = new Map<string, string>();
  private readonly values = new Map<string, ConfigValue>();
  private readonly listeners = new Map<string, Listener[]>();
  /** Directives set explicitly (file, args, CONFIG SET) — CONFIG REWRITE writes these. */
  private readonly explicitlySet = new Set<string>();

  constructor(defs: readonly ConfigDef[]) {
    for (const d of defs) {
      this.defs.set(d.name, d);
      for (const a of d.aliases ?? []) this.byAlias.set(a, d.name);
      this.values.set(d.name, this.parseValue(d, d.default, d.default.split(' ')));
    }
  }

  /** The canonical name for a name or alias (lowercase), or undefined if unknown. */
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
    return this.get(name) as string;
  }

  /** Calls `fn` now and whenever the value changes. */
  watch(name: string, fn: Listener): void {
    const list = this.listeners.get(name) ?? [];
    list.push(fn);
    this.listeners.set(name, list);
    fn(this.get(name), name);
  }

  wasSet(name: string): boolean {
    return this.explicitlySet.has(name);
  }

  /**
   * Sets a directive from the config file, the command line or CONFIG SET. Throws ConfigError
   * with Redis's message part (the caller adds its own prefix). `args` are the raw words.
   */
  set(name: string, args: string[], source: 'file' | 'args' | 'runtime'): void {
    const canonical = this.resolve(name);
    if (canonical === undefined) throw new ConfigError('Bad directive or wrong number of arguments');
    const d = this.defs.get(canonical)!;
    if (source === 'runtime' && d.immutable) throw new ConfigError("can't set immutable config");
    const joined = args.join(' ');
    const v = this.parseValue(d, joined, args);
    this.values.set(canonical, v);
    this.explicitlySet.add(canonical);
    for (const fn of this.listeners.get(canonical) ?? []) fn(v, canonical);
  }

  /** CONFIG GET's text for a directive. */
  format(name: string): string {
    const d = this.defs.get(name)!;
    const v = this.values.get(name)!;
    if (d.type === 'bool') return v ? 'yes' : 'no';
    return String(v);
  }

  /** Names (canonical and aliases) matching a glob, for CONFIG GET. */
  namesMatching(matches: (name: string) => boolean): [string, string][] {
    const out: [string, string][] = [];
    for (const d of this.defs.values()) {
      if (matches(d.name)) out.push([d.name, d.name]);
      for (const a of d.aliases ?? []) if (matches(a)) out.push([a, d.name]);
    }
    return out;
  }

  /** Directives that were set (file or args) but whose feature nodis does not have yet. */
  inertDirectives(): string[] {
    return [...this.explicitlySet].filter((n) => this.defs.get(n)!.active === false);
  }

  private parseValue(d: ConfigDef, value: string, args: string[]): ConfigValue {
    switch (d.type) {
      case 'bool': {
        const v = value.toLowerCase();
        if (v === 'yes') return true;
        if (v === 'no') return false;
        throw new ConfigError('argument must be \'yes\' or \'no\'');
      }
      case 'int': {
        if (!/^-?\d+$/.test(value)) throw new ConfigError('argument couldn\'t be parsed into an integer');
        const n = Number(value);
        this.checkRange(d, n);
        return n;
      }
      case 'memory': {
        if (d.allowPercent && /^\d+%$/.test(value)) return value;
        const n = parseMemory(value);
        if (n === null) throw new ConfigError('argument must be a memory value');
        this.checkRange(d, n);
        return n;
      }
      case 'enum': {
        const parts = d.enumMulti ? value.toLowerCase().split(/\s+/).filter(Boolean) : [value.toLowerCase()];
        for (const p of parts) {
          if (!d.enumValues!.includes(p)) {
            throw new ConfigError(`argument(s) must be one of the following: ${d.enumValues!.join(', ')}`);
          }
        }
        return parts.join(' ');
      }
      case 'string':
        return value;
      case 'special':
        return d.parse ? d.parse(value, args) : value;
    }
  }

  private checkRange(d: ConfigDef, n: number): void {
    const min = d.min ?? -Infinity;
    const max = d.max ?? Infinity;
    if (n < min || n > max) {
      throw new ConfigError(`argument must be between ${min} and ${max} inclusive`);
    }
  }
}

/**
 * Parses Redis memory units: bytes, k/kb/m/mb/g/gb (k = 1000, kb = 1024), case-insensitive.
 * Returns null when the value is not a valid memory amount.
 */
export function parseMemory(value: string): number | null {
  const m = /^(-?\d+)([a-z]*)$/i.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const units: Record<string, number> = {
    '': 1, b: 1, k: 1000, kb: 1024, m: 1000 ** 2, mb: 1024 ** 2, g: 1000 ** 3, gb: 1024 ** 3,
  };
  const mul = units[m[2]!.toLowerCase()];
  if (mul === undefined) return null;
  return n * mul;
}
