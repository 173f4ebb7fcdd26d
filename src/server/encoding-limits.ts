/**
 * The encoding thresholds of one server (hash-max-listpack-*, set-max-intset-entries,
 * zset-max-listpack-*, stream-node-max-*), kept in step with its config (CONFIG SET applies to
 * the next write, as in Redis). Each Server owns one: two servers in one process (tests, the
 * API's in-process use) never see each other's settings. Values hold a reference to their
 * server's limits object; the type modules' DEFAULT_* objects are Redis's defaults, frozen, for
 * values built outside a server (tools, tests).
 */
import type { ConfigRegistry } from '../config/registry.js';
import { DEFAULT_HASH_LIMITS, type HashLimits } from '../types/hash.js';
import { DEFAULT_SET_LIMITS, type SetLimits } from '../types/set.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from '../types/stream.js';
import type { ZsetLimits } from '../types/zset.js';

export class EncodingLimits {
  readonly hash: HashLimits = { ...DEFAULT_HASH_LIMITS };
  readonly set: SetLimits = { ...DEFAULT_SET_LIMITS };
  readonly zset: ZsetLimits = { maxEntries: 128, maxValue: 64 };
  readonly stream: StreamLimits = { ...DEFAULT_STREAM_LIMITS };

  constructor(config: ConfigRegistry) {
    const bind = (name: string, apply: (v: number) => void): void => {
      if (config.def(name) !== undefined) config.watch(name, (v) => apply(Number(v)));
    };
    bind('hash-max-listpack-entries', (v) => (this.hash.maxListpackEntries = v));
    bind('hash-max-listpack-value', (v) => (this.hash.maxListpackValue = v));
    bind('set-max-intset-entries', (v) => (this.set.maxIntsetEntries = v));
    bind('zset-max-listpack-entries', (v) => (this.zset.maxEntries = v));
    bind('zset-max-listpack-value', (v) => (this.zset.maxValue = v));
    bind('stream-node-max-entries', (v) => (this.stream.nodeMaxEntries = v));
    bind('stream-node-max-bytes', (v) => (this.stream.nodeMaxBytes = v));
  }
}
