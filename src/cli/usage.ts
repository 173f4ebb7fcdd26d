/**
 * redis-cli 7.0.15 --help, verbatim (Debian build, TLS options included), so scripts that grep
 * the usage text see the same thing. Of the cluster manager's commands it lists, nodis-cli
 * has info, check and call (cli/cluster-manager.ts; see docs/COMPATIBILITY.md).
 */
export const CLI_VERSION = "7.0.15";

export const USAGE =
  "redis-cli 7.0.15\n" +
  "\n" +
  "Usage: redis-cli [OPTIONS] [cmd [arg [arg ...]]]\n" +
  "  -h <hostname>      Server hostname (default: 127.0.0.1).\n" +
  "  -p <port>          Server port (default: 6379).\n" +
  "  -s <socket>        Server socket (overrides hostname and port).\n" +
  "  -a <password>      Password to use when connecting to the server.\n" +
  "                     You can also use the REDISCLI_AUTH environment\n" +
  "                     variable to pass this password more safely\n" +
  "                     (if both are used, this argument takes precedence).\n" +
  "  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.\n" +
  "  --pass <password>  Alias of -a for consistency with the new --user option.\n" +
  "  --askpass          Force user to input password with mask from STDIN.\n" +
  "                     If this argument is used, '-a' and REDISCLI_AUTH\n" +
  "                     environment variable will be ignored.\n" +
  "  -u <uri>           Server URI.\n" +
  "  -r <repeat>        Execute specified command N times.\n" +
  "  -i <interval>      When -r is used, waits <interval> seconds per command.\n" +
  "                     It is possible to specify sub-second times like -i 0.1.\n" +
  "                     This interval is also used in --scan and --stat per cycle.\n" +
  "                     and in --bigkeys, --memkeys, and --hotkeys per 100 cycles.\n" +
  "  -n <db>            Database number.\n" +
  "  -2                 Start session in RESP2 protocol mode.\n" +
  "  -3                 Start session in RESP3 protocol mode.\n" +
  "  -x                 Read last argument from STDIN (see example below).\n" +
  "  -X                 Read <tag> argument from STDIN (see example below).\n" +
  "  -d <delimiter>     Delimiter between response bulks for raw formatting (default: \\n" +
  ").\n" +
  "  -D <delimiter>     Delimiter between responses for raw formatting (default: \\n" +
  ").\n" +
  "  -c                 Enable cluster mode (follow -ASK and -MOVED redirections).\n" +
  "  -e                 Return exit error code when command execution fails.\n" +
  "  --tls              Establish a secure TLS connection.\n" +
  "  --sni <host>       Server name indication for TLS.\n" +
  "  --cacert <file>    CA Certificate file to verify with.\n" +
  "  --cacertdir <dir>  Directory where trusted CA certificates are stored.\n" +
  "                     If neither cacert nor cacertdir are specified, the default\n" +
  "                     system-wide trusted root certs configuration will apply.\n" +
  "  --insecure         Allow insecure TLS connection by skipping cert validation.\n" +
  "  --cert <file>      Client certificate to authenticate with.\n" +
  "  --key <file>       Private key file to authenticate with.\n" +
  "  --tls-ciphers <list> Sets the list of preferred ciphers (TLSv1.2 and below)\n" +
  "                     in order of preference from highest to lowest separated by colon (\":\").\n" +
  "                     See the ciphers(1ssl) manpage for more information about the syntax of this string.\n" +
  "  --tls-ciphersuites <list> Sets the list of preferred ciphersuites (TLSv1.3)\n" +
  "                     in order of preference from highest to lowest separated by colon (\":\").\n" +
  "                     See the ciphers(1ssl) manpage for more information about the syntax of this string,\n" +
  "                     and specifically for TLSv1.3 ciphersuites.\n" +
  "  --raw              Use raw formatting for replies (default when STDOUT is\n" +
  "                     not a tty).\n" +
  "  --no-raw           Force formatted output even when STDOUT is not a tty.\n" +
  "  --quoted-input     Force input to be handled as quoted strings.\n" +
  "  --csv              Output in CSV format.\n" +
  "  --json             Output in JSON format (default RESP3, use -2 if you want to use with RESP2).\n" +
  "  --quoted-json      Same as --json, but produce ASCII-safe quoted strings, not Unicode.\n" +
  "  --show-pushes <yn> Whether to print RESP3 PUSH messages.  Enabled by default when\n" +
  "                     STDOUT is a tty but can be overridden with --show-pushes no.\n" +
  "  --stat             Print rolling stats about server: mem, clients, ...\n" +
  "  --latency          Enter a special mode continuously sampling latency.\n" +
  "                     If you use this mode in an interactive session it runs\n" +
  "                     forever displaying real-time stats. Otherwise if --raw or\n" +
  "                     --csv is specified, or if you redirect the output to a non\n" +
  "                     TTY, it samples the latency for 1 second (you can use\n" +
  "                     -i to change the interval), then produces a single output\n" +
  "                     and exits.\n" +
  "  --latency-history  Like --latency but tracking latency changes over time.\n" +
  "                     Default time interval is 15 sec. Change it using -i.\n" +
  "  --latency-dist     Shows latency as a spectrum, requires xterm 256 colors.\n" +
  "                     Default time interval is 1 sec. Change it using -i.\n" +
  "  --lru-test <keys>  Simulate a cache workload with an 80-20 distribution.\n" +
  "  --replica          Simulate a replica showing commands received from the master.\n" +
  "  --rdb <filename>   Transfer an RDB dump from remote server to local file.\n" +
  "                     Use filename of \"-\" to write to stdout.\n" +
  " --functions-rdb <filename> Like --rdb but only get the functions (not the keys)\n" +
  "                     when getting the RDB dump file.\n" +
  "  --pipe             Transfer raw Redis protocol from stdin to server.\n" +
  "  --pipe-timeout <n> In --pipe mode, abort with error if after sending all data.\n" +
  "                     no reply is received within <n> seconds.\n" +
  "                     Default timeout: 30. Use 0 to wait forever.\n" +
  "  --bigkeys          Sample Redis keys looking for keys with many elements (complexity).\n" +
  "  --memkeys          Sample Redis keys looking for keys consuming a lot of memory.\n" +
  "  --memkeys-samples <n> Sample Redis keys looking for keys consuming a lot of memory.\n" +
  "                     And define number of key elements to sample\n" +
  "  --hotkeys          Sample Redis keys looking for hot keys.\n" +
  "                     only works when maxmemory-policy is *lfu.\n" +
  "  --scan             List all keys using the SCAN command.\n" +
  "  --pattern <pat>    Keys pattern when using the --scan, --bigkeys or --hotkeys\n" +
  "                     options (default: *).\n" +
  "  --quoted-pattern <pat> Same as --pattern, but the specified string can be\n" +
  "                         quoted, in order to pass an otherwise non binary-safe string.\n" +
  "  --intrinsic-latency <sec> Run a test to measure intrinsic system latency.\n" +
  "                     The test will run for the specified amount of seconds.\n" +
  "  --eval <file>      Send an EVAL command using the Lua script at <file>.\n" +
  "  --ldb              Used with --eval enable the Redis Lua debugger.\n" +
  "  --ldb-sync-mode    Like --ldb but uses the synchronous Lua debugger, in\n" +
  "                     this mode the server is blocked and script changes are\n" +
  "                     not rolled back from the server memory.\n" +
  "  --cluster <command> [args...] [opts...]\n" +
  "                     Cluster Manager command and arguments (see below).\n" +
  "  --verbose          Verbose mode.\n" +
  "  --no-auth-warning  Don't show warning message when using password on command\n" +
  "                     line interface.\n" +
  "  --help             Output this help and exit.\n" +
  "  --version          Output version and exit.\n" +
  "\n" +
  "Cluster Manager Commands:\n" +
  "  Use --cluster help to list all available cluster manager commands.\n" +
  "\n" +
  "Examples:\n" +
  "  cat /etc/passwd | redis-cli -x set mypasswd\n" +
  "  redis-cli -D \"\" --raw dump key > key.dump && redis-cli -X dump_tag restore key2 0 dump_tag replace < key.dump\n" +
  "  redis-cli -r 100 lpush mylist x\n" +
  "  redis-cli -r 100 -i 1 info | grep used_memory_human:\n" +
  "  redis-cli --quoted-input set '\"null-\\x00-separated\"' value\n" +
  "  redis-cli --eval myscript.lua key1 key2 , arg1 arg2 arg3\n" +
  "  redis-cli --scan --pattern '*:12345*'\n" +
  "\n" +
  "  (Note: when using --eval the comma separates KEYS[] from ARGV[] items)\n" +
  "\n" +
  "When no command is given, redis-cli starts in interactive mode.\n" +
  "Type \"help\" in interactive mode for information on available commands\n" +
  "and settings.\n" +
  "\n";
