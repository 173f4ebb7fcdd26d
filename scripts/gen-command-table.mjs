#!/usr/bin/env node
// Generates src/commands/redis-command-table.json from Redis 7.0.15's command JSON files
// (src/commands/*.json in Redis's source, BSD-3-Clause, Copyright Redis Ltd.).
// The table is data: arity, flags, ACL categories, key specs, arguments and docs for every
// command. nodis's handlers are registered by name against it (src/server/command-table.ts).
// Usage: node scripts/gen-command-table.mjs [path/to/redis/src/commands]
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';

const dir = process.argv[2] ?? path.join(os.homedir(), '.cache/nodis-redis-suite/redis-7.0.15/src/commands');
const out = path.join(path.dirname(new URL(import.meta.url).pathname), '../src/commands/redis-command-table.json');
const top = {};
const subs = [];
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const doc = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  for (const [name, spec] of Object.entries(doc)) {
    delete spec.function;
    delete spec.get_keys_function;
    if (spec.container) subs.push([spec.container.toLowerCase(), name.toLowerCase(), spec]);
    else top[name.toLowerCase()] = spec;
  }
}
for (const [container, name, spec] of subs) {
  const parent = top[container];
  if (!parent) throw new Error(`no container ${container}`);
  delete spec.container;
  (parent.subcommands ??= {})[name] = spec;
}
fs.writeFileSync(out, JSON.stringify({
  _source: 'Redis 7.0.15 src/commands/*.json, BSD-3-Clause, Copyright (c) Redis Ltd.',
  commands: top,
}));
console.log(`wrote ${Object.keys(top).length} commands, ${subs.length} subcommands to ${out}`);
