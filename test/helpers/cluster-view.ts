/**
 * A ClusterView written by the test (src/cluster/view.ts): slot owners, migrations, state and
 * role set by hand, so routing is tested without a cluster bus.
 */
import type { ClusterNodeRef, ClusterView } from '../../src/cluster/view.js';

export function nodeRef(n: number, port = 7000 + n): ClusterNodeRef {
  return { id: String(n).repeat(40).slice(0, 40), ip: '127.0.0.1', port, hostname: '', pport: 0 };
}

export class TestClusterView implements ClusterView {
  up = true;
  master: ClusterNodeRef | null = null;
  readonly owners = new Map<number, ClusterNodeRef>();
  readonly migrating = new Map<number, ClusterNodeRef>();
  readonly importing = new Map<number, ClusterNodeRef>();
  readonly published: { shard: boolean; channel: string; message: string }[] = [];

  constructor(readonly me: ClusterNodeRef) {}

  /** Assigns slots [from, to] to `node`. */
  assign(node: ClusterNodeRef, from = 0, to = 16383): this {
    for (let s = from; s <= to; s++) this.owners.set(s, node);
    return this;
  }

  isUp(): boolean {
    return this.up;
  }
  myself(): ClusterNodeRef {
    return this.me;
  }
  isReplica(): boolean {
    return this.master !== null;
  }
  myMaster(): ClusterNodeRef | null {
    return this.master;
  }
  slotOwner(slot: number): ClusterNodeRef | null {
    return this.owners.get(slot) ?? null;
  }
  migratingTo(slot: number): ClusterNodeRef | null {
    return this.migrating.get(slot) ?? null;
  }
  importingFrom(slot: number): ClusterNodeRef | null {
    return this.importing.get(slot) ?? null;
  }
  endpoint(node: ClusterNodeRef): string {
    return `${node.ip}:${node.port}`;
  }
  publishShard(channel: string, message: string): void {
    this.published.push({ shard: true, channel, message });
  }
  publish(channel: string, message: string): void {
    this.published.push({ shard: false, channel, message });
  }
}
