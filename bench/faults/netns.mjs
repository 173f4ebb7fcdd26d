/**
 * The fault harness's private network: one Linux network namespace per process (three data
 * nodes, three sentinels, two clients) plus a hub namespace holding a bridge; every node has a
 * veth pair from its `eth0` to the bridge. Addresses are 10.77.0.0/24, which exists only inside
 * these namespaces, so no traffic leaves them. The harness's own control connections (INFO,
 * SENTINEL get-master-addr, the final read) come from the hub's address 10.77.0.1, which no
 * fault ever cuts.
 *
 * Faults are applied inside the node namespaces with iptables: a chain `NFH` hooked into INPUT
 * and OUTPUT holds DROP rules (a silent cut, as a pulled cable: no RST, connections hang) or
 * random-drop rules (a lossy link); healing flushes the chain. `tc netem` would add delay, but
 * this kernel has no sch_netem (see docs/CONSISTENCY.md), so delay is not injected.
 *
 * Everything is created by `setup()` and removed by `teardown()`; `teardown()` is also what a
 * new run calls first, so namespaces left by a crashed run never accumulate.
 */
import { execFileSync, spawnSync } from 'node:child_process';

/**
 * NFH_SLOT=k (1…9) runs an independent copy of the harness beside slot 0: namespaces `nfhk-*`,
 * addresses 10.(77+k).0.0/24, its own lock file — so long series can run two at a time.
 */
export const SLOT = Number(process.env.NFH_SLOT ?? '0');
if (!Number.isInteger(SLOT) || SLOT < 0 || SLOT > 9) throw new Error(`NFH_SLOT must be 0…9, not ${process.env.NFH_SLOT}`);
export const PREFIX = SLOT === 0 ? 'nfh-' : `nfh${SLOT}-`;
export const HUB = `${PREFIX}hub`;
const NET = `10.${77 + SLOT}.0`;
export const HUB_ADDR = `${NET}.1`;

/** The nodes: name → address. Data nodes d1..d3, sentinels s1..s3, clients ca (may sit with the master) and cb. */
export const NODES = {
  d1: `${NET}.11`,
  d2: `${NET}.12`,
  d3: `${NET}.13`,
  s1: `${NET}.21`,
  s2: `${NET}.22`,
  s3: `${NET}.23`,
  ca: `${NET}.31`,
  cb: `${NET}.32`,
};

export const DATA = ['d1', 'd2', 'd3'];
export const SENTINELS = ['s1', 's2', 's3'];

export function nsName(node) {
  return `${PREFIX}${node}`;
}

function run(cmd, args, { allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function ip(...args) {
  return run('ip', args);
}

/** Runs a command inside a node's namespace. */
export function inNs(node, cmd, args, opts) {
  return run('ip', ['netns', 'exec', node === 'hub' ? HUB : nsName(node), cmd, ...args], opts);
}

function ourNamespaces() {
  const out = run('ip', ['netns', 'list'], { allowFail: true });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n !== undefined && n.startsWith(PREFIX));
}

/** Kills every process inside our namespaces (SIGCONT first: a SIGSTOPped one must die too). */
export function killAllInNamespaces(exceptPid = -1) {
  for (const ns of ourNamespaces()) {
    const pids = run('ip', ['netns', 'pids', ns], { allowFail: true })
      .split('\n')
      .map((s) => Number(s))
      .filter((p) => p > 0 && p !== exceptPid && p !== process.pid);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGCONT');
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Removes every namespace of ours (deleting a namespace removes its veth ends and the bridge). */
export function teardown() {
  killAllInNamespaces();
  for (const ns of ourNamespaces()) run('ip', ['netns', 'del', ns], { allowFail: true });
}

export function setup() {
  teardown();
  ip('netns', 'add', HUB);
  inNs('hub', 'ip', ['link', 'set', 'lo', 'up']);
  inNs('hub', 'ip', ['link', 'add', 'br0', 'type', 'bridge']);
  inNs('hub', 'ip', ['addr', 'add', `${HUB_ADDR}/24`, 'dev', 'br0']);
  inNs('hub', 'ip', ['link', 'set', 'br0', 'up']);
  for (const [node, addr] of Object.entries(NODES)) {
    const ns = nsName(node);
    ip('netns', 'add', ns);
    ip('link', 'add', `v-${node}`, 'netns', HUB, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    inNs('hub', 'ip', ['link', 'set', `v-${node}`, 'master', 'br0']);
    inNs('hub', 'ip', ['link', 'set', `v-${node}`, 'up']);
    inNs(node, 'ip', ['link', 'set', 'lo', 'up']);
    inNs(node, 'ip', ['addr', 'add', `${addr}/24`, 'dev', 'eth0']);
    inNs(node, 'ip', ['link', 'set', 'eth0', 'up']);
    inNs(node, 'iptables', ['-N', 'NFH']);
    inNs(node, 'iptables', ['-I', 'INPUT', '-j', 'NFH']);
    inNs(node, 'iptables', ['-I', 'OUTPUT', '-j', 'NFH']);
  }
}

/** Nodes talk only within their group (groups: arrays of node names; nodes in no group are isolated). */
export function partition(groups) {
  heal();
  const groupOf = new Map();
  groups.forEach((g, i) => g.forEach((n) => groupOf.set(n, i)));
  for (const node of Object.keys(NODES)) {
    const rules = [];
    for (const [other, addr] of Object.entries(NODES)) {
      if (other === node) continue;
      const a = groupOf.get(node);
      if (a !== undefined && a === groupOf.get(other)) continue;
      rules.push(`-A NFH -s ${addr} -j DROP`, `-A NFH -d ${addr} -j DROP`);
    }
    restore(node, rules);
  }
}

/** A lossy link: packets between `node` and the listed peers are dropped with probability p. */
export function lossy(node, peers, p) {
  const rules = [];
  for (const peer of peers) {
    rules.push(`-A NFH -s ${NODES[peer]} -m statistic --mode random --probability ${p} -j DROP`);
    rules.push(`-A NFH -d ${NODES[peer]} -m statistic --mode random --probability ${p} -j DROP`);
  }
  restore(node, rules);
}

/** Replaces a node's NFH chain in one iptables-restore transaction. */
function restore(node, rules) {
  const text = ['*filter', ':NFH - [0:0]', ...rules, 'COMMIT', ''].join('\n');
  const r = spawnSync('ip', ['netns', 'exec', nsName(node), 'iptables-restore', '--noflush'], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`iptables-restore in ${node}: ${r.stderr}`);
}

export function heal() {
  for (const node of Object.keys(NODES)) inNs(node, 'iptables', ['-F', 'NFH']);
}

/** True when this machine can run the harness (root, ip netns, iptables). */
export function preflight() {
  if (process.getuid?.() !== 0) return 'the fault harness needs root (network namespaces, iptables)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    execFileSync('iptables', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'the fault harness needs iproute2 and iptables';
  }
  return null;
}
