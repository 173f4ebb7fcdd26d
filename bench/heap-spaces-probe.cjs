// Loaded into a nodis server with `node --require` (bench/collections-memory.mjs --spaces): on
// SIGWINCH it writes V8's heap spaces (used and physical bytes) and process.memoryUsage() to
// <tmpdir>/nodis-heap-spaces-<pid>.json, so a bench can see where a server's RSS goes.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');

process.on('SIGWINCH', () => {
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = { used: s.space_used_size, physical: s.physical_space_size };
  fs.writeFileSync(path.join(os.tmpdir(), `nodis-heap-spaces-${process.pid}.json`), JSON.stringify({ memory: process.memoryUsage(), spaces }));
});
