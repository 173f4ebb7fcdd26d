/**
 * DEBUG command(s). Placeholder: handlers are added as the family is implemented.
 */
import type { CommandHandlers } from './registry.js';

export const commands: CommandHandlers = {};
