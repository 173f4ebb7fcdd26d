/**
 * src/server/listen-literal.ts: the default bind addresses (`0.0.0.0`, `::`) are listened on
 * without Node's look-up of them (whose first IPv6 test costs milliseconds of every start);
 * any other host is looked up as before, and node:dns is left as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import net from 'node:net';
import { listenLiteral } from '../src/server/listen-literal.js';

/** Listens `opts` through listenLiteral with dns.lookup counted; resolves with the address and the count. */
async function listen(opts: net.ListenOptions): Promise<{ address: net.AddressInfo; lookups: number }> {
  const mutable = dns as { lookup: typeof dns.lookup };
  const real = mutable.lookup;
  let lookups = 0;
  const counted = ((...args: Parameters<typeof dns.lookup>) => {
    lookups++;
    return (real as (...a: unknown[]) => unknown)(...args);
  }) as typeof dns.lookup;
  mutable.lookup = counted;
  const srv = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject).once('listening', resolve);
      listenLiteral(srv, opts);
      assert.equal(dns.lookup, counted, 'node:dns is as it was once listen() returns');
    });
    return { address: srv.address() as net.AddressInfo, lookups };
  } finally {
    mutable.lookup = real;
    await new Promise((r) => srv.close(r));
  }
}

test('0.0.0.0 is listened on without a look-up', async () => {
  const r = await listen({ host: '0.0.0.0', port: 0 });
  assert.equal(r.address.address, '0.0.0.0');
  assert.equal(r.address.family, 'IPv4');
  assert.equal(r.lookups, 0);
});

test(':: (IPv6 only, as `-::*`) is listened on without a look-up', async () => {
  const r = await listen({ host: '::', port: 0, ipv6Only: true });
  assert.equal(r.address.address, '::');
  assert.equal(r.address.family, 'IPv6');
  assert.equal(r.lookups, 0);
});

test('any other host is looked up by Node as before', async () => {
  const r = await listen({ host: '127.0.0.1', port: 0 });
  assert.equal(r.address.address, '127.0.0.1');
  assert.equal(r.lookups, 1);
});
