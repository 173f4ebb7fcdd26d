/**
 * Node's `stream_wrap` binding: the WriteWrap request class and the `streamBaseState` array
 * through which a stream handle reports whether a write went asynchronous — the objects net.js
 * itself uses (`process.binding('stream_wrap')`, a Node internal). direct-writes.ts writes
 * replies with them; shared-reads.ts reads a client handle's read length from
 * `streamBaseState` too, when it takes the handle's read callback over for the peer's EOF.
 *
 * Looked up once, on first use, feature-detected: null (and `streamBindingOff` says why) when it is not there or
 * not as expected, when `NODIS_STREAM_BINDING=0`, and under `--pending-deprecation` (where
 * `process.binding()` prints a deprecation warning); the callers then use the public paths.
 */
export interface StreamWrapBinding {
  WriteWrap: new () => object;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
  /** Where a read callback finds its length (> 0) or error (< 0, EOF included); absent in other Nodes. */
  kReadBytesOrError?: number;
}

/** Why the binding is not used ('' when it is). */
export let streamBindingOff = '';

function load(): StreamWrapBinding | null {
  if (process.env.NODIS_STREAM_BINDING === '0') {
    streamBindingOff = 'NODIS_STREAM_BINDING=0';
    return null;
  }
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (flags.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1') {
    streamBindingOff = 'pending deprecation warnings are on';
    return null;
  }
  try {
    const binding = (process as unknown as { binding?: (name: string) => unknown }).binding;
    if (typeof binding !== 'function') throw new Error('no process.binding');
    const b = binding.call(process, 'stream_wrap') as Partial<StreamWrapBinding> | null;
    if (
      b === null ||
      typeof b !== 'object' ||
      typeof b.WriteWrap !== 'function' ||
      !(b.streamBaseState instanceof Int32Array) ||
      typeof b.kLastWriteWasAsync !== 'number'
    ) {
      throw new Error('unexpected stream_wrap binding');
    }
    return b as StreamWrapBinding;
  } catch (e) {
    streamBindingOff = e instanceof Error ? e.message : String(e);
    return null;
  }
}

let loaded: StreamWrapBinding | null | undefined;

/** The binding, looked up on first use (not at module load: see direct-writes.ts). */
export function streamBinding(): StreamWrapBinding | null {
  if (loaded === undefined) loaded = load();
  return loaded;
}
