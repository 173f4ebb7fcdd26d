/**
 * ACL users, as Redis 7.0.15's acl.c models them.
 *
 * A user has flags (on/off, nopass, sanitize-payload), SHA-256 password hashes and a list of
 * selectors; the first one is the "root" selector, the others come from `(...)` rules. A
 * selector holds a command bitmap indexed by command id (every command and subcommand of the
 * table gets one), allowed first-args for otherwise blocked commands, key patterns with %R/%W
 * permissions and channel patterns. A command is allowed when any selector allows it.
 *
 * The command rules are kept as a bitmap, not as the text the user typed, so ACL LIST/GETUSER
 * rebuild them the way ACLDescribeSelectorCommandRules does: start from +@all or -@all, apply
 * the best-fitting categories, then fix single commands.
 *
 * Dispatch cost: processCommand calls `check()` for every command. While every user is
 * unrestricted (the usual case: only `default`, with all permissions) it returns at once.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Server } from './server.js';
import type { Client } from './client.js';
import type { CommandSpec } from './command-table.js';
import { stringMatch } from '../keyspace/glob.js';
import { commandMetadata } from './command-table.js';
import { queuedConfigUsers } from '../config/load.js';

export const CATEGORIES = [
  'keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog', 'geo',
  'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection', 'transaction', 'scripting',
] as const;

const READ = 1;
const WRITE = 2;
const ALL_PERM = READ | WRITE;

export const enum Denied {
  Ok = 0,
  Cmd = 1,
  Key = 2,
  Auth = 3,
  Channel = 4,
}

/** Why a rule was refused; the texts of ACLSetUserStringError. */
class RuleError extends Error {}
const E = {
  ENOENT: 'Unknown command or category name in ACL',
  EINVAL: 'Syntax error',
  EEXIST: "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
  EISDIR: "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
  ENODEV: 'The password you are trying to remove from the user does not exist',
  EBADMSG: 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters',
  EALREADY: 'Duplicate user found. A user can only be defined once in config files',
  ECHILD: 'Allowing first-arg of a subcommand is not supported',
};

export interface KeyPattern {
  pattern: string;
  flags: number;
}

/** The command table as ACL sees it: ids, categories, top-level order. */
class CommandIndex {
  readonly ids = new Map<CommandSpec, number>();
  readonly specs: CommandSpec[] = [];
  readonly top: CommandSpec[] = [];
  constructor(all: Iterable<CommandSpec>) {
    for (const s of all) {
      this.ids.set(s, this.specs.length);
      this.specs.push(s);
      if (s.parent === null) this.top.push(s);
    }
  }
  id(s: CommandSpec): number {
    return this.ids.get(s)!;
  }
  lookup(name: string, server: Server): CommandSpec | undefined {
    return server.commands.lookupFullName(name);
  }
}

export class Selector {
  allowed: Uint8Array;
  /** The reserved "future commands" bit set only by +@all / allcommands. */
  future = false;
  allCommands = false;
  allKeys = false;
  allChannels = false;
  firstArgs = new Map<number, string[]>();
  keys: KeyPattern[] = [];
  channels: string[] = [];
  constructor(
    size: number,
    readonly root: boolean,
  ) {
    this.allowed = new Uint8Array(size);
  }
  copy(): Selector {
    const s = new Selector(0, this.root);
    s.allowed = this.allowed.slice();
    s.future = this.future;
    s.allCommands = this.allCommands;
    s.allKeys = this.allKeys;
    s.allChannels = this.allChannels;
    for (const [k, v] of this.firstArgs) s.firstArgs.set(k, v.slice());
    s.keys = this.keys.map((k) => ({ ...k }));
    s.channels = this.channels.slice();
    return s;
  }
}

export class User {
  enabled = false;
  nopass = false;
  /** null: neither flag set (a fresh user); reset sets sanitize-payload. */
  sanitizePayload: boolean | null = null;
  passwords: string[] = [];
  selectors: Selector[];
  constructor(
    readonly name: string,
    size: number,
    pubsubAll: boolean,
  ) {
    const root = new Selector(size, true);
    root.allChannels = pubsubAll;
    this.selectors = [root];
  }
  get root(): Selector {
    return this.selectors[0]!;
  }
  copy(name = this.name): User {
    const u = new User(name, 0, false);
    u.enabled = this.enabled;
    u.nopass = this.nopass;
    u.sanitizePayload = this.sanitizePayload;
    u.passwords = this.passwords.slice();
    u.selectors = this.selectors.map((s) => s.copy());
    return u;
  }
  /** Every selector can run everything on every key and channel (the fast path). */
  unrestricted(): boolean {
    const r = this.root;
    return r.allCommands && r.allKeys && r.allChannels;
  }
}

export interface AclLogEntry {
  count: number;
  reason: Denied;
  context: string;
  object: string;
  username: string;
  ctime: number;
  cinfo: string;
}

export function hashPassword(pass: string): string {
  return crypto.createHash('sha256').update(Buffer.from(pass, 'latin1')).digest('hex');
}

function validHash(h: string): boolean {
  return /^[0-9a-f]{64}$/.test(h);
}

function hasSpaces(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0 || (ch <= 32 && (ch === 32 || (ch >= 9 && ch <= 13)))) return true;
  }
  return false;
}

/** Splits "(a b c)" the way sdssplitargs does for the simple, unquoted case (plus quotes). */
function splitArgs(s: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let cur = '';
    if (s[i] === '"' || s[i] === "'") {
      const q = s[i]!;
      i++;
      while (i < s.length && s[i] !== q) cur += s[i++];
      if (i >= s.length) return null;
      i++;
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) cur += s[i++];
    }
    out.push(cur);
  }
  return out;
}

export class Acl {
  readonly users = new Map<string, User>();
  readonly log: AclLogEntry[] = [];
  index: CommandIndex;
  defaultUser: User;
  /** True while every user is unrestricted: check() returns at once. */
  private allUnrestricted = true;

  /** No user has any restriction (every command, key and channel allowed): check() passes all. */
  get unrestricted(): boolean {
    return this.allUnrestricted;
  }

  constructor(readonly server: Server) {
    this.index = new CommandIndex(server.commands.all());
    this.defaultUser = this.createDefaultUser();
    this.users.set('default', this.defaultUser);
  }

  private get pubsubAll(): boolean {
    return this.server.config.getString('acl-pubsub-default') === 'allchannels';
  }

  private createDefaultUser(): User {
    const u = new User('default', this.index.specs.length, false);
    for (const op of ['+@all', '~*', '&*', 'on', 'nopass']) this.setUser(u, op);
    return u;
  }

  newUser(name: string): User {
    return new User(name, this.index.specs.length, this.pubsubAll);
  }

  refreshFastPath(): void {
    let all = true;
    for (const u of this.users.values()) if (!u.unrestricted()) all = false;
    this.allUnrestricted = all;
  }

  // ---- rules ----------------------------------------------------------------------------------

  /** ACLSetUser: applies one rule; throws RuleError with Redis's text. */
  setUser(u: User, op: string): void {
    if (op.length === 0) return;
    const lower = op.toLowerCase();
    if (lower === 'on') u.enabled = true;
    else if (lower === 'off') u.enabled = false;
    else if (lower === 'skip-sanitize-payload') u.sanitizePayload = false;
    else if (lower === 'sanitize-payload') u.sanitizePayload = true;
    else if (lower === 'nopass') {
      u.nopass = true;
      u.passwords = [];
    } else if (lower === 'resetpass') {
      u.nopass = false;
      u.passwords = [];
    } else if (op[0] === '>' || op[0] === '#') {
      let h: string;
      if (op[0] === '>') h = hashPassword(op.slice(1));
      else {
        h = op.slice(1);
        if (!validHash(h)) throw new RuleError(E.EBADMSG);
      }
      if (!u.passwords.includes(h)) u.passwords.push(h);
      u.nopass = false;
    } else if (op[0] === '<' || op[0] === '!') {
      let h: string;
      if (op[0] === '<') h = hashPassword(op.slice(1));
      else {
        h = op.slice(1);
        if (!validHash(h)) throw new RuleError(E.EBADMSG);
      }
      const i = u.passwords.indexOf(h);
      if (i < 0) throw new RuleError(E.ENODEV);
      u.passwords.splice(i, 1);
    } else if (op[0] === '(' && op[op.length - 1] === ')') {
      const s = new Selector(this.index.specs.length, false);
      s.allChannels = this.pubsubAll;
      const args = splitArgs(op.slice(1, -1));
      if (args === null) throw new RuleError(E.EINVAL);
      for (const a of args) this.setSelector(s, a);
      u.selectors.push(s);
    } else if (lower === 'clearselectors') {
      u.selectors.length = 1;
    } else if (lower === 'reset') {
      this.setUser(u, 'resetpass');
      this.setUser(u, 'resetkeys');
      this.setUser(u, 'resetchannels');
      if (this.pubsubAll) this.setUser(u, 'allchannels');
      this.setUser(u, 'off');
      this.setUser(u, 'sanitize-payload');
      this.setUser(u, 'clearselectors');
      this.setUser(u, '-@all');
    } else {
      this.setSelector(u.root, op);
    }
  }

  private setBit(s: Selector, id: number, on: boolean): void {
    s.allowed[id] = on ? 1 : 0;
    if (!on) s.allCommands = false;
  }

  private changePerm(s: Selector, spec: CommandSpec, on: boolean): void {
    const id = this.index.id(spec);
    this.setBit(s, id, on);
    s.firstArgs.delete(id);
    if (spec.subcommands !== null) for (const sub of spec.subcommands.values()) this.setBit(s, this.index.id(sub), on);
  }

  private setCategory(s: Selector, cat: string, on: boolean): boolean {
    const c = cat.toLowerCase();
    if (c === 'all') {
      this.setSelector(s, on ? '+@all' : '-@all');
      return true;
    }
    if (!(CATEGORIES as readonly string[]).includes(c)) return false;
    for (const spec of this.index.specs) if (spec.aclCategories.includes(c)) this.changePerm(s, spec, on);
    return true;
  }

  setSelector(s: Selector, op: string): void {
    const lower = op.toLowerCase();
    if (lower === 'allkeys' || op === '~*') {
      s.allKeys = true;
      s.keys = [];
    } else if (lower === 'resetkeys') {
      s.allKeys = false;
      s.keys = [];
    } else if (lower === 'allchannels' || op === '&*') {
      s.allChannels = true;
      s.channels = [];
    } else if (lower === 'resetchannels') {
      s.allChannels = false;
      s.channels = [];
    } else if (lower === 'allcommands' || lower === '+@all') {
      s.allowed.fill(1);
      s.future = true;
      s.allCommands = true;
      s.firstArgs.clear();
    } else if (lower === 'nocommands' || lower === '-@all') {
      s.allowed.fill(0);
      s.future = false;
      s.allCommands = false;
      s.firstArgs.clear();
    } else if (op[0] === '~' || op[0] === '%') {
      if (s.allKeys) throw new RuleError(E.EEXIST);
      let flags = 0;
      let offset = 1;
      if (op[0] === '%') {
        for (; offset < op.length; offset++) {
          const ch = op[offset]!.toUpperCase();
          if (ch === 'R' && !(flags & READ)) flags |= READ;
          else if (ch === 'W' && !(flags & WRITE)) flags |= WRITE;
          else if (ch === '~') {
            offset++;
            break;
          } else throw new RuleError(E.EINVAL);
        }
      } else flags = ALL_PERM;
      const pat = op.slice(offset);
      if (hasSpaces(pat)) throw new RuleError(E.EINVAL);
      const existing = s.keys.find((k) => k.pattern === pat);
      if (existing === undefined) s.keys.push({ pattern: pat, flags });
      else existing.flags |= flags;
      s.allKeys = false;
    } else if (op[0] === '&') {
      if (s.allChannels) throw new RuleError(E.EISDIR);
      const pat = op.slice(1);
      if (hasSpaces(pat)) throw new RuleError(E.EINVAL);
      if (!s.channels.includes(pat)) s.channels.push(pat);
      s.allChannels = false;
    } else if (op[0] === '+' && op[1] !== '@') {
      const bar = op.lastIndexOf('|');
      if (bar < 0) {
        const spec = this.server.commands.lookupFullName(op.slice(1));
        if (spec === undefined) {
          if (knownToRedis(op.slice(1))) return;
          throw new RuleError(E.ENOENT);
        }
        this.changePerm(s, spec, true);
      } else {
        const cmdName = op.slice(1, bar);
        const sub = op.slice(bar + 1);
        const spec = this.server.commands.lookupFullName(cmdName);
        if (spec === undefined) {
          if (knownToRedis(cmdName) && sub.length > 0) return;
          throw new RuleError(E.ENOENT);
        }
        if (spec.parent !== null) throw new RuleError(E.ECHILD);
        if (sub.length === 0) throw new RuleError(E.EINVAL);
        if (spec.subcommands !== null) {
          const subSpec = this.server.commands.lookupFullName(op.slice(1));
          if (subSpec === undefined) {
            if (knownToRedis(op.slice(1))) return;
            throw new RuleError(E.ENOENT);
          }
          this.changePerm(s, subSpec, true);
        } else {
          const id = this.index.id(spec);
          const list = s.firstArgs.get(id) ?? [];
          if (!list.some((a) => a.toLowerCase() === sub.toLowerCase())) list.push(sub);
          s.firstArgs.set(id, list);
        }
      }
    } else if (op[0] === '-' && op[1] !== '@') {
      const spec = this.server.commands.lookupFullName(op.slice(1));
      if (spec === undefined) {
        if (knownToRedis(op.slice(1))) return;
        throw new RuleError(E.ENOENT);
      }
      this.changePerm(s, spec, false);
    } else if ((op[0] === '+' || op[0] === '-') && op[1] === '@') {
      if (!this.setCategory(s, op.slice(2), op[0] === '+')) throw new RuleError(E.ENOENT);
    } else {
      throw new RuleError(E.EINVAL);
    }
  }

  /**
   * ACLStringSetUser: applies rules to a copy and commits only if all succeed. Returns Redis's
   * error text (without the ERR prefix) or null.
   */
  setUserFromRules(name: string, rules: readonly string[]): string | null {
    const merged: string[] = [];
    let open: string | null = null;
    let openStart = '';
    for (const r of rules) {
      if (open === null) {
        if (r.startsWith('(') && !r.endsWith(')')) {
          open = r;
          openStart = r;
        } else merged.push(r);
      } else {
        open += ' ' + r;
        if (r.endsWith(')')) {
          merged.push(open);
          open = null;
        }
      }
    }
    if (open !== null) return `Unmatched parenthesis in acl selector starting at '${openStart}'.`;
    const existing = this.users.get(name);
    const temp = existing !== undefined ? existing.copy() : this.newUser(name);
    for (const op of merged) {
      try {
        this.setUser(temp, op);
      } catch (e) {
        if (!(e instanceof RuleError)) throw e;
        return `Error in ACL SETUSER modifier '${op}': ${e.message}`;
      }
    }
    if (existing !== undefined) {
      this.killPubsubClientsIfNeeded(temp, existing);
      Object.assign(existing, { enabled: temp.enabled, nopass: temp.nopass, sanitizePayload: temp.sanitizePayload, passwords: temp.passwords, selectors: temp.selectors });
    } else {
      this.users.set(name, temp);
    }
    this.refreshFastPath();
    return null;
  }

  // ---- describing -----------------------------------------------------------------------------

  private categoryBits(s: Selector, cat: string): [number, number] {
    let on = 0;
    let off = 0;
    for (let i = 0; i < this.index.specs.length; i++) {
      if (!this.index.specs[i]!.aclCategories.includes(cat)) continue;
      if (s.allowed[i]) on++;
      else off++;
    }
    return [on, off];
  }

  describeCommandRules(s: Selector): string {
    const fake = new Selector(this.index.specs.length, false);
    let rules = '';
    const additive = !s.future;
    rules += additive ? '-@all ' : '+@all ';
    this.setSelector(fake, additive ? '-@all' : '+@all');
    const temp = s.copy();
    const applied = new Set<string>();
    for (;;) {
      let best: string | null = null;
      let mindiff = Number.MAX_SAFE_INTEGER;
      let maxsame = 0;
      for (const cat of CATEGORIES) {
        if (applied.has(cat)) continue;
        const [on, off] = this.categoryBits(temp, cat);
        const diff = additive ? off : on;
        const same = additive ? on : off;
        if (same > diff && (diff < mindiff || (diff === mindiff && same > maxsame))) {
          best = cat;
          mindiff = diff;
          maxsame = same;
        }
      }
      if (best === null) break;
      this.setCategory(fake, best, additive);
      this.setCategory(temp, best, !additive);
      rules += `${additive ? '+@' : '-@'}${best} `;
      applied.add(best);
    }
    const single = (list: Iterable<CommandSpec>): void => {
      for (const spec of list) {
        const id = this.index.id(spec);
        const userbit = s.allowed[id]!;
        if (userbit !== fake.allowed[id]) {
          rules += `${userbit ? '+' : '-'}${spec.fullName} `;
          this.changePerm(fake, spec, userbit === 1);
        }
        if (spec.subcommands !== null) single(spec.subcommands.values());
        const fa = s.firstArgs.get(id);
        if (userbit === 0 && fa !== undefined) for (const a of fa) rules += `+${spec.fullName}|${a} `;
      }
    };
    single(this.index.top);
    return rules.slice(0, -1);
  }

  private patternString(k: KeyPattern): string {
    return (k.flags === ALL_PERM ? '~' : k.flags === READ ? '%R~' : '%W~') + k.pattern;
  }

  describeSelector(s: Selector): string {
    let res = '';
    if (s.allKeys) res += '~* ';
    else for (const k of s.keys) res += this.patternString(k) + ' ';
    if (s.allChannels) res += '&* ';
    else {
      res += 'resetchannels ';
      for (const c of s.channels) res += `&${c} `;
    }
    return res + this.describeCommandRules(s);
  }

  userFlags(u: User): string[] {
    const f: string[] = [u.enabled ? 'on' : 'off'];
    if (u.nopass) f.push('nopass');
    if (u.sanitizePayload !== null) f.push(u.sanitizePayload ? 'sanitize-payload' : 'skip-sanitize-payload');
    return f;
  }

  describeUser(u: User): string {
    let res = '';
    for (const f of this.userFlags(u)) res += f + ' ';
    for (const p of u.passwords) res += `#${p} `;
    for (const s of u.selectors) {
      const d = this.describeSelector(s);
      res += s.root ? d : ` (${d})`;
    }
    return res;
  }

  selectorKeys(s: Selector): string {
    if (s.allKeys) return '~*';
    return s.keys.map((k) => this.patternString(k)).join(' ');
  }

  selectorChannels(s: Selector): string {
    if (s.allChannels) return '&*';
    return s.channels.map((c) => `&${c}`).join(' ');
  }

  // ---- authentication --------------------------------------------------------------------------

  checkCredentials(name: string, pass: string): boolean {
    const u = this.users.get(name);
    if (u === undefined || !u.enabled) return false;
    if (u.nopass) return true;
    const h = hashPassword(pass);
    for (const p of u.passwords) {
      if (p.length === h.length && crypto.timingSafeEqual(Buffer.from(p), Buffer.from(h))) return true;
    }
    return false;
  }

  /** The user a client runs as (a deleted user's clients are being closed: treat as default). */
  userOf(c: Client): User {
    return this.users.get(c.user) ?? this.defaultUser;
  }

  // ---- permission checks ------------------------------------------------------------------------

  private keyRefs(spec: CommandSpec, argv: readonly string[]): { pos: number; flags: number }[] {
    if (spec.keySpecs.length === 0) return spec.getKeys(argv).map((pos) => ({ pos, flags: 0 }));
    const out = this.keySpecRefs(spec, argv);
    if (spec.getKeysOverride === null) return out;
    // A getkeys_proc (MIGRATE, SORT) finds the keys; the key specs still say how each is accessed.
    // A key no spec can locate takes the last spec's flags (SORT's STORE, after its BY/GET spec).
    const flagsAt = new Map(out.map((r) => [r.pos, r.flags]));
    const fallback = keySpecAccess(spec, spec.keySpecs[spec.keySpecs.length - 1]!, argv);
    return spec.getKeysOverride(argv).map((pos) => ({ pos, flags: flagsAt.get(pos) ?? fallback }));
  }

  /** Keys found by the key specs alone, each with its spec's access flags. */
  private keySpecRefs(spec: CommandSpec, argv: readonly string[]): { pos: number; flags: number }[] {
    const out: { pos: number; flags: number }[] = [];
    for (const ks of spec.keySpecs) {
      // Shard channels (SPUBLISH, SSUBSCRIBE) are key specs flagged NOT_KEY: not keys for ACL.
      if (ks.flags.includes('NOT_KEY')) continue;
      const flags = keySpecAccess(spec, ks, argv);
      const one = { ...spec, keySpecs: [ks], getKeysOverride: null } as unknown as CommandSpec;
      for (const pos of spec.getKeys.call(one, argv)) out.push({ pos, flags });
    }
    return out;
  }

  private channelRefs(spec: CommandSpec, argv: readonly string[]): { pos: number; pattern: boolean }[] {
    const n = spec.fullName;
    if (n === 'publish' || n === 'spublish') return [{ pos: 1, pattern: false }];
    if (n === 'subscribe' || n === 'ssubscribe' || n === 'psubscribe') {
      const out: { pos: number; pattern: boolean }[] = [];
      for (let i = 1; i < argv.length; i++) out.push({ pos: i, pattern: n === 'psubscribe' });
      return out;
    }
    return [];
  }

  private checkChannel(s: Selector, channel: string, isPattern: boolean): boolean {
    for (const p of s.channels) {
      if (isPattern ? p === channel : stringMatch(p, channel)) return true;
    }
    return false;
  }

  private checkSelector(s: Selector, spec: CommandSpec, argv: readonly string[]): [Denied, number] {
    if (!s.allCommands && !spec.noAuth) {
      const id = this.index.id(spec);
      if (s.allowed[id] === 0) {
        const fa = s.firstArgs.get(id);
        const idx = spec.parent !== null ? 2 : 1;
        if (fa === undefined || argv.length < 2 || idx >= argv.length) return [Denied.Cmd, 0];
        const arg = argv[idx]!.toLowerCase();
        if (!fa.some((a) => a.toLowerCase() === arg)) return [Denied.Cmd, 0];
      }
    }
    if (!s.allKeys && (spec.keySpecs.length > 0 || spec.getKeysOverride !== null)) {
      for (const ref of this.keyRefs(spec, argv)) {
        const key = argv[ref.pos]!;
        let ok = false;
        for (const p of s.keys) {
          if ((p.flags & ref.flags) !== ref.flags) continue;
          if (stringMatch(p.pattern, key)) {
            ok = true;
            break;
          }
        }
        if (!ok) return [Denied.Key, ref.pos];
      }
    }
    if (!s.allChannels) {
      for (const ref of this.channelRefs(spec, argv)) {
        if (!this.checkChannel(s, argv[ref.pos]!, ref.pattern)) return [Denied.Channel, ref.pos];
      }
    }
    return [Denied.Ok, 0];
  }

  /** ACLCheckAllUserCommandPerm: OK if any selector allows; else the most relevant denial. */
  checkUser(u: User, spec: CommandSpec, argv: readonly string[]): [Denied, number] {
    if (u.unrestricted()) return [Denied.Ok, 0];
    let relevant = Denied.Cmd;
    let pos = 0;
    for (const s of u.selectors) {
      const [r, p] = this.checkSelector(s, spec, argv);
      if (r === Denied.Ok) return [Denied.Ok, 0];
      if (r > relevant || (r === relevant && p > pos)) {
        relevant = r;
        pos = p;
      }
    }
    return [relevant, pos];
  }

  /**
   * ACLUserCheckCmdWithUnrestrictedKeyAccess: some selector of the user both allows this command
   * and reads every key (`allkeys`, `~*` or `%R~*`). SORT's BY and GET patterns name keys by
   * their data, which no key spec can check, so Redis lets only such users use them.
   */
  readsEveryKey(c: Client, spec: CommandSpec, argv: readonly string[]): boolean {
    if (this.allUnrestricted || c.isMaster || c.fake) return true;
    for (const s of this.userOf(c).selectors) {
      if (this.checkSelector(s, spec, argv)[0] !== Denied.Ok) continue;
      if (s.allKeys || s.keys.some((p) => (p.flags & READ) === READ && p.pattern === '*')) return true;
    }
    return false;
  }

  /** True when the client's user may run the command on these keys and channels (no ACL LOG). */
  permits(c: Client, spec: CommandSpec, argv: readonly string[]): boolean {
    if (this.allUnrestricted || c.isMaster || c.fake) return true;
    return this.checkUser(this.userOf(c), spec, argv)[0] === Denied.Ok;
  }

  /**
   * The dispatch check: null when the client may run the command, else the NOPERM error (and
   * an ACL LOG entry). `caller` is the client whose user and info apply (the script caller).
   */
  check(c: Client, spec: CommandSpec, argv: readonly string[], context: 'toplevel' | 'multi' | 'exec' | 'lua', caller: Client = c): string | null {
    if (this.allUnrestricted || caller.isMaster || caller.fake) return null;
    const u = this.userOf(caller);
    const [r, pos] = this.checkUser(u, spec, argv);
    if (r === Denied.Ok) return null;
    const object = r === Denied.Cmd ? spec.fullName : argv[pos]!;
    this.addLog(caller, r, context === 'exec' ? 'multi' : context, object, u.name);
    if (context === 'lua') return `The user executing the script ${SCRIPT_REASONS[r]}`;
    if (context === 'exec') {
      return `NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: ${EXEC_REASONS[r]}`;
    }
    return `NOPERM ${errorMessage(r, spec)}`;
  }

  addLog(c: Client, reason: Denied, context: string, object: string, username: string): void {
    const now = this.server.clock.now();
    const cinfo = this.server.clientInfoString(c);
    const max = Number(this.server.config.get('acllog-max-len'));
    // Like addACLLogEntry, only the ten newest entries are candidates for grouping.
    for (let i = 0; i < this.log.length && i < 10; i++) {
      const e = this.log[i]!;
      if (e.reason === reason && e.context === context && now - e.ctime <= 60000 && e.object === object && e.username === username) {
        e.count++;
        e.ctime = now;
        e.cinfo = cinfo;
        this.log.splice(i, 1);
        this.log.unshift(e);
        return;
      }
    }
    this.log.unshift({ count: 1, reason, context, object, username, ctime: now, cinfo });
    while (this.log.length > max) this.log.pop();
  }

  /** AUTH/HELLO failure: logged as Redis does (object = the command name). */
  logAuthFailure(username: string): void {
    const c = this.server.currentClient;
    if (c === null) return;
    this.addLog(c, Denied.Auth, c.multi !== null ? 'multi' : 'toplevel', c.argv[0] ?? 'auth', username);
  }

  // ---- clients of changed users -------------------------------------------------------------------

  /** ACLFreeUserAndKillClients: disconnects everyone logged in as the user. */
  killClientsOf(name: string): void {
    for (const c of [...this.server.clients.values()]) {
      if (c.user !== name || c.fake) continue;
      c.user = 'default';
      c.authenticated = false;
      if (c === this.server.currentClient) this.server.closeAfterReply(c);
      else this.server.freeClient(c);
    }
  }

  /** ACLKillPubsubClientsIfNeeded: subscribers whose channels are no longer allowed are closed. */
  private killPubsubClientsIfNeeded(nu: User, old: User): void {
    const newAll = nu.root.allChannels;
    if (newAll) return;
    const oldAll = old.root.allChannels;
    if (!oldAll && old.root.channels.every((p) => nu.root.channels.includes(p))) return;
    for (const c of [...this.server.clients.values()]) {
      if (c.user !== old.name || !c.inPubSubContext || c.fake) continue;
      let kill = false;
      for (const p of c.patterns) if (!this.checkChannel(nu.root, p, true)) kill = true;
      for (const ch of c.channels) if (!this.checkChannel(nu.root, ch, false)) kill = true;
      for (const ch of c.shardChannels) if (!this.checkChannel(nu.root, ch, false)) kill = true;
      if (!kill) continue;
      if (c === this.server.currentClient) this.server.closeAfterReply(c);
      else this.server.freeClient(c);
    }
  }

  deleteUser(name: string): boolean {
    if (!this.users.delete(name)) return false;
    this.killClientsOf(name);
    this.refreshFastPath();
    return true;
  }

  // ---- files --------------------------------------------------------------------------------------

  /** ACLLoadFromFile: all or nothing; returns the error text or null. */
  loadFile(file: string): string | null {
    let text: string;
    try {
      text = fs.readFileSync(file, 'latin1');
    } catch (e) {
      return `Error loading ACLs, opening file '${file}': ${(e as Error).message}`;
    }
    const fresh = new Map<string, User>();
    const errors: string[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      const words = splitArgs(line);
      if (words === null) {
        errors.push(`${file}:${i + 1}: unbalanced quotes in acl line. `);
        continue;
      }
      if (words[0] !== 'user' || words.length < 2) {
        errors.push(`${file}:${i + 1}: should start with user keyword. `);
        continue;
      }
      const name = words[1]!;
      if (hasSpaces(name)) {
        errors.push(`${file}:${i + 1}: username '${name}' contains invalid characters. `);
        continue;
      }
      if (fresh.has(name)) {
        errors.push(`${file}:${i + 1}: Duplicate user '${name}' found. `);
        continue;
      }
      const u = this.newUser(name);
      let bad = false;
      const rules = words.slice(2);
      for (const op of mergeSelectors(rules) ?? []) {
        try {
          this.setUser(u, op);
        } catch (e) {
          if (!(e instanceof RuleError)) throw e;
          errors.push(`${file}:${i + 1}: ${e.message}. `);
          bad = true;
          break;
        }
      }
      if (mergeSelectors(rules) === null) {
        errors.push(`${file}:${i + 1}: Unmatched parenthesis in acl selector. `);
        bad = true;
      }
      if (!bad) fresh.set(name, u);
    }
    if (errors.length > 0) return errors.join('').trimEnd();
    // The default user object survives (its clients stay); every other user is replaced.
    const newDefault = fresh.get('default') ?? this.createDefaultUser();
    fresh.delete('default');
    const old = [...this.users.keys()].filter((n) => n !== 'default');
    Object.assign(this.defaultUser, {
      enabled: newDefault.enabled,
      nopass: newDefault.nopass,
      sanitizePayload: newDefault.sanitizePayload,
      passwords: newDefault.passwords,
      selectors: newDefault.selectors,
    });
    for (const n of old) this.users.delete(n);
    for (const [n, u] of fresh) this.users.set(n, u);
    for (const n of old) this.killClientsOf(n);
    this.refreshFastPath();
    return null;
  }

  saveFile(file: string): boolean {
    let out = '';
    for (const u of [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      out += `user ${u.name} ${this.describeUser(u)}\n`;
    }
    try {
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, out, 'latin1');
      fs.renameSync(tmp, file);
      return true;
    } catch {
      return false;
    }
  }

  /** Users in ACL LIST/USERS order (rax order: bytewise by name). */
  sortedUsers(): User[] {
    return [...this.users.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/**
 * A command Redis 7.0.15 has but nodis does not implement (READONLY, MIGRATE…): rules naming
 * it are accepted and have no effect, so ACL files written for Redis still load.
 */
function knownToRedis(fullName: string): boolean {
  const [top, sub] = fullName.toLowerCase().split('|') as [string, string | undefined];
  const doc = commandMetadata()[top];
  if (doc === undefined) return false;
  return sub === undefined || doc.subcommands?.[sub] !== undefined;
}

/** READ/WRITE access a key spec grants its keys (ACCESS reads; INSERT, DELETE, UPDATE write). */
function keySpecAccess(spec: CommandSpec, ks: CommandSpec['keySpecs'][number], argv: readonly string[]): number {
  if (ks.flags.includes('VARIABLE_FLAGS')) return variableKeyFlags(spec.fullName, argv);
  let flags = 0;
  for (const f of ks.flags) {
    if (f === 'ACCESS') flags |= READ;
    else if (f === 'INSERT' || f === 'DELETE' || f === 'UPDATE') flags |= WRITE;
  }
  return flags;
}

/** setGetKeys / bitfieldGetKeys: the key's access depends on the arguments. */
function variableKeyFlags(name: string, argv: readonly string[]): number {
  if (name === 'set') {
    for (let i = 3; i < argv.length; i++) if (argv[i]!.toLowerCase() === 'get') return READ | WRITE;
    return WRITE;
  }
  // bitfield: read-only while only GET / OVERFLOW appear.
  for (let i = 2; i < argv.length; i++) {
    const rem = argv.length - i - 1;
    const a = argv[i]!.toLowerCase();
    if (a === 'get' && rem >= 2) i += 2;
    else if (a === 'overflow' && rem >= 1) i += 1;
    else return READ | WRITE;
  }
  return READ;
}

function mergeSelectors(rules: readonly string[]): string[] | null {
  const merged: string[] = [];
  let open: string | null = null;
  for (const r of rules) {
    if (open === null) {
      if (r.startsWith('(') && !r.endsWith(')')) open = r;
      else merged.push(r);
    } else {
      open += ' ' + r;
      if (r.endsWith(')')) {
        merged.push(open);
        open = null;
      }
    }
  }
  return open === null ? merged : null;
}

const SCRIPT_REASONS: Record<number, string> = {
  [Denied.Cmd]: "can't run this command or subcommand",
  [Denied.Key]: "can't access at least one of the keys mentioned in the command arguments",
  [Denied.Channel]: "can't publish to the channel mentioned in the command",
};

const EXEC_REASONS: Record<number, string> = {
  [Denied.Cmd]: 'no permission to execute the command or subcommand',
  [Denied.Key]: 'no permission to touch the specified keys',
  [Denied.Channel]: 'no permission to access one of the channels used as arguments',
};

export function errorMessage(r: Denied, spec: CommandSpec): string {
  if (r === Denied.Cmd) return `this user has no permissions to run the '${spec.fullName}' command`;
  if (r === Denied.Key) return 'this user has no permissions to access one of the keys used as arguments';
  if (r === Denied.Channel) return 'this user has no permissions to access one of the channels used as arguments';
  return 'no permission';
}

const registries = new WeakMap<Server, Acl>();

export function aclOf(server: Server): Acl {
  return registries.get(server)!;
}

/** Installs the registry, the auth hooks and the requirepass mapping; loads config users / aclfile. */
export function install(server: Server, configUsers: readonly string[][] = queuedConfigUsers): void {
  const acl = new Acl(server);
  registries.set(server, acl);
  const applyRequirepass = (pass: string): void => {
    acl.setUser(acl.defaultUser, 'resetpass');
    acl.setUser(acl.defaultUser, pass === '' ? 'nopass' : `>${pass}`);
  };
  server.config.watch('requirepass', (v) => applyRequirepass(String(v)));
  server.hooks.authRequired = () => !(acl.defaultUser.nopass && acl.defaultUser.enabled);
  server.hooks.checkUserPassword = (user, pass) => {
    if (acl.checkCredentials(user, pass)) return true;
    acl.logAuthFailure(user);
    return false;
  };
  // While every user may run everything, the hook answers itself: check() is too large for V8
  // to inline into admit(), which calls it for every command.
  server.hooks.aclCheck = (c, spec, argv, context, caller) => (acl.unrestricted ? null : acl.check(c, spec, argv, context, caller));
  // Start-up ACL errors are fatal, as in Redis: log and exit.
  const fatal = (msg: string): never => {
    server.log.warning(msg);
    process.exit(1);
  };
  const aclfile = server.config.getString('aclfile');
  if (configUsers.length > 0 && aclfile !== '') {
    fatal('Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid. This setup is very likely to lead to configuration errors and security holes, please define either an ACL file or declare users directly in your redis.conf, but not both.');
  }
  for (const words of configUsers) {
    const name = words[0] ?? '';
    // ACLLoadConfiguredUsers: a `user default …` line starts from a reset default user.
    if (name === 'default') acl.setUser(acl.defaultUser, 'reset');
    const err = acl.setUserFromRules(name, words.slice(1));
    if (err !== null) fatal(`Error in user declaration '${name}': ${err}`);
  }
  if (aclfile !== '') {
    const err = acl.loadFile(aclfile);
    if (err !== null) fatal(`Aborting Redis startup because of ACL errors: ${err}`);
  }
}
