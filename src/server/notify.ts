/**
 * notify subsystem. Placeholder: wired into the server by install(); filled in with its feature.
 */
import type { Server } from './server.js';

export function install(server: Server): void {
  void server;
}
