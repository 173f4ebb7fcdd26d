// Fast latin1 paths that Node's Buffer has had for a long time but @types/node does not list.
// latin1 maps each byte to one char code 0–255 and back, which is what "bytes, not text" needs.
declare global {
  interface Buffer {
    latin1Slice(start?: number, end?: number): string;
    latin1Write(str: string, offset?: number, length?: number): number;
  }
}
export {};
