/**
 * Cluster routing (src/cluster/routing.ts) in-process, against a ClusterView the test writes:
 * which node serves a query and the error that sends the client there, as getNodeByQuery and
 * clusterRedirectClient (cluster.c) decide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type RouteQuery, Redirect, blockedRedirection, redirectionError, routeQuery } from '../src/cluster/routing.js';
import { keyHashSlot } from '../src/cluster/slot.js';
import { TestClusterView, nodeRef } from './helpers/cluster-view.js';

const ME = nodeRef(1);
const OTHER = nodeRef(2);
const FOO = keyHashSlot('foo'); // 12182
const BAR = keyHashSlot('bar'); // 5061

function query(keys: string[], opts: Partial<RouteQuery> & { present?: string[] } = {}): RouteQuery {
  const present = new Set(opts.present ?? []);
  return {
    commands: [{ argv: ['cmd', ...keys], keys: keys.map((_, i) => i + 1) }],
    shardPubsub: false,
    migrate: false,
    write: false,
    asking: false,
    readOnlyClient: false,
    allowReadsWhenDown: false,
    allowPubsubshardWhenDown: true,
    keyExists: (k) => present.has(k),
    ...opts,
  };
}

function errorOf(view: TestClusterView, q: RouteQuery): string {
  return redirectionError(view, routeQuery(view, q), false);
}

test('a query without keys is served here whatever the state', () => {
  const view = new TestClusterView(ME);
  view.up = false;
  assert.equal(routeQuery(view, query([])).redirect, Redirect.None);
});

test('keys of a slot served here run; of another node: MOVED slot ip:port', () => {
  const view = new TestClusterView(ME).assign(ME, 0, 8191).assign(OTHER, 8192, 16383);
  const here = routeQuery(view, query(['bar']));
  assert.equal(here.redirect, Redirect.None);
  assert.equal(here.slot, BAR);
  assert.equal(errorOf(view, query(['foo'])), `MOVED ${FOO} 127.0.0.1:7002`);
});

test('keys of different slots: CROSSSLOT; the same slot by hash tag is fine', () => {
  const view = new TestClusterView(ME).assign(ME);
  assert.equal(errorOf(view, query(['foo', 'bar'])), "CROSSSLOT Keys in request don't hash to the same slot");
  assert.equal(routeQuery(view, query(['{u}a', '{u}b', '{u}a'])).redirect, Redirect.None);
  // CROSSSLOT wins over MOVED: it is found before the owner matters.
  const elsewhere = new TestClusterView(ME).assign(OTHER);
  assert.equal(errorOf(elsewhere, query(['foo', 'bar'])), "CROSSSLOT Keys in request don't hash to the same slot");
});

test('an unassigned slot: CLUSTERDOWN Hash slot not served', () => {
  const view = new TestClusterView(ME).assign(ME, 0, 10000);
  assert.equal(errorOf(view, query(['foo'])), 'CLUSTERDOWN Hash slot not served');
});

test('the cluster down: CLUSTERDOWN, reads allowed by cluster-allow-reads-when-down, shard channels by default', () => {
  const view = new TestClusterView(ME).assign(ME);
  view.up = false;
  assert.equal(errorOf(view, query(['foo'])), 'CLUSTERDOWN The cluster is down');
  assert.equal(routeQuery(view, query(['foo'], { allowReadsWhenDown: true })).redirect, Redirect.None);
  assert.equal(errorOf(view, query(['foo'], { allowReadsWhenDown: true, write: true })), 'CLUSTERDOWN The cluster is down and only accepts read commands');
  assert.equal(routeQuery(view, query(['ch'], { shardPubsub: true })).redirect, Redirect.None);
  assert.equal(errorOf(view, query(['ch'], { shardPubsub: true, allowPubsubshardWhenDown: false })), 'CLUSTERDOWN The cluster is down');
});

test('a slot migrating away: present keys served, missing ones ASK, some of several TRYAGAIN', () => {
  const view = new TestClusterView(ME).assign(ME);
  view.migrating.set(FOO, OTHER);
  assert.equal(routeQuery(view, query(['foo'], { present: ['foo'] })).redirect, Redirect.None);
  assert.equal(errorOf(view, query(['foo'])), `ASK ${FOO} 127.0.0.1:7002`);
  const slot = keyHashSlot('{t}a');
  view.migrating.set(slot, OTHER);
  assert.equal(errorOf(view, query(['{t}a', '{t}b'], { present: ['{t}a'] })), 'TRYAGAIN Multiple keys request during rehashing of slot');
  assert.equal(errorOf(view, query(['{t}a', '{t}b'])), `ASK ${slot} 127.0.0.1:7002`);
  // MIGRATE moves the keys it finds: always run here while the slot is open.
  assert.equal(routeQuery(view, query(['foo'], { migrate: true })).redirect, Redirect.None);
  // Shard channels stay on the source until the migration ends.
  assert.equal(routeQuery(view, query(['foo'], { shardPubsub: true })).redirect, Redirect.None);
});

test('a slot being imported: MOVED without ASKING, served with it, TRYAGAIN for several keys not all here', () => {
  const view = new TestClusterView(ME).assign(OTHER);
  view.importing.set(FOO, OTHER);
  assert.equal(errorOf(view, query(['foo'])), `MOVED ${FOO} 127.0.0.1:7002`);
  assert.equal(routeQuery(view, query(['foo'], { asking: true })).redirect, Redirect.None);
  const slot = keyHashSlot('{t}a');
  view.importing.set(slot, OTHER);
  assert.equal(errorOf(view, query(['{t}a', '{t}b'], { asking: true, present: ['{t}a'] })), 'TRYAGAIN Multiple keys request during rehashing of slot');
  assert.equal(routeQuery(view, query(['{t}a', '{t}b'], { asking: true, present: ['{t}a', '{t}b'] })).redirect, Redirect.None);
  // One key named twice is not "several keys".
  assert.equal(routeQuery(view, query(['{t}a', '{t}a'], { asking: true })).redirect, Redirect.None);
});

test('a replica serves its master\'s slots to READONLY clients for reads only', () => {
  const view = new TestClusterView(ME).assign(OTHER);
  view.master = OTHER;
  assert.equal(errorOf(view, query(['foo'])), `MOVED ${FOO} 127.0.0.1:7002`);
  assert.equal(routeQuery(view, query(['foo'], { readOnlyClient: true })).redirect, Redirect.None);
  assert.equal(errorOf(view, query(['foo'], { readOnlyClient: true, write: true })), `MOVED ${FOO} 127.0.0.1:7002`);
  // Shard channels are read on the replica without READONLY.
  assert.equal(routeQuery(view, query(['foo'], { shardPubsub: true })).redirect, Redirect.None);
  // Not its master's slot: MOVED even for a READONLY read.
  const third = nodeRef(3);
  view.assign(third, FOO, FOO);
  assert.equal(errorOf(view, query(['foo'], { readOnlyClient: true })), `MOVED ${FOO} 127.0.0.1:7003`);
});

test('EXEC is routed by every command it queued', () => {
  const view = new TestClusterView(ME).assign(ME);
  const q = query([]);
  const exec: RouteQuery = { ...q, commands: [{ argv: ['set', 'foo', '1'], keys: [1] }, { argv: ['get', 'bar'], keys: [1] }] };
  assert.equal(errorOf(view, exec), "CROSSSLOT Keys in request don't hash to the same slot");
});

test('a blocked client is redirected when its slot moves away or the cluster goes down', () => {
  const view = new TestClusterView(ME).assign(ME);
  assert.equal(blockedRedirection(view, 'foo', false, false, false), null);
  view.assign(OTHER, FOO, FOO);
  assert.equal(blockedRedirection(view, 'foo', false, false, false), `MOVED ${FOO} 127.0.0.1:7002`);
  view.importing.set(FOO, OTHER);
  assert.equal(blockedRedirection(view, 'foo', false, false, false), null);
  view.importing.clear();
  view.owners.delete(FOO);
  assert.equal(blockedRedirection(view, 'foo', false, false, false), 'CLUSTERDOWN Hash slot not served');
  view.up = false;
  assert.equal(blockedRedirection(view, 'bar', false, false, false), 'CLUSTERDOWN The cluster is down');
});
