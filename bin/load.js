// Shared by the launchers in bin/: loads one of the package's program bundles (dist/pkg/,
// CommonJS) with V8's compile cache where Node has it (module.enableCompileCache, Node >= 22.1).
'use strict';
const path = require('node:path');
const nodeModule = require('node:module');

module.exports = function load(bundle) {
  if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();
  const file = path.join(__dirname, '..', 'dist', 'pkg', bundle);
  try {
    return require(file);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(file)) {
      process.stderr.write(`nodis: ${file} is missing; in a checkout, run \`npm run build\` first.\n`);
      process.exit(1);
    }
    throw e;
  }
};
