// Shared by the launchers in bin/: loads one of the package's bundles (dist/pkg/, ESM) with
// V8's compile cache where Node has it (module.enableCompileCache, Node >= 22.1).
'use strict';
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const nodeModule = require('node:module');

module.exports = function load(bundle, run) {
  if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache();
  const file = path.join(__dirname, '..', 'dist', 'pkg', bundle);
  import(pathToFileURL(file).href).then(run, (e) => {
    if (e && e.code === 'ERR_MODULE_NOT_FOUND' && String(e.message).includes(file)) {
      process.stderr.write(`nodis: ${file} is missing; in a checkout, run \`npm run build\` first.\n`);
    } else {
      process.stderr.write(`${(e && e.stack) || e}\n`);
    }
    process.exit(1);
  });
};
