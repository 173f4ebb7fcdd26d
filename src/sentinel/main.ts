/**
 * nodis-sentinel's entry point. Sentinel mode arrives with the Sentinel issue.
 */
import type { CommandLine } from '../config/parse.js';

export async function sentinelMain(cl: CommandLine): Promise<void> {
  void cl;
  process.stderr.write('nodis-sentinel: Sentinel mode is not available in this version of nodis yet\n');
  process.exit(1);
}
