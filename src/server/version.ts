/** The Redis version nodis implements (clients gate features on it) and nodis's own. */
export const REDIS_VERSION = '7.0.15';
export const NODIS_VERSION = '0.1.0';

/** `<program> v=<nodis version> (Redis 7.0.15 compatible)`: what --version starts with. */
export function versionLine(program: string): string {
  return `${program} v=${NODIS_VERSION} (Redis ${REDIS_VERSION} compatible)`;
}
