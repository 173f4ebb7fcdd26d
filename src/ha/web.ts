/**
 * `--web`: the same view as a page. nodis-ha serves one HTML page, the two libraries it draws
 * with (Cytoscape.js for the topology graph, uPlot for offsets over time — both from the
 * package's own node_modules, so it works offline), a Server-Sent Events stream of snapshots,
 * and POST /action for the same actions as the terminal's keys. Loopback only by default.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { LoadStats } from './load.js';
import type { Snapshot } from './monitor.js';
import { PAGE } from './page.js';

export type Action = 'kill-master' | 'kill' | 'pause' | 'restart' | 'add-replica' | 'promote';

export interface WebOptions {
  host: string;
  port: number;
  state: () => { snapshot: Snapshot; load: LoadStats | null; actions: boolean };
  onUpdate: (fn: () => void) => void;
  /** Runs an action; resolves with a line for the page (or rejects with the reason). */
  act: (action: Action, node: string) => Promise<string>;
}

const require = createRequire(import.meta.url);

/** The browser files of the libraries, resolved in the installed package's node_modules. */
function vendorFiles(): Map<string, { file: string; type: string }> {
  // Both packages' main files live in their dist/, beside the browser builds served here.
  const cy = path.dirname(require.resolve('cytoscape'));
  const uplot = path.dirname(require.resolve('uplot'));
  return new Map([
    ['/vendor/cytoscape.min.js', { file: path.join(cy, 'cytoscape.min.js'), type: 'text/javascript' }],
    ['/vendor/uPlot.iife.min.js', { file: path.join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript' }],
    ['/vendor/uPlot.min.css', { file: path.join(uplot, 'uPlot.min.css'), type: 'text/css' }],
  ]);
}

const ACTIONS = new Set<string>(['kill-master', 'kill', 'pause', 'restart', 'add-replica', 'promote']);

export function startWeb(o: WebOptions): Promise<{ url: string; close: () => void }> {
  const vendor = vendorFiles();
  const streams = new Set<http.ServerResponse>();
  let queued = false;
  o.onUpdate(() => {
    if (queued || streams.size === 0) return;
    queued = true;
    setTimeout(() => {
      queued = false;
      const data = `data: ${JSON.stringify(o.state())}\n\n`;
      for (const res of streams) res.write(data);
    }, 250).unref();
  });
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
      return;
    }
    const v = vendor.get(url.pathname);
    if (req.method === 'GET' && v !== undefined) {
      res.writeHead(200, { 'content-type': v.type, 'cache-control': 'max-age=3600' });
      fs.createReadStream(v.file).pipe(res);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`data: ${JSON.stringify(o.state())}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/action') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      req.on('end', () => {
        let action = '';
        let node = '';
        try {
          const parsed = JSON.parse(body) as { action?: unknown; node?: unknown };
          action = String(parsed.action ?? '');
          node = String(parsed.node ?? '');
        } catch {
          action = '';
        }
        if (!ACTIONS.has(action) || !o.state().actions) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: o.state().actions ? 'unknown action' : 'read-only view (nodis-ha watch)' }));
          return;
        }
        o.act(action as Action, node).then(
          (line) => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ ok: line }));
          },
          (e: Error) => {
            res.writeHead(409, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: e.message }));
          },
        );
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      const a = server.address() as { port: number };
      resolve({
        url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${a.port}/`,
        close: () => {
          for (const r of streams) r.end();
          server.close();
        },
      });
    });
  });
}
