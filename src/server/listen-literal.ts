/**
 * `net.Server.listen()` on the default `bind * -::*` addresses without Node's look-up of them.
 * Node looks every explicit host up (dns.lookup → net.isIP) even when it is an address, and the
 * first test of an IPv6 address compiles net's large IPv6 regular expression: 2–5 ms of CPU at
 * every start, for `::` (docs/PERFORMANCE.md "Start-up"). For `0.0.0.0` and `::` this answers
 * the look-up itself, as dns.lookup answers for an address (with it, on the next tick), and only
 * for the one synchronous listen() call: node:dns's `lookup` is put back before this returns.
 * Any other host takes Node's own path.
 */
import dns from 'node:dns';
import type net from 'node:net';

type Lookup = typeof dns.lookup;
type LookupCallback = (err: null, address: string, family: number) => void;

export function listenLiteral(srv: net.Server, opts: net.ListenOptions): void {
  const family = opts.host === '::' ? 6 : opts.host === '0.0.0.0' ? 4 : 0;
  if (family === 0) {
    srv.listen(opts);
    return;
  }
  const mutable = dns as { lookup: Lookup };
  const real = mutable.lookup;
  mutable.lookup = ((hostname: string, options: unknown, callback?: unknown): void => {
    const cb = (typeof options === 'function' ? options : callback) as LookupCallback;
    process.nextTick(cb, null, hostname, family);
  }) as unknown as Lookup;
  try {
    srv.listen(opts);
  } finally {
    mutable.lookup = real;
  }
}
