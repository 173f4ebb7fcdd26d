/**
 * `nodis-cli --cluster fix`: the repairs redis-cli's check makes when asked to fix
 * (redis-cli.c clusterManagerFixOpenSlot, clusterManagerFixSlotsCoverage,
 * clusterManagerFixMultipleSlotOwners), with the same decisions, commands and output.
 *
 * - An open slot (migrating or importing somewhere) is closed by finding its owner (the one node
 *   that claims it, else the master with most keys in it) and moving keys to where they belong,
 *   in one of redis-cli's four cases; anything else is reported as not fixable, as redis-cli does.
 * - An uncovered slot is given to a random master when no node has keys in it, to the one node
 *   that has keys, or to the node with most keys after the others' keys are moved there.
 * - A slot with several owners keeps the one with most keys; the others' keys move to it.
 * Every question is asked even under --cluster-yes (redis-cli's ignore_force), and with masters
 * unreachable the fix stops unless --cluster-fix-with-unreachable-masters.
 */
import type { ClusterManager, ManagedNode } from './cluster-manager.js';
import { Level } from './cluster-manager.js';
import { RedisDictOrder } from './redis-dict-order.js';
import { exit, out } from './io.js';
import { atoi } from './options.js';
import { CLUSTER_SLOTS } from '../cluster/slot.js';

const isSlave = (n: ManagedNode): boolean => n.flags.includes('slave');
const addr = (n: ManagedNode): string => `${n.ip}:${n.port}`;
const without = (list: ManagedNode[], n: ManagedNode): ManagedNode[] => list.filter((x) => x !== n);

/** Moves for fix: a dot per key, errors printed rather than returned (redis-cli's err == NULL). */
const VERBOSE = { quiet: false, update: false, verbose: true, reportErrors: false };
const VERBOSE_COLD = { ...VERBOSE, cold: true };

export class ClusterRepair {
  constructor(private readonly m: ClusterManager) {}

  private refuseWithUnreachableMasters(what: string): void {
    if (this.m.unreachableMasters === 0 || this.m.flags.fixWithUnreachableMasters) return;
    this.m.log(
      Level.Warn,
      `*** Fixing ${what} with ${this.m.unreachableMasters} unreachable masters is dangerous: redis-cli will assume that slots about masters that are not reachable are not covered, and will try to reassign them to the reachable nodes. This can cause data loss and is rarely what you want to do. If you really want to proceed use the --cluster-fix-with-unreachable-masters option.\n`,
    );
    exit(1);
  }

  /** clusterManagerSetSlot without an err pointer: an error reply is printed. */
  private async setSlot(node: ManagedNode, other: ManagedNode, slot: number, status: string): Promise<boolean> {
    return this.m.ok(node, await this.m.command(node, ['CLUSTER', 'SETSLOT', String(slot), status, other.name]));
  }

  /** clusterManagerClearSlotStatus. */
  private async clearSlotStatus(node: ManagedNode, slot: number): Promise<boolean> {
    return this.m.ok(node, await this.m.command(node, ['CLUSTER', 'SETSLOT', String(slot), 'STABLE']));
  }

  /** clusterManagerDelSlot: with `ignoreUnassigned`, a slot nobody serves is not an error. */
  private async delSlot(node: ManagedNode, slot: number, ignoreUnassigned: boolean): Promise<boolean> {
    const reply = await this.m.command(node, ['CLUSTER', 'DELSLOTS', String(slot)]);
    if (reply !== null && reply.type !== 'error') return true;
    let success = false;
    if (reply !== null && ignoreUnassigned) {
      const { owner, error } = await this.m.slotOwner(node, slot);
      if (owner === null) {
        if (error === null) success = true;
        else this.m.printReplyError(node, error);
      }
    }
    if (!success && reply !== null) this.m.printReplyError(node, reply.value);
    return success;
  }

  /** clusterManagerSetSlotOwner: in one MULTI, the slot (re)assigned to `owner` and the epoch bumped. */
  private async setSlotOwner(owner: ManagedNode, slot: number, clear: boolean): Promise<boolean> {
    if (!this.m.ok(owner, await this.m.command(owner, ['MULTI']))) return false;
    await this.delSlot(owner, slot, true);
    this.m.ok(owner, await this.m.command(owner, ['CLUSTER', 'ADDSLOTS', String(slot)]));
    if (clear) await this.clearSlotStatus(owner, slot);
    this.m.ok(owner, await this.m.command(owner, ['CLUSTER', 'BUMPEPOCH']));
    const reply = await this.m.command(owner, ['EXEC']);
    if (!this.m.ok(owner, reply)) return false;
    if (reply!.type !== 'array') return false;
    // Only ADDSLOTS (the second reply) failing is an error.
    for (const [i, r] of reply!.elements.entries()) {
      if (r.type !== 'error' || i !== 1) continue;
      this.m.printReplyError(owner, r.value);
      return false;
    }
    return true;
  }

  /** clusterManagerGetNodeWithMostKeysInSlot (masters only); null when a node failed. */
  private async withMostKeys(nodes: ManagedNode[], slot: number): Promise<ManagedNode | null> {
    let best: ManagedNode | null = null;
    let most = 0;
    for (const n of nodes) {
      if (isSlave(n) || n.replicate !== null) continue;
      const count = await this.m.countKeysInSlot(n, slot);
      if (count < 0) return null;
      if (count > most || best === null) {
        most = count;
        best = n;
      }
    }
    return best;
  }

  /** clusterManagerNodeMasterRandom. */
  private randomMaster(): ManagedNode {
    const masters = this.m.nodes.filter((n) => !isSlave(n));
    return masters[Math.floor(Math.random() * masters.length)]!;
  }

  /** clusterManagerFixOpenSlot. */
  async fixOpenSlot(slot: number): Promise<boolean> {
    this.refuseWithUnreachableMasters('open slots');
    const m = this.m;
    m.log(Level.Info, `>>> Fixing open slot ${slot}\n`);
    // Nodes claiming the slot, in their configuration or by holding keys for it.
    const owners: ManagedNode[] = [];
    for (const n of m.nodes) {
      if (isSlave(n)) continue;
      if (n.slots[slot] === 1) {
        owners.push(n);
        continue;
      }
      const count = await m.countKeysInSlot(n, slot);
      if (count < 0) return false;
      if (count > 0) {
        m.log(Level.Warn, `*** Found keys about slot ${slot} in non-owner node ${addr(n)}!\n`);
        owners.push(n);
      }
    }
    let owner = owners.length === 1 ? owners[0]! : null;
    let migrating: ManagedNode[] = [];
    let importing: ManagedNode[] = [];
    for (const n of m.nodes) {
      if (isSlave(n)) continue;
      if (n.migrating.some(([s]) => atoi(s) === slot)) migrating.push(n);
      else if (n.importing.some(([s]) => atoi(s) === slot)) importing.push(n);
      else if (n !== owner) {
        // Neither migrating nor importing nor the owner, but with keys: counted as importing.
        const count = await m.countKeysInSlot(n, slot);
        if (count < 0) return false;
        if (count > 0) {
          m.log(Level.Warn, `*** Found keys about slot ${slot} in node ${addr(n)}!\n`);
          importing.push(n);
        }
      }
    }
    const migratingText = migrating.map(addr).join(',');
    const importingText = importing.map(addr).join(',');
    if (migratingText !== '') out(`Set as migrating in: ${migratingText}\n`);
    if (importingText !== '') out(`Set as importing in: ${importingText}\n`);

    if (owner === null) {
      m.log(Level.Info, '>>> No single clear owner for the slot, selecting an owner by # of keys...\n');
      owner = await this.withMostKeys(m.nodes, slot);
      if (owner === null) {
        m.log(Level.Err, "[ERR] Can't select a slot owner. Impossible to fix.\n");
        return false;
      }
      m.log(Level.Warn, `*** Configuring ${addr(owner)} as the slot owner\n`);
      if (!(await this.clearSlotStatus(owner, slot))) return false;
      if (!(await this.setSlotOwner(owner, slot, false))) return false;
      owner.slots[slot] = 1;
      migrating = without(migrating, owner);
      importing = without(importing, owner);
    }
    // Several owners: one keeps the slot, the others are set importing from it (so that a case
    // below moves their keys).
    if (owners.length > 1) {
      for (const n of owners) {
        if (n === owner) continue;
        if (!(await this.delSlot(n, slot, true))) return false;
        n.slots[slot] = 0;
        if (!(await this.setSlot(n, owner, slot, 'node'))) return false;
        if (!(await this.setSlot(n, owner, slot, 'importing'))) return false;
        importing = [...without(importing, n), n];
        migrating = without(migrating, n);
      }
    }

    if (migrating.length === 1 && importing.length === 1) {
      // Case 1: migrating in one node, importing in one: finish the move.
      const [src, dst] = [migrating[0]!, importing[0]!];
      m.log(Level.Info, `>>> Case 1: Moving slot ${slot} from ${addr(src)} to ${addr(dst)}\n`);
      return (await m.moveSlot(src, dst, slot, { ...VERBOSE, update: true })) === null;
    }
    if (migrating.length === 0 && importing.length > 0) {
      // Case 2: only importing nodes (keys after a restart, say): their keys go to the owner.
      m.log(Level.Info, `>>> Case 2: Moving all the ${slot} slot keys to its owner ${addr(owner)}\n`);
      for (const n of importing) {
        if (n === owner) continue;
        if ((await m.moveSlot(n, owner, slot, VERBOSE_COLD)) !== null) return false;
        m.log(Level.Info, `>>> Setting ${slot} as STABLE in ${addr(n)}\n`);
        if (!(await this.clearSlotStatus(n, slot))) return false;
      }
      // A cold move changes no configuration: tell every other master who owns the slot.
      let success = true;
      for (const n of m.nodes) {
        if (n === owner || isSlave(n)) continue;
        success = await this.setSlot(n, owner, slot, 'NODE');
        if (!success) return false;
      }
      return success;
    }
    if (migrating.length === 1 && importing.length > 1) {
      // Case 3: one migrating node, several empty importing ones: move to the migration's
      // target if it is one of them, else just close the slot everywhere.
      const src = migrating[0]!;
      const targetId = src.migrating.find(([s]) => atoi(s) === slot)![1];
      let dst: ManagedNode | null = null;
      for (const n of importing) {
        if ((await m.countKeysInSlot(n, slot)) > 0) return this.unhandled(migratingText, importingText, owner);
        if (n.name === targetId) dst = n;
      }
      if (dst !== null) {
        m.log(Level.Info, `>>> Case 3: Moving slot ${slot} from ${addr(src)} to ${addr(dst)} and closing it on all the other importing nodes.\n`);
        if ((await m.moveSlot(src, dst, slot, VERBOSE)) !== null) return false;
        for (const n of importing) {
          if (n !== dst && !(await this.clearSlotStatus(n, slot))) return false;
        }
      } else {
        m.log(Level.Info, `>>> Case 3: Closing slot ${slot} on both migrating and importing nodes.\n`);
        if (!(await this.clearSlotStatus(src, slot))) return false;
        for (const n of importing) if (!(await this.clearSlotStatus(n, slot))) return false;
      }
      return true;
    }
    let close = importing.length === 0 && migrating.length === 1;
    if (close && owner !== migrating[0]) {
      const n = migrating[0]!;
      const reply = await m.command(n, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '10']);
      if (!m.ok(n, reply)) return false;
      close = reply!.type === 'array' && reply!.elements.length === 0;
    }
    if (!close) return this.unhandled(migratingText, importingText, owner);
    // Case 4: migrating in one node that is the owner or has no keys: an interrupted reshard.
    const n = migrating[0]!;
    m.log(Level.Info, `>>> Case 4: Closing slot ${slot} on ${addr(n)}\n`);
    return this.clearSlotStatus(n, slot);
  }

  private unhandled(migrating: string, importing: string, owner: ManagedNode): false {
    this.m.log(Level.Err, `[ERR] Sorry, redis-cli can't fix this slot yet (work in progress). Slot is set as migrating in ${migrating}, as importing in ${importing}, owner is ${addr(owner)}\n`);
    return false;
  }

  /** clusterManagerPrintSlotsList. */
  private static printSlots(slots: number[]): void {
    const set = new Uint8Array(CLUSTER_SLOTS);
    for (const s of slots) set[s] = 1;
    out(`${slotRanges(set)}\n`);
  }

  /** clusterManagerFixSlotsCoverage: the number of slots fixed, -1 on a failure. */
  async fixSlotsCoverage(covered: Uint8Array): Promise<number> {
    this.refuseWithUnreachableMasters('slots coverage');
    const m = this.m;
    m.log(Level.Info, '>>> Fixing slots coverage...\n');
    // For each uncovered slot, the masters with keys in it; handled in redis-cli's dict order.
    const holders = new Map<number, ManagedNode[]>();
    const order = new RedisDictOrder();
    for (let slot = 0; slot < CLUSTER_SLOTS; slot++) {
      if (covered[slot] === 1) continue;
      const nodes: ManagedNode[] = [];
      for (const n of m.nodes) {
        if (isSlave(n) || n.replicate !== null) continue;
        const reply = await m.command(n, ['CLUSTER', 'GETKEYSINSLOT', String(slot), '1']);
        if (!m.ok(n, reply)) return -1;
        if (reply!.type === 'array' && reply!.elements.length > 0) nodes.push(n);
      }
      holders.set(slot, nodes);
      order.add(String(slot));
    }
    const slots = order.keys().map(Number);
    const none = slots.filter((s) => holders.get(s)!.length === 0);
    const single = slots.filter((s) => holders.get(s)!.length === 1);
    const multi = slots.filter((s) => holders.get(s)!.length > 1);
    let fixed = 0;
    if (none.length > 0) {
      out('The following uncovered slots have no keys across the cluster:\n');
      ClusterRepair.printSlots(none);
      if (await m.confirm('Fix these slots by covering with a random node?', true)) {
        for (const slot of none) {
          const n = this.randomMaster();
          m.log(Level.Info, `>>> Covering slot ${slot} with ${addr(n)}\n`);
          if (!(await this.setSlotOwner(n, slot, false))) return -1;
          n.slots[slot] = 1;
          fixed++;
        }
      }
    }
    if (single.length > 0) {
      out('The following uncovered slots have keys in just one node:\n');
      ClusterRepair.printSlots(single);
      if (await m.confirm('Fix these slots by covering with those nodes?', true)) {
        for (const slot of single) {
          const n = holders.get(slot)![0]!;
          m.log(Level.Info, `>>> Covering slot ${slot} with ${addr(n)}\n`);
          if (!(await this.setSlotOwner(n, slot, false))) return -1;
          n.slots[slot] = 1;
          fixed++;
        }
      }
    }
    if (multi.length > 0) {
      out('The following uncovered slots have keys in multiple nodes:\n');
      ClusterRepair.printSlots(multi);
      if (await m.confirm('Fix these slots by moving keys into a single node?', true)) {
        for (const slot of multi) {
          const nodes = holders.get(slot)!;
          const target = await this.withMostKeys(nodes, slot);
          if (target === null) return -1;
          m.log(Level.Info, `>>> Covering slot ${slot} moving keys to ${addr(target)}\n`);
          if (!(await this.setSlotOwner(target, slot, true))) return -1;
          target.slots[slot] = 1;
          for (const src of nodes) {
            if (src === target) continue;
            // Importing on the source too, so that MIGRATE is not redirected.
            if (!(await this.setSlot(src, target, slot, 'NODE'))) return -1;
            if (!(await this.setSlot(src, target, slot, 'IMPORTING'))) return -1;
            if ((await m.moveSlot(src, target, slot, VERBOSE_COLD)) !== null) return -1;
            if (!(await this.clearSlotStatus(src, slot))) return -1;
          }
          fixed++;
        }
      }
    }
    return fixed;
  }

  /** clusterManagerFixMultipleSlotOwners: the owner with most keys keeps the slot. */
  async fixMultipleSlotOwners(slot: number, owners: ManagedNode[]): Promise<boolean> {
    const m = this.m;
    m.log(Level.Info, `>>> Fixing multiple owners for slot ${slot}...\n`);
    const owner = (await this.withMostKeys(owners, slot)) ?? owners[0]!;
    m.log(Level.Info, `>>> Setting slot ${slot} owner: ${addr(owner)}\n`);
    if (!(await this.setSlotOwner(owner, slot, false))) return false;
    let success = false;
    for (const n of m.nodes) {
      if (n === owner || isSlave(n)) continue;
      const count = await m.countKeysInSlot(n, slot);
      success = count >= 0;
      if (!success) break;
      await this.delSlot(n, slot, true);
      if (!(await this.setSlot(n, owner, slot, 'node'))) return false;
      if (count > 0) {
        success = (await m.moveSlot(n, owner, slot, VERBOSE_COLD)) === null;
        if (!success) break;
      }
    }
    return success;
  }
}

/** The slots set in a 16384-byte map as "[0-8191],[9000]" (clusterManagerNodeSlotsString). */
export function slotRanges(slots: Uint8Array): string {
  const ranges: string[] = [];
  let first = -1;
  for (let i = 0; i <= CLUSTER_SLOTS; i++) {
    const has = i < CLUSTER_SLOTS && slots[i] === 1;
    if (has && first < 0) first = i;
    if (!has && first >= 0) {
      ranges.push(first === i - 1 ? `[${first}]` : `[${first}-${i - 1}]`);
      first = -1;
    }
  }
  return ranges.join(',');
}
