/**
 * dist/pkg/server/start.js: the server's bundle (main.js beside it) loaded with V8's code cache
 * (code-cache.ts). What `startServer()` and the launcher's re-executed node run. Compiled by tsc
 * alone (dist/src/, ES modules, where main.js is an ES module too) it imports main.js instead.
 */
import { fileURLToPath } from 'node:url';
import { requireCached } from './code-cache.js';

const main = new URL('./main.js', import.meta.url);
if (typeof require === 'function') requireCached(fileURLToPath(main));
else void import(main.href);
