/**
 * Modules, which nodis does not have, answered as Redis 7.0.15 answers them when none is
 * loaded: nothing is ever loaded. MODULE LIST is empty, LOAD/LOADEX fail as a failed dlopen
 *   does, UNLOAD finds no module.
 */
import type { Client } from '../server/client.js';
import type { CommandHandlers, Handler } from '../server/command-table.js';
import { replyHelp } from './help.js';

/** The reply to every cluster command when `cluster-enabled no`. */
export const clusterDisabled: Handler = (c: Client) => c.reply.error('ERR This instance has cluster support disabled');

function moduleHelp(c: Client): void {
  replyHelp(c, [
    'LIST',
    '    Return a list of loaded modules.',
    'LOAD <path> [<arg> ...]',
    '    Load a module library from <path>, passing to it any optional arguments.',
    'LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]',
    '    Load a module library from <path>, while passing it module configurations and optional arguments.',
    'UNLOAD <name>',
    '    Unload a module.',
  ]);
}

function moduleLoad(c: Client): void {
  c.server.log.warning(`Module ${c.argv[2]} failed to load: modules are not supported by nodis`);
  c.reply.error('ERR Error loading the extension. Please check the server logs.');
}

export const commands: CommandHandlers = {
  'module|help': moduleHelp,
  'module|list': (c) => c.reply.array(0),
  'module|load': moduleLoad,
  'module|loadex': moduleLoad,
  'module|unload': (c) => c.reply.error('ERR Error unloading module: no such module with that name'),
};
