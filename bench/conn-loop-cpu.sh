#!/bin/bash
# A server's CPU per connection in a connect loop (issue #15, conn2): `redis-benchmark -k 0`
# opens a new connection for every request (connect, one PING, close; 50 at a time), and the
# server's threads' CPU (/proc/<pid>/task/*/schedstat, exact ns) is read around N of them, after
# a warm-up of 5,000. Prints µs per connection for each thread above 0.05 µs (the first line is
# the main thread). A server is a nodis-server path, or `redis` for redis-server.
#   bench/conn-loop-cpu.sh [-n 20000] /work/main/bin/nodis-server bin/nodis-server redis
N=20000
if [ "$1" = -n ]; then N=$2; shift 2; fi
for BIN in "$@"; do
  P=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  if [ "$BIN" = redis ]; then redis-server --port "$P" --save '' >/dev/null 2>&1 & else node "$BIN" --port "$P" --save '' >/dev/null 2>&1 & fi
  SP=$!
  for _ in $(seq 50); do redis-cli -p "$P" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-benchmark -p "$P" -t ping_mbulk -n 5000 -c 50 -k 0 -q >/dev/null 2>&1
  snap() { for t in /proc/$SP/task/*; do echo "$(basename "$t") $(tr ' ' _ < "$t/comm") $(cut -d' ' -f1 "$t/schedstat")"; done | sort; }
  before=$(snap)
  redis-benchmark -p "$P" -t ping_mbulk -n "$N" -c 50 -k 0 -q >/dev/null 2>&1
  after=$(snap)
  echo "$BIN (load $(cut -d' ' -f1 /proc/loadavg)):"
  join <(echo "$before") <(echo "$after") | awk -v n="$N" '{d=($5-$3)/n/1000; if (d>0.05) printf "  thread %s %s %.1f µs/conn\n",$1,$2,d}'
  kill "$SP"; wait "$SP" 2>/dev/null
done
