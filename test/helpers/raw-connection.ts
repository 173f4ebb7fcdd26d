/**
 * A raw client connection that collects everything the server sends, for tests that need the
 * exact bytes (MONITOR streams, pushes, replies to a connection being closed) or a connection
 * no client library would make (a fake replica, a second local address).
 */
import net from 'node:net';
import { encodeCommand } from './redis-compare.js';

export class RawConnection {
  readonly sock: net.Socket;
  got = '';
  closed = false;
  private waiters: (() => void)[] = [];

  constructor(port: number, localAddress?: string) {
    this.sock = net.connect({ port, host: '127.0.0.1', ...(localAddress !== undefined ? { localAddress } : {}) });
    this.sock.on('data', (d) => {
      this.got += d.toString('latin1');
      this.wake();
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.sock.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Sends bytes as they are (latin1). */
  send(s: string): void {
    this.sock.write(Buffer.from(s, 'latin1'));
  }

  /** Sends one command as a RESP multibulk. */
  command(...argv: string[]): void {
    this.send(encodeCommand(argv));
  }

  /** Waits until the collected output satisfies `pred` (or the socket closed). */
  until(pred: (got: string) => boolean, ms = 10000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timeout; got ${JSON.stringify(this.got.slice(0, 500))}`)), ms);
      const check = (): void => {
        if (pred(this.got) || this.closed) {
          clearTimeout(timer);
          resolve(this.got);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.sock.destroy();
  }
}
