/**
 * CLUSTER subcommands of the topology — nodes, slots, epochs, failover — over the cluster's
 * state (src/cluster/). Reached only with `cluster-enabled yes` (commands/cluster.ts). Replies
 * and errors are clusterCommand's (cluster.c) byte for byte.
 */
import type { Client } from '../server/client.js';
import type { CommandHandlers } from '../server/command-table.js';
import { replyHelp, subcommandSyntaxError } from './help.js';
import { SYNTAX, NOT_INTEGER, wrongArity } from '../protocol/errors.js';
import { clusterRuntime } from '../cluster/install.js';
import { Flag, MSG_TYPE_COUNT, MSG_TYPE_NAMES, PORT_INCR } from '../cluster/codec.js';
import { CLUSTER_SLOTS } from '../cluster/slot.js';
import type { ClusterNode, ClusterState } from '../cluster/state.js';
import { BEFORE_SLEEP_SAVE_CONFIG, BEFORE_SLEEP_UPDATE_STATE, BEFORE_SLEEP_FSYNC_CONFIG } from '../cluster/state.js';
import { replicationOf } from '../replication/state.js';

const HELP = [
  'ADDSLOTS <slot> [<slot> ...]',
  '    Assign slots to current node.',
  'ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]',
  '    Assign slots which are between <start-slot> and <end-slot> to current node.',
  'BUMPEPOCH',
  '    Advance the cluster config epoch.',
  'COUNT-FAILURE-REPORTS <node-id>',
  '    Return number of failure reports for <node-id>.',
  'COUNTKEYSINSLOT <slot>',
  '    Return the number of keys in <slot>.',
  'DELSLOTS <slot> [<slot> ...]',
  '    Delete slots information from current node.',
  'DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]',
  '    Delete slots information which are between <start-slot> and <end-slot> from current node.',
  'FAILOVER [FORCE|TAKEOVER]',
  '    Promote current replica node to being a master.',
  'FORGET <node-id>',
  '    Remove a node from the cluster.',
  'GETKEYSINSLOT <slot> <count>',
  '    Return key names stored by current node in a slot.',
  'FLUSHSLOTS',
  '    Delete current node own slots information.',
  'INFO',
  '    Return information about the cluster.',
  'KEYSLOT <key>',
  '    Return the hash slot for <key>.',
  'MEET <ip> <port> [<bus-port>]',
  '    Connect nodes into a working cluster.',
  'MYID',
  '    Return the node id.',
  'NODES',
  '    Return cluster configuration seen by node. Output format:',
  '    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...',
  'REPLICATE <node-id>',
  '    Configure current node as replica to <node-id>.',
  'RESET [HARD|SOFT]',
  '    Reset current node (default: soft).',
  'SET-CONFIG-EPOCH <epoch>',
  '    Set config epoch of current node.',
  'SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)',
  '    Set slot state.',
  'REPLICAS <node-id>',
  '    Return <node-id> replicas.',
  'SAVECONFIG',
  '    Force saving cluster configuration on disk.',
  'SLOTS',
  '    Return information about slots range mappings. Each range is made of:',
  '    start, end, master and replicas IP addresses, ports and ids',
  'SHARDS',
  '    Return information about slot range mappings and the nodes associated with them.',
  'LINKS',
  '    Return information about all network links between this node and its peers.',
  '    Output format is an array where each array element is a map containing attributes of a link',
];

function stateOf(c: Client): ClusterState {
  return clusterRuntime(c.server)!.state;
}

/** getLongLongFromObject: a strict signed 64-bit decimal. */
function parseLL(s: string): bigint | null {
  if (!/^-?[0-9]+$/.test(s) || (s.length > 1 && /^-?0/.test(s) && s !== '0')) return null;
  const v = BigInt(s);
  return v < -(2n ** 63n) || v >= 2n ** 63n ? null : v;
}

function slotOrReply(c: Client, s: string): number {
  const v = parseLL(s);
  if (v === null || v < 0n || v >= BigInt(CLUSTER_SLOTS)) {
    c.reply.error('ERR Invalid or out of range slot');
    return -1;
  }
  return Number(v);
}

/** Our own replication offset (replicationGetSlaveOffset on a replica). */
function myOffset(c: Client): number {
  return replicationOf(c.server).replicaOffset;
}

function meet(c: Client): void {
  const st = stateOf(c);
  const port = parseLL(c.argv[3]!);
  if (port === null) {
    c.reply.error(`ERR Invalid TCP base port specified: ${c.argv[3]}`);
    return;
  }
  let cport = port + BigInt(PORT_INCR);
  if (c.argv.length === 5) {
    const v = parseLL(c.argv[4]!);
    if (v === null) {
      c.reply.error(`ERR Invalid TCP bus port specified: ${c.argv[4]}`);
      return;
    }
    cport = v;
  }
  const r = st.startHandshake(c.argv[2]!, Number(port), Number(cport));
  if (r === 'inval') c.reply.error(`ERR Invalid node address specified: ${c.argv[2]}:${c.argv[3]}`);
  else c.reply.ok();
}

function usePport(c: Client): boolean {
  return c.plaintextInTlsCluster;
}

function nodes(c: Client): void {
  c.reply.verbatim(stateOf(c).nodesDescription(0, usePport(c)));
}

function updateSlots(c: Client, del: boolean, ranges: [number, number][]): void {
  const st = stateOf(c);
  const seen = new Uint8Array(CLUSTER_SLOTS);
  for (const [start, end] of ranges) {
    for (let slot = start; slot <= end; slot++) {
      if (del && st.slots[slot] === null) {
        c.reply.error(`ERR Slot ${slot} is already unassigned`);
        return;
      } else if (!del && st.slots[slot] !== null) {
        c.reply.error(`ERR Slot ${slot} is already busy`);
        return;
      }
      if (seen[slot]++ === 1) {
        c.reply.error(`ERR Slot ${slot} specified multiple times`);
        return;
      }
    }
  }
  for (let j = 0; j < CLUSTER_SLOTS; j++) {
    if (!seen[j]) continue;
    if (st.importingFrom[j] !== null) st.importingFrom[j] = null;
    if (del) st.delSlot(j);
    else st.addSlot(st.myself, j);
  }
  st.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
  c.reply.ok();
}

function addDelSlots(del: boolean) {
  return (c: Client): void => {
    const slots: number[] = [];
    for (let j = 2; j < c.argv.length; j++) {
      const s = slotOrReply(c, c.argv[j]!);
      if (s < 0) return;
      slots.push(s);
    }
    updateSlots(c, del, slots.map((s) => [s, s]));
  };
}

function addDelSlotsRange(del: boolean) {
  return (c: Client): void => {
    if (c.argv.length % 2 === 1) {
      c.reply.error(wrongArity(`cluster|${c.argv[1]!.toLowerCase()}`));
      return;
    }
    const ranges: [number, number][] = [];
    for (let j = 2; j < c.argv.length; j += 2) {
      const start = slotOrReply(c, c.argv[j]!);
      if (start < 0) return;
      const end = slotOrReply(c, c.argv[j + 1]!);
      if (end < 0) return;
      if (start > end) {
        c.reply.error(`ERR start slot number ${start} is greater than end slot number ${end}`);
        return;
      }
      ranges.push([start, end]);
    }
    // Redis checks each range as it parses it; the overlap check spans all of them.
    updateSlots(c, del, ranges);
  };
}


/** CLUSTER SETSLOT's MIGRATING/IMPORTING target (argv[4]): a known master, else Redis's error. */
/** The node named by argv[i], or null after answering `-ERR Unknown node <id>` as Redis does. */
function knownNodeOrReply(c: Client, st: ClusterState, i: number): ClusterNode | null {
  const n = st.lookup(c.argv[i]!);
  if (n === null) c.reply.error(`ERR Unknown node ${c.argv[i]}`);
  return n;
}

function targetMasterOrReply(c: Client, st: ClusterState): ClusterNode | null {
  const n = st.lookup(c.argv[4]!);
  if (n === null) {
    c.reply.error(`ERR I don't know about node ${c.argv[4]}`);
    return null;
  }
  if (n.isSlave) {
    c.reply.error('ERR Target node is not a master');
    return null;
  }
  return n;
}
function setslot(c: Client): void {
  const st = stateOf(c);
  const me = st.myself;
  if (me.isSlave) {
    c.reply.error('ERR Please use SETSLOT only with masters.');
    return;
  }
  const slot = slotOrReply(c, c.argv[2]!);
  if (slot < 0) return;
  const action = c.argv[3]!.toLowerCase();
  const argc = c.argv.length;
  const keys = (s: number): number => clusterKeysCount(c, s);
  if (action === 'migrating' && argc === 5) {
    if (st.slots[slot] !== me) {
      c.reply.error(`ERR I'm not the owner of hash slot ${slot}`);
      return;
    }
    const n = targetMasterOrReply(c, st);
    if (n === null) return;
    st.migratingTo[slot] = n;
  } else if (action === 'importing' && argc === 5) {
    if (st.slots[slot] === me) {
      c.reply.error(`ERR I'm already the owner of hash slot ${slot}`);
      return;
    }
    const n = targetMasterOrReply(c, st);
    if (n === null) return;
    st.importingFrom[slot] = n;
  } else if (action === 'stable' && argc === 4) {
    st.importingFrom[slot] = null;
    st.migratingTo[slot] = null;
  } else if (action === 'node' && argc === 5) {
    const n = knownNodeOrReply(c, st, 4);
    if (n === null) return;
    if (n.isSlave) {
      c.reply.error('ERR Target node is not a master');
      return;
    }
    if (st.slots[slot] === me && n !== me && keys(slot) !== 0) {
      c.reply.error(`ERR Can't assign hashslot ${slot} to a different node while I still hold keys for this hash slot.`);
      return;
    }
    if (keys(slot) === 0 && st.migratingTo[slot] !== null) st.migratingTo[slot] = null;
    const wasMine = st.slots[slot] === me;
    st.delSlot(slot);
    st.addSlot(n, slot);
    if (wasMine && n !== me && me.numslots === 0 && c.server.config.getBool('cluster-allow-replica-migration')) {
      c.server.log.warning(`Configuration change detected. Reconfiguring myself as a replica of ${n.name}`);
      st.setMaster(n);
      st.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_FSYNC_CONFIG);
    }
    if (n === me && st.importingFrom[slot] !== null) {
      if (st.bumpConfigEpochWithoutConsensus()) c.server.log.warning(`configEpoch updated after importing slot ${slot}`);
      st.importingFrom[slot] = null;
      st.broadcastPong(false);
    }
  } else {
    c.reply.error('ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP');
    return;
  }
  st.doBeforeSleep(BEFORE_SLEEP_SAVE_CONFIG | BEFORE_SLEEP_UPDATE_STATE);
  c.reply.ok();
}

function clusterKeysCount(c: Client, slot: number): number {
  return clusterRuntime(c.server)!.state.env.keys.countKeysInSlot(slot);
}

function info(c: Client): void {
  const st = stateOf(c);
  let assigned = 0;
  let ok = 0;
  let pfail = 0;
  let fail = 0;
  for (let j = 0; j < CLUSTER_SLOTS; j++) {
    const n = st.slots[j];
    if (n === null || n === undefined) continue;
    assigned++;
    if (n.failed) fail++;
    else if (n.timedOut) pfail++;
    else ok++;
  }
  const me = st.myself;
  const myepoch = me.isSlave && me.slaveof !== null ? me.slaveof.configEpoch : me.configEpoch;
  let s = `cluster_state:${st.state}\r\ncluster_slots_assigned:${assigned}\r\ncluster_slots_ok:${ok}\r\ncluster_slots_pfail:${pfail}\r\ncluster_slots_fail:${fail}\r\n` +
    `cluster_known_nodes:${st.nodes.size}\r\ncluster_size:${st.size}\r\ncluster_current_epoch:${st.currentEpoch}\r\ncluster_my_epoch:${myepoch}\r\n`;
  let sent = 0;
  for (let i = 0; i < MSG_TYPE_COUNT; i++) {
    if (st.statsSent[i] === 0) continue;
    sent += st.statsSent[i]!;
    s += `cluster_stats_messages_${MSG_TYPE_NAMES[i]}_sent:${st.statsSent[i]}\r\n`;
  }
  s += `cluster_stats_messages_sent:${sent}\r\n`;
  let received = 0;
  for (let i = 0; i < MSG_TYPE_COUNT; i++) {
    if (st.statsReceived[i] === 0) continue;
    received += st.statsReceived[i]!;
    s += `cluster_stats_messages_${MSG_TYPE_NAMES[i]}_received:${st.statsReceived[i]}\r\n`;
  }
  s += `cluster_stats_messages_received:${received}\r\n`;
  s += `total_cluster_links_buffer_limit_exceeded:${st.statLinksBufferLimitExceeded}\r\n`;
  c.reply.verbatim(s);
}

function endpointType(c: Client): string {
  return c.server.config.getString('cluster-preferred-endpoint-type');
}

function nodeToNodeReply(c: Client, node: ClusterNode): void {
  const r = c.reply;
  const type = endpointType(c);
  r.array(4);
  if (type === 'ip') r.bulk(node.ip);
  else if (type === 'hostname') r.bulk(node.hostname !== '' ? node.hostname : '?');
  else r.nullBulk();
  r.integer(usePport(c) && node.pport ? node.pport : node.port);
  r.bulk(node.name);
  let length = 0;
  if (type !== 'ip') length++;
  if (type !== 'hostname' && node.hostname !== '') length++;
  r.map(length);
  if (type !== 'ip') {
    r.bulk('ip');
    r.bulk(node.ip);
  }
  if (type !== 'hostname' && node.hostname !== '') {
    r.bulk('hostname');
    r.bulk(node.hostname);
  }
}

function replicaAvailable(c: Client, node: ClusterNode): boolean {
  if (node.failed) return false;
  const off = node.flags & Flag.MYSELF ? BigInt(myOffset(c)) : node.replOffset;
  return off !== 0n;
}

function slots(c: Client): void {
  const st = stateOf(c);
  const out: [ClusterNode, number, number][] = [];
  let n: ClusterNode | null = null;
  let start = -1;
  for (let i = 0; i <= CLUSTER_SLOTS; i++) {
    if (n === null) {
      if (i === CLUSTER_SLOTS) break;
      n = st.slots[i]!;
      start = i;
      continue;
    }
    if (i === CLUSTER_SLOTS || n !== st.slots[i]) {
      out.push([n, start, i - 1]);
      if (i === CLUSTER_SLOTS) break;
      n = st.slots[i]!;
      start = i;
    }
  }
  c.reply.array(out.length);
  for (const [node, s, e] of out) {
    const replicas = node.slaves.filter((r) => replicaAvailable(c, r));
    c.reply.array(3 + replicas.length);
    c.reply.integer(s);
    c.reply.integer(e);
    nodeToNodeReply(c, node);
    for (const r of replicas) nodeToNodeReply(c, r);
  }
}

function shardNodeReply(c: Client, node: ClusterNode): void {
  const r = c.reply;
  const tlsCluster = c.server.config.getBool('tls-cluster');
  const fields: [string, string | number][] = [['id', node.name]];
  const plain = tlsCluster ? node.pport : node.port;
  const tlsPort = tlsCluster ? node.port : 0;
  if (plain) fields.push(['port', plain]);
  if (tlsPort) fields.push(['tls-port', tlsPort]);
  fields.push(['ip', node.ip]);
  const type = endpointType(c);
  fields.push(['endpoint', type === 'ip' ? node.ip : type === 'hostname' ? (node.hostname !== '' ? node.hostname : '?') : '']);
  if (node.hostname !== '') fields.push(['hostname', node.hostname]);
  const offset = node.flags & Flag.MYSELF ? myOffset(c) : Number(node.replOffset);
  fields.push(['role', node.isSlave ? 'replica' : 'master']);
  fields.push(['replication-offset', offset]);
  fields.push(['health', node.failed ? 'fail' : node.isSlave && offset === 0 ? 'loading' : 'online']);
  r.map(fields.length);
  for (const [k, v] of fields) {
    r.bulk(k);
    if (typeof v === 'number') r.integer(v);
    else r.bulk(v);
  }
}

function shards(c: Client): void {
  const st = stateOf(c);
  const ranges = st.slotRanges();
  const masters = [...st.nodes.values()].filter((n) => n.isMaster);
  c.reply.array(masters.length);
  for (const m of masters) {
    c.reply.map(2);
    c.reply.bulk('slots');
    const pairs = ranges.get(m) ?? [];
    c.reply.array(pairs.length);
    for (const p of pairs) c.reply.integer(p);
    c.reply.bulk('nodes');
    const members = [m, ...m.slaves];
    c.reply.array(members.length);
    for (const n of members) shardNodeReply(c, n);
  }
}

function flushslots(c: Client): void {
  const st = stateOf(c);
  if (c.server.dbs[0]!.dict.size !== 0) {
    c.reply.error('ERR DB must be empty to perform CLUSTER FLUSHSLOTS.');
    return;
  }
  st.delNodeSlots(st.myself);
  st.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
  c.reply.ok();
}

function bumpepoch(c: Client): void {
  const st = stateOf(c);
  const bumped = st.bumpConfigEpochWithoutConsensus();
  c.reply.status(`${bumped ? 'BUMPED' : 'STILL'} ${st.myself.configEpoch}`);
}

function saveconfig(c: Client): void {
  if (stateOf(c).saveConfig(true)) c.reply.ok();
  else c.reply.error('ERR error saving the cluster node config: Input/output error');
}

function forget(c: Client): void {
  const st = stateOf(c);
  const n = knownNodeOrReply(c, st, 2);
  if (n === null) return;
  if (n === st.myself) {
    c.reply.error("ERR I tried hard but I can't forget myself...");
    return;
  }
  if (st.myself.isSlave && st.myself.slaveof === n) {
    c.reply.error("ERR Can't forget my master!");
    return;
  }
  st.blacklistAdd(n);
  st.delNode(n);
  st.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
  c.reply.ok();
}

function replicate(c: Client): void {
  const st = stateOf(c);
  const n = knownNodeOrReply(c, st, 2);
  if (n === null) return;
  if (n === st.myself) {
    c.reply.error("ERR Can't replicate myself");
    return;
  }
  if (n.isSlave) {
    c.reply.error('ERR I can only replicate a master, not a replica.');
    return;
  }
  if (st.myself.isMaster && (st.myself.numslots !== 0 || c.server.dbs[0]!.dict.size !== 0)) {
    c.reply.error('ERR To set a master the node must be empty and without assigned slots.');
    return;
  }
  st.setMaster(n);
  st.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
  c.reply.ok();
}

function replicas(c: Client): void {
  const st = stateOf(c);
  const n = knownNodeOrReply(c, st, 2);
  if (n === null) return;
  if (n.isSlave) {
    c.reply.error('ERR The specified node is not a master');
    return;
  }
  c.reply.array(n.slaves.length);
  for (const s of n.slaves) c.reply.bulk(st.nodeDescription(s, undefined, usePport(c)));
}

function countFailureReports(c: Client): void {
  const st = stateOf(c);
  const n = knownNodeOrReply(c, st, 2);
  if (n === null) return;
  c.reply.integer(st.failureReportsCount(n));
}

function failover(c: Client): void {
  const st = stateOf(c);
  let mode: 'default' | 'force' | 'takeover' = 'default';
  if (c.argv.length === 3) {
    const a = c.argv[2]!.toLowerCase();
    if (a === 'force') mode = 'force';
    else if (a === 'takeover') mode = 'takeover';
    else {
      c.reply.error(SYNTAX);
      return;
    }
  }
  const me = st.myself;
  if (me.isMaster) {
    c.reply.error('ERR You should send CLUSTER FAILOVER to a replica');
    return;
  }
  if (me.slaveof === null) {
    c.reply.error("ERR I'm a replica but my master is unknown to me");
    return;
  }
  if (mode === 'default' && (me.slaveof.failed || me.slaveof.link === null)) {
    c.reply.error('ERR Master is down or failed, please use CLUSTER FAILOVER FORCE');
    return;
  }
  st.startManualFailover(mode);
  c.reply.ok();
}

function setConfigEpoch(c: Client): void {
  const st = stateOf(c);
  const epoch = parseLL(c.argv[2]!);
  if (epoch === null) {
    c.reply.error(NOT_INTEGER);
    return;
  }
  if (epoch < 0n) c.reply.error(`ERR Invalid config epoch specified: ${epoch}`);
  else if (st.nodes.size > 1) c.reply.error('ERR The user can assign a config epoch only when the node does not know any other node.');
  else if (st.myself.configEpoch !== 0n) c.reply.error('ERR Node config epoch is already non-zero');
  else {
    st.myself.configEpoch = epoch;
    c.server.log.warning(`configEpoch set to ${epoch} via CLUSTER SET-CONFIG-EPOCH`);
    if (st.currentEpoch < epoch) st.currentEpoch = epoch;
    st.doBeforeSleep(BEFORE_SLEEP_UPDATE_STATE | BEFORE_SLEEP_SAVE_CONFIG);
    c.reply.ok();
  }
}

function reset(c: Client): void {
  const st = stateOf(c);
  let hard = false;
  if (c.argv.length === 3) {
    const a = c.argv[2]!.toLowerCase();
    if (a === 'hard') hard = true;
    else if (a !== 'soft') {
      c.reply.error(SYNTAX);
      return;
    }
  }
  if (st.myself.isMaster && c.db.dict.size !== 0) {
    c.reply.error("ERR CLUSTER RESET can't be called with master nodes containing keys");
    return;
  }
  st.reset(hard);
  c.reply.ok();
}

function links(c: Client): void {
  const st = stateOf(c);
  const all: { link: NonNullable<ClusterNode['link']>; node: ClusterNode }[] = [];
  for (const n of st.nodes.values()) {
    if (n.link !== null) all.push({ link: n.link, node: n });
    if (n.inboundLink !== null) all.push({ link: n.inboundLink, node: n });
  }
  const r = c.reply;
  r.array(all.length);
  for (const { link, node } of all) {
    r.map(6);
    r.bulk('direction');
    r.bulk(link.inbound ? 'from' : 'to');
    r.bulk('node');
    r.bulk(node.name);
    r.bulk('create-time');
    r.integer(link.ctime);
    r.bulk('events');
    r.bulk(link.pendingBytes() > 0 ? 'rw' : 'r');
    r.bulk('send-buffer-allocated');
    r.integer(link.pendingBytes());
    r.bulk('send-buffer-used');
    r.integer(link.pendingBytes());
  }
}

function withArity(argc: (n: number) => boolean, fn: (c: Client) => void) {
  return (c: Client): void => {
    if (!argc(c.argv.length)) subcommandSyntaxError(c);
    else fn(c);
  };
}

export const commands: CommandHandlers = {
  'cluster|help': (c) => replyHelp(c, HELP),
  'cluster|meet': withArity((n) => n === 4 || n === 5, meet),
  'cluster|nodes': nodes,
  'cluster|myid': (c) => c.reply.bulk(stateOf(c).myself.name),
  'cluster|slots': slots,
  'cluster|shards': shards,
  'cluster|flushslots': flushslots,
  'cluster|addslots': addDelSlots(false),
  'cluster|delslots': addDelSlots(true),
  'cluster|addslotsrange': addDelSlotsRange(false),
  'cluster|delslotsrange': addDelSlotsRange(true),
  'cluster|setslot': setslot,
  'cluster|bumpepoch': bumpepoch,
  'cluster|info': info,
  'cluster|saveconfig': saveconfig,
  'cluster|forget': forget,
  'cluster|replicate': replicate,
  'cluster|replicas': replicas,
  'cluster|slaves': replicas,
  'cluster|count-failure-reports': countFailureReports,
  'cluster|failover': withArity((n) => n === 2 || n === 3, failover),
  'cluster|set-config-epoch': setConfigEpoch,
  'cluster|reset': withArity((n) => n === 2 || n === 3, reset),
  'cluster|links': links,
};
