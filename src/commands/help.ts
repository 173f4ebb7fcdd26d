/** Reply helpers shared by container commands (SLOWLOG, OBJECT, DEBUG …): HELP and syntax errors. */
import type { Client } from '../server/client.js';

/** Redis's addReplyHelp: a header line, the help lines, and the HELP entry, as status replies. */
export function replyHelp(c: Client, lines: readonly string[]): void {
  const r = c.reply;
  r.array(lines.length + 3);
  r.status(`${c.argv[0]!.toUpperCase()} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`);
  for (const l of lines) r.status(l);
  r.status('HELP');
  r.status('    Prints this help.');
}

/** addReplySubcommandSyntaxError. */
export function subcommandSyntaxError(c: Client): void {
  const sub = c.argv[1] ?? '';
  c.reply.error(`ERR unknown subcommand or wrong number of arguments for '${sub.slice(0, 128)}'. Try ${c.argv[0]!.toUpperCase()} HELP.`);
}
